// Reader of the SCWL0001 event streams written by
// ../shared/bench/gen_workload.py, and the summary that proves a replay did
// the generator's work (accepted, rejected, final stage histogram, FNV-1a 64
// of the final stages).
#ifndef SALESCYCLE_BENCH_WORKLOAD_H_
#define SALESCYCLE_BENCH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "salescycle/pipeline.h"

namespace salescycle {
namespace bench {

struct Workload {
  uint64_t seed = 0;
  uint32_t journeys = 0;
  bool guarded = false;
  // Event i is for deal records[i].deal, with time i (as the generator says).
  std::vector<EventRecord> records;
};

// Errors: NotFound / Unavailable for an unreadable file; DataLoss for a bad
// magic, a record count that does not match the file's size, or a journey
// index past the declared count; each names the path.
absl::StatusOr<Workload> ReadWorkload(const std::string& path);

// cycle9-guarded's rule: journey j starts with budget (j * 7919) % 5000.
inline int64_t GuardedBudget(uint32_t journey) {
  return static_cast<int64_t>((uint64_t{journey} * 7919) % 5000);
}

struct Summary {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::vector<uint64_t> histogram;  // by stage id
  uint64_t final_state_fnv1a64 = 0;
};

// Drives deals 0..deals-1 of `*pipeline` with `events` cycle9-like events:
// mostly events that leave the deal's current stage, 1 in 16 any event at
// all, event i at time `first_time + i`. Each is applied as it is made, so
// the stream follows the machine's own transitions; when `out` is not null,
// the records are appended to it. REQUIRES: those deals are live.
void DriveRandomStream(Pipeline* pipeline, uint32_t deals, size_t events,
                       uint64_t seed, Timestamp first_time,
                       std::vector<EventRecord>* out);

// The histogram and hash of deals 0..journeys-1 of `pipeline`.
// REQUIRES: those deals are live.
Summary Summarize(const Pipeline& pipeline, uint32_t journeys,
                  const BatchResult& result);

}  // namespace bench
}  // namespace salescycle

#endif  // SALESCYCLE_BENCH_WORKLOAD_H_
