/// \file
/// Limits: how much an untrusted spec or snapshot may ask of the library.
///
/// Specs and snapshots come from users and from disk. Each limit bounds how
/// much one of them can make the library allocate, or how deep it can make
/// it recurse. Input past a limit is refused with InvalidArgument naming the
/// limit, the value asked for and where, before anything sized by it is
/// allocated.
///
/// The defaults sit far above any real sales cycle (a few dozen stages,
/// hundreds of steps of history) and far below what would hurt a host
/// process. Raise them for an unusual machine; lower them for input from
/// strangers. A value past a hard cap (types.h, options.h) acts as the cap.
///
/// Limits are passed with CompileOptions (specs) and RestoreOptions
/// (snapshots, and the spec a pipeline snapshot carries); the C API has
/// sc_limits_t. Thread safety: a plain value.
#ifndef SALESCYCLE_LIMITS_H_
#define SALESCYCLE_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace salescycle {

/// Guard evaluation recurses once per level of all / any / not; past this
/// the protobuf parsers' own nesting limit (100 messages) would refuse the
/// spec first anyway.
inline constexpr size_t kMaxGuardDepthCap = 40;

/// Bounds on what one spec or snapshot may make the library allocate.
struct Limits {
  /// Bytes of a spec's text or JSON (a file is refused from its size, before
  /// it is read). Default: 4 MiB; real specs take a few KiB.
  size_t max_spec_bytes = size_t{4} << 20;

  /// Stages, events and attributes of a machine. Its transition table has
  /// stages x events cells of 4 bytes. Default: 1024 each; hard cap 65534.
  /// @{
  size_t max_stages = 1024;
  size_t max_events = 1024;
  size_t max_attributes = 1024;
  ///@}

  /// Transitions after expansion: a from_group or from_any_open transition
  /// counts once per stage it leaves. Default: 2^20.
  size_t max_transitions = size_t{1} << 20;

  /// Levels of all / any / not in one guard. Default: 32; hard cap
  /// kMaxGuardDepthCap.
  size_t max_guard_depth = 32;

  /// Bytes of any one string: ids, names, descriptions and labels in a spec;
  /// names, deal keys and string attribute values in a snapshot.
  /// Default: 64 KiB.
  size_t max_string_length = size_t{64} << 10;

  /// The history_limit a journey or pipeline snapshot may declare (each deal
  /// reserves that many 16-byte entries). Default and hard cap: 65536
  /// (kMaxHistoryLimit), the most a journey or pipeline may keep, so that
  /// whatever can be saved loads with the defaults; a pipeline's reservation
  /// is bounded by max_history_entries.
  size_t max_history_length = size_t{1} << 16;

  /// Deal slots a pipeline snapshot may declare. Checked against the header,
  /// so also for a stream whose length is unknown. Default: 2^28 (a pipeline
  /// of that many deals takes about 5 GiB); hard cap 2^32 - 1.
  uint64_t max_snapshot_deals = uint64_t{1} << 28;

  /// Slots x history_limit of a pipeline snapshot: the history entries a load
  /// reserves. Default: 2^26 (1 GiB).
  uint64_t max_history_entries = uint64_t{1} << 26;
};

}  // namespace salescycle

#endif  // SALESCYCLE_LIMITS_H_
