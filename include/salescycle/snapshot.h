/// \file
/// Snapshots: journeys and whole pipelines as bytes, files or streams.
///
/// The format is protobuf (proto/salescycle/v1/snapshot.proto), readable with
/// nothing but the .proto files. A journey snapshot is one checksummed
/// message, for a row in the caller's own database. A pipeline snapshot is a
/// stream of checksummed frames — a header with name dictionaries, chunks of deals in
/// columns, a trailer with totals — so 10 million deals are written and read
/// in bounded memory.
///
/// The same state always gives the same bytes, with one build of the library
/// (protobuf does not promise the same bytes across its own versions).
/// Restoring onto a machine with the snapshot's fingerprint just works; onto
/// another version, the RestoreOptions must carry the migrations from the
/// snapshot's version to the machine's. A restored pipeline keeps every deal
/// at its DealIndex, so indices held by the caller stay valid.
///
/// Thread safety: saving reads the pipeline (no writer may run at the same
/// time); the functions keep no state of their own.
#ifndef SALESCYCLE_SNAPSHOT_H_
#define SALESCYCLE_SNAPSHOT_H_

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/journey.h"
#include "salescycle/limits.h"
#include "salescycle/machine.h"
#include "salescycle/migration.h"
#include "salescycle/pipeline.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class PipelineLoader;
class PipelineSaver;
}  // namespace internal

/// How a snapshot is restored: the migrations to chain and the limits.
struct RestoreOptions {
  /// Migrations to chain from the snapshot's version to the machine's, in any
  /// order. Default: none, so only a snapshot of a machine with the same
  /// fingerprint restores.
  std::vector<std::shared_ptr<const Migration>> migrations;

  /// What the snapshot may declare, and what the spec it carries may ask for
  /// (limits.h). Default: Limits's defaults.
  Limits limits;
};

// ---- journeys

/// The journey as bytes: "SCJN", the CRC-32 (IEEE, as zlib.crc32) of the
/// rest as a u32 little endian, then a serialized salescycle.v1.JourneySnapshot.
/// Deal strings are kept as bytes, whatever their encoding.
SC_API std::string SnapshotJourney(const Journey& journey);

/// Also reads snapshots from before the checksum (the bare message, which
/// starts with the byte 0x08), unchecked.
/// Errors: DataLoss for bytes that are not a journey snapshot or whose
/// checksum does not match ("checksum mismatch (stored ..., computed ...)");
/// FailedPrecondition naming both machines when the snapshot is of another
/// machine or version and no migration chain leads to `machine`, or when it
/// names a stage the machine lacks, or an attribute of another type;
/// InvalidArgument for a null machine, a snapshot of a newer format version,
/// or a history limit or string past options.limits.
[[nodiscard]] SC_API absl::StatusOr<Journey> RestoreJourney(
    absl::string_view bytes, std::shared_ptr<const Machine> machine,
    const RestoreOptions& options = {});

// ---- pipelines

/// Whether a part of a pipeline (SavePipelinePart) carries the pipeline's
/// funnel counters and input positions.
enum class PartCounters {
  kWithout,       ///< the part's deals alone
  kWithCounters,  ///< its deals, and the counters and positions of the whole
};

/// Where a pipeline snapshot goes. The target must outlive the Save call.
class SnapshotSink {
 public:
  /// Appends to `*out`.
  static SnapshotSink Bytes(std::string* out) { return SnapshotSink(out); }
  /// Writes a temporary file beside `path`, flushes it to disk and renames it
  /// over `path`: a failed save leaves any previous file at `path` intact.
  static SnapshotSink File(std::string path) { return SnapshotSink(std::move(path)); }
  /// Writes to `out`; a stream that fails is DataLoss.
  static SnapshotSink Stream(std::ostream& out) { return SnapshotSink(&out); }

 private:
  friend class internal::PipelineSaver;
  explicit SnapshotSink(std::string* bytes) : bytes_(bytes) {}
  explicit SnapshotSink(std::string path) : path_(std::move(path)) {}
  explicit SnapshotSink(std::ostream* stream) : stream_(stream) {}
  std::string* bytes_ = nullptr;
  std::string path_;
  std::ostream* stream_ = nullptr;
};

/// Where a pipeline snapshot comes from. The source must outlive the Load call.
class SnapshotSource {
 public:
  /// Reads `bytes` (not copied: they must outlive the load).
  static SnapshotSource Bytes(absl::string_view bytes) {
    return SnapshotSource(bytes);
  }
  /// Reads the file at `path`, as a stream (not into memory first).
  static SnapshotSource File(std::string path) {
    return SnapshotSource(std::move(path));
  }
  /// Reads `in` to its end.
  static SnapshotSource Stream(std::istream& in) { return SnapshotSource(&in); }

 private:
  friend class internal::PipelineLoader;
  explicit SnapshotSource(absl::string_view bytes)
      : bytes_(bytes), has_bytes_(true) {}
  explicit SnapshotSource(std::string path) : path_(std::move(path)) {}
  explicit SnapshotSource(std::istream* stream) : stream_(stream) {}
  absl::string_view bytes_;
  bool has_bytes_ = false;
  std::string path_;
  std::istream* stream_ = nullptr;
};

/// Errors: Unavailable / PermissionDenied etc. naming the path for a file
/// that cannot be written (the previous file is left as it was), DataLoss for
/// a stream that fails.
[[nodiscard]] SC_API absl::Status SavePipeline(const Pipeline& pipeline,
                                        const SnapshotSink& sink);

/// A new pipeline of `machine` holding the snapshot's deals, at their
/// DealIndex, with the snapshot's history limit.
/// Errors: DataLoss for bad bytes (wrong magic, a checksum mismatch, a
/// truncated stream, columns that do not add up), naming the frame;
/// InvalidArgument for a newer format version, a null machine, or a declared
/// count, history limit or string past options.limits (refused before
/// anything sized by it is allocated);
/// FailedPrecondition as for RestoreJourney; NotFound etc. naming the path.
[[nodiscard]] SC_API absl::StatusOr<Pipeline> LoadPipeline(
    const SnapshotSource& source, std::shared_ptr<const Machine> machine,
    const RestoreOptions& options = {});

/// A new pipeline onto the machine the snapshot carries (its spec, compiled
/// again: the same fingerprint). Errors: as LoadPipeline; InvalidArgument
/// naming the spec's problem when it uses named guards (which only the
/// caller can give: load with the machine then); FailedPrecondition for a
/// snapshot that carries no spec. Only options.limits applies (the machine is
/// the snapshot's own: there is nothing to migrate).
[[nodiscard]] SC_API absl::StatusOr<Pipeline> LoadPipeline(
    const SnapshotSource& source, const RestoreOptions& options = {});

/// Replaces the deals of `*pipeline` (onto its own machine) with the
/// snapshot's; its observers stay registered. All or nothing: on any error
/// `*pipeline` is left exactly as it was. Errors: as LoadPipeline;
/// InvalidArgument for a null pipeline.
[[nodiscard]] SC_API absl::Status LoadPipelineInto(const SnapshotSource& source,
                                            Pipeline* pipeline,
                                            const RestoreOptions& options = {});

/// \name Splitting and joining pipelines
/// To move deals between pipelines (rescaling sharded pipelines: the deals of
/// some key groups go to another shard), save each part of a pipeline with
/// SavePipelinePart and load the parts that go together with LoadPipelines.
///
/// The funnel counts every deal's past where it happened: a part carries its
/// deals' state and funnel marks, and, with PartCounters::kWithCounters, the
/// pipeline's counters and input positions as well. Give them to exactly one
/// part of each pipeline split, and the funnel of the joined pipelines (or of
/// all of them, merged) is the same, byte for byte, as if no deal had moved.
/// What a later move of a deal takes back from the counters (its cycle's
/// furthest stage on the funnel line; a loss its cycle may yet turn into a
/// win) goes with the deal, so that each part's counters stay whole.
/// @{

/// Writes the live `deals` of `pipeline` (each once; any order, which is the
/// order the part keeps them in, as deals 0, 1, ...) as a pipeline snapshot of
/// their own: stage, entry time, attributes, key or id, history and funnel
/// marks. The pipeline is not changed (remove the deals once the part is safe
/// elsewhere). Errors: as SavePipeline; InvalidArgument naming a deal that is
/// not live or is given twice; FailedPrecondition naming a deal that would
/// move (one of `deals`, or with the counters one left out) whose cycle went
/// out of order where the place it stays counted in order is not kept: past
/// the 30th stage of the funnel line, or restored from a snapshot older than
/// format 5 (it can move once it starts a new cycle).
[[nodiscard]] SC_API absl::Status SavePipelinePart(const Pipeline& pipeline,
                                                   absl::Span<const DealIndex> deals,
                                                   PartCounters counters,
                                                   const SnapshotSink& sink);

/// A new pipeline of `machine` holding the deals of every snapshot in
/// `sources`, in turn: the first's at their own indexes, each next one's after
/// the slots before (keys and ids are kept, indexes are not); their funnel
/// counters added, their input positions together. It takes the time of
/// reading every snapshot. Errors: as LoadPipeline, saying which snapshot
/// (its place in `sources`, from 0);
/// DataLoss for a key or id that two snapshots hold, or a source that both
/// have a position in; FailedPrecondition for snapshots of different history
/// limits, funnel tracking or cohort kinds; InvalidArgument for no sources,
/// a null machine or more slots in all than options.limits allow.
[[nodiscard]] SC_API absl::StatusOr<Pipeline> LoadPipelines(
    absl::Span<const SnapshotSource> sources, std::shared_ptr<const Machine> machine,
    const RestoreOptions& options = {});
/// @}

}  // namespace salescycle

#endif  // SALESCYCLE_SNAPSHOT_H_
