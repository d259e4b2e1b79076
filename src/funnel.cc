#include "salescycle/funnel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "salescycle/v1/funnel.pb.h"
#include "src/analytics.h"
#include "src/pipeline_internal.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

namespace {

// The counters replayed from each live deal's history. A deal whose
// history was never cut short is counted from its addition (taken as its
// first step's time: a history does not hold the addition); one whose
// oldest steps were dropped, from its oldest remembered step.
std::unique_ptr<FunnelAccumulator> FromHistory(const Pipeline& p,
                                               Cohort cohort) {
  const Machine& m = p.machine();
  const size_t limit = PipelineInternal::history_limit(p);
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
      if (e.outcome != Outcome::kMoved) continue;
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
bool StayedPast(Timestamp entered, Timestamp as_of, int64_t limit) {
  if (as_of <= entered) return false;
  return static_cast<uint64_t>(as_of) - static_cast<uint64_t>(entered) >
         static_cast<uint64_t>(limit);
}

// What one pass over the live deals adds to a group's figures.
struct LiveTally {
  explicit LiveTally(size_t stages) : now(stages, 0), stalled(stages, 0) {}
  std::vector<uint64_t> now;
  std::vector<uint64_t> stalled;
  uint64_t live = 0;
  uint64_t open = 0;
  double weighted = 0;
  double won_value = 0;
  uint64_t won_valued = 0;
  double open_value = 0;
  uint64_t open_valued = 0;

  // One live deal in stage `s`; `value` when its value attribute is set.
  void Add(StageId s, const StageInfo& info, bool is_stalled, bool won,
           std::optional<double> value) {
    const bool is_open = info.kind == StageKind::kOpen;
    ++live;
    ++now[s];
    if (is_stalled) ++stalled[s];
    if (is_open) ++open;
    if (!value) return;
    if (is_open) {
      weighted += *value * info.win_probability / 100.0;
      open_value += *value;
      ++open_valued;
    }
    if (won) {
      won_value += *value;
      ++won_valued;
    }
  }
};

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

// The next OPEN or WON stage after `s` in declaration order that is not a
// side stage, for OPEN stages on the line only.
StageId NextInFunnel(const Machine& m, StageId s) {
  if (m.stage(s).kind != StageKind::kOpen || m.stage(s).side) return kNoStage;
  for (int t = s + 1; t < m.num_stages(); ++t) {
    const StageInfo& next = m.stage(static_cast<StageId>(t));
    if (next.kind != StageKind::kLost && !next.side) {
      return static_cast<StageId>(t);
    }
  }
  return kNoStage;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

FunnelFigures Figures(const Machine& m, const FunnelCounters& c,
                      const LiveTally& live) {
  FunnelFigures f;
  f.deals = c.deals;
  f.live_deals = live.live;
  f.open_deals = live.open;
  f.won = c.won;
  f.lost = c.lost;
  f.win_rate = Ratio(static_cast<double>(c.won), static_cast<double>(c.won + c.lost));
  f.average_cycle_days =
      Ratio(c.cycle_seconds, static_cast<double>(c.cycles)) / 86400.0;
  f.average_deal_value =
      live.won_valued > 0 ? live.won_value / static_cast<double>(live.won_valued)
                          : Ratio(live.open_value, static_cast<double>(live.open_valued));
  f.sales_velocity_per_day =
      f.average_cycle_days > 0 ? static_cast<double>(f.open_deals) *
                                     f.average_deal_value * f.win_rate /
                                     f.average_cycle_days
                               : 0;
  f.weighted_pipeline = live.weighted;
  uint64_t most_dropped = 0;
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageId s = static_cast<StageId>(i);
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
    st.moved_on = sc.moved_on;
    st.dropped = sc.dropped;
    st.now = live.now[s];
    st.stalled = live.stalled[s];
    st.next_stage = NextInFunnel(m, s);
    if (st.next_stage != kNoStage) {
      st.conversion_to_next = Ratio(
          static_cast<double>(c.stages[st.next_stage].entered),
          static_cast<double>(sc.entered));
    }
    st.conversion_to_won = Ratio(static_cast<double>(sc.won_after),
                                 static_cast<double>(sc.entered));
    st.drop_rate = Ratio(static_cast<double>(sc.dropped),
                         static_cast<double>(sc.entered));
    st.time_in_stage.count = sc.time_in_stage.count();
    st.time_in_stage.mean_seconds = sc.time_in_stage.mean();
    st.time_in_stage.median_seconds = sc.time_in_stage.Quantile(0.5);
    st.time_in_stage.p90_seconds = sc.time_in_stage.Quantile(0.9);
    if (sc.dropped > most_dropped ||
        (sc.dropped == most_dropped && sc.dropped > 0 &&
         st.drop_rate > f.stages[f.biggest_leak].drop_rate)) {
      most_dropped = sc.dropped;
      f.biggest_leak = s;
    }
    f.stages.push_back(std::move(st));
  }
  return f;
}

}  // namespace
}  // namespace internal

absl::StatusOr<FunnelReport> FunnelOf(const Pipeline& pipeline,
                                      const FunnelOptions& options) {
  using internal::FunnelAccumulator;
  const Machine& m = pipeline.machine();
  SC_ASSIGN_OR_RETURN(const std::optional<AttributeId> value,
                      internal::ValueAttribute(m, options));
  const FunnelAccumulator* acc = internal::PipelineInternal::analytics(pipeline);
  std::unique_ptr<FunnelAccumulator> replayed;
  if (acc == nullptr) {
    if (internal::PipelineInternal::history_limit(pipeline) == 0) {
      return absl::FailedPreconditionError(
          "a funnel needs a pipeline with analytics on "
          "(PipelineOptions::analytics) or with history");
    }
    replayed = internal::FromHistory(pipeline, Cohort::kNone);
    acc = replayed.get();
  }

  FunnelReport report;
  report.machine = m.name();
  report.version = m.version();
  report.value_attribute = options.value_attribute;
  report.as_of = options.now.value_or(
      acc->latest() == std::numeric_limits<Timestamp>::min() ? 0 : acc->latest());

  const size_t stages = static_cast<size_t>(m.num_stages());
  internal::LiveTally total(stages);
  std::vector<internal::LiveTally> cohorts(acc->cohorts().size(),
                                           internal::LiveTally(stages));
  for (DealIndex d = 0; d < pipeline.slot_count(); ++d) {
    if (!pipeline.Contains(d)) continue;
    const StageId s = pipeline.stage(d);
    const StageInfo& info = m.stage(s);
    const uint32_t c = acc->cohort_of(d);
    internal::LiveTally* tallies[2] = {&total,
                                       c != FunnelAccumulator::kNoCohort ? &cohorts[c] : nullptr};
    const bool stalled =
        info.stall_limit_seconds.has_value() &&
        internal::StayedPast(pipeline.ClockStart(d), report.as_of,
                             *info.stall_limit_seconds);
    const bool won = (acc->flags(d) & FunnelAccumulator::kWon) != 0;
    const std::optional<double> v = internal::DealValue(pipeline, d, value);
    for (internal::LiveTally* t : tallies) {
      if (t != nullptr) t->Add(s, info, stalled, won, v);
    }
  }
  report.total = internal::Figures(m, acc->total(), total);
  for (size_t c = 0; c < cohorts.size(); ++c) {
    FunnelCohort cohort;
    cohort.start = acc->cohort_starts()[c];
    cohort.label = FunnelAccumulator::CohortLabel(acc->cohort(), cohort.start);
    cohort.figures = internal::Figures(m, acc->cohorts()[c], cohorts[c]);
    report.cohorts.push_back(std::move(cohort));
  }
  std::sort(report.cohorts.begin(), report.cohorts.end(),
            [](const FunnelCohort& a, const FunnelCohort& b) {
              return a.start < b.start;
            });
  return report;
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

std::string Overall(const FunnelFigures& f) {
  std::string leak = "none";
  if (f.biggest_leak != kNoStage) {
    const StageFunnel& s = f.stages[f.biggest_leak];
    leak = absl::StrCat(s.display_name, " (", s.dropped, " dropped, ",
                        Percent(s.drop_rate), ")");
  }
  return absl::StrFormat(
      "win rate %s (%u won, %u lost) | average cycle %.1f days | sales "
      "velocity %.0f/day | weighted pipeline %.0f | biggest leak: %s",
      Percent(f.win_rate), f.won, f.lost, f.average_cycle_days,
      f.sales_velocity_per_day, f.weighted_pipeline, leak);
}

}  // namespace

std::string FunnelTable(const FunnelReport& report) {
  const FunnelFigures& f = report.total;
  std::string out = absl::StrFormat(
      "%s v%u funnel as of %s: %u deals, %u live, %u open%s\n\n", report.machine,
      report.version, Date(report.as_of), f.deals, f.live_deals, f.open_deals,
      report.value_attribute.empty()
          ? ""
          : absl::StrCat(" (value: ", report.value_attribute, ")"));
  absl::StrAppendFormat(&out, "%-22s %8s %8s %8s %7s %7s %8s %7s %8s %8s\n",
                        "stage", "entered", "moved on", "dropped", "now",
                        "stalled", "to next", "to won", "median", "p90");
  for (const StageFunnel& s : f.stages) {
    const bool timed = s.time_in_stage.count > 0;
    absl::StrAppendFormat(
        &out, "%-22s %8u %8u %8u %7u %7u %8s %7s %8s %8s%s\n",
        s.display_name.substr(0, 22), s.entered, s.moved_on, s.dropped,
        s.now, s.stalled,
        s.next_stage == kNoStage ? "-" : Percent(s.conversion_to_next),
        Percent(s.conversion_to_won),
        timed ? Days(static_cast<double>(s.time_in_stage.median_seconds)) : "-",
        timed ? Days(static_cast<double>(s.time_in_stage.p90_seconds)) : "-",
        s.stage == f.biggest_leak ? "  <- biggest leak" : "");
  }
  absl::StrAppend(&out, "\n", Overall(f), "\n");
  if (!report.cohorts.empty()) {
    absl::StrAppendFormat(&out, "\n%-10s %8s %8s %8s %9s %10s %14s\n", "cohort",
                          "deals", "won", "lost", "win rate", "cycle",
                          "weighted");
    for (const FunnelCohort& c : report.cohorts) {
      const FunnelFigures& g = c.figures;
      absl::StrAppendFormat(&out, "%-10s %8u %8u %8u %9s %9.1fd %14.0f\n",
                            c.label, g.deals, g.won, g.lost,
                            Percent(g.win_rate), g.average_cycle_days,
                            g.weighted_pipeline);
    }
  }
  return out;
}

namespace {

void ToProto(const FunnelFigures& f, v1::FunnelFigures* out) {
  out->set_deals(f.deals);
  out->set_live_deals(f.live_deals);
  out->set_open_deals(f.open_deals);
  out->set_won(f.won);
  out->set_lost(f.lost);
  out->set_win_rate(f.win_rate);
  out->set_average_cycle_days(f.average_cycle_days);
  out->set_average_deal_value(f.average_deal_value);
  out->set_sales_velocity_per_day(f.sales_velocity_per_day);
  out->set_weighted_pipeline(f.weighted_pipeline);
  if (f.biggest_leak != kNoStage) {
    out->set_biggest_leak(f.stages[f.biggest_leak].id);
  }
  for (const StageFunnel& s : f.stages) {
    v1::StageFunnel* st = out->add_stages();
    st->set_stage(s.id);
    st->set_display_name(s.display_name);
    st->set_kind(std::string(StageKindName(s.kind)));
    st->set_win_probability(s.win_probability);
    st->set_entered(s.entered);
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
    v1::DurationStats* t = st->mutable_time_in_stage();
    t->set_count(s.time_in_stage.count);
    t->set_mean_seconds(s.time_in_stage.mean_seconds);
    t->set_median_seconds(s.time_in_stage.median_seconds);
    t->set_p90_seconds(s.time_in_stage.p90_seconds);
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
  return out;
}

}  // namespace

std::string FunnelProtoBytes(const FunnelReport& report) {
  std::string bytes;
  ToProto(report).SerializeToString(&bytes);
  return bytes;
}

std::string FunnelJson(const FunnelReport& report) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(ToProto(report), &json,
                                                    options);
  return json;
}

std::string FunnelCsv(const FunnelReport& report) {
  std::string out =
      "cohort,stage,kind,entered,moved_on,dropped,now,stalled,"
      "conversion_to_next,conversion_to_won,drop_rate,stays,"
      "mean_seconds,median_seconds,p90_seconds\n";
  auto rows = [&out](absl::string_view cohort, const FunnelFigures& f) {
    for (const StageFunnel& s : f.stages) {
      absl::StrAppendFormat(
          &out, "%s,%s,%s,%u,%u,%u,%u,%u,%s,%.6f,%.6f,%u,%.1f,%d,%d\n",
          cohort, s.id, StageKindName(s.kind), s.entered, s.moved_on,
          s.dropped, s.now, s.stalled,
          s.next_stage == kNoStage ? "" : absl::StrFormat("%.6f", s.conversion_to_next),
          s.conversion_to_won, s.drop_rate, s.time_in_stage.count,
          s.time_in_stage.mean_seconds, s.time_in_stage.median_seconds,
          s.time_in_stage.p90_seconds);
    }
  };
  rows("all", report.total);
  for (const FunnelCohort& c : report.cohorts) rows(c.label, c.figures);
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

std::string FunnelSvg(const FunnelReport& report) {
  const FunnelFigures& f = report.total;
  // The funnel line: OPEN and WON stages, in declaration order, but for
  // side stages (an abandoned cart, a post-sale follow-up).
  std::vector<const StageFunnel*> bars;
  for (const StageFunnel& s : f.stages) {
    if (s.kind != StageKind::kLost && !s.side) bars.push_back(&s);
  }
  uint64_t widest = 1;
  for (const StageFunnel* s : bars) widest = std::max(widest, s->entered);

  constexpr int kWidth = 1100, kBarHeight = 34, kGap = 26, kTop = 86,
                kLabel = 200, kMaxBar = 560;
  const int height = kTop + static_cast<int>(bars.size()) * (kBarHeight + kGap) + 40;
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n"
      "  <rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
      "  <text x=\"24\" y=\"36\" font-size=\"22\" font-weight=\"bold\" "
      "fill=\"#1d3557\">%s v%u funnel</text>\n"
      "  <text x=\"24\" y=\"62\" font-size=\"13\" fill=\"#457b9d\">%u deals, "
      "win rate %s, average cycle %.1f days, as of %s</text>\n",
      kWidth, height, kWidth, height, Xml(report.machine), report.version, f.deals,
      Percent(f.win_rate), f.average_cycle_days, Date(report.as_of));
  int y = kTop;
  for (size_t i = 0; i < bars.size(); ++i) {
    const StageFunnel& s = *bars[i];
    const bool leak = s.stage == f.biggest_leak;
    const int width = std::max(
        2, static_cast<int>(kMaxBar * static_cast<double>(s.entered) /
                            static_cast<double>(widest)));
    const int x = kLabel + (kMaxBar - width) / 2;
    absl::StrAppendFormat(
        &out,
        "  <g class=\"stage\" data-stage=\"%s\">\n"
        "    <text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\" "
        "fill=\"#1d3557\">%s</text>\n"
        "    <rect class=\"bar%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
        "rx=\"4\" fill=\"%s\"/>\n"
        "    <text class=\"count\" x=\"%d\" y=\"%d\" font-size=\"13\" "
        "fill=\"#1d3557\">%u</text>\n",
        Xml(s.id), kLabel - 12, y + 22, Xml(s.display_name), leak ? " leak" : "", x,
        y, width, kBarHeight, leak ? "#d62828" : "#457b9d", x + width + 8, y + 22,
        s.entered);
    if (leak) {
      absl::StrAppendFormat(
          &out,
          "    <text class=\"leak-note\" x=\"%d\" y=\"%d\" font-size=\"12\" "
          "fill=\"#d62828\">biggest leak: %u dropped (%s)</text>\n",
          x + width + 80, y + 22, s.dropped, Percent(s.drop_rate));
    }
    absl::StrAppend(&out, "  </g>\n");
    if (i + 1 < bars.size()) {
      absl::StrAppendFormat(
          &out,
          "  <text class=\"conversion\" x=\"%d\" y=\"%d\" font-size=\"12\" "
          "text-anchor=\"middle\" fill=\"#6c757d\">&#8595; %s</text>\n",
          kLabel + kMaxBar / 2, y + kBarHeight + kGap / 2 + 8,
          Percent(bars[i + 1]->entered > 0 || s.entered > 0
                      ? static_cast<double>(bars[i + 1]->entered) /
                            static_cast<double>(std::max<uint64_t>(s.entered, 1))
                      : 0));
    }
    y += kBarHeight + kGap;
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace salescycle
