/// \file
/// A pipeline that survives its process: a snapshot plus a journal in a
/// directory, as leveldb's DB::Open.
///
/// \code
///   auto db = DurablePipeline::Open(machine, "/var/lib/crm/deals", {});
///   if (!db.ok()) ...                       // says what is wrong, and where
///   auto deal = (*db)->AddWithKey("acme-42", now);
///   auto step = (*db)->Fire(*deal, "qualify", now);  // journaled, then applied
///   (*db)->Read([&](const Pipeline& p) { ... });
/// \endcode
///
/// The promise: a change whose call returned (an acknowledged change)
/// survives a crash of the process, and under SyncPolicy::kEveryWrite of the
/// machine too; nothing that was never acknowledged appears. Every change
/// is written to the journal before it is applied; a change that fails (a
/// deal not found, a batch refused) is journaled too and fails the same way
/// at recovery, changing nothing.
///
/// Recovery: the latest snapshot, then its journal's changes in order,
/// through the same calls as live (so the machine must be the same, and its
/// named guards must decide as they did: the library is deterministic given
/// its input and the timestamps passed in; guards are the host's code).
/// A journal ends cleanly at a torn tail (the last record cut short by a
/// crash mid-write); a damaged record before the tail stops recovery with
/// DataLoss naming the file, the record and its offset, unless
/// `salvage_damaged_journal` keeps everything before it (see DurableOptions).
///
/// Directory: LOCK (flock'd while open: a second Open, in this process or
/// another, fails), snapshot-N (a pipeline snapshot, snapshot.h's format)
/// and journal-N (the changes since it, src/journal.h's format). Checkpoint
/// writes snapshot-N+1 atomically, starts journal-N+1, then deletes the
/// older pair; a crash at any point leaves a pair that recovers the same
/// state.
///
/// Thread safety: every method may be called from any thread. Writes are
/// serialized: one writer at a time leads a group commit, writing the
/// changes queued behind it to the journal in one write(2) and one fsync,
/// then applying them in journal order; each caller returns when its own
/// change is applied (and, under kEveryWrite, synced). Observers registered
/// on the pipeline (through Read's mutable twin, Update) are called on the
/// leading writer's thread. Read runs while no change is being applied.
#ifndef SALESCYCLE_DURABLE_H_
#define SALESCYCLE_DURABLE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class JournalWriter;
struct ChangeResult;
}  // namespace internal

/// When a DurablePipeline's journal reaches the disk.
enum class SyncPolicy {
  /// fdatasync before a write returns: an acknowledged change survives a
  /// power failure. Writers that arrive during a sync share the next one.
  kEveryWrite,
  /// A background thread syncs every `sync_interval_ms`: a crash of the
  /// machine (not of the process) can lose the changes of the last interval.
  kInterval,
  /// The operating system writes back when it likes: a crash of the process
  /// loses nothing acknowledged, a crash of the machine can lose anything
  /// since the last Sync or Checkpoint.
  kNone,
};

/// How a DurablePipeline opens, syncs and checkpoints.
struct DurableOptions {
  /// For a directory with no snapshot yet: the new pipeline's options. An
  /// existing directory keeps those its snapshot was saved with.
  PipelineOptions pipeline;
  /// When changes reach the disk. Default: before each change returns.
  SyncPolicy sync = SyncPolicy::kEveryWrite;
  /// For kInterval: 1 to 60000.
  int sync_interval_ms = 1;
  /// Make the directory when it does not exist (its parent must).
  bool create_if_missing = true;
  /// When the journal passes this many bytes, the write that passed it
  /// checkpoints (writes a snapshot, starts a new journal), bounding both the
  /// disk used and the time a recovery takes; 0: only Checkpoint() does.
  uint64_t checkpoint_after_bytes = uint64_t{256} << 20;
  /// A journal record that is damaged before the journal's end (a checksum
  /// mismatch with whole records after it) is data loss the library cannot
  /// repair. false: Open fails with DataLoss saying where. true: Open keeps
  /// the changes before it, renames the journal to journal-N.damaged (kept
  /// for whoever must find out what the rest held), checkpoints, and says
  /// where it stopped in recovery().
  bool salvage_damaged_journal = false;
  /// For the snapshot read at Open (the machine's migrations, limits).
  RestoreOptions restore;
};

/// What Open found.
struct RecoveryReport {
  uint64_t snapshot = 0;           ///< the N of snapshot-N it started from
  uint64_t deals_in_snapshot = 0;  ///< live deals
  uint64_t changes_replayed = 0;   ///< journal records applied after it
  uint64_t journal_bytes = 0;      ///< the journal's length when found
  /// Bytes after the last whole record that were dropped: a torn tail, or
  /// everything from a damaged record on (salvaged).
  uint64_t bytes_dropped = 0;
  bool torn_tail = false;  ///< the journal ended in a torn (cut short) record
  bool salvaged = false;   ///< a damaged record was salvaged past
  /// For a torn tail or a salvage: which file, what was found, at what offset.
  std::string stopped_at;
  bool created = false;  ///< the directory held no pipeline: a new one was made
};

/// A Pipeline kept in a directory: every change journaled before it is
/// applied, so that a crash loses nothing acknowledged (see the file
/// comment). Thread-safe.
class SC_API DurablePipeline {
 public:
  /// Opens (or creates) the durable pipeline in `dir`, recovering it.
  /// Errors: InvalidArgument for a null machine or options out of range;
  /// NotFound for a missing directory without create_if_missing;
  /// FailedPrecondition when another DurablePipeline has it open;
  /// DataLoss for a damaged snapshot or journal (naming file and offset);
  /// FailedPrecondition for a snapshot of another machine (as LoadPipeline);
  /// the errno's kind naming the path for a file that cannot be read or
  /// written.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DurablePipeline>> Open(
      std::shared_ptr<const Machine> machine, const std::string& dir,
      const DurableOptions& options = {});

  /// Syncs what was written (whatever the policy), then closes.
  ~DurablePipeline();
  DurablePipeline(const DurablePipeline&) = delete;
  DurablePipeline& operator=(const DurablePipeline&) = delete;

  // ---- changes
  /// Pipeline's changes of the same names, journaled. Each returns what
  /// Pipeline's does, or the journal's error: then the change was not
  /// applied, and every later change fails the same way (what reached the
  /// disk is unknown until a reopen has read it back: leveldb's rule). @{
  [[nodiscard]] absl::StatusOr<DealIndex> Add(Timestamp time, StageId entry_stage = kNoStage);
  [[nodiscard]] absl::StatusOr<DealIndex> AddWithId(uint64_t id, Timestamp time,
                                                    StageId entry_stage = kNoStage);
  [[nodiscard]] absl::StatusOr<DealIndex> AddWithKey(absl::string_view key, Timestamp time,
                                                     StageId entry_stage = kNoStage);
  [[nodiscard]] absl::Status Remove(DealIndex deal);
  [[nodiscard]] absl::Status Set(DealIndex deal, AttributeId id, AttributeValue value);
  [[nodiscard]] absl::StatusOr<StepResult> Fire(DealIndex deal, EventId event, Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> MoveTo(DealIndex deal, StageId stage, Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> Reopen(DealIndex deal, Timestamp time);
  [[nodiscard]] absl::StatusOr<int64_t> AdvanceTo(Timestamp now);
  ///@}
  /// Fire by event name. Errors: NotFound for an unknown event name, before
  /// anything is written; then as Fire.
  [[nodiscard]] absl::StatusOr<StepResult> Fire(DealIndex deal, absl::string_view event,
                                                Timestamp time);
  /// Pipeline's batches of the same names. A batch is one journal record:
  /// all or nothing, as Pipeline's. Errors: as Pipeline's; InvalidArgument
  /// for more than 2^27 records; the journal's, as for a change. @{
  [[nodiscard]] absl::StatusOr<BatchResult> Apply(absl::Span<const EventRecord> records);
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMoves(absl::Span<const StageRecord> records);
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyTimed(absl::Span<const EventRecord> records);
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMovesTimed(
      absl::Span<const StageRecord> records);
  ///@}
  /// Pipeline::ApplyAt and ApplyMovesAt, journaled: the input positions are
  /// recovered with the deals, so a replay of an input after a crash
  /// applies each record exactly once. Errors: as Apply's. @{
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyAt(absl::string_view source,
                                                    uint64_t first_offset,
                                                    absl::Span<const EventRecord> records,
                                                    ApplyMode mode = ApplyMode::kInOrder);
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMovesAt(
      absl::string_view source, uint64_t first_offset, absl::Span<const StageRecord> records,
      ApplyMode mode = ApplyMode::kInOrder);
  ///@}

  // ---- durability
  /// Syncs everything written so far (for kInterval and kNone).
  [[nodiscard]] absl::Status Sync();
  /// Writes snapshot-N+1 (atomically), starts journal-N+1, deletes the older
  /// pair. Writes wait meanwhile; reads do too.
  [[nodiscard]] absl::Status Checkpoint();

  // ---- reading
  /// Calls `fn` with the pipeline while no change is applied.
  /// Errors: FailedPrecondition, `fn` not called, from inside a Read or
  /// Update on the same thread (it would wait for itself); a change from
  /// there fails the same way.
  [[nodiscard]] absl::Status Read(absl::FunctionRef<void(const Pipeline&)> fn) const;
  /// As Read, for what changes no deal: registering observers (observer.h).
  /// A change made through the Pipeline here would not be journaled: don't.
  [[nodiscard]] absl::Status Update(absl::FunctionRef<void(Pipeline&)> fn);

  /// What Open found.
  const RecoveryReport& recovery() const { return recovery_; }
  /// The directory it was opened on.
  const std::string& dir() const { return dir_; }
  /// The machine its deals move through.
  const Machine& machine() const { return *machine_; }
  /// The current journal's number and length (for tests and monitoring). @{
  uint64_t journal_number() const;
  uint64_t journal_bytes() const;
  ///@}

 private:
  struct Writer;
  DurablePipeline(std::shared_ptr<const Machine> machine, std::string dir,
                  const DurableOptions& options, Pipeline pipeline, int lock_fd);
  absl::Status Recover();
  absl::Status Commit(Writer* writer);
  // ApplyAt and ApplyMovesAt: `flags` as the journal's kApplyAt takes them.
  absl::StatusOr<BatchResult> ApplyAtOffset(uint8_t flags, absl::string_view source,
                                            uint64_t first_offset, const void* records,
                                            size_t count);
  // With `lock` held on entry and exit; released while the journal is written.
  void LeadGroup(Writer* leader, std::unique_lock<std::mutex>& lock);
  absl::Status CheckpointLocked();  // mu_ held
  void SyncLoop();
  absl::Status Change(std::string body, internal::ChangeResult* result);

  const std::shared_ptr<const Machine> machine_;
  const std::string dir_;
  const DurableOptions options_;
  const int lock_fd_;
  RecoveryReport recovery_;

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees std::mutex
  // (through pthread), not a prebuilt Abseil's own locking, and the
  // concurrency tests run under it. Guarded by mu_: pipeline_, writers_,
  // error_, unsynced_, closing_.
  mutable std::mutex mu_;
  Pipeline pipeline_;
  std::deque<Writer*> writers_;
  absl::Status error_;  // sticky: the journal failed
  bool unsynced_ = false;
  bool closing_ = false;
  // The journal and what goes with it belong to the group's leader (one
  // thread at a time, with or without mu_ held).
  std::unique_ptr<internal::JournalWriter> journal_;
  uint64_t number_ = 0;
  uint64_t next_checkpoint_at_;
  std::string framed_;  // the group's records, reused
  // journal_number() and journal_bytes(), for any thread (from inside a
  // Read too: they take no lock).
  std::atomic<uint64_t> published_number_{0};
  std::atomic<uint64_t> published_bytes_{0};
  std::condition_variable sync_wakeup_;
  std::thread syncer_;
  // The thread inside Read or Update, if any: a call from it would wait
  // for itself, and is refused instead.
  mutable std::atomic<std::thread::id> reader_{};
};

}  // namespace salescycle

#endif  // SALESCYCLE_DURABLE_H_
