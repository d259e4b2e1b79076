// Funnel analytics against figures computed by hand on a small pipeline,
// the same through every path (Fire, Apply, history), cohorts, and the
// report's formats.
#include "salescycle/funnel.h"
#include "salescycle/render.h"
#include "salescycle/snapshot.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "salescycle/v1/funnel.pb.h"
#include "src/analytics.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const Machine> Mini() {
  auto m = Machine::FromTextProto(R"(name: "mini" version: 2 initial_stage: "lead"
      stages { id: "lead" stall_limit_seconds: 100 win_probability: 10 }
      stages { id: "demo" win_probability: 50 }
      stages { id: "won" kind: WON }
      stages { id: "lost" kind: LOST }
      events { id: "demo" } events { id: "win" } events { id: "lose" }
      events { id: "reopen" }
      attributes { name: "value" type: DOUBLE }
      attributes { name: "owner" type: STRING }
      transitions { from_stage: "lead" event: "demo" to: "demo" }
      transitions { from_stage: "demo" event: "win" to: "won" }
      transitions { from_any_open: true event: "lose" to: "lost" }
      transitions { from_stage: "lost" event: "reopen" to: "lead" })");
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

// Five deals (times in seconds):
//   d0 added 0, demo 10, win 30                       value 1000
//   d1 added 0, demo 20, lose 50                      value 500
//   d2 added 5, lose 25                               no value
//   d3 added 40, still a lead                         value 200
//   d4 added 0, lose 10, reopen 15, demo 16, win 18   value 300
struct Scenario {
  std::vector<Timestamp> added = {0, 0, 5, 40, 0};
  std::vector<double> value = {1000, 500, -1, 200, 300};
  // (deal, event, time), in time order.
  std::vector<EventRecord> events = {
      {0, 0, 10}, {4, 2, 10}, {4, 3, 15}, {4, 0, 16}, {4, 1, 18},
      {1, 0, 20}, {2, 2, 25}, {0, 1, 30}, {1, 2, 50}};
};

Pipeline Build(const PipelineOptions& options, bool batch) {
  Scenario s;
  auto p = *Pipeline::Create(Mini(), options);
  for (size_t d = 0; d < s.added.size(); ++d) {
    EXPECT_TRUE(p.Add(s.added[d]).ok());
    if (s.value[d] >= 0) {
      EXPECT_TRUE(p.Set(d, 0, AttributeValue::Double(s.value[d])).ok());
    }
  }
  if (batch) {
    EXPECT_TRUE(p.Apply(s.events).ok());
  } else {
    for (const EventRecord& r : s.events) {
      EXPECT_TRUE(p.Fire(r.deal, static_cast<EventId>(r.event), r.time).ok());
    }
  }
  return p;
}

PipelineOptions WithAnalytics(Cohort cohort = Cohort::kNone) {
  PipelineOptions o;
  o.analytics.enabled = true;
  o.analytics.cohort = cohort;
  return o;
}

void ExpectHandComputedCounts(const FunnelFigures& f) {
  ASSERT_EQ(f.stages.size(), 4u);
  const StageFunnel &lead = f.stages[0], &demo = f.stages[1],
                    &won = f.stages[2], &lost = f.stages[3];
  EXPECT_EQ(lead.entered, 5u);  // d4 came back: still one deal
  EXPECT_EQ(demo.entered, 3u);
  EXPECT_EQ(won.entered, 2u);
  EXPECT_EQ(lost.entered, 3u);
  EXPECT_EQ(lead.moved_on, 3u);
  EXPECT_EQ(demo.moved_on, 2u);
  EXPECT_EQ(lost.moved_on, 1u);  // d4's reopen
  EXPECT_EQ(lead.dropped, 2u);
  EXPECT_EQ(demo.dropped, 1u);
  // First losses by the stage left: d4 and d2 from lead (d4 won later: it
  // still counts), d1 from demo.
  EXPECT_EQ(lead.lost_from, 2u);
  EXPECT_EQ(demo.lost_from, 1u);
  EXPECT_EQ(won.lost_from + lost.lost_from, 0u);
  EXPECT_EQ(lead.now, 1u);
  EXPECT_EQ(demo.now, 0u);
  EXPECT_EQ(won.now, 2u);
  EXPECT_EQ(lost.now, 2u);
  EXPECT_EQ(lead.next_stage, 1);
  EXPECT_DOUBLE_EQ(lead.conversion_to_next, 3.0 / 5);
  EXPECT_EQ(demo.next_stage, 2);
  EXPECT_DOUBLE_EQ(demo.conversion_to_next, 2.0 / 3);
  EXPECT_EQ(won.next_stage, kNoStage);
  EXPECT_DOUBLE_EQ(lead.conversion_to_won, 2.0 / 5);
  EXPECT_DOUBLE_EQ(demo.conversion_to_won, 2.0 / 3);
  EXPECT_DOUBLE_EQ(lost.conversion_to_won, 1.0 / 3);  // d4
  EXPECT_DOUBLE_EQ(lead.drop_rate, 2.0 / 5);
  EXPECT_EQ(f.won, 2u);
  EXPECT_EQ(f.lost, 2u);  // d1 and d2; d4 was lost, then won
  EXPECT_DOUBLE_EQ(f.win_rate, 0.5);
  EXPECT_EQ(f.biggest_leak, 0);
  EXPECT_EQ(f.live_deals, 5u);
  EXPECT_EQ(f.open_deals, 1u);
}

TEST(Funnel, HandComputedFiguresOnlineThroughFireAndApply) {
  for (bool batch : {false, true}) {
    SCOPED_TRACE(batch ? "Apply" : "Fire");
    Pipeline p = Build(WithAnalytics(), batch);
    FunnelOptions o;
    o.value_attribute = "value";
    o.now = 200;
    const auto report = FunnelOf(p, o);
    ASSERT_TRUE(report.ok()) << report.status();
    const FunnelFigures& f = report->total;
    ExpectHandComputedCounts(f);
    // Cycle lengths: d0 30 s, d4 18 s (exact below 32 s): by nearest rank
    // the median is the shorter, p90 the longer.
    EXPECT_EQ(f.cycle_length.count, 2u);
    EXPECT_DOUBLE_EQ(f.cycle_length.mean_seconds, 24);
    EXPECT_EQ(f.cycle_length.median_seconds, 18);
    EXPECT_EQ(f.cycle_length.p90_seconds, 30);
    // Times to a first loss: d1 50 s, d2 20 s (added at 5), d4 10 s (it
    // won later: its loss still counts).
    EXPECT_EQ(f.time_to_loss.count, 3u);
    EXPECT_DOUBLE_EQ(f.time_to_loss.mean_seconds, 80.0 / 3);
    EXPECT_EQ(f.time_to_loss.median_seconds, 20);
    EXPECT_EQ(f.time_to_loss.p90_seconds, 50);
    EXPECT_THAT(FunnelTable(*report), HasSubstr("; lost after median 20s, p90 50s of the cycle\n"));
    EXPECT_THAT(FunnelJson(*report),
                HasSubstr("\"time_to_loss\": {\"count\": 3, \"mean_seconds\": 26.666666666666668, "
                          "\"median_seconds\": 20, \"p90_seconds\": 50}"));
    EXPECT_EQ(report->as_of, 200);
    EXPECT_EQ(f.deals, 5u);
    EXPECT_EQ(f.stages[0].stalled, 1u);  // d3: 160 s in lead, limit 100
    // Lead stays 10, 20, 20, 10, 1; demo stays 20, 30, 2; exact below 32 s.
    const DurationStats& lead = f.stages[0].time_in_stage;
    EXPECT_EQ(lead.count, 5u);
    EXPECT_DOUBLE_EQ(lead.mean_seconds, 61.0 / 5);
    EXPECT_EQ(lead.median_seconds, 10);
    EXPECT_EQ(lead.p90_seconds, 20);
    const DurationStats& demo = f.stages[1].time_in_stage;
    EXPECT_EQ(demo.count, 3u);
    EXPECT_DOUBLE_EQ(demo.mean_seconds, 52.0 / 3);
    EXPECT_EQ(demo.median_seconds, 20);
    EXPECT_EQ(demo.p90_seconds, 30);
    // Cumulative time in stage a cycle: completed stays plus the live
    // deals' current ones up to 200 (d0 in won since 30, d1 lost since 50,
    // d2 lost since 25, d3 a lead since 40, d4 won since 18), / entered:
    // lead (61 + 160) / 5; demo 52 / 3; won (170 + 182) / 2; lost (d4's
    // 5 + 150 + 175) / 3.
    EXPECT_DOUBLE_EQ(f.stages[0].mean_cumulative_seconds, 221.0 / 5);
    EXPECT_DOUBLE_EQ(f.stages[1].mean_cumulative_seconds, 52.0 / 3);
    EXPECT_DOUBLE_EQ(f.stages[2].mean_cumulative_seconds, 176);
    EXPECT_DOUBLE_EQ(f.stages[3].mean_cumulative_seconds, 110);
    // Cycles 30 (d0) and 18 (d4) seconds; values of the won: 1000 and 300.
    EXPECT_DOUBLE_EQ(f.average_cycle_days, 24.0 / 86400);
    EXPECT_DOUBLE_EQ(f.average_deal_value, 650);
    EXPECT_DOUBLE_EQ(f.weighted_pipeline, 200 * 0.10);  // d3, a lead
    EXPECT_DOUBLE_EQ(f.sales_velocity_per_day, 1 * 650 * 0.5 / (24.0 / 86400));
  }
}

// Between any two stages of the line, counted by hand: reached lead 5,
// demo 3, won 2 (as ExpectHandComputedCounts has them).
TEST(Funnel, ConversionBetweenAnyTwoStagesOfTheLine) {
  Pipeline p = Build(WithAnalytics(), true);
  const FunnelReport report = *FunnelOf(p);
  const FunnelFigures& f = report.total;
  EXPECT_EQ(FunnelLine(f), (std::vector<StageId>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(*ConversionBetween(f, 0, 1), 3.0 / 5);
  EXPECT_DOUBLE_EQ(*ConversionBetween(f, 1, 2), 2.0 / 3);
  EXPECT_DOUBLE_EQ(*ConversionBetween(f, 0, 2), 2.0 / 5);
  EXPECT_THAT(ConversionBetween(f, 2, 0).status().message(),
              HasSubstr("stage \"lead\" does not come after \"won\" on the funnel line"));
  EXPECT_THAT(ConversionBetween(f, 0, 3).status().message(),
              HasSubstr("stage \"lost\" is off the funnel line"));
  EXPECT_THAT(ConversionBetween(f, 0, 9).status().message(), HasSubstr("stage 9 of 4"));
  EXPECT_THAT(FunnelJson(report),
              HasSubstr("\"conversions\": [{\"from\": \"lead\", \"to\": \"demo\", "
                        "\"conversion\": 0.6}, {\"from\": \"lead\", \"to\": \"won\", "
                        "\"conversion\": 0.4}, {\"from\": \"demo\", \"to\": \"won\", "
                        "\"conversion\": 0.6666666666666666}]"));
}

// In order, counted by hand on lead -> demo -> won with free forward moves:
//   d0 lead, demo, won                  in order to won
//   d1 lead, won (demo skipped)         in order to lead only
//   d2 lead, demo, lead (back), demo, won   in order to won: moves back
//                                       skip nothing
//   d3 lead                             in order to lead
//   d4 lead, lost                       in order to lead
// reached: lead 5, demo 3, won 3; in order: lead 5, demo 2, won 2.
TEST(Funnel, InOrderCountsOnlyCyclesThatSkippedNothing) {
  auto m = Machine::FromTextProto(R"(name: "order" initial_stage: "lead"
      stages { id: "lead" } stages { id: "demo" }
      stages { id: "won" kind: WON } stages { id: "lost" kind: LOST } events { id: "call" }
      transitions { from_any_open: true to_any_open: true }
      transitions { from_any_open: true to_any_closed: true })");
  ASSERT_TRUE(m.ok()) << m.status();
  const StageId lead = 0, demo = 1, won = 2, lost = 3;
  std::vector<StageRecord> moves = {{0, demo, 1}, {0, won, 2}, {1, won, 1},
                                    {2, demo, 1}, {2, lead, 2}, {2, demo, 3},
                                    {2, won, 4},  {4, lost, 1}};
  auto p = *Pipeline::Create(*m, WithAnalytics());
  for (int d = 0; d < 5; ++d) ASSERT_TRUE(p.Add(0).ok());
  ASSERT_EQ(p.ApplyMoves(moves)->accepted, moves.size());
  const FunnelReport report = *FunnelOf(p);
  const FunnelFigures& f = report.total;
  EXPECT_EQ((std::vector<uint64_t>{f.stages[lead].reached, f.stages[demo].reached,
                                   f.stages[won].reached}),
            (std::vector<uint64_t>{5, 3, 3}));
  EXPECT_EQ((std::vector<uint64_t>{f.stages[lead].reached_in_order,
                                   f.stages[demo].reached_in_order,
                                   f.stages[won].reached_in_order}),
            (std::vector<uint64_t>{5, 2, 2}));
  EXPECT_DOUBLE_EQ(f.stages[lead].conversion_to_next_in_order, 2.0 / 5);
  EXPECT_DOUBLE_EQ(f.stages[demo].conversion_to_next_in_order, 1.0);
  FunnelTableOptions in_order;
  in_order.in_order = true;
  const std::string table = FunnelTable(report, in_order);
  EXPECT_THAT(table, HasSubstr("reached*"));
  EXPECT_THAT(table, HasSubstr("* in order: the cycles that went through every stage"));
  EXPECT_THAT(FunnelTable(report), Not(HasSubstr("reached*")));
  EXPECT_THAT(FunnelJson(report), HasSubstr("\"reached\": 3, \"reached_in_order\": 2,"));
  // Kept through a snapshot: d3, still in order, goes on to demo after it.
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  auto restored = *LoadPipeline(SnapshotSource::Bytes(bytes), *m);
  ASSERT_TRUE(restored.MoveTo(3, demo, 5)->moved());
  const FunnelFigures g = FunnelOf(restored)->total;
  EXPECT_EQ(g.stages[lead].reached_in_order, 5u);
  EXPECT_EQ(g.stages[demo].reached_in_order, 3u);
  EXPECT_EQ(g.stages[won].reached_in_order, 2u);
}

TEST(Funnel, AsOfDefaultsToTheLatestTime) {
  Pipeline p = Build(WithAnalytics(), true);
  const auto report = FunnelOf(p);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->as_of, 50);
  EXPECT_EQ(report->total.stages[0].stalled, 0u);  // d3: 10 s in lead
  EXPECT_EQ(report->total.average_deal_value, 0);  // no value attribute
}

TEST(Funnel, FromHistoryWithoutAnalytics) {
  PipelineOptions o;
  o.history_limit = 16;
  Pipeline p = Build(o, false);
  const auto report = FunnelOf(p);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectHandComputedCounts(report->total);
  // A history does not hold the addition: stays in the first stage start
  // at the first step, so only later stays are whole.
  EXPECT_EQ(report->total.stages[1].time_in_stage.count, 3u);
  EXPECT_DOUBLE_EQ(report->total.stages[1].time_in_stage.mean_seconds, 52.0 / 3);
  // Cycles too run from the first step: d0 10 to 30, d4 10 to 18.
  EXPECT_EQ(report->total.cycle_length.median_seconds, 8);
  EXPECT_EQ(report->total.cycle_length.p90_seconds, 20);
}

TEST(Funnel, LargeDurationsAreWithinTheHistogramsBound) {
  auto p = *Pipeline::Create(Mini(), WithAnalytics());
  // Stays in lead of 1..1000 days: median 500 days, p90 900 days.
  for (int d = 0; d < 1000; ++d) {
    ASSERT_TRUE(p.Add(0).ok());
    ASSERT_TRUE(p.Fire(d, "demo", (d + 1) * 86400LL).ok());
  }
  const auto f = FunnelOf(p)->total.stages[0].time_in_stage;
  EXPECT_DOUBLE_EQ(f.mean_seconds, 500.5 * 86400);
  EXPECT_NEAR(f.median_seconds, 500 * 86400.0, 500 * 86400.0 / 64);
  EXPECT_NEAR(f.p90_seconds, 900 * 86400.0, 900 * 86400.0 / 64);
}

// The histograms start sparse and turn dense at 64 distinct buckets: both
// forms must give the same nearest-rank quantiles, within 1/64.
TEST(Funnel, HistogramQuantilesAcrossTheSparseAndDenseForms) {
  internal::DurationHistogram h;
  std::vector<int64_t> values;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    const int64_t v = i % 5 == 0 ? static_cast<int64_t>(rng() % 40)
                                 : static_cast<int64_t>(rng() % (int64_t{1} << (rng() % 40)));
    h.Add(v);
    values.push_back(v);
    if (i % 7 != 0 && i > 200) continue;  // every step while sparse, then some
    std::vector<int64_t> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(h.count(), sorted.size());
    for (double q : {0.0, 0.1, 0.5, 0.9, 1.0}) {
      const size_t rank = std::max<size_t>(
          1, static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))));
      const double want = static_cast<double>(sorted[rank - 1]);
      EXPECT_NEAR(static_cast<double>(h.Quantile(q)), want, want / 64 + 0.5)
          << "after " << values.size() << " values, q " << q;
    }
  }
}

// One weekly cohort per deal, each deal moving through every stage: the
// counters must stay small per cohort. Dense histograms from the start
// (15 KiB each, one per stage and cohort) made an event file of deals a
// week apart cost about 140 KiB a deal.
// Without cohorts a deal keeps no cohort index: 4 bytes a deal less. Per
// deal with analytics on Mini (4 stages): added 8, visited 1, outcome 1,
// furthest 1, and the cohort 4 only with cohorts.
TEST(Funnel, ADealPaysForCohortsOnlyWithCohorts) {
  constexpr int kDeals = 1 << 16;
  size_t bytes[2];
  for (Cohort cohort : {Cohort::kNone, Cohort::kMonth}) {
    PipelineOptions o = WithAnalytics(cohort);
    o.expected_deals = kDeals;
    auto p = *Pipeline::Create(Mini(), o);
    for (int d = 0; d < kDeals; ++d) ASSERT_TRUE(p.Add(0).ok());
    bytes[cohort == Cohort::kNone ? 0 : 1] = p.MemoryUsage();
  }
  const double difference = static_cast<double>(bytes[1] - bytes[0]) / kDeals;
  EXPECT_GE(difference, 4.0);
  EXPECT_LT(difference, 9.0);  // the index, and at most its vector's slack
}

// Addition times are kept in 32 bits from the first one: a deal added
// further away than that (68 years) is kept apart, and counts the same.
TEST(Funnel, DealsAddedFarApartKeepTheirAdditionTimes) {
  constexpr Timestamp kFar = 3'000'000'000;  // 95 years on
  for (Timestamp first : {Timestamp{0}, kFar}) {
    auto p = *Pipeline::Create(Mini(), WithAnalytics());
    ASSERT_TRUE(p.Add(first).ok());
    ASSERT_TRUE(p.Add(kFar - first).ok());  // the other end
    ASSERT_TRUE(p.Fire(0, "demo", first + 10).ok());
    ASSERT_TRUE(p.Fire(0, "win", first + 40).ok());
    ASSERT_TRUE(p.Fire(1, "demo", kFar - first + 5).ok());
    ASSERT_TRUE(p.Fire(1, "win", kFar - first + 25).ok());
    std::string bytes;
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
    Pipeline restored = *LoadPipeline(SnapshotSource::Bytes(bytes), Mini());
    for (Pipeline* q : {&p, &restored}) {
      const FunnelFigures f = FunnelOf(*q)->total;
      EXPECT_EQ(f.cycle_length.count, 2u);
      EXPECT_DOUBLE_EQ(f.cycle_length.mean_seconds, 32.5);  // 40 and 25 s
    }
  }
}

// Analytics' cost a deal, past its fixed part (the pipeline-wide dense
// histograms and tables): 4 bytes of addition time and 4 of marks
// (visited stages, furthest position, outcome), with the expected deals
// reserved (no growth slack). The issue's budget is 8.
TEST(Funnel, AnalyticsCostEightBytesADeal) {
  auto extra = [](size_t deals) {
    size_t bytes[2];
    for (bool on : {false, true}) {
      PipelineOptions o = on ? WithAnalytics() : PipelineOptions();
      o.expected_deals = deals;
      auto p = *Pipeline::Create(Mini(), o);
      for (size_t d = 0; d < deals; ++d) EXPECT_TRUE(p.Add(static_cast<Timestamp>(d)).ok());
      bytes[on] = p.MemoryUsage();
    }
    return bytes[1] - bytes[0];
  };
  EXPECT_EQ(extra(1 << 17) - extra(1 << 16), 8u << 16);
}

// Times at the ends of int64 (issue 15: stays, cycle lengths and week
// starts overflowed signed arithmetic there, undefined behaviour that the
// sanitizer build catches): every figure is computed, stays past int64 are
// counted at the histogram's top, nothing wraps.
TEST(Funnel, TimesAtTheEndsOfInt64) {
  constexpr Timestamp kMin = std::numeric_limits<Timestamp>::min();
  constexpr Timestamp kMax = std::numeric_limits<Timestamp>::max();
  for (Cohort cohort : {Cohort::kNone, Cohort::kWeek, Cohort::kMonth, Cohort::kQuarter}) {
    SCOPED_TRACE(static_cast<int>(cohort));
    auto p = *Pipeline::Create(Mini(), WithAnalytics(cohort));
    ASSERT_TRUE(p.Add(kMin).ok());
    ASSERT_TRUE(p.Add(kMax).ok());
    ASSERT_TRUE(p.Fire(0, "demo", kMax).ok());
    ASSERT_TRUE(p.Fire(0, "win", kMax).ok());
    ASSERT_TRUE(p.Fire(1, "lose", kMin).ok());
    ASSERT_TRUE(p.Apply(std::vector<EventRecord>{{1, 3, kMax}, {1, 0, kMin}}).ok());
    FunnelOptions o;
    o.now = kMax;
    const auto report = FunnelOf(p, o);
    ASSERT_TRUE(report.ok()) << report.status();
    const FunnelFigures& f = report->total;
    EXPECT_EQ(f.won, 1u);
    EXPECT_EQ(f.stages[0].time_in_stage.count, 3u);  // d0's lead, d1's twice
    EXPECT_GT(f.cycle_length.mean_seconds, 1e19);   // INT64_MAX - INT64_MIN
    EXPECT_FALSE(FunnelTable(*report).empty());
    std::string bytes;
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
    ASSERT_TRUE(LoadPipeline(SnapshotSource::Bytes(bytes), Mini()).ok());
  }
}

TEST(Funnel, CohortsOfFewDealsCostLittle) {
  constexpr int kDeals = 5000;
  constexpr Timestamp kWeek = 7 * 86400;
  auto p = *Pipeline::Create(Mini(), WithAnalytics(Cohort::kWeek));
  const size_t empty = p.MemoryUsage();
  for (int d = 0; d < kDeals; ++d) {
    const Timestamp t = d * kWeek;
    ASSERT_TRUE(p.Add(t).ok());
    ASSERT_TRUE(p.Fire(d, "lose", t + 100).ok());
    ASSERT_TRUE(p.Fire(d, "reopen", t + 200).ok());
    ASSERT_TRUE(p.Fire(d, "demo", t + 300).ok());
    ASSERT_TRUE(p.Fire(d, "win", t + 400).ok());
  }
  const auto report = FunnelOf(p);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->cohorts.size(), static_cast<size_t>(kDeals));
  // Demo to won took 100 s: the bucket's middle, within 1/64.
  EXPECT_NEAR(report->cohorts[17].figures.stages[1].time_in_stage.median_seconds,
              100, 100.0 / 64);
  const double per_deal = static_cast<double>(p.MemoryUsage() - empty) / kDeals;
  EXPECT_LT(per_deal, 2048) << per_deal << " bytes a deal";
}

TEST(Funnel, WeeklyAndMonthlyCohorts) {
  constexpr Timestamp kMonday5Jan2026 = 1767571200;  // ISO week 2026-W02
  for (Cohort cohort : {Cohort::kWeek, Cohort::kMonth}) {
    auto p = *Pipeline::Create(Mini(), WithAnalytics(cohort));
    // Three deals in the first week, one a week later, one in February.
    const Timestamp added[] = {kMonday5Jan2026, kMonday5Jan2026 + 86400 * 6,
                               kMonday5Jan2026 + 3600, kMonday5Jan2026 + 86400 * 7,
                               kMonday5Jan2026 + 86400 * 30};
    for (Timestamp t : added) ASSERT_TRUE(p.Add(t).ok());
    ASSERT_TRUE(p.Fire(0, "demo", added[4] + 10).ok());
    ASSERT_TRUE(p.Fire(0, "win", added[4] + 20).ok());
    ASSERT_TRUE(p.Fire(3, "lose", added[4] + 30).ok());
    const auto report = FunnelOf(p);
    ASSERT_TRUE(report.ok());
    std::vector<std::string> labels;
    std::vector<uint64_t> deals, won, lost;
    for (const FunnelCohort& c : report->cohorts) {
      labels.push_back(c.label);
      deals.push_back(c.figures.deals);
      won.push_back(c.figures.won);
      lost.push_back(c.figures.lost);
    }
    if (cohort == Cohort::kWeek) {
      EXPECT_THAT(labels, ::testing::ElementsAre("2026-W02", "2026-W03", "2026-W06"));
      EXPECT_THAT(deals, ::testing::ElementsAre(3, 1, 1));
      EXPECT_THAT(won, ::testing::ElementsAre(1, 0, 0));
      EXPECT_THAT(lost, ::testing::ElementsAre(0, 1, 0));
      EXPECT_EQ(report->cohorts[0].start, kMonday5Jan2026);
    } else {
      EXPECT_THAT(labels, ::testing::ElementsAre("2026-01", "2026-02"));
      EXPECT_THAT(deals, ::testing::ElementsAre(4, 1));
    }
    EXPECT_EQ(report->total.deals, 5u);
  }
}

// Calendar quarters, by hand: 2026-03-31T23:59:59Z is the last second of
// Q1, 2026-04-01T00:00:00Z the first of Q2; 2025-12-31 is 2025-Q4.
TEST(Funnel, QuarterlyCohorts) {
  constexpr Timestamp kApr1 = 1775001600;  // 2026-04-01T00:00:00Z
  constexpr Timestamp kJan1 = 1767225600;  // 2026-01-01T00:00:00Z
  auto p = *Pipeline::Create(Mini(), WithAnalytics(Cohort::kQuarter));
  for (Timestamp t : {kApr1 - 1, kApr1, kJan1 - 1, kJan1 + 86400 * 40, kApr1 + 86400 * 91}) {
    ASSERT_TRUE(p.Add(t).ok());
  }
  const auto report = FunnelOf(p);
  ASSERT_TRUE(report.ok());
  std::vector<std::string> labels;
  std::vector<uint64_t> deals;
  std::vector<Timestamp> starts;
  for (const FunnelCohort& c : report->cohorts) {
    labels.push_back(c.label);
    deals.push_back(c.figures.deals);
    starts.push_back(c.start);
  }
  EXPECT_THAT(labels, ::testing::ElementsAre("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"));
  EXPECT_THAT(deals, ::testing::ElementsAre(1, 2, 1, 1));
  EXPECT_THAT(starts, ::testing::ElementsAre(1759276800, kJan1, kApr1, 1782864000));
}

TEST(Funnel, Formats) {
  Pipeline p = Build(WithAnalytics(Cohort::kMonth), true);
  FunnelOptions o;
  o.value_attribute = "value";
  const FunnelReport report = *FunnelOf(p, o);

  const std::string table = FunnelTable(report);
  EXPECT_THAT(table, HasSubstr("mini v2 funnel as of 1970-01-01: 5 deals"));
  EXPECT_THAT(table, HasSubstr("win rate 50.0% (2 won, 2 lost)"));
  // lead: 3 of 5 reached demo (60%); demo: 2 of 3 reached won (66.7%).
  EXPECT_THAT(table, HasSubstr("biggest leak: lead (60.0% reached demo: 2 of 5 did not)"));
  EXPECT_THAT(table, HasSubstr("1970-01"));

  v1::FunnelReport parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(FunnelJson(report), &parsed).ok());
  EXPECT_EQ(parsed.total().biggest_leak(), "lead");
  EXPECT_EQ(parsed.total().stages(1).entered(), 3u);
  EXPECT_EQ(parsed.total().stages(0).next_stage(), "demo");
  EXPECT_EQ(parsed.total().cycle_length().median_seconds(), 18);
  EXPECT_THAT(table, HasSubstr("average cycle 0.0 days (median 18s, p90 30s)"));
  v1::FunnelReport from_bytes;
  ASSERT_TRUE(from_bytes.ParseFromString(FunnelProtoBytes(report)));
  EXPECT_EQ(from_bytes.SerializeAsString(), parsed.SerializeAsString());

  const std::vector<std::string> lines =
      absl::StrSplit(FunnelCsv(report), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + 4 + 4);  // header, all, one cohort
  EXPECT_THAT(lines[0], HasSubstr("cohort,stage,kind,entered"));
  EXPECT_EQ(lines[1].substr(0, 20), "all,lead,open,5,3,2,");
  EXPECT_THAT(lines[5], HasSubstr("1970-01,lead,open,5,"));
}

// Found by the fuzzer: a deal entered at the far past overflowed the stay
// that decides "stalled" (undefined behaviour). It is stalled, as any deal
// past its stage's limit.
TEST(Funnel, StalledAcrossTheWholeTimeRange) {
  auto m = LoadTemplate("b2b.textproto");
  PipelineOptions options;
  options.analytics.enabled = true;
  auto p = *Pipeline::Create(m, options);
  ASSERT_TRUE(p.Add(std::numeric_limits<Timestamp>::min()).ok());
  ASSERT_TRUE(p.Add(1767404839).ok());
  FunnelOptions o;
  o.now = 1767404839;
  const auto report = FunnelOf(p, o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->total.stages[m->initial_stage()].stalled, 1u);
}

TEST(Funnel, Errors) {
  auto plain = *Pipeline::Create(Mini());
  EXPECT_EQ(FunnelOf(plain).status().code(), absl::StatusCode::kFailedPrecondition);
  Pipeline p = Build(WithAnalytics(), true);
  FunnelOptions o;
  o.value_attribute = "owner";
  const auto wrong = FunnelOf(p, o);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("\"owner\" is string"));
  o.value_attribute = "nope";
  EXPECT_EQ(FunnelOf(p, o).status().code(), absl::StatusCode::kNotFound);
}

TEST(Funnel, ParallelApplyFallsBackAndCountsTheSame) {
  auto m = LoadTemplate("cycle9.textproto");
  std::vector<EventRecord> records;
  for (int64_t i = 0; i < 300000; ++i) {
    records.push_back({static_cast<DealIndex>((i * 7919) % 100000),
                       static_cast<uint32_t>(i % 12), i});
  }
  auto run = [&](bool parallel) {
    auto p = *Pipeline::Create(m, WithAnalytics());
    for (int d = 0; d < 100000; ++d) EXPECT_TRUE(p.Add(0).ok());
    EXPECT_TRUE((parallel ? p.ApplyParallel(records, 2) : p.Apply(records)).ok());
    return FunnelCsv(*FunnelOf(p));
  };
  EXPECT_EQ(run(true), run(false));
}

}  // namespace
}  // namespace salescycle

namespace salescycle {
namespace {

// Rejections and activities, counted by hand. A machine with a guard, a
// required attribute, an activity and a move by stage:
//   lead --qualify [score >= 5]--> qualified (requires owner) --win--> won
//   any open --lose--> lost; any open: call is an activity.
std::shared_ptr<const Machine> Strict() {
  auto m = Machine::FromTextProto(R"(name: "strict" initial_stage: "lead"
      stages { id: "lead" } stages { id: "qualified" required_attributes: "owner" }
      stages { id: "won" kind: WON } stages { id: "lost" kind: LOST }
      events { id: "qualify" } events { id: "win" } events { id: "lose" }
      events { id: "call" }
      attributes { name: "score" type: INT64 } attributes { name: "owner" type: STRING }
      transitions { from_stage: "lead" event: "qualify" to: "qualified"
        guard { compare { attribute: "score" op: GE value { int64_value: 5 } } } }
      transitions { from_stage: "qualified" event: "win" to: "won" }
      transitions { from_any_open: true event: "lose" to: "lost" }
      transitions { from_any_open: true event: "call" })");
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

// Three deals: d0 scores 9 but has no owner, d1 scores 1, d2 has both.
//   d0 qualify (missing owner), call, win (no transition), qualify again
//      (missing owner)                        3 rejected, 1 activity
//   d1 qualify (guard failed), lose           1 rejected, 1 move
//   d2 call, qualify, call, win               0 rejected, 2 moves, 2 calls
//   d1 (now lost) call: no transition         1 rejected
// Accepted: 3 moves + 3 activities = 6; rejected 5.
std::vector<EventRecord> StrictEvents() {
  return {{0, 0, 1}, {0, 3, 2}, {0, 1, 3}, {1, 0, 4}, {1, 2, 5}, {2, 3, 6},
          {2, 0, 7}, {2, 3, 8}, {2, 1, 9}, {0, 0, 10}, {1, 3, 11}};
}

Pipeline StrictPipeline(const PipelineOptions& options, int path) {
  auto m = Strict();
  auto p = *Pipeline::Create(m, options);
  for (int d = 0; d < 3; ++d) EXPECT_TRUE(p.Add(0).ok());
  EXPECT_TRUE(p.Set(0, 0, AttributeValue::Int64(9)).ok());
  EXPECT_TRUE(p.Set(1, 0, AttributeValue::Int64(1)).ok());
  EXPECT_TRUE(p.Set(2, 0, AttributeValue::Int64(7)).ok());
  EXPECT_TRUE(p.Set(2, 1, AttributeValue::String("ana")).ok());
  const auto events = StrictEvents();
  if (path == 0) {
    EXPECT_TRUE(p.Apply(events).ok());
  } else if (path == 2) {
    // Two batches: the first's counts are folded before the second starts.
    const absl::Span<const EventRecord> all(events);
    EXPECT_TRUE(p.Apply(all.subspan(0, 5)).ok());
    EXPECT_TRUE(p.Apply(all.subspan(5)).ok());
  } else {
    for (const EventRecord& r : events) {
      EXPECT_TRUE(p.Fire(r.deal, static_cast<EventId>(r.event), r.time).ok());
    }
  }
  return p;
}

TEST(FunnelRejections, CountedByStageEventAndReasonThroughEveryPath) {
  PipelineOptions history;
  history.history_limit = 32;
  // Batch, two batches and one by one with analytics, with and without
  // cohorts (the batch loop counts unmatched steps apart from the others
  // without them); from history without analytics.
  std::vector<FunnelReport> reports;
  for (Cohort cohort : {Cohort::kNone, Cohort::kMonth}) {
    for (int path : {0, 2, 1}) {
      reports.push_back(*FunnelOf(StrictPipeline(WithAnalytics(cohort), path)));
    }
  }
  reports.push_back(*FunnelOf(StrictPipeline(history, 1)));
  for (const FunnelReport& r : reports) {
    const FunnelFigures& f = r.total;
    EXPECT_EQ(f.accepted_steps, 6u);
    EXPECT_EQ(f.rejected_steps, 5u);
    ASSERT_EQ(f.rejections.size(), 4u);
    // Most frequent first; ties in (stage, event, target, outcome) order.
    EXPECT_EQ(f.rejections[0].stage, "lead");
    EXPECT_EQ(f.rejections[0].event, "qualify");
    EXPECT_EQ(f.rejections[0].outcome, Outcome::kMissingAttribute);
    EXPECT_EQ(f.rejections[0].count, 2u);
    EXPECT_EQ(f.rejections[1].event, "qualify");
    EXPECT_EQ(f.rejections[1].outcome, Outcome::kGuardFailed);
    EXPECT_EQ(f.rejections[2].event, "win");
    EXPECT_EQ(f.rejections[2].outcome, Outcome::kNoTransition);
    EXPECT_EQ(f.rejections[3].stage, "lost");
    EXPECT_EQ(f.rejections[3].event, "call");
    EXPECT_EQ(f.stages[0].rejected, 4u);  // lead
    EXPECT_EQ(f.stages[3].rejected, 1u);  // lost
    EXPECT_EQ(f.stages[0].activities, 2u);  // d0's call and d2's first
    EXPECT_EQ(f.stages[1].activities, 1u);  // d2's second, in qualified
    // d2 won after 2 calls; d1 was lost after none.
    EXPECT_DOUBLE_EQ(f.activities_per_won_cycle, 2.0);
    EXPECT_DOUBLE_EQ(f.activities_per_lost_cycle, 0.0);
  }
  EXPECT_THAT(FunnelTable(reports[0]),
              HasSubstr("activities: 3 (lead 2, qualified 1); 2.0 a won cycle by its win, "
                        "0.0 a lost one by its loss\n"));
  const std::string table = FunnelTable(reports[0]);
  EXPECT_THAT(table, HasSubstr("rejected: 5 of 11 steps (45.5%)"));
  EXPECT_THAT(table, HasSubstr("lead                   qualify                      "
                               "missing_attribute             2"));
  EXPECT_THAT(FunnelJson(reports[0]),
              HasSubstr("\"rejections\": [{\"stage\": \"lead\", \"event\": \"qualify\", "
                        "\"target\": \"\", \"outcome\": \"missing_attribute\", "
                        "\"count\": 2}"));
  EXPECT_THAT(FunnelCsv(reports[0]), HasSubstr("all,lead,open,3,"));
}

// A machine of more stages than a deal's marks word holds (16): the visited
// bits of stages 16 on live apart, and count the same. 18 open stages s0 to
// s17 in a row, then won and lost (20 stages).
//   d0: s0 .. s17, back to s16, s17 again, won
//   d1: s0 .. s17, lost
// s16 and s17: entered 2 each, re-entered 1 each (d0); won entered 1; s17
// lost from 1; conversion to won 1/2 from each open stage; win rate 1/2.
TEST(Funnel, MachinesPastSixteenStagesCountVisitsAboveThem) {
  std::string spec = R"(name: "long" initial_stage: "s0" entry_stages: "s0"
      events { id: "next" } events { id: "back" } events { id: "lose" }
      transitions { from_stage: "s17" event: "back" to: "s16" }
      transitions { from_any_open: true event: "lose" to: "lost" }
      transitions { from_stage: "s17" event: "next" to: "won" })";
  for (int i = 0; i < 18; ++i) {
    absl::StrAppend(&spec, " stages { id: \"s", i, "\" }");
    if (i < 17) {
      absl::StrAppend(&spec, " transitions { from_stage: \"s", i,
                      "\" event: \"next\" to: \"s", i + 1, "\" }");
    }
  }
  absl::StrAppend(&spec, R"( stages { id: "won" kind: WON } stages { id: "lost" kind: LOST })");
  auto m = Machine::FromTextProto(spec);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<EventRecord> events;
  Timestamp t = 0;
  for (DealIndex d : {0u, 1u}) {
    for (int i = 0; i < 17; ++i) events.push_back({d, 0, ++t});
  }
  for (uint32_t e : {1u, 0u, 0u}) events.push_back({0, e, ++t});
  events.push_back({1, 2, ++t});
  std::vector<std::string> saved;
  for (bool batch : {true, false}) {
    auto p = *Pipeline::Create(*m, WithAnalytics());
    ASSERT_TRUE(p.Add(0).ok());
    ASSERT_TRUE(p.Add(0).ok());
    if (batch) {
      ASSERT_TRUE(p.Apply(events).ok());
    } else {
      for (const EventRecord& r : events) {
        ASSERT_TRUE(p.Fire(r.deal, static_cast<EventId>(r.event), r.time).ok());
      }
    }
    const FunnelFigures f = FunnelOf(p)->total;
    for (int s : {16, 17}) {
      EXPECT_EQ(f.stages[s].entered, 2u) << s;
      EXPECT_EQ(f.stages[s].reentries, 1u) << s;
    }
    EXPECT_EQ(f.stages[15].reentries, 0u);
    EXPECT_EQ(f.stages[18].entered, 1u);  // won
    EXPECT_EQ(f.stages[17].lost_from, 1u);
    for (int s : {0, 15, 16, 17}) EXPECT_DOUBLE_EQ(f.stages[s].conversion_to_won, 0.5) << s;
    EXPECT_DOUBLE_EQ(f.win_rate, 0.5);
    // The visited bits past the marks word survive a snapshot.
    std::string bytes;
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
    auto restored = LoadPipeline(SnapshotSource::Bytes(bytes), *m);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(FunnelJson(*FunnelOf(*restored)), FunnelJson(*FunnelOf(p)));
    saved.push_back(bytes);
  }
  EXPECT_EQ(saved[0], saved[1]);
}

// A deal's activities so far are kept in snapshots: three calls, two of
// them before a restore, then a win: 3 a won cycle.
TEST(FunnelActivities, ACyclesActivitiesSurviveARestore) {
  auto p = *Pipeline::Create(Strict(), WithAnalytics());
  ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Set(0, 0, AttributeValue::Int64(9)).ok());
  ASSERT_TRUE(p.Set(0, 1, AttributeValue::String("ana")).ok());
  ASSERT_EQ(p.Fire(0, "call", 1)->outcome, Outcome::kActivity);
  ASSERT_EQ(p.Fire(0, "call", 2)->outcome, Outcome::kActivity);
  ASSERT_EQ(p.Fire(1, "call", 2)->outcome, Outcome::kActivity);
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  auto restored = *LoadPipeline(SnapshotSource::Bytes(bytes), Strict());
  ASSERT_EQ(restored.Fire(0, "call", 3)->outcome, Outcome::kActivity);
  ASSERT_TRUE(restored.Fire(0, "qualify", 4)->moved());
  ASSERT_TRUE(restored.Fire(0, "win", 5)->moved());
  ASSERT_TRUE(restored.Fire(1, "lose", 5)->moved());
  const FunnelFigures f = FunnelOf(restored)->total;
  EXPECT_DOUBLE_EQ(f.activities_per_won_cycle, 3.0);
  EXPECT_DOUBLE_EQ(f.activities_per_lost_cycle, 1.0);
}

TEST(FunnelRejections, MovesByStageAndRemovedDealsAreCountedToo) {
  auto m = Strict();
  auto p = *Pipeline::Create(m, WithAnalytics());
  ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.MoveTo(0, "won", 1).ok());  // no transition lead -> won
  ASSERT_TRUE(p.Remove(1).ok());
  ASSERT_TRUE(p.Apply(std::vector<EventRecord>{{1, 2, 2}}).ok());  // removed
  const FunnelFigures f = FunnelOf(p)->total;
  ASSERT_EQ(f.rejections.size(), 2u);
  EXPECT_EQ(f.rejections[0].target, "won");
  EXPECT_EQ(f.rejections[0].event, "");
  EXPECT_EQ(f.rejections[1].outcome, Outcome::kNoDeal);
  EXPECT_EQ(f.rejections[1].stage, "");
  EXPECT_THAT(FunnelTable(*FunnelOf(p)), HasSubstr("move to won"));
  EXPECT_THAT(FunnelTable(*FunnelOf(p)), HasSubstr("(removed deal)"));
}

TEST(FunnelTable, NothingWonShowsNoCycleAndWholeNames) {
  auto m = Machine::FromTextProto(R"(name: "n" initial_stage: "a"
      stages { id: "a" display_name: "A stage with a name much longer than 22" }
      stages { id: "w" kind: WON } events { id: "go" }
      transitions { from_stage: "a" event: "go" to: "w" })");
  ASSERT_TRUE(m.ok());
  auto p = *Pipeline::Create(*m, WithAnalytics());
  for (int i = 0; i < 1234; ++i) ASSERT_TRUE(p.Add(0).ok());
  const std::string table = FunnelTable(*FunnelOf(p));
  EXPECT_THAT(table, HasSubstr("win rate - (0 won, 0 lost) | average cycle - |"));
  EXPECT_THAT(table, HasSubstr("A stage with a name much longer than 22     1,234"));
  EXPECT_THAT(table, HasSubstr("1,234 deals, 1,234 live, 1,234 open"));
  // No value attribute named: no value figures, rather than zeros.
  EXPECT_THAT(table, HasSubstr("| sales velocity - | weighted pipeline - |"));
  EXPECT_THAT(table, HasSubstr("need deal values: name their attribute"));
}

// Counted by hand. January: d0 (2,000,000) won after 10 days, d1
// (1,000,000) open at 50%, d2 (3) lost; February: d3 (500) open.
//   weighted pipeline: 1,000,000 x 50% + 500 x 50% = 500,250
//   sales velocity: 2 open x 2,000,000 (average won value) x 50% (1 won,
//   1 lost) / 10 days = 200,000/day
//   January: 3 deals, 1 open, 1 won, 1 lost, 50.0%, 10.0d, 500,000;
//   February: 1 deal, 1 open, nothing closed: win rate and cycle "-".
TEST(FunnelTable, ValueFiguresAndCohortsWithTheirOpenDeals) {
  auto m = Machine::FromTextProto(R"(name: "v" initial_stage: "a"
      stages { id: "a" win_probability: 50 } stages { id: "w" kind: WON }
      stages { id: "l" kind: LOST } events { id: "go" } events { id: "drop" }
      attributes { name: "value" type: DOUBLE }
      transitions { from_stage: "a" event: "go" to: "w" }
      transitions { from_stage: "a" event: "drop" to: "l" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto p = *Pipeline::Create(*m, WithAnalytics(Cohort::kMonth));
  constexpr Timestamp kJan1 = 1767225600, kDay = 86400;
  const double values[] = {2000000, 1000000, 3, 500};
  const Timestamp added[] = {kJan1, kJan1 + kDay, kJan1 + 2 * kDay, kJan1 + 31 * kDay};
  for (int d = 0; d < 4; ++d) {
    ASSERT_TRUE(p.Add(added[d]).ok());
    ASSERT_TRUE(p.Set(d, 0, AttributeValue::Double(values[d])).ok());
  }
  ASSERT_TRUE(p.Fire(0, "go", kJan1 + 10 * kDay).ok());
  ASSERT_TRUE(p.Fire(2, "drop", kJan1 + 3 * kDay).ok());
  FunnelOptions o;
  o.value_attribute = "value";
  const std::string table = FunnelTable(*FunnelOf(p, o));
  EXPECT_THAT(table, HasSubstr("| sales velocity 200,000/day | weighted pipeline 500,250 |"));
  EXPECT_THAT(table, Not(HasSubstr("need deal values")));
  EXPECT_THAT(table, HasSubstr(
      "cohort         deals      open       won      lost  win rate      cycle       weighted\n"
      "2026-01            3         1         1         1     50.0%      10.0d        500,000\n"
      "2026-02            1         1         0         0         -          -            250\n"));
  // A window on creation time: January's deals only (3: d0 won, d1 open at
  // 50% of 1,000,000, d2 lost), and January's cohort row alone.
  o.created_from = kJan1;
  o.created_to = kJan1 + 31 * kDay;
  const FunnelReport january = *FunnelOf(p, o);
  EXPECT_EQ(january.total.deals, 3u);
  EXPECT_EQ(january.total.open_deals, 1u);
  EXPECT_EQ(january.total.won, 1u);
  EXPECT_EQ(january.total.lost, 1u);
  EXPECT_DOUBLE_EQ(january.total.weighted_pipeline, 500000);
  ASSERT_EQ(january.cohorts.size(), 1u);
  EXPECT_EQ(january.cohorts[0].label, "2026-01");
  EXPECT_TRUE(january.closes.empty());  // closes count every deal: left out
  EXPECT_THAT(FunnelTable(january),
              HasSubstr("funnel as of 2026-02-01: 3 deals added from 2026-01-01 to 2026-01-31, "
                        "3 live, 1 open"));
  EXPECT_THAT(FunnelJson(january), HasSubstr("\"created_from\": 1767225600, "
                                             "\"created_to\": 1769904000"));
  o.created_to = kJan1 + 30 * kDay;
  EXPECT_THAT(FunnelOf(p, o).status().message(),
              HasSubstr("created_to 2026-01-31 00:00:00 UTC does not start a month"));
  auto plain = *Pipeline::Create(*m, WithAnalytics());
  o.created_to = kJan1 + 31 * kDay;
  EXPECT_THAT(FunnelOf(plain, o).status().message(),
              HasSubstr("a window on creation time needs cohorts"));
}

TEST(FunnelCsv, FieldsAreQuotedAsRfc4180Says) {
  auto m = Machine::FromTextProto(R"(name: "q" initial_stage: "new lead, \"EMEA\""
      stages { id: "new lead, \"EMEA\"" } stages { id: "w" kind: WON } events { id: "go" }
      transitions { from_stage: "new lead, \"EMEA\"" event: "go" to: "w" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto p = *Pipeline::Create(*m, WithAnalytics());
  ASSERT_TRUE(p.Add(0).ok());
  const std::string csv = FunnelCsv(*FunnelOf(p));
  EXPECT_THAT(csv, HasSubstr("\r\nall,\"new lead, \"\"EMEA\"\"\",open,1,"));
}

}  // namespace
}  // namespace salescycle

namespace salescycle {
namespace {

// Reach, counted by hand. Line: lead, demo, proposal, won.
//   d0 lead -> proposal (skips demo) -> won        furthest won
//   d1 lead -> demo -> lead (back) -> lost         furthest demo
//   d2 lead -> demo -> proposal -> demo (back)     furthest proposal
//   d3 created in demo -> lost                     furthest demo
//   d4 lead                                        furthest lead
// reached: lead 5, demo 4, proposal 2, won 1; to next 80%, 50%, 50%
// (entries would say demo 3 / lead 4 = 75%, proposal 2 / demo 3 = 66.7%).
TEST(FunnelReach, SkipsCountAsPassedAndBackMovesTakeNothingAway) {
  auto m = Machine::FromTextProto(R"(name: "reach" initial_stage: "lead"
      entry_stages: "demo"
      stages { id: "lead" } stages { id: "demo" } stages { id: "proposal" }
      stages { id: "won" kind: WON } stages { id: "lost" kind: LOST }
      events { id: "e" }
      transitions { from_any_open: true to_any_open: true }
      transitions { from_any_open: true to_any_closed: true })");
  ASSERT_TRUE(m.ok()) << m.status();
  const StageId lead = 0, demo = 1, proposal = 2, won = 3, lost = 4;
  PipelineOptions history;
  history.history_limit = 8;
  for (const PipelineOptions& options : {WithAnalytics(), history}) {
    auto p = *Pipeline::Create(*m, options);
    for (int d = 0; d < 5; ++d) ASSERT_TRUE(p.Add(0, d == 3 ? demo : lead).ok());
    const std::vector<StageRecord> moves = {
        {0, proposal, 1}, {0, won, 2}, {1, demo, 1}, {1, lead, 2}, {1, lost, 3},
        {2, demo, 1}, {2, proposal, 2}, {2, demo, 3}, {3, lost, 1}};
    auto r = p.ApplyMoves(moves);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->accepted, moves.size());
    const FunnelFigures f = FunnelOf(p)->total;
    EXPECT_EQ(f.stages[lead].reached, 5u);
    EXPECT_EQ(f.stages[demo].reached, 4u);
    EXPECT_EQ(f.stages[proposal].reached, 2u);
    EXPECT_EQ(f.stages[won].reached, 1u);
    EXPECT_EQ(f.stages[lost].reached, 0u);  // off the line
    EXPECT_EQ(f.stages[lead].next_stage, demo);
    EXPECT_DOUBLE_EQ(f.stages[lead].conversion_to_next, 0.8);
    EXPECT_DOUBLE_EQ(f.stages[demo].conversion_to_next, 0.5);
    EXPECT_DOUBLE_EQ(f.stages[proposal].conversion_to_next, 0.5);
    EXPECT_DOUBLE_EQ(f.stages[lead].conversion_to_won, 0.2);
    EXPECT_DOUBLE_EQ(f.stages[demo].conversion_to_won, 0.25);
    EXPECT_DOUBLE_EQ(f.stages[won].conversion_to_won, 1.0);
    // demo and proposal both convert 50%: demo, where 2 stopped (1 at
    // proposal), is the biggest leak.
    EXPECT_EQ(f.biggest_leak, demo);
    EXPECT_EQ(f.stages[demo].entered, 3u);  // entries are still entries
    // The drop-off, split: d1 and d3 lost with demo their furthest, d2
    // still open with proposal its furthest (though back in demo), d4 open
    // at lead.
    EXPECT_EQ(f.stages[demo].stopped_lost, 2u);
    EXPECT_EQ(f.stages[proposal].stopped_open, 1u);
    EXPECT_EQ(f.stages[lead].stopped_open, 1u);
    EXPECT_EQ(f.stages[lead].stopped_lost + f.stages[proposal].stopped_lost, 0u);
  }
}

// Flow, counted by hand, in moves. Line: lead, demo, proposal, won;
// nurture is a side stage, lost is LOST. All five deals start in lead.
//   d0 lead -> demo -> proposal -> demo -> proposal -> won
//   d1 lead -> nurture -> demo -> lost -> lead (reactivated)
//   d2 lead -> proposal -> lost
//   d3 lead -> demo -> lead
//   d4 lead
// Pairs: lead>demo 2, lead>proposal 1, lead>nurture 1, demo>lead 1,
// demo>proposal 2, demo>lost 1, proposal>demo 1, proposal>won 1,
// proposal>lost 1, nurture>demo 1, lost>lead 1: 13 moves.
//   exits     forward back lost side   in  re-entries
//   lead          3     0    0    1     2      2 (d1, d3 back)
//   demo          2     1    1    0     4      1 (d0's second visit)
//   proposal      1     1    1    0     3      1 (d0's second visit)
//   nurture       0     1    0    0     1      0 (back onto the line)
//   lost          0     1    0    0     2      0
TEST(FunnelFlow, MovesInAndExitsByDestination) {
  auto m = Machine::FromTextProto(R"(name: "flow" initial_stage: "lead"
      stages { id: "lead" } stages { id: "demo" } stages { id: "proposal" }
      stages { id: "won" kind: WON } stages { id: "nurture" side_stage: true }
      stages { id: "lost" kind: LOST }
      events { id: "e" }
      transitions { from_any_open: true to_any_open: true }
      transitions { from_any_open: true to_any_closed: true }
      transitions { from_stage: "lost" to: "lead" })");
  ASSERT_TRUE(m.ok()) << m.status();
  const StageId lead = 0, demo = 1, proposal = 2, won = 3, nurture = 4, lost = 5;
  PipelineOptions history;
  history.history_limit = 8;
  for (const PipelineOptions& options : {WithAnalytics(), history}) {
    auto p = *Pipeline::Create(*m, options);
    for (int d = 0; d < 5; ++d) ASSERT_TRUE(p.Add(0).ok());
    const std::vector<StageRecord> moves = {
        {0, demo, 1},    {0, proposal, 2}, {0, demo, 3},     {0, proposal, 4},
        {0, won, 5},     {1, nurture, 1},  {1, demo, 2},     {1, lost, 3},
        {1, lead, 4},    {2, proposal, 1}, {2, lost, 2},     {3, demo, 1},
        {3, lead, 2}};
    auto r = p.ApplyMoves(moves);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->accepted, moves.size());
    const FunnelReport report = *FunnelOf(p);
    const FunnelFigures& f = report.total;
    struct Row {
      StageId stage;
      uint64_t forward, back, lost, side, in, reentries, entered;
    };
    for (const Row& row : {Row{lead, 3, 0, 0, 1, 2, 2, 5}, Row{demo, 2, 1, 1, 0, 4, 1, 3},
                           Row{proposal, 1, 1, 1, 0, 3, 1, 2}, Row{won, 0, 0, 0, 0, 1, 0, 1},
                           Row{nurture, 0, 1, 0, 0, 1, 0, 1}, Row{lost, 0, 1, 0, 0, 2, 0, 2}}) {
      const StageFunnel& s = f.stages[row.stage];
      SCOPED_TRACE(s.id);
      EXPECT_EQ(s.exits_forward, row.forward);
      EXPECT_EQ(s.exits_back, row.back);
      EXPECT_EQ(s.exits_lost, row.lost);
      EXPECT_EQ(s.exits_side, row.side);
      EXPECT_EQ(s.moves_in, row.in);
      EXPECT_EQ(s.reentries, row.reentries);
      EXPECT_EQ(s.entered, row.entered);
      EXPECT_EQ(s.moved_on, row.forward + row.back + row.side);
      EXPECT_EQ(s.dropped, row.lost);
    }
    std::vector<std::tuple<StageId, StageId, uint64_t>> pairs;
    for (const FlowCount& c : f.flow) pairs.emplace_back(c.from, c.to, c.moves);
    using Pair = std::tuple<StageId, StageId, uint64_t>;
    EXPECT_THAT(pairs, ::testing::ElementsAre(
                           Pair{lead, demo, 2}, Pair{lead, proposal, 1}, Pair{lead, nurture, 1},
                           Pair{demo, lead, 1}, Pair{demo, proposal, 2}, Pair{demo, lost, 1},
                           Pair{proposal, demo, 1}, Pair{proposal, won, 1},
                           Pair{proposal, lost, 1}, Pair{nurture, demo, 1},
                           Pair{lost, lead, 1}));
    v1::FunnelReport parsed;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(FunnelJson(report), &parsed).ok());
    ASSERT_EQ(parsed.total().flow_size(), 11);
    EXPECT_EQ(parsed.total().flow(1).from(), "lead");
    EXPECT_EQ(parsed.total().flow(1).to(), "proposal");
    EXPECT_EQ(parsed.total().stages(demo).exits_back(), 1u);
    EXPECT_EQ(parsed.total().stages(demo).reentries(), 1u);
    // d1 was lost from demo, d2 from proposal.
    EXPECT_EQ(f.stages[demo].lost_from, 1u);
    EXPECT_EQ(f.stages[proposal].lost_from, 1u);
    EXPECT_EQ(f.stages[lead].lost_from, 0u);
    EXPECT_THAT(FunnelTable(report),
                HasSubstr("lost from (first losses): demo 1 (50.0%), proposal 1 (50.0%)"));
    EXPECT_THAT(FunnelTable(report),
                HasSubstr("stage      entered   reached       now   stalled  to next "
                          "  to won        in   forward      back      lost      side"));
    EXPECT_THAT(FunnelTable(report), HasSubstr("-- moves --"));
    // The flow picture: the busiest pair (2 moves) 8 wide, 1 move 4.5.
    const std::string dot = FunnelFlowToDot(report);
    EXPECT_THAT(dot, HasSubstr(
        "\"demo\" -> \"proposal\" [label=\"2\", color=\"#1d70b8\", penwidth=8.0];"));
    EXPECT_THAT(dot, HasSubstr(
        "\"proposal\" -> \"demo\" [label=\"1\", color=\"#f08c00\", penwidth=4.5];"));
    EXPECT_THAT(dot, HasSubstr("\"demo\" -> \"lost\" [label=\"1\", color=\"#d62828\""));
    EXPECT_THAT(dot, HasSubstr("\"lead\" -> \"nurture\" [label=\"1\", color=\"#868e96\""));
    EXPECT_THAT(dot, HasSubstr("\"lost\" -> \"lead\" [label=\"1\", color=\"#868e96\""));
    EXPECT_THAT(dot, HasSubstr("\"lead\" [label=\"lead\\n3 now\""));
    EXPECT_EQ(std::count(dot.begin(), dot.end(), '>'), 11);  // an edge a pair
  }
}

}  // namespace
}  // namespace salescycle

namespace salescycle {
namespace {

// A breakdown, counted by hand. Line: lead, demo, won (50% and 80%).
//   d0 source "web"   lead -> demo -> won          won, reached all 3
//   d1 source "web"   lead -> demo (value 1000)    open, weighted 800
//   d2 source "fair"  lead -> lost                 lost, reached lead
//   d3 not set        lead (value 10)              open, weighted 5
//   d4 source "fair"  removed: not a live deal
//   web: 2 deals, 1 open, 1 won, 0 lost, 100%, reached 2/2/1, 800
//   fair: 1 deal, 0 open, 0 won, 1 lost, 0%, reached 1/0/0
//   (not set): 1 deal, 1 open, reached 1/0/0, 5; last, though as big
//   as fair
TEST(FunnelBreakdown, LiveDealsByAnAttributesValue) {
  auto m = Machine::FromTextProto(R"(name: "by" initial_stage: "lead"
      stages { id: "lead" win_probability: 50 } stages { id: "demo" win_probability: 80 }
      stages { id: "won" kind: WON } stages { id: "lost" kind: LOST }
      events { id: "e" }
      attributes { name: "source" type: STRING } attributes { name: "value" type: DOUBLE }
      transitions { from_any_open: true to_any_open: true forward_only: true }
      transitions { from_any_open: true to_any_closed: true })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto p = *Pipeline::Create(*m, WithAnalytics());
  const StageId lead = 0, demo = 1, won = 2, lost = 3;
  for (int d = 0; d < 5; ++d) ASSERT_TRUE(p.Add(0).ok());
  for (auto [d, source] : {std::pair<DealIndex, const char*>{0, "web"}, {1, "web"},
                           {2, "fair"}, {4, "fair"}}) {
    ASSERT_TRUE(p.Set(d, 0, AttributeValue::String(source)).ok());
  }
  ASSERT_TRUE(p.Set(1, 1, AttributeValue::Double(1000)).ok());
  ASSERT_TRUE(p.Set(3, 1, AttributeValue::Double(10)).ok());
  const std::vector<StageRecord> moves = {{0, demo, 1}, {0, won, 2}, {1, demo, 1}, {2, lost, 1}};
  ASSERT_EQ(p.ApplyMoves(moves)->accepted, moves.size());
  ASSERT_TRUE(p.Remove(4).ok());
  FunnelOptions o;
  o.value_attribute = "value";
  o.breakdown_attribute = "source";
  const FunnelReport report = *FunnelOf(p, o);
  ASSERT_EQ(report.breakdown.size(), 3u);
  const FunnelSegment& web = report.breakdown[0];
  const FunnelSegment& fair = report.breakdown[1];
  const FunnelSegment& unset = report.breakdown[2];
  EXPECT_EQ(web.value, "web");
  EXPECT_EQ((std::vector<uint64_t>{web.deals, web.open, web.won, web.lost}),
            (std::vector<uint64_t>{2, 1, 1, 0}));
  EXPECT_DOUBLE_EQ(web.win_rate, 1.0);
  EXPECT_DOUBLE_EQ(web.weighted_pipeline, 800);
  EXPECT_EQ(web.reached[lead], 2u);
  EXPECT_EQ(web.reached[demo], 2u);
  EXPECT_EQ(web.reached[won], 1u);
  EXPECT_EQ(web.reached[lost], 0u);
  EXPECT_EQ(fair.value, "fair");
  EXPECT_EQ((std::vector<uint64_t>{fair.deals, fair.open, fair.won, fair.lost}),
            (std::vector<uint64_t>{1, 0, 0, 1}));
  EXPECT_EQ(fair.reached[lead], 1u);
  EXPECT_EQ(fair.reached[demo], 0u);
  EXPECT_EQ(unset.value, "(not set)");
  EXPECT_FALSE(unset.set);
  EXPECT_EQ(unset.open, 1u);
  EXPECT_DOUBLE_EQ(unset.weighted_pipeline, 5);
  const std::string table = FunnelTable(report);
  EXPECT_THAT(table, HasSubstr(
      "by source (live deals)      deals      open       won      lost  win rate       weighted\n"
      "web                             2         1         1         0    100.0%            800\n"
      "fair                            1         0         0         1      0.0%              0\n"
      "(not set)                       1         1         0         0         -              5\n"));
  v1::FunnelReport parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(FunnelJson(report), &parsed).ok());
  ASSERT_EQ(parsed.breakdown_size(), 3);
  EXPECT_EQ(parsed.breakdown_attribute(), "source");
  ASSERT_EQ(parsed.breakdown(0).reached_size(), 3);  // the line: lead, demo, won
  EXPECT_EQ(parsed.breakdown(0).reached(2).stage(), "won");
  EXPECT_EQ(parsed.breakdown(0).reached(2).deals(), 1u);
  EXPECT_FALSE(parsed.breakdown(2).set());
  // Reached by stage of the line (lead, demo, won): lost is off it.
  EXPECT_EQ(FunnelBreakdownCsv(report),
            "value,set,other,deals,open,won,lost,win_rate,weighted_pipeline,"
            "reached:lead,reached:demo,reached:won\r\n"
            "web,1,0,2,1,1,0,1.000000,800.00,2,2,1\r\n"
            "fair,1,0,1,0,0,1,0.000000,0.00,1,0,0\r\n"
            "(not set),0,0,1,1,0,0,,5.00,1,0,0\r\n");
  o.breakdown_attribute = "region";
  EXPECT_EQ(FunnelOf(p, o).status().code(), absl::StatusCode::kNotFound);
}

// Past kMaxFunnelSegments values the smallest are folded into one; a value
// that is not UTF-8 is still valid JSON.
TEST(FunnelBreakdown, ManyValuesFoldAndBytesStayJson) {
  auto m = Machine::FromTextProto(R"(name: "many" initial_stage: "a"
      stages { id: "a" } stages { id: "w" kind: WON } events { id: "go" }
      attributes { name: "owner" type: INT64 } attributes { name: "tag" type: STRING }
      transitions { from_stage: "a" event: "go" to: "w" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto p = *Pipeline::Create(*m, WithAnalytics());
  // Owner 0 has 3 deals, owners 1..1000 one each: 1001 values.
  for (int64_t owner : {0, 0}) {
    const DealIndex d = *p.Add(0);
    ASSERT_TRUE(p.Set(d, 0, AttributeValue::Int64(owner)).ok());
  }
  for (int64_t owner = 0; owner <= 1000; ++owner) {
    const DealIndex d = *p.Add(0);
    ASSERT_TRUE(p.Set(d, 0, AttributeValue::Int64(owner)).ok());
  }
  ASSERT_TRUE(p.Add(0).ok());  // not set
  FunnelOptions o;
  o.breakdown_attribute = "owner";
  const FunnelReport report = *FunnelOf(p, o);
  ASSERT_EQ(report.breakdown.size(), kMaxFunnelSegments);
  EXPECT_EQ(report.breakdown[0].value, "0");
  EXPECT_EQ(report.breakdown[0].deals, 3u);
  EXPECT_EQ(report.breakdown[1].value, "1");  // ties by value, as text
  EXPECT_EQ(report.breakdown[1].deals, 1u);
  EXPECT_EQ(report.breakdown[998].value, "(not set)");
  const FunnelSegment& other = report.breakdown[999];
  EXPECT_TRUE(other.other);
  EXPECT_EQ(other.value, "(3 other values)");
  EXPECT_EQ(other.deals, 3u);
  uint64_t deals = 0;
  for (const FunnelSegment& s : report.breakdown) deals += s.deals;
  EXPECT_EQ(deals, p.size());
  EXPECT_THAT(FunnelTable(report), HasSubstr("... and 980 more (--format json lists them all)"));

  const DealIndex d = *p.Add(0);
  ASSERT_TRUE(p.Set(d, 1, AttributeValue::String(std::string("caf\xe9 \"x\"", 8))).ok());
  o.breakdown_attribute = "tag";
  const std::string json = FunnelJson(*FunnelOf(p, o));
  EXPECT_THAT(json, HasSubstr("\"value\": \"caf\\ufffd \\\"x\\\"\""));
  v1::FunnelReport parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
}

// lead -> won (win), won -> lead (repurchase, a new cycle), lead -> lost
// (lose), lost -> lead (reactivate, a new cycle).
absl::StatusOr<std::shared_ptr<const Machine>> CyclesMachine() {
  return Machine::FromTextProto(R"(name: "cycles" initial_stage: "lead"
      stages { id: "lead" } stages { id: "won" kind: WON } stages { id: "lost" kind: LOST }
      events { id: "win" } events { id: "lose" } events { id: "repurchase" }
      events { id: "reactivate" }
      transitions { from_stage: "lead" event: "win" to: "won" }
      transitions { from_stage: "lead" event: "lose" to: "lost" }
      transitions { from_stage: "won" event: "repurchase" to: "lead" new_cycle: true }
      transitions { from_stage: "lost" event: "reactivate" to: "lead" new_cycle: true })");
}

// Cycles, counted by hand. lead -> won (win), won -> lead (repurchase, a
// new cycle), lead -> lost (lose), lost -> lead (reactivate, a new cycle).
//   d0 added 0, win 10, repurchase 20, win 50   cycles 10 s and 30 s, won
//   d1 added 0, lose 5, reactivate 15           a lost cycle, an open one
//   d2 added 0                                  open
// 3 deals, 5 cycles; won 2, lost 1 (win rate 2/3); reached lead 5, won 2;
// entered lead 5, won 2, lost 1; cycle lengths 10 and 30 s.
TEST(FunnelCycles, EveryCycleCountsAsADealDid) {
  const absl::StatusOr<std::shared_ptr<const Machine>> m = CyclesMachine();
  ASSERT_TRUE(m.ok()) << m.status();
  PipelineOptions history;
  history.history_limit = 8;
  for (const PipelineOptions& options : {WithAnalytics(), history}) {
    auto p = *Pipeline::Create(*m, options);
    for (int d = 0; d < 3; ++d) ASSERT_TRUE(p.Add(0).ok());
    for (auto [d, event, time] : {std::tuple<DealIndex, const char*, Timestamp>{0, "win", 10},
                                  {1, "lose", 5}, {1, "reactivate", 15},
                                  {0, "repurchase", 20}, {0, "win", 50}}) {
      ASSERT_TRUE(p.Fire(d, event, time)->moved());
    }
    const FunnelReport report = *FunnelOf(p);
    const FunnelFigures& f = report.total;
    EXPECT_EQ(f.deals, 3u);
    EXPECT_EQ(f.cycles, 5u);
    EXPECT_EQ(f.won, 2u);
    EXPECT_EQ(f.lost, 1u);
    EXPECT_DOUBLE_EQ(f.win_rate, 2.0 / 3);
    EXPECT_EQ(f.stages[0].reached, 5u);
    EXPECT_EQ(f.stages[1].reached, 2u);
    EXPECT_DOUBLE_EQ(f.stages[0].conversion_to_next, 0.4);
    EXPECT_EQ(f.stages[0].entered, 5u);
    EXPECT_EQ(f.stages[1].entered, 2u);
    EXPECT_EQ(f.stages[2].entered, 1u);
    EXPECT_EQ(f.stages[0].now, 2u);
    EXPECT_EQ(f.cycle_length.count, 2u);
    if (options.analytics.enabled) {  // a history does not hold the addition
      EXPECT_DOUBLE_EQ(f.cycle_length.mean_seconds, 20);
      EXPECT_EQ(f.cycle_length.median_seconds, 10);
      EXPECT_EQ(f.cycle_length.p90_seconds, 30);
      EXPECT_THAT(FunnelTable(report), HasSubstr("3 deals (5 cycles)"));
      EXPECT_THAT(FunnelTable(report), HasSubstr("-- cycles --"));
    }
  }
}

// Repeat purchases, counted by hand, on the same machine:
//   d0 added 0, win 10, repurchase 20, win 50, repurchase 60, win 100
//   d1 added 0, win 5, repurchase 6, lose 8
//   d2 added 0, lose 5, reactivate 15, win 30
//   d3 added 0, open
// Won cycles 5 (d0 three, d1 and d2 one each); buyers 3; repeat wins 2
// (d0's second and third); repeat buyers 1 (d0), repeat rate 1/3; cycles
// 4 + 4 new = 8, 2.00 a deal; between wins 40 and 50 s (below 64 s the
// histogram's buckets are 1 s wide: exact).
TEST(FunnelCycles, RepeatPurchases) {
  const absl::StatusOr<std::shared_ptr<const Machine>> m = CyclesMachine();
  ASSERT_TRUE(m.ok()) << m.status();
  using Step = std::tuple<DealIndex, const char*, Timestamp>;
  const std::vector<Step> steps = {
      {1, "win", 5},         {2, "lose", 5},  {1, "repurchase", 6}, {1, "lose", 8},
      {0, "win", 10},        {2, "reactivate", 15}, {0, "repurchase", 20}, {2, "win", 30},
      {0, "win", 50},        {0, "repurchase", 60}, {0, "win", 100}};
  PipelineOptions history;
  history.history_limit = 16;
  for (const PipelineOptions& options : {WithAnalytics(), history}) {
    auto p = *Pipeline::Create(*m, options);
    for (int d = 0; d < 4; ++d) ASSERT_TRUE(p.Add(0).ok());
    // Saved and restored half way (analytics on): the wins so far are kept.
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto& [d, event, time] = steps[i];
      ASSERT_TRUE(p.Fire(d, event, time)->moved()) << i;
      if (i == 8 && options.analytics.enabled) {
        std::string bytes;
        ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
        auto restored = LoadPipeline(SnapshotSource::Bytes(bytes), *m);
        ASSERT_TRUE(restored.ok()) << restored.status();
        p = *std::move(restored);
      }
    }
    const FunnelReport report = *FunnelOf(p);
    const FunnelFigures& f = report.total;
    EXPECT_EQ(f.won, 5u);
    EXPECT_EQ(f.buyers, 3u);
    EXPECT_EQ(f.repeat_wins, 2u);
    EXPECT_EQ(f.repeat_buyers, 1u);
    EXPECT_DOUBLE_EQ(f.repeat_rate, 1.0 / 3);
    EXPECT_EQ(f.cycles, 8u);
    EXPECT_DOUBLE_EQ(f.cycles_per_deal, 2.0);
    EXPECT_EQ(f.time_between_wins.count, 2u);
    EXPECT_DOUBLE_EQ(f.time_between_wins.mean_seconds, 45);
    EXPECT_EQ(f.time_between_wins.median_seconds, 40);
    EXPECT_EQ(f.time_between_wins.p90_seconds, 50);
    EXPECT_THAT(FunnelTable(report),
                HasSubstr("repeat purchases: 1 of 3 buyers won again (33.3%), 2 repeat wins; "
                          "2.00 cycles a deal; time between wins median 40s, p90 50s\n"));
    EXPECT_THAT(FunnelJson(report),
                HasSubstr("\"buyers\": 3, \"repeat_buyers\": 1, \"repeat_wins\": 2, "
                          "\"repeat_rate\": 0.3333333333333333, \"cycles_per_deal\": 2, "
                          "\"time_between_wins\": {\"count\": 2, "));
  }
}

TEST(FunnelCycles, NoRepeatLineWithoutCycles) {
  Pipeline p = Build(WithAnalytics(), true);
  const FunnelReport report = *FunnelOf(p);
  EXPECT_EQ(report.total.buyers, 2u);
  EXPECT_EQ(report.total.repeat_wins, 0u);
  EXPECT_THAT(FunnelTable(report), Not(HasSubstr("repeat purchases")));
}

// Closes by month of close time, counted by hand (mini: lost -> lead is a
// plain transition, so a loss can be taken back in its cycle):
//   d0 added Jan 1, demo Jan 2, win Jan 10         won in January, 9 days
//   d1 added Jan 1, lose Jan 20                    lost in January
//   d2 added Jan 5, lose Jan 25, reopen Feb 3, demo Feb 4, win Feb 10
//                                                  won in February (36 days);
//                                                  its January loss is taken back
//   d3 added Feb 1, lose Feb 2                     lost in February
// January: 1 won, 1 lost; February: 1 won, 1 lost; in all 2 and 2.
TEST(FunnelCloses, ByPeriodOfCloseTimeAndInAWindow) {
  constexpr Timestamp kJan1 = 1767225600, kFeb1 = 1769904000, kMar1 = 1772323200;
  constexpr Timestamp kDay = 86400;
  const Timestamp added[] = {kJan1, kJan1, kJan1 + 4 * kDay, kFeb1};
  using Step = std::tuple<DealIndex, const char*, Timestamp>;
  const std::vector<Step> steps = {
      {0, "demo", kJan1 + kDay},       {0, "win", kJan1 + 9 * kDay},
      {1, "lose", kJan1 + 19 * kDay},  {2, "lose", kJan1 + 24 * kDay},
      {3, "lose", kFeb1 + kDay},       {2, "reopen", kFeb1 + 2 * kDay},
      {2, "demo", kFeb1 + 3 * kDay},   {2, "win", kFeb1 + 9 * kDay}};
  auto p = *Pipeline::Create(Mini(), WithAnalytics(Cohort::kMonth));
  for (Timestamp t : added) ASSERT_TRUE(p.Add(t).ok());
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& [d, event, time] = steps[i];
    ASSERT_TRUE(p.Fire(d, event, time)->moved()) << i;
    if (i == 3) {  // d2 lost: its loss's period must survive a restore
      std::string bytes;
      ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
      auto restored = LoadPipeline(SnapshotSource::Bytes(bytes), Mini());
      ASSERT_TRUE(restored.ok()) << restored.status();
      p = *std::move(restored);
    }
  }
  const FunnelReport all = *FunnelOf(p);
  ASSERT_EQ(all.closes.size(), 2u);
  EXPECT_EQ(all.closes[0].label, "2026-01");
  EXPECT_EQ(all.closes[0].start, kJan1);
  EXPECT_EQ(all.closes[0].end, kFeb1);
  EXPECT_EQ(all.closes[0].won, 1u);
  EXPECT_EQ(all.closes[0].lost, 1u);
  EXPECT_DOUBLE_EQ(all.closes[0].win_rate, 0.5);
  EXPECT_NEAR(all.closes[0].cycle_length.median_seconds, 9.0 * kDay, 9.0 * kDay / 64);
  EXPECT_EQ(all.closes[1].label, "2026-02");
  EXPECT_EQ(all.closes[1].won, 1u);
  EXPECT_EQ(all.closes[1].lost, 1u);
  EXPECT_NEAR(all.closes[1].cycle_length.median_seconds, 36.0 * kDay, 36.0 * kDay / 64);
  EXPECT_FALSE(all.close_window);
  EXPECT_EQ(all.closed.won, all.total.won);
  EXPECT_EQ(all.closed.lost, all.total.lost);
  EXPECT_EQ(all.closed.label, "2026-01-01 to 2026-02-28");
  EXPECT_THAT(FunnelTable(all),
              HasSubstr("closed in                      won      lost  win rate cycle median"
                        "          p90\n"
                        "2026-01                          1         1     50.0%         9.0d"));
  FunnelOptions window;
  window.closed_from = kFeb1;
  window.closed_to = kMar1;
  const FunnelReport february = *FunnelOf(p, window);
  ASSERT_EQ(february.closes.size(), 1u);
  EXPECT_TRUE(february.close_window);
  EXPECT_EQ(february.closed.won, 1u);
  EXPECT_EQ(february.closed.lost, 1u);
  EXPECT_EQ(february.closed.label, "2026-02-01 to 2026-02-28");
  EXPECT_THAT(FunnelJson(february),
              HasSubstr("\"closed\": {\"label\": \"2026-02-01 to 2026-02-28\", \"start\": "
                        "1769904000, \"end\": 1772323200, \"won\": 1, \"lost\": 1, "
                        "\"win_rate\": 0.5, "));
  // The bounds start months; the window needs cohorts and runs forward.
  window.closed_from = kFeb1 + kDay;
  EXPECT_THAT(FunnelOf(p, window).status().message(),
              HasSubstr("closed_from 2026-02-02 00:00:00 UTC does not start a month, and the "
                        "periods are the cohorts': it falls in 2026-02, which starts "
                        "2026-02-01 00:00:00 UTC"));
  window.closed_from = kMar1;
  EXPECT_EQ(FunnelOf(p, window).status().code(), absl::StatusCode::kInvalidArgument);
  Pipeline plain = Build(WithAnalytics(), true);
  window.closed_from = kFeb1;
  EXPECT_EQ(FunnelOf(plain, window).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(FunnelOf(plain)->closes.empty());
  EXPECT_THAT(FunnelTable(*FunnelOf(plain)), Not(HasSubstr("closed in")));
}

TEST(FunnelLost, LiveLostDealsByReason) {
  auto m = Machine::FromTextProto(R"(name: "why" initial_stage: "lead"
      stages { id: "lead" } stages { id: "won" kind: WON }
      stages { id: "lost" kind: LOST reason_attribute: "why" reason_from_event: true }
      events { id: "lose" } events { id: "win" }
      attributes { name: "why" type: STRING }
      transitions { from_stage: "lead" event: "lose" to: "lost" }
      transitions { from_stage: "lead" event: "win" to: "won" })");
  ASSERT_TRUE(m.ok()) << m.status();
  auto p = *Pipeline::Create(*m, WithAnalytics());
  for (int d = 0; d < 4; ++d) ASSERT_TRUE(p.Add(0).ok());
  ASSERT_TRUE(p.Set(0, 0, AttributeValue::String("Price")).ok());
  ASSERT_TRUE(p.Set(1, 0, AttributeValue::String("Price")).ok());
  for (DealIndex d : {0u, 1u, 2u}) ASSERT_TRUE(p.Fire(d, "lose", 5).ok());
  ASSERT_TRUE(p.Fire(3, "win", 6).ok());
  const FunnelReport report = *FunnelOf(p);
  using Reason = std::pair<std::string, uint64_t>;
  EXPECT_EQ(report.total.lost_by_reason,
            (std::vector<Reason>{{"Price", 2}, {"lose", 1}}));
  EXPECT_THAT(FunnelTable(report),
              HasSubstr("lost now, by reason: Price 2 (66.7%), lose 1 (33.3%)"));
  EXPECT_THAT(FunnelJson(report),
              HasSubstr("\"lost_by_reason\": [{\"reason\": \"Price\", \"count\": 2}, "
                        "{\"reason\": \"lose\", \"count\": 1}]"));
}

}  // namespace
}  // namespace salescycle
