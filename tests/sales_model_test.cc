// The sales model as CRMs run it: entry stages, moves by stage, free
// movement without self-loops, activities and stall clocks, loss reasons,
// reopening and new cycles, in Machine, Journey and Pipeline.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"
#include "salescycle/v1/snapshot.pb.h"
#include "tests/snapshot_frames.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A CRM-shaped pipeline in a few entries: four open stages in funnel order,
// won (needs amount) and lost (a reason from an attribute, else the event).
// Deals may be created in lead or demo. Any open stage moves to any other
// and to any closed stage by stage; "lose" and "call" are events.
constexpr char kCrm[] = R"(
  name: "crm" version: 1 initial_stage: "lead"
  entry_stages: "demo"
  stages { id: "lead" win_probability: 10 }
  stages { id: "qualified" win_probability: 20 }
  stages { id: "demo" win_probability: 40 stall_limit_seconds: 100
           stall_clock: LAST_ACTIVITY }
  stages { id: "proposal" win_probability: 60 stall_limit_seconds: 100 }
  stages { id: "won" kind: WON required_attributes: "amount" reopenable: true }
  stages { id: "lost" kind: LOST reason_attribute: "lost_reason"
           reason_from_event: true reopenable: true }
  events { id: "lose" } events { id: "call" } events { id: "repurchase" }
  events { id: "go_cold" }
  attributes { name: "amount" type: DOUBLE }
  attributes { name: "lost_reason" type: STRING }
  transitions { from_any_open: true to_any_open: true }
  transitions { from_any_open: true to_any_closed: true }
  transitions { from_any_open: true event: "lose" to: "lost" }
  transitions { from_any_open: true event: "go_cold" to: "lost" }
  transitions { from_any_open: true event: "call" }
  transitions { from_stage: "won" event: "repurchase" to: "qualified"
                new_cycle: true }
  timeouts { stage: "demo" fire_event: "go_cold" }
)";

std::shared_ptr<const Machine> Crm() {
  auto m = Machine::FromTextProto(kCrm);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

StageId S(const Machine& m, absl::string_view id) { return *m.FindStage(id); }

// Every (from, to) pair of the machine's transitions, as "from>to:event".
std::vector<std::string> Pairs(const Machine& m) {
  std::vector<std::string> out;
  for (const TransitionInfo& t : m.transitions()) {
    out.push_back(absl::StrCat(
        m.stage(t.from).id, ">",
        t.to == kNoStage ? "(activity)" : m.stage(t.to).id, ":",
        t.event == kNoEvent ? "-" : m.event(t.event).id));
  }
  return out;
}

// ---- the compiled machine

TEST(FreeMovement, ExpandsToEveryOtherStageWithoutSelfLoops) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  int by_stage_only = 0;
  for (const TransitionInfo& t : m->transitions()) {
    EXPECT_NE(t.from, t.to) << "a self-loop: " << m->stage(t.from).id;
    if (t.event == kNoEvent) ++by_stage_only;
  }
  // 4 open stages: 4 x 3 open targets + 4 x 2 closed targets.
  EXPECT_EQ(by_stage_only, 4 * 3 + 4 * 2);
  EXPECT_THAT(Pairs(*m),
              ::testing::IsSupersetOf({"lead>qualified:-", "proposal>lead:-",
                                       "demo>won:-", "demo>lost:go_cold",
                                       "demo>(activity):call",
                                       "won>qualified:repurchase"}));
  EXPECT_THAT(Pairs(*m), ::testing::Not(::testing::Contains("lead>lead:-")));
}

TEST(FreeMovement, ForwardOnlyKeepsTheFunnelOrder) {
  auto m = Machine::FromTextProto(R"(name: "f" initial_stage: "a"
      stages { id: "a" } stages { id: "b" } stages { id: "c" }
      stages { id: "w" kind: WON }
      events { id: "e" }
      transitions { from_any_open: true to_any_open: true forward_only: true }
      transitions { from_any_open: true to_any_closed: true })");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(Pairs(**m), ElementsAre("a>b:-", "a>c:-", "a>w:-", "b>c:-",
                                      "b>w:-", "c>w:-"));
}

TEST(FreeMovement, ValidationNamesWhatIsWrong) {
  SpecText s;
  s.transitions = R"(transitions { from_stage: "a" event: "go" to: "a" })";
  ExpectInvalid(s, "transitions[0] (a --go--> a): a self-loop: a deal that "
                   "stays in its stage records an activity; leave out `to`");
  s.transitions = R"(transitions { from_stage: "a" event: "go" to_any_open: true })";
  ExpectInvalid(s, "a transition to several stages takes no event");
  s.transitions = R"(transitions { from_stage: "a" to: "b" forward_only: true })";
  ExpectInvalid(s, "forward_only applies to to_any_open only");
  s.transitions = R"(transitions { from_stage: "a" })";
  ExpectInvalid(s, "no target and no event");
  s.transitions = R"(transitions { from_stage: "a" to: "b" }
                     transitions { from_stage: "a" to: "b" })";
  ExpectInvalid(s, "transitions[1] (a --(by stage)--> b): can never be taken: "
                   "it follows the unguarded transitions[0] for the same "
                   "stage and target");
  s.transitions = R"(transitions { from_stage: "a" to: "b" new_cycle: true }
                     transitions { from_stage: "b" to: "c" })";
  ExpectInvalid(s, "new_cycle: a new cycle starts with a move from a closed "
                   "stage to an open one, and \"a\" to \"b\" is not");
}

TEST(FreeMovement, OutcomeFieldsAreCheckedAgainstTheStageKind) {
  SpecText s;
  s.stages = R"(stages { id: "a" reason_from_event: true } stages { id: "b" }
                stages { id: "c" kind: LOST })";
  ExpectInvalid(s, "stages[0] \"a\": only a LOST stage records a loss reason");
  s.stages = R"(stages { id: "a" } stages { id: "b" reopenable: true }
                stages { id: "c" kind: LOST })";
  ExpectInvalid(s, "stages[1] \"b\": only a WON or LOST stage can be reopenable");
  s.stages = R"(stages { id: "a" } stages { id: "b" }
                stages { id: "c" kind: LOST reason_attribute: "n" })";
  ExpectInvalid(s, "reason_attribute \"n\" is not a declared STRING attribute");
  s.stages = R"(stages { id: "a" } stages { id: "b" } stages { id: "c" kind: LOST })";
  s.header += R"( entry_stages: "nope")";
  ExpectInvalid(s, "entry_stages[0]: unknown stage \"nope\"");
}

TEST(EntryStages, MakeStagesReachableAndComeFirstIsInitial) {
  // d is reached by nothing but creation.
  SpecText s;
  s.stages += R"( stages { id: "d" })";
  ExpectInvalid(s, "stages[3] \"d\": unreachable from the initial stage \"a\"");
  s.header += R"( entry_stages: "d" entry_stages: "a")";
  auto m = Machine::FromTextProto(s.str());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT((*m)->entry_stages(), ElementsAre(0, 3));
  EXPECT_TRUE((*m)->IsEntryStage(3));
  EXPECT_FALSE((*m)->IsEntryStage(1));
}

TEST(MachineFeatures, OnlyWhatTheMachineUsesIsKept) {
  auto plain = Machine::FromTextProto(SpecText().str());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->keeps_last_activity());
  EXPECT_FALSE((*plain)->keeps_loss_reasons());
  EXPECT_FALSE((*plain)->keeps_closed_from());
  EXPECT_FALSE((*plain)->keeps_cycles());
  auto crm = Crm();
  ASSERT_NE(crm, nullptr);
  EXPECT_TRUE(crm->keeps_last_activity());
  EXPECT_TRUE(crm->keeps_loss_reasons());
  EXPECT_TRUE(crm->keeps_closed_from());
  EXPECT_TRUE(crm->keeps_cycles());
}

TEST(MachineFeatures, MachinesThatUseNoneKeepTheirFingerprint) {
  // The fingerprint snapshots are checked against: a spec written before
  // these fields existed hashes as it did: the b2b template as the first
  // release shipped it, and the fingerprint that release wrote into
  // tests/fuzz/seeds/snapshot/b2b.scp.
  auto m = Machine::FromFile(
      absl::StrCat(SC_TESTS_DIR, "/data/format_v1/b2b.textproto"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->fingerprint(), 0x276028ccd3a97056u)
      << std::hex << (*m)->fingerprint();
}

// ---- moves by stage

TEST(MoveTo, TakesTheDeclaredTransitionWithItsGuardAndRequirements) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  auto step = p.MoveTo(d, "proposal", 10);  // skips two stages
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_TRUE(step->moved());
  EXPECT_EQ(step->event, kNoEvent);
  EXPECT_EQ(step->target, S(*m, "proposal"));
  EXPECT_EQ(p.stage(d), S(*m, "proposal"));
  EXPECT_EQ(p.entered_at(d), 10);
  // won requires amount: rejected, and the reason names both stages.
  step = p.MoveTo(d, "won", 20);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->outcome, Outcome::kMissingAttribute);
  EXPECT_EQ(m->ExplainRejection(*step).message(),
            "move from stage \"proposal\" to stage \"won\" rejected: target "
            "stage requires attribute \"amount\", which is not set");
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("amount"), AttributeValue::Double(5))
                  .ok());
  EXPECT_TRUE(p.MoveTo(d, "won", 30)->moved());
  // Nothing leaves won by stage for lead.
  step = p.MoveTo(d, "lead", 40);
  EXPECT_EQ(step->outcome, Outcome::kNoTransition);
  EXPECT_EQ(m->ExplainRejection(*step).message(),
            "move from stage \"won\" to stage \"lead\" rejected: no transition");
  EXPECT_EQ(p.MoveTo(d, "nowhere", 50).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(p.MoveTo(d, StageId{99}, 50).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MoveTo, TheDealsOwnStageIsAnUpdateNeverAMove) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(100);
  ASSERT_TRUE(p.MoveTo(d, "qualified", 200)->moved());
  auto step = p.MoveTo(d, "qualified", 300);
  EXPECT_EQ(step->outcome, Outcome::kActivity);
  EXPECT_TRUE(step->accepted());
  EXPECT_EQ(p.stage(d), S(*m, "qualified"));
  EXPECT_EQ(p.entered_at(d), 200);  // the stay goes on
  EXPECT_EQ(p.last_activity(d), 300);
  EXPECT_EQ(p.StageCount(S(*m, "qualified")), 1u);
}

TEST(MoveTo, GuardsApplyPerTargetInDeclarationOrder) {
  auto m = Machine::FromTextProto(R"(name: "g" initial_stage: "a"
      stages { id: "a" } stages { id: "b" } stages { id: "w" kind: WON }
      events { id: "e" }
      attributes { name: "n" type: INT64 }
      transitions { from_stage: "a" to: "b"
        guard { compare { attribute: "n" op: GE value { int64_value: 10 } } } }
      transitions { from_stage: "a" event: "e" to: "b" }
      transitions { from_stage: "b" to: "w" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto j = *Journey::Create(*m, 0);
  // The guarded event-less transition fails; the next, by event "e", holds.
  auto step = j.MoveTo("b", 1);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->moved());
  EXPECT_EQ(step->event, *(*m)->FindEvent("e"));
  EXPECT_EQ((*m)->transitions()[step->transition].spec_index, 1);
  // An event-less transition is taken by no event.
  auto j2 = *Journey::Create(*m, 0);
  ASSERT_TRUE(j2.Set("n", AttributeValue::Int64(10)).ok());
  step = j2.MoveTo("b", 1);
  EXPECT_EQ((*m)->transitions()[step->transition].spec_index, 0);
  EXPECT_EQ(j2.Fire("e", 2)->outcome, Outcome::kNoTransition);  // in b now
}

TEST(MoveTo, LargeMachinesFindMovesByHash) {
  // Past 256 stages the moves by stage are not a table but a hash map.
  std::string spec = R"(name: "big" initial_stage: "s0" events { id: "e" })";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&spec, "stages { id: \"s", i, "\" }");
  absl::StrAppend(&spec, "stages { id: \"w\" kind: WON }",
                  "transitions { from_any_open: true to_any_open: true forward_only: true }",
                  "transitions { from_stage: \"s299\" to: \"w\" }");
  auto m = Machine::FromTextProto(spec);
  ASSERT_TRUE(m.ok()) << m.status();
  auto j = *Journey::Create(*m, 0);
  EXPECT_TRUE(j.MoveTo("s280", 1)->moved());
  EXPECT_EQ(j.MoveTo("s3", 2)->outcome, Outcome::kNoTransition);  // forward only
  EXPECT_EQ(j.MoveTo("w", 3)->outcome, Outcome::kNoTransition);
  EXPECT_TRUE(j.MoveTo("s299", 4)->moved());
  EXPECT_TRUE(j.MoveTo("w", 5)->moved());
}

TEST(ApplyMoves, IsMoveToInOrderAndChecksTheBatchFirst) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Add(0).ok());
  const uint32_t q = S(*m, "qualified"), pr = S(*m, "proposal"),
                 w = S(*m, "won");
  std::vector<StageRecord> bad = {{0, q, 1}, {1, 99, 2}};
  auto r = p.ApplyMoves(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("records[1]: stage id 99 is out of range"));
  EXPECT_EQ(p.stage(0), S(*m, "lead"));  // nothing applied
  std::vector<StageRecord> rows = {{0, q, 1}, {0, q, 2}, {1, pr, 3}, {1, w, 4}};
  r = p.ApplyMoves(rows);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accepted, 3u);  // two moves and an update
  EXPECT_EQ(r->rejected, 1u);  // won needs amount
  EXPECT_EQ(p.stage(0), q);
  EXPECT_EQ(p.last_activity(0), 2);
  EXPECT_EQ(p.stage(1), pr);
  ASSERT_TRUE(p.Remove(1).ok());
  r = p.ApplyMoves(std::vector<StageRecord>{{1, q, 5}});
  EXPECT_EQ(r->rejected, 1u);  // a removed deal
}

// ---- entry stages

TEST(EntryStages, ADealCreatedLaterEntersOnlyThatStage) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.AddWithKey("late", 50, S(*m, "demo"));
  EXPECT_EQ(p.stage(d), S(*m, "demo"));
  EXPECT_EQ(p.entered_at(d), 50);
  EXPECT_EQ(p.StageCount(S(*m, "demo")), 1u);
  EXPECT_EQ(p.StageCount(S(*m, "lead")), 0u);
  auto refused = p.AddWithId(7, 50, S(*m, "proposal"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "stage \"proposal\" is not an entry stage of machine \"crm\" "
            "(deals may be created in: lead, demo)");
  EXPECT_FALSE(p.FindById(7).ok());  // nothing was added
  JourneyOptions options;
  options.entry_stage = S(*m, "demo");
  auto j = Journey::Create(m, 5, options);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->stage(), S(*m, "demo"));
  options.entry_stage = S(*m, "won");
  EXPECT_FALSE(Journey::Create(m, 5, options).ok());
}

// ---- activities and the stall clock

TEST(Activities, RecordWithoutMovingAndRestartALastActivityClock) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex a = *p.Add(0, S(*m, "demo"));
  const DealIndex b = *p.Add(0, S(*m, "demo"));
  auto step = p.Fire(a, "call", 60);
  EXPECT_EQ(step->outcome, Outcome::kActivity);
  EXPECT_EQ(p.last_activity(a), 60);
  EXPECT_EQ(p.ClockStart(a), 60);
  EXPECT_EQ(p.ClockStart(b), 0);
  // demo goes cold 100 s after the last touch: b at 100, a at 160.
  EXPECT_EQ(p.AdvanceTo(159), 1);
  EXPECT_EQ(p.stage(b), S(*m, "lost"));
  EXPECT_EQ(p.entered_at(b), 100);
  EXPECT_EQ(p.stage(a), S(*m, "demo"));
  EXPECT_EQ(p.AdvanceTo(160), 1);
  EXPECT_EQ(p.stage(a), S(*m, "lost"));
  EXPECT_EQ(p.LossReason(a), "go_cold");  // from the event
}

TEST(Activities, AnEntryClockIgnoresThem) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  ASSERT_TRUE(p.MoveTo(d, "proposal", 0)->moved());
  EXPECT_EQ(p.Fire(d, "call", 90)->outcome, Outcome::kActivity);
  EXPECT_EQ(p.ClockStart(d), 0);  // proposal counts from entry
  EXPECT_EQ(p.last_activity(d), 90);
}

TEST(Activities, ABatchCountsThemAsAccepted) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  ASSERT_TRUE(p.Add(0).ok());
  const uint32_t call = *m->FindEvent("call");
  const uint32_t repurchase = *m->FindEvent("repurchase");
  std::vector<EventRecord> records = {{0, call, 5}, {0, repurchase, 6}};
  auto r = p.Apply(records);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 1u);
  EXPECT_EQ(r->rejected, 1u);
  EXPECT_EQ(p.last_activity(0), 5);
}

// ---- outcomes

TEST(Outcomes, ALossRecordsItsReasonFromTheAttributeThenTheEvent) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex priced = *p.Add(0), plain = *p.Add(0), moved = *p.Add(0);
  ASSERT_TRUE(p.Set(priced, *m->FindAttribute("lost_reason"),
                    AttributeValue::String("price"))
                  .ok());
  ASSERT_TRUE(p.Fire(priced, "lose", 1)->moved());
  ASSERT_TRUE(p.Fire(plain, "lose", 1)->moved());
  ASSERT_TRUE(p.MoveTo(moved, "lost", 1)->moved());  // no event, no attribute
  EXPECT_EQ(p.LossReason(priced), "price");
  EXPECT_EQ(p.LossReason(plain), "lose");
  EXPECT_EQ(p.LossReason(moved), "");
  auto j = *Journey::Create(m, 0);
  ASSERT_TRUE(j.Set("lost_reason", AttributeValue::String("timing")).ok());
  ASSERT_TRUE(j.MoveTo("lost", 3)->moved());
  EXPECT_EQ(j.loss_reason(), "timing");
}

TEST(Outcomes, AReopenGoesBackToTheStageItClosedFrom) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  EXPECT_EQ(p.Reopen(d, 1)->outcome, Outcome::kNotReopenable);  // open
  ASSERT_TRUE(p.MoveTo(d, "demo", 2)->moved());
  ASSERT_TRUE(p.Fire(d, "lose", 3)->moved());
  EXPECT_EQ(p.closed_from(d), S(*m, "demo"));
  EXPECT_EQ(p.LossReason(d), "lose");
  auto step = p.Reopen(d, 4);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->moved());
  EXPECT_TRUE(step->reopened);
  EXPECT_EQ(p.stage(d), S(*m, "demo"));
  EXPECT_EQ(p.entered_at(d), 4);
  EXPECT_EQ(p.LossReason(d), "");  // open again: no loss
  EXPECT_EQ(p.cycle(d), 1u);       // the same cycle
  // In a stage history, a reopen is a row naming the stage it closed from.
  ASSERT_TRUE(p.Fire(d, "lose", 5)->moved());
  auto by_stage = p.ApplyMoves(std::vector<StageRecord>{{d, S(*m, "demo"), 6}});
  ASSERT_TRUE(by_stage.ok());
  EXPECT_EQ(by_stage->accepted, 1u);
  EXPECT_EQ(p.stage(d), S(*m, "demo"));
  ASSERT_TRUE(p.Fire(d, "lose", 7)->moved());
  EXPECT_EQ(p.MoveTo(d, "lead", 8)->outcome, Outcome::kNoTransition);  // not where it was
  auto j = *Journey::Create(m, 0);
  ASSERT_TRUE(j.MoveTo("proposal", 1)->moved());
  ASSERT_TRUE(j.MoveTo("lost", 2)->moved());
  const StepResult back = *j.MoveTo("proposal", 3);
  EXPECT_TRUE(back.moved());
  EXPECT_TRUE(back.reopened);
  const StepResult refused = j.Reopen(4);
  EXPECT_EQ(refused.outcome, Outcome::kNotReopenable);
  EXPECT_EQ(m->ExplainRejection(refused).message(),
            "reopen rejected in stage \"proposal\": the deal is not closed");
}

TEST(Outcomes, ARepeatPurchaseStartsANewCycle) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("amount"), AttributeValue::Double(9))
                  .ok());
  ASSERT_TRUE(p.MoveTo(d, "won", 1)->moved());
  EXPECT_EQ(p.cycle(d), 1u);
  ASSERT_TRUE(p.Fire(d, "repurchase", 2)->moved());
  EXPECT_EQ(p.cycle(d), 2u);
  ASSERT_TRUE(p.MoveTo(d, "won", 3)->moved());
  ASSERT_TRUE(p.Fire(d, "repurchase", 4)->moved());
  EXPECT_EQ(p.cycle(d), 3u);
  // A removed slot's next deal starts at cycle 1 again.
  ASSERT_TRUE(p.Remove(d).ok());
  EXPECT_EQ(p.cycle(*p.Add(5)), 1u);
}

TEST(Outcomes, JourneyAndPipelineAgreeStepForStep) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  auto j = *Journey::Create(m, 0);
  const AttributeId amount = *m->FindAttribute("amount");
  ASSERT_TRUE(p.Set(d, amount, AttributeValue::Double(1)).ok());
  ASSERT_TRUE(j.Set(amount, AttributeValue::Double(1)).ok());
  struct Do {
    char kind;  // 'm'ove, 'f'ire, 'r'eopen
    const char* what;
  };
  const Do script[] = {{'m', "demo"}, {'f', "call"}, {'m', "lost"},
                       {'r', ""},     {'m', "won"},  {'f', "repurchase"},
                       {'m', "lead"}, {'f', "lose"}, {'r', ""}};
  Timestamp t = 10;
  for (const Do& step : script) {
    SCOPED_TRACE(absl::StrCat(std::string(1, step.kind), " ", step.what));
    StepResult a, b;
    if (step.kind == 'm') {
      a = *p.MoveTo(d, step.what, t);
      b = *j.MoveTo(step.what, t);
    } else if (step.kind == 'f') {
      a = *p.Fire(d, step.what, t);
      b = *j.Fire(step.what, t);
    } else {
      a = *p.Reopen(d, t);
      b = j.Reopen(t);
    }
    EXPECT_EQ(a.outcome, b.outcome);
    EXPECT_EQ(p.stage(d), j.stage());
    EXPECT_EQ(p.entered_at(d), j.entered_at());
    EXPECT_EQ(p.last_activity(d), j.last_activity());
    EXPECT_EQ(p.LossReason(d), j.loss_reason());
    EXPECT_EQ(p.closed_from(d), j.closed_from());
    EXPECT_EQ(p.cycle(d), j.cycle());
    t += 10;
  }
  EXPECT_EQ(j.cycle(), 2u);
  EXPECT_EQ(j.stage(), S(*m, "lead"));
}

// ---- timeouts between records

// Every deal's stage, entry time and last activity, to compare pipelines.
std::vector<std::tuple<StageId, Timestamp, Timestamp>> States(const Pipeline& p) {
  std::vector<std::tuple<StageId, Timestamp, Timestamp>> out;
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    out.emplace_back(p.stage(d), p.entered_at(d), p.last_activity(d));
  }
  return out;
}

TEST(ApplyTimed, IsAdvancingToJustBeforeEachRecordThenFiringIt) {
  auto m = Machine::FromFile(absl::StrCat(SC_MACHINES_DIR, "/b2b.textproto"));
  ASSERT_TRUE(m.ok());
  std::mt19937_64 rng(5);
  std::vector<EventRecord> records;
  Timestamp t = 0;
  constexpr int kDeals = 300;
  for (int i = 0; i < 20000; ++i) {
    t += static_cast<Timestamp>(rng() % 20000);  // timeouts are 14 and 30 days
    records.push_back(EventRecord{static_cast<DealIndex>(rng() % kDeals),
                                  static_cast<uint32_t>(rng() % (*m)->num_events()),
                                  t});
  }
  auto make = [&] {
    auto p = *Pipeline::Create(*m);
    for (int d = 0; d < kDeals; ++d) EXPECT_TRUE(p.Add(d * 1000).ok());
    return p;
  };
  Pipeline reference = make();
  int64_t fired = 0;
  for (const EventRecord& r : records) {
    fired += reference.AdvanceTo(r.time - 1);
    ASSERT_TRUE(reference.Fire(r.deal, static_cast<EventId>(r.event), r.time).ok());
  }
  ASSERT_GT(fired, 100);  // the test means something
  // One batch, and the same records in uneven batches with a plain Apply of
  // none between (the queue is kept across calls).
  Pipeline one = make();
  auto result = one.ApplyTimed(records);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->timeouts_fired, static_cast<uint64_t>(fired));
  EXPECT_EQ(States(one), States(reference));
  Pipeline split = make();
  uint64_t split_fired = 0;
  for (size_t at = 0, n = 1; at < records.size(); at += n, n = n * 3 + 1) {
    const size_t take = std::min(n, records.size() - at);
    auto r = split.ApplyTimed(absl::MakeConstSpan(records).subspan(at, take));
    ASSERT_TRUE(r.ok());
    split_fired += r->timeouts_fired;
  }
  EXPECT_EQ(split_fired, static_cast<uint64_t>(fired));
  EXPECT_EQ(States(split), States(reference));
}

TEST(ApplyTimed, ARecordAtTheDueTimeWinsTheTie) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0, S(*m, "demo"));  // goes cold at 100
  const uint32_t call = *m->FindEvent("call");
  auto r = p.ApplyTimed(std::vector<EventRecord>{{d, call, 100}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->timeouts_fired, 0u);
  EXPECT_EQ(p.stage(d), S(*m, "demo"));  // the call at 100 came in time
  r = p.ApplyTimed(std::vector<EventRecord>{{d, call, 201}});
  EXPECT_EQ(r->timeouts_fired, 1u);      // cold at 200, before the call
  EXPECT_EQ(p.stage(d), S(*m, "lost"));
  EXPECT_EQ(p.entered_at(d), 200);
  EXPECT_EQ(r->rejected, 1u);            // lost takes no call
}

TEST(ApplyTimed, MovesByStageFireTimeoutsToo) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex a = *p.Add(0, S(*m, "demo"));
  const DealIndex b = *p.Add(0);
  const uint32_t demo = S(*m, "demo"), proposal = S(*m, "proposal");
  // b enters demo at 50 and goes cold at 150; a's update at 90 keeps it warm
  // until 190; both are cold before b's row at 300, which lost refuses.
  auto r = p.ApplyMovesTimed(std::vector<StageRecord>{
      {b, demo, 50}, {a, demo, 90}, {b, proposal, 300}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timeouts_fired, 2u);
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->rejected, 1u);
  EXPECT_EQ(p.stage(b), S(*m, "lost"));
  EXPECT_EQ(p.entered_at(b), 150);
  EXPECT_EQ(p.stage(a), S(*m, "lost"));
  EXPECT_EQ(p.entered_at(a), 190);
  EXPECT_EQ(p.AdvanceTo(1000), 0);
  // A plain ApplyMoves fires none.
  const DealIndex c = *p.Add(0, S(*m, "demo"));
  r = p.ApplyMoves(std::vector<StageRecord>{{c, proposal, 500}});
  EXPECT_EQ(r->timeouts_fired, 0u);
  EXPECT_EQ(p.stage(c), proposal);
}

TEST(ApplyTimed, APlainApplyBetweenIsSeen) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  const uint32_t call = *m->FindEvent("call");
  ASSERT_TRUE(p.ApplyTimed(std::vector<EventRecord>{{d, call, 10}}).ok());
  // Moved into demo by a call the queue does not see...
  ASSERT_TRUE(p.Apply(std::vector<EventRecord>{}).ok());
  ASSERT_TRUE(p.MoveTo(d, "demo", 20)->moved());
  auto r = p.ApplyTimed(std::vector<EventRecord>{{d, call, 500}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->timeouts_fired, 1u);  // ...and still goes cold at 120
  EXPECT_EQ(p.entered_at(d), 120);
}

// ---- snapshots (format 2)

// A pipeline of the CRM machine whose deals use every kept piece: an
// activity, a loss with a reason, a reopen, a repeat purchase; and one that
// uses none.
Pipeline Busy(const std::shared_ptr<const Machine>& m) {
  auto p = *Pipeline::Create(m);
  const AttributeId amount = *m->FindAttribute("amount");
  const AttributeId reason = *m->FindAttribute("lost_reason");
  for (int i = 0; i < 70000; ++i) {  // more than one chunk
    const DealIndex d = *p.AddWithKey(absl::StrCat("k", i), i,
                                      i % 3 ? S(*m, "lead") : S(*m, "demo"));
    switch (i % 5) {
      case 0: EXPECT_TRUE(p.Fire(d, "call", i + 50).ok()); break;
      case 1:
        EXPECT_TRUE(p.Set(d, reason, AttributeValue::String(
                                         absl::StrCat("r", i % 7))).ok());
        EXPECT_TRUE(p.Fire(d, "lose", i + 60).ok());
        break;
      case 2:
        EXPECT_TRUE(p.Fire(d, "lose", i + 60).ok());
        EXPECT_TRUE(p.Reopen(d, i + 70).ok());
        break;
      case 3:
        EXPECT_TRUE(p.Set(d, amount, AttributeValue::Double(i)).ok());
        EXPECT_TRUE(p.MoveTo(d, "won", i + 80).ok());
        EXPECT_TRUE(p.Fire(d, "repurchase", i + 90).ok());
        break;
      default: break;
    }
  }
  EXPECT_TRUE(p.Remove(4).ok());
  return p;
}

void ExpectSameKeptState(const Pipeline& a, const Pipeline& b) {
  ASSERT_EQ(a.slot_count(), b.slot_count());
  for (DealIndex d = 0; d < a.slot_count(); ++d) {
    ASSERT_EQ(a.Contains(d), b.Contains(d)) << d;
    if (!a.Contains(d)) continue;
    ASSERT_EQ(a.stage(d), b.stage(d)) << d;
    ASSERT_EQ(a.entered_at(d), b.entered_at(d)) << d;
    ASSERT_EQ(a.last_activity(d), b.last_activity(d)) << d;
    ASSERT_EQ(a.LossReason(d), b.LossReason(d)) << d;
    ASSERT_EQ(a.closed_from(d), b.closed_from(d)) << d;
    ASSERT_EQ(a.cycle(d), b.cycle(d)) << d;
  }
}

TEST(Snapshots, KeepEveryPieceOfPerDealState) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  const Pipeline p = Busy(m);
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  auto loaded = LoadPipeline(SnapshotSource::Bytes(bytes), m);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameKeptState(p, *loaded);
  EXPECT_EQ(loaded->LossReason(1), "r1");
  EXPECT_EQ(loaded->LossReason(11), "r4");
  EXPECT_EQ(loaded->LossReason(2), "");  // lost, then reopened
  EXPECT_EQ(loaded->cycle(3), 2u);
  EXPECT_EQ(loaded->closed_from(2), S(*m, "lead"));
  EXPECT_EQ(loaded->last_activity(0), 50);
  // And it goes on as the original does: the reopened deal closes again,
  // the repeat customer wins a third cycle.
  Pipeline again = std::move(*loaded);
  EXPECT_TRUE(again.Fire(2, "lose", 1000)->moved());
  EXPECT_EQ(again.LossReason(2), "lose");
}

TEST(Snapshots, DamagedKeptColumnsAreDataLossNamingTheDeal) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Fire(1, "lose", 5)->moved());
  ASSERT_TRUE(p.Reopen(1, 6)->moved());
  ASSERT_TRUE(p.Fire(1, "lose", 7)->moved());
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  const auto frames = SnapshotFrames(bytes);
  ASSERT_EQ(frames.size(), 3u);
  ASSERT_EQ(frames[1].chunk().loss_reasons_size(), 1);
  struct Damage {
    std::function<void(v1::PipelineChunk*)> apply;
    const char* message;
  } damages[] = {
      {[](v1::PipelineChunk* c) { c->set_loss_reasons(0, 2); },
       "pipeline snapshot chunk 0: deal 1 has loss reason 2 of 1"},
      {[](v1::PipelineChunk* c) { c->add_loss_reasons(1); },
       "loss reason offsets and values do not pair up"},
      {[](v1::PipelineChunk* c) { c->set_closed_from(0, 40); },
       "deal 1 was closed from stage 40 of 6"},
      {[](v1::PipelineChunk* c) {
         c->add_cycle_offset_deltas(1);
         c->add_cycles(0);
       },
       "deal 0 is in cycle 0"},
      {[](v1::PipelineChunk* c) {
         c->add_last_activity_offset_deltas(9);
         c->add_last_activity_after_entry(1);
       },
       "last activity offset 10 is not a live deal"},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.message);
    auto bad = frames;
    damage.apply(bad[1].mutable_chunk());
    const auto loaded = LoadPipeline(SnapshotSource::Bytes(EncodeSnapshotFrames(bad)), m);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(loaded.status().message()),
                HasSubstr(damage.message));
  }
}

TEST(Snapshots, JourneysKeepEveryPiece) {
  auto m = Crm();
  ASSERT_NE(m, nullptr);
  auto j = *Journey::Create(m, 0);
  ASSERT_TRUE(j.MoveTo("proposal", 1).ok());
  ASSERT_TRUE(j.Fire("call", 2).ok());
  ASSERT_TRUE(j.Set("lost_reason", AttributeValue::String("budget")).ok());
  ASSERT_TRUE(j.Fire("lose", 3)->moved());
  auto back = RestoreJourney(SnapshotJourney(j), m);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->last_activity(), 2);
  EXPECT_EQ(back->loss_reason(), "budget");
  EXPECT_EQ(back->closed_from(), S(*m, "proposal"));
  EXPECT_EQ(back->Reopen(4).to, S(*m, "proposal"));
  ASSERT_TRUE(j.Set("amount", AttributeValue::Double(1)).ok());
  ASSERT_TRUE(j.Reopen(4).moved());
  ASSERT_TRUE(j.MoveTo("won", 5)->moved());
  ASSERT_TRUE(j.Fire("repurchase", 6)->moved());
  back = RestoreJourney(SnapshotJourney(j), m);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cycle(), 2u);
}

TEST(Snapshots, AFormat1JourneyStillLoads) {
  // Written by the first release (tests/fuzz/seeds/snapshot), of b2b as it
  // was then.
  auto m = Machine::FromFile(
      absl::StrCat(SC_TESTS_DIR, "/data/format_v1/b2b.textproto"));
  ASSERT_TRUE(m.ok());
  std::string bytes;
  {
    std::FILE* f = std::fopen(
        absl::StrCat(SC_TESTS_DIR, "/fuzz/seeds/snapshot/b2b_journey.scj").c_str(),
        "rb");
    ASSERT_NE(f, nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    std::fclose(f);
  }
  auto j = RestoreJourney(bytes, *m);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->cycle(), 1u);
  EXPECT_EQ(j->closed_from(), kNoStage);
  // Saved again, it is format 2 and the same journey.
  auto again = RestoreJourney(SnapshotJourney(*j), *m);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stage(), j->stage());
  EXPECT_EQ(again->entered_at(), j->entered_at());
  EXPECT_EQ(again->History(), j->History());
}

TEST(Bytes, EachKeptPieceCostsItsColumnAndNothingElse) {
  // 1024 deals; a plain machine's columns against the CRM machine's.
  auto plain = *Machine::FromTextProto(SpecText().str());
  auto crm = Crm();
  ASSERT_NE(crm, nullptr);
  PipelineOptions options;
  options.expected_deals = 1024;
  auto a = *Pipeline::Create(plain, options);
  auto b = *Pipeline::Create(crm, options);
  for (int i = 0; i < 1024; ++i) {
    ASSERT_TRUE(a.Add(0).ok());
    ASSERT_TRUE(b.Add(0).ok());
  }
  // Both have a scalar and a string attribute; the CRM machine keeps 8 B of
  // last activity, 4 of loss reason, 2 of closed-from and 4 of cycle more.
  const size_t extra = b.MemoryUsage() - a.MemoryUsage();
  EXPECT_EQ(extra, 1024u * (8 + 4 + 2 + 4) + b.machine().num_stages() * 8u -
                       a.machine().num_stages() * 8u);
}

}  // namespace
}  // namespace salescycle
