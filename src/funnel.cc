#include "salescycle/funnel.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "salescycle/v1/funnel.pb.h"
#include "src/analytics.h"
#include "src/funnel_state_rep.h"
#include "src/pipeline_internal.h"
#include "src/status_macros.h"
#include "src/thousands.h"
#include "src/json_writer.h"
#include "src/utf8.h"

namespace salescycle {
namespace internal {

namespace {

// Whether a remembered move started a new cycle: the first transition
// declared between its stages on its event takes new_cycle (a history keeps
// the move, not the transition; a reopen or a timeout's entry starts none).
bool StartedCycle(const Machine& m, const HistoryEntry& e) {
  if (!m.keeps_cycles() || e.by_timeout) return false;
  for (const TransitionInfo& t : m.transitions()) {
    if (t.from == e.from && t.to == e.to && (e.event == kNoEvent || t.event == e.event)) {
      return t.new_cycle;
    }
  }
  return false;
}

// The counters replayed from each live deal's history. A deal whose
// history was never cut short is counted from its addition (taken as its
// first step's time: a history does not hold the addition); one whose
// oldest steps were dropped, from its oldest remembered step.
std::unique_ptr<FunnelAccumulator> FromHistory(const Pipeline& p,
                                               Cohort cohort) {
  const Machine& m = p.machine();
  auto acc = std::make_unique<FunnelAccumulator>(m, cohort);
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    if (!p.Contains(d)) continue;
    const std::vector<HistoryEntry> steps = p.History(d);
    if (steps.empty()) {
      acc->OnAdd(d, p.stage(d), p.entered_at(d));
      continue;
    }
    // Whole or cut short, the oldest step leaves the stage the deal was in
    // then: its creation stage (an entry stage) for a whole history.
    acc->OnAdd(d, steps.front().from, steps.front().time);
    Timestamp since = steps.front().time;
    for (const HistoryEntry& e : steps) {
      if (e.outcome == Outcome::kActivity) {
        acc->OnActivity(d, e.from, e.time);
        continue;
      }
      if (e.outcome != Outcome::kMoved) {
        StepResult r;
        r.outcome = e.outcome;
        r.from = e.from;
        r.event = e.event;
        r.time = e.time;
        acc->OnReject(d, r);
        continue;
      }
      if (StartedCycle(m, e)) acc->OnNewCycle(d, e.time);
      acc->OnMove(d, e.from, since, e.to, e.time);
      since = e.time;
    }
  }
  return acc;
}

}  // namespace

namespace {

// Whether a deal that entered at `entered` has, as of `as_of`, stayed past
// `limit` seconds (a stall limit: the compiler makes it positive). Any two
// timestamps: their difference can pass int64 (the fuzzer found an entry at
// the far past of a hostile event file), so it is taken in uint64, where it
// fits whenever as_of > entered.
// The time from `entered` to `as_of`, 0 if it is later; in 64 unsigned
// bits, which hold any difference of two timestamps.
uint64_t StaySeconds(Timestamp entered, Timestamp as_of) {
  if (as_of <= entered) return 0;
  return static_cast<uint64_t>(as_of) - static_cast<uint64_t>(entered);
}

// Whether `t` is in [from, to); an unset bound does not bound.
bool InWindow(Timestamp t, std::optional<Timestamp> from, std::optional<Timestamp> to) {
  return (!from || t >= *from) && (!to || t < *to);
}

bool StayedPast(Timestamp entered, Timestamp as_of, int64_t limit) {
  return StaySeconds(entered, as_of) > static_cast<uint64_t>(limit);
}

}  // namespace

void LiveTally::Add(StageId s, const StageInfo& info, StageId furthest, bool is_stalled,
                    bool won, std::optional<double> value, uint64_t stay_seconds) {
  current_stay_seconds[s] += stay_seconds;
  const bool is_open = info.kind == StageKind::kOpen;
  if (furthest != kNoStage) {
    if (info.kind == StageKind::kLost) {
      ++stopped_lost[furthest];
    } else if (info.side) {
      ++stopped_side[furthest];
    } else if (is_open) {
      ++stopped_open[furthest];
    }
  }
  ++live;
  ++now[s];
  if (is_stalled) ++stalled[s];
  if (is_open) ++open;
  if (!value) return;
  if (is_open) {
    weighted_percent.Add(*value, info.win_probability);
    open_value.Add(*value);
    ++open_valued;
  }
  if (won) {
    won_value.Add(*value);
    ++won_valued;
  }
}

namespace {

template <typename T>
void AddAll(std::vector<T>* to, const std::vector<T>& from) {
  if (to->size() < from.size()) to->resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) (*to)[i] += from[i];
}

}  // namespace

void LiveTally::Merge(const LiveTally& other) {
  AddAll(&now, other.now);
  AddAll(&stalled, other.stalled);
  AddAll(&stopped_lost, other.stopped_lost);
  AddAll(&stopped_open, other.stopped_open);
  AddAll(&stopped_side, other.stopped_side);
  AddAll(&current_stay_seconds, other.current_stay_seconds);
  for (const auto& [reason, n] : other.lost_by_reason) lost_by_reason[reason] += n;
  live += other.live;
  open += other.open;
  weighted_percent.Merge(other.weighted_percent);
  won_value.Merge(other.won_value);
  won_valued += other.won_valued;
  open_value.Merge(other.open_value);
  open_valued += other.open_valued;
}

void SegmentTally::Merge(const SegmentTally& other) {
  deals += other.deals;
  open += other.open;
  won += other.won;
  lost += other.lost;
  weighted_percent.Merge(other.weighted_percent);
  AddAll(&reached, other.reached);
}

namespace {

// The deal's value as a number, when the value attribute is set.
std::optional<double> DealValue(const Pipeline& p, DealIndex d,
                                std::optional<AttributeId> attribute) {
  if (!attribute || !p.IsSet(d, *attribute)) return std::nullopt;
  const AttributeValue a = *p.Get(d, *attribute);
  return a.type() == AttributeType::kInt64 ? static_cast<double>(a.int64_value())
                                           : a.double_value();
}

// The value attribute FunnelOptions names, checked to be a number.
absl::StatusOr<std::optional<AttributeId>> ValueAttribute(
    const Machine& m, const FunnelOptions& options) {
  if (options.value_attribute.empty()) return std::nullopt;
  SC_ASSIGN_OR_RETURN(const AttributeId id,
                      m.FindAttribute(options.value_attribute));
  const AttributeType type = m.attribute(id).type;
  if (type != AttributeType::kInt64 && type != AttributeType::kDouble) {
    return absl::InvalidArgumentError(
        absl::StrCat("value attribute \"", options.value_attribute, "\" is ",
                     AttributeTypeName(type), ", not a number"));
  }
  return id;
}

// The next stage on the funnel line, for OPEN stages on it only.
StageId NextInFunnel(const Machine& m, const FunnelAccumulator& acc, StageId s) {
  const uint8_t p = acc.line_position(s);
  if (m.stage(s).kind != StageKind::kOpen || p == FunnelAccumulator::kOffLine ||
      static_cast<size_t>(p) + 1 >= acc.line().size()) {
    return kNoStage;
  }
  return acc.line()[p + 1];
}

// reached(position) for every position on the line: the deals whose
// furthest is there or later.
std::vector<uint64_t> Reached(const std::vector<uint64_t>& furthest) {
  std::vector<uint64_t> reached(furthest.size() + 1, 0);
  for (size_t p = furthest.size(); p-- > 0;) {
    reached[p] = reached[p + 1] + furthest[p];
  }
  return reached;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

// The kinds of rejection, the most frequent first; ties by key (stage,
// event, target, outcome), so that the order depends only on the counts.
std::vector<RejectionCount> Rejections(const Machine& m, const FunnelCounters& c) {
  std::vector<std::pair<uint64_t, uint64_t>> kinds(c.rejections.begin(),
                                                   c.rejections.end());
  std::sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  auto stage = [&m](StageId s) {
    return s < m.num_stages() ? m.stage(s).id : std::string();
  };
  std::vector<RejectionCount> out;
  for (const auto& [key, count] : kinds) {
    RejectionCount r;
    r.stage = stage(RejectionKey::From(key));
    const EventId e = RejectionKey::Event(key);
    r.event = e < m.num_events() ? m.event(e).id : "";
    r.target = stage(RejectionKey::Target(key));
    r.outcome = RejectionKey::Why(key);
    r.count = count;
    out.push_back(std::move(r));
  }
  return out;
}

// Each stage's moves in and exits by destination (funnel.h), read from the
// flow matrix, which they are kept in as one add a move.
struct StageFlow {
  uint64_t in = 0, forward = 0, back = 0, lost = 0, side = 0;
};

std::vector<StageFlow> FlowByStage(const Machine& m, const FunnelAccumulator& acc,
                                   const FunnelCounters& c,
                                   std::vector<FlowCount>* pairs) {
  std::vector<StageFlow> flows(static_cast<size_t>(m.num_stages()));
  c.flow.ForEach([&](StageId from, StageId to, uint64_t moves) {
    pairs->push_back({from, to, moves});
    flows[to].in += moves;
    StageFlow& out = flows[from];
    const uint8_t at = acc.line_position(from);
    const uint8_t next = acc.line_position(to);
    if (m.stage(to).kind == StageKind::kLost) {
      out.lost += moves;
    } else if (next == FunnelAccumulator::kOffLine) {
      out.side += moves;
    } else if (at != FunnelAccumulator::kOffLine && next > at) {
      out.forward += moves;
    } else {
      // Earlier on the line, or from off it back onto it.
      out.back += moves;
    }
  });
  return flows;
}

DurationStats Stats(const DurationHistogram& h) {
  DurationStats s;
  s.count = h.count();
  s.mean_seconds = h.mean();
  s.median_seconds = h.Quantile(0.5);
  s.p90_seconds = h.Quantile(0.9);
  return s;
}

// One stage's figures: its own counters, its flow, its live deals, and the
// reach of the line (by position).
StageFunnel StageFigures(const Machine& m, const FunnelAccumulator& acc,
                         const FunnelCounters& c, const LiveTally& live,
                         const StageFlow& flow, const std::vector<uint64_t>& reached,
                         const std::vector<uint64_t>& reached_in_order, StageId s) {
  const StageInfo& info = m.stage(s);
  const StageCounters& sc = c.stages[s];
  StageFunnel st;
  st.stage = s;
  st.id = info.id;
  st.display_name = info.display_name;
  st.kind = info.kind;
  st.side = info.side;
  st.win_probability = info.win_probability;
  st.entered = sc.entered;
  st.moves_in = flow.in;
  st.reentries = sc.reentries;
  st.exits_forward = flow.forward;
  st.exits_back = flow.back;
  st.exits_lost = flow.lost;
  st.exits_side = flow.side;
  st.moved_on = flow.forward + flow.back + flow.side;
  st.dropped = flow.lost;
  st.now = live.now[s];
  st.stalled = live.stalled[s];
  st.stopped_lost = live.stopped_lost[s];
  st.stopped_open = live.stopped_open[s];
  st.stopped_side = live.stopped_side[s];
  const uint8_t position = acc.line_position(s);
  const bool on_line = position != FunnelAccumulator::kOffLine;
  st.reached = on_line ? reached[position] : 0;
  st.reached_in_order = on_line ? reached_in_order[position] : 0;
  st.next_stage = NextInFunnel(m, acc, s);
  if (st.next_stage != kNoStage) {
    st.conversion_to_next = Ratio(static_cast<double>(reached[position + 1]),
                                  static_cast<double>(st.reached));
    st.conversion_to_next_in_order = Ratio(static_cast<double>(reached_in_order[position + 1]),
                                           static_cast<double>(st.reached_in_order));
  }
  st.conversion_to_won =
      on_line ? Ratio(static_cast<double>(c.won), static_cast<double>(st.reached))
              : Ratio(static_cast<double>(sc.won_after), static_cast<double>(sc.entered));
  st.drop_rate = Ratio(static_cast<double>(st.dropped), static_cast<double>(sc.entered));
  st.time_in_stage = Stats(sc.time_in_stage);
  st.mean_cumulative_seconds =
      Ratio(static_cast<double>(sc.time_in_stage.sum() + live.current_stay_seconds[s]),
            static_cast<double>(sc.entered));
  st.activities = sc.activities;
  st.rejected = sc.rejected;
  st.lost_from = sc.lost_from;
  return st;
}

// The biggest leak (funnel.h): the stage of the line with the lowest
// conversion to next, compared exactly as fractions; ties: the more deals
// that stopped there. kNoStage when every deal went on.
StageId BiggestLeak(const std::vector<StageFunnel>& stages) {
  StageId leak = kNoStage;
  for (const StageFunnel& s : stages) {
    if (s.next_stage == kNoStage) continue;
    const uint64_t went_on = stages[s.next_stage].reached;
    if (s.reached == 0 || went_on >= s.reached) continue;
    if (leak == kNoStage) {
      leak = s.stage;
      continue;
    }
    const StageFunnel& b = stages[leak];
    const uint64_t b_went_on = stages[b.next_stage].reached;
    // went_on / reached < b_went_on / b.reached, without rounding.
    const absl::uint128 here = absl::uint128(went_on) * b.reached;
    const absl::uint128 there = absl::uint128(b_went_on) * s.reached;
    if (here < there || (here == there && s.reached - went_on > b.reached - b_went_on)) {
      leak = s.stage;
    }
  }
  return leak;
}

FunnelFigures Figures(const Machine& m, const FunnelAccumulator& acc,
                      const FunnelCounters& c, const LiveTally& live) {
  const std::vector<uint64_t> reached = Reached(c.furthest);
  const std::vector<uint64_t> reached_in_order = Reached(c.furthest_in_order);
  FunnelFigures f;
  const std::vector<StageFlow> flows = FlowByStage(m, acc, c, &f.flow);
  f.deals = c.deals;
  f.cycles = c.deals + c.new_cycles;
  f.live_deals = live.live;
  f.open_deals = live.open;
  f.won = c.won;
  f.lost = c.lost;
  f.win_rate = Ratio(static_cast<double>(c.won), static_cast<double>(c.won + c.lost));
  f.average_cycle_days =
      Ratio(static_cast<double>(c.cycle_seconds), static_cast<double>(c.won)) /
      86400.0;
  f.cycle_length = Stats(c.cycle_lengths);
  f.repeat_wins = c.repeat_wins;
  f.repeat_buyers = c.repeat_buyers;
  // Every buyer's first win is not a repeat one.
  f.buyers = c.won - c.repeat_wins;
  f.repeat_rate = Ratio(static_cast<double>(f.repeat_buyers), static_cast<double>(f.buyers));
  f.cycles_per_deal = Ratio(static_cast<double>(f.cycles), static_cast<double>(f.deals));
  f.time_between_wins = Stats(c.between_wins);
  f.time_to_loss = Stats(c.loss_lengths);
  f.activities_per_won_cycle =
      Ratio(static_cast<double>(c.activities_won), static_cast<double>(c.won));
  f.activities_per_lost_cycle = Ratio(static_cast<double>(c.activities_lost),
                                      static_cast<double>(c.loss_lengths.count()));
  f.average_deal_value =
      live.won_valued > 0
          ? live.won_value.value() / static_cast<double>(live.won_valued)
          : Ratio(live.open_value.value(), static_cast<double>(live.open_valued));
  f.sales_velocity_per_day =
      f.average_cycle_days > 0 ? static_cast<double>(f.open_deals) *
                                     f.average_deal_value * f.win_rate /
                                     f.average_cycle_days
                               : 0;
  f.weighted_pipeline = live.weighted_percent.value() / 100.0;
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageId s = static_cast<StageId>(i);
    f.stages.push_back(StageFigures(m, acc, c, live, flows[s], reached, reached_in_order, s));
    f.accepted_steps += f.stages.back().activities;
  }
  f.biggest_leak = BiggestLeak(f.stages);
  f.accepted_steps += c.flow.Total();
  f.lost_by_reason.assign(live.lost_by_reason.begin(), live.lost_by_reason.end());
  std::sort(f.lost_by_reason.begin(), f.lost_by_reason.end(),
            [](const auto& a, const auto& b) {
              return a.second != b.second ? a.second > b.second : a.first < b.first;
            });
  f.rejections = Rejections(m, c);
  for (const RejectionCount& r : f.rejections) f.rejected_steps += r.count;
  return f;
}

// The breakdown attribute's value of a live deal, as text.
std::string SegmentValue(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kInt64: return absl::StrCat(v.int64_value());
    case AttributeType::kDouble: {
      // The shortest text that reads back as the same double: StrCat's six
      // digits would put 93454.37 and 93454.41 in one segment.
      char buffer[32];
      const auto end = std::to_chars(buffer, buffer + sizeof buffer, v.double_value()).ptr;
      return std::string(buffer, static_cast<size_t>(end - buffer));
    }
    case AttributeType::kString: return v.string_value();
    case AttributeType::kBool: return v.bool_value() ? "true" : "false";
  }
  return "";
}

FunnelSegment ToSegment(std::string value, const SegmentTally& t) {
  FunnelSegment s;
  s.value = std::move(value);
  s.deals = t.deals;
  s.open = t.open;
  s.won = t.won;
  s.lost = t.lost;
  s.weighted_pipeline = t.weighted_percent.value() / 100.0;
  s.reached = t.reached;
  return s;
}

// The segments, the most deals first, "(not set)" then the fold of the
// values past kMaxFunnelSegments - 1 last.
std::vector<FunnelSegment> OrderSegments(
    const absl::flat_hash_map<std::string, SegmentTally>& by_value,
    const SegmentTally& unset, size_t stages) {
  std::vector<std::pair<const std::string*, const SegmentTally*>> order;
  order.reserve(by_value.size());
  for (const auto& [value, tally] : by_value) order.emplace_back(&value, &tally);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->deals != b.second->deals ? a.second->deals > b.second->deals
                                              : *a.first < *b.first;
  });
  const size_t keep = kMaxFunnelSegments - 2;  // room for "(not set)" and the fold
  std::vector<FunnelSegment> out;
  for (size_t i = 0; i < order.size() && (i < keep || order.size() == keep + 1); ++i) {
    out.push_back(ToSegment(*order[i].first, *order[i].second));
  }
  if (unset.deals > 0) {
    out.push_back(ToSegment("(not set)", unset));
    out.back().set = false;
  }
  if (order.size() > keep + 1) {
    SegmentTally folded;
    folded.reached.assign(stages, 0);
    for (size_t i = keep; i < order.size(); ++i) folded.Merge(*order[i].second);
    out.push_back(ToSegment(absl::StrCat("(", order.size() - keep, " other values)"), folded));
    out.back().other = true;
  }
  for (FunnelSegment& s : out) {
    s.win_rate = Ratio(static_cast<double>(s.won), static_cast<double>(s.won + s.lost));
  }
  return out;
}

// The live deals by the breakdown attribute's value (funnel.h).
void TallySegments(const Pipeline& p, const FunnelAccumulator& acc, AttributeId attribute,
                   std::optional<AttributeId> value, FunnelStateRep* rep) {
  const Machine& m = p.machine();
  const size_t stages = static_cast<size_t>(m.num_stages());
  rep->unset.reached.assign(stages, 0);
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    if (!p.Contains(d) || !InWindow(acc.added(d), rep->created_from, rep->created_to)) continue;
    SegmentTally* s = &rep->unset;
    if (p.IsSet(d, attribute)) {
      auto [it, added] = rep->segments.try_emplace(SegmentValue(*p.Get(d, attribute)));
      s = &it->second;
      if (added) s->reached.assign(stages, 0);
    }
    const StageInfo& info = m.stage(p.stage(d));
    const uint8_t flags = acc.flags(d);
    ++s->deals;
    if (info.kind == StageKind::kOpen) {
      ++s->open;
      if (const std::optional<double> v = DealValue(p, d, value)) {
        s->weighted_percent.Add(*v, info.win_probability);
      }
    }
    if ((flags & FunnelAccumulator::kWon) != 0) {
      ++s->won;
    } else if ((flags & FunnelAccumulator::kLost) != 0) {
      ++s->lost;
    }
    // Reached: every stage of the line up to the furthest.
    const uint8_t furthest = acc.furthest(d);
    if (furthest == FunnelAccumulator::kOffLine) continue;
    for (size_t k = 0; k <= furthest; ++k) ++s->reached[acc.line()[k]];
  }
}

// The live deals' pass: each deal's group tallies (funnel_state_rep.h).
void TallyLive(const Pipeline& pipeline, const FunnelAccumulator& acc,
               std::optional<AttributeId> value, FunnelStateRep* rep) {
  const Machine& m = pipeline.machine();
  const size_t stages = static_cast<size_t>(m.num_stages());
  rep->total = LiveTally(stages);
  rep->cohorts.assign(rep->counters->cohorts().size(), LiveTally(stages));
  // The pipeline's cohort indexes, as the state's.
  std::vector<uint32_t> cohort(acc.cohorts().size());
  for (size_t c = 0; c < cohort.size(); ++c) {
    cohort[c] = rep->counters->RestoreCohort(acc.cohort_starts()[c]);
  }
  for (DealIndex d = 0; d < pipeline.slot_count(); ++d) {
    if (!pipeline.Contains(d)) continue;
    const StageId s = pipeline.stage(d);
    const StageInfo& info = m.stage(s);
    const uint32_t c = acc.cohort_of(d);
    LiveTally* tallies[2] = {&rep->total,
                             c != FunnelAccumulator::kNoCohort ? &rep->cohorts[cohort[c]] : nullptr};
    const bool stalled = info.stall_limit_seconds.has_value() &&
                         StayedPast(pipeline.ClockStart(d), rep->as_of, *info.stall_limit_seconds);
    const bool won = (acc.flags(d) & FunnelAccumulator::kWon) != 0;
    const std::optional<double> v = DealValue(pipeline, d, value);
    const uint8_t furthest = acc.furthest(d);
    const StageId furthest_stage =
        furthest == FunnelAccumulator::kOffLine ? kNoStage : acc.line()[furthest];
    const uint64_t stay = StaySeconds(pipeline.entered_at(d), rep->as_of);
    for (LiveTally* t : tallies) {
      if (t == nullptr) continue;
      t->Add(s, info, furthest_stage, stalled, won, v, stay);
      if (info.kind == StageKind::kLost) {
        ++t->lost_by_reason[std::string(pipeline.LossReason(d))];
      }
    }
  }
}

}  // namespace

// A window's bounds start periods of the cohorts' kind; `what` names it.
absl::Status CheckWindow(const FunnelAccumulator& acc, const char* what, const char* from_name,
                         std::optional<Timestamp> from, const char* to_name,
                         std::optional<Timestamp> to) {
  if (!from && !to) return absl::OkStatus();
  if (acc.cohort() == Cohort::kNone) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a window on ", what, " needs cohorts (PipelineOptions::analytics.cohort, "
        "--cohort in the tool): its periods are theirs"));
  }
  for (const auto& [name, bound] :
       {std::pair<const char*, std::optional<Timestamp>>{from_name, from}, {to_name, to}}) {
    if (bound && acc.CohortStart(*bound) != *bound) {
      const Timestamp start = acc.CohortStart(*bound);
      auto time = [](Timestamp t) {
        return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(t),
                                absl::UTCTimeZone());
      };
      return absl::InvalidArgumentError(absl::StrCat(
          name, " ", time(*bound), " does not start a ",
          acc.cohort() == Cohort::kWeek    ? "week"
          : acc.cohort() == Cohort::kMonth ? "month"
                                           : "quarter",
          ", and the periods are the cohorts': it falls in ",
          FunnelAccumulator::CohortLabel(acc.cohort(), start), ", which starts ", time(start)));
    }
  }
  if (from && to && *from >= *to) {
    return absl::InvalidArgumentError(absl::StrCat(from_name, " must come before ", to_name));
  }
  return absl::OkStatus();
}

absl::Status CheckWindows(const FunnelAccumulator& acc, const FunnelOptions& options) {
  SC_RETURN_IF_ERROR(CheckWindow(acc, "close time", "closed_from", options.closed_from,
                                 "closed_to", options.closed_to));
  return CheckWindow(acc, "creation time", "created_from", options.created_from, "created_to",
                     options.created_to);
}


absl::StatusOr<std::unique_ptr<FunnelStateRep>> CaptureRep(const Pipeline& pipeline,
                                                          const FunnelOptions& options) {
  const Machine& m = pipeline.machine();
  SC_ASSIGN_OR_RETURN(const std::optional<AttributeId> value, ValueAttribute(m, options));
  std::optional<AttributeId> breakdown;
  if (!options.breakdown_attribute.empty()) {
    SC_ASSIGN_OR_RETURN(breakdown, m.FindAttribute(options.breakdown_attribute));
  }
  const FunnelAccumulator* acc = PipelineInternal::analytics(pipeline);
  std::unique_ptr<FunnelAccumulator> replayed;
  if (acc == nullptr) {
    if (PipelineInternal::history_limit(pipeline) == 0) {
      return absl::FailedPreconditionError(
          "a funnel needs a pipeline with analytics on "
          "(PipelineOptions::analytics) or with history");
    }
    replayed = FromHistory(pipeline, Cohort::kNone);
    acc = replayed.get();
  }
  SC_RETURN_IF_ERROR(CheckWindows(*acc, options));
  auto rep = std::make_unique<FunnelStateRep>();
  rep->machine = pipeline.machine_ptr();
  rep->closed_from = options.closed_from;
  rep->closed_to = options.closed_to;
  rep->created_from = options.created_from;
  rep->created_to = options.created_to;
  rep->counters = std::make_unique<FunnelAccumulator>(m, acc->cohort());
  rep->counters->MergeCounters(*acc);
  rep->as_of = options.now.value_or(acc->has_latest() ? acc->latest() : 0);
  rep->value_attribute = options.value_attribute;
  rep->breakdown_attribute = options.breakdown_attribute;
  TallyLive(pipeline, *acc, value, rep.get());
  if (breakdown) TallySegments(pipeline, *acc, *breakdown, value, rep.get());
  return rep;
}

FunnelClosePeriod ClosePeriod(const CloseCounters& c) {
  FunnelClosePeriod p;
  p.won = c.won;
  p.lost = c.lost;
  p.win_rate = Ratio(static_cast<double>(c.won), static_cast<double>(c.won + c.lost));
  p.cycle_length = Stats(c.cycle_lengths);
  return p;
}

// The close periods in [from, to) and their sum.
void Closes(const FunnelAccumulator& acc, std::optional<Timestamp> from,
            std::optional<Timestamp> to, FunnelReport* report) {
  report->close_window = from || to;
  CloseCounters sum;
  for (const auto& [start, counters] : acc.close_periods()) {
    if ((from && start < *from) || (to && start >= *to)) continue;
    FunnelClosePeriod p = ClosePeriod(counters);
    p.start = start;
    p.end = acc.NextCohortStart(start);
    p.label = FunnelAccumulator::CohortLabel(acc.cohort(), start);
    report->closes.push_back(std::move(p));
    sum.Merge(counters);
  }
  if (acc.cohort() == Cohort::kNone) return;
  report->closed = ClosePeriod(sum);
  const auto date = [](Timestamp t) {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(t), absl::UTCTimeZone());
  };
  // Its bounds: the window's, else those of the periods it holds.
  const bool any = !report->closes.empty();
  FunnelClosePeriod& closed = report->closed;
  closed.start = from.value_or(any ? report->closes.front().start : 0);
  closed.end = to.value_or(any ? report->closes.back().end : 0);
  // The last day shown is the one before the end: "2026-04-01 to 2026-06-30".
  const bool has_start = from || any, has_end = to || any;
  if (has_start && has_end) {
    closed.label = absl::StrCat(date(closed.start), " to ", date(closed.end - 86400));
  } else if (has_start) {
    closed.label = absl::StrCat("from ", date(closed.start));
  } else if (has_end) {
    closed.label = absl::StrCat("before ", date(closed.end));
  } else {
    closed.label = "none";
  }
}

FunnelReport ReportOf(const FunnelStateRep& rep) {
  const Machine& m = *rep.machine;
  const FunnelAccumulator& acc = *rep.counters;
  FunnelReport report;
  report.machine = m.name();
  report.version = m.version();
  report.value_attribute = rep.value_attribute;
  report.as_of = rep.as_of;
  report.created_from = rep.created_from;
  report.created_to = rep.created_to;
  if (rep.created_from || rep.created_to) {
    // The deals added in the window: its cohorts, merged.
    FunnelCounters counters(static_cast<size_t>(m.num_stages()), acc.line().size());
    LiveTally live(static_cast<size_t>(m.num_stages()));
    for (size_t c = 0; c < rep.cohorts.size(); ++c) {
      if (!InWindow(acc.cohort_starts()[c], rep.created_from, rep.created_to)) continue;
      counters.Merge(acc.cohorts()[c]);
      live.Merge(rep.cohorts[c]);
    }
    report.total = Figures(m, acc, counters, live);
  } else {
    report.total = Figures(m, acc, acc.total(), rep.total);
  }
  for (size_t c = 0; c < rep.cohorts.size(); ++c) {
    if (!InWindow(acc.cohort_starts()[c], rep.created_from, rep.created_to)) continue;
    FunnelCohort cohort;
    cohort.start = acc.cohort_starts()[c];
    cohort.label = FunnelAccumulator::CohortLabel(acc.cohort(), cohort.start);
    cohort.figures = Figures(m, acc, acc.cohorts()[c], rep.cohorts[c]);
    report.cohorts.push_back(std::move(cohort));
  }
  std::sort(report.cohorts.begin(), report.cohorts.end(),
            [](const FunnelCohort& a, const FunnelCohort& b) { return a.start < b.start; });
  if (!rep.breakdown_attribute.empty()) {
    report.breakdown_attribute = rep.breakdown_attribute;
    report.breakdown =
        OrderSegments(rep.segments, rep.unset, static_cast<size_t>(m.num_stages()));
  }
  if (!rep.created_from && !rep.created_to) {
    Closes(acc, rep.closed_from, rep.closed_to, &report);
  }
  return report;
}

}  // namespace internal

std::vector<StageId> FunnelLine(const FunnelFigures& figures) {
  std::vector<StageId> line;
  for (StageKind kind : {StageKind::kOpen, StageKind::kWon}) {
    for (const StageFunnel& s : figures.stages) {
      if (s.kind == kind && !s.side) line.push_back(s.stage);
    }
  }
  return line;
}

absl::StatusOr<double> ConversionBetween(const FunnelFigures& figures, StageId from,
                                         StageId to) {
  const std::vector<StageId> line = FunnelLine(figures);
  auto position = [&](StageId s) -> absl::StatusOr<size_t> {
    if (s >= figures.stages.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage ", s, " of ", figures.stages.size()));
    }
    const auto it = std::find(line.begin(), line.end(), s);
    if (it == line.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stage \"", figures.stages[s].id, "\" is off the funnel line (a LOST or side stage)"));
    }
    return static_cast<size_t>(it - line.begin());
  };
  SC_ASSIGN_OR_RETURN(const size_t a, position(from));
  SC_ASSIGN_OR_RETURN(const size_t b, position(to));
  if (b <= a) {
    return absl::InvalidArgumentError(absl::StrCat("stage \"", figures.stages[to].id,
                                                   "\" does not come after \"",
                                                   figures.stages[from].id,
                                                   "\" on the funnel line"));
  }
  return internal::Ratio(static_cast<double>(figures.stages[to].reached),
                         static_cast<double>(figures.stages[from].reached));
}

absl::StatusOr<FunnelReport> FunnelOf(const Pipeline& pipeline,
                                      const FunnelOptions& options) {
  SC_ASSIGN_OR_RETURN(const auto rep, internal::CaptureRep(pipeline, options));
  return internal::ReportOf(*rep);
}

// ---- output

namespace {

std::string Days(double seconds) {
  if (seconds < 3600) return absl::StrFormat("%.0fs", seconds);
  if (seconds < 86400) return absl::StrFormat("%.1fh", seconds / 3600);
  return absl::StrFormat("%.1fd", seconds / 86400);
}

std::string Percent(double ratio) { return absl::StrFormat("%.1f%%", ratio * 100); }

std::string Date(Timestamp t) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(t),
                          absl::UTCTimeZone());
}

using internal::Thousands;

// " (5,140 cycles)" after "5,000 deals" when new cycles (repeat purchases,
// reactivations) make more cycles than deals, and nothing otherwise: the
// funnel's counts are of cycles, so the table's header and the SVG's
// subtitle must say when the two differ.
std::string CyclesIfNotDeals(const FunnelFigures& f) {
  if (f.cycles == f.deals) return "";
  return absl::StrCat(" (", Thousands(f.cycles), " cycles)");
}

// The figures that need deal values, or "-" when the report was asked for
// none: 0 would read as an empty pipeline.
// Rounded to a whole amount, with thousands separators.
std::string ValueFigure(const FunnelReport& report, double value,
                        absl::string_view unit = "") {
  if (report.value_attribute.empty()) return "-";
  if (!std::isfinite(value)) return absl::StrCat(value, unit);
  const double whole = std::round(std::fabs(value));
  // Past 2^64 the amount is not meaningful to the unit anyway.
  const std::string digits = whole < 1.8e19 ? Thousands(static_cast<uint64_t>(whole))
                                            : absl::StrFormat("%.3g", whole);
  return absl::StrCat(value < 0 && whole > 0 ? "-" : "", digits, unit);
}

std::string Overall(const FunnelReport& report, const FunnelFigures& f) {
  std::string leak = "none";
  if (f.biggest_leak != kNoStage) {
    const StageFunnel& s = f.stages[f.biggest_leak];
    const StageFunnel& next = f.stages[s.next_stage];
    leak = absl::StrCat(s.display_name, " (", Percent(s.conversion_to_next), " reached ",
                        next.display_name, ": ", Thousands(s.reached - next.reached),
                        " of ", Thousands(s.reached), " did not)");
  }
  // With nothing won, a cycle length of 0 would read as instant wins.
  const std::string cycle =
      f.won == 0 ? "-"
                 : absl::StrFormat("%.1f days (median %s, p90 %s)", f.average_cycle_days,
                                   Days(static_cast<double>(f.cycle_length.median_seconds)),
                                   Days(static_cast<double>(f.cycle_length.p90_seconds)));
  return absl::StrFormat(
      "win rate %s (%s won, %s lost) | average cycle %s | sales "
      "velocity %s | weighted pipeline %s | biggest leak: %s%s",
      f.won + f.lost == 0 ? "-" : Percent(f.win_rate), Thousands(f.won),
      Thousands(f.lost), cycle,
      ValueFigure(report, f.sales_velocity_per_day, "/day"),
      ValueFigure(report, f.weighted_pipeline), leak,
      report.value_attribute.empty()
          ? "\n(sales velocity and weighted pipeline need deal values: name "
            "their attribute, --value ATTRIBUTE in the tool)"
          : "");
}

// "lost now, by reason: Price 1,020 (32.5%), ..." on one line; "" when
// no deal is lost or none recorded a reason.
std::string LostLines(const FunnelFigures& f, size_t shown) {
  uint64_t lost = 0;
  bool reasons = false;
  for (const auto& [reason, n] : f.lost_by_reason) {
    lost += n;
    reasons |= !reason.empty();
  }
  if (!reasons) return "";
  std::string out = "lost now, by reason:";
  for (size_t i = 0; i < f.lost_by_reason.size() && i < shown; ++i) {
    const auto& [reason, n] = f.lost_by_reason[i];
    absl::StrAppend(&out, i ? ", " : " ", reason.empty() ? "(none)" : reason, " ",
                    Thousands(n), " (",
                    Percent(static_cast<double>(n) / static_cast<double>(lost)), ")");
  }
  if (f.lost_by_reason.size() > shown) absl::StrAppend(&out, ", ...");
  return out + "\n";
}

// The stages with a non-zero `count`, the most first (ties in stage order),
// and the counts' sum in *total.
std::vector<const StageFunnel*> StagesMostFirst(const FunnelFigures& f,
                                                uint64_t StageFunnel::*count, uint64_t* total) {
  *total = 0;
  std::vector<const StageFunnel*> stages;
  for (const StageFunnel& s : f.stages) {
    if (s.*count == 0) continue;
    *total += s.*count;
    stages.push_back(&s);
  }
  std::stable_sort(stages.begin(), stages.end(),
                   [count](const StageFunnel* a, const StageFunnel* b) {
                     return a->*count > b->*count;
                   });
  return stages;
}

// "activities: 12,345 (Negotiation 4,321, ...); 6.2 a won cycle by its win,
// 1.4 a lost one by its loss" on one line; "" when there were none.
std::string ActivityLine(const FunnelFigures& f) {
  uint64_t all;
  const std::vector<const StageFunnel*> by_stage =
      StagesMostFirst(f, &StageFunnel::activities, &all);
  if (all == 0) return "";
  std::string out = absl::StrCat("activities: ", Thousands(all), " (");
  for (size_t i = 0; i < by_stage.size() && i < 4; ++i) {
    absl::StrAppend(&out, i ? ", " : "", by_stage[i]->display_name, " ",
                    Thousands(by_stage[i]->activities));
  }
  absl::StrAppend(&out, by_stage.size() > 4 ? ", ...)" : ")");
  absl::StrAppendFormat(&out, "; %.1f a won cycle by its win, %.1f a lost one by its loss\n",
                        f.activities_per_won_cycle, f.activities_per_lost_cycle);
  return out;
}

// "repeat purchases: 140 of 897 buyers won again (15.6%), ..." on one
// line; "" for a pipeline where no deal started a second cycle.
std::string RepeatLine(const FunnelFigures& f) {
  if (f.cycles == f.deals && f.repeat_wins == 0) return "";
  std::string out = absl::StrCat("repeat purchases: ", Thousands(f.repeat_buyers), " of ",
                                 Thousands(f.buyers), " buyers won again");
  if (f.buyers > 0) absl::StrAppend(&out, " (", Percent(f.repeat_rate), ")");
  absl::StrAppend(&out, ", ", Thousands(f.repeat_wins), " repeat wins; ",
                  absl::StrFormat("%.2f", f.cycles_per_deal), " cycles a deal");
  if (f.repeat_wins > 0) {
    absl::StrAppend(&out, "; time between wins median ",
                    Days(static_cast<double>(f.time_between_wins.median_seconds)), ", p90 ",
                    Days(static_cast<double>(f.time_between_wins.p90_seconds)));
  }
  return out + "\n";
}

// "lost from (first losses): Qualification 1,474 (46.9%), ..." on one
// line, the most first; "" when no deal was lost.
std::string LostFromLine(const FunnelFigures& f) {
  uint64_t lost;
  const std::vector<const StageFunnel*> from = StagesMostFirst(f, &StageFunnel::lost_from, &lost);
  if (from.empty()) return "";
  std::string out = "lost from (first losses):";
  for (size_t i = 0; i < from.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : " ", from[i]->display_name, " ",
                    Thousands(from[i]->lost_from), " (",
                    Percent(static_cast<double>(from[i]->lost_from) / static_cast<double>(lost)),
                    ")");
  }
  const DurationStats& t = f.time_to_loss;
  if (t.count > 0) {
    absl::StrAppend(&out, "; lost after median ", Days(static_cast<double>(t.median_seconds)),
                    ", p90 ", Days(static_cast<double>(t.p90_seconds)), " of the cycle");
  }
  return out + "\n";
}

// "rejected: 38,845 of 1,234,567 steps (3.1%)", then a line a kind, the
// most frequent first (the first `shown`); "" when nothing was rejected.
std::string RejectedLines(const FunnelFigures& f, size_t shown) {
  if (f.rejected_steps == 0) return "";
  const uint64_t steps = f.accepted_steps + f.rejected_steps;
  std::string out = absl::StrCat(
      "\nrejected: ", Thousands(f.rejected_steps), " of ", Thousands(steps),
      " steps (", Percent(static_cast<double>(f.rejected_steps) /
                          static_cast<double>(steps)),
      ")\n");
  for (size_t i = 0; i < f.rejections.size() && i < shown; ++i) {
    const RejectionCount& r = f.rejections[i];
    const std::string what =
        !r.event.empty() ? r.event
        : !r.target.empty() ? absl::StrCat("move to ", r.target)
                            : std::string("reopen");
    absl::StrAppendFormat(&out, "  %-22s %-28s %-18s %12s\n",
                          r.stage.empty() ? "(removed deal)" : r.stage, what,
                          OutcomeName(r.outcome), Thousands(r.count));
  }
  if (f.rejections.size() > shown) {
    absl::StrAppend(&out, "  ... and ", f.rejections.size() - shown,
                    " more kinds (--format json lists them all)\n");
  }
  return out;
}

}  // namespace

// The breakdown: a line a value, the most deals first, `shown` at most.
void BreakdownLines(const FunnelReport& report, size_t shown, std::string* out) {
  if (report.breakdown_attribute.empty()) return;
  int width = static_cast<int>(report.breakdown_attribute.size()) + 17;
  for (size_t i = 0; i < report.breakdown.size() && i < shown; ++i) {
    width = std::max(width, static_cast<int>(report.breakdown[i].value.size()));
  }
  absl::StrAppendFormat(out, "\n%-*s %9s %9s %9s %9s %9s %14s\n", width,
                        absl::StrCat("by ", report.breakdown_attribute, " (live deals)"),
                        "deals", "open", "won", "lost", "win rate", "weighted");
  for (size_t i = 0; i < report.breakdown.size() && i < shown; ++i) {
    const FunnelSegment& s = report.breakdown[i];
    absl::StrAppendFormat(out, "%-*s %9s %9s %9s %9s %9s %14s\n", width, s.value,
                          Thousands(s.deals), Thousands(s.open), Thousands(s.won),
                          Thousands(s.lost), s.won + s.lost == 0 ? "-" : Percent(s.win_rate),
                          ValueFigure(report, s.weighted_pipeline));
  }
  if (report.breakdown.size() > shown) {
    absl::StrAppend(out, "  ... and ", report.breakdown.size() - shown,
                    " more (--format json lists them all)\n");
  }
}

// With cohorts: a line a period of close time, then their sum (the close
// window's, when one is set).
void CloseLines(const FunnelReport& report, std::string* out) {
  if (report.closes.empty() && !report.close_window) return;
  auto line = [out](absl::string_view label, const FunnelClosePeriod& p) {
    absl::StrAppendFormat(out, "%-24s %9s %9s %9s %12s %12s\n", label, Thousands(p.won),
                          Thousands(p.lost), p.won + p.lost == 0 ? "-" : Percent(p.win_rate),
                          p.won == 0 ? "-" : Days(static_cast<double>(p.cycle_length.median_seconds)),
                          p.won == 0 ? "-" : Days(static_cast<double>(p.cycle_length.p90_seconds)));
  };
  absl::StrAppendFormat(out, "\n%-24s %9s %9s %9s %12s %12s\n", "closed in", "won", "lost",
                        "win rate", "cycle median", "p90");
  for (const FunnelClosePeriod& p : report.closes) line(p.label, p);
  line(report.closed.label, report.closed);
}

std::string FunnelTable(const FunnelReport& report, const FunnelTableOptions& options) {
  const FunnelFigures& f = report.total;
  std::string added;
  if (report.created_from || report.created_to) {
    added = absl::StrCat(
        " added", report.created_from ? absl::StrCat(" from ", Date(*report.created_from)) : "",
        report.created_to ? absl::StrCat(" to ", Date(*report.created_to - 86400)) : "");
  }
  std::string out = absl::StrFormat(
      "%s v%u funnel as of %s: %s deals%s%s, %s live, %s open%s\n\n", report.machine,
      report.version, Date(report.as_of), Thousands(f.deals), added,
      f.cycles == f.deals ? "" : absl::StrCat(" (", Thousands(f.cycles), " cycles)"),
      Thousands(f.live_deals), Thousands(f.open_deals),
      report.value_attribute.empty()
          ? ""
          : absl::StrCat(" (value: ", report.value_attribute, ")"));
  // Whole stage names: the column is as wide as the longest.
  int name_width = 5;
  for (const StageFunnel& s : f.stages) {
    name_width = std::max(name_width, static_cast<int>(s.display_name.size()));
  }
  // Deals and moves side by side, under headers that say which is which: a
  // deal that loops counts once in "entered" and at every pass in the moves.
  absl::StrAppendFormat(&out, "%-*s %-39s %-17s %-49s %s\n", name_width, "",
                        f.cycles == f.deals ? "  ---------------- deals --------------"
                                            : "  ---------------- cycles -------------",
                        "-- conversion ---",
                        "  -------------------- moves --------------------",
                        "------ time in stage ------");
  absl::StrAppendFormat(
      &out, "%-*s %9s %9s %9s %9s %8s %8s %9s %9s %9s %9s %9s %8s %8s %9s\n", name_width,
      "stage", "entered", options.in_order ? "reached*" : "reached", "now", "stalled",
      options.in_order ? "to next*" : "to next", "to won", "in",
      "forward", "back", "lost", "side", "median", "p90", "per cycle");
  for (const StageFunnel& s : f.stages) {
    const bool timed = s.time_in_stage.count > 0;
    absl::StrAppendFormat(
        &out, "%-*s %9s %9s %9s %9s %8s %8s %9s %9s %9s %9s %9s %8s %8s %9s%s\n",
        name_width, s.display_name, Thousands(s.entered),
        s.kind == StageKind::kLost || s.side
            ? "-"
            : Thousands(options.in_order ? s.reached_in_order : s.reached),
        Thousands(s.now), Thousands(s.stalled),
        s.next_stage == kNoStage
            ? "-"
            : Percent(options.in_order ? s.conversion_to_next_in_order : s.conversion_to_next),
        Percent(s.conversion_to_won), Thousands(s.moves_in),
        Thousands(s.exits_forward), Thousands(s.exits_back),
        Thousands(s.exits_lost), Thousands(s.exits_side),
        timed ? Days(static_cast<double>(s.time_in_stage.median_seconds)) : "-",
        timed ? Days(static_cast<double>(s.time_in_stage.p90_seconds)) : "-",
        s.entered > 0 ? Days(s.mean_cumulative_seconds) : "-",
        s.stage == f.biggest_leak ? "  <- biggest leak" : "");
  }
  if (options.in_order) {
    absl::StrAppend(&out, "* in order: the cycles that went through every stage of the line "
                          "before it, none skipped\n");
  }
  absl::StrAppend(&out, "\n", Overall(report, f), "\n", RepeatLine(f), ActivityLine(f), LostLines(f, 8),
                  LostFromLine(f), RejectedLines(f, 12));
  if (!report.cohorts.empty()) {
    // A recent cohort has most of its deals still open: its win rate is
    // over the closed ones only, so "open" says how far it has to go.
    absl::StrAppendFormat(&out, "\n%-10s %9s %9s %9s %9s %9s %10s %14s\n",
                          "cohort", "deals", "open", "won", "lost",
                          "win rate", "cycle", "weighted");
    for (const FunnelCohort& c : report.cohorts) {
      const FunnelFigures& g = c.figures;
      absl::StrAppendFormat(
          &out, "%-10s %9s %9s %9s %9s %9s %10s %14s\n", c.label,
          Thousands(g.deals), Thousands(g.open_deals), Thousands(g.won),
          Thousands(g.lost), g.won + g.lost == 0 ? "-" : Percent(g.win_rate),
          g.won == 0 ? "-" : absl::StrFormat("%.1fd", g.average_cycle_days),
          ValueFigure(report, g.weighted_pipeline));
    }
  }
  CloseLines(report, &out);
  BreakdownLines(report, 20, &out);
  return out;
}

namespace {

// Calls f(from, to, reached(to) / reached(from)) for every stage of the
// line and every later one, in line order.
template <typename F>
void ForEachConversion(const FunnelFigures& figures, F f) {
  const std::vector<StageId> line = FunnelLine(figures);
  for (size_t a = 0; a < line.size(); ++a) {
    for (size_t b = a + 1; b < line.size(); ++b) {
      const StageFunnel& from = figures.stages[line[a]];
      const StageFunnel& to = figures.stages[line[b]];
      f(from, to,
        internal::Ratio(static_cast<double>(to.reached), static_cast<double>(from.reached)));
    }
  }
}

void ToProto(const DurationStats& d, v1::DurationStats* out) {
  out->set_count(d.count);
  out->set_mean_seconds(d.mean_seconds);
  out->set_median_seconds(d.median_seconds);
  out->set_p90_seconds(d.p90_seconds);
}

void ToProto(const FunnelFigures& f, const StageFunnel& s, v1::StageFunnel* st) {
  st->set_stage(s.id);
  st->set_display_name(s.display_name);
  st->set_kind(std::string(StageKindName(s.kind)));
  st->set_win_probability(s.win_probability);
  st->set_entered(s.entered);
  st->set_reached(s.reached);
  st->set_reached_in_order(s.reached_in_order);
  st->set_mean_cumulative_seconds(s.mean_cumulative_seconds);
  st->set_conversion_to_next_in_order(s.conversion_to_next_in_order);
  st->set_stopped_lost(s.stopped_lost);
  st->set_stopped_open(s.stopped_open);
  st->set_stopped_side(s.stopped_side);
  st->set_moves_in(s.moves_in);
  st->set_reentries(s.reentries);
  st->set_exits_forward(s.exits_forward);
  st->set_exits_back(s.exits_back);
  st->set_exits_lost(s.exits_lost);
  st->set_exits_side(s.exits_side);
  st->set_lost_from(s.lost_from);
  st->set_moved_on(s.moved_on);
  st->set_dropped(s.dropped);
  st->set_now(s.now);
  st->set_stalled(s.stalled);
  if (s.next_stage != kNoStage) {
    st->set_next_stage(f.stages[s.next_stage].id);
    st->set_conversion_to_next(s.conversion_to_next);
  }
  st->set_conversion_to_won(s.conversion_to_won);
  st->set_drop_rate(s.drop_rate);
  ToProto(s.time_in_stage, st->mutable_time_in_stage());
  st->set_activities(s.activities);
  st->set_rejected(s.rejected);
}

void ToProto(const FunnelFigures& f, v1::FunnelFigures* out) {
  out->set_deals(f.deals);
  out->set_cycles(f.cycles);
  out->set_live_deals(f.live_deals);
  out->set_open_deals(f.open_deals);
  out->set_won(f.won);
  out->set_lost(f.lost);
  out->set_win_rate(f.win_rate);
  out->set_average_cycle_days(f.average_cycle_days);
  ToProto(f.cycle_length, out->mutable_cycle_length());
  out->set_buyers(f.buyers);
  out->set_repeat_buyers(f.repeat_buyers);
  out->set_repeat_wins(f.repeat_wins);
  out->set_repeat_rate(f.repeat_rate);
  out->set_cycles_per_deal(f.cycles_per_deal);
  ToProto(f.time_between_wins, out->mutable_time_between_wins());
  ToProto(f.time_to_loss, out->mutable_time_to_loss());
  out->set_activities_per_won_cycle(f.activities_per_won_cycle);
  out->set_activities_per_lost_cycle(f.activities_per_lost_cycle);
  ForEachConversion(f, [out](const StageFunnel& from, const StageFunnel& to, double c) {
    v1::Conversion* pc = out->add_conversions();
    pc->set_from(from.id);
    pc->set_to(to.id);
    pc->set_conversion(c);
  });
  out->set_average_deal_value(f.average_deal_value);
  out->set_sales_velocity_per_day(f.sales_velocity_per_day);
  out->set_weighted_pipeline(f.weighted_pipeline);
  if (f.biggest_leak != kNoStage) {
    out->set_biggest_leak(f.stages[f.biggest_leak].id);
  }
  for (const StageFunnel& s : f.stages) ToProto(f, s, out->add_stages());
  for (const FlowCount& flow : f.flow) {
    v1::Flow* pf = out->add_flow();
    pf->set_from(f.stages[flow.from].id);
    pf->set_to(f.stages[flow.to].id);
    pf->set_moves(flow.moves);
  }
  for (const auto& [reason, n] : f.lost_by_reason) {
    v1::LostReason* lr = out->add_lost_by_reason();
    lr->set_reason(reason);
    lr->set_count(n);
  }
  out->set_accepted_steps(f.accepted_steps);
  out->set_rejected_steps(f.rejected_steps);
  for (const RejectionCount& r : f.rejections) {
    v1::Rejection* pr = out->add_rejections();
    pr->set_stage(r.stage);
    pr->set_event(r.event);
    pr->set_target(r.target);
    pr->set_outcome(std::string(OutcomeName(r.outcome)));
    pr->set_count(r.count);
  }
}

v1::FunnelReport ToProto(const FunnelReport& report) {
  v1::FunnelReport out;
  out.set_machine(report.machine);
  out.set_version(report.version);
  out.set_as_of(report.as_of);
  out.set_value_attribute(report.value_attribute);
  ToProto(report.total, out.mutable_total());
  for (const FunnelCohort& c : report.cohorts) {
    v1::FunnelCohort* pc = out.add_cohorts();
    pc->set_label(c.label);
    pc->set_start(c.start);
    ToProto(c.figures, pc->mutable_figures());
  }
  out.set_breakdown_attribute(report.breakdown_attribute);
  auto close_period = [](const FunnelClosePeriod& p, v1::ClosePeriod* o) {
    o->set_label(p.label);
    o->set_start(p.start);
    o->set_end(p.end);
    o->set_won(p.won);
    o->set_lost(p.lost);
    o->set_win_rate(p.win_rate);
    ToProto(p.cycle_length, o->mutable_cycle_length());
  };
  for (const FunnelClosePeriod& p : report.closes) close_period(p, out.add_closes());
  close_period(report.closed, out.mutable_closed());
  out.set_close_window(report.close_window);
  if (report.created_from) out.set_created_from(*report.created_from);
  if (report.created_to) out.set_created_to(*report.created_to);
  for (const FunnelSegment& s : report.breakdown) {
    v1::FunnelSegment* ps = out.add_breakdown();
    ps->set_value(s.value);
    ps->set_set(s.set);
    ps->set_other(s.other);
    ps->set_deals(s.deals);
    ps->set_open(s.open);
    ps->set_won(s.won);
    ps->set_lost(s.lost);
    ps->set_win_rate(s.win_rate);
    ps->set_weighted_pipeline(s.weighted_pipeline);
    for (size_t k = 0; k < s.reached.size(); ++k) {
      if (report.total.stages[k].kind == StageKind::kLost || report.total.stages[k].side) {
        continue;
      }
      v1::SegmentReach* r = ps->add_reached();
      r->set_stage(report.total.stages[k].id);
      r->set_deals(s.reached[k]);
    }
  }
  return out;
}

}  // namespace

std::string FunnelProtoBytes(const FunnelReport& report) {
  std::string bytes;
  ToProto(report).SerializeToString(&bytes);
  return bytes;
}

namespace {

using internal::JsonWriter;

void JsonDuration(const DurationStats& d, JsonWriter* w) {
  w->Open('{');
  w->Field("count", d.count);
  w->Field("mean_seconds", d.mean_seconds);
  w->Field("median_seconds", d.median_seconds);
  w->Field("p90_seconds", d.p90_seconds);
  w->Close('}');
}

void JsonStage(const FunnelFigures& f, const StageFunnel& s, JsonWriter* w) {
  w->Open('{');
  w->Field("stage", absl::string_view(s.id));
  w->Field("display_name", absl::string_view(s.display_name));
  w->Field("kind", StageKindName(s.kind));
  w->Field("win_probability", uint64_t{static_cast<uint32_t>(s.win_probability)});
  w->Field("entered", s.entered);
  w->Field("reached", s.reached);
  w->Field("reached_in_order", s.reached_in_order);
  w->Field("mean_cumulative_seconds", s.mean_cumulative_seconds);
  w->Field("moves_in", s.moves_in);
  w->Field("reentries", s.reentries);
  w->Field("exits_forward", s.exits_forward);
  w->Field("exits_back", s.exits_back);
  w->Field("exits_lost", s.exits_lost);
  w->Field("exits_side", s.exits_side);
  w->Field("lost_from", s.lost_from);
  w->Field("moved_on", s.moved_on);
  w->Field("dropped", s.dropped);
  w->Field("now", s.now);
  w->Field("stalled", s.stalled);
  w->Field("next_stage", absl::string_view(
                             s.next_stage == kNoStage ? "" : f.stages[s.next_stage].id));
  w->Field("conversion_to_next", s.conversion_to_next);
  w->Field("conversion_to_next_in_order", s.conversion_to_next_in_order);
  w->Field("conversion_to_won", s.conversion_to_won);
  w->Field("drop_rate", s.drop_rate);
  w->Key("time_in_stage");
  JsonDuration(s.time_in_stage, w);
  w->Field("activities", s.activities);
  w->Field("rejected", s.rejected);
  w->Field("stopped_lost", s.stopped_lost);
  w->Field("stopped_open", s.stopped_open);
  w->Field("stopped_side", s.stopped_side);
  w->Close('}');
}

// The breakdown's segments, with reached for each stage of the line (in
// the stages' order, as "stages" lists them).
void JsonBreakdown(const FunnelReport& report, JsonWriter* w) {
  w->Field("breakdown_attribute", absl::string_view(report.breakdown_attribute));
  w->Key("breakdown");
  w->Open('[');
  for (const FunnelSegment& s : report.breakdown) {
    w->Open('{');
    w->Field("value", absl::string_view(s.value));
    w->Field("set", s.set);
    w->Field("other", s.other);
    w->Field("deals", s.deals);
    w->Field("open", s.open);
    w->Field("won", s.won);
    w->Field("lost", s.lost);
    w->Field("win_rate", s.win_rate);
    w->Field("weighted_pipeline", s.weighted_pipeline);
    w->Key("reached");
    w->Open('[');
    for (size_t k = 0; k < s.reached.size(); ++k) {
      const StageFunnel& stage = report.total.stages[k];
      if (stage.kind == StageKind::kLost || stage.side) continue;
      w->Open('{');
      w->Field("stage", absl::string_view(stage.id));
      w->Field("deals", s.reached[k]);
      w->Close('}');
    }
    w->Close(']');
    w->Close('}');
  }
  w->Close(']');
}

void JsonFigures(const FunnelFigures& f, JsonWriter* w) {
  w->Open('{');
  w->Field("deals", f.deals);
  w->Field("cycles", f.cycles);
  w->Field("live_deals", f.live_deals);
  w->Field("open_deals", f.open_deals);
  w->Field("won", f.won);
  w->Field("lost", f.lost);
  w->Field("win_rate", f.win_rate);
  w->Field("average_cycle_days", f.average_cycle_days);
  w->Key("cycle_length");
  JsonDuration(f.cycle_length, w);
  w->Field("buyers", f.buyers);
  w->Field("repeat_buyers", f.repeat_buyers);
  w->Field("repeat_wins", f.repeat_wins);
  w->Field("repeat_rate", f.repeat_rate);
  w->Field("cycles_per_deal", f.cycles_per_deal);
  w->Key("time_between_wins");
  JsonDuration(f.time_between_wins, w);
  w->Key("time_to_loss");
  JsonDuration(f.time_to_loss, w);
  w->Field("activities_per_won_cycle", f.activities_per_won_cycle);
  w->Field("activities_per_lost_cycle", f.activities_per_lost_cycle);
  w->Key("conversions");
  w->Open('[');
  ForEachConversion(f, [w](const StageFunnel& from, const StageFunnel& to, double c) {
    w->Open('{');
    w->Field("from", absl::string_view(from.id));
    w->Field("to", absl::string_view(to.id));
    w->Field("conversion", c);
    w->Close('}');
  });
  w->Close(']');
  w->Field("average_deal_value", f.average_deal_value);
  w->Field("sales_velocity_per_day", f.sales_velocity_per_day);
  w->Field("weighted_pipeline", f.weighted_pipeline);
  w->Field("biggest_leak", absl::string_view(
                               f.biggest_leak == kNoStage ? "" : f.stages[f.biggest_leak].id));
  w->Key("stages");
  w->Open('[');
  for (const StageFunnel& s : f.stages) JsonStage(f, s, w);
  w->Close(']');
  w->Key("flow");
  w->Open('[');
  for (const FlowCount& flow : f.flow) {
    w->Open('{');
    w->Field("from", absl::string_view(f.stages[flow.from].id));
    w->Field("to", absl::string_view(f.stages[flow.to].id));
    w->Field("moves", flow.moves);
    w->Close('}');
  }
  w->Close(']');
  w->Key("lost_by_reason");
  w->Open('[');
  for (const auto& [reason, n] : f.lost_by_reason) {
    w->Open('{');
    w->Field("reason", absl::string_view(reason));
    w->Field("count", n);
    w->Close('}');
  }
  w->Close(']');
  w->Field("accepted_steps", f.accepted_steps);
  w->Field("rejected_steps", f.rejected_steps);
  w->Key("rejections");
  w->Open('[');
  for (const RejectionCount& r : f.rejections) {
    w->Open('{');
    w->Field("stage", absl::string_view(r.stage));
    w->Field("event", absl::string_view(r.event));
    w->Field("target", absl::string_view(r.target));
    w->Field("outcome", OutcomeName(r.outcome));
    w->Field("count", r.count);
    w->Close('}');
  }
  w->Close(']');
  w->Close('}');
}

}  // namespace

std::string FunnelJson(const FunnelReport& report) {
  JsonWriter w;
  w.Open('{');
  w.Field("machine", absl::string_view(report.machine));
  w.Field("version", uint64_t{report.version});
  w.Field("as_of", int64_t{report.as_of});
  w.Field("value_attribute", absl::string_view(report.value_attribute));
  w.Key("total");
  JsonFigures(report.total, &w);
  w.Key("cohorts");
  w.Open('[');
  for (const FunnelCohort& c : report.cohorts) {
    w.Open('{');
    w.Field("label", absl::string_view(c.label));
    w.Field("start", int64_t{c.start});
    w.Key("figures");
    JsonFigures(c.figures, &w);
    w.Close('}');
  }
  w.Close(']');
  JsonBreakdown(report, &w);
  auto close_period = [&w](const FunnelClosePeriod& p) {
    w.Open('{');
    w.Field("label", absl::string_view(p.label));
    w.Field("start", int64_t{p.start});
    w.Field("end", int64_t{p.end});
    w.Field("won", p.won);
    w.Field("lost", p.lost);
    w.Field("win_rate", p.win_rate);
    w.Key("cycle_length");
    JsonDuration(p.cycle_length, &w);
    w.Close('}');
  };
  w.Key("closes");
  w.Open('[');
  for (const FunnelClosePeriod& p : report.closes) close_period(p);
  w.Close(']');
  w.Key("closed");
  close_period(report.closed);
  w.Field("close_window", report.close_window);
  if (report.created_from) w.Field("created_from", int64_t{*report.created_from});
  if (report.created_to) w.Field("created_to", int64_t{*report.created_to});
  w.Close('}');
  return w.Take() + "\n";
}

// An RFC 4180 field: quoted when it holds a comma, a quote or a line
// break, quotes doubled (a stage named "new lead, EMEA" stays one field).
std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(s);
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

std::string FunnelCsv(const FunnelReport& report) {
  std::string out =
      "cohort,stage,kind,entered,moved_on,dropped,now,stalled,"
      "conversion_to_next,conversion_to_won,drop_rate,stays,"
      "mean_seconds,median_seconds,p90_seconds,activities,rejected,reached,"
      "stopped_lost,stopped_open,stopped_side,moves_in,reentries,exits_forward,"
      "exits_back,exits_lost,exits_side,lost_from,reached_in_order,"
      "conversion_to_next_in_order,mean_cumulative_seconds\r\n";
  auto rows = [&out](absl::string_view cohort, const FunnelFigures& f) {
    for (const StageFunnel& s : f.stages) {
      absl::StrAppendFormat(
          &out,
          "%s,%s,%s,%u,%u,%u,%u,%u,%s,%.6f,%.6f,%u,%.1f,%d,%d,%u,%u,%u,%u,%u,%u,%u,%u,"
          "%u,%u,%u,%u,%u,%u,%s,%.1f\r\n",
          CsvField(cohort), CsvField(s.id), StageKindName(s.kind), s.entered,
          s.moved_on, s.dropped, s.now, s.stalled,
          s.next_stage == kNoStage ? "" : absl::StrFormat("%.6f", s.conversion_to_next),
          s.conversion_to_won, s.drop_rate, s.time_in_stage.count,
          s.time_in_stage.mean_seconds, s.time_in_stage.median_seconds,
          s.time_in_stage.p90_seconds, s.activities, s.rejected, s.reached,
          s.stopped_lost, s.stopped_open, s.stopped_side, s.moves_in, s.reentries,
          s.exits_forward, s.exits_back, s.exits_lost, s.exits_side, s.lost_from,
          s.reached_in_order,
          s.next_stage == kNoStage ? ""
                                   : absl::StrFormat("%.6f", s.conversion_to_next_in_order),
          s.mean_cumulative_seconds);
    }
  };
  rows("all", report.total);
  for (const FunnelCohort& c : report.cohorts) rows(c.label, c.figures);
  return out;
}

std::string FunnelBreakdownCsv(const FunnelReport& report) {
  std::string out = "value,set,other,deals,open,won,lost,win_rate,weighted_pipeline";
  std::vector<StageId> line;
  for (const StageFunnel& s : report.total.stages) {
    if (s.kind == StageKind::kLost || s.side) continue;
    line.push_back(s.stage);
    absl::StrAppend(&out, ",", CsvField(absl::StrCat("reached:", s.id)));
  }
  out += "\r\n";
  for (const FunnelSegment& g : report.breakdown) {
    absl::StrAppendFormat(&out, "%s,%d,%d,%u,%u,%u,%u,%s,%.2f", CsvField(g.value), g.set,
                          g.other, g.deals, g.open, g.won, g.lost,
                          g.won + g.lost == 0 ? "" : absl::StrFormat("%.6f", g.win_rate),
                          g.weighted_pipeline);
    for (StageId s : line) absl::StrAppend(&out, ",", s < g.reached.size() ? g.reached[s] : 0);
    out += "\r\n";
  }
  return out;
}

namespace {

std::string Xml(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

namespace {

constexpr size_t kNameChars = 48;

// A name cut to kNameChars characters (UTF-8 aware), with an ellipsis.
std::string Shortened(const std::string& name) {
  if (name.size() <= kNameChars) return name;
  size_t cut = kNameChars - 1;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(name.substr(0, cut), "\xE2\x80\xA6");
}

// Below the bars, apart from them: the deals now in stages off the line
// (lost, side stages) and the rejected steps.
std::string OffTheLine(const FunnelFigures& f, int x, int y) {
  std::string off;
  for (const StageFunnel& s : f.stages) {
    if (s.kind != StageKind::kLost && !s.side) continue;
    absl::StrAppend(&off, off.empty() ? "" : " \xC2\xB7 ", Shortened(s.display_name), " ",
                    Thousands(s.now));
  }
  std::string out;
  if (!off.empty()) {
    absl::StrAppendFormat(&out,
                          "  <text class=\"off-line\" x=\"%d\" y=\"%d\" font-size=\"13\" "
                          "fill=\"#495057\">Off the funnel line, deals now: %s</text>\n",
                          x, y + 14, Xml(off));
  }
  const uint64_t steps = f.accepted_steps + f.rejected_steps;
  absl::StrAppendFormat(&out,
                        "  <text class=\"rejected\" x=\"%d\" y=\"%d\" font-size=\"13\" "
                        "fill=\"%s\">Rejected steps: %s of %s (%s)</text>\n",
                        x, y + 36, f.rejected_steps > 0 ? "#d62828" : "#495057",
                        Thousands(f.rejected_steps), Thousands(steps),
                        Percent(steps == 0 ? 0 : static_cast<double>(f.rejected_steps) /
                                                     static_cast<double>(steps)));
  return out;
}

}  // namespace

std::string FunnelSvg(const FunnelReport& report) {
  const FunnelFigures& f = report.total;
  // The funnel line (funnel.h), each bar as wide as the deals that reached
  // it: a funnel that never widens.
  std::vector<const StageFunnel*> bars;
  for (StageKind kind : {StageKind::kOpen, StageKind::kWon}) {
    for (const StageFunnel& s : f.stages) {
      if (s.kind == kind && !s.side) bars.push_back(&s);
    }
  }
  uint64_t widest = 1;
  for (const StageFunnel* s : bars) widest = std::max(widest, s->reached);
  // The label column fits the longest name (at about 8 px a character of
  // 14 px Helvetica), up to kNameChars; longer names are cut with an
  // ellipsis and kept whole in a tooltip.
  size_t longest = 0;
  for (const StageFunnel* s : bars) longest = std::max(longest, s->display_name.size());
  constexpr int kBarHeight = 34, kGap = 26, kTop = 86, kMaxBar = 560;
  const int label = std::max(200, 24 + 8 * static_cast<int>(std::min(longest, kNameChars)));
  const int width = label + kMaxBar + 360;
  const int height = kTop + static_cast<int>(bars.size()) * (kBarHeight + kGap) + 90;
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n"
      "  <rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
      "  <text x=\"24\" y=\"36\" font-size=\"22\" font-weight=\"bold\" "
      "fill=\"#1d3557\">%s v%u funnel</text>\n"
      "  <text class=\"summary\" x=\"24\" y=\"62\" font-size=\"13\" "
      "fill=\"#457b9d\">%s deals%s, win rate %s, average cycle %s, as of %s</text>\n",
      width, height, width, height, Xml(report.machine), report.version,
      Thousands(f.deals), CyclesIfNotDeals(f),
      f.won + f.lost == 0 ? "-" : Percent(f.win_rate),
      f.won == 0 ? "-" : absl::StrFormat("%.1f days", f.average_cycle_days),
      Date(report.as_of));
  int y = kTop;
  for (size_t i = 0; i < bars.size(); ++i) {
    const StageFunnel& s = *bars[i];
    const bool leak = s.stage == f.biggest_leak;
    const int bar = std::max(
        2, static_cast<int>(kMaxBar * static_cast<double>(s.reached) /
                            static_cast<double>(widest)));
    const int x = label + (kMaxBar - bar) / 2;
    absl::StrAppendFormat(
        &out,
        "  <g class=\"stage\" data-stage=\"%s\">\n"
        "    <text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\" "
        "fill=\"#1d3557\"><title>%s</title>%s</text>\n"
        "    <rect class=\"bar%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
        "rx=\"4\" fill=\"%s\"/>\n"
        "    <text class=\"count\" x=\"%d\" y=\"%d\" font-size=\"13\" "
        "fill=\"#1d3557\">%s</text>\n",
        Xml(s.id), label - 12, y + 22, Xml(s.display_name), Xml(Shortened(s.display_name)),
        leak ? " leak" : "", x, y, bar, kBarHeight, leak ? "#d62828" : "#457b9d",
        x + bar + 8, y + 22, Thousands(s.reached));
    if (leak) {
      absl::StrAppendFormat(
          &out,
          "    <text class=\"leak-note\" x=\"%d\" y=\"%d\" font-size=\"12\" "
          "fill=\"#d62828\">biggest leak: %s of %s stopped here</text>\n",
          label + kMaxBar + 80, y + 22,
          Thousands(s.reached - f.stages[s.next_stage].reached), Thousands(s.reached));
    }
    absl::StrAppend(&out, "  </g>\n");
    if (i + 1 < bars.size()) {
      absl::StrAppendFormat(
          &out,
          "  <text class=\"conversion\" x=\"%d\" y=\"%d\" font-size=\"12\" "
          "text-anchor=\"middle\" fill=\"#6c757d\">&#8595; %s</text>\n",
          label + kMaxBar / 2, y + kBarHeight + kGap / 2 + 8,
          Percent(static_cast<double>(bars[i + 1]->reached) /
                  static_cast<double>(std::max<uint64_t>(s.reached, 1))));
    }
    y += kBarHeight + kGap;
  }
  absl::StrAppend(&out, OffTheLine(f, 24, y + 4), "</svg>\n");
  return out;
}

}  // namespace salescycle
