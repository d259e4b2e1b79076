#include "salescycle/pipeline.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <thread>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/numeric/bits.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/attribute_codec.h"
#include "src/analytics.h"
#include "src/core.h"
#include "src/key_index.h"
#include "src/pipeline_internal.h"
#include "src/timer_queue.h"
#include "src/utf8.h"
#include "src/status_macros.h"

namespace salescycle {

using internal::Core;

// The core's view of one deal's attributes in the columns.
class PipelineAttributes {
 public:
  // The slot table is looked up once: a guard may read several attributes.
  PipelineAttributes(const Pipeline& p, DealIndex deal)
      : p_(p), deal_(deal),
        slots_(internal::MachineInternal::program(p.machine())
                   .attribute_slot.data()) {}
  bool IsSet(AttributeId id) const { return PI::is_set(p_, id, deal_); }
  int64_t GetInt64(AttributeId id) const {
    return static_cast<int64_t>(Scalar(id));
  }
  double GetDouble(AttributeId id) const {
    return internal::BitsDouble(Scalar(id));
  }
  bool GetBool(AttributeId id) const { return Scalar(id) != 0; }
  absl::string_view GetString(AttributeId id) const {
    return PI::string_value(p_, slots_[id], deal_);
  }

 private:
  using PI = internal::PipelineInternal;
  uint64_t Scalar(AttributeId id) const {
    return PI::scalar_bits(p_, slots_[id], deal_);
  }
  const Pipeline& p_;
  DealIndex deal_;
  const uint16_t* slots_;
};

absl::StatusOr<Pipeline> Pipeline::Create(
    std::shared_ptr<const Machine> machine, const PipelineOptions& options) {
  if (machine == nullptr) {
    return absl::InvalidArgumentError("Pipeline::Create: machine is null");
  }
  SC_RETURN_IF_ERROR(internal::CheckHistoryLimit(options.history_limit));
  if (options.expected_deals >= kNoDeal) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected_deals ", options.expected_deals,
                     " is more than a pipeline holds (2^32 - 1)"));
  }
  return Pipeline(std::move(machine), options);
}

Pipeline::Pipeline(std::shared_ptr<const Machine> machine,
                   const PipelineOptions& options)
    : machine_(std::move(machine)),
      options_(options),
      removed_stage_(static_cast<StageId>(machine_->num_stages())),
      scalars_(Core::ScalarDefaults(*machine_).size()),
      set_bits_(machine_->num_attributes()),
      reasons_(1),
      stage_counts_(machine_->num_stages() + 1, 0) {
  for (const std::string& value : Core::StringDefaults(*machine_)) {
    strings_.emplace_back(value);
  }
  if (options.analytics.enabled) {
    analytics_ = std::make_unique<internal::FunnelAccumulator>(
        *machine_, options.analytics.cohort);
  }
  const size_t n = options.expected_deals;
  if (n > 0) {
    stage_.reserve(n);
    entered_at_.reserve(n);
    timeout_consumed_.reserve((n + 63) / 64);
    for (auto& column : scalars_) column.reserve(n);
    for (auto& column : strings_) column.Reserve(n);
    for (auto& bits : set_bits_) bits.reserve((n + 63) / 64);
    if (machine_->keeps_last_activity()) last_activity_.reserve(n);
    if (machine_->keeps_loss_reasons()) loss_reason_.reserve(n);
    if (machine_->keeps_closed_from()) closed_from_.reserve(n);
    if (machine_->keeps_cycles()) cycle_.reserve(n);
    if (analytics_ != nullptr) analytics_->Reserve(n);
    if (options.history_limit > 0) {
      history_.reserve(n * options.history_limit);
      history_count_.reserve(n);
    }
  }
}

Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
Pipeline::~Pipeline() = default;

absl::Status Pipeline::CheckEntryStage(StageId stage) const {
  if (stage == kNoStage || machine_->IsEntryStage(stage)) {
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (StageId s : machine_->entry_stages()) {
    names.push_back(machine_->stage(s).id);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      stage < machine_->num_stages()
          ? absl::StrCat("stage \"", machine_->stage(stage).id, "\"")
          : absl::StrCat("stage id ", stage),
      " is not an entry stage of machine \"", machine_->name(),
      "\" (deals may be created in: ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<DealIndex> Pipeline::NewDeal(Timestamp time,
                                            StageId entry_stage) {
  SC_RETURN_IF_ERROR(CheckEntryStage(entry_stage));
  DealIndex deal;
  if (!free_slots_.empty()) {
    std::pop_heap(free_slots_.begin(), free_slots_.end(), std::greater<>());
    deal = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (stage_.size() >= kNoDeal) {
      return absl::ResourceExhaustedError(
          absl::StrCat("pipeline is full: ", stage_.size(), " slots"));
    }
    deal = static_cast<DealIndex>(stage_.size());
    AppendSlots(1);
  }
  // A reused slot is reset to a new deal's state, like a fresh one.
  const StageId initial =
      entry_stage == kNoStage ? machine_->initial_stage() : entry_stage;
  stage_[deal] = initial;
  entered_at_[deal] = time;
  if (!last_activity_.empty()) last_activity_[deal] = time;
  if (!loss_reason_.empty()) loss_reason_[deal] = 0;
  if (!closed_from_.empty()) closed_from_[deal] = kNoStage;
  if (!cycle_.empty()) cycle_[deal] = 1;
  SetTimeoutConsumed(deal, false);
  const auto& scalar_defaults = Core::ScalarDefaults(*machine_);
  for (size_t s = 0; s < scalars_.size(); ++s) {
    scalars_[s][deal] = scalar_defaults[s];
  }
  for (auto& column : strings_) column.Reset(deal);
  for (auto& bits : set_bits_) bits[deal >> 6] &= ~(uint64_t{1} << (deal & 63));
  if (options_.history_limit > 0) history_count_[deal] = 0;
  if (analytics_ != nullptr) analytics_->OnAdd(deal, initial, time);
  ++stage_counts_[initial];
  ++live_;
  QueueTimeout(deal);
  return deal;
}

void Pipeline::NotifyAdded(DealIndex deal) const {
  internal::ForEachObserver(observers_, [&](Observer* o) {
    o->OnAdd(deal, stage_[deal], entered_at_[deal]);
  });
}

absl::StatusOr<DealIndex> Pipeline::Add(Timestamp time, StageId entry_stage) {
  SC_ASSIGN_OR_RETURN(const DealIndex deal, NewDeal(time, entry_stage));
  NotifyAdded(deal);
  return deal;
}

absl::StatusOr<DealIndex> Pipeline::AddWithId(uint64_t id, Timestamp time,
                                              StageId entry_stage) {
  if (ids_ != nullptr) {
    if (const std::optional<DealIndex> found = ids_->Find(id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("deal id ", id, " is taken by deal ", *found));
    }
  }
  SC_ASSIGN_OR_RETURN(const DealIndex deal, NewDeal(time, entry_stage));
  if (ids_ == nullptr) ids_ = std::make_unique<internal::IdIndex>();
  const bool inserted = ids_->Insert(id, deal);  // not taken: looked up above
  assert(inserted);
  (void)inserted;
  NotifyAdded(deal);
  return deal;
}

absl::StatusOr<DealIndex> Pipeline::AddWithKey(absl::string_view key,
                                               Timestamp time,
                                               StageId entry_stage) {
  if (const std::optional<DealIndex> found = IndexOfKey(key)) {
    return absl::AlreadyExistsError(absl::StrCat("deal key \"",
                                                 absl::CEscape(key),
                                                 "\" is taken by deal ",
                                                 *found));
  }
  SC_ASSIGN_OR_RETURN(const DealIndex deal, NewDeal(time, entry_stage));
  if (keys_ == nullptr) keys_ = std::make_unique<internal::KeyIndex>();
  const bool inserted = keys_->Insert(key, deal);  // not taken: looked up above
  assert(inserted);
  (void)inserted;
  NotifyAdded(deal);
  return deal;
}

absl::Status Pipeline::CheckLive(DealIndex deal) const {
  if (Contains(deal)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat(
      "deal ", deal, " is not in the pipeline (",
      deal < stage_.size() ? "removed" : "never added", "; ", live_,
      " live deals in ", stage_.size(), " slots)"));
}

absl::Status Pipeline::Remove(DealIndex deal) {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  --stage_counts_[stage_[deal]];
  stage_[deal] = removed_stage_;
  for (auto& column : strings_) column.Set(deal, "");
  if (ids_ != nullptr) ids_->Erase(deal);
  if (keys_ != nullptr) keys_->Erase(deal);
  free_slots_.push_back(deal);
  std::push_heap(free_slots_.begin(), free_slots_.end(), std::greater<>());
  --live_;
  internal::ForEachObserver(observers_, [&](Observer* o) { o->OnRemove(deal); });
  return absl::OkStatus();
}

absl::StatusOr<DealIndex> Pipeline::FindById(uint64_t id) const {
  const std::optional<DealIndex> deal = ids_ == nullptr ? std::nullopt : ids_->Find(id);
  if (!deal) return absl::NotFoundError(absl::StrCat("no deal with id ", id));
  return *deal;
}

absl::StatusOr<DealIndex> Pipeline::FindByKey(absl::string_view key) const {
  const std::optional<DealIndex> deal = IndexOfKey(key);
  if (!deal) {
    return absl::NotFoundError(
        absl::StrCat("no deal with key \"", absl::CEscape(key), "\""));
  }
  return *deal;
}

std::optional<DealIndex> Pipeline::IndexOfKey(absl::string_view key) const {
  if (keys_ == nullptr) return std::nullopt;
  return keys_->Find(key);
}

std::optional<uint64_t> Pipeline::IdOf(DealIndex deal) const {
  if (ids_ == nullptr || !Contains(deal)) return std::nullopt;
  return ids_->IdOf(deal);
}

std::optional<std::string> Pipeline::KeyOf(DealIndex deal) const {
  if (keys_ == nullptr || !Contains(deal)) return std::nullopt;
  const std::optional<absl::string_view> key = keys_->KeyOf(deal);
  if (!key) return std::nullopt;
  return std::string(*key);
}

std::vector<HistoryEntry> Pipeline::History(DealIndex deal) const {
  if (!Contains(deal) || options_.history_limit == 0) return {};
  return internal::CopyHistory(&history_[deal * options_.history_limit],
                               options_.history_limit, history_count_[deal]);
}

absl::Status Pipeline::Set(DealIndex deal, AttributeId id,
                           AttributeValue value) {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  SC_RETURN_IF_ERROR(internal::CheckAttributeWrite(*machine_, id, value));
  const uint16_t slot = Core::Slot(*machine_, id);
  if (value.type() == AttributeType::kString) {
    strings_[slot].Set(deal, value.string_value());
  } else {
    scalars_[slot][deal] = internal::ScalarBits(value);
  }
  set_bits_[id][deal >> 6] |= uint64_t{1} << (deal & 63);
  internal::ForEachObserver(observers_, [&](Observer* o) { o->OnSet(deal, id, value); });
  return absl::OkStatus();
}

absl::StatusOr<AttributeValue> Pipeline::Get(DealIndex deal,
                                             AttributeId id) const {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  SC_RETURN_IF_ERROR(internal::CheckAttribute(*machine_, id));
  const AttributeType type = machine_->attribute(id).type;
  const uint16_t slot = Core::Slot(*machine_, id);
  if (type == AttributeType::kString) {
    return AttributeValue::String(strings_[slot][deal]);
  }
  return internal::ScalarValue(type, scalars_[slot][deal]);
}

bool Pipeline::IsSet(DealIndex deal, AttributeId id) const {
  return Contains(deal) && id < machine_->num_attributes() &&
         PipelineAttributes(*this, deal).IsSet(id);
}

void Pipeline::SetTimeoutConsumed(DealIndex deal, bool consumed) {
  uint64_t& word = timeout_consumed_[deal >> 6];
  const uint64_t bit = uint64_t{1} << (deal & 63);
  word = consumed ? (word | bit) : (word & ~bit);
}

uint32_t Pipeline::InternReason(absl::string_view reason) {
  if (reason.empty()) return 0;
  const auto [it, inserted] = reason_ids_.try_emplace(
      reason, static_cast<uint32_t>(reasons_.size()));
  if (inserted) reasons_.emplace_back(reason);
  return it->second;
}

// One deal's state beyond its stage, for Core::Bookkeep.
class PipelineDeal {
 public:
  PipelineDeal(Pipeline* p, DealIndex deal) : p_(p), deal_(deal) {}
  void SetLastActivity(Timestamp t) { PI::SetLastActivity(p_, deal_, t); }
  void SetLossReason(absl::string_view reason) {
    PI::SetLossReason(p_, deal_, reason);
  }
  void SetClosedFrom(StageId stage) { PI::SetClosedFrom(p_, deal_, stage); }
  void NextCycle() { PI::SetCycle(p_, deal_, p_->cycle(deal_) + 1); }
  void SetTimeoutConsumed(bool consumed) {
    PI::SetTimeoutConsumed(p_, deal_, consumed);
  }

 private:
  using PI = internal::PipelineInternal;
  Pipeline* p_;
  DealIndex deal_;
};

void Pipeline::Bookkeep(DealIndex deal, const StepResult& step) {
  PipelineDeal view(this, deal);
  Core::Bookkeep(*machine_, step, PipelineAttributes(*this, deal), &view);
}

ABSL_ATTRIBUTE_NOINLINE void Pipeline::BookkeepOutOfLine(DealIndex deal,
                                                         StepResult step) {
  step.deal = deal;
  Bookkeep(deal, step);
}

// What the funnel counts of a step that did not move the deal: an
// activity, or a rejection.
ABSL_ATTRIBUTE_NOINLINE void Pipeline::NoteUnmoved(DealIndex deal,
                                                   const StepResult& step) {
  if (step.outcome == Outcome::kActivity) {
    analytics_->OnActivity(deal, step.from, step.time);
  } else {
    analytics_->OnReject(deal, step);
  }
}

Timestamp Pipeline::ClockStart(DealIndex deal) const {
  assert(Contains(deal));
  return last_activity_.empty()
             ? entered_at_[deal]
             : Core::ClockStart(*machine_, stage_[deal], entered_at_[deal],
                                last_activity_[deal]);
}

void Pipeline::Record(DealIndex deal, const StepResult& step) {
  if (step.moved()) {
    if (analytics_ != nullptr) {
      if (Core::StartsCycle(*machine_, step)) analytics_->OnNewCycle(deal, step.time);
      analytics_->OnMove(deal, step.from, entered_at_[deal], step.to,
                         step.time);
    }
  }
  Bookkeep(deal, step);
  if (step.moved()) Move(deal, step.from, step.to, step.time);
  if (step.accepted()) QueueTimeout(deal);  // a new stage or a new clock
  if (analytics_ != nullptr && !step.moved()) NoteUnmoved(deal, step);
  if (options_.history_limit > 0) {
    internal::PushHistory(&history_[deal * options_.history_limit],
                          options_.history_limit, &history_count_[deal], step);
  }
  internal::Notify(observers_, step);
}

absl::StatusOr<StepResult> Pipeline::Fire(DealIndex deal, EventId event,
                                          Timestamp time) {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  SC_RETURN_IF_ERROR(internal::CheckEventId(*machine_, event));
  StepResult step = Core::Decide(*machine_, stage_[deal], event, time,
                                 PipelineAttributes(*this, deal));
  step.deal = deal;
  Record(deal, step);
  return step;
}

absl::StatusOr<StepResult> Pipeline::Fire(DealIndex deal,
                                          absl::string_view event,
                                          Timestamp time) {
  SC_ASSIGN_OR_RETURN(const EventId id, machine_->FindEvent(event));
  return Fire(deal, id, time);
}

absl::StatusOr<StepResult> Pipeline::MoveTo(DealIndex deal, StageId stage,
                                            Timestamp time) {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  SC_RETURN_IF_ERROR(internal::CheckStageId(*machine_, stage));
  StepResult step =
      Core::DecideMoveOrReopen(*machine_, stage_[deal], stage, closed_from(deal),
                               time, PipelineAttributes(*this, deal));
  step.deal = deal;
  Record(deal, step);
  return step;
}

absl::StatusOr<StepResult> Pipeline::MoveTo(DealIndex deal,
                                            absl::string_view stage,
                                            Timestamp time) {
  SC_ASSIGN_OR_RETURN(const StageId id, machine_->FindStage(stage));
  return MoveTo(deal, id, time);
}

absl::StatusOr<StepResult> Pipeline::Reopen(DealIndex deal, Timestamp time) {
  SC_RETURN_IF_ERROR(CheckLive(deal));
  StepResult step = Core::DecideReopen(*machine_, stage_[deal],
                                       closed_from(deal), time);
  step.deal = deal;
  Record(deal, step);
  return step;
}

namespace {

// InvalidArgument for a batch's record `i`: its deal past the pipeline's
// slots, else what `id_check` says of its event or stage.
absl::Status BadRecord(size_t i, DealIndex deal, size_t slots,
                       const absl::Status& id_check) {
  return absl::InvalidArgumentError(absl::StrCat(
      "records[", i, "]: ",
      deal >= slots ? absl::StrCat("deal ", deal,
                                   " is out of range: the pipeline has ", slots,
                                   " slots")
                    : id_check.message(),
      "; nothing was applied"));
}

}  // namespace

// A record of a batch in a buffer another thread may write during the call
// (a Python thread, the GIL released; a Go goroutine): read once, into
// registers (the empty asm "changes" the copied fields, so the compiler
// cannot tell them from the buffer's and never reads the buffer again in
// their place), then checked again where it is used. The batch was checked
// whole before any record was applied; a record changed since then is at
// worst refused, never an index out of bounds (issue 15 crashed 3 runs of 3
// so). Apply trusts its buffer (memcpy's contract) and costs nothing for it;
// ApplySharedBuffer, which the C API calls, pays about 14%
// (bench/RESULTS.md).
inline EventRecord ReadOnce(const EventRecord& r) {
  EventRecord copy = r;
  asm("" : "+r"(copy.deal), "+r"(copy.event));
  return copy;
}
inline StageRecord ReadOnce(const StageRecord& r) {
  StageRecord copy = r;
  asm("" : "+r"(copy.deal), "+r"(copy.stage));
  return copy;
}

absl::Status Pipeline::CheckMoves(absl::Span<const StageRecord> records) const {
  const size_t slots = stage_.size();
  const size_t stages = static_cast<size_t>(machine_->num_stages());
  for (size_t i = 0; i < records.size(); ++i) {
    const StageRecord& r = records[i];
    if (ABSL_PREDICT_TRUE(r.deal < slots && r.stage < stages)) continue;
    return BadRecord(i, r.deal, slots, internal::CheckStageId(*machine_, r.stage));
  }
  return absl::OkStatus();
}

StepResult Pipeline::DecideStageRecord(const StageRecord& r) const {
  // A removed slot's stage is the removed row: DecideMove says kNoDeal.
  const StageId from = stage_[r.deal];
  return Core::DecideMoveOrReopen(
      *machine_, from, static_cast<StageId>(r.stage),
      from == removed_stage_ || closed_from_.empty() ? kNoStage
                                                     : closed_from_[r.deal],
      r.time, PipelineAttributes(*this, r.deal));
}

template <typename Rec, typename Decide>
BatchResult Pipeline::StepInOrder(absl::Span<const Rec> records, bool timed,
                                  Decide&& decide) {
  BatchResult result;
  if (timed) EnsureTimers();
  for (const Rec& in_buffer : records) {
    // Read once and checked again, whoever calls (this path is not the
    // fast one): see ReadOnce.
    const Rec r = ReadOnce(in_buffer);
    if (timed && r.time != std::numeric_limits<Timestamp>::min()) {
      result.timeouts_fired += static_cast<uint64_t>(FireDue(r.time - 1));
    }
    if (ABSL_PREDICT_FALSE(!InRange(r))) continue;  // counted as rejected below
    StepResult step = decide(r);
    step.deal = r.deal;
    Record(r.deal, step);
    result.accepted += step.accepted();
  }
  result.rejected = records.size() - result.accepted;
  return result;
}

absl::StatusOr<BatchResult> Pipeline::ApplyMoves(
    absl::Span<const StageRecord> records) {
  SC_RETURN_IF_ERROR(CheckMoves(records));
  return StepInOrder(records, false, [this](const StageRecord& r) {
    return DecideStageRecord(r);
  });
}

absl::StatusOr<BatchResult> Pipeline::ApplyMovesTimed(
    absl::Span<const StageRecord> records) {
  SC_RETURN_IF_ERROR(CheckMoves(records));
  return StepInOrder(records, machine_->has_timeouts(),
                     [this](const StageRecord& r) { return DecideStageRecord(r); });
}

absl::StatusOr<BatchResult> Pipeline::ApplyTimed(
    absl::Span<const EventRecord> records) {
  if (!machine_->has_timeouts()) return Apply(records);
  SC_RETURN_IF_ERROR(CheckBatch(records));
  return StepInOrder(records, true, [this](const EventRecord& r) {
    return Core::Decide(*machine_, stage_[r.deal],
                        static_cast<EventId>(r.event), r.time,
                        PipelineAttributes(*this, r.deal));
  });
}

struct Pipeline::HotColumns {
  Core::Table table;
  StageId* stage;
  Timestamp* entered_at;
  // Whether a move can change more than the stage columns (a loss reason,
  // a closed-from stage, a cycle): only then does a slow move need
  // Bookkeep. Tested once a slow step, in a register.
  bool moves_keep_more;
  // The bounds a shared buffer's records are checked against again.
  uint32_t slots;
  uint32_t events;
};

// One record of the hot loops below: no observers and no history, so a
// step is only the table lookup and the column writes; guarded and
// required-attribute cells take the core's slow path. kTrackTimeouts is
// false for machines without timeouts, which then never touch the timeout
// bits. Stage counts change through `counts` (stage_counts_), or not at all
// when it is null: the caller then recounts the stage column afterwards.
// Returns whether the deal moved.
template <bool kTrackTimeouts, bool kAnalytics, bool kShared>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool Pipeline::StepUnobserved(
    const HotColumns& hot, const EventRecord& r, uint64_t* counts) {
  const DealIndex deal = r.deal;
  // kShared: `r` is ReadOnce's copy, checked again here.
  if (kShared && ABSL_PREDICT_FALSE(deal >= hot.slots || r.event >= hot.events)) return false;
  const StageId from = hot.stage[deal];
  const EventId event = static_cast<EventId>(r.event);
  const uint32_t cell = hot.table.Lookup(from, event);
  StageId to;
  if (ABSL_PREDICT_TRUE(Core::IsDirect(cell))) {
    to = static_cast<StageId>(cell);
  } else {
    if (Core::IsNoTransition(cell)) {
      if (kAnalytics && !analytics_->CountUnmatched(from, event)) {
        NoteUnmoved(deal, Core::DecideSlow(*machine_, cell, from, event, r.time,
                                           PipelineAttributes(*this, deal)));
      }
      return false;
    }
    const StepResult step = Core::DecideSlow(
        *machine_, cell, from, event, r.time, PipelineAttributes(*this, deal));
    // Every move that keeps more than the stage is a slow cell (BuildTable),
    // so the direct path above never needs Bookkeep; here it runs out of
    // line, for activities and for the machines that keep more.
    if (ABSL_PREDICT_FALSE(step.outcome == Outcome::kActivity ||
                           (hot.moves_keep_more && step.moved()))) {
      BookkeepOutOfLine(deal, step);
    }
    if (!step.moved()) {
      if (kAnalytics) NoteUnmoved(deal, step);
      return step.outcome == Outcome::kActivity;
    }
    to = step.to;
    // A new cycle is a slow cell too (it keeps more than the stage).
    if (kAnalytics && Core::StartsCycle(*machine_, step)) {
      analytics_->OnNewCycle(deal, r.time);
    }
  }
  if (kAnalytics) {
    analytics_->CountMove(deal, from, hot.entered_at[deal], to, r.time);
  }
  hot.stage[deal] = to;
  hot.entered_at[deal] = r.time;
  if (counts != nullptr) {
    --counts[from];
    ++counts[to];
  }
  if (kTrackTimeouts) SetTimeoutConsumed(deal, false);
  return true;
}

// Held in registers by the loops: the compiler cannot prove that the
// column stores leave the vectors' own pointers alone, and would reload
// them per event.
Pipeline::HotColumns Pipeline::Hot() {
  const Machine& m = *machine_;
  return HotColumns{Core::HotTable(m), stage_.data(), entered_at_.data(),
                    m.keeps_loss_reasons() || m.keeps_closed_from() || m.keeps_cycles(),
                    static_cast<uint32_t>(stage_.size()),
                    static_cast<uint32_t>(m.num_events())};
}

// The record the loops step: read once and checked again for a shared
// buffer (ReadOnce), the caller's own otherwise.
template <bool kShared>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline auto Take(const EventRecord& r)
    -> std::conditional_t<kShared, EventRecord, const EventRecord&> {
  if constexpr (kShared) {
    return ReadOnce(r);
  } else {
    return r;
  }
}

template <bool kTrackTimeouts, bool kAnalytics, bool kShared>
uint64_t Pipeline::ApplyUnobserved(absl::Span<const EventRecord> records,
                                   uint64_t* counts) {
  const HotColumns hot = Hot();
  uint64_t accepted = 0;
  if (kAnalytics) {
    // The analytics' per-deal state is read as each deal moves: fetching
    // it a few records ahead lets those misses overlap (about 10%). The
    // latest time stays in a register (a maximum kept in memory is a
    // store-to-load chain an event) until the batch ends.
    constexpr size_t kAhead = 8;
    const size_t n = records.size();
    Timestamp latest = std::numeric_limits<Timestamp>::min();
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) {
        const DealIndex ahead = records[i + kAhead].deal;
        __builtin_prefetch(hot.stage + ahead);
        __builtin_prefetch(hot.entered_at + ahead);
        analytics_->Prefetch(ahead);
      }
      const auto& r = Take<kShared>(records[i]);
      latest = std::max(latest, r.time);
      accepted += StepUnobserved<kTrackTimeouts, kAnalytics, kShared>(hot, r, counts);
    }
    analytics_->EndBatch(latest);
    return accepted;
  }
  // Two loops, so that the one for large batches (which recount after) has
  // no `counts` to keep in a register: with one more live value the
  // compiler kept the accepted count on the stack, a store and a load an
  // event (8-10% of cycle9's throughput with 1M deals).
  if (counts == nullptr) {
    for (const EventRecord& r : records) {
      accepted +=
          StepUnobserved<kTrackTimeouts, kAnalytics, kShared>(hot, Take<kShared>(r), nullptr);
    }
  } else {
    for (const EventRecord& r : records) {
      accepted +=
          StepUnobserved<kTrackTimeouts, kAnalytics, kShared>(hot, Take<kShared>(r), counts);
    }
  }
  return accepted;
}

// ApplyParallel's share: the records of deals in [lo, hi), in order. A test
// per record would be a branch mispredicted half the time, so each group
// of 64 records gets a bitmask of its own deals, built without branches,
// and only its set bits are stepped.
template <bool kTrackTimeouts>
uint64_t Pipeline::ApplyOwned(absl::Span<const EventRecord> records,
                              DealIndex lo, DealIndex hi) {
  const HotColumns hot = Hot();
  const EventRecord* r = records.data();
  const size_t n = records.size();
  const uint32_t span = hi - lo;
  uint64_t accepted = 0;
  size_t g = 0;
  for (; g + 64 <= n; g += 64) {
    uint64_t mine = 0;
    for (int k = 0; k < 64; ++k) {
      mine |= static_cast<uint64_t>(r[g + k].deal - lo < span) << k;
    }
    while (mine != 0) {
      const int k = absl::countr_zero(mine);
      mine &= mine - 1;
      // Read again and checked against this share: a record rewritten
      // meanwhile must not step another thread's deal (see ReadOnce).
      const EventRecord record = ReadOnce(r[g + k]);
      if (ABSL_PREDICT_TRUE(record.deal - lo < span)) {
        accepted += StepUnobserved<kTrackTimeouts, false, true>(hot, record, nullptr);
      }
    }
  }
  for (; g < n; ++g) {
    const EventRecord record = ReadOnce(r[g]);
    if (record.deal - lo < span) {
      accepted += StepUnobserved<kTrackTimeouts, false, true>(hot, record, nullptr);
    }
  }
  return accepted;
}

uint64_t Pipeline::ApplyRecorded(absl::Span<const EventRecord> records) {
  uint64_t accepted = 0;
  for (const EventRecord& in_buffer : records) {
    const EventRecord r = ReadOnce(in_buffer);  // observers' path: checked always
    if (ABSL_PREDICT_FALSE(!InRange(r))) continue;
    StepResult step =
        Core::Decide(*machine_, stage_[r.deal], static_cast<EventId>(r.event),
                     r.time, PipelineAttributes(*this, r.deal));
    step.deal = r.deal;
    Record(r.deal, step);
    accepted += step.accepted();
  }
  return accepted;
}

absl::Status Pipeline::CheckBatch(absl::Span<const EventRecord> records) const {
  // Branch-free maxima first: this pass reads every record before any is
  // applied, so it must cost little more than the read. Four independent
  // accumulators each, so that no max waits for the one before.
  uint32_t deal[4] = {}, event[4] = {};
  const EventRecord* r = records.data();
  const size_t n = records.size();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) {
      deal[k] = std::max(deal[k], r[i + k].deal);
      event[k] = std::max(event[k], r[i + k].event);
    }
  }
  for (; i < n; ++i) {
    deal[0] = std::max(deal[0], r[i].deal);
    event[0] = std::max(event[0], r[i].event);
  }
  const uint32_t max_deal = std::max({deal[0], deal[1], deal[2], deal[3]});
  const uint32_t max_event = std::max({event[0], event[1], event[2], event[3]});
  const size_t slots = stage_.size();
  const size_t num_events = static_cast<size_t>(machine_->num_events());
  if (ABSL_PREDICT_TRUE(records.empty() ||
                        (max_deal < slots && max_event < num_events))) {
    return absl::OkStatus();
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].deal >= slots || records[i].event >= num_events) {
      return BadRecord(i, records[i].deal, slots,
                       internal::CheckEventId(*machine_, records[i].event));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchResult> Pipeline::Apply(absl::Span<const EventRecord> records) {
  return ApplyBatch<false>(records);
}

absl::StatusOr<BatchResult> Pipeline::ApplySharedBuffer(
    absl::Span<const EventRecord> records) {
  return ApplyBatch<true>(records);
}

template <bool kShared>
absl::StatusOr<BatchResult> Pipeline::ApplyBatch(absl::Span<const EventRecord> records) {
  SC_RETURN_IF_ERROR(CheckBatch(records));
  BatchResult result;
  if (!observers_.empty() || options_.history_limit > 0) {
    result.accepted = ApplyRecorded(records);
  } else {
    InvalidateTimers();  // the loops below step around the queue
    // Two read-modify-writes an event keep the counts current; past a
    // quarter of the slots in records, recounting the stage column once
    // afterwards is cheaper.
    const bool recount = records.size() >= stage_.size() / 4;
    uint64_t* counts = recount ? nullptr : stage_counts_.data();
    const bool timeouts = machine_->has_timeouts();
    const bool analytics = analytics_ != nullptr;
    result.accepted =
        timeouts ? (analytics ? ApplyUnobserved<true, true, kShared>(records, counts)
                              : ApplyUnobserved<true, false, kShared>(records, counts))
                 : (analytics ? ApplyUnobserved<false, true, kShared>(records, counts)
                              : ApplyUnobserved<false, false, kShared>(records, counts));
    if (recount) RecountStages();
  }
  result.rejected = records.size() - result.accepted;
  return result;
}

void Pipeline::AppendSlots(size_t n) {
  const size_t size = stage_.size() + n;
  stage_.resize(size, removed_stage_);
  entered_at_.resize(size, 0);
  const size_t words = (size + 63) / 64;
  timeout_consumed_.resize(words, 0);
  for (auto& bits : set_bits_) bits.resize(words, 0);
  const auto& scalar_defaults = Core::ScalarDefaults(*machine_);
  for (size_t s = 0; s < scalars_.size(); ++s) {
    scalars_[s].resize(size, scalar_defaults[s]);
  }
  for (auto& column : strings_) column.Resize(size);
  if (options_.history_limit > 0) {
    history_.resize(size * options_.history_limit);
    history_count_.resize(size, 0);
  }
  if (machine_->keeps_last_activity()) last_activity_.resize(size, 0);
  if (machine_->keeps_loss_reasons()) loss_reason_.resize(size, 0);
  if (machine_->keeps_closed_from()) closed_from_.resize(size, kNoStage);
  if (machine_->keeps_cycles()) cycle_.resize(size, 1);
}

void Pipeline::RebuildFromStages() {
  RecountStages();
  live_ = 0;
  free_slots_.clear();
  for (DealIndex d = 0; d < stage_.size(); ++d) {
    if (stage_[d] == removed_stage_) {
      free_slots_.push_back(d);  // ascending: already a min-heap
    } else {
      ++live_;
    }
  }
}

void Pipeline::RecountStages() {
  std::fill(stage_counts_.begin(), stage_counts_.end(), 0);
  for (const StageId s : stage_) ++stage_counts_[s];
  stage_counts_[removed_stage_] = 0;
}

namespace {

// Runs fn(0) .. fn(n - 1), fn(0) on the calling thread.
template <typename Fn>
void OnThreads(int n, Fn&& fn) {
  std::vector<std::thread> workers;
  workers.reserve(n - 1);
  for (int t = 1; t < n; ++t) workers.emplace_back(fn, t);
  fn(0);
  for (std::thread& w : workers) w.join();
}

}  // namespace

int Pipeline::ParallelThreads(size_t records, int wanted) const {
  // Named guards are the host's code: it may not be thread-safe, and the C
  // API finds a guard's context through a thread-local that only the calling
  // thread has. Observers, history and analytics are fed in record order.
  // Loss reasons are interned in one list that every thread would write.
  if (wanted == 1 || Core::HasNamedGuards(*machine_) || !observers_.empty() ||
      options_.history_limit > 0 || analytics_ != nullptr ||
      machine_->keeps_loss_reasons()) {
    return 1;
  }
  // Every thread reads the whole batch, so more threads pay only where a
  // step costs much more than reading its record: where guards or required
  // attributes send steps the slow way. On a bare table, two threads ran at
  // 0.87-1.0x of one on cycle9 (10M events, 1M deals), against 1.4x with
  // cycle9-guarded's one guard (bench/RESULTS.md).
  if (!Core::HasSlowCells(*machine_)) return 1;
  // A thread pays off only with a few thousand deals (2^12) and tens of
  // thousands of records (2^16) of its own; fewer, and starting it costs
  // more than it saves.
  const size_t useful =
      std::max<size_t>(1, std::min(stage_.size() >> 12, records >> 16));
  return static_cast<int>(std::min<size_t>(wanted, useful));
}

absl::StatusOr<BatchResult> Pipeline::ApplyParallel(
    absl::Span<const EventRecord> records, int threads) {
  if (threads < 1 || threads > kMaxApplyThreads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ApplyParallel: threads is ", threads, "; it must be 1 to ",
        kMaxApplyThreads));
  }
  threads = ParallelThreads(records.size(), threads);
  if (threads == 1) return ApplySharedBuffer(records);  // checked as ApplyOwned is
  const size_t slots = stage_.size();
  // Thread t owns a contiguous share of the slots, cut at multiples of 64
  // so that no two threads write one word of the timeout bits. First the
  // threads check halves of the batch (it is all or nothing, as Apply's);
  // then each reads the whole batch and steps its own deals' records, in
  // order, so each deal sees its events in batch order. Nothing is copied;
  // reading the batch once per thread is the price.
  const size_t share = ((slots + threads - 1) / threads + 63) / 64 * 64;
  const size_t run = (records.size() + threads - 1) / threads;
  std::vector<absl::Status> checks(threads);
  OnThreads(threads, [&](int t) {
    const size_t begin = std::min(records.size(), run * t);
    const size_t end = std::min(records.size(), begin + run);
    checks[t] = CheckBatch(records.subspan(begin, end - begin));
  });
  for (const absl::Status& check : checks) {
    if (!check.ok()) return CheckBatch(records);  // names the first bad one
  }
  std::vector<uint64_t> accepted(threads, 0);
  InvalidateTimers();  // the threads step around the queue
  OnThreads(threads, [&](int t) {
    const DealIndex lo = static_cast<DealIndex>(std::min(slots, share * t));
    const DealIndex hi =
        static_cast<DealIndex>(std::min(slots, share * (t + 1)));
    accepted[t] = machine_->has_timeouts()
                      ? ApplyOwned<true>(records, lo, hi)
                      : ApplyOwned<false>(records, lo, hi);
  });
  RecountStages();
  BatchResult result;
  for (int t = 0; t < threads; ++t) result.accepted += accepted[t];
  result.rejected = records.size() - result.accepted;
  result.threads = threads;
  return result;
}

Timestamp Pipeline::CurrentDue(DealIndex deal) const {
  return Core::TimeoutDue(*machine_, stage_[deal], ClockStart(deal));
}

void Pipeline::QueueTimeout(DealIndex deal) {
  if (timers_ == nullptr || !timers_->valid() || TimeoutConsumed(deal)) return;
  const Timestamp due = CurrentDue(deal);
  if (due != internal::kNever) timers_->Push(due, deal);
}

void Pipeline::InvalidateTimers() {
  if (timers_ != nullptr) timers_->Invalidate();
}

void Pipeline::EnsureTimers() {
  if (timers_ == nullptr) timers_ = std::make_unique<internal::TimerQueue>();
  if (timers_->valid()) return;
  timers_->Reset();
  for (DealIndex deal = 0; deal < stage_.size(); ++deal) {
    if (stage_[deal] != removed_stage_) QueueTimeout(deal);
  }
}

int64_t Pipeline::FireDue(Timestamp now) {
  int64_t fired = 0;
  // Timeouts fired per deal in this call, to stop a cascade at the cap; the
  // deals stopped there wait in `capped` to go back into the queue.
  absl::flat_hash_map<DealIndex, int> fired_per_deal;
  std::vector<internal::TimerQueue::Due> capped;
  while (!timers_->empty() && timers_->top().time <= now) {
    const internal::TimerQueue::Due d = timers_->Pop();
    // A stale entry: the deal moved, was touched, spent its timeout or left.
    if (!Contains(d.deal) || TimeoutConsumed(d.deal) ||
        CurrentDue(d.deal) != d.time) {
      continue;
    }
    int& count = fired_per_deal[d.deal];
    if (count >= Core::kMaxTimeoutsPerAdvance) {
      capped.push_back(d);
      continue;
    }
    ++count;
    StepResult step = Core::FireTimeout(*machine_, stage_[d.deal], d.time,
                                        PipelineAttributes(*this, d.deal));
    step.deal = d.deal;
    Record(d.deal, step);  // queues the deal's next timeout
    ++fired;
  }
  for (const auto& d : capped) timers_->Push(d.time, d.deal);
  return fired;
}

int64_t Pipeline::AdvanceTo(Timestamp now) {
  if (!machine_->has_timeouts()) return 0;
  EnsureTimers();
  return FireDue(now);
}

void Pipeline::ForEachDealInStage(StageId stage,
                                  absl::FunctionRef<void(DealIndex)> fn) const {
  if (stage >= removed_stage_) return;
  for (DealIndex deal = 0; deal < stage_.size(); ++deal) {
    if (stage_[deal] == stage) fn(deal);
  }
}

std::vector<DealIndex> Pipeline::DealsInStage(StageId stage) const {
  std::vector<DealIndex> out;
  if (stage < removed_stage_) out.reserve(stage_counts_[stage]);
  ForEachDealInStage(stage, [&out](DealIndex deal) { out.push_back(deal); });
  return out;
}

size_t Pipeline::MemoryUsage() const {
  size_t bytes = stage_.capacity() * sizeof(StageId) +
                 entered_at_.capacity() * sizeof(Timestamp) +
                 timeout_consumed_.capacity() * sizeof(uint64_t) +
                 history_.capacity() * sizeof(HistoryEntry) +
                 history_count_.capacity() * sizeof(uint64_t) +
                 free_slots_.capacity() * sizeof(DealIndex) +
                 last_activity_.capacity() * sizeof(Timestamp) +
                 loss_reason_.capacity() * sizeof(uint32_t) +
                 closed_from_.capacity() * sizeof(StageId) +
                 cycle_.capacity() * sizeof(uint32_t) +
                 stage_counts_.capacity() * sizeof(uint64_t);
  if (analytics_ != nullptr) bytes += analytics_->MemoryUsage();
  if (timers_ != nullptr) bytes += timers_->MemoryUsage();
  if (ids_ != nullptr) bytes += ids_->MemoryUsage();
  if (keys_ != nullptr) bytes += keys_->MemoryUsage();
  for (const auto& column : scalars_) bytes += column.capacity() * 8;
  for (const auto& column : strings_) bytes += column.MemoryUsage();
  for (const auto& bits : set_bits_) bytes += bits.capacity() * 8;
  return bytes;
}

void Pipeline::AddObserver(Observer* observer) {
  internal::AddObserver(&observers_, observer);
}

void Pipeline::RemoveObserver(Observer* observer) {
  internal::RemoveObserver(&observers_, observer);
}

// ---- input positions

namespace internal {

absl::Status CheckSourceName(absl::string_view source) {
  if (source.empty() || source.size() > kMaxSourceNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an input source is named by 1 to ", kMaxSourceNameBytes, " bytes, not ", source.size()));
  }
  if (const size_t valid = ValidUtf8Prefix(source); valid != source.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input source \"", absl::CHexEscape(source), "\" is not UTF-8 at byte ", valid));
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<uint64_t> Pipeline::AlreadyApplied(absl::string_view source,
                                                  uint64_t first_offset, size_t count) const {
  SC_RETURN_IF_ERROR(internal::CheckSourceName(source));
  if (count > std::numeric_limits<uint64_t>::max() - first_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input \"", source, "\": ", count, " records from offset ", first_offset,
        " run past offset 2^64 - 1"));
  }
  const uint64_t next = Position(source);
  return next <= first_offset ? 0 : std::min<uint64_t>(next - first_offset, count);
}

void Pipeline::AdvancePosition(absl::string_view source, uint64_t next) {
  auto [it, inserted] = positions_.try_emplace(source, next);
  if (!inserted) it->second = std::max(it->second, next);
}

absl::StatusOr<BatchResult> Pipeline::ApplyAt(absl::string_view source, uint64_t first_offset,
                                              absl::Span<const EventRecord> records,
                                              ApplyMode mode) {
  return ApplyFromOffset(source, first_offset, records, [&](absl::Span<const EventRecord> rest) {
    return mode == ApplyMode::kTimed ? ApplyTimed(rest) : Apply(rest);
  });
}

absl::StatusOr<BatchResult> Pipeline::ApplyMovesAt(absl::string_view source,
                                                   uint64_t first_offset,
                                                   absl::Span<const StageRecord> records,
                                                   ApplyMode mode) {
  return ApplyFromOffset(source, first_offset, records, [&](absl::Span<const StageRecord> rest) {
    return mode == ApplyMode::kTimed ? ApplyMovesTimed(rest) : ApplyMoves(rest);
  });
}

uint64_t Pipeline::Position(absl::string_view source) const {
  auto it = positions_.find(source);
  return it == positions_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, uint64_t>> Pipeline::Positions() const {
  std::vector<std::pair<std::string, uint64_t>> out(positions_.begin(), positions_.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace salescycle
