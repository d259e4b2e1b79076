// The snapshot format, named once (as leveldb's log_format.h): the magics,
// the version, the frame limits, and every wire encoding as an encode /
// decode pair side by side, so that the writer and the reader cannot drift.
// proto/salescycle/v1/snapshot.proto describes the messages; this file says
// what their numbers mean.
#ifndef SALESCYCLE_SRC_SNAPSHOT_FORMAT_H_
#define SALESCYCLE_SRC_SNAPSHOT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/limits.h"
#include "salescycle/step.h"
#include "salescycle/types.h"

namespace salescycle {
namespace internal {

// Readers refuse anything newer; both snapshot kinds share the number.
// 2: what a deal keeps beyond its stage (last activity, loss reason, the
// stage closed from, cycle) and the activity and not-reopenable outcomes.
// Version 1 snapshots load, with those at their defaults.
// 3: a pipeline's funnel state. Only a pipeline that keeps its funnel is
// written as 3; everything else is written as 2, byte for byte as before,
// so that readers of 2 read it.
// 4: a pipeline's input positions (Pipeline::ApplyAt). Only a pipeline that
// has some is written as 4, so that readers of 3 and 2 read the rest; a
// reader of 3 refuses a 4 rather than drop the positions, which would make
// a replay apply records twice.
// 5: where a funnel cycle that went out of order stays counted in order
// (the funnel flags' bits above the outcome: FunnelAccumulator::
// kInOrderShift), so that a deal moved to another pipeline takes that count
// with it (SavePipelinePart). Only a pipeline with a cycle out of order is
// written as 5; a reader of 4 refuses it rather than take the bits for
// damage. Read from an older format, such a cycle's mark is unknown.
inline constexpr uint32_t kFormatVersion = 5;
inline constexpr uint32_t kFormatVersionWithPositions = 4;
inline constexpr uint32_t kFormatVersionWithFunnel = 3;
inline constexpr uint32_t kFormatVersionWithoutFunnel = 2;

// ---- pipeline snapshots: magic, then frames of
//   u32 little-endian payload length, u32 little-endian CRC-32 of the
//   payload, the payload (one PipelineFrame): a header, chunks, a trailer.
inline constexpr char kPipelineMagic[8] = {'S', 'C', 'P', 'I',
                                           'P', 'E', '\r', '\n'};
inline constexpr size_t kFrameHeaderBytes = 8;
// A chunk holds at most this many slots, and is cut earlier when its
// strings pass kChunkStringBytes, so that frames stay far below protobuf's
// 2 GiB limit and a reader's memory stays bounded.
inline constexpr size_t kChunkSlots = 1 << 16;
inline constexpr size_t kChunkStringBytes = 32 << 20;
inline constexpr uint32_t kMaxFrameBytes = 256u << 20;

// ---- journey snapshots: this magic, the CRC-32 of the payload (u32 little
// endian), then the payload, one serialized JourneySnapshot. Without the
// checksum, 23 of 546 single-byte flips loaded altered data (protobuf parses
// most damage as other valid values). Snapshots written before the checksum
// are the bare payload, which starts with format_version's tag (0x08) where
// this starts with 'S': they still load, unchecked.
inline constexpr char kJourneyMagic[4] = {'S', 'C', 'J', 'N'};
inline constexpr size_t kJourneyHeaderBytes = sizeof kJourneyMagic + 4;
inline constexpr char kUncheckedJourneyTag = 0x08;

// The payload behind the envelope.
std::string EncodeJourneyEnvelope(absl::string_view payload);
// The payload of a journey snapshot, its checksum verified (or the whole
// input, for a snapshot from before the checksum). DataLoss otherwise.
absl::StatusOr<absl::string_view> DecodeJourneyEnvelope(
    absl::string_view bytes);

// "checksum mismatch (stored 1234abcd, computed 00ff00ff)".
std::string ChecksumMismatch(uint32_t stored, uint32_t computed);

// ---- timestamps: delta coding in modular arithmetic, so that any two
// int64 values round-trip without overflow.
inline int64_t EncodeDelta(int64_t value, int64_t previous) {
  return static_cast<int64_t>(static_cast<uint64_t>(value) -
                              static_cast<uint64_t>(previous));
}
inline int64_t DecodeDelta(int64_t previous, int64_t delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(previous) +
                              static_cast<uint64_t>(delta));
}

// ---- a slot's stage in a chunk: the header's stage index, or
// num_stages (one past the last) for an empty slot.
inline uint32_t EncodeSlotStage(std::optional<StageId> stage,
                                uint32_t num_stages) {
  return stage ? *stage : num_stages;
}
// False for a value past num_stages; `*stage` is nullopt for an empty slot.
inline bool DecodeSlotStage(uint32_t wire, uint32_t num_stages,
                            std::optional<uint32_t>* stage) {
  if (wire > num_stages) return false;
  *stage = wire == num_stages ? std::nullopt : std::optional<uint32_t>(wire);
  return true;
}

// ---- a history entry's event in a chunk: the header's event index, or
// num_events for none (a timeout that entered a stage directly).
inline uint32_t EncodeHistoryEvent(EventId event, uint32_t num_events) {
  return event == kNoEvent ? num_events : event;
}
inline bool DecodeHistoryEvent(uint32_t wire, uint32_t num_events,
                               std::optional<uint32_t>* event) {
  return DecodeSlotStage(wire, num_events, event);  // the same shape
}

// ---- outcomes: 0 moved, 1 no transition, 2 guard failed, 3 missing
// attribute, 5 activity, 6 not reopenable (snapshot.proto). A history never
// records kNoDeal (4): a removed deal's history is not saved.
static_assert(static_cast<int>(Outcome::kMoved) == 0 &&
                  static_cast<int>(Outcome::kNoTransition) == 1 &&
                  static_cast<int>(Outcome::kGuardFailed) == 2 &&
                  static_cast<int>(Outcome::kMissingAttribute) == 3 &&
                  static_cast<int>(Outcome::kNoDeal) == 4 &&
                  static_cast<int>(Outcome::kActivity) == 5 &&
                  static_cast<int>(Outcome::kNotReopenable) == 6,
              "snapshot.proto numbers outcomes as Outcome does");
inline constexpr uint32_t kMaxSnapshotOutcome =
    static_cast<uint32_t>(Outcome::kNotReopenable);
inline bool DecodeOutcome(uint32_t wire, Outcome* outcome) {
  if (wire > kMaxSnapshotOutcome ||
      wire == static_cast<uint32_t>(Outcome::kNoDeal)) {
    return false;
  }
  *outcome = static_cast<Outcome>(wire);
  return true;
}
// In a pipeline chunk, an outcome and whether a timeout made the step are
// one number: outcome * 2 + by_timeout.
inline uint32_t EncodeChunkOutcome(Outcome outcome, bool by_timeout) {
  return static_cast<uint32_t>(outcome) * 2 + (by_timeout ? 1 : 0);
}
inline bool DecodeChunkOutcome(uint32_t wire, Outcome* outcome,
                               bool* by_timeout) {
  *by_timeout = (wire & 1) != 0;
  return DecodeOutcome(wire >> 1, outcome);
}

// ---- checks shared by both kinds of snapshot

// DataLoss for version 0 (no version), InvalidArgument for a newer one.
absl::Status CheckFormatVersion(uint32_t version, absl::string_view what);
// InvalidArgument past limits.max_history_length (or kMaxHistoryLimit).
absl::Status CheckHistoryLength(uint64_t history_limit, const Limits& limits,
                                absl::string_view what);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_SNAPSHOT_FORMAT_H_
