// Loading, validation (one test per error, checking the message),
// introspection and fingerprints of compiled machines.
#include "salescycle/machine.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/utf8.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- loading

TEST(MachineLoad, TextAndJsonGiveTheSameMachine) {
  auto text = Machine::FromTextProto(SpecText().str());
  ASSERT_TRUE(text.ok()) << text.status();
  auto json = Machine::FromJson(R"({
    "name": "t", "version": 1, "initialStage": "a",
    "stages": [{"id": "a"}, {"id": "b"}, {"id": "c", "kind": "LOST"}],
    "events": [{"id": "go"}, {"id": "stop"}],
    "attributes": [{"name": "n", "type": "INT64"},
                   {"name": "s", "type": "STRING"}],
    "transitions": [{"fromStage": "a", "event": "go", "to": "b"},
                    {"fromAnyOpen": true, "event": "stop", "to": "c"}]})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*text)->fingerprint(), (*json)->fingerprint());
  EXPECT_EQ((*json)->num_stages(), 3);
  EXPECT_EQ((*json)->name(), "t");
  EXPECT_EQ((*json)->version(), 1u);
}

TEST(MachineLoad, TextSyntaxErrorNamesSourceLineAndColumn) {
  CompileOptions options;
  options.source_name = "mine.textproto";
  ExpectInvalid(Machine::FromTextProto("name: \"t\"\nstages { id: }", options),
                "mine.textproto:2:");
}

TEST(MachineLoad, JsonErrorNamesSource) {
  ExpectInvalid(Machine::FromJson("{\"name\": \"t\", \"stagez\": []}"),
                "<json>: not a MachineSpec in JSON");
}

TEST(MachineLoad, FromFileChoosesFormatByExtensionAndNamesThePath) {
  const std::string dir = ::testing::TempDir();
  const std::string text_path = dir + "/spec.textproto";
  const std::string json_path = dir + "/spec.json";
  std::ofstream(text_path) << SpecText().str();
  std::ofstream(json_path) << R"({"name": "t", "events": []})";
  auto text = Machine::FromFile(text_path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ((*text)->num_events(), 2);
  ExpectInvalid(Machine::FromFile(json_path),
                absl::StrCat(json_path, ": events: the machine has no events"));
}

TEST(MachineLoad, MissingFileIsNotFoundNamingThePath) {
  auto m = Machine::FromFile("/nonexistent/b2b.textproto");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("/nonexistent/b2b.textproto"));
}

// ---- validation: one test per error

TEST(MachineValidate, NoName) {
  SpecText s;
  s.header = R"(version: 1 initial_stage: "a")";
  ExpectInvalid(s, "<text>: name: the machine has no name");
}

TEST(MachineValidate, NoStages) {
  SpecText s;
  s.stages = "";
  s.transitions = "";
  ExpectInvalid(s, "stages: the machine has no stages");
}

TEST(MachineValidate, NoEvents) {
  SpecText s;
  s.events = "";
  s.transitions = "";
  ExpectInvalid(s, "events: the machine has no events");
}

TEST(MachineValidate, EmptyStageId) {
  SpecText s;
  s.stages += R"(stages { display_name: "Nameless" })";
  ExpectInvalid(s, "stages[3]: empty stage id");
}

TEST(MachineValidate, DuplicateStage) {
  SpecText s;
  s.stages += R"(stages { id: "b" })";
  ExpectInvalid(s,
                "stages[3]: duplicate stage id \"b\" (first declared as "
                "stages[1])");
}

TEST(MachineValidate, EmptyEventId) {
  SpecText s;
  s.events += R"(events { })";
  ExpectInvalid(s, "events[2]: empty event id");
}

TEST(MachineValidate, DuplicateEvent) {
  SpecText s;
  s.events += R"(events { id: "go" })";
  ExpectInvalid(s,
                "events[2]: duplicate event id \"go\" (first declared as "
                "events[0])");
}

TEST(MachineValidate, EmptyAttributeName) {
  SpecText s;
  s.attributes += R"(attributes { type: BOOL })";
  ExpectInvalid(s, "attributes[2]: empty attribute name");
}

TEST(MachineValidate, DuplicateAttribute) {
  SpecText s;
  s.attributes += R"(attributes { name: "n" type: BOOL })";
  ExpectInvalid(s,
                "attributes[2]: duplicate attribute name \"n\" (first "
                "declared as attributes[0])");
}

TEST(MachineValidate, AttributeWithoutType) {
  SpecText s;
  s.attributes += R"(attributes { name: "x" })";
  ExpectInvalid(s, "attributes[2] \"x\": attribute has no type");
}

TEST(MachineValidate, DefaultOfTheWrongType) {
  SpecText s;
  s.attributes +=
      R"(attributes { name: "x" type: INT64 default_value { string_value: "1" } })";
  ExpectInvalid(s,
                "attributes[2] \"x\": default value is string but the "
                "attribute is int64");
}

TEST(MachineValidate, WinProbabilityOutOfRange) {
  SpecText s;
  s.stages = R"(stages { id: "a" win_probability: 101 } stages { id: "b" }
                stages { id: "c" kind: LOST })";
  ExpectInvalid(s, "stages[0] \"a\": win_probability 101 is not within 0..100");
}

TEST(MachineValidate, NonPositiveStallLimit) {
  SpecText s;
  s.stages = R"(stages { id: "a" } stages { id: "b" stall_limit_seconds: 0 }
                stages { id: "c" kind: LOST })";
  ExpectInvalid(s, "stages[1] \"b\": stall_limit_seconds 0 is not positive");
}

TEST(MachineValidate, RequiredAttributeNotDeclared) {
  SpecText s;
  s.stages = R"(stages { id: "a" } stages { id: "b" required_attributes: "budget" }
                stages { id: "c" kind: LOST })";
  ExpectInvalid(s,
                "stages[1] \"b\": required attribute \"budget\" is not "
                "declared");
}

TEST(MachineValidate, MissingInitialStage) {
  SpecText s;
  s.header = R"(name: "t")";
  ExpectInvalid(s, "initial_stage: missing");
}

TEST(MachineValidate, UnknownInitialStage) {
  SpecText s;
  s.header = R"(name: "t" initial_stage: "zz")";
  ExpectInvalid(s, "initial_stage: unknown stage \"zz\"");
}

TEST(MachineValidate, TransitionWithoutSource) {
  SpecText s;
  s.transitions += R"(transitions { event: "go" to: "b" })";
  ExpectInvalid(s, "transitions[2] (? --go--> b): no source");
}

TEST(MachineValidate, TransitionFromUnknownStage) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "x" event: "go" to: "b" })";
  ExpectInvalid(s, "transitions[2] (x --go--> b): unknown stage \"x\"");
}

TEST(MachineValidate, TransitionFromUnknownGroup) {
  SpecText s;
  s.transitions += R"(transitions { from_group: "tofu" event: "go" to: "b" })";
  ExpectInvalid(s,
                "transitions[2] (group \"tofu\" --go--> b): unknown group "
                "\"tofu\": no stage has it");
}

TEST(MachineValidate, FromAnyOpenFalse) {
  SpecText s;
  s.transitions += R"(transitions { from_any_open: false event: "go" to: "b" })";
  ExpectInvalid(s, "transitions[2] (any open stage --go--> b): from_any_open "
                   "is false");
}

TEST(MachineValidate, TransitionOnUnknownEvent) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "presnt" to: "a" })";
  ExpectInvalid(s, "transitions[2] (b --presnt--> a): unknown event \"presnt\"");
}

TEST(MachineValidate, TransitionToUnknownStage) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "zz" })";
  ExpectInvalid(s,
                "transitions[2] (b --go--> zz): unknown target stage \"zz\"");
}

TEST(MachineValidate, TransitionThatCanNeverFire) {
  SpecText s;
  s.transitions += R"(transitions {
      from_stage: "a" event: "go" to: "c"
      guard { compare { attribute: "n" op: GT value { int64_value: 1 } } } })";
  ExpectInvalid(s,
                "transitions[2] (a --go--> c): can never fire: it follows "
                "the unguarded transitions[0] for the same stage and event");
}

TEST(MachineValidate, GroupTransitionShadowedInOneStageOnlyIsFine) {
  // a --go--> b is unguarded, but the group transition still fires from d.
  SpecText s;
  s.stages = R"(stages { id: "a" group: "g" } stages { id: "b" }
                stages { id: "c" kind: LOST } stages { id: "d" group: "g" })";
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "d" }
                      transitions { from_group: "g" event: "go" to: "c" })";
  auto m = Machine::FromTextProto(s.str());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Target(**m, "a", "go"), "b");
  EXPECT_EQ(Target(**m, "d", "go"), "c");
}

TEST(MachineValidate, GuardOnUndeclaredAttribute) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "budgt" op: GE value { int64_value: 1 } } } })";
  ExpectInvalid(s, "transitions[2] (b --go--> a).guard: guard on undeclared "
                   "attribute \"budgt\"");
}

TEST(MachineValidate, GuardOfTheWrongType) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { all { guards { compare { attribute: "n" op: EQ value { int64_value: 1 } } }
                    guards { compare { attribute: "n" op: EQ value { string_value: "1" } } } } } })";
  ExpectInvalid(s, "transitions[2] (b --go--> a).guard.all[1]: guard compares "
                   "int64 attribute \"n\" with a string value");
}

TEST(MachineValidate, OrderingOnAString) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "s" op: LT value { string_value: "m" } } } })";
  ExpectInvalid(s, "string attribute \"s\" compares only with == and !=");
}

TEST(MachineValidate, ComparisonWithoutOp) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "n" value { int64_value: 1 } } } })";
  ExpectInvalid(s, "comparison on \"n\" has no op");
}

TEST(MachineValidate, ComparisonWithoutValue) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "n" op: EQ } } })";
  ExpectInvalid(s, "comparison on \"n\" has no value");
}

TEST(MachineValidate, EmptyAny) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { any { } } })";
  ExpectInvalid(s, "(b --go--> a).guard: 'any' with no guards");
}

TEST(MachineValidate, EmptyGuard) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { not { } } })";
  ExpectInvalid(s, "(b --go--> a).guard.not: empty guard");
}

TEST(MachineValidate, UnregisteredNamedGuard) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { named: "credit_check" } })";
  ExpectInvalid(s, "named guard \"credit_check\" is not registered in "
                   "CompileOptions::named_guards");
}

// A spec is text: a Latin-1 stage name compiled, then every pipeline
// snapshot of it was unloadable. Refused, naming where.
TEST(MachineValidate, NotUtf8) {
  SpecText s;
  s.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "s" op: EQ value { string_value: "Jos\xe9" } } } })";
  ExpectInvalid(s, "transitions[2].guard.compare.value.string_value is not "
                   "UTF-8 (byte 3)");
}

TEST(Utf8, ValidPrefix) {
  using internal::ValidUtf8Prefix;
  EXPECT_EQ(ValidUtf8Prefix(""), 0u);
  EXPECT_EQ(ValidUtf8Prefix("plain ascii"), 11u);
  EXPECT_EQ(ValidUtf8Prefix("Jos\xc3\xa9"), 5u);                  // é
  EXPECT_EQ(ValidUtf8Prefix("\xe2\x82\xac \xf0\x9f\x98\x80"), 8u);  // € 😀
  EXPECT_EQ(ValidUtf8Prefix("Jos\xe9"), 3u);          // Latin-1 é
  EXPECT_EQ(ValidUtf8Prefix("ab\xc3"), 2u);           // truncated
  EXPECT_EQ(ValidUtf8Prefix("\xc0\xaf"), 0u);         // overlong '/'
  EXPECT_EQ(ValidUtf8Prefix("\xe0\x80\xaf"), 0u);     // overlong
  EXPECT_EQ(ValidUtf8Prefix("\xed\xa0\x80"), 0u);     // a surrogate
  EXPECT_EQ(ValidUtf8Prefix("\xf4\x90\x80\x80"), 0u); // past U+10FFFF
  EXPECT_EQ(ValidUtf8Prefix("\xf4\x8f\xbf\xbf"), 4u); // U+10FFFF
  EXPECT_EQ(ValidUtf8Prefix("a\xe2\x28\xa1"), 1u);    // bad continuation
  EXPECT_EQ(ValidUtf8Prefix(std::string("a\0b", 3)), 3u);
}

TEST(MachineValidate, GuardTooDeep) {
  std::string guard = R"(compare { attribute: "n" op: EQ value { int64_value: 1 } })";
  for (int i = 0; i < 40; ++i) guard = absl::StrCat("not { ", guard, " }");
  SpecText s;
  s.transitions += absl::StrCat(
      R"(transitions { from_stage: "b" event: "go" to: "a" guard { )", guard,
      " } }");
  ExpectInvalid(s, "guard nested deeper than 32 levels");
}

TEST(MachineValidate, UnreachableStage) {
  SpecText s;
  s.stages += R"(stages { id: "island" })";
  ExpectInvalid(s, "stages[3] \"island\": unreachable from the initial stage "
                   "\"a\"");
}

TEST(MachineValidate, StageReachableOnlyByTimeoutIsReachable) {
  SpecText s;
  s.stages = R"(stages { id: "a" } stages { id: "b" stall_limit_seconds: 10 }
                stages { id: "c" kind: LOST } stages { id: "stale" kind: LOST })";
  s.timeouts = R"(timeouts { stage: "b" enter_stage: "stale" })";
  auto m = Machine::FromTextProto(s.str());
  ASSERT_TRUE(m.ok()) << m.status();
}

TEST(MachineValidate, TimeoutOnStageWithoutLimit) {
  SpecText s;
  s.timeouts = R"(timeouts { stage: "b" enter_stage: "c" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): timeout on a stage without a "
                   "stall limit");
}

TEST(MachineValidate, TimeoutOnUnknownStage) {
  SpecText s;
  s.timeouts = R"(timeouts { stage: "zz" enter_stage: "c" })";
  ExpectInvalid(s, "timeouts[0]: unknown stage \"zz\"");
}

TEST(MachineValidate, SecondTimeoutOnAStage) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" enter_stage: "c" }
                  timeouts { stage: "b" enter_stage: "a" })";
  ExpectInvalid(s, "timeouts[1] (stage \"b\"): the stage has a timeout already");
}

TEST(MachineValidate, NonPositiveTimeout) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" after_seconds: -5 enter_stage: "c" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): after_seconds -5 is not positive");
}

TEST(MachineValidate, TimeoutWithoutAction) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): no action");
}

TEST(MachineValidate, TimeoutFiringAnEventThatCannotLeaveTheStage) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" fire_event: "go" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): no transition leaves the stage "
                   "on \"go\"");
}

TEST(MachineValidate, TimeoutFiringUnknownEvent) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" fire_event: "nope" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): unknown event \"nope\"");
}

TEST(MachineValidate, TimeoutEnteringUnknownStage) {
  SpecText s = WithStallLimitOnB();
  s.timeouts = R"(timeouts { stage: "b" enter_stage: "nope" })";
  ExpectInvalid(s, "timeouts[0] (stage \"b\"): unknown stage \"nope\"");
}

// ---- introspection

TEST(MachineIntrospection, ExpandsGroupAndAnyOpenTransitionsInStageOrder) {
  SpecText s;
  s.stages = R"(stages { id: "a" group: "top" } stages { id: "b" group: "top" }
                stages { id: "c" kind: LOST } stages { id: "w" kind: WON })";
  s.transitions = R"(transitions { from_stage: "a" event: "go" to: "b" }
                     transitions { from_stage: "b" event: "go" to: "w" }
                     transitions { from_group: "top" event: "stop" to: "c" })";
  auto m = Machine::FromTextProto(s.str());
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> seen;
  for (const TransitionInfo& t : (*m)->transitions()) {
    seen.push_back(absl::StrCat((*m)->stage(t.from).id, "-",
                                (*m)->event(t.event).id, "-",
                                (*m)->stage(t.to).id, "@", t.spec_index));
  }
  EXPECT_THAT(seen, ElementsAre("a-go-b@0", "a-stop-c@2", "b-go-w@1",
                                "b-stop-c@2"));
  EXPECT_THAT((*m)->EventsLeaving(0), ElementsAre(0, 1));
  EXPECT_THAT((*m)->EventsLeaving(2), ElementsAre());
}

TEST(MachineIntrospection, StageDefaults) {
  auto m = Machine::FromTextProto(R"(
      name: "t" initial_stage: "a"
      stages { id: "a" } stages { id: "w" kind: WON display_name: "Won!" }
      stages { id: "l" kind: LOST }
      events { id: "go" } events { id: "no" }
      transitions { from_stage: "a" event: "go" to: "w" }
      transitions { from_stage: "a" event: "no" to: "l" })");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->stage(0).display_name, "a");
  EXPECT_EQ((*m)->stage(0).kind, StageKind::kOpen);
  EXPECT_EQ((*m)->stage(0).win_probability, 0);
  EXPECT_EQ((*m)->stage(1).display_name, "Won!");
  EXPECT_EQ((*m)->stage(1).win_probability, 100);
  EXPECT_EQ((*m)->stage(2).win_probability, 0);
  EXPECT_FALSE((*m)->stage(0).stall_limit_seconds.has_value());
}

TEST(MachineIntrospection, LookupsByName) {
  auto m = Machine::FromTextProto(SpecText().str());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*(*m)->FindStage("b"), 1);
  EXPECT_EQ(*(*m)->FindEvent("stop"), 1);
  EXPECT_EQ(*(*m)->FindAttribute("s"), 1);
  auto missing = (*m)->FindEvent("sotp");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("machine \"t\" v1 has no event \"sotp\""));
  EXPECT_EQ((*m)->FindStage("zz").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*m)->FindAttribute("zz").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MachineIntrospection, SpecTextRoundTrips) {
  auto m = Machine::FromTextProto(SpecText().str());
  ASSERT_TRUE(m.ok());
  auto again = Machine::FromTextProto((*m)->spec_text());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->fingerprint(), (*m)->fingerprint());
}

// ---- fingerprints

TEST(MachineFingerprint, IgnoresNamesVersionsAndDisplayText) {
  SpecText s;
  auto base = Machine::FromTextProto(s.str());
  s.header = R"(name: "renamed" version: 7 description: "x" initial_stage: "a")";
  s.stages = R"(stages { id: "a" display_name: "Start" } stages { id: "b" }
                stages { id: "c" kind: LOST })";
  auto cosmetic = Machine::FromTextProto(s.str());
  ASSERT_TRUE(base.ok() && cosmetic.ok());
  EXPECT_EQ((*base)->fingerprint(), (*cosmetic)->fingerprint());
}

TEST(MachineFingerprint, ChangesWithBehaviour) {
  const uint64_t base = (*Machine::FromTextProto(SpecText().str()))->fingerprint();
  SpecText target;
  target.transitions = R"(transitions { from_stage: "a" event: "go" to: "b" }
      transitions { from_stage: "a" event: "stop" to: "c" }
      transitions { from_stage: "b" event: "stop" to: "a" })";
  SpecText guard;
  guard.transitions += R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "n" op: GE value { int64_value: 5 } } } })";
  SpecText guard_constant = guard;
  guard_constant.transitions = SpecText().transitions +
      R"(transitions { from_stage: "b" event: "go" to: "a"
      guard { compare { attribute: "n" op: GE value { int64_value: 6 } } } })";
  SpecText probability;
  probability.stages = R"(stages { id: "a" win_probability: 10 }
      stages { id: "b" } stages { id: "c" kind: LOST })";
  SpecText attribute_default;
  attribute_default.attributes =
      R"(attributes { name: "n" type: INT64 default_value { int64_value: 3 } }
         attributes { name: "s" type: STRING })";
  std::vector<uint64_t> all = {base};
  for (const SpecText* s :
       {&target, &guard, &guard_constant, &probability, &attribute_default}) {
    auto m = Machine::FromTextProto(s->str());
    ASSERT_TRUE(m.ok()) << m.status();
    for (uint64_t other : all) EXPECT_NE((*m)->fingerprint(), other);
    all.push_back((*m)->fingerprint());
  }
}

TEST(MachineFingerprint, IsStableAcrossBuilds) {
  // Snapshots written by one build are checked by later ones: pin the value
  // so that any change to the canonical encoding is a deliberate one.
  auto m = Machine::FromFile(SC_MACHINES_DIR "/cycle9.textproto");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->fingerprint(), kCycle9Fingerprint);
}

}  // namespace
}  // namespace salescycle
