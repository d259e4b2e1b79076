// Transition throughput of the batch path on cycle9 (history off, no
// observers), guarded and not, with an observer, with history, and of
// Journey::Fire. Items per second are events applied per second.
//
//   build/bench/pipeline_benchmark --benchmark_repetitions=5
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace salescycle {
namespace {

std::shared_ptr<const Machine> Load(bool guarded) {
  auto m = Machine::FromFile(absl::StrCat(
      SC_MACHINES_DIR, guarded ? "/cycle9_guarded.textproto" : "/cycle9.textproto"));
  if (!m.ok()) std::abort();
  return *m;
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

// range(0): deals; range(1): guarded; range(2): 0 plain, 1 observer,
// 2 history of 8.
void BM_PipelineApply(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const bool guarded = state.range(1) != 0;
  const int mode = static_cast<int>(state.range(2));
  auto m = Load(guarded);
  const std::vector<EventRecord> records = Stream(m, deals, kEvents);
  PipelineOptions options;
  options.history_limit = mode == 2 ? 8 : 0;
  auto p = *Pipeline::Create(m, options);
  for (uint32_t j = 0; j < deals; ++j) {
    (void)p.Add(0);
    if (guarded) (void)p.Set(j, 0, AttributeValue::Int64(bench::GuardedBudget(j)));
  }
  Counter counter;
  if (mode == 1) p.AddObserver(&counter);
  uint64_t accepted = 0;
  for (auto _ : state) {
    accepted += p.Apply(records)->accepted;
  }
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
  state.counters["bytes_per_deal"] =
      static_cast<double>(p.MemoryUsage()) / static_cast<double>(deals);
}
BENCHMARK(BM_PipelineApply)
    ->ArgNames({"deals", "guarded", "mode"})
    ->Args({1, 0, 0})
    ->Args({100000, 0, 0})
    ->Args({100000, 1, 0})
    ->Args({100000, 0, 1})
    ->Args({100000, 0, 2})
    ->Args({10000000, 0, 0});

void BM_JourneyFire(benchmark::State& state) {
  auto m = Load(false);
  const std::vector<EventRecord> records = Stream(m, 1, kEvents);
  auto j = *Journey::Create(m, 0);
  uint64_t accepted = 0;
  for (auto _ : state) {
    for (const EventRecord& r : records) {
      accepted += j.Fire(static_cast<EventId>(r.event), r.time)->moved();
    }
  }
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_JourneyFire);

}  // namespace
}  // namespace salescycle

BENCHMARK_MAIN();
