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

// A cycle9-like stream: mostly events that leave the deal's current stage,
// 1 in 16 any event at all. The stages are tracked by a pipeline, so the
// stream follows the library's own transitions.
std::vector<EventRecord> Stream(const std::shared_ptr<const Machine>& m,
                                uint32_t deals, size_t events) {
  auto p = *Pipeline::Create(m);
  for (uint32_t j = 0; j < deals; ++j) (void)p.Add(0);
  std::vector<EventRecord> out;
  out.reserve(events);
  uint64_t s = 42;
  auto next = [&s] {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (size_t i = 0; i < events; ++i) {
    const DealIndex j = static_cast<DealIndex>(deals == 1 ? 0 : next() % deals);
    const uint64_t r = next();
    const auto leaving = m->EventsLeaving(p.stage(j));
    const EventId e = (r & 15) == 0 ? static_cast<EventId>((r >> 8) % m->num_events())
                                    : leaving[(r >> 8) % leaving.size()];
    out.push_back(EventRecord{j, e, static_cast<Timestamp>(i)});
    (void)p.Fire(j, e, static_cast<Timestamp>(i));
  }
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
