// The C API against the C++ core on the generator's cycle9 stream: batch
// throughput (each iteration replays the whole stream on a fresh pipeline,
// so every language does exactly the generator's work) and the cost of one
// fire per call. The Python and Go figures come from
// capi/python/bench_salescycle.py and `go test -bench .` in
// capi/go/salescycle, on the same file.
//
//   build/bench/capi_benchmark [--benchmark_repetitions=5]
//
// The stream is $SC_WORKLOAD, by default the 1M event, 100k deal cycle9
// stream that ctest generates into build/tests/workloads.
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "salescycle/c.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace salescycle {
namespace {

const bench::Workload* Stream() {
  static const bench::Workload* const workload = [] {
    const char* env = std::getenv("SC_WORKLOAD");
    auto w = bench::ReadWorkload(env != nullptr ? env : SC_DEFAULT_WORKLOAD);
    if (!w.ok()) {
      std::fprintf(stderr, "%s\n(run ctest once, or gen_workload.py --out)\n",
                   w.status().ToString().c_str());
      return static_cast<bench::Workload*>(nullptr);
    }
    return new bench::Workload(*std::move(w));
  }();
  return workload;
}

const std::string& MachinePath() {
  static const std::string path =
      absl::StrCat(SC_MACHINES_DIR, "/cycle9.textproto");
  return path;
}

void Report(benchmark::State& state, uint64_t accepted) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(Stream()->records.size()));
  // Accepted events of the last replay: golden.json's figure for the stream.
  state.counters["accepted"] = static_cast<double>(accepted);
}

// Each iteration replays the stream on a fresh C++ pipeline (made outside
// the timing); `replay` returns the accepted count.
template <typename ReplayFn>
void RunCpp(benchmark::State& state, ReplayFn&& replay) {
  if (Stream() == nullptr) return state.SkipWithError("no workload");
  auto machine = *Machine::FromFile(MachinePath());
  uint64_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto p = *Pipeline::Create(machine);
    for (uint32_t j = 0; j < Stream()->journeys; ++j) (void)p.Add(0);
    state.ResumeTiming();
    accepted = replay(p);
  }
  Report(state, accepted);
}

void BM_BatchCpp(benchmark::State& state) {
  RunCpp(state, [](Pipeline& p) { return p.Apply(Stream()->records)->accepted; });
}
BENCHMARK(BM_BatchCpp)->Unit(benchmark::kMillisecond);

// One call per event: what a caller pays who cannot batch.
void BM_FireCpp(benchmark::State& state) {
  RunCpp(state, [](Pipeline& p) {
    uint64_t accepted = 0;
    for (const EventRecord& r : Stream()->records) {
      accepted += p.Fire(r.deal, static_cast<EventId>(r.event), r.time)->moved();
    }
    return accepted;
  });
}
BENCHMARK(BM_FireCpp)->Unit(benchmark::kMillisecond);

struct CPipeline {
  sc_pipeline_t* p = nullptr;
  ~CPipeline() { sc_pipeline_destroy(p); }
};

std::unique_ptr<CPipeline> FreshC(sc_machine_t* m) {
  auto c = std::make_unique<CPipeline>();
  if (sc_pipeline_create(&c->p, m, nullptr, nullptr) != SC_OK) std::abort();
  uint32_t deal;
  for (uint32_t j = 0; j < Stream()->journeys; ++j) {
    (void)sc_pipeline_add(&deal, c->p, 0, nullptr);
  }
  return c;
}

// As RunCpp, through the C API.
template <typename ReplayFn>
void RunC(benchmark::State& state, ReplayFn&& replay) {
  if (Stream() == nullptr) return state.SkipWithError("no workload");
  sc_machine_t* m = nullptr;
  if (sc_machine_from_file(&m, MachinePath().c_str(), nullptr, nullptr) != SC_OK) {
    return state.SkipWithError("cycle9 does not load");
  }
  uint64_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto c = FreshC(m);
    state.ResumeTiming();
    accepted = replay(c->p);
  }
  sc_machine_destroy(m);
  Report(state, accepted);
}

void BM_BatchC(benchmark::State& state) {
  RunC(state, [](sc_pipeline_t* p) {
    const auto& records = Stream()->records;
    uint64_t accepted = 0;
    (void)sc_pipeline_apply(&accepted, nullptr, p,
                            reinterpret_cast<const sc_event_record*>(records.data()),
                            records.size(), nullptr);
    return accepted;
  });
}
BENCHMARK(BM_BatchC)->Unit(benchmark::kMillisecond);

void BM_FireC(benchmark::State& state) {
  RunC(state, [](sc_pipeline_t* p) {
    uint64_t accepted = 0;
    int32_t outcome;
    for (const EventRecord& r : Stream()->records) {
      (void)sc_pipeline_fire(&outcome, p, r.deal, r.event, r.time, nullptr);
      accepted += outcome == SC_OUTCOME_MOVED;
    }
    return accepted;
  });
}
BENCHMARK(BM_FireC)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace salescycle

BENCHMARK_MAIN();
