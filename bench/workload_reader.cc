#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "bench/workload.h"

namespace salescycle {
namespace bench {

absl::StatusOr<Workload> ReadWorkload(const std::string& path) {
  // Read here rather than with the core's file helper: this reader links
  // with either the static or the shared core (see bench/CMakeLists.txt).
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read: ",
                                            std::strerror(errno)));
  }
  const std::string data((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat(path, ": read failed"));
  }
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

}  // namespace bench
}  // namespace salescycle
