// Pipeline snapshots on cycle9-guarded (one int64 attribute, `budget`, set on
// every deal; history off): save and load throughput in deals per second,
// bytes per deal on disk, and the heap a 10 million deal load needs beyond
// the pipeline it builds.
//
//   build/bench/snapshot_benchmark --benchmark_repetitions=5
//
// The deals are moved by a cycle9-like stream of three events per deal, so
// stages, entry times and budgets are spread as in a live pipeline rather
// than all alike (which would flatter the varint encoding).
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"

// ---- heap accounting: the live bytes every operator new holds, and their
// peak. Aligned and nothrow forms fall through to the defaults and are not
// counted; the library uses neither on the load path.
namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void* Track(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  const int64_t live =
      g_live.fetch_add(static_cast<int64_t>(malloc_usable_size(p)),
                       std::memory_order_relaxed) +
      static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak &&
         !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}
// GCC sees free() reach a pointer from operator new once both are inlined;
// here operator new is malloc, so the pair matches.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void Untrack(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)),
                   std::memory_order_relaxed);
  std::free(p);
}
#pragma GCC diagnostic pop
}  // namespace

void* operator new(size_t n) { return Track(std::malloc(n == 0 ? 1 : n)); }
void* operator new[](size_t n) { return Track(std::malloc(n == 0 ? 1 : n)); }
void operator delete(void* p) noexcept { Untrack(p); }
void operator delete[](void* p) noexcept { Untrack(p); }
void operator delete(void* p, size_t) noexcept { Untrack(p); }
void operator delete[](void* p, size_t) noexcept { Untrack(p); }

namespace salescycle {
namespace {

// `funnel`: with analytics on, so that the snapshot carries the funnel
// state and each deal its funnel marks.
Pipeline MakePipeline(uint32_t deals, bool funnel = false) {
  auto m = Machine::FromFile(
      absl::StrCat(SC_MACHINES_DIR, "/cycle9_guarded.textproto"));
  if (!m.ok()) std::abort();
  PipelineOptions options;
  options.expected_deals = deals;
  options.analytics.enabled = funnel;
  auto p = *Pipeline::Create(*m, options);
  const AttributeId budget = *(*m)->FindAttribute("budget");
  for (uint32_t j = 0; j < deals; ++j) {
    (void)p.Add(0);
    (void)p.Set(j, budget, AttributeValue::Int64(bench::GuardedBudget(j)));
  }
  bench::DriveRandomStream(&p, deals, size_t{3} * deals, 42, 1767225600,
                           nullptr);
  return p;
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/salescycle_bench_",
                      ::getpid(), "_", name);
}

void SetCounters(benchmark::State& state, uint32_t deals, size_t bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * deals);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes_per_deal"] =
      static_cast<double>(bytes) / static_cast<double>(deals);
}

// range(0): deals; range(1): 1 with the funnel state (its frame, and each
// deal's marks and addition time in the chunks). Items are deals saved.
void BytesArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"deals", "funnel"});
  b->Args({1000000, 0});
  b->Args({1000000, 1});
}

void BM_SaveToBytes(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const Pipeline p = MakePipeline(deals, state.range(1) != 0);
  std::string bytes;
  for (auto _ : state) {
    bytes.clear();
    if (!SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok()) std::abort();
    benchmark::DoNotOptimize(bytes.data());
  }
  SetCounters(state, deals, bytes.size());
}
BENCHMARK(BM_SaveToBytes)->Apply(BytesArgs)->Unit(benchmark::kMillisecond);

void BM_LoadFromBytes(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const Pipeline p = MakePipeline(deals, state.range(1) != 0);
  std::string bytes;
  if (!SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok()) std::abort();
  for (auto _ : state) {
    auto loaded = LoadPipeline(SnapshotSource::Bytes(bytes), p.machine_ptr());
    if (!loaded.ok() || loaded->size() != p.size()) std::abort();
  }
  SetCounters(state, deals, bytes.size());
}
BENCHMARK(BM_LoadFromBytes)->Apply(BytesArgs)->Unit(benchmark::kMillisecond);

// A file save includes the fsync of the temporary file and of its folder.
void BM_SaveToFile(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const Pipeline p = MakePipeline(deals);
  const std::string path = TempPath("save.scp");
  for (auto _ : state) {
    if (!SavePipeline(p, SnapshotSink::File(path)).ok()) std::abort();
  }
  std::string bytes;
  if (!SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok()) std::abort();
  SetCounters(state, deals, bytes.size());
  std::remove(path.c_str());
}
BENCHMARK(BM_SaveToFile)->ArgName("deals")->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_LoadFromFile(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  const Pipeline p = MakePipeline(deals);
  const std::string path = TempPath("load.scp");
  if (!SavePipeline(p, SnapshotSink::File(path)).ok()) std::abort();
  for (auto _ : state) {
    auto loaded = LoadPipeline(SnapshotSource::File(path), p.machine_ptr());
    if (!loaded.ok() || loaded->size() != p.size()) std::abort();
  }
  std::string bytes;
  if (!SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok()) std::abort();
  SetCounters(state, deals, bytes.size());
  std::remove(path.c_str());
}
BENCHMARK(BM_LoadFromFile)->ArgName("deals")->Arg(1000000)->Unit(benchmark::kMillisecond);

// The heap a load from a file holds at its peak, beyond the columns of the
// pipeline it returns (Pipeline::MemoryUsage): frame buffers, the parsed
// chunk, the name mapping. One iteration: the peak is a property, not a time.
void BM_LoadPeakHeap(benchmark::State& state) {
  const auto deals = static_cast<uint32_t>(state.range(0));
  std::string path = TempPath("peak.scp");
  std::shared_ptr<const Machine> machine;
  {
    const Pipeline p = MakePipeline(deals);
    machine = p.machine_ptr();
    if (!SavePipeline(p, SnapshotSink::File(path)).ok()) std::abort();
  }
  double pipeline_mib = 0, peak_mib = 0;
  constexpr double kMiB = 1 << 20;
  for (auto _ : state) {
    const int64_t before = g_live.load();
    g_peak.store(before);
    auto loaded = LoadPipeline(SnapshotSource::File(path), machine);
    if (!loaded.ok() || loaded->size() != deals) std::abort();
    peak_mib = static_cast<double>(g_peak.load() - before) / kMiB;
    pipeline_mib = static_cast<double>(loaded->MemoryUsage()) / kMiB;
  }
  state.counters["pipeline_MiB"] = pipeline_mib;
  state.counters["peak_heap_MiB"] = peak_mib;
  state.counters["beyond_pipeline_MiB"] = peak_mib - pipeline_mib;
  std::remove(path.c_str());
}
BENCHMARK(BM_LoadPeakHeap)
    ->ArgName("deals")
    ->Arg(10000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace salescycle

BENCHMARK_MAIN();
