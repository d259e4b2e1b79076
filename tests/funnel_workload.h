// A workload that exercises everything the funnel counts, for the tests of
// the funnel's state (kept in snapshots, captured, merged).
#ifndef SALESCYCLE_TESTS_FUNNEL_WORKLOAD_H_
#define SALESCYCLE_TESTS_FUNNEL_WORKLOAD_H_

#include <memory>

#include "gtest/gtest.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace salescycle {

// Every kind of thing the funnel counts: entry stages, free moves (forward,
// back, to a side stage), wins, losses with reasons, reactivations,
// activities, and rejections.
inline constexpr char kFunnelSpec[] = R"(name: "fs" initial_stage: "lead"
      entry_stages: "demo"
      stages { id: "lead" } stages { id: "demo" } stages { id: "proposal" }
      stages { id: "won" kind: WON } stages { id: "nurture" side_stage: true }
      stages { id: "lost" kind: LOST reason_from_event: true }
      events { id: "call" } events { id: "lose" } events { id: "ghost" }
      attributes { name: "value" type: DOUBLE } attributes { name: "source" type: STRING }
      transitions { from_any_open: true to_any_open: true }
      transitions { from_stage: "proposal" to: "won" }
      transitions { from_any_open: true event: "lose" to: "lost" }
      transitions { from_any_open: true event: "call" }
      transitions { from_stage: "lost" to: "lead" new_cycle: true })";

inline std::shared_ptr<const Machine> FunnelMachine() {
  auto m = Machine::FromTextProto(kFunnelSpec);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

constexpr Timestamp kStart = 1767225600;  // 2026-01-01
constexpr Timestamp kDay = 86400;

// A deterministic stream of steps over the live deals: moves to any stage
// (some refused), calls, losses, an event no stage takes.
inline void Steps(Pipeline* p, uint64_t seed, int steps, Timestamp* now) {
  uint64_t x = seed;
  auto next = [&x] {
    x = x * 6364136223846793005u + 1442695040888963407u;
    return x >> 33;
  };
  for (int i = 0; i < steps; ++i) {
    *now += static_cast<Timestamp>(next() % 20000);
    const DealIndex d = static_cast<DealIndex>(next() % p->slot_count());
    if (!p->Contains(d)) continue;
    const uint64_t what = next() % 10;
    absl::StatusOr<StepResult> r;
    if (what < 6) {
      r = p->MoveTo(d, static_cast<StageId>(next() % 6), *now);
    } else if (what < 8) {
      r = p->Fire(d, "call", *now);
    } else if (what < 9) {
      r = p->Fire(d, "lose", *now);
    } else {
      r = p->Fire(d, "ghost", *now);
    }
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

inline Pipeline Worked(const std::shared_ptr<const Machine>& m, Cohort cohort, Timestamp* now) {
  PipelineOptions o;
  o.analytics.enabled = true;
  o.analytics.cohort = cohort;
  auto p = *Pipeline::Create(m, o);
  for (int d = 0; d < 300; ++d) {
    const Timestamp added = kStart + d * kDay;
    auto deal = d % 7 == 0 ? p.Add(added, StageId{1}) : p.Add(added);
    EXPECT_TRUE(deal.ok()) << deal.status();
    EXPECT_TRUE(p.Set(*deal, 0, AttributeValue::Double(1000.0 * (d % 13))).ok());
  }
  *now = kStart + 300 * kDay;
  Steps(&p, 7, 3000, now);
  for (DealIndex d : {3u, 50u, 51u, 299u}) EXPECT_TRUE(p.Remove(d).ok());
  return p;
}

}  // namespace salescycle

#endif  // SALESCYCLE_TESTS_FUNNEL_WORKLOAD_H_
