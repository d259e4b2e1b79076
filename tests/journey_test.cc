// Journey: one deal through a machine — moves, rejections, attributes,
// bounded history, observers, and timeouts with AdvanceTo.
#include "salescycle/journey.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Writes every step it sees as "from>to:event@time", "~stage:event@time"
// (an activity) or "!from:event@time".
class Recorder : public Observer {
 public:
  std::vector<std::string> log;
  const Machine* m = nullptr;
  void OnTransition(const StepResult& s) override {
    log.push_back(absl::StrCat(m->stage(s.from).id, ">", m->stage(s.to).id,
                               ":", Event(s), "@", s.time,
                               s.by_timeout ? "(t)" : ""));
  }
  void OnActivity(const StepResult& s) override {
    log.push_back(absl::StrCat("~", m->stage(s.from).id, ":", Event(s), "@",
                               s.time, s.by_timeout ? "(t)" : ""));
  }
  void OnRejection(const StepResult& s) override {
    log.push_back(absl::StrCat("!", m->stage(s.from).id, ":", Event(s), "@",
                               s.time, s.by_timeout ? "(t)" : ""));
  }
  std::string Event(const StepResult& s) const {
    return s.event == kNoEvent ? "-" : m->event(s.event).id;
  }
};

std::shared_ptr<const Machine> Simple() {
  auto m = Machine::FromTextProto(SpecText().str());
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

TEST(Journey, StartsInTheInitialStage) {
  auto j = Journey::Create(Simple(), 100);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->stage(), 0);
  EXPECT_EQ(j->entered_at(), 100);
}

TEST(Journey, NullMachineIsAnError) {
  EXPECT_EQ(Journey::Create(nullptr, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Journey, AbsurdHistoryLimitIsRefusedBeforeAllocating) {
  JourneyOptions options;
  options.history_limit = size_t{1} << 60;
  auto j = Journey::Create(Simple(), 0, options);
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(j.status().message(), HasSubstr("history_limit"));
}

TEST(Journey, FireMovesAndRecordsTheEntryTime) {
  auto j = *Journey::Create(Simple(), 0);
  auto step = j.Fire("go", 50);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->moved());
  EXPECT_EQ(step->from, 0);
  EXPECT_EQ(step->to, 1);
  EXPECT_EQ(step->deal, kNoDeal);
  EXPECT_EQ(j.stage(), 1);
  EXPECT_EQ(j.entered_at(), 50);
}

TEST(Journey, RejectionLeavesTheStateAlone) {
  auto j = *Journey::Create(Simple(), 0);
  ASSERT_TRUE(j.Fire("stop", 10)->moved());  // a -> c (lost)
  auto step = j.Fire("go", 20);                // nothing leaves c on go
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->outcome, Outcome::kNoTransition);
  EXPECT_EQ(j.stage(), 2);
  EXPECT_EQ(j.entered_at(), 10);
}

TEST(Journey, UnknownEventsAreErrorsThatChangeNothing) {
  auto j = *Journey::Create(Simple(), 0);
  auto by_id = j.Fire(EventId{7}, 1);
  EXPECT_EQ(by_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(by_id.status().message(), HasSubstr("event id 7 is out of range"));
  auto by_name = j.Fire("og", 1);
  EXPECT_EQ(by_name.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(by_name.status().message(), HasSubstr("no event \"og\""));
  EXPECT_EQ(j.stage(), 0);
  EXPECT_EQ(j.entered_at(), 0);
}

TEST(Journey, AttributesHaveDefaultsTypesAndSetBits) {
  auto m = LoadTemplate("b2b.textproto");
  auto j = *Journey::Create(m, 0);
  const AttributeId timeline = *m->FindAttribute("timeline_days");
  EXPECT_EQ(*j.Get(timeline), AttributeValue::Int64(365));  // declared default
  EXPECT_FALSE(j.IsSet(timeline));
  ASSERT_TRUE(j.Set("timeline_days", AttributeValue::Int64(90)).ok());
  EXPECT_TRUE(j.IsSet(timeline));
  EXPECT_EQ(*j.Get("timeline_days"), AttributeValue::Int64(90));
  ASSERT_TRUE(j.Set("decision_maker", AttributeValue::String("Dana")).ok());
  EXPECT_EQ(*j.Get("decision_maker"), AttributeValue::String("Dana"));
  ASSERT_TRUE(j.Set("discount_pct", AttributeValue::Double(12.5)).ok());
  EXPECT_EQ(*j.Get("discount_pct"), AttributeValue::Double(12.5));

  const absl::Status wrong_type = j.Set("budget", AttributeValue::String("lots"));
  EXPECT_EQ(wrong_type.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_type.message(),
              HasSubstr("attribute \"budget\" is int64, not string"));
  EXPECT_FALSE(j.IsSet(*m->FindAttribute("budget")));
  EXPECT_EQ(j.Set("budgt", AttributeValue::Int64(1)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(j.Set(AttributeId{99}, AttributeValue::Int64(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(j.Get(AttributeId{99}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(j.IsSet(AttributeId{99}));
}

TEST(Journey, IsAValueType) {
  auto a = *Journey::Create(Simple(), 0);
  Journey b = a;
  ASSERT_TRUE(b.Fire("go", 5)->moved());
  ASSERT_TRUE(b.Set("n", AttributeValue::Int64(3)).ok());
  EXPECT_EQ(a.stage(), 0);
  EXPECT_FALSE(a.IsSet(0));
  EXPECT_EQ(b.stage(), 1);
}

TEST(Journey, HistoryIsBoundedAndOldestFirst) {
  JourneyOptions options;
  options.history_limit = 3;
  auto j = *Journey::Create(Simple(), 0, options);
  ASSERT_TRUE(j.Fire("stop", 1).ok());  // a -> c
  ASSERT_TRUE(j.Fire("go", 2).ok());    // rejected in c
  ASSERT_TRUE(j.Fire("go", 3).ok());    // rejected
  ASSERT_TRUE(j.Fire("stop", 4).ok());  // rejected: c is not open
  const std::vector<HistoryEntry> h = j.History();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].time, 2);
  EXPECT_EQ(h[2].time, 4);
  EXPECT_EQ(h[2].outcome, Outcome::kNoTransition);
  EXPECT_EQ(h[2].from, 2);
  EXPECT_EQ(h[2].to, 2);

  auto off = *Journey::Create(Simple(), 0);
  ASSERT_TRUE(off.Fire("go", 1).ok());
  EXPECT_TRUE(off.History().empty());
}

TEST(Journey, ObserversSeeTransitionsAndRejections) {
  auto m = Simple();
  Recorder rec;
  rec.m = m.get();
  auto j = *Journey::Create(m, 0);
  j.AddObserver(&rec);
  j.AddObserver(nullptr);
  ASSERT_TRUE(j.Fire("go", 1).ok());
  ASSERT_TRUE(j.Fire("go", 2).ok());
  j.RemoveObserver(&rec);
  ASSERT_TRUE(j.Fire("stop", 3).ok());
  EXPECT_THAT(rec.log, ElementsAre("a>b:go@1", "!b:go@2"));
}

// a (limit 100; its timeout fires "stall", which moves to b when `guard`
// holds) -> b (limit 50; its timeout enters c).
std::shared_ptr<const Machine> Timed(const std::string& guard = "") {
  auto m = Machine::FromTextProto(absl::StrCat(R"(name: "timed" initial_stage: "a"
      stages { id: "a" stall_limit_seconds: 100 stall_clock: LAST_ACTIVITY }
      stages { id: "b" stall_limit_seconds: 50 }
      stages { id: "c" kind: LOST }
      events { id: "stall" } events { id: "go" }
      attributes { name: "hot" type: BOOL }
      transitions { from_stage: "a" event: "go" })"  // an activity
                                                 R"(
      transitions { from_stage: "a" event: "stall" to: "b" )", guard, R"( }
      timeouts { stage: "a" fire_event: "stall" }
      timeouts { stage: "b" enter_stage: "c" } )"));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

TEST(JourneyTimeouts, FireAtTheirDueTimeAndCascade) {
  auto m = Timed();
  Recorder rec;
  rec.m = m.get();
  auto j = *Journey::Create(m, 1000);
  j.AddObserver(&rec);
  EXPECT_EQ(j.AdvanceTo(1099), 0);  // not yet due
  EXPECT_EQ(j.stage(), 0);
  EXPECT_EQ(j.AdvanceTo(1100), 1);  // due at exactly 1100
  EXPECT_EQ(j.stage(), 1);
  EXPECT_EQ(j.entered_at(), 1100);
  auto k = *Journey::Create(m, 1000);
  k.AddObserver(&rec);
  // Both timeouts are due by 5000; each step is timed at its due time.
  EXPECT_EQ(k.AdvanceTo(5000), 2);
  EXPECT_EQ(k.stage(), 2);
  EXPECT_EQ(k.entered_at(), 1150);
  EXPECT_THAT(rec.log, ElementsAre("a>b:stall@1100(t)", "a>b:stall@1100(t)",
                                   "b>c:-@1150(t)"));
}

TEST(JourneyTimeouts, AnActivityRestartsALastActivityClock) {
  auto m = Timed();
  auto j = *Journey::Create(m, 0);
  EXPECT_EQ(j.Fire("go", 90)->outcome, Outcome::kActivity);
  EXPECT_EQ(j.stage(), 0);
  EXPECT_EQ(j.entered_at(), 0);
  EXPECT_EQ(j.last_activity(), 90);
  EXPECT_EQ(j.ClockStart(), 90);
  EXPECT_EQ(j.AdvanceTo(150), 0);
  EXPECT_EQ(j.AdvanceTo(190), 1);
}

TEST(JourneyTimeouts, ARejectedTimeoutFiresOncePerQuietSpell) {
  auto m = Timed(
      R"(guard { compare { attribute: "hot" op: EQ value { bool_value: false } } })");
  Recorder rec;
  rec.m = m.get();
  auto j = *Journey::Create(m, 0);
  ASSERT_TRUE(j.Set("hot", AttributeValue::Bool(true)).ok());
  j.AddObserver(&rec);
  EXPECT_EQ(j.AdvanceTo(100), 1);
  EXPECT_EQ(j.AdvanceTo(500), 0);  // consumed until the next activity
  EXPECT_EQ(j.stage(), 0);
  EXPECT_EQ(j.Fire("go", 600)->outcome, Outcome::kActivity);
  ASSERT_TRUE(j.Set("hot", AttributeValue::Bool(false)).ok());
  EXPECT_EQ(j.AdvanceTo(700), 1);
  EXPECT_EQ(j.stage(), 1);
  EXPECT_THAT(rec.log, ElementsAre("!a:stall@100(t)", "~a:go@600",
                                   "a>b:stall@700(t)"));
}

TEST(JourneyTimeouts, ACycleOfTimeoutsStopsAfter64StepsPerCall) {
  auto m = Machine::FromTextProto(R"(name: "loop" initial_stage: "a"
      stages { id: "a" stall_limit_seconds: 1 } stages { id: "b" stall_limit_seconds: 1 }
      events { id: "x" }
      transitions { from_stage: "a" event: "x" to: "b" }
      timeouts { stage: "a" enter_stage: "b" } timeouts { stage: "b" enter_stage: "a" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto j = *Journey::Create(*m, 0);
  EXPECT_EQ(j.AdvanceTo(1'000'000'000), 64);
  EXPECT_EQ(j.entered_at(), 64);
  EXPECT_EQ(j.AdvanceTo(1'000'000'000), 64);  // and goes on from there
  EXPECT_EQ(j.entered_at(), 128);
}

TEST(JourneyTimeouts, DueTimesNearTheEndOfTimeDoNotOverflow) {
  auto m = Timed();
  constexpr Timestamp kMax = std::numeric_limits<Timestamp>::max();
  auto late = *Journey::Create(m, kMax - 10);
  EXPECT_EQ(late.AdvanceTo(kMax), 0);
  EXPECT_EQ(late.stage(), 0);
  // A stage without a timeout never fires one, even at the end of time.
  auto lost = *Journey::Create(m, 0);
  ASSERT_TRUE(lost.Fire("stall", 1).ok());  // a -> b
  EXPECT_EQ(lost.AdvanceTo(kMax), 1);        // b -> c at 51
  EXPECT_EQ(lost.entered_at(), 51);
  EXPECT_EQ(lost.AdvanceTo(kMax), 0);        // c has none
}

}  // namespace
}  // namespace salescycle
