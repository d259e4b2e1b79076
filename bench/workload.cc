#include "bench/workload.h"

#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "src/file_util.h"

namespace salescycle {
namespace bench {

absl::StatusOr<Workload> ReadWorkload(const std::string& path) {
  absl::StatusOr<std::string> contents = internal::ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& data = *contents;
  constexpr size_t kHeader = 8 + 8 + 4 + 4 + 8;
  if (data.size() < kHeader || data.compare(0, 8, "SCWL0001") != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": not an SCWL0001 workload (bad magic or size)"));
  }
  const char* p = data.data() + 8;
  const uint64_t n = absl::little_endian::Load64(p);
  Workload w;
  w.journeys = absl::little_endian::Load32(p + 8);
  w.guarded = (absl::little_endian::Load32(p + 12) & 1) != 0;
  w.seed = absl::little_endian::Load64(p + 16);
  const uint64_t body = data.size() - kHeader;
  if (body % 8 != 0 || body / 8 != n) {
    return absl::DataLossError(absl::StrCat(path, ": header says ", n,
                                            " events but the file holds ",
                                            body / 8));
  }
  w.records.resize(n);
  const char* r = data.data() + kHeader;
  for (uint64_t i = 0; i < n; ++i, r += 8) {
    const uint32_t journey = absl::little_endian::Load32(r);
    if (journey >= w.journeys) {
      return absl::DataLossError(absl::StrCat(path, ": event ", i,
                                              " is for journey ", journey,
                                              " of ", w.journeys));
    }
    w.records[i] = EventRecord{journey, absl::little_endian::Load32(r + 4),
                               static_cast<Timestamp>(i)};
  }
  return w;
}

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
