// The machine templates under examples/machines: each loads and validates,
// cycle9 and cycle9-guarded are exactly ../shared/bench/cycle9.json, and
// each template behaves as its comments say.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::ElementsAre;

// How many transition entries the spec has (each concrete transition names
// the entry it came from).
int SpecTransitions(const Machine& m) {
  int most = -1;
  for (const TransitionInfo& t : m.transitions()) most = std::max(most, t.spec_index);
  return most + 1;
}

constexpr const char* kTemplates[] = {
    "b2b.textproto",         "buyer_journey.textproto",
    "ecommerce.textproto",   "crm_opportunity.textproto",
    "crm_deal.textproto",    "cycle9.textproto",
    "cycle9_guarded.textproto"};

TEST(Templates, AllLoad) {
  for (const char* file : kTemplates) {
    SCOPED_TRACE(file);
    EXPECT_NE(LoadTemplate(file), nullptr);
  }
}

// SpecJson is the machine, whole: compiled again it behaves the same (the
// same fingerprint), and it writes out what the compiler resolved.
TEST(Templates, SpecJsonIsTheWholeMachine) {
  for (const char* file : kTemplates) {
    SCOPED_TRACE(file);
    auto m = LoadTemplate(file);
    const std::string json = m->SpecJson();
    auto again = Machine::FromJson(json);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->fingerprint(), m->fingerprint());
    EXPECT_EQ((*again)->SpecJson(), json);
  }
  // Resolved: a WON stage with no win_probability in the spec reads 100, a
  // stage with no display name shows its id, kinds are explicit.
  auto m = Machine::FromTextProto(R"(name: "r" initial_stage: "a"
      stages { id: "a" stall_limit_seconds: 60 } stages { id: "w" kind: WON }
      events { id: "go" } transitions { from_stage: "a" event: "go" to: "w" })");
  ASSERT_TRUE(m.ok()) << m.status();
  google::protobuf::Struct spec;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage((*m)->SpecJson(), &spec).ok());
  const auto& stages = spec.fields().at("stages").list_value().values();
  ASSERT_EQ(stages.size(), 2);
  const auto& a = stages[0].struct_value().fields();
  const auto& w = stages[1].struct_value().fields();
  EXPECT_EQ(a.at("display_name").string_value(), "a");
  EXPECT_EQ(a.at("kind").string_value(), "OPEN");
  EXPECT_EQ(a.at("win_probability").number_value(), 0);
  EXPECT_EQ(a.at("stall_limit_seconds").string_value(), "60");
  EXPECT_EQ(w.at("kind").string_value(), "WON");
  EXPECT_EQ(w.at("win_probability").number_value(), 100);
}

constexpr char kCycle9Json[] = SC_SHARED_DIR "/bench/cycle9.json";

// A clone without ../shared builds and passes: these checks then skip,
// saying why.
bool HaveCycle9Json() { return std::ifstream(kCycle9Json).good(); }

google::protobuf::Struct ReadCycle9Json() {
  std::ifstream in(kCycle9Json);
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct spec;
  const auto status =
      google::protobuf::util::JsonStringToMessage(text.str(), &spec);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return spec;
}

void ExpectMatchesCycle9Json(const Machine& m, bool guarded) {
  const google::protobuf::Struct spec = ReadCycle9Json();
  const auto& f = spec.fields();
  const auto& states = f.at("states").list_value().values();
  const auto& events = f.at("events").list_value().values();
  ASSERT_EQ(m.num_stages(), states.size());
  ASSERT_EQ(m.num_events(), events.size());
  // Dense ids must equal the file's indices: the workload and its hash use
  // them.
  for (int i = 0; i < states.size(); ++i) {
    EXPECT_EQ(m.stage(i).id, states[i].string_value());
  }
  for (int i = 0; i < events.size(); ++i) {
    EXPECT_EQ(m.event(i).id, events[i].string_value());
  }
  EXPECT_EQ(m.stage(m.initial_stage()).id, f.at("initial").string_value());
  const auto& transitions = f.at("transitions").list_value().values();
  ASSERT_EQ(m.transitions().size(), transitions.size());
  const auto& g = f.at("guarded_variant").struct_value().fields().at("guard")
                      .struct_value().fields();
  for (const auto& t : transitions) {
    const auto& v = t.list_value().values();
    const StageId from = *m.FindStage(v[0].string_value());
    const EventId event = *m.FindEvent(v[1].string_value());
    const bool is_guarded = v[0].string_value() == g.at("from").string_value() &&
                            v[1].string_value() == g.at("event").string_value();
    MapReader rich;
    rich.ints[0] = 1'000'000;
    const StepResult r = m.Step(from, event, 0, rich);
    ASSERT_TRUE(r.moved()) << v[0].string_value() << " " << v[1].string_value();
    EXPECT_EQ(m.stage(r.to).id, v[2].string_value());
    if (guarded && is_guarded) {
      MapReader at_limit, below;
      at_limit.ints[0] = static_cast<int64_t>(g.at("value").number_value());
      below.ints[0] = at_limit.ints[0] - 1;
      EXPECT_TRUE(m.Step(from, event, 0, at_limit).moved());
      EXPECT_EQ(m.Step(from, event, 0, below).outcome, Outcome::kGuardFailed);
    } else {
      EXPECT_TRUE(m.transitions()[r.transition].guard.empty());
    }
  }
}

TEST(Templates, Cycle9IsTheSharedMachine) {
  if (!HaveCycle9Json()) {
    GTEST_SKIP() << kCycle9Json << " is missing: cycle9 is not checked "
                 << "against the shared machine (clone beside ../shared)";
  }
  auto m = LoadTemplate("cycle9.textproto");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name(), "cycle9");
  EXPECT_EQ(m->num_attributes(), 0);
  ExpectMatchesCycle9Json(*m, false);
}

TEST(Templates, Cycle9GuardedIsTheSharedMachineWithTheBudgetGuard) {
  if (!HaveCycle9Json()) {
    GTEST_SKIP() << kCycle9Json << " is missing: cycle9 is not checked "
                 << "against the shared machine (clone beside ../shared)";
  }
  auto m = LoadTemplate("cycle9_guarded.textproto");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name(), "cycle9-guarded");
  ASSERT_EQ(m->num_attributes(), 1);
  EXPECT_EQ(m->attribute(0).name, "budget");
  ExpectMatchesCycle9Json(*m, true);
}

TEST(Templates, B2bQualifiesWithBantAndLoopsThroughObjections) {
  auto m = LoadTemplate("b2b.textproto");
  ASSERT_NE(m, nullptr);
  auto j = *Journey::Create(m, 0);
  auto stage = [&] { return m->stage(j.stage()).id; };
  ASSERT_TRUE(j.Fire("contact", 1)->moved());
  ASSERT_TRUE(j.Fire("qualify", 2)->moved());
  // BANT: every part must hold.
  ASSERT_TRUE(j.Set("budget", AttributeValue::Int64(50000)).ok());
  ASSERT_TRUE(j.Set("authority", AttributeValue::Bool(true)).ok());
  ASSERT_TRUE(j.Set("need", AttributeValue::Bool(true)).ok());
  EXPECT_EQ(j.Fire("present", 3)->outcome, Outcome::kGuardFailed);  // timeline 365
  ASSERT_TRUE(j.Set("timeline_days", AttributeValue::Int64(90)).ok());
  ASSERT_TRUE(j.Fire("present", 4)->moved());
  EXPECT_EQ(stage(), "presentation");
  // Negotiation requires the deal's value.
  EXPECT_EQ(j.Fire("negotiate", 5)->outcome, Outcome::kMissingAttribute);
  ASSERT_TRUE(j.Set("deal_value", AttributeValue::Double(48000)).ok());
  ASSERT_TRUE(j.Fire("negotiate", 6)->moved());
  // A deep discount sends "close" back to objections (second candidate).
  ASSERT_TRUE(j.Set("discount_pct", AttributeValue::Double(35)).ok());
  ASSERT_TRUE(j.Fire("close", 7)->moved());
  EXPECT_EQ(stage(), "objection_handling");
  ASSERT_TRUE(j.Fire("negotiate", 8)->moved());
  ASSERT_TRUE(j.Set("discount_pct", AttributeValue::Double(10)).ok());
  // Closing requires the decision maker.
  EXPECT_EQ(j.Fire("close", 9)->outcome, Outcome::kMissingAttribute);
  ASSERT_TRUE(j.Set("decision_maker", AttributeValue::String("CFO")).ok());
  ASSERT_TRUE(j.Fire("close", 10)->moved());
  ASSERT_TRUE(j.Fire("object", 11)->moved());  // objections from closing too
  EXPECT_EQ(stage(), "objection_handling");
  ASSERT_TRUE(j.Fire("negotiate", 12)->moved());
  ASSERT_TRUE(j.Fire("close", 13)->moved());
  ASSERT_TRUE(j.Fire("win", 14)->moved());
  // After the sale: follow-up is a closed (WON) stage, out of the open
  // pipeline, where the account manager's calls are activities.
  ASSERT_TRUE(j.Fire("follow_up", 15)->moved());
  EXPECT_EQ(m->stage(j.stage()).kind, StageKind::kWon);
  EXPECT_EQ(j.Fire("call", 16)->outcome, Outcome::kActivity);
  EXPECT_EQ(j.cycle(), 1u);
  // A repeat purchase starts a new cycle, back in qualification.
  ASSERT_TRUE(j.Fire("repurchase", 17)->moved());
  EXPECT_EQ(stage(), "qualification");
  EXPECT_EQ(j.cycle(), 2u);
}

TEST(Templates, B2bEntryStagesReasonsAndReopening) {
  auto m = LoadTemplate("b2b.textproto");
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  // Inbound leads start in contact, referrals in qualification; nothing
  // starts in negotiation.
  const DealIndex inbound = *p.Add(0, *m->FindStage("initial_contact"));
  const DealIndex referral = *p.Add(0, *m->FindStage("qualification"));
  EXPECT_FALSE(p.Add(0, *m->FindStage("negotiation")).ok());
  // The first contact's clock runs from the last activity: a call on day
  // 10 keeps it warm until day 24.
  EXPECT_EQ(p.Fire(inbound, "call", 10 * 86400)->outcome, Outcome::kActivity);
  EXPECT_EQ(p.AdvanceTo(24 * 86400 - 1), 0);
  EXPECT_EQ(p.AdvanceTo(24 * 86400), 1);
  EXPECT_EQ(m->stage(p.stage(inbound)).id, "lost");
  EXPECT_EQ(p.LossReason(inbound), "go_cold");
  // The rep's reason wins over the event's; a lost deal reopens where it
  // was lost, in the same cycle; "reactivate" starts over, a new cycle.
  ASSERT_TRUE(p.Set(referral, *m->FindAttribute("lost_reason"),
                    AttributeValue::String("no budget"))
                  .ok());
  ASSERT_TRUE(p.Fire(referral, "disqualify", 25 * 86400)->moved());
  EXPECT_EQ(p.LossReason(referral), "no budget");
  ASSERT_TRUE(p.Reopen(referral, 26 * 86400)->moved());
  EXPECT_EQ(m->stage(p.stage(referral)).id, "qualification");
  EXPECT_EQ(p.cycle(referral), 1u);
  ASSERT_TRUE(p.Reopen(inbound, 27 * 86400)->moved());
  ASSERT_TRUE(p.Fire(inbound, "lose", 28 * 86400)->moved());
  ASSERT_TRUE(p.Fire(inbound, "reactivate", 29 * 86400)->moved());
  EXPECT_EQ(m->stage(p.stage(inbound)).id, "prospecting");
  EXPECT_EQ(p.cycle(inbound), 2u);
}

TEST(Templates, CrmOpportunityMovesFreelyAndClosesWithWhatItNeeds) {
  auto m = LoadTemplate("crm_opportunity.textproto");
  ASSERT_NE(m, nullptr);
  // Ten stages in five transition entries; no stage moves to itself.
  EXPECT_EQ(m->num_stages(), 10);
  EXPECT_EQ(SpecTransitions(*m), 5);
  for (const TransitionInfo& t : m->transitions()) EXPECT_NE(t.from, t.to);
  auto p = *Pipeline::Create(m);
  // Created in a later stage: it entered that stage and none before.
  const DealIndex d = *p.AddWithKey("006A", 0, *m->FindStage("value_proposition"));
  EXPECT_EQ(p.StageCount(*m->FindStage("prospecting")), 0u);
  // Back and forward, skipping stages.
  ASSERT_TRUE(p.MoveTo(d, "qualification", 10)->moved());
  ASSERT_TRUE(p.MoveTo(d, "proposal_price_quote", 20)->moved());
  // An edit of the amount arrives as a row in the same stage: an update.
  EXPECT_EQ(p.MoveTo(d, "proposal_price_quote", 30)->outcome, Outcome::kActivity);
  EXPECT_EQ(p.entered_at(d), 20);
  // Closed Won needs amount and close date; Closed Lost a reason.
  EXPECT_EQ(p.MoveTo(d, "closed_won", 40)->outcome, Outcome::kMissingAttribute);
  EXPECT_EQ(p.MoveTo(d, "closed_lost", 40)->outcome, Outcome::kMissingAttribute);
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("loss_reason"),
                    AttributeValue::String("Price"))
                  .ok());
  ASSERT_TRUE(p.MoveTo(d, "closed_lost", 50)->moved());
  EXPECT_EQ(p.LossReason(d), "Price");
  // Reopened where it closed from, then won.
  ASSERT_TRUE(p.Reopen(d, 60)->moved());
  EXPECT_EQ(m->stage(p.stage(d)).id, "proposal_price_quote");
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("amount"), AttributeValue::Double(12e3)).ok());
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("close_date"), AttributeValue::Int64(70)).ok());
  ASSERT_TRUE(p.MoveTo(d, "closed_won", 70)->moved());
  // Closed stages take no moves by stage back into the pipeline.
  EXPECT_EQ(p.MoveTo(d, "prospecting", 80)->outcome, Outcome::kNoTransition);
}

TEST(Templates, CrmDealSkipsForwardButNotBack) {
  auto m = LoadTemplate("crm_deal.textproto");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->num_stages(), 7);
  EXPECT_EQ(SpecTransitions(*m), 6);
  auto p = *Pipeline::Create(m);
  const DealIndex d = *p.Add(0);
  ASSERT_TRUE(p.MoveTo(d, "presentation_scheduled", 10)->moved());  // skips one
  EXPECT_EQ(p.MoveTo(d, "qualified_to_buy", 20)->outcome, Outcome::kNoTransition);
  // Contract Sent needs the amount.
  EXPECT_EQ(p.MoveTo(d, "contract_sent", 30)->outcome, Outcome::kMissingAttribute);
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("amount"), AttributeValue::Double(9e3)).ok());
  ASSERT_TRUE(p.MoveTo(d, "contract_sent", 40)->moved());
  // Rotting: the stall clock runs from the last activity.
  EXPECT_EQ(p.Fire(d, "note", 100)->outcome, Outcome::kActivity);
  EXPECT_EQ(p.ClockStart(d), 100);
  ASSERT_TRUE(p.Set(d, *m->FindAttribute("closed_lost_reason"),
                    AttributeValue::String("Went with a competitor"))
                  .ok());
  ASSERT_TRUE(p.MoveTo(d, "closed_lost", 200)->moved());
  EXPECT_EQ(p.LossReason(d), "Went with a competitor");
}

TEST(Templates, B2bDealsRotAndAreLostFromAnyOpenStage) {
  auto m = LoadTemplate("b2b.textproto");
  ASSERT_NE(m, nullptr);
  auto p = *Pipeline::Create(m);
  const DealIndex cold = *p.Add(0);
  const DealIndex lost = *p.Add(0);
  ASSERT_TRUE(p.Fire(cold, "contact", 0)->moved());
  ASSERT_TRUE(p.Fire(lost, "lose", 0)->moved());
  EXPECT_EQ(p.AdvanceTo(14 * 86400 - 1), 0);
  EXPECT_EQ(p.AdvanceTo(14 * 86400), 1);  // initial contact goes cold
  EXPECT_EQ(m->stage(p.stage(cold)).id, "lost");
  EXPECT_EQ(p.StageCount(*m->FindStage("lost")), 2u);
  ASSERT_TRUE(p.Fire(lost, "reactivate", 15 * 86400)->moved());
  EXPECT_EQ(m->stage(p.stage(lost)).id, "prospecting");
}

TEST(Templates, BuyerJourneyDropsOffAfterTwoMonthsOfConsideration) {
  auto m = LoadTemplate("buyer_journey.textproto");
  ASSERT_NE(m, nullptr);
  auto j = *Journey::Create(m, 0);
  ASSERT_TRUE(j.Fire("engage", 10)->moved());
  EXPECT_EQ(j.Fire("evaluate", 20)->outcome, Outcome::kGuardFailed);
  EXPECT_EQ(j.AdvanceTo(10 + 60 * 86400), 1);
  EXPECT_EQ(m->stage(j.stage()).id, "dropped");
  // Coming back is a new journey (cycle 2).
  ASSERT_TRUE(j.Fire("return", 100 * 86400)->moved());
  EXPECT_EQ(j.cycle(), 2u);
  ASSERT_TRUE(j.Fire("engage", 100 * 86400)->moved());
  // A touch keeps a considering buyer from dropping off.
  EXPECT_EQ(j.Fire("touch", 150 * 86400)->outcome, Outcome::kActivity);
  EXPECT_EQ(j.AdvanceTo(160 * 86400 + 1), 0);
  ASSERT_TRUE(j.Set("lead_score", AttributeValue::Int64(70)).ok());
  ASSERT_TRUE(j.Fire("evaluate", 101 * 86400)->moved());
  ASSERT_TRUE(j.Fire("buy", 102 * 86400)->moved());
  EXPECT_EQ(m->stage(j.stage()).kind, StageKind::kWon);
}

TEST(Templates, EcommerceCartAbandonmentReminderAndRemarketing) {
  auto m = LoadTemplate("ecommerce.textproto");
  ASSERT_NE(m, nullptr);
  JourneyOptions options;
  options.history_limit = 8;
  auto j = *Journey::Create(m, 0, options);
  auto stage = [&] { return m->stage(j.stage()).id; };
  ASSERT_TRUE(j.Fire("view_product", 10)->moved());
  EXPECT_EQ(j.Fire("add_to_cart", 20)->outcome, Outcome::kMissingAttribute);
  ASSERT_TRUE(j.Set("cart_value", AttributeValue::Double(59.90)).ok());
  ASSERT_TRUE(j.Fire("add_to_cart", 30)->moved());
  EXPECT_EQ(j.AdvanceTo(30 + 3600), 1);  // idle cart: abandoned after an hour
  EXPECT_EQ(stage(), "abandoned_cart");
  ASSERT_TRUE(j.Fire("remind", 5000)->moved());  // the reminder brings them back
  EXPECT_EQ(stage(), "cart");
  // Abandoned again, then a day later retargeted, then an ad click.
  EXPECT_EQ(j.AdvanceTo(5000 + 3600 + 86400), 2);
  EXPECT_EQ(stage(), "remarketing");
  ASSERT_TRUE(j.Fire("click_ad", 200000)->moved());
  ASSERT_TRUE(j.Fire("add_to_cart", 200010)->moved());
  ASSERT_TRUE(j.Fire("begin_checkout", 200020)->moved());
  EXPECT_EQ(j.Fire("pay", 200030)->outcome, Outcome::kGuardFailed);
  ASSERT_TRUE(j.Set("payment_ok", AttributeValue::Bool(true)).ok());
  ASSERT_TRUE(j.Fire("pay", 200040)->moved());
  ASSERT_TRUE(j.Fire("return_visit", 300000)->moved());  // repeat purchase
  EXPECT_EQ(stage(), "visit");
  EXPECT_EQ(j.cycle(), 2u);
  const auto history = j.History();
  // 13 steps; the last 8 start with the second abandonment, at its due time.
  ASSERT_EQ(history.size(), 8u);
  EXPECT_EQ(history[0].time, 5000 + 3600);
  EXPECT_TRUE(history[0].by_timeout);
  EXPECT_EQ(history[0].event, *m->FindEvent("abandon"));
  int by_timeout = 0;
  for (const HistoryEntry& e : history) by_timeout += e.by_timeout;
  EXPECT_EQ(by_timeout, 2);
}

}  // namespace
}  // namespace salescycle
