// Guard semantics and the pure step (Machine::Step): comparisons of every
// type and operator, all / any / not, first-guard-wins, named C++ guards,
// required attributes, and the rejection explanations.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/machine.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

// One guarded transition a --go--> b over attributes i (int64), d (double),
// s (string) and f (bool).
std::shared_ptr<const Machine> Guarded(const std::string& guard,
                                       const CompileOptions& options = {}) {
  auto m = Machine::FromTextProto(
      absl::StrCat(R"(name: "g" initial_stage: "a"
        stages { id: "a" } stages { id: "b" }
        events { id: "go" }
        attributes { name: "i" type: INT64 }
        attributes { name: "d" type: DOUBLE }
        attributes { name: "s" type: STRING }
        attributes { name: "f" type: BOOL }
        transitions { from_stage: "a" event: "go" to: "b" guard { )",
                   guard, " } }"),
      options);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

constexpr AttributeId kI = 0, kD = 1, kS = 2, kF = 3;

bool Holds(const Machine& m, const MapReader& attrs) {
  return m.Step(0, 0, 0, attrs).moved();
}

struct IntCase {
  const char* op;
  int64_t value;
  bool expected;
};

TEST(Guard, Int64ComparisonsAgainst10) {
  const IntCase cases[] = {
      {"EQ", 10, true},  {"EQ", 11, false}, {"NE", 11, true}, {"NE", 10, false},
      {"LT", 9, true},   {"LT", 10, false}, {"LE", 10, true}, {"LE", 11, false},
      {"GT", 11, true},  {"GT", 10, false}, {"GE", 10, true}, {"GE", 9, false},
  };
  for (const IntCase& c : cases) {
    auto m = Guarded(absl::StrCat("compare { attribute: \"i\" op: ", c.op,
                                  " value { int64_value: 10 } }"));
    MapReader attrs;
    attrs.ints[kI] = c.value;
    EXPECT_EQ(Holds(*m, attrs), c.expected) << c.value << " " << c.op << " 10";
  }
}

TEST(Guard, DoubleComparison) {
  auto m = Guarded(R"(compare { attribute: "d" op: LT value { double_value: 0.5 } })");
  MapReader attrs;
  attrs.doubles[kD] = 0.25;
  EXPECT_TRUE(Holds(*m, attrs));
  attrs.doubles[kD] = 0.5;
  EXPECT_FALSE(Holds(*m, attrs));
}

TEST(Guard, StringEqualityAndInequality) {
  auto eq = Guarded(R"(compare { attribute: "s" op: EQ value { string_value: "inbound" } })");
  auto ne = Guarded(R"(compare { attribute: "s" op: NE value { string_value: "inbound" } })");
  MapReader attrs;
  attrs.strings[kS] = "inbound";
  EXPECT_TRUE(Holds(*eq, attrs));
  EXPECT_FALSE(Holds(*ne, attrs));
  attrs.strings[kS] = "inbound2";
  EXPECT_FALSE(Holds(*eq, attrs));
  EXPECT_TRUE(Holds(*ne, attrs));
}

TEST(Guard, Bool) {
  auto m = Guarded(R"(compare { attribute: "f" op: EQ value { bool_value: true } })");
  MapReader attrs;
  EXPECT_FALSE(Holds(*m, attrs));
  attrs.bools[kF] = true;
  EXPECT_TRUE(Holds(*m, attrs));
}

TEST(Guard, AllAnyNot) {
  // (i >= 1000 and f) or not (s == "x")
  auto m = Guarded(R"(any {
      guards { all {
        guards { compare { attribute: "i" op: GE value { int64_value: 1000 } } }
        guards { compare { attribute: "f" op: EQ value { bool_value: true } } } } }
      guards { not { compare { attribute: "s" op: EQ value { string_value: "x" } } } } })");
  MapReader attrs;
  attrs.strings[kS] = "x";
  EXPECT_FALSE(Holds(*m, attrs));  // false and ..., not true
  attrs.ints[kI] = 1000;
  EXPECT_FALSE(Holds(*m, attrs));  // all needs f too
  attrs.bools[kF] = true;
  EXPECT_TRUE(Holds(*m, attrs));
  attrs.ints[kI] = 0;
  attrs.strings[kS] = "y";
  EXPECT_TRUE(Holds(*m, attrs));  // through the not
  EXPECT_EQ(m->transitions()[0].guard,
            "(i >= 1000 and f == true) or not s == \"x\"");
}

TEST(Guard, NamedGuardSeesTheDealsAttributes) {
  CompileOptions options;
  options.named_guards["credit_check"] = [](const AttributeReader& a) {
    return a.GetInt64(kI) > 5 && a.GetString(kS) == "ok";
  };
  auto m = Guarded(R"(named: "credit_check")", options);
  MapReader attrs;
  attrs.ints[kI] = 6;
  EXPECT_FALSE(Holds(*m, attrs));
  attrs.strings[kS] = "ok";
  EXPECT_TRUE(Holds(*m, attrs));
}

TEST(Step, FirstCandidateWhoseGuardHoldsWins) {
  auto m = Machine::FromTextProto(R"(name: "t" initial_stage: "a"
      stages { id: "a" } stages { id: "big" } stages { id: "mid" } stages { id: "small" }
      events { id: "go" }
      attributes { name: "v" type: INT64 }
      transitions { from_stage: "a" event: "go" to: "big"
        guard { compare { attribute: "v" op: GE value { int64_value: 100 } } } }
      transitions { from_stage: "a" event: "go" to: "mid"
        guard { compare { attribute: "v" op: GE value { int64_value: 10 } } } }
      transitions { from_stage: "a" event: "go" to: "small" })");
  ASSERT_TRUE(m.ok()) << m.status();
  MapReader attrs;
  auto to = [&](int64_t v) {
    attrs.ints[0] = v;
    return (*m)->stage((*m)->Step(0, 0, 0, attrs).to).id;
  };
  EXPECT_EQ(to(500), "big");   // both guards hold: the first declared wins
  EXPECT_EQ(to(50), "mid");
  EXPECT_EQ(to(1), "small");
}

TEST(Step, ReportsWhyAnEventWasRejected) {
  auto m = Machine::FromTextProto(R"(name: "t" initial_stage: "a"
      stages { id: "a" } stages { id: "b" required_attributes: "owner" } stages { id: "c" }
      events { id: "go" } events { id: "jump" } events { id: "idle" }
      attributes { name: "budget" type: INT64 }
      attributes { name: "owner" type: STRING }
      transitions { from_stage: "a" event: "go" to: "b" }
      transitions { from_stage: "a" event: "jump" to: "c"
        guard { compare { attribute: "budget" op: GE value { int64_value: 1000 } } } })");
  ASSERT_TRUE(m.ok()) << m.status();
  MapReader attrs;

  StepResult none = (*m)->Step(0, 2, 7, attrs);
  EXPECT_EQ(none.outcome, Outcome::kNoTransition);
  EXPECT_EQ(none.to, 0);
  EXPECT_EQ(none.time, 7);
  EXPECT_THAT((*m)->ExplainRejection(none).message(),
              HasSubstr("event \"idle\" rejected in stage \"a\": no transition"));

  StepResult guard = (*m)->Step(0, 1, 7, attrs);
  EXPECT_EQ(guard.outcome, Outcome::kGuardFailed);
  EXPECT_EQ((*m)->transitions()[guard.transition].to, 2);
  const absl::Status why = (*m)->ExplainRejection(guard);
  EXPECT_EQ(why.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(why.message(), HasSubstr("event \"jump\" rejected in stage \"a\": "
                                       "guard failed: budget >= 1000"));

  StepResult missing = (*m)->Step(0, 0, 7, attrs);
  EXPECT_EQ(missing.outcome, Outcome::kMissingAttribute);
  EXPECT_EQ(missing.missing_attribute, 1);
  EXPECT_THAT((*m)->ExplainRejection(missing).message(),
              HasSubstr("requires attribute \"owner\", which is not set"));

  attrs.strings[1] = "ann";
  StepResult moved = (*m)->Step(0, 0, 7, attrs);
  EXPECT_TRUE(moved.moved());
  EXPECT_EQ(moved.to, 1);
  EXPECT_TRUE((*m)->ExplainRejection(moved).ok());
}

TEST(Step, OutOfRangeIdsAreRejectedNotUndefined) {
  auto m = Machine::FromTextProto(SpecText().str());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Step(99, 0, 0, MapReader()).outcome, Outcome::kNoTransition);
  EXPECT_EQ((*m)->Step(0, 99, 0, MapReader()).outcome, Outcome::kNoTransition);
}

}  // namespace
}  // namespace salescycle
