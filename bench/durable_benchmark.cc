// DurablePipeline: events per second into the journal under each sync
// policy and batch size, and the time a recovery takes to replay 10M
// journaled events, on cycle9 with 100k deals. Items per second are events.
//
//   build/bench/durable_benchmark --benchmark_repetitions=3
//
// The directories go under $TMPDIR (or /tmp): put it on the disk to be
// measured (a tmpfs syncs for free).
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "salescycle/durable.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace salescycle {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kDeals = 100000;

std::shared_ptr<const Machine> Cycle9() {
  auto m = Machine::FromFile(SC_MACHINES_DIR "/cycle9.textproto");
  if (!m.ok()) std::abort();
  return *m;
}

std::vector<EventRecord> Stream(const std::shared_ptr<const Machine>& m, size_t events) {
  auto p = *Pipeline::Create(m);
  for (uint32_t j = 0; j < kDeals; ++j) (void)p.Add(0);
  std::vector<EventRecord> out;
  bench::DriveRandomStream(&p, kDeals, events, 42, 0, &out);
  return out;
}

std::string FreshDir(const char* name) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  return dir.string();
}

std::unique_ptr<DurablePipeline> OpenWithDeals(const std::shared_ptr<const Machine>& m,
                                               const std::string& dir, DurableOptions o) {
  o.pipeline.expected_deals = kDeals;
  auto db = DurablePipeline::Open(m, dir, o);
  if (!db.ok()) std::abort();
  for (uint32_t j = 0; j < kDeals; ++j) (void)(*db)->Add(0);
  return *std::move(db);
}

// range(0): 0 sync every write, 1 every 1 ms, 2 none; range(1): events a
// batch (one Apply call, one journal record).
void BM_DurableApply(benchmark::State& state) {
  static const auto m = Cycle9();
  static const std::vector<EventRecord> records = Stream(m, 1 << 20);
  const std::string dir = FreshDir("sc_durable_benchmark");
  DurableOptions o;
  o.sync = state.range(0) == 0   ? SyncPolicy::kEveryWrite
           : state.range(0) == 1 ? SyncPolicy::kInterval
                                 : SyncPolicy::kNone;
  o.sync_interval_ms = 1;
  auto db = OpenWithDeals(m, dir, o);
  const auto batch = static_cast<size_t>(state.range(1));
  size_t at = 0;
  for (auto _ : state) {
    if (at + batch > records.size()) at = 0;
    auto r = db->Apply(absl::MakeConstSpan(records).subspan(at, batch));
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    at += batch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  db.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableApply)
    ->ArgNames({"sync", "batch"})
    ->ArgsProduct({{0, 1, 2}, {1, 64, 4096}})
    ->UseRealTime()  // a sync waits for the disk, not the CPU
    ->Unit(benchmark::kMicrosecond);

// The time Open takes to recover 100k deals and 10M events journaled in
// batches of 4096 after an empty snapshot.
void BM_DurableRecover(benchmark::State& state) {
  const auto m = Cycle9();
  const size_t events = static_cast<size_t>(state.range(0));
  const std::string dir = FreshDir("sc_durable_recover");
  DurableOptions o;
  o.sync = SyncPolicy::kNone;
  o.checkpoint_after_bytes = 0;  // every event stays in the journal
  {
    const std::vector<EventRecord> records = Stream(m, 1 << 20);
    auto db = OpenWithDeals(m, dir, o);
    for (size_t done = 0; done < events; done += 4096) {
      const size_t at = done % records.size();
      const size_t n = std::min<size_t>({4096, events - done, records.size() - at});
      if (!db->Apply(absl::MakeConstSpan(records).subspan(at, n)).ok()) std::abort();
    }
  }
  uint64_t replayed = 0;
  for (auto _ : state) {
    auto db = DurablePipeline::Open(m, dir, o);
    if (!db.ok()) state.SkipWithError(std::string(db.status().message()).c_str());
    replayed = (*db)->recovery().changes_replayed;
  }
  state.counters["changes"] = static_cast<double>(replayed);
  state.counters["journal_MB"] = static_cast<double>(fs::file_size(dir + "/journal-1")) / 1e6;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events));
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableRecover)->Arg(10000000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace salescycle

BENCHMARK_MAIN();
