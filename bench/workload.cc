#include "bench/workload.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace salescycle {
namespace bench {

void DriveRandomStream(Pipeline* pipeline, uint32_t deals, size_t events,
                       uint64_t seed, Timestamp first_time,
                       std::vector<EventRecord>* out) {
  const Machine& m = pipeline->machine();
  uint64_t s = seed;
  auto next = [&s] {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::vector<std::vector<EventId>> leaving(m.num_stages());
  for (int st = 0; st < m.num_stages(); ++st) {
    leaving[st] = m.EventsLeaving(static_cast<StageId>(st));
  }
  if (out != nullptr) out->reserve(out->size() + events);
  for (size_t i = 0; i < events; ++i) {
    const DealIndex j = static_cast<DealIndex>(deals == 1 ? 0 : next() % deals);
    const uint64_t r = next();
    const std::vector<EventId>& from_here = leaving[pipeline->stage(j)];
    const EventId e =
        (r & 15) == 0 || from_here.empty()
            ? static_cast<EventId>((r >> 8) % m.num_events())
            : from_here[(r >> 8) % from_here.size()];
    const Timestamp time = first_time + static_cast<Timestamp>(i);
    if (out != nullptr) out->push_back(EventRecord{j, e, time});
    (void)pipeline->Fire(j, e, time);
  }
}

Summary Summarize(const Pipeline& pipeline, uint32_t journeys,
                  const BatchResult& result) {
  Summary s;
  s.accepted = result.accepted;
  s.rejected = result.rejected;
  s.histogram.assign(pipeline.machine().num_stages(), 0);
  uint64_t h = 0xcbf29ce484222325ull;
  for (DealIndex j = 0; j < journeys; ++j) {
    const StageId stage = pipeline.stage(j);
    ++s.histogram[stage];
    h = (h ^ static_cast<uint8_t>(stage)) * 0x100000001b3ull;
  }
  s.final_state_fnv1a64 = h;
  return s;
}

}  // namespace bench
}  // namespace salescycle
