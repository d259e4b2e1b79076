#include "src/snapshot_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "salescycle/options.h"
#include "src/crc32.h"
#include "src/proto_convert.h"

namespace salescycle {
namespace internal {

std::string EncodeJourneyEnvelope(absl::string_view payload) {
  std::string bytes(kJourneyHeaderBytes, '\0');
  std::memcpy(bytes.data(), kJourneyMagic, sizeof kJourneyMagic);
  absl::little_endian::Store32(bytes.data() + sizeof kJourneyMagic,
                               Crc32(payload.data(), payload.size()));
  bytes.append(payload.data(), payload.size());
  return bytes;
}

absl::StatusOr<absl::string_view> DecodeJourneyEnvelope(
    absl::string_view bytes) {
  if (!bytes.empty() && bytes[0] == kUncheckedJourneyTag) return bytes;
  if (bytes.size() < kJourneyHeaderBytes ||
      bytes.substr(0, sizeof kJourneyMagic) !=
          absl::string_view(kJourneyMagic, sizeof kJourneyMagic)) {
    return absl::DataLossError(absl::StrCat(
        "not a journey snapshot (", bytes.size(), " bytes",
        bytes.size() < kJourneyHeaderBytes ? ", fewer than its header"
                                           : " without its magic",
        ")"));
  }
  const absl::string_view payload = bytes.substr(kJourneyHeaderBytes);
  const uint32_t stored =
      absl::little_endian::Load32(bytes.data() + sizeof kJourneyMagic);
  const uint32_t computed = Crc32(payload.data(), payload.size());
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat("journey snapshot of ",
                                            bytes.size(), " bytes: ",
                                            ChecksumMismatch(stored, computed)));
  }
  return payload;
}

std::string ChecksumMismatch(uint32_t stored, uint32_t computed) {
  char text[64];
  std::snprintf(text, sizeof text,
                "checksum mismatch (stored %08x, computed %08x)", stored,
                computed);
  return text;
}

absl::Status CheckFormatVersion(uint32_t version, absl::string_view what) {
  if (version == 0) {
    return absl::DataLossError(absl::StrCat(what, ": no format version"));
  }
  if (version > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": format version ", version,
        " is newer than this library reads (", kFormatVersion, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckHistoryLength(uint64_t history_limit, const Limits& limits,
                                absl::string_view what) {
  const uint64_t max =
      std::min<uint64_t>(limits.max_history_length, kMaxHistoryLimit);
  if (history_limit <= max) return absl::OkStatus();
  return LimitError(what, absl::StrCat("history_limit is ", history_limit),
                    "max_history_length", max);
}

}  // namespace internal
}  // namespace salescycle
