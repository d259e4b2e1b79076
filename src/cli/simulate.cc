#include "src/cli/simulate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "src/cli/common.h"
#include "src/cli/events.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {
namespace {

constexpr int64_t kDay = 86400;

// splitmix64: small, fixed, the same on every platform.
struct Random {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  // Box-Muller; the second draw keeps 1 - u away from 0.
  double Normal() {
    const double u = Uniform(), v = Uniform();
    return std::sqrt(-2 * std::log(1 - u)) * std::cos(2 * M_PI * v);
  }
  // Seconds, log-normal around `median_days`, at least one.
  Timestamp Stay(double median_days, double sigma) {
    const double days = median_days * std::exp(sigma * Normal());
    return std::max<Timestamp>(1, static_cast<Timestamp>(days * kDay));
  }
  // Knuth's: small means only (the activities of a stay).
  int Poisson(double mean) {
    const double limit = std::exp(-mean);
    int k = 0;
    for (double p = Uniform(); p > limit && k < 100; p *= Uniform()) ++k;
    return k;
  }
};

// A numeric attribute's range (--range NAME=LO..HI): uniform within it.
struct Range {
  double lo, hi;
};

struct SimOptions {
  int64_t deals = 0;
  int64_t seed = 1;
  Timestamp start = 1767225600;  // 2026-01-01
  int64_t days = 365;
  std::optional<Timestamp> now;  // as of: no row after it
  std::string format = "csv";
  bool stage_rows = false;  // --rows stages: a stage-history export
  std::vector<double> conversion;  // per stage
  std::vector<double> delay;       // per stage: the median stay, days
  std::vector<double> skip, back;  // per stage
  double activities = 2, repeat = 0.25;
  double reactivate = 0.03, later_entry = 0.15;
  double win_rate = 0.22;  // what --conversion is calibrated to, if not given
  std::vector<std::optional<Range>> ranges;  // by attribute
};

// "0.6" for every stage, or "qualification=0.4,closing=0.7" (the rest keep
// `fallback`).
absl::StatusOr<std::vector<double>> PerStage(const Machine& m, const std::string& flag,
                                             const std::string& text, double fallback,
                                             double lo, double hi) {
  std::vector<double> out(m.num_stages(), fallback);
  auto parse = [&](absl::string_view v, double* d) -> absl::Status {
    if (!absl::SimpleAtod(v, d) || !(*d >= lo && *d <= hi)) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": \"", v, "\" is not a number from ", lo, " to ", hi));
    }
    return absl::OkStatus();
  };
  if (text.empty()) return out;
  if (text.find('=') == std::string::npos) {
    double d;
    SC_RETURN_IF_ERROR(parse(text, &d));
    std::fill(out.begin(), out.end(), d);
    return out;
  }
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    auto stage = m.FindStage(kv.first);
    if (!stage.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", stage.status().message()));
    SC_RETURN_IF_ERROR(parse(kv.second, &out[*stage]));
  }
  return out;
}

// The options that need no machine; InvalidArgument is a usage error.
absl::Status SimBasics(std::map<std::string, std::string>& o, SimOptions* c) {
  if (!o.count("deals") || !absl::SimpleAtoi(o["deals"], &c->deals) ||
      c->deals < 1 || c->deals > 100000000) {
    return absl::InvalidArgumentError("--deals takes a number from 1 to 100000000");
  }
  if (o.count("seed") && !absl::SimpleAtoi(o["seed"], &c->seed)) {
    return absl::InvalidArgumentError("--seed takes a number");
  }
  if (o.count("days") &&
      (!absl::SimpleAtoi(o["days"], &c->days) || c->days < 1 || c->days > 36500)) {
    return absl::InvalidArgumentError("--days takes a number from 1 to 36500");
  }
  if (o.count("format")) c->format = o["format"];
  if (c->format != "csv" && c->format != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format is csv or jsonl, not \"", c->format, "\""));
  }
  if (o.count("rows") && o["rows"] != "events" && o["rows"] != "stages") {
    return absl::InvalidArgumentError(
        absl::StrCat("--rows is events or stages, not \"", o["rows"], "\""));
  }
  c->stage_rows = o.count("rows") && o["rows"] == "stages";
  for (const char* flag : {"start", "now"}) {
    if (!o.count(flag)) continue;
    auto t = ParseTime(o[flag]);  // years 1 to 9999: the date arithmetic holds
    if (!t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", t.status().message()));
    }
    (std::string(flag) == "start" ? c->start : c->now.emplace()) = *t;
  }
  const struct {
    const char* flag;
    double* value;
    double hi;
  } rates[] = {{"repeat", &c->repeat, 1}, {"later-entry", &c->later_entry, 1},
               {"win-rate", &c->win_rate, 1},
               {"activities", &c->activities, 20}};
  for (const auto& r : rates) {
    if (!o.count(r.flag)) continue;
    if (!absl::SimpleAtod(o[r.flag], r.value) || !(*r.value >= 0 && *r.value <= r.hi)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", r.flag, " takes a number from 0 to ", r.hi));
    }
  }
  return absl::OkStatus();
}

// --range ATTR=LO..HI,...: the numeric attributes' ranges.
absl::Status SimRanges(const Machine& m, const std::string& text, SimOptions* c) {
  c->ranges.assign(m.num_attributes(), std::nullopt);
  if (text.empty()) return absl::OkStatus();
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    std::pair<absl::string_view, absl::string_view> bounds =
        absl::StrSplit(kv.second, "..");
    auto a = m.FindAttribute(kv.first);
    Range r;
    if (!a.ok() || !absl::SimpleAtod(bounds.first, &r.lo) ||
        !absl::SimpleAtod(bounds.second, &r.hi) || !(r.lo <= r.hi) ||
        !std::isfinite(r.lo) || !std::isfinite(r.hi) ||
        (m.attribute(*a).type != AttributeType::kInt64 &&
         m.attribute(*a).type != AttributeType::kDouble)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--range: \"", item, "\" is not NUMERIC_ATTRIBUTE=LO..HI"));
    }
    c->ranges[*a] = r;
  }
  return absl::OkStatus();
}

// The options that are per stage or attribute of `m`.
absl::Status SimPerStage(const Machine& m, std::map<std::string, std::string>& o,
                         SimOptions* c) {
  SC_ASSIGN_OR_RETURN(c->conversion,
                      PerStage(m, "--conversion", o["conversion"], 0.9, 0, 1));
  SC_ASSIGN_OR_RETURN(c->skip, PerStage(m, "--skip", o["skip"], 0.1, 0, 1));
  SC_ASSIGN_OR_RETURN(c->back, PerStage(m, "--back", o["back"], 0.05, 0, 1));
  SC_ASSIGN_OR_RETURN(c->delay, PerStage(m, "--delay", o["delay"], 7, 0.0001, 3650));
  if (o["delay"].empty()) {
    // A stage's stall limit says how long a stay is too long: the median
    // stay is a third of it (minutes for a cart, weeks for a negotiation).
    for (int i = 0; i < m.num_stages(); ++i) {
      if (const auto limit = m.stage(static_cast<StageId>(i)).stall_limit_seconds) {
        c->delay[i] = static_cast<double>(*limit) / 3 / kDay;
      }
    }
  }
  return SimRanges(m, o["range"], c);
}

// Why deals are lost, with how often (a loss-reason attribute's values).
constexpr struct {
  const char* reason;
  double weight;
} kLossReasons[] = {{"No decision", 0.28}, {"Price", 0.22},  {"Competitor", 0.18},
                    {"Timing", 0.14},      {"No budget", 0.12}, {"Product fit", 0.06}};

// Without a range, numbers are log-uniform from 1 to 100 000: budgets,
// days, values and percentages all get a plausible share of small and
// large. Bools are true 70% of the time; other strings are people's roles.
AttributeValue RandomValue(const AttributeInfo& a, Random* r,
                           const std::optional<Range>& range) {
  const double magnitude =
      range ? std::floor(range->lo + r->Uniform() * (range->hi - range->lo + 1))
            : std::floor(std::exp(r->Uniform() * std::log(100000.0)));
  switch (a.type) {
    case AttributeType::kInt64:
      return AttributeValue::Int64(static_cast<int64_t>(magnitude));
    case AttributeType::kDouble: return AttributeValue::Double(magnitude);
    case AttributeType::kBool: return AttributeValue::Bool(r->Uniform() < 0.7);
    case AttributeType::kString: {
      static const char* const kValues[] = {"CFO", "CEO", "CTO", "Head of Sales"};
      return AttributeValue::String(kValues[r->Below(4)]);
    }
  }
  return AttributeValue();
}

std::string LossReason(Random* r) {
  double u = r->Uniform();
  for (const auto& k : kLossReasons) {
    if ((u -= k.weight) < 0) return k.reason;
  }
  return kLossReasons[0].reason;
}

struct SimRow {
  Timestamp time;
  uint32_t deal;
  uint32_t seq;  // keeps a deal's rows in order at equal times
  EventId event = kNoEvent;
  StageId stage = kNoStage;  // a move by stage (or a stage-history row)
  std::vector<std::pair<AttributeId, AttributeValue>> set;
};

// What the machine lets a deal do from each stage, looked up once.
struct Routes {
  // (from, to) -> the first event that moves there, or kNoEvent when only
  // a move by stage does.
  absl::flat_hash_map<uint32_t, EventId> moves;
  std::vector<std::vector<EventId>> activities;  // by stage
  // By stage: the first new_cycle transition and the post-sale move (to
  // another stage of the same closed kind), as transition indices.
  std::vector<int> new_cycle, post_sale;
  std::vector<bool> timeout_event;  // by event: fired by some timeout
  std::vector<bool> reason_attribute;  // by attribute: a loss reason

  explicit Routes(const Machine& m)
      : activities(m.num_stages()), new_cycle(m.num_stages(), -1),
        post_sale(m.num_stages(), -1), timeout_event(m.num_events(), false),
        reason_attribute(m.num_attributes(), false) {
    for (int s = 0; s < m.num_stages(); ++s) {
      const AttributeId reason = m.stage(static_cast<StageId>(s)).reason_attribute;
      if (reason != kNoAttribute) reason_attribute[reason] = true;
      if (auto t = m.timeout(static_cast<StageId>(s)); t && t->fire_event != kNoEvent) {
        timeout_event[t->fire_event] = true;
      }
    }
    const auto& ts = m.transitions();
    for (size_t i = 0; i < ts.size(); ++i) {
      const TransitionInfo& t = ts[i];
      if (t.to == kNoStage) {
        activities[t.from].push_back(t.event);
        continue;
      }
      // An event's route wins over a move by stage only.
      const auto [it, added] = moves.try_emplace(Key(t.from, t.to), t.event);
      if (!added && it->second == kNoEvent) it->second = t.event;
      if (t.new_cycle && new_cycle[t.from] < 0) new_cycle[t.from] = static_cast<int>(i);
      const StageInfo& from = m.stage(t.from);
      if (from.closed() && m.stage(t.to).kind == from.kind && post_sale[t.from] < 0) {
        post_sale[t.from] = static_cast<int>(i);
      }
    }
  }
  static uint32_t Key(StageId from, StageId to) {
    return (static_cast<uint32_t>(from) << 16) | to;
  }
  bool Reaches(StageId from, StageId to) const { return moves.contains(Key(from, to)); }
};

// Walks deals through the machine as a sales team might (simulate.h has
// the model), writing the rows of an event file. One random stream for the
// whole run, drawn in deal order, so that a seed gives the same file every
// time.
class Simulator {
 public:
  Simulator(std::shared_ptr<const Machine> machine, const SimOptions& options)
      : machine_(std::move(machine)), m_(*machine_), c_(options),
        rng_{static_cast<uint64_t>(options.seed)}, routes_(m_) {}

  absl::Status Deal(uint32_t d, std::vector<SimRow>* rows);

  // Of the deals simulated so far: those that ever won, and those that
  // ever won or were lost (the report's win rate, funnel.h).
  int64_t won() const { return won_; }
  int64_t closed() const { return closed_; }

 private:
  struct State {
    uint32_t deal;
    uint32_t seq = 0;
    Timestamp t;
    int turned_down = 0;  // guard rejections in the current stage
    std::vector<SimRow>* rows;
  };

  Timestamp Horizon() const {
    return c_.now.value_or(c_.start + c_.days * kDay);
  }
  AttributeValue Draw(AttributeId a) {
    return RandomValue(m_.attribute(a), &rng_, c_.ranges[a]);
  }
  SimRow Row(State* s, Timestamp time) {
    SimRow row;
    row.time = time;
    row.deal = s->deal;
    row.seq = s->seq++;
    return row;
  }
  // Sets each attribute with probability `p`, recording it in `row`; not a
  // loss reason, which only a loss records.
  void Learn(double p, Journey* journey, SimRow* row) {
    for (int a = 0; a < m_.num_attributes(); ++a) {
      if (routes_.reason_attribute[a] || rng_.Uniform() >= p) continue;
      AttributeValue v = Draw(static_cast<AttributeId>(a));
      (void)journey->Set(static_cast<AttributeId>(a), v);
      row->set.emplace_back(static_cast<AttributeId>(a), std::move(v));
    }
  }
  // What the timeouts did before `time`: false when one moved the deal (the
  // caller plans again from its new stage).
  bool Advance(Journey* j, Timestamp time) {
    const StageId stage = j->stage();
    const Timestamp entered = j->entered_at();
    j->AdvanceTo(time - 1);
    return j->stage() == stage && j->entered_at() == entered;
  }
  // How a step taken by `event` (kNoEvent: by stage) is written: as the
  // event, or in a stage-history export (--rows stages) as the stage the
  // deal is in after it (a refused step, or an activity, is then an update
  // in its own stage), as a CRM records stage changes.
  void Write(const Journey& j, EventId event, SimRow* row) const {
    if (c_.stage_rows || event == kNoEvent) {
      row->stage = j.stage();
    } else {
      row->event = event;
    }
  }
  // The stay's activities, each a row; false when a timeout moved the deal.
  bool Activities(Journey* j, Timestamp until, State* s);
  StageId Target(StageId from, int turned_down);
  void Move(Journey* j, StageId to, Timestamp time, State* s);
  // After a close: post-sale follow-up, a repeat purchase, a new try.
  bool AfterClose(Journey* j, State* s);

  std::shared_ptr<const Machine> machine_;
  const Machine& m_;
  const SimOptions& c_;
  Random rng_;
  Routes routes_;
  int64_t won_ = 0, closed_ = 0;
};

absl::Status Simulator::Deal(uint32_t d, std::vector<SimRow>* rows) {
  const Timestamp end = c_.start + c_.days * kDay;
  State s{d, 0, c_.start + static_cast<Timestamp>(
                               rng_.Uniform() * static_cast<double>(end - c_.start)),
          0, rows};
  if (s.t > Horizon()) return absl::OkStatus();
  // Created in a later entry stage, or the initial one.
  const auto entries = m_.entry_stages();
  JourneyOptions options;
  if (entries.size() > 1 && rng_.Uniform() < c_.later_entry) {
    options.entry_stage = entries[1 + rng_.Below(static_cast<int64_t>(entries.size() - 1))];
  }
  SC_ASSIGN_OR_RETURN(Journey journey, Journey::Create(machine_, s.t, options));
  // What the salesperson knows at the start: each attribute 60% of the time.
  SimRow first = Row(&s, s.t);
  if (options.entry_stage != kNoStage || c_.stage_rows) first.stage = journey.stage();
  Learn(0.6, &journey, &first);
  rows->push_back(std::move(first));
  bool won = false, lost = false;
  for (int step = 0; step < 80; ++step) {
    const StageId stage = journey.stage();
    won |= m_.stage(stage).kind == StageKind::kWon;
    lost |= m_.stage(stage).kind == StageKind::kLost;
    if (m_.stage(stage).closed()) {
      if (!AfterClose(&journey, &s)) break;
      continue;
    }
    const Timestamp next = s.t + rng_.Stay(c_.delay[stage], 0.9);
    if (!Activities(&journey, std::min(next, Horizon()), &s) || !Advance(&journey, next)) {
      s.t = journey.entered_at();  // a timeout moved the deal
      s.turned_down = 0;
      continue;
    }
    if (next > Horizon()) break;  // still open when the file ends
    const StageId to = Target(stage, s.turned_down);
    if (to == kNoStage) break;
    Move(&journey, to, next, &s);
  }
  won |= m_.stage(journey.stage()).kind == StageKind::kWon;
  lost |= m_.stage(journey.stage()).kind == StageKind::kLost;
  won_ += won;
  closed_ += won || lost;
  return absl::OkStatus();
}

// The per-stage conversion that gives `win_rate` of closed deals won, found
// by bisection on pilot runs of 2000 deals (the same pilot each time, so
// the answer depends only on the machine and the options). A machine's
// guards, loops and timeouts change how much each stay must convert: one
// rate for every machine would make a 5-stage pipeline win 60% and b2b 8%.
// The win rate of a pilot run of 2000 deals converting `conversion` a stay.
double PilotWinRate(const std::shared_ptr<const Machine>& m, SimOptions options,
                    double conversion) {
  options.deals = 2000;
  options.seed = 0x5eed;
  std::fill(options.conversion.begin(), options.conversion.end(), conversion);
  Simulator pilot(m, options);
  std::vector<SimRow> rows;
  for (uint32_t d = 0; d < 2000; ++d) (void)pilot.Deal(d, &rows);
  return pilot.closed() == 0 ? 1.0
                             : static_cast<double>(pilot.won()) /
                                   static_cast<double>(pilot.closed());
}

double CalibrateConversion(const std::shared_ptr<const Machine>& m,
                           const SimOptions& options, double win_rate) {
  double lo = 0.3, hi = 0.999;
  for (int i = 0; i < 14; ++i) {
    const double mid = (lo + hi) / 2;
    (PilotWinRate(m, options, mid) < win_rate ? lo : hi) = mid;
  }
  const double conversion = (lo + hi) / 2;
  const double reached = PilotWinRate(m, options, conversion);
  if (std::fabs(reached - win_rate) > 0.03) {
    // Guards and timeouts can turn more deals down than any rate of moving
    // on makes up for (b2b's BANT guard, without --range).
    std::fprintf(stderr,
                 "simulate: --win-rate %.2f is out of reach: with these options "
                 "%.1f%% of closed deals are won (guards and timeouts turn the "
                 "rest down); --range and --conversion change that\n",
                 win_rate, 100 * reached);
  }
  return conversion;
}

bool Simulator::Activities(Journey* j, Timestamp until, State* s) {
  const auto& events = routes_.activities[j->stage()];
  if (events.empty() || until <= s->t) return true;
  const int n = rng_.Poisson(c_.activities);
  std::vector<Timestamp> times;
  for (int i = 0; i < n; ++i) {
    times.push_back(s->t + 1 + static_cast<Timestamp>(
                                   rng_.Uniform() * static_cast<double>(until - s->t - 1)));
  }
  std::sort(times.begin(), times.end());
  for (Timestamp time : times) {
    if (!Advance(j, time)) return false;
    SimRow row = Row(s, time);
    const EventId e = events[rng_.Below(static_cast<int64_t>(events.size()))];
    (void)j->Fire(e, time);
    Write(*j, e, &row);
    s->rows->push_back(std::move(row));
  }
  return true;
}

// Where a deal in open stage `from` goes at the end of a stay: on along the
// funnel line (declaration order, side stages left out), skipping or back
// now and then, or lost. From a side stage (an abandoned cart), back into
// the funnel, or on to another side stage (remarketing), or lost.
StageId Simulator::Target(StageId from, int turned_down) {
  std::vector<StageId> forward, back, lost, side;
  for (int i = 0; i < m_.num_stages(); ++i) {
    const StageId to = static_cast<StageId>(i);
    if (to == from || !routes_.Reaches(from, to)) continue;
    const StageInfo& info = m_.stage(to);
    if (info.kind == StageKind::kLost) {
      lost.push_back(to);
    } else if (info.side) {
      side.push_back(to);
    } else if (to > from || m_.stage(from).side) {
      forward.push_back(to);
    } else if (info.kind == StageKind::kOpen) {
      back.push_back(to);
    }
  }
  const bool loses = turned_down >= 4 || rng_.Uniform() >= c_.conversion[from];
  if (loses || forward.empty()) {
    if (m_.stage(from).side && !side.empty()) return side.front();
    if (!lost.empty()) return lost[rng_.Below(static_cast<int64_t>(lost.size()))];
  }
  if (!back.empty() && rng_.Uniform() < c_.back[from]) return back.back();
  if (forward.empty()) return kNoStage;
  return forward[forward.size() > 1 && rng_.Uniform() < c_.skip[from] ? 1 : 0];
}

void Simulator::Move(Journey* j, StageId to, Timestamp time, State* s) {
  const StageId from = j->stage();
  SimRow row = Row(s, time);
  // Before moving on, the salesperson records what the next stage
  // requires, and why a lost deal was lost (80% of the time).
  for (AttributeId a : m_.stage(to).required_attributes) {
    if (j->IsSet(a)) continue;
    AttributeValue v = Draw(a);
    (void)j->Set(a, v);
    row.set.emplace_back(a, std::move(v));
  }
  const AttributeId reason = m_.stage(to).reason_attribute;
  if (reason != kNoAttribute && rng_.Uniform() < 0.8) {
    AttributeValue v = AttributeValue::String(LossReason(&rng_));
    (void)j->Set(reason, v);
    row.set.emplace_back(reason, std::move(v));
  }
  EventId e = routes_.moves.at(Routes::Key(from, to));
  // A lost deal is lost by any of its loss events (not the ones timeouts
  // fire, which replay fires itself), so event-based reasons vary.
  if (e != kNoEvent && m_.stage(to).kind == StageKind::kLost) {
    std::vector<EventId> ways;
    for (const TransitionInfo& t : m_.transitions()) {
      if (t.from == from && t.to == to && t.event != kNoEvent &&
          !routes_.timeout_event[t.event]) {
        ways.push_back(t.event);
      }
    }
    if (!ways.empty()) e = ways[rng_.Below(static_cast<int64_t>(ways.size()))];
  }
  const absl::StatusOr<StepResult> step =
      e != kNoEvent ? j->Fire(e, time) : j->MoveTo(to, time);
  Write(*j, e, &row);
  s->rows->push_back(std::move(row));
  if (!step.ok() || step->moved()) {
    s->t = time;
    s->turned_down = 0;
    return;
  }
  // Turned down by a guard: by the next try the salesperson has learnt
  // what the deal records anew (a budget found, an authority met).
  ++s->turned_down;
  s->t = time;
  SimRow learnt = Row(s, time + 1);
  Learn(1.0, j, &learnt);
  if (!learnt.set.empty()) s->rows->push_back(std::move(learnt));
}

bool Simulator::AfterClose(Journey* j, State* s) {
  const StageId stage = j->stage();
  const auto& ts = m_.transitions();
  int take = routes_.post_sale[stage];
  Timestamp wait = rng_.Stay(14, 0.5);  // follow-up a couple of weeks after
  if (take < 0 || j->cycle() > 8) {
    const double again = m_.stage(stage).kind == StageKind::kWon ? c_.repeat : c_.reactivate;
    take = routes_.new_cycle[stage];
    if (take < 0 || rng_.Uniform() >= again) return false;
    wait = rng_.Stay(120, 0.6);  // buys again some months later
  }
  const Timestamp time = s->t + wait;
  if (time > Horizon()) return false;
  SimRow row = Row(s, time);
  const TransitionInfo& t = ts[static_cast<size_t>(take)];
  (void)(t.event != kNoEvent ? j->Fire(t.event, time) : j->MoveTo(t.to, time));
  Write(*j, t.event, &row);
  s->rows->push_back(std::move(row));
  s->t = time;
  return j->stage() != stage;
}

std::string CsvCell(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kInt64: return absl::StrCat(v.int64_value());
    case AttributeType::kDouble: return absl::StrCat(v.double_value());
    case AttributeType::kBool: return v.bool_value() ? "true" : "false";
    case AttributeType::kString: {
      const std::string& s = v.string_value();
      if (s.find_first_of(",\"\n") == std::string::npos) return s;
      return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
    }
  }
  return "";
}

std::string JsonValue(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kInt64: return absl::StrCat(v.int64_value());
    case AttributeType::kDouble: return absl::StrCat(v.double_value());
    case AttributeType::kBool: return v.bool_value() ? "true" : "false";
    case AttributeType::kString:
      return absl::StrCat("\"", absl::CEscape(v.string_value()), "\"");
  }
  return "null";
}

// The rows as an event file: CSV with a column per attribute, or JSON Lines.
std::string FormatSimRows(const Machine& m, const std::vector<SimRow>& rows,
                          const std::string& format) {
  std::string out;
  auto deal_id = [](uint32_t d) { return absl::StrFormat("d%06u", d); };
  auto event = [&](const SimRow& r) {
    return r.event == kNoEvent ? std::string() : m.event(r.event).id;
  };
  auto stage = [&](const SimRow& r) {
    return r.stage == kNoStage ? std::string() : m.stage(r.stage).id;
  };
  if (format == "csv") {
    out = "deal,event,stage,time";
    for (int a = 0; a < m.num_attributes(); ++a) {
      absl::StrAppend(&out, ",", m.attribute(static_cast<AttributeId>(a)).name);
    }
    out += "\n";
    std::vector<std::string> cells(m.num_attributes());
    for (const SimRow& r : rows) {
      std::fill(cells.begin(), cells.end(), std::string());
      for (const auto& [a, v] : r.set) cells[a] = CsvCell(v);
      absl::StrAppend(&out, deal_id(r.deal), ",", event(r), ",", stage(r), ",", r.time);
      for (const std::string& c : cells) absl::StrAppend(&out, ",", c);
      out += "\n";
    }
    return out;
  }
  for (const SimRow& r : rows) {
    absl::StrAppend(&out, "{\"deal\": \"", deal_id(r.deal), "\"");
    if (r.event != kNoEvent) absl::StrAppend(&out, ", \"event\": \"", event(r), "\"");
    if (r.stage != kNoStage) absl::StrAppend(&out, ", \"stage\": \"", stage(r), "\"");
    absl::StrAppend(&out, ", \"time\": ", r.time);
    if (!r.set.empty()) {
      out += ", \"set\": {";
      for (size_t i = 0; i < r.set.size(); ++i) {
        absl::StrAppend(&out, i ? ", " : "", "\"", m.attribute(r.set[i].first).name,
                        "\": ", JsonValue(r.set[i].second));
      }
      out += "}";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace

int Simulate(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2,
                        {"deals", "seed", "start", "days", "now", "conversion", "delay",
                         "skip", "back", "activities", "repeat", "later-entry", "win-rate",
                         "range", "rows", "format", "out"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("simulate takes one MACHINE");
  SimOptions options;
  const absl::Status basics = SimBasics(args->options, &options);
  if (!basics.ok()) return Usage(std::string(basics.message()));
  auto machine = Machine::FromFile(args->positional[0]);
  if (!machine.ok()) return Fail(machine.status());
  const absl::Status per_stage = SimPerStage(**machine, args->options, &options);
  if (!per_stage.ok()) return Usage(std::string(per_stage.message()));
  if (args->options["conversion"].empty()) {
    std::fill(options.conversion.begin(), options.conversion.end(),
              CalibrateConversion(*machine, options, options.win_rate));
  } else if (args->options.count("win-rate")) {
    return Usage("give --conversion or --win-rate, not both");
  }
  Simulator simulator(*machine, options);
  std::vector<SimRow> rows;
  ProgressLine line("simulate", "deals", ShowProgress(*args));
  for (uint32_t d = 0; d < static_cast<uint32_t>(options.deals); ++d) {
    const absl::Status dealt = simulator.Deal(d, &rows);
    if (!dealt.ok()) return Fail(dealt);
    line.Update(d + 1, static_cast<double>(d + 1) / static_cast<double>(options.deals));
  }
  line.Done(static_cast<uint64_t>(options.deals));
  std::sort(rows.begin(), rows.end(), [](const SimRow& a, const SimRow& b) {
    return std::tie(a.time, a.deal, a.seq) < std::tie(b.time, b.deal, b.seq);
  });
  const absl::Status written =
      WriteOut(*args, FormatSimRows(**machine, rows, options.format));
  if (!written.ok()) return Fail(written);
  std::fprintf(stderr, "simulate: %lld deals, %zu rows%s\n",
               static_cast<long long>(options.deals), rows.size(),
               options.now ? absl::StrCat(" (as of ", absl::FormatTime(
                                 "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(*options.now),
                                 absl::UTCTimeZone()), ": nothing later)").c_str()
                           : "");
  return kOk;
}

}  // namespace cli
}  // namespace salescycle
