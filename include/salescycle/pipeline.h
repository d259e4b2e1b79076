/// \file
/// Many deals of one machine, in compact columnar memory.
///
/// Deals are addressed by a dense DealIndex (their slot) and optionally by an
/// external id: a uint64 (AddWithId) or a string key (AddWithKey). Each deal
/// costs, with history off: 2 bytes of stage, 8 of stage-entry time, 8 per
/// int64/double/bool attribute (string attributes hold a std::string), and
/// 1 bit per attribute plus 1 bit of timeout state; 64-bit ids and string
/// keys each once, in a column (keys: an arena) with an index beside it
/// (about 20 bytes a deal for an id; about 35 beside an 18-byte key's own
/// bytes). A machine that uses them adds (machine.h,
/// Machine::keeps_*): 8 bytes of last activity time, 4 of loss reason (an
/// index into the pipeline's list of reasons), 2 of the stage a deal was
/// closed from, 4 of cycle number. Stage counts are kept current on every
/// step.
///
/// Thread safety: a Pipeline needs external synchronization. Const methods may
/// run concurrently with each other; anything that changes it needs exclusive
/// access. Observers are called on the thread that applies the event.
#ifndef SALESCYCLE_PIPELINE_H_
#define SALESCYCLE_PIPELINE_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/attribute.h"
#include "salescycle/internal/column.h"
#include "salescycle/internal/string_column.h"
#include "salescycle/machine.h"
#include "salescycle/observer.h"
#include "salescycle/options.h"
#include "salescycle/step.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class PipelineInternal;
class FunnelAccumulator;
class IdIndex;
class KeyIndex;
class TimerQueue;
}  // namespace internal

/// One event for one deal, as Pipeline::Apply takes them. 16 bytes, no
/// padding: foreign callers lay out the same record.
struct EventRecord {
  DealIndex deal;  ///< the deal's slot (a removed one's record is rejected)
  uint32_t event;  ///< an EventId; 32 bits so the layout has no hole
  Timestamp time;  ///< when it happened
};
static_assert(sizeof(EventRecord) == 16, "EventRecord is a fixed layout");

/// One move by stage, as Pipeline::ApplyMoves takes them: "deal D was in
/// stage S from time T", a row of a CRM's stage-history export. 16 bytes.
struct StageRecord {
  DealIndex deal;  ///< the deal's slot
  uint32_t stage;  ///< a StageId
  Timestamp time;  ///< when the deal entered `stage`
};
static_assert(sizeof(StageRecord) == 16, "StageRecord is a fixed layout");

/// What a batch did.
struct BatchResult {
  /// Records accepted: moves and activities (updates, for moves by stage).
  uint64_t accepted = 0;
  /// Every other record: no transition, guard failed, missing attribute, or
  /// a removed deal.
  uint64_t rejected = 0;
  /// The threads that applied the batch: 1 for Apply, and for ApplyParallel
  /// the number that really ran (see ApplyParallel for when it uses fewer).
  int threads = 1;
  /// ApplyTimed and ApplyMovesTimed: the timeouts that fired between records.
  uint64_t timeouts_fired = 0;
  /// ApplyAt and ApplyMovesAt: records at offsets applied before, passed
  /// over (neither accepted nor rejected).
  uint64_t skipped = 0;
};

/// How ApplyAt and ApplyMovesAt apply the records they do not skip.
enum class ApplyMode : uint8_t {
  kInOrder,  ///< as Apply and ApplyMoves
  kTimed,    ///< as ApplyTimed and ApplyMovesTimed
};

/// The longest input source name ApplyAt takes, in bytes.
inline constexpr size_t kMaxSourceNameBytes = 1024;

/// Many deals of one machine, in columns, moved in batches.
class SC_API Pipeline {
 public:
  /// An empty pipeline. On failure: InvalidArgument if `machine` is null.
  [[nodiscard]] static absl::StatusOr<Pipeline> Create(
      std::shared_ptr<const Machine> machine,
      const PipelineOptions& options = {});

  /// Movable; a moved-from pipeline may only be assigned to or destroyed.
  /// @{
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;
  ///@}
  /// Copies would double gigabytes silently; there is no need for them.
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline();

  /// The machine its deals move through (shared, immutable). @{
  const Machine& machine() const { return *machine_; }
  const std::shared_ptr<const Machine>& machine_ptr() const { return machine_; }
  ///@}
  /// What the pipeline keeps: the options it was created with, or for a
  /// restored one the snapshot's history limit and funnel (analytics).
  const PipelineOptions& options() const { return options_; }
  /// Live deals.
  size_t size() const { return live_; }
  /// Slots, live or removed: every DealIndex is below this.
  size_t slot_count() const { return stage_.size(); }

  // ---- adding, removing, finding
  /// Adds a deal in `entry_stage` (kNoStage: the initial stage), entered at
  /// `time`, attributes unset, last active at `time`, in its first cycle.
  /// Its creation is its entry into that stage and into no stage before it.
  /// Reuses the lowest removed slot if there is one, so which slot a deal
  /// gets depends only on the pipeline's state (and a restored snapshot
  /// hands out the same slots as the pipeline it was taken from).
  /// Errors: InvalidArgument when `entry_stage` is not one of the machine's
  /// entry stages; ResourceExhausted when 2^32 - 1 slots are in use;
  /// AlreadyExists when the id or key is taken. AddWithId and AddWithKey
  /// give the deal an external id or key, by which FindById and FindByKey
  /// find it. @{
  [[nodiscard]] absl::StatusOr<DealIndex> Add(Timestamp time,
                                              StageId entry_stage = kNoStage);
  [[nodiscard]] absl::StatusOr<DealIndex> AddWithId(
      uint64_t id, Timestamp time, StageId entry_stage = kNoStage);
  [[nodiscard]] absl::StatusOr<DealIndex> AddWithKey(
      absl::string_view key, Timestamp time, StageId entry_stage = kNoStage);
  ///@}
  /// Errors: NotFound if `deal` is not live. Its external id is released.
  [[nodiscard]] absl::Status Remove(DealIndex deal);
  /// The live deal with this external id or key. Errors: NotFound naming
  /// the id or key. @{
  [[nodiscard]] absl::StatusOr<DealIndex> FindById(uint64_t id) const;
  [[nodiscard]] absl::StatusOr<DealIndex> FindByKey(absl::string_view key) const;
  ///@}
  /// As FindByKey, without building an error for a key that is not there:
  /// for callers that add a deal when its key is new.
  std::optional<DealIndex> IndexOfKey(absl::string_view key) const;
  /// The deal's external id or key; none for a deal added without one, or
  /// not live. @{
  std::optional<uint64_t> IdOf(DealIndex deal) const;
  std::optional<std::string> KeyOf(DealIndex deal) const;
  ///@}
  /// OkStatus for a live deal; NotFound saying whether it was removed or
  /// never added otherwise.
  [[nodiscard]] absl::Status CheckLive(DealIndex deal) const;
  /// Whether `deal` is a live deal's slot.
  bool Contains(DealIndex deal) const {
    return deal < stage_.size() && stage_[deal] != removed_stage_;
  }

  // ---- state of one deal. REQUIRES: Contains(deal).
  // Debug builds (no NDEBUG) check every REQUIRES: of this header.
  /// The deal's stage. REQUIRES: Contains(deal).
  StageId stage(DealIndex deal) const {
    assert(Contains(deal));
    return stage_[deal];
  }
  /// When the deal entered its stage. REQUIRES: Contains(deal).
  Timestamp entered_at(DealIndex deal) const {
    assert(Contains(deal));
    return entered_at_[deal];
  }
  /// Oldest first; empty when history is off or `deal` is not live.
  std::vector<HistoryEntry> History(DealIndex deal) const;
  /// The time of the deal's last activity (its creation when it has had
  /// none); its entry time when the machine keeps no activity times.
  Timestamp last_activity(DealIndex deal) const {
    assert(Contains(deal));
    return last_activity_.empty() ? entered_at_[deal] : last_activity_[deal];
  }
  /// Where the stall clock of the deal's stage started: its entry, or for a
  /// stage whose clock is LAST_ACTIVITY the later of entry and last activity.
  Timestamp ClockStart(DealIndex deal) const;
  /// The reason recorded when the deal last entered a LOST stage; "" when it
  /// is not in one, or the stage records none.
  absl::string_view LossReason(DealIndex deal) const {
    assert(Contains(deal));
    return loss_reason_.empty() ? absl::string_view()
                                : reasons_[loss_reason_[deal]];
  }
  /// The open stage the deal was last closed from; kNoStage when it never
  /// closed or the machine has no reopenable stage.
  StageId closed_from(DealIndex deal) const {
    assert(Contains(deal));
    return closed_from_.empty() ? kNoStage : closed_from_[deal];
  }
  /// 1 for a deal's first cycle; one more each time it takes a new_cycle
  /// transition (a repeat purchase, a new attempt after a loss). Always 1
  /// when the machine has none.
  uint32_t cycle(DealIndex deal) const {
    assert(Contains(deal));
    return cycle_.empty() ? 1 : cycle_[deal];
  }

  // ---- attributes
  /// Sets an attribute of a deal. Errors: NotFound for a deal that is not
  /// live; InvalidArgument for an id out of range or a value of the wrong
  /// type. Nothing changes on error.
  [[nodiscard]] absl::Status Set(DealIndex deal, AttributeId id,
                                 AttributeValue value);
  /// The value, or the declared default when unset. Errors: as Set.
  [[nodiscard]] absl::StatusOr<AttributeValue> Get(DealIndex deal,
                                                   AttributeId id) const;
  /// False for a deal that is not live or an id out of range.
  bool IsSet(DealIndex deal, AttributeId id) const;

  // ---- moving deals (the machine's transition core decides every step)
  /// A rejection is a result, not an error. Errors: NotFound for a deal that
  /// is not live; InvalidArgument for an event out of range; NotFound for an
  /// unknown event name. Nothing changes on error. @{
  [[nodiscard]] absl::StatusOr<StepResult> Fire(DealIndex deal, EventId event,
                                                Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> Fire(DealIndex deal,
                                                absl::string_view event,
                                                Timestamp time);
  ///@}
  /// Moves the deal to `stage` by stage (Machine::StepTo): the first declared
  /// transition between the two stages whose guard holds. Naming the stage
  /// the deal is in records an activity (an update), never a move. With no
  /// declared transition, naming the stage a deal in a reopenable closed
  /// stage was closed from reopens it (as Reopen): a reopened deal shows so
  /// in a CRM's stage history. A rejection's explanation names both stages. Errors: NotFound for a deal
  /// that is not live or an unknown stage name; InvalidArgument for a stage
  /// id out of range. Nothing changes on error. @{
  [[nodiscard]] absl::StatusOr<StepResult> MoveTo(DealIndex deal,
                                                  StageId stage,
                                                  Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> MoveTo(DealIndex deal,
                                                  absl::string_view stage,
                                                  Timestamp time);
  ///@}
  /// Reopens a deal in a reopenable closed stage into the stage it was
  /// closed from, in the same cycle, without guards or required attributes
  /// (it was there). Anything else is rejected with
  /// Outcome::kNotReopenable. Errors: NotFound for a deal that is not live.
  [[nodiscard]] absl::StatusOr<StepResult> Reopen(DealIndex deal,
                                                  Timestamp time);

  /// Applies the records in order. All of them are checked first: a deal
  /// index at or past slot_count() or an event out of range fails the whole
  /// batch with InvalidArgument naming the record, and nothing is applied.
  /// A record for a removed deal is rejected (Outcome::kNoDeal), not an
  /// error, so that the check pass needs to read only the records.
  /// Allocates nothing while history is off or reserved, and observers
  /// are none or allocate nothing themselves.
  [[nodiscard]] absl::StatusOr<BatchResult> Apply(
      absl::Span<const EventRecord> records);
  /// Apply reads the records twice (to check them all, then to apply
  /// them): no thread may write them during the call, as for memcpy's
  /// arguments. ApplySharedBuffer is Apply for a buffer another thread may
  /// write meanwhile (the C API's, which Python and Go threads share): each
  /// record is read once where it is applied and checked again, so one
  /// written since the check is refused or applied as it then reads, never
  /// out of bounds. About 14% slower (bench/RESULTS.md). Moves by stage,
  /// timed batches, observers, history and ApplyParallel check always.
  [[nodiscard]] absl::StatusOr<BatchResult> ApplySharedBuffer(
      absl::Span<const EventRecord> records);

  /// Apply, split across up to `threads` threads by deal: each thread owns
  /// a contiguous share of the slots and steps, in order, the records of its
  /// deals, so every deal sees its events in batch order and the result
  /// (states, counts, accepted and rejected) is Apply's, all or nothing as
  /// Apply's. The calling thread works too; threads are started per call;
  /// nothing is copied, but every thread reads the whole batch.
  /// It is Apply itself, on the calling thread, when the result could
  /// otherwise differ: with named guards (the host's code, which need not be
  /// thread-safe and may read the pipeline), observers (called in record
  /// order), history or analytics on. It is one thread too where more do
  /// not pay: on a machine whose every cell is a bare table move (no guard,
  /// no required attribute), where reading the batch in every thread costs
  /// what the split saves (two threads ran at 0.87-1.0x of one on cycle9,
  /// 1.2-1.4x on cycle9-guarded: bench/RESULTS.md), and with fewer than 4096
  /// slots or 65536 records a thread. BatchResult::threads says how many
  /// ran; measure with `salescycle_replay --threads N`.
  /// Errors: as Apply; InvalidArgument for threads outside 1..64.
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyParallel(
      absl::Span<const EventRecord> records, int threads);
  /// The most threads ApplyParallel takes.
  static constexpr int kMaxApplyThreads = 64;

  /// Moves by stage, in order, as Apply applies events: checked first (a
  /// deal at or past slot_count() or a stage out of range fails the whole
  /// batch, nothing applied); a removed deal's record is rejected. Accepted
  /// counts moves and updates (records naming the deal's own stage).
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMoves(
      absl::Span<const StageRecord> records);

  /// Apply and ApplyMoves in time, as a stream happened: before each record,
  /// every timeout due before the record's time fires (each at its due
  /// time, in due order, as AdvanceTo(time - 1) would), so that a deal that
  /// went cold before its next row is lost before that row is applied; a
  /// timeout due at a record's own time fires after it (the record wins the
  /// tie). Records should be in time order: the clock only goes forward.
  /// BatchResult::timeouts_fired counts them. For a machine without timeouts
  /// these are Apply and ApplyMoves. Pending timeouts are kept between calls
  /// (16 bytes a deal with one pending), so a stream costs no scan of the
  /// deals per batch; Apply and ApplyParallel, which step around them, make
  /// the next timed call or AdvanceTo scan once.
  /// Errors: as Apply and ApplyMoves. @{
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyTimed(
      absl::Span<const EventRecord> records);
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMovesTimed(
      absl::Span<const StageRecord> records);
  ///@}

  // ---- input positions: exactly-once replay
  /// Applies `records` as Apply (ApplyTimed with ApplyMode::kTimed) does,
  /// the record at index i being at offset first_offset + i of the input
  /// `source` (a file, a Kafka partition, a shard's stream: any name, UTF-8,
  /// 1 to kMaxSourceNameBytes bytes). Records at offsets below
  /// Position(source), applied before, are passed over and counted in
  /// BatchResult::skipped; the rest are applied, all or nothing as Apply's,
  /// and then Position(source) is first_offset + records.size() (it never
  /// goes back). Positions are saved in snapshots with the deals, so a
  /// replay of an input from any earlier offset after a restore applies
  /// each record exactly once. Offsets may jump forward: a gap is not an
  /// error (a compacted topic, rows that were not events).
  /// Errors: as Apply; InvalidArgument for a source name that is empty, too
  /// long or not UTF-8, or offsets past 2^64 - 1.
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyAt(absl::string_view source,
                                                    uint64_t first_offset,
                                                    absl::Span<const EventRecord> records,
                                                    ApplyMode mode = ApplyMode::kInOrder);
  /// ApplyAt for moves by stage (ApplyMoves, ApplyMovesTimed); sources and
  /// positions are shared with ApplyAt's.
  [[nodiscard]] absl::StatusOr<BatchResult> ApplyMovesAt(
      absl::string_view source, uint64_t first_offset, absl::Span<const StageRecord> records,
      ApplyMode mode = ApplyMode::kInOrder);
  /// The first offset of `source` not applied yet: 0 for a source never
  /// applied from.
  uint64_t Position(absl::string_view source) const;
  /// Every source's position, by name.
  std::vector<std::pair<std::string, uint64_t>> Positions() const;

  /// Fires every timeout that fell due at or before `now`, in order of due
  /// time, then of DealIndex, each at its due time; a deal cascades through
  /// at most 64 timeouts per call. Returns the number fired. See
  /// Journey::AdvanceTo for the rules. The pending timeouts are found by one
  /// scan of the deals when no timed call has kept them (see ApplyTimed).
  int64_t AdvanceTo(Timestamp now);

  // ---- counts and iteration
  /// Live deals in `stage`. REQUIRES: stage < machine().num_stages().
  uint64_t StageCount(StageId stage) const {
    assert(stage < removed_stage_);
    return stage_counts_[stage];
  }
  /// Calls `fn` with every live deal in `stage`, in DealIndex order. Scans
  /// the stage column: O(slot_count()).
  void ForEachDealInStage(StageId stage,
                          absl::FunctionRef<void(DealIndex)> fn) const;
  /// The live deals in `stage`, in DealIndex order (ForEachDealInStage's).
  std::vector<DealIndex> DealsInStage(StageId stage) const;

  /// Bytes held by the columns (capacity, not size: pages reserved but not
  /// yet written count, though they are not resident), the history, the
  /// free list, the funnel's counters, the deals' keys and ids (their
  /// bytes, columns and lookup sets) and string attributes (4 bytes a
  /// deal and each distinct value once while an attribute's values are
  /// fewer than a third of the slots; one std::string a slot past that,
  /// heap copies included).
  size_t MemoryUsage() const;

  /// See observer.h. Null is ignored.
  void AddObserver(Observer* observer);
  /// Unregisters `observer` (one registration of it); unknown ones are
  /// ignored.
  void RemoveObserver(Observer* observer);

 private:
  friend class internal::PipelineInternal;

  Pipeline(std::shared_ptr<const Machine> machine,
           const PipelineOptions& options);
  absl::StatusOr<DealIndex> NewDeal(Timestamp time, StageId entry_stage);
  void NotifyAdded(DealIndex deal) const;
  absl::Status CheckEntryStage(StageId stage) const;
  // What a step changes beyond the stage columns (Core::Bookkeep: loss
  // reasons, closed-from stages, cycles, activity times, the timeout bit),
  // before they change.
  void Bookkeep(DealIndex deal, const StepResult& step);
  // The batch loops' calls: kept out of their code.
  void BookkeepOutOfLine(DealIndex deal, StepResult step);
  void NoteUnmoved(DealIndex deal, const StepResult& step);
  uint32_t InternReason(absl::string_view reason);
  void Move(DealIndex deal, StageId from, StageId to, Timestamp time) {
    stage_[deal] = to;
    entered_at_[deal] = time;
    --stage_counts_[from];
    ++stage_counts_[to];
  }
  void Record(DealIndex deal, const StepResult& step);
  bool TimeoutConsumed(DealIndex deal) const {
    return (timeout_consumed_[deal >> 6] >> (deal & 63)) & 1;
  }
  void SetTimeoutConsumed(DealIndex deal, bool consumed);
  absl::Status CheckBatch(absl::Span<const EventRecord> records) const;
  void RecountStages();
  // Appends `n` empty slots to every column, each at its default: removed,
  // attributes unset and at their defaults, no timeout fired, no history.
  void AppendSlots(size_t n);
  // Stage counts, live deals and the free list, from the stage column.
  void RebuildFromStages();
  // The batch loops' view of the table and columns (see pipeline.cc).
  struct HotColumns;
  HotColumns Hot();
  template <bool kTrackTimeouts, bool kAnalytics, bool kShared = false>
  bool StepUnobserved(const HotColumns& hot, const EventRecord& r,
                      uint64_t* counts);
  template <bool kTrackTimeouts, bool kAnalytics, bool kShared>
  uint64_t ApplyUnobserved(absl::Span<const EventRecord> records,
                           uint64_t* counts);
  template <bool kShared>
  absl::StatusOr<BatchResult> ApplyBatch(absl::Span<const EventRecord> records);
  // Whether a record read from a batch indexes within the pipeline.
  bool InRange(const EventRecord& r) const {
    return r.deal < stage_.size() && r.event < static_cast<uint32_t>(machine_->num_events());
  }
  bool InRange(const StageRecord& r) const {
    return r.deal < stage_.size() && r.stage < static_cast<uint32_t>(machine_->num_stages());
  }
  template <bool kTrackTimeouts>
  uint64_t ApplyOwned(absl::Span<const EventRecord> records, DealIndex lo,
                      DealIndex hi);
  // How many threads ApplyParallel runs, when asked for `wanted`.
  int ParallelThreads(size_t records, int wanted) const;
  uint64_t ApplyRecorded(absl::Span<const EventRecord> records);
  absl::Status CheckMoves(absl::Span<const StageRecord> records) const;
  StepResult DecideStageRecord(const StageRecord& r) const;
  // Steps `records` in order through Record; with `timed`, fires what falls
  // due before each first. `decide(record)` is the core's step for it.
  template <typename Record, typename Decide>
  BatchResult StepInOrder(absl::Span<const Record> records, bool timed,
                          Decide&& decide);
  // ---- pending timeouts (timer_queue.h)
  Timestamp CurrentDue(DealIndex deal) const;
  // Builds the queue from the columns unless it is kept already.
  void EnsureTimers();
  // Queues the deal's pending timeout, if the queue is kept and it has one.
  void QueueTimeout(DealIndex deal);
  void InvalidateTimers();
  // Fires what is due at or before `now`; the queue must be kept.
  int64_t FireDue(Timestamp now);
  // ApplyAt's bookkeeping: how many of the `count` records from
  // `first_offset` were applied before, and the position after them.
  absl::StatusOr<uint64_t> AlreadyApplied(absl::string_view source, uint64_t first_offset,
                                          size_t count) const;
  void AdvancePosition(absl::string_view source, uint64_t next);
  template <typename BatchRecord, typename ApplyRest>
  absl::StatusOr<BatchResult> ApplyFromOffset(absl::string_view source, uint64_t first_offset,
                                              absl::Span<const BatchRecord> records,
                                              ApplyRest apply_rest);

  std::shared_ptr<const Machine> machine_;
  PipelineOptions options_;
  // The stage value of a removed slot: machine_->num_stages(), whose table
  // row rejects every event.
  StageId removed_stage_;
  size_t live_ = 0;

  internal::Column<StageId> stage_;
  internal::Column<Timestamp> entered_at_;
  internal::Column<uint64_t> timeout_consumed_;        // bit per slot
  std::vector<internal::Column<uint64_t>> scalars_;    // [scalar slot][deal]
  std::vector<internal::StringColumn> strings_;       // [string slot][deal]
  std::vector<internal::Column<uint64_t>> set_bits_;   // [attribute][deal / 64]
  internal::Column<HistoryEntry> history_;  // history_limit entries per slot
  internal::Column<uint64_t> history_count_;
  std::vector<DealIndex> free_slots_;  // a min-heap
  // Per deal, each empty unless the machine keeps it (Machine::keeps_*).
  internal::Column<Timestamp> last_activity_;
  internal::Column<uint32_t> loss_reason_;  // index into reasons_
  internal::Column<StageId> closed_from_;
  internal::Column<uint32_t> cycle_;
  // Loss reasons interned: reasons_[0] is "" (none).
  std::vector<std::string> reasons_;
  absl::flat_hash_map<std::string, uint32_t> reason_ids_;
  std::vector<uint64_t> stage_counts_;  // num_stages + 1 (removed row)

  // Deal ids (src/key_index.h); null until the first id is given.
  std::unique_ptr<internal::IdIndex> ids_;
  // Deal keys (src/key_index.h); null until the first key is given.
  std::unique_ptr<internal::KeyIndex> keys_;

  // Input positions (ApplyAt): the first offset not applied, by source.
  absl::flat_hash_map<std::string, uint64_t> positions_;

  std::vector<Observer*> observers_;
  // Pending timeouts; null until a timed call or AdvanceTo needs them.
  std::unique_ptr<internal::TimerQueue> timers_;
  // Funnel counters (funnel.h); null when analytics are off.
  std::unique_ptr<internal::FunnelAccumulator> analytics_;
};

}  // namespace salescycle

#endif  // SALESCYCLE_PIPELINE_H_
