/// \file
/// FunnelState: everything a funnel report is made of, as a value of its own
/// that outlives the pipeline, merges exactly and travels as bytes.
///
/// A state is captured from a pipeline as of a moment (FunnelOptions::now,
/// else the latest time the pipeline saw): the funnel's counters, which the
/// pipeline keeps as deals move, and what its live deals say then (where
/// they are, which are stalled, their values, their loss reasons, the
/// breakdown). FunnelOf(state) is FunnelOf(pipeline), byte for byte in every
/// format.
///
/// Merging the states of pipelines that each saw a disjoint set of deals
/// gives the state of one pipeline that saw them all, for any split and any
/// order: every count is an integer, durations are in fixed histogram
/// buckets, and deal values are summed in fixed point (funnel.h's value
/// figures to 2^-32). Shards of one machine, captured as of the same moment,
/// merge into the funnel of the whole.
///
/// Serialize gives "SCFSTATE", a u32 little-endian length, the CRC-32 of the
/// payload, then a salescycle.v1.FunnelState message (it carries the
/// machine's spec, so a state reports without the spec file).
///
/// Thread safety: a value; const methods may run concurrently.
#ifndef SALESCYCLE_FUNNEL_STATE_H_
#define SALESCYCLE_FUNNEL_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/funnel.h"
#include "salescycle/limits.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
struct FunnelStateRep;
class FunnelStateAccess;
}  // namespace internal

/// A funnel's counters and its live deals' figures as of a moment: a value
/// that merges exactly across shards and travels as bytes.
class SC_API FunnelState {
 public:
  /// Movable, not copyable; a moved-from state may only be assigned to or
  /// destroyed. @{
  FunnelState(FunnelState&&) noexcept;
  FunnelState& operator=(FunnelState&&) noexcept;
  ///@}
  ~FunnelState();

  /// The machine the state was captured from (or carries).
  const Machine& machine() const;
  /// The moment stalled deals were judged at.
  Timestamp as_of() const;

  /// Adds `other`'s deals. Errors: FailedPrecondition, changing nothing,
  /// when the states are of different machines (fingerprints), were
  /// captured as of different moments, or with different cohorts, value or
  /// breakdown attributes.
  [[nodiscard]] absl::Status Merge(const FunnelState& other);

  /// The state's bytes (see the file comment for their format).
  std::string Serialize() const;
  /// A state onto the machine it carries (compiled again within `limits`).
  /// Errors: DataLoss for bytes that are not a state or whose checksum or
  /// contents do not add up, naming what; InvalidArgument for a newer
  /// format version, a carried spec past `limits`, or one that uses named
  /// guards (which only the caller can give: parse onto the machine then).
  [[nodiscard]] static absl::StatusOr<FunnelState> Parse(absl::string_view bytes,
                                                         const Limits& limits = {});
  /// A state onto `machine`, which must be the one it was captured from
  /// (the same fingerprint). Errors: as above; InvalidArgument for a null
  /// machine; FailedPrecondition naming both machines for another one.
  [[nodiscard]] static absl::StatusOr<FunnelState> Parse(
      absl::string_view bytes, std::shared_ptr<const Machine> machine,
      const Limits& limits = {});

 private:
  friend class internal::FunnelStateAccess;
  explicit FunnelState(std::unique_ptr<internal::FunnelStateRep> rep);
  std::unique_ptr<internal::FunnelStateRep> rep_;
};

/// The pipeline's funnel state as of options.now. Errors: as FunnelOf.
[[nodiscard]] SC_API absl::StatusOr<FunnelState> CaptureFunnel(const Pipeline& pipeline,
                                                        const FunnelOptions& options = {});

/// The report of a state: what FunnelOf gave for the pipeline it was
/// captured from, or for all the deals of the states merged into it.
SC_API FunnelReport FunnelOf(const FunnelState& state);

}  // namespace salescycle

#endif  // SALESCYCLE_FUNNEL_STATE_H_
