// The funnel's online state: one accumulator that the pipeline feeds as
// deals are added and moved (analytics on), and that FunnelOf feeds from
// history (analytics off): the funnel's counting rules live here once.
#ifndef SALESCYCLE_SRC_ANALYTICS_H_
#define SALESCYCLE_SRC_ANALYTICS_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/numeric/bits.h"
#include "absl/numeric/int128.h"
#include "salescycle/funnel.h"
#include "salescycle/internal/column.h"
#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "salescycle/step.h"
#include "salescycle/types.h"

namespace salescycle {
namespace internal {

// The seconds from `from` to `to`, 0 when `to` is not later. Unsigned: any
// two timestamps, INT64_MIN to INT64_MAX, have a difference (a signed one
// overflows there).
inline uint64_t Elapsed(Timestamp from, Timestamp to) {
  return to > from ? static_cast<uint64_t>(to) - static_cast<uint64_t>(from) : 0;
}

// Durations in log-linear buckets: exact below 32 seconds, then 32 buckets
// per power of two, so a quantile read at a bucket's middle is within 1/64.
//
// Sparse until it has seen kDenseAt distinct buckets, then dense (15 KiB):
// there is one histogram per stage and cohort, and most cohorts hold a
// handful of stays, so dense ones from the start would let an event file of
// deals added a week apart each cost 140 KiB (gigabytes from a file of
// kilobytes). The pipeline-wide histograms are dense from the start, and
// the batch loop adds to them without a branch (AddDense).
class DurationHistogram {
 public:
  struct Dense {};
  DurationHistogram() = default;
  explicit DurationHistogram(Dense) : dense_(kBuckets, 0) {}

  // `seconds` from Elapsed: a negative stay is 0.
  void Add(uint64_t seconds) {
    if (ABSL_PREDICT_TRUE(!dense_.empty())) {
      AddDense(seconds);
    } else {
      AddSparse(seconds);
    }
  }
  // Only for a histogram made with Dense{}.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void AddDense(uint64_t v) {
    ++dense_[Bucket(v)];
    AddToSum(v);
  }
  uint64_t count() const;
  double mean() const;
  // For snapshots: the non-empty buckets in order, the exact sum, and the
  // way back (Restore is false for a bucket out of range).
  template <typename F>
  void ForEachBucket(F f) const {
    for (size_t b = 0; b < dense_.size(); ++b) {
      if (dense_[b] != 0) f(static_cast<uint32_t>(b), dense_[b]);
    }
    for (const auto& [b, n] : sparse_) f(uint32_t{b}, n);
  }
  absl::uint128 sum() const { return absl::MakeUint128(sum_high_, sum_low_); }
  bool Restore(uint32_t bucket, uint64_t count);
  void RestoreSum(absl::uint128 sum) {
    sum_low_ = absl::Uint128Low64(sum);
    sum_high_ = absl::Uint128High64(sum);
  }
  // Adds other's durations: the same as having added them here.
  void Merge(const DurationHistogram& other);
  // The value at quantile q (0..1), by nearest rank.
  int64_t Quantile(double q) const;
  size_t MemoryUsage() const {
    return dense_.capacity() * sizeof(uint64_t) +
           sparse_.capacity() * sizeof(sparse_[0]);
  }

 private:
  static constexpr size_t kBuckets = 32 + 59 * 32;  // up to 2^64
  static constexpr size_t kDenseAt = 64;
  static size_t Bucket(uint64_t v) {
    if (v < 32) return static_cast<size_t>(v);
    const int e = 63 - absl::countl_zero(v);  // >= 5
    return 32 + static_cast<size_t>(e - 5) * 32 +
           static_cast<size_t>((v >> (e - 5)) & 31);
  }
  static uint64_t Lower(size_t bucket);
  static int64_t Middle(size_t bucket);
  // Two words rather than an absl::uint128: gcc spills the latter to the
  // stack, a store and a reload on the batch loop's path.
  void AddToSum(uint64_t v) {
    sum_low_ += v;
    sum_high_ += sum_low_ < v;
  }
  void AddSparse(uint64_t seconds);
  void AddToBucket(size_t bucket, uint64_t n);

  std::vector<uint64_t> dense_;  // kBuckets counts, or empty while sparse
  // (bucket, count), by bucket.
  std::vector<std::pair<uint16_t, uint64_t>> sparse_;
  // Integer sums: one add a stay, no floating-point chain, and no
  // overflow for any realistic total of seconds.
  uint64_t sum_low_ = 0;
  uint64_t sum_high_ = 0;
};

// Moves between stages, by (from, to). The pipeline-wide counts of a
// machine of up to kDenseStages stages are a dense matrix (at most 32 KiB;
// the batch loop adds to it without a hash); cohorts and larger machines
// count in a hash map, since a cohort sees few of the n^2 pairs. Every
// per-stage flow figure (moves in, exits by destination) is read from it,
// so the hot path does one add a move.
class FlowMatrix {
 public:
  static constexpr size_t kDenseStages = 64;
  struct Dense {};
  FlowMatrix() = default;
  FlowMatrix(size_t stages, Dense)
      : stages_(stages),
        dense_(stages <= kDenseStages ? stages * stages : 0, 0) {}

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Add(StageId from, StageId to) {
    if (ABSL_PREDICT_TRUE(!dense_.empty())) {
      ++dense_[size_t{from} * stages_ + to];
    } else {
      ++sparse_[Key(from, to)];
    }
  }
  // Calls f(from, to, moves) for each pair moved between, by from then to.
  template <typename F>
  void ForEach(F f) const {
    for (size_t i = 0; i < dense_.size(); ++i) {
      if (dense_[i] != 0) {
        f(static_cast<StageId>(i / stages_), static_cast<StageId>(i % stages_), dense_[i]);
      }
    }
    std::vector<std::pair<uint32_t, uint64_t>> cells(sparse_.begin(), sparse_.end());
    std::sort(cells.begin(), cells.end());
    for (const auto& [key, moves] : cells) {
      f(static_cast<StageId>(key >> 16), static_cast<StageId>(key & 0xFFFF), moves);
    }
  }
  // All moves, the pairs' sum: the batch loop counts a move here only.
  uint64_t Total() const {
    uint64_t total = 0;
    for (uint64_t n : dense_) total += n;
    for (const auto& [key, n] : sparse_) total += n;
    return total;
  }
  size_t MemoryUsage() const {
    return dense_.capacity() * sizeof(uint64_t) +
           sparse_.capacity() * (sizeof(uint32_t) + sizeof(uint64_t) + 1);
  }
  // Restoring a snapshot.
  void AddMoves(StageId from, StageId to, uint64_t moves) {
    if (!dense_.empty()) {
      dense_[size_t{from} * stages_ + to] += moves;
    } else {
      sparse_[Key(from, to)] += moves;
    }
  }

 private:
  static uint32_t Key(StageId from, StageId to) {
    return (uint32_t{from} << 16) | to;
  }
  size_t stages_ = 0;
  std::vector<uint64_t> dense_;  // stages_ x stages_, or empty
  absl::flat_hash_map<uint32_t, uint64_t> sparse_;
};

struct StageCounters {
  StageCounters() = default;
  explicit StageCounters(DurationHistogram::Dense dense) : time_in_stage(dense) {}
  uint64_t entered = 0;
  uint64_t reentries = 0;  // moves into the stage by deals that were in it
  uint64_t won_after = 0;  // deals that entered the stage, then won
  uint64_t activities = 0;  // accepted without a move, in this stage
  uint64_t rejected = 0;    // steps refused in this stage
  uint64_t lost_from = 0;   // deals whose first loss, before any win, left it
  DurationHistogram time_in_stage;
};

// A rejected step's kind: where, what (an event, or a move by stage to a
// target), and why, packed in 64 bits as the key of a count.
struct RejectionKey {
  static uint64_t Pack(StageId from, EventId event, StageId target,
                       Outcome outcome) {
    return (uint64_t{from} << 48) | (uint64_t{event} << 32) |
           (uint64_t{target} << 16) | static_cast<uint64_t>(outcome);
  }
  static StageId From(uint64_t k) { return static_cast<StageId>(k >> 48); }
  static EventId Event(uint64_t k) { return static_cast<EventId>(k >> 32); }
  static StageId Target(uint64_t k) { return static_cast<StageId>(k >> 16); }
  static Outcome Why(uint64_t k) { return static_cast<Outcome>(k & 0xFF); }
};

// The counters of one group of deals: the whole pipeline (dense
// histograms), or a cohort (sparse ones).
struct FunnelCounters {
  FunnelCounters(size_t stages, size_t line)
      : stages(stages), furthest(line, 0), furthest_in_order(line, 0) {}
  FunnelCounters(size_t stages, size_t line, DurationHistogram::Dense dense)
      : stages(stages, StageCounters(dense)),
        flow(stages, FlowMatrix::Dense{}),
        furthest(line, 0),
        furthest_in_order(line, 0) {}
  std::vector<StageCounters> stages;
  FlowMatrix flow;
  uint64_t deals = 0;
  uint64_t won = 0;
  uint64_t lost = 0;  // lost and never won
  // Exact, so that the same counters give the same figures however they
  // were added up (a restored snapshot, merged states).
  absl::int128 cycle_seconds = 0;  // the lengths of the `won` cycles
  uint64_t new_cycles = 0;  // cycles started by new_cycle moves
  // Repeat purchases: wins by deals that had won an earlier cycle, the
  // deals whose second win it was, and the time from a deal's previous win
  // to each repeat win (sparse: counted at repeat wins only).
  uint64_t repeat_wins = 0;
  uint64_t repeat_buyers = 0;
  DurationHistogram between_wins;
  // A cycle's start to its first loss, for every cycle lost (counted at
  // losses only, so sparse).
  DurationHistogram loss_lengths;
  // The activities cycles had by their win, and by their first loss.
  uint64_t activities_won = 0;
  uint64_t activities_lost = 0;
  // The cycle lengths themselves (addition to first win), for their median
  // and 90th percentile; counted at wins only, so sparse.
  DurationHistogram cycle_lengths;
  // Rejected steps by RejectionKey.
  absl::flat_hash_map<uint64_t, uint64_t> rejections;
  // By position on the funnel line: the deals whose furthest stage on the
  // line is there. Reached(k) is the sum from k on.
  std::vector<uint64_t> furthest;
  // By position: the cycles whose furthest stage reached in order (none of
  // the line skipped before it: funnel.h's "in order") is there.
  std::vector<uint64_t> furthest_in_order;

  // Adds the counters of other deals of the same machine: integer sums and
  // fixed buckets, so any split and any order give the same counters.
  void Merge(const FunnelCounters& other);
};

// The cycles closed in one period of close time (a week, month or quarter,
// the cohorts' kind): won, and lost and not won after (a cycle lost, then
// reopened and won, leaves its loss's period: Salesforce's closed-lost by
// close date reads the deal's stage now), and the won cycles' lengths.
struct CloseCounters {
  uint64_t won = 0;
  uint64_t lost = 0;
  DurationHistogram cycle_lengths;
  void Merge(const CloseCounters& other) {
    won += other.won;
    lost += other.lost;
    cycle_lengths.Merge(other.cycle_lengths);
  }
};

// What a move reads and writes of a deal's funnel state, in one word: a
// move then touches one more cache line for analytics, not three (the
// accesses are random, so lines, not bytes, are the cost).
struct DealMarks {
  uint16_t visited = 0;  // stages below kMarkedStages: bit s
  uint8_t furthest = 0xFF;  // a line position, or FunnelAccumulator::kOffLine
  // FunnelAccumulator::kWon, kLost, kOutOfOrder; above them, for a cycle
  // out of order, 1 + the position it was counted in order at (0: none).
  uint8_t flags = 0;
};
constexpr StageId kMarkedStages = 16;

class FunnelAccumulator {
 public:
  static constexpr uint8_t kWon = 1;
  static constexpr uint8_t kLost = 2;
  // The cycle skipped a stage of the line: it no longer counts in order.
  static constexpr uint8_t kOutOfOrder = 4;
  // The flags' bits above the three (the in-order mark): where a cycle out
  // of order stays counted in order, so that a part of a pipeline
  // (SavePipelinePart) can take that count with the deal. 0: nowhere (it
  // skipped the first stage); 1 + its position for positions 0 to 29;
  // kUnknownInOrder past them on a longer line, or for a cycle restored
  // from a snapshot older than format 5, which did not keep it: such a
  // deal cannot move until its cycle ends (SavePipelinePart says so).
  static constexpr unsigned kInOrderShift = 3;
  static constexpr uint8_t kUnknownInOrder = 31;
  static uint8_t InOrderMark(uint8_t flags) { return flags >> kInOrderShift; }
  static constexpr uint32_t kNoCohort = std::numeric_limits<uint32_t>::max();

  FunnelAccumulator(const Machine& machine, Cohort cohort);

  // A deal, new in `slot` (a reused slot starts afresh), enters `stage`
  // (the initial stage, or where its history starts) at `time`.
  void OnAdd(DealIndex deal, StageId stage, Timestamp time);
  // The deal moved from `from`, which it entered at `since`, to `to`.
  void OnMove(DealIndex deal, StageId from, Timestamp since, StageId to,
              Timestamp time) {
    NoteTime(time);
    CountMove(deal, from, since, to, time);
  }
  // OnMove in a batch loop, which passes its latest time to EndBatch.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void CountMove(DealIndex deal, StageId from,
                                              Timestamp since, StageId to,
                                              Timestamp time) {
    Count<true>(&total_, from, since, to, time);
    const uint32_t c = cohort_ == Cohort::kNone ? kNoCohort : cohort_of_[deal];
    if (c != kNoCohort) Count<false>(&cohorts_[c], from, since, to, time);
    DealMarks& marks = marks_[deal];
    Reach(&marks, to, c);
    if (Visit(deal, &marks, to)) {
      ++total_.stages[to].entered;
      if (c != kNoCohort) ++cohorts_[c].stages[to].entered;
    } else {
      ++total_.stages[to].reentries;
      if (c != kNoCohort) ++cohorts_[c].stages[to].reentries;
    }
    if (closes_[to] != 0) Close(deal, from, to, time);
  }

  // `deal` is not yet checked (a shared batch may be rewritten under the
  // reader): an address, not an element, so that a deal past the column is
  // a harmless prefetch, as the batch loop's of its own columns.
  void Prefetch(DealIndex deal) const { __builtin_prefetch(marks_.data() + deal); }

  // The deal starts a new cycle (a new_cycle transition: a repeat
  // purchase, a reactivation) at `time`, just before the move that starts
  // it: the funnel counts cycles, so the deal's stages, outcome and
  // furthest position start afresh (the cycle that ended stays counted).
  void OnNewCycle(DealIndex deal, Timestamp time);

  // A step refused in a batch loop for want of any transition from `from`
  // on `event` (the usual rejection), when the accumulator counts those in
  // its dense table: an add where OnReject hashes. False when it does not
  // (cohorts, a machine of too many cells): call OnReject.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CountUnmatched(StageId from, EventId event) {
    if (unmatched_.empty()) return false;
    ++unmatched_[size_t{from} * num_events_ + event];
    return true;
  }
  // Ends a batch loop that called CountMove and CountUnmatched: notes the
  // batch's latest time and folds the dense table into the rejection
  // counts. No count is read before it.
  void EndBatch(Timestamp latest);
  void NoteTime(Timestamp time) {
    if (time > latest_) latest_ = time;
  }

  // A step that was refused, and one accepted without a move. Out of the
  // batch loops' code: rejections and activities are the exception there.
  void OnReject(DealIndex deal, const StepResult& step);
  void OnActivity(DealIndex deal, StageId stage, Timestamp time);

  // The funnel line (funnel.h): OPEN stages that are not side stages, in
  // declaration order, then such WON stages. Its position of a stage, or
  // kOffLine.
  static constexpr uint8_t kOffLine = 0xFF;
  const std::vector<StageId>& line() const { return line_; }
  uint8_t line_position(StageId stage) const { return line_position_[stage]; }
  // The deal's furthest position on the line, or kOffLine.
  uint8_t furthest(DealIndex deal) const { return marks_[deal].furthest; }

  const Machine& machine() const { return machine_; }
  Cohort cohort() const { return cohort_; }
  Timestamp latest() const { return latest_; }
  const FunnelCounters& total() const { return total_; }
  // Closes by the start of their period (with cohorts only), oldest first.
  const std::map<Timestamp, CloseCounters>& close_periods() const { return close_periods_; }
  // For snapshots: the period start of the deal's loss, kept for the lost
  // deals of a machine that lets a deal leave a LOST stage in its cycle
  // (a win after it takes the loss back); none otherwise.
  std::optional<Timestamp> loss_period(DealIndex deal) const {
    const auto it = loss_period_.find(deal);
    if (it == loss_period_.end()) return std::nullopt;
    return it->second;
  }
  // The activities of the deal's current cycle so far.
  uint32_t activities(DealIndex deal) const {
    return deal < activities_.size() ? activities_[deal] : 0;
  }
  void RestoreActivities(DealIndex deal, uint32_t n);
  const absl::flat_hash_map<DealIndex, Timestamp>& loss_periods() const {
    return loss_period_;
  }
  void RestoreLossPeriod(DealIndex deal, Timestamp start) {
    if (keeps_loss_periods_) loss_period_[deal] = start;
  }
  // The counters of the period that starts at `start`, made if new; null
  // when no period of the cohorts' kind starts then (or without cohorts).
  CloseCounters* RestoreClosePeriod(Timestamp start);
  const std::vector<FunnelCounters>& cohorts() const { return cohorts_; }
  // Cohort starts (Unix time of the week's Monday or the month's first
  // day, UTC), by cohort index.
  const std::vector<Timestamp>& cohort_starts() const { return cohort_starts_; }
  uint32_t cohort_of(DealIndex deal) const {
    return cohort_ == Cohort::kNone ? kNoCohort : cohort_of_[deal];
  }
  uint8_t flags(DealIndex deal) const { return marks_[deal].flags; }
  size_t MemoryUsage() const;

  // The start of the cohort (and close period) `time` falls in, and the
  // start of the next after the one that starts at `start`.
  // REQUIRES: cohort() != Cohort::kNone.
  Timestamp CohortStart(Timestamp time) const;
  Timestamp NextCohortStart(Timestamp start) const;
  // "2026-W01", "2026-01" or "2026-Q1" for a cohort start.
  static std::string CohortLabel(Cohort cohort, Timestamp start);

  // Snapshots (funnel_snapshot.cc). A live deal's own state: when it was
  // added, the stages it has been in; and the way back: a live
  // deal's state as saved (`visited` by stage id), the counters, the
  // counters of the cohort that starts at `start` (null when no cohort of
  // this kind starts then), and the latest time seen.
  Timestamp added(DealIndex deal) const {
    const int32_t offset = created_[deal];
    if (ABSL_PREDICT_TRUE(offset != kFarCreation)) return created_base_ + offset;
    return created_far_.at(deal);
  }
  // Room for `deals` deals without reallocating (PipelineOptions'
  // expected_deals): no growth slack in the per-deal columns.
  void Reserve(size_t deals);
  // When the deal's current cycle started: its addition, or the move that
  // started its cycle.
  Timestamp cycle_start(DealIndex deal) const {
    const auto it = cycle_start_.find(deal);
    return it == cycle_start_.end() ? added(deal) : it->second;
  }
  void RestoreCycleStart(DealIndex deal, Timestamp start) { cycle_start_[deal] = start; }
  // A deal's wins so far and the time of its latest, kept for the deals
  // that won when the machine has new_cycle transitions (only then can a
  // deal win again): the repeat purchase figures need them.
  struct Wins {
    Timestamp last = 0;
    uint32_t count = 0;  // saturates
  };
  bool keeps_wins() const { return keeps_wins_; }
  const Wins* wins(DealIndex deal) const {
    const auto it = wins_.find(deal);
    return it == wins_.end() ? nullptr : &it->second;
  }
  void RestoreWins(DealIndex deal, Wins wins) {
    if (keeps_wins_) wins_[deal] = wins;
  }
  // Appends the deal's visited stages, visited_width() bytes: stage s in
  // bit s % 8 of byte s / 8.
  void AppendVisited(DealIndex deal, std::string* out) const;
  size_t visited_width() const { return bytes_; }
  bool has_latest() const { return latest_ != std::numeric_limits<Timestamp>::min(); }
  void RestoreDeal(DealIndex deal, Timestamp added, const std::vector<StageId>& visited,
                   uint8_t flags, uint8_t furthest);
  // The same with the visited stages as bits, stage s in bit s: for a
  // machine of at most kMarkedStages stages (visited_width() <= 2), where a
  // load need not list them one by one.
  void RestoreDeal(DealIndex deal, Timestamp added, uint16_t visited, uint8_t flags,
                   uint8_t furthest);
  // Room for every deal up to `deal`: a loader calls it once for a chunk's
  // last deal rather than letting each RestoreDeal grow the columns by one.
  void Grow(DealIndex deal);
  FunnelCounters* mutable_total() { return &total_; }
  // The index of the cohort that starts at `start`, made if new; kNoCohort
  // when no cohort of this kind starts then.
  uint32_t RestoreCohort(Timestamp start);
  FunnelCounters* mutable_cohort(uint32_t index) { return &cohorts_[index]; }
  // Adds the counters (not the per-deal state) of an accumulator of the
  // same machine and cohort kind.
  void MergeCounters(const FunnelAccumulator& other);
  // Splitting a pipeline into parts (SavePipelinePart): the counters a
  // live deal of `source` holds that a later move of the deal takes back
  // (its cycle's furthest position on the line, in order or not, and a
  // loss its cycle can still turn into a win), added to these counters
  // (`sign` 1) or taken from them (-1). They go where the deal goes, so
  // that each part's counters stay whole (none below zero when the deal
  // moves on) and the parts' sum is the source's.
  void ShareLive(const FunnelAccumulator& source, DealIndex deal, int sign);
  void RestoreLatest(Timestamp latest) { latest_ = latest; }

 private:
  template <bool kDense>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Count(FunnelCounters* c, StageId from,
                                          Timestamp since, StageId to,
                                          Timestamp time) const {
    StageCounters& f = c->stages[from];
    c->flow.Add(from, to);
    if (kDense) {
      f.time_in_stage.AddDense(Elapsed(since, time));
    } else {
      f.time_in_stage.Add(Elapsed(since, time));
    }
  }
  // `from`: the stage the deal left (kNoStage: it was created in `to`).
  void Close(DealIndex deal, StageId from, StageId to, Timestamp time);
  // The deal entered `to`: its furthest position on the line may grow.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Reach(DealMarks* marks, StageId to,
                                          uint32_t cohort) {
    const uint8_t position = line_position_[to];
    const uint8_t furthest = marks->furthest;
    // kOffLine is the largest value, so "none yet" is tested apart.
    if (position == kOffLine ||
        (furthest != kOffLine && position <= furthest)) {
      return;
    }
    // In order: the first stage of the line first, then each next one. A
    // cycle that skips stays counted in order where it had got to (it went
    // through those stages in order: Mixpanel's ordered funnel).
    const bool in_order = (marks->flags & kOutOfOrder) == 0 &&
                          position == (furthest == kOffLine ? 0 : furthest + 1);
    for (FunnelCounters* g :
         {&total_, cohort == kNoCohort ? nullptr : &cohorts_[cohort]}) {
      if (g == nullptr) continue;
      if (furthest != kOffLine) --g->furthest[furthest];
      ++g->furthest[position];
      if (in_order) {
        if (furthest != kOffLine) --g->furthest_in_order[furthest];
        ++g->furthest_in_order[position];
      }
    }
    marks->furthest = position;
    if (!in_order && (marks->flags & kOutOfOrder) == 0) {
      const unsigned mark = furthest == kOffLine                ? 0u
                            : furthest + 1u < kUnknownInOrder ? furthest + 1u
                                                              : unsigned{kUnknownInOrder};
      marks->flags = static_cast<uint8_t>(marks->flags | kOutOfOrder | (mark << kInOrderShift));
    }
  }
  // Marks `stage` visited in the deal's current cycle; false if it was.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Visit(DealIndex deal, DealMarks* marks,
                                          StageId stage) {
    uint8_t* byte;
    unsigned bit;
    if (ABSL_PREDICT_TRUE(stage < kMarkedStages)) {
      if ((marks->visited >> stage) & 1u) return false;
      marks->visited = static_cast<uint16_t>(marks->visited | (1u << stage));
      return true;
    }
    byte = &visited_more_[deal * more_bytes_ + ((stage - kMarkedStages) >> 3)];
    bit = 1u << ((stage - kMarkedStages) & 7);
    if ((*byte & bit) != 0) return false;
    *byte = static_cast<uint8_t>(*byte | bit);
    return true;
  }
  // Starts the deal's cycle afresh: nothing visited, reached or closed.
  void ClearMarks(DealIndex deal);
  // Calls f(stage) for each stage the deal visited in its cycle.
  template <typename F>
  void ForEachVisited(DealIndex deal, F f) const;

  uint32_t CohortIndex(Timestamp time);

  const Machine& machine_;
  const Cohort cohort_;
  // The bytes of a deal's visited bits (a bit a stage), and those of them
  // past its DealMarks.
  const size_t bytes_;
  const size_t more_bytes_;
  // By stage: 0 open, kWon or kLost.
  std::vector<uint8_t> closes_;
  std::vector<StageId> line_;
  std::vector<uint8_t> line_position_;  // by stage

  FunnelCounters total_;
  // Unmatched steps of the batch under way, by from x num_events_ + event.
  const size_t num_events_;
  std::vector<uint64_t> unmatched_;
  std::vector<FunnelCounters> cohorts_;
  std::vector<Timestamp> cohort_starts_;
  absl::flat_hash_map<Timestamp, uint32_t> cohort_by_start_;
  Timestamp latest_ = std::numeric_limits<Timestamp>::min();

  // Per deal.
  // When each deal was added (its first cycle's start), as seconds from
  // created_base_ (the first addition's time) in 32 bits: 4 bytes a deal
  // instead of 8, for deals added within 68 years of the first; the rest
  // are kFarCreation here and in created_far_.
  static constexpr int32_t kFarCreation = std::numeric_limits<int32_t>::min();
  void SetAdded(DealIndex deal, Timestamp time);
  Column<int32_t> created_;
  bool has_created_base_ = false;
  Timestamp created_base_ = 0;
  absl::flat_hash_map<DealIndex, Timestamp> created_far_;
  // Later cycles' starts, for the deals past their first cycle (few).
  absl::flat_hash_map<DealIndex, Timestamp> cycle_start_;
  const bool keeps_wins_;
  absl::flat_hash_map<DealIndex, Wins> wins_;  // deals that won, if keeps_wins_
  std::map<Timestamp, CloseCounters> close_periods_;
  const bool keeps_loss_periods_;
  absl::flat_hash_map<DealIndex, Timestamp> loss_period_;
  Column<DealMarks> marks_;
  // Activities in the current cycle, by deal (saturating); empty until the
  // first activity, so that a pipeline without them pays nothing.
  Column<uint32_t> activities_;
  // Visited bits of the stages from kMarkedStages on, more_bytes_ a deal.
  Column<uint8_t> visited_more_;
  Column<uint32_t> cohort_of_;  // empty without cohorts: 4 bytes a deal saved
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_ANALYTICS_H_
