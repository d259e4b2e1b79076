// Transition throughput of the C++ API on cycle9: one fire per call and
// batches through Pipeline and Journey, with 1, 1000, 100 000 and 10 million
// deals; guarded against unguarded; history and an observer; and the
// timeouts sweep (AdvanceTo) over a million deals; funnel analytics on. Items per second are
// events applied (for the sweep: deals looked at) per second; bytes_per_deal
// is Pipeline::MemoryUsage over the deals.
//
//   build/bench/pipeline_benchmark --benchmark_repetitions=5
//   (add --benchmark_report_aggregates_only=true for medians only)
//
// The C API's batch and fire are in capi_benchmark; the replay of the
// generator's streams, with the raw-table baseline, is salescycle_replay.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "salescycle/funnel.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/sharded.h"
#include "salescycle/snapshot.h"

namespace salescycle {
namespace {

std::shared_ptr<const Machine> Load(const char* file) {
  auto m = Machine::FromFile(absl::StrCat(SC_MACHINES_DIR, "/", file));
  if (!m.ok()) std::abort();
  return *m;
}

std::shared_ptr<const Machine> Cycle9(bool guarded) {
  return Load(guarded ? "cycle9_guarded.textproto" : "cycle9.textproto");
}

// The stream is made on a scratch pipeline, so that it follows the
// library's own transitions and the measured pipeline starts fresh.
std::vector<EventRecord> Stream(const std::shared_ptr<const Machine>& m,
                                uint32_t deals, size_t events) {
  auto p = *Pipeline::Create(m);
  for (uint32_t j = 0; j < deals; ++j) (void)p.Add(0);
  std::vector<EventRecord> out;
  bench::DriveRandomStream(&p, deals, events, 42, 0, &out);
  return out;
}

constexpr size_t kEvents = 1 << 20;

class Counter : public Observer {
 public:
  uint64_t n = 0;
  void OnTransition(const StepResult&) override { ++n; }
  void OnRejection(const StepResult&) override { ++n; }
};

enum Mode { kPlain = 0, kObserver = 1, kHistory = 2, kAnalytics = 3 };

Pipeline Fresh(const std::shared_ptr<const Machine>& m, uint32_t deals,
               bool guarded, Mode mode) {
  PipelineOptions options;
  options.history_limit = mode == kHistory ? 8 : 0;
  options.expected_deals = deals;
  options.analytics.enabled = mode == kAnalytics;
  auto p = *Pipeline::Create(m, options);
  for (uint32_t j = 0; j < deals; ++j) {
    (void)p.Add(0);
    if (guarded) (void)p.Set(j, 0, AttributeValue::Int64(bench::GuardedBudget(j)));
  }
  return p;
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"deals", "guarded", "mode"});
  for (int64_t deals : {1, 1000, 100000, 10000000}) b->Args({deals, 0, kPlain});
  b->Args({100000, 1, kPlain});
  b->Args({100000, 0, kObserver});
  b->Args({100000, 0, kHistory});
  b->Args({100000, 0, kAnalytics});
  // Every column in cache: the analytics step's work without its misses.
  b->Args({1000, 0, kAnalytics});
  b->Args({1, 1, kPlain});
}

// range(0): deals; range(1): guarded; range(2): Mode. The same 1M events
// are applied again and again: the deals keep moving, as in a live
// pipeline. `apply` takes the pipeline and the records and returns the
// accepted count.
template <typename ApplyFn>
void RunPipeline(benchmark::State& state, ApplyFn&& apply) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const bool guarded = state.range(1) != 0;
  const auto mode = static_cast<Mode>(state.range(2));
  auto m = Cycle9(guarded);
  const std::vector<EventRecord> records = Stream(m, deals, kEvents);
  Pipeline p = Fresh(m, deals, guarded, mode);
  Counter counter;
  if (mode == kObserver) p.AddObserver(&counter);
  uint64_t accepted = 0;
  for (auto _ : state) accepted += apply(p, records);
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
  state.counters["bytes_per_deal"] =
      static_cast<double>(p.MemoryUsage()) / static_cast<double>(deals);
}

void BM_PipelineApply(benchmark::State& state) {
  RunPipeline(state, [](Pipeline& p, const std::vector<EventRecord>& records) {
    return p.Apply(records)->accepted;
  });
}
BENCHMARK(BM_PipelineApply)->Apply(Args)->Unit(benchmark::kMillisecond);

// One Pipeline::Fire per event: what a caller pays who cannot batch.
void BM_PipelineFire(benchmark::State& state) {
  RunPipeline(state, [](Pipeline& p, const std::vector<EventRecord>& records) {
    uint64_t accepted = 0;
    for (const EventRecord& r : records) {
      accepted += p.Fire(r.deal, static_cast<EventId>(r.event), r.time)->moved();
    }
    return accepted;
  });
}
BENCHMARK(BM_PipelineFire)->Apply(Args)->Unit(benchmark::kMillisecond);

// One journey, one Journey::Fire per event; range(0): history on.
void BM_JourneyFire(benchmark::State& state) {
  auto m = Cycle9(false);
  const std::vector<EventRecord> records = Stream(m, 1, kEvents);
  JourneyOptions options;
  options.history_limit = state.range(0) != 0 ? 8 : 0;
  auto j = *Journey::Create(m, 0, options);
  uint64_t accepted = 0;
  for (auto _ : state) {
    for (const EventRecord& r : records) {
      accepted += j.Fire(static_cast<EventId>(r.event), r.time)->moved();
    }
  }
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_JourneyFire)->ArgName("history")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The timeouts sweep: a million B2B deals spread over a year of entry
// times, and AdvanceTo a moment when about half have stalled. Each
// iteration restores the same state from a snapshot (not timed).
void BM_AdvanceTo(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  auto m = Load("b2b.textproto");
  constexpr Timestamp kStart = 1767225600;
  std::string snapshot;
  {
    PipelineOptions options;
    options.expected_deals = deals;
    auto p = *Pipeline::Create(m, options);
    const EventId contact = *m->FindEvent("contact");
    for (uint32_t j = 0; j < deals; ++j) {
      const Timestamp entered = kStart + (j * 7919ull % 365) * 86400;
      (void)p.Add(entered);
      if (j % 2) (void)p.Fire(j, contact, entered);
    }
    if (!SavePipeline(p, SnapshotSink::Bytes(&snapshot)).ok()) std::abort();
  }
  int64_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto p = LoadPipeline(SnapshotSource::Bytes(snapshot), m);
    if (!p.ok()) std::abort();
    state.ResumeTiming();
    fired = p->AdvanceTo(kStart + 200 * 86400);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * deals);
  state.counters["fired"] = static_cast<double>(fired);
}
BENCHMARK(BM_AdvanceTo)->ArgName("deals")->Arg(1000000)->Unit(benchmark::kMillisecond);

// FunnelOf over a million B2B deals with analytics on (monthly cohorts),
// moved by three million simulated events, value attribute set.
void BM_Funnel(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  auto m = Load("b2b.textproto");
  PipelineOptions options;
  options.expected_deals = deals;
  options.analytics.enabled = true;
  options.analytics.cohort = Cohort::kMonth;
  auto p = *Pipeline::Create(m, options);
  const AttributeId value = *m->FindAttribute("deal_value");
  for (uint32_t j = 0; j < deals; ++j) {
    (void)p.Add(1767225600 + static_cast<Timestamp>(j) * 31);
    (void)p.Set(j, value, AttributeValue::Double(1000 + j % 90000));
  }
  bench::DriveRandomStream(&p, deals, size_t{3} * deals, 42, 1767225600 + 31LL * deals,
                           nullptr);
  FunnelOptions funnel;
  funnel.value_attribute = "deal_value";
  size_t cohorts = 0;
  for (auto _ : state) {
    auto report = FunnelOf(p, funnel);
    if (!report.ok()) std::abort();
    cohorts = report->cohorts.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * deals);
  state.counters["cohorts"] = static_cast<double>(cohorts);
}
BENCHMARK(BM_Funnel)->ArgName("deals")->Arg(1000000)->Unit(benchmark::kMillisecond);

// Shards in one process (issue 17): the same 1M events over `deals` deals,
// by id, applied by 1 shard or split by key group over 2 shards that each
// apply their own batch on their own thread (ShardedPipeline::ApplyEach).
// Items are events; the target is 2 shards at 1.7x of 1 or more.
void BM_ShardedApply(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const auto shards = static_cast<uint32_t>(state.range(1));
  auto m = Cycle9(false);
  const std::vector<EventRecord> stream = Stream(m, deals, kEvents);  // by id = index
  ShardedOptions options;
  options.shards = shards;
  options.pipeline.expected_deals = deals;
  auto sharded = *ShardedPipeline::Create(m, options);
  for (uint32_t j = 0; j < deals; ++j) (void)sharded.AddWithId(j, 0);
  std::vector<std::vector<EventRecord>> per_shard(shards);
  for (const EventRecord& r : stream) {
    const ShardedDeal where = *sharded.FindById(r.deal);
    per_shard[where.shard].push_back({where.deal, r.event, r.time});
  }
  const std::vector<absl::Span<const EventRecord>> batches(per_shard.begin(), per_shard.end());
  uint64_t accepted = 0;
  for (auto _ : state) {
    const absl::StatusOr<std::vector<BatchResult>> results = sharded.ApplyEach(batches);
    if (!results.ok()) std::abort();
    for (const BatchResult& r : *results) accepted += r.accepted;
  }
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_ShardedApply)
    ->ArgNames({"deals", "shards"})
    ->Args({1000000, 1})
    ->Args({1000000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace salescycle

BENCHMARK_MAIN();
