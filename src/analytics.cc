#include "src/analytics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/numeric/bits.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace salescycle {
namespace internal {

// ---- DurationHistogram

// Log-linear buckets (as HdrHistogram's): seconds 0-31 exactly, then 32
// buckets for each power of two, so a bucket is never wider than 1/32 of
// its lower bound.
uint64_t DurationHistogram::Lower(size_t bucket) {
  if (bucket < 32) return bucket;
  const size_t e = (bucket - 32) / 32 + 5;
  const uint64_t sub = (bucket - 32) % 32;
  return (32 + sub) << (e - 5);
}

int64_t DurationHistogram::Middle(size_t bucket) {
  if (bucket < 32) return static_cast<int64_t>(bucket);
  // Within half a bucket, 1/64, of any value in it.
  const uint64_t lower = Lower(bucket);
  return static_cast<int64_t>(lower + (Lower(bucket + 1) - lower) / 2);
}

void DurationHistogram::AddSparse(uint64_t v) {
  AddToSum(v);
  AddToBucket(Bucket(v), 1);
}

bool DurationHistogram::Restore(uint32_t bucket, uint64_t count) {
  if (bucket >= kBuckets) return false;
  if (!dense_.empty()) {
    dense_[bucket] += count;
  } else {
    AddToBucket(bucket, count);
  }
  return true;
}

void DurationHistogram::AddToBucket(size_t bucket, uint64_t n) {
  const auto b = static_cast<uint16_t>(bucket);
  auto it = std::lower_bound(
      sparse_.begin(), sparse_.end(), b,
      [](const std::pair<uint16_t, uint64_t>& e, uint16_t key) { return e.first < key; });
  if (it != sparse_.end() && it->first == b) {
    it->second += n;
    return;
  }
  if (sparse_.size() < kDenseAt) {
    sparse_.insert(it, {b, n});
    return;
  }
  // Past kDenseAt distinct buckets a sorted vector costs more to insert into
  // than the dense array costs in memory: switch, once, for good. Sparse
  // first because most cohorts and stages see few distinct durations, and
  // dense from the start made a file of deals a week apart cost 140 KiB a
  // deal (analytics.h).
  dense_.assign(kBuckets, 0);
  for (const auto& [k, count] : sparse_) dense_[k] = count;
  dense_[bucket] += n;
  sparse_.clear();
  sparse_.shrink_to_fit();
}

uint64_t DurationHistogram::count() const {
  uint64_t n = 0;
  for (uint64_t b : dense_) n += b;
  for (const auto& e : sparse_) n += e.second;
  return n;
}

double DurationHistogram::mean() const {
  const uint64_t n = count();
  return n ? static_cast<double>(sum()) / static_cast<double>(n) : 0;
}

int64_t DurationHistogram::Quantile(double q) const {
  const uint64_t count = this->count();
  if (count == 0) return 0;
  // The nearest-rank definition: the smallest value with at least q of the
  // values at or below it, reported as its bucket's middle.
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count))));
  uint64_t seen = 0;
  if (!dense_.empty()) {
    for (size_t b = 0; b < dense_.size(); ++b) {
      seen += dense_[b];
      if (seen >= rank) return Middle(b);
    }
  } else {
    for (const auto& [b, n] : sparse_) {
      seen += n;
      if (seen >= rank) return Middle(b);
    }
  }
  return static_cast<int64_t>(Lower(kBuckets - 1));
}

// ---- FunnelAccumulator

namespace {

// The funnel line (funnel.h): at most 254 stages, so that a position and
// "off the line" fit a byte; past that, the rest are off it.
// Whether a deal can leave a LOST stage without starting a new cycle (a
// transition out of it that is not new_cycle, or a reopen): then a win can
// take a loss back, and the loss's period must be kept to take it from.
bool CanUnlose(const Machine& m) {
  for (int s = 0; s < m.num_stages(); ++s) {
    const StageInfo& info = m.stage(static_cast<StageId>(s));
    if (info.kind == StageKind::kLost && info.reopenable) return true;
  }
  for (const TransitionInfo& t : m.transitions()) {
    if (m.stage(t.from).kind == StageKind::kLost && t.to != kNoStage && !t.new_cycle) return true;
  }
  return false;
}

std::vector<StageId> FunnelLine(const Machine& m) {
  std::vector<StageId> line;
  for (StageKind kind : {StageKind::kOpen, StageKind::kWon}) {
    for (int s = 0; s < m.num_stages() && line.size() < 254; ++s) {
      const StageInfo& info = m.stage(static_cast<StageId>(s));
      if (info.kind == kind && !info.side) line.push_back(static_cast<StageId>(s));
    }
  }
  return line;
}

}  // namespace

FunnelAccumulator::FunnelAccumulator(const Machine& machine, Cohort cohort)
    : machine_(machine),
      cohort_(cohort),
      bytes_((static_cast<size_t>(machine.num_stages()) + 7) / 8),
      more_bytes_(machine.num_stages() > kMarkedStages
                      ? (static_cast<size_t>(machine.num_stages()) - kMarkedStages + 7) / 8
                      : 0),
      closes_(machine.num_stages(), 0),
      line_(FunnelLine(machine)),
      line_position_(machine.num_stages(), kOffLine),
      total_(machine.num_stages(), line_.size(), DurationHistogram::Dense{}),
      num_events_(static_cast<size_t>(machine.num_events())),
      keeps_wins_(machine.keeps_cycles()),
      keeps_loss_periods_(cohort != Cohort::kNone && CanUnlose(machine)) {
  // Cohorts would need the deal's cohort, which the table does not keep.
  constexpr size_t kMaxUnmatchedCells = 4096;  // 32 KiB
  const size_t cells = static_cast<size_t>(machine.num_stages()) * num_events_;
  if (cohort == Cohort::kNone && cells <= kMaxUnmatchedCells) unmatched_.resize(cells, 0);
  for (int s = 0; s < machine.num_stages(); ++s) {
    const StageKind kind = machine.stage(static_cast<StageId>(s)).kind;
    closes_[s] = kind == StageKind::kWon    ? kWon
                 : kind == StageKind::kLost ? kLost
                                            : 0;
  }
  for (size_t p = 0; p < line_.size(); ++p) {
    line_position_[line_[p]] = static_cast<uint8_t>(p);
  }
}

void FunnelAccumulator::Grow(DealIndex deal) {
  if (deal < created_.size()) return;
  const size_t n = static_cast<size_t>(deal) + 1;
  created_.resize(n, 0);
  marks_.resize(n);
  if (!activities_.empty()) activities_.resize(n, 0);
  visited_more_.resize(n * more_bytes_, 0);
  if (cohort_ != Cohort::kNone) cohort_of_.resize(n, kNoCohort);
}

void FunnelAccumulator::ClearMarks(DealIndex deal) {
  marks_[deal] = DealMarks();
  if (deal < activities_.size()) activities_[deal] = 0;
  std::fill_n(visited_more_.begin() + static_cast<size_t>(deal) * more_bytes_, more_bytes_, 0);
}

template <typename F>
void FunnelAccumulator::ForEachVisited(DealIndex deal, F f) const {
  for (unsigned bits = marks_[deal].visited; bits != 0; bits &= bits - 1) {
    f(static_cast<size_t>(absl::countr_zero(bits)));
  }
  if (more_bytes_ == 0) return;
  const uint8_t* more = &visited_more_[deal * more_bytes_];
  for (size_t b = 0; b < more_bytes_; ++b) {
    for (unsigned bits = more[b]; bits != 0; bits &= bits - 1) {
      f(kMarkedStages + b * 8 + static_cast<size_t>(absl::countr_zero(bits)));
    }
  }
}

void FunnelAccumulator::RestoreActivities(DealIndex deal, uint32_t n) {
  if (activities_.size() < created_.size()) activities_.resize(created_.size(), 0);
  activities_[deal] = n;
}

void FunnelAccumulator::AppendVisited(DealIndex deal, std::string* out) const {
  const uint16_t low = marks_[deal].visited;
  out->push_back(static_cast<char>(low & 0xFF));
  if (bytes_ > 1) out->push_back(static_cast<char>(low >> 8));
  if (more_bytes_ == 0) return;
  out->append(reinterpret_cast<const char*>(&visited_more_[deal * more_bytes_]), more_bytes_);
}

void FunnelAccumulator::Reserve(size_t deals) {
  created_.reserve(deals);
  marks_.reserve(deals);
  visited_more_.reserve(deals * more_bytes_);
  if (cohort_ != Cohort::kNone) cohort_of_.reserve(deals);
}

void FunnelAccumulator::SetAdded(DealIndex deal, Timestamp time) {
  if (!has_created_base_) {
    created_base_ = time;
    has_created_base_ = true;
  }
  if (!created_far_.empty()) created_far_.erase(deal);  // a reused slot
  // In 128 bits: the difference of any two timestamps.
  const absl::int128 offset = absl::int128(time) - created_base_;
  if (offset > std::numeric_limits<int32_t>::max() || offset <= kFarCreation) {
    created_[deal] = kFarCreation;
    created_far_[deal] = time;
  } else {
    created_[deal] = static_cast<int32_t>(offset);
  }
}

void FunnelAccumulator::OnReject(DealIndex deal, const StepResult& step) {
  if (step.time > latest_) latest_ = step.time;
  const uint64_t key =
      RejectionKey::Pack(step.from, step.event, step.target, step.outcome);
  // A removed deal's slot has no cohort of its own any more.
  const uint32_t c = cohort_ == Cohort::kNone || step.outcome == Outcome::kNoDeal ||
                             deal >= cohort_of_.size()
                         ? kNoCohort
                         : cohort_of_[deal];
  for (FunnelCounters* f : {&total_, c == kNoCohort ? nullptr : &cohorts_[c]}) {
    if (f == nullptr) continue;
    ++f->rejections[key];
    if (step.from < f->stages.size()) ++f->stages[step.from].rejected;
  }
}

void FunnelAccumulator::EndBatch(Timestamp latest) {
  NoteTime(latest);
  for (size_t cell = 0; cell < unmatched_.size(); ++cell) {
    const uint64_t n = unmatched_[cell];
    if (n == 0) continue;
    unmatched_[cell] = 0;
    const auto from = static_cast<StageId>(cell / num_events_);
    const auto event = static_cast<EventId>(cell % num_events_);
    total_.rejections[RejectionKey::Pack(from, event, kNoStage, Outcome::kNoTransition)] += n;
    total_.stages[from].rejected += n;
  }
}

void FunnelAccumulator::OnNewCycle(DealIndex deal, Timestamp time) {
  cycle_start_[deal] = time;
  ClearMarks(deal);
  if (keeps_loss_periods_) loss_period_.erase(deal);  // the lost cycle stays lost
  ++total_.new_cycles;
  const uint32_t c = cohort_of(deal);
  if (c != kNoCohort) ++cohorts_[c].new_cycles;
}

void FunnelAccumulator::OnActivity(DealIndex deal, StageId stage, Timestamp time) {
  if (time > latest_) latest_ = time;
  if (activities_.size() < created_.size()) activities_.resize(created_.size(), 0);
  if (activities_[deal] != std::numeric_limits<uint32_t>::max()) ++activities_[deal];
  ++total_.stages[stage].activities;
  const uint32_t c = cohort_ == Cohort::kNone ? kNoCohort : cohort_of_[deal];
  if (c != kNoCohort) ++cohorts_[c].stages[stage].activities;
}

void FunnelAccumulator::OnAdd(DealIndex deal, StageId stage, Timestamp time) {
  Grow(deal);
  if (time > latest_) latest_ = time;
  SetAdded(deal, time);
  cycle_start_.erase(deal);  // a reused slot
  if (keeps_wins_) wins_.erase(deal);
  if (keeps_loss_periods_) loss_period_.erase(deal);
  ClearMarks(deal);
  Visit(deal, &marks_[deal], stage);
  const uint32_t c = cohort_ == Cohort::kNone ? kNoCohort : CohortIndex(time);
  if (c != kNoCohort) cohort_of_[deal] = c;
  Reach(&marks_[deal], stage, c);
  ++total_.deals;
  ++total_.stages[stage].entered;
  if (c != kNoCohort) {
    ++cohorts_[c].deals;
    ++cohorts_[c].stages[stage].entered;
  }
  if (closes_[stage] != 0) Close(deal, kNoStage, stage, time);
}

void FunnelAccumulator::Close(DealIndex deal, StageId from, StageId to, Timestamp time) {
  uint8_t& flags = marks_[deal].flags;
  const uint32_t c = cohort_of(deal);
  FunnelCounters* groups[2] = {&total_, c != kNoCohort ? &cohorts_[c] : nullptr};
  if (closes_[to] == kLost) {
    if ((flags & (kWon | kLost)) != 0) return;
    flags |= kLost;
    if (cohort_ != Cohort::kNone) {
      const Timestamp period = CohortStart(time);
      ++close_periods_[period].lost;
      if (keeps_loss_periods_) loss_period_[deal] = period;
    }
    const uint64_t length = Elapsed(cycle_start(deal), time);
    for (FunnelCounters* g : groups) {
      if (g == nullptr) continue;
      ++g->lost;
      g->loss_lengths.Add(length);
      g->activities_lost += activities(deal);
      if (from != kNoStage) ++g->stages[from].lost_from;
    }
    return;
  }
  if ((flags & kWon) != 0) return;
  const bool was_lost = (flags & kLost) != 0;
  flags |= kWon;
  // Looked up once: a deal past its first cycle has its start in a map.
  const Timestamp start = cycle_start(deal);
  const uint64_t length = Elapsed(start, time);
  if (cohort_ != Cohort::kNone) {
    CloseCounters& period = close_periods_[CohortStart(time)];
    ++period.won;
    period.cycle_lengths.Add(length);
    if (was_lost && keeps_loss_periods_) {
      const auto it = loss_period_.find(deal);
      if (it != loss_period_.end()) {
        --close_periods_[it->second].lost;
        loss_period_.erase(it);
      }
    }
  }
  // A deal that won an earlier cycle wins again: a repeat purchase.
  bool repeat = false, second = false;
  uint64_t since_last = 0;
  if (keeps_wins_) {
    auto [it, first] = wins_.try_emplace(deal, Wins{time, 1});
    if (!first) {
      Wins& w = it->second;
      repeat = true;
      second = w.count == 1;
      since_last = Elapsed(w.last, time);
      w.last = time;
      if (w.count != std::numeric_limits<uint32_t>::max()) ++w.count;
    }
  }
  for (FunnelCounters* g : groups) {
    if (g == nullptr) continue;
    if (repeat) {
      ++g->repeat_wins;
      g->repeat_buyers += second;
      g->between_wins.Add(since_last);
    }
    ++g->won;
    g->activities_won += activities(deal);
    if (was_lost) --g->lost;
    // The exact sum takes the signed length (a win timed before its
    // cycle's start counts negative there, as it always has); in 128 bits,
    // so that no two timestamps overflow it.
    g->cycle_seconds += absl::int128(time) - start;
    g->cycle_lengths.Add(length);
    ForEachVisited(deal, [g](size_t stage) { ++g->stages[stage].won_after; });
  }
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

Timestamp FunnelAccumulator::NextCohortStart(Timestamp start) const {
  // Past the longest week, month (31 days) or quarter (92 days) from a
  // start is in the next one, never the one after.
  const int64_t days = cohort_ == Cohort::kWeek ? 7 : cohort_ == Cohort::kMonth ? 31 : 92;
  // The last period's end is the end of time.
  if (start > std::numeric_limits<Timestamp>::max() - days * 86400) {
    return std::numeric_limits<Timestamp>::max();
  }
  return CohortStart(start + days * 86400);
}

Timestamp FunnelAccumulator::CohortStart(Timestamp time) const {
  if (cohort_ == Cohort::kWeek) {
    const int64_t day = FloorDiv(time, 86400);
    // 1970-01-01 was a Thursday: Monday-based, it is day 3 of its week.
    const int64_t monday = day - (((day + 3) % 7) + 7) % 7;
    // The first week's Monday is before the first second int64 holds: its
    // start is that second.
    const absl::int128 start = absl::int128(monday) * 86400;
    return start < std::numeric_limits<Timestamp>::min() ? std::numeric_limits<Timestamp>::min()
                                                         : static_cast<Timestamp>(start);
  }
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::CivilMonth month(absl::ToCivilSecond(absl::FromUnixSeconds(time), utc));
  if (cohort_ == Cohort::kQuarter) month -= (month.month() - 1) % 3;
  return absl::ToUnixSeconds(absl::FromCivil(month, utc));
}

uint32_t FunnelAccumulator::CohortIndex(Timestamp time) {
  const Timestamp start = CohortStart(time);
  const auto [it, added] = cohort_by_start_.try_emplace(
      start, static_cast<uint32_t>(cohorts_.size()));
  if (added) {
    cohorts_.emplace_back(static_cast<size_t>(machine_.num_stages()), line_.size());
    cohort_starts_.push_back(start);
  }
  return it->second;
}

void FunnelAccumulator::RestoreDeal(DealIndex deal, Timestamp added,
                                    const std::vector<StageId>& visited,
                                    uint8_t flags, uint8_t furthest) {
  RestoreDeal(deal, added, uint16_t{0}, flags, furthest);
  DealMarks& marks = marks_[deal];
  for (StageId s : visited) Visit(deal, &marks, s);
}

void FunnelAccumulator::RestoreDeal(DealIndex deal, Timestamp added, uint16_t visited,
                                    uint8_t flags, uint8_t furthest) {
  Grow(deal);
  SetAdded(deal, added);
  ClearMarks(deal);
  DealMarks& marks = marks_[deal];
  marks.visited = visited;
  marks.flags = flags;
  marks.furthest = furthest;
  if (cohort_ != Cohort::kNone) cohort_of_[deal] = CohortIndex(added);
}

uint32_t FunnelAccumulator::RestoreCohort(Timestamp start) {
  if (cohort_ == Cohort::kNone || CohortStart(start) != start) return kNoCohort;
  return CohortIndex(start);
}

void FunnelAccumulator::MergeCounters(const FunnelAccumulator& other) {
  if (other.has_latest() && (!has_latest() || other.latest_ > latest_)) {
    latest_ = other.latest_;
  }
  total_.Merge(other.total_);
  for (size_t i = 0; i < other.cohorts_.size(); ++i) {
    cohorts_[CohortIndex(other.cohort_starts_[i])].Merge(other.cohorts_[i]);
  }
  for (const auto& [start, counters] : other.close_periods_) {
    close_periods_[start].Merge(counters);
  }
}

void FunnelAccumulator::ShareLive(const FunnelAccumulator& source, DealIndex deal, int sign) {
  // Counters are unsigned: adding the all-ones word takes one away.
  const uint64_t step = sign > 0 ? 1 : ~uint64_t{0};
  const DealMarks& marks = source.marks_[deal];
  const uint32_t c = source.cohort_of(deal);
  FunnelCounters* groups[2] = {
      &total_, c == kNoCohort ? nullptr : &cohorts_[CohortIndex(source.cohort_starts_[c])]};
  const bool lost = (marks.flags & (kWon | kLost)) == kLost;
  for (FunnelCounters* g : groups) {
    if (g == nullptr) continue;
    if (marks.furthest != kOffLine) {
      g->furthest[marks.furthest] += step;
      if ((marks.flags & kOutOfOrder) == 0) g->furthest_in_order[marks.furthest] += step;
    }
    // A cycle out of order stays counted in order where it got to in
    // order: no later move takes that back, but it goes with the deal, so
    // that no part counts more cycles in order than cycles.
    // REQUIRES (SavePipelinePart checks): not kUnknownInOrder.
    if (const unsigned mark = InOrderMark(marks.flags); mark != 0) {
      g->furthest_in_order[mark - 1] += step;
    }
    if (lost) g->lost += step;
  }
  if (lost) {
    if (const std::optional<Timestamp> period = source.loss_period(deal)) {
      close_periods_[*period].lost += step;
    }
  }
}

CloseCounters* FunnelAccumulator::RestoreClosePeriod(Timestamp start) {
  if (cohort_ == Cohort::kNone || CohortStart(start) != start) return nullptr;
  return &close_periods_[start];
}

void DurationHistogram::Merge(const DurationHistogram& other) {
  other.ForEachBucket([this](uint32_t bucket, uint64_t n) { Restore(bucket, n); });
  RestoreSum(sum() + other.sum());
}

void FunnelCounters::Merge(const FunnelCounters& other) {
  deals += other.deals;
  won += other.won;
  lost += other.lost;
  cycle_seconds += other.cycle_seconds;
  new_cycles += other.new_cycles;
  repeat_wins += other.repeat_wins;
  repeat_buyers += other.repeat_buyers;
  between_wins.Merge(other.between_wins);
  loss_lengths.Merge(other.loss_lengths);
  activities_won += other.activities_won;
  activities_lost += other.activities_lost;
  cycle_lengths.Merge(other.cycle_lengths);
  for (size_t s = 0; s < stages.size() && s < other.stages.size(); ++s) {
    StageCounters& a = stages[s];
    const StageCounters& b = other.stages[s];
    a.entered += b.entered;
    a.reentries += b.reentries;
    a.won_after += b.won_after;
    a.activities += b.activities;
    a.rejected += b.rejected;
    a.lost_from += b.lost_from;
    a.time_in_stage.Merge(b.time_in_stage);
  }
  other.flow.ForEach([this](StageId from, StageId to, uint64_t n) { flow.AddMoves(from, to, n); });
  for (const auto& [key, n] : other.rejections) rejections[key] += n;
  for (size_t p = 0; p < furthest_in_order.size() && p < other.furthest_in_order.size(); ++p) {
    furthest_in_order[p] += other.furthest_in_order[p];
  }
  for (size_t p = 0; p < furthest.size() && p < other.furthest.size(); ++p) {
    furthest[p] += other.furthest[p];
  }
}

std::string FunnelAccumulator::CohortLabel(Cohort cohort, Timestamp start) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilDay day(absl::ToCivilSecond(absl::FromUnixSeconds(start), utc));
  char label[32];
  if (cohort == Cohort::kWeek) {
    // ISO 8601: a week belongs to the year of its Thursday.
    const absl::CivilDay thursday = day + 3;
    std::snprintf(label, sizeof label, "%04lld-W%02d",
                  static_cast<long long>(thursday.year()),
                  (absl::GetYearDay(thursday) - 1) / 7 + 1);
  } else if (cohort == Cohort::kQuarter) {
    std::snprintf(label, sizeof label, "%04lld-Q%d",
                  static_cast<long long>(day.year()), (day.month() - 1) / 3 + 1);
  } else {
    std::snprintf(label, sizeof label, "%04lld-%02d",
                  static_cast<long long>(day.year()), day.month());
  }
  return label;
}

size_t FunnelAccumulator::MemoryUsage() const {
  auto counters = [](const FunnelCounters& c) {
    size_t bytes = c.stages.capacity() * sizeof(StageCounters) +
                   (c.furthest.capacity() + c.furthest_in_order.capacity()) * sizeof(uint64_t) +
                   c.flow.MemoryUsage();
    for (const StageCounters& s : c.stages) bytes += s.time_in_stage.MemoryUsage();
    bytes += c.cycle_lengths.MemoryUsage() + c.between_wins.MemoryUsage() +
             c.loss_lengths.MemoryUsage();
    return bytes;
  };
  size_t bytes = counters(total_) +
                 cohorts_.capacity() * sizeof(FunnelCounters) +
                 cohort_starts_.capacity() * sizeof(Timestamp) +
                 cohort_by_start_.capacity() *
                     (sizeof(Timestamp) + sizeof(uint32_t) + 1) +
                 unmatched_.capacity() * sizeof(uint64_t) +
                 wins_.capacity() * (sizeof(DealIndex) + sizeof(Wins) + 1) +
                 loss_period_.capacity() * (sizeof(DealIndex) + sizeof(Timestamp) + 1);
  // A std::map node: the value and about four pointers of bookkeeping.
  for (const auto& [start, c] : close_periods_) {
    bytes += sizeof(start) + sizeof(c) + 4 * sizeof(void*) + c.cycle_lengths.MemoryUsage();
  }
  for (const FunnelCounters& c : cohorts_) bytes += counters(c);
  return bytes + created_.capacity() * sizeof(int32_t) +
         created_far_.capacity() * (sizeof(DealIndex) + sizeof(Timestamp) + 1) +
         marks_.capacity() * sizeof(DealMarks) + visited_more_.capacity() +
         activities_.capacity() * sizeof(uint32_t) +
         cohort_of_.capacity() * sizeof(uint32_t) +
         cycle_start_.capacity() * (sizeof(DealIndex) + sizeof(Timestamp) + 1);
}

}  // namespace internal
}  // namespace salescycle
