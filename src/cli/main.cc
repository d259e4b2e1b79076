// salescycle: validate and draw sales cycles, replay event files through
// them, and report the funnel.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "salescycle/funnel.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/render.h"
#include "salescycle/snapshot.h"
#include "src/cli/events.h"
#include "src/file_util.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {
namespace {

// Exit codes, as `salescycle --help` documents them.
constexpr int kOk = 0;
constexpr int kFailed = 1;     // bad input, an unreadable file, a failed write
constexpr int kUsage = 2;      // bad command line
constexpr int kBadRows = 3;    // done, but some event rows were skipped

constexpr char kUsageText[] = R"(usage: salescycle COMMAND [ARGS] [OPTIONS]

Sales cycles as state machines: validate and draw them, replay events
through them, report the funnel.

commands:
  validate MACHINE                 check a machine spec (.textproto or .json)
  render MACHINE [--format dot|mermaid] [--out FILE]
                                   draw the machine (default: dot)
  simulate MACHINE --deals N [--seed S] [--start DATE] [--days D]
           [--conversion P | STAGE=P,...] [--delay DAYS | STAGE=DAYS,...]
           [--range ATTRIBUTE=LO..HI,...] [--format csv|jsonl] [--out FILE]
                                   a realistic event stream: deals arrive
                                   over D days (default 365) from DATE
                                   (default 2026-01-01); each step takes an
                                   exponential delay (default 7 days) and is
                                   a move forward (to a stage with a higher
                                   win probability) with probability P
                                   (default 0.7; 0.05 out of lost stages),
                                   else another move; numeric attributes
                                   are uniform in their --range (default:
                                   log-uniform from 1 to 100000)
  replay MACHINE EVENTS [--snapshot-out FILE] [--history N] [--strict]
                                   apply an event file (CSV or JSONL) and
                                   print what happened
  report MACHINE EVENTS [options]  replay, then report the funnel
  report [MACHINE] SNAPSHOT [options]
                                   report from a snapshot with history (it
                                   carries its machine; give MACHINE when
                                   the machine uses named guards)

report options:
  --format table|json|csv|svg      default: table
  --svg FILE, --dot FILE           also write the funnel chart (SVG) and the
                                   machine (Graphviz DOT)
  --cohort week|month              figures per week or month of addition
  --value ATTRIBUTE                the deal value attribute
  --now TIME                       judge stalled deals at TIME (default: the
                                   latest event)
  --out FILE                       write the report to FILE

Event files: CSV with a header (deal,event,time and attribute columns) or
JSON Lines ({"deal","event","time","set":{...}}), chosen by the file's
extension (.csv, .jsonl); times are epoch seconds or ISO 8601 (UTC unless
an offset is given). A bad row is reported with its line number and
skipped; --strict stops at the first one. --progress shows progress on
stderr (default: when stderr is a terminal).

exit codes:
  0  done
  1  failed: a bad machine, an unreadable or bad file, a failed write
  2  bad command line
  3  done, but some event rows were bad and skipped
)";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  bool strict = false;
  std::optional<bool> progress;
};

int Usage(const std::string& why) {
  std::fprintf(stderr, "salescycle: %s\n(salescycle --help for usage)\n", why.c_str());
  return kUsage;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "salescycle: %s\n", std::string(status.message()).c_str());
  return kFailed;
}

// Flags take a value (--format dot) except the switches.
absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first,
                               const std::vector<std::string>& known) {
  Args args;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--strict") {
      args.strict = true;
    } else if (a == "--progress") {
      args.progress = true;
    } else if (a == "--no-progress") {
      args.progress = false;
    } else if (absl::StartsWith(a, "--")) {
      const std::string name = a.substr(2);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
      }
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      }
      args.options[name] = argv[++i];
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

absl::Status WriteOut(const Args& args, const std::string& text) {
  const auto out = args.options.find("out");
  if (out == args.options.end()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  std::ofstream f(out->second, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return absl::UnavailableError(absl::StrCat(out->second, ": cannot write"));
  return absl::OkStatus();
}

int Validate(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("validate takes one MACHINE");
  auto m = Machine::FromFile(args->positional[0]);
  if (!m.ok()) return Fail(m.status());
  std::printf("%s: ok: %s v%u, %d stages, %d events, %d attributes, %zu transitions\n",
              args->positional[0].c_str(), (*m)->name().c_str(), (*m)->version(),
              (*m)->num_stages(), (*m)->num_events(), (*m)->num_attributes(),
              (*m)->transitions().size());
  return kOk;
}

int Render(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"format", "out"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("render takes one MACHINE");
  const std::string format =
      args->options.count("format") ? args->options["format"] : "dot";
  if (format != "dot" && format != "mermaid") {
    return Usage(absl::StrCat("--format is dot or mermaid, not \"", format, "\""));
  }
  auto m = Machine::FromFile(args->positional[0]);
  if (!m.ok()) return Fail(m.status());
  const absl::Status written = WriteOut(
      *args, format == "dot" ? MachineToDot(**m) : MachineToMermaid(**m));
  return written.ok() ? kOk : Fail(written);
}

// ---- replaying event files

struct ReplayStats {
  uint64_t rows = 0;
  uint64_t bad_rows = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t added = 0;
  uint64_t timeouts = 0;   // fired between rows and at the end
  uint64_t after_now = 0;  // rows past --now, not applied
  Timestamp clock = std::numeric_limits<Timestamp>::min();  // latest row
};

// Feeds rows to a pipeline in batches, in time: timeouts fire between rows
// as the rows' clock passes them (Pipeline::ApplyTimed). Events and moves by
// stage go in batches of their own kind, flushed when the kind changes; a
// row that sets attributes flushes first, so that every step sees the
// attributes of the rows before it.
class RowApplier {
 public:
  RowApplier(Pipeline* p, ReplayStats* stats) : p_(p), stats_(stats) {}

  // Applies one parsed row. A problem with the row itself (a value the
  // attribute refuses) goes to `*bad`; the returned error is fatal.
  absl::Status Apply(EventRow* row, absl::Status* bad) {
    stats_->clock = std::max(stats_->clock, row->time);
    DealIndex deal;
    bool created_here = false;
    if (const std::optional<DealIndex> found = p_->IndexOfKey(row->deal)) {
      deal = *found;
    } else {
      // A deal's first stage-history row is its creation in that stage
      // (and entry into no stage before it), which must be an entry stage:
      // entering it through the stages before at once would count a stay
      // of no time in each of them.
      created_here = row->stage != kNoStage;
      auto added = p_->AddWithKey(row->deal, row->time,
                                  created_here ? row->stage : kNoStage);
      if (absl::IsInvalidArgument(added.status())) {
        *bad = absl::InvalidArgumentError(absl::StrCat(
            "deal \"", row->deal, "\": ", added.status().message(),
            ": add the stage to the machine's entry_stages"));
        return absl::OkStatus();
      }
      SC_RETURN_IF_ERROR(added.status());
      deal = *added;
      ++stats_->added;
    }
    if (!row->set.empty()) {
      SC_RETURN_IF_ERROR(Flush());
      // What fell due before this row happened before its values were set.
      if (row->time != std::numeric_limits<Timestamp>::min()) {
        stats_->timeouts += static_cast<uint64_t>(p_->AdvanceTo(row->time - 1));
      }
      for (auto& [attribute, value] : row->set) {
        if (bad->ok()) *bad = p_->Set(deal, attribute, std::move(value));
      }
    }
    if (!bad->ok()) return absl::OkStatus();
    if (row->event != kNoEvent) {
      if (!moves_.empty()) SC_RETURN_IF_ERROR(Flush());
      events_.push_back(EventRecord{deal, row->event, row->time});
    } else if (row->stage != kNoStage && !created_here) {
      if (!events_.empty()) SC_RETURN_IF_ERROR(Flush());
      moves_.push_back(StageRecord{deal, row->stage, row->time});
    }
    if (events_.size() + moves_.size() >= (1 << 16)) SC_RETURN_IF_ERROR(Flush());
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (!events_.empty()) {
      SC_ASSIGN_OR_RETURN(const BatchResult r, p_->ApplyTimed(events_));
      Count(r);
      events_.clear();
    }
    if (!moves_.empty()) {
      SC_ASSIGN_OR_RETURN(const BatchResult r, p_->ApplyMovesTimed(moves_));
      Count(r);
      moves_.clear();
    }
    return absl::OkStatus();
  }

  // After the last row: what is due by `now` fires.
  absl::Status Finish(Timestamp now) {
    SC_RETURN_IF_ERROR(Flush());
    stats_->timeouts += static_cast<uint64_t>(p_->AdvanceTo(now));
    return absl::OkStatus();
  }

 private:
  void Count(const BatchResult& r) {
    stats_->accepted += r.accepted;
    stats_->rejected += r.rejected;
    stats_->timeouts += r.timeouts_fired;
  }

  Pipeline* p_;
  ReplayStats* stats_;
  std::vector<EventRecord> events_;
  std::vector<StageRecord> moves_;
};

// "replay: N rows (P%)" on stderr, at most every 100 ms.
class ProgressLine {
 public:
  explicit ProgressLine(bool on) : on_(on) {}
  void Update(uint64_t rows, size_t offset, size_t size) {
    if (!on_ || (rows & 0xFFFF) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_shown_ <= std::chrono::milliseconds(100)) return;
    last_shown_ = now;
    std::fprintf(stderr, "\rreplay: %llu rows (%.0f%%)",
                 static_cast<unsigned long long>(rows),
                 100.0 * static_cast<double>(offset) /
                     static_cast<double>(std::max<size_t>(size, 1)));
  }
  void Done(uint64_t rows) {
    if (!on_) return;
    std::fprintf(stderr, "\rreplay: %llu rows (100%%)\n",
                 static_cast<unsigned long long>(rows));
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point last_shown_ =
      std::chrono::steady_clock::now();
};

absl::StatusOr<EventReader> OpenEvents(const std::string& path,
                                       const Machine& machine,
                                       absl::string_view text) {
  const auto format =
      absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json")
          ? EventReader::Format::kJsonl
          : EventReader::Format::kCsv;
  auto reader = EventReader::Create(machine, text, format);
  if (!reader.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: ", reader.status().message()));
  }
  return reader;
}

// Applies an event file to `p`, in time, as of `now` (rows after it are
// not applied; nullopt: as of the last row). Bad rows are reported on
// stderr with their line (the first ten, then a count); with `strict` the
// first one is an error.
absl::Status ReplayEvents(const std::string& path, Pipeline* p, bool strict,
                          bool progress, std::optional<Timestamp> now,
                          ReplayStats* stats) {
  SC_ASSIGN_OR_RETURN(const internal::FileBytes file,
                      internal::FileBytes::Open(path));
  const absl::string_view text = file.view();
  SC_ASSIGN_OR_RETURN(EventReader reader, OpenEvents(path, p->machine(), text));
  RowApplier applier(p, stats);
  ProgressLine line(progress);
  constexpr int kShownBadRows = 10;
  EventRow row;
  while (true) {
    auto more = reader.Next(&row);
    if (more.ok() && !*more) break;
    ++stats->rows;
    absl::Status bad = more.status();
    if (bad.ok() && now && row.time > *now) {
      ++stats->after_now;
    } else if (bad.ok()) {
      SC_RETURN_IF_ERROR(applier.Apply(&row, &bad));
    }
    if (!bad.ok()) {
      ++stats->bad_rows;
      const std::string message =
          absl::StrCat(path, ":", reader.line(), ": ", bad.message());
      if (strict) {
        SC_RETURN_IF_ERROR(applier.Flush());
        return absl::InvalidArgumentError(absl::StrCat(message, " (--strict)"));
      }
      if (stats->bad_rows <= kShownBadRows) {
        std::fprintf(stderr, "%s\n", message.c_str());
      }
    }
    line.Update(stats->rows, reader.offset(), text.size());
  }
  SC_RETURN_IF_ERROR(applier.Finish(now.value_or(stats->clock)));
  line.Done(stats->rows);
  if (stats->bad_rows > kShownBadRows) {
    std::fprintf(stderr, "%s: %llu bad rows in all, %d shown\n", path.c_str(),
                 static_cast<unsigned long long>(stats->bad_rows), kShownBadRows);
  }
  return absl::OkStatus();
}

// "as of 2026-06-30T00:00:00Z: 120 rows after it not applied", for the
// first line of the output; "" without --now.
std::string AsOf(std::optional<Timestamp> now, const ReplayStats& stats) {
  if (!now) return "";
  return absl::StrCat("as of ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                                 absl::FromUnixSeconds(*now),
                                                 absl::UTCTimeZone()),
                      " (--now): ", stats.after_now,
                      " rows after it not applied\n");
}

bool ShowProgress(const Args& args) {
  return args.progress.value_or(::isatty(2) != 0);
}

bool IsSnapshot(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  f.read(magic, sizeof magic);
  return f.gcount() == 8 && std::memcmp(magic, "SCPIPE\r\n", 8) == 0;
}

int Replay(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"snapshot-out", "history", "now"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 2) return Usage("replay takes MACHINE EVENTS");
  std::optional<Timestamp> now;
  if (args->options.count("now")) {
    auto parsed = ParseTime(args->options["now"]);
    if (!parsed.ok()) return Usage(absl::StrCat("--now: ", parsed.status().message()));
    now = *parsed;
  }
  PipelineOptions options;
  if (args->options.count("history")) {
    int64_t history;
    if (!absl::SimpleAtoi(args->options["history"], &history) || history < 0 ||
        history > static_cast<int64_t>(kMaxHistoryLimit)) {
      return Usage(absl::StrCat("--history takes 0 to ", kMaxHistoryLimit));
    }
    options.history_limit = static_cast<size_t>(history);
  } else if (args->options.count("snapshot-out")) {
    options.history_limit = 16;  // so that the snapshot can be reported on
  }
  auto m = Machine::FromFile(args->positional[0]);
  if (!m.ok()) return Fail(m.status());
  auto p = Pipeline::Create(*m, options);
  if (!p.ok()) return Fail(p.status());
  ReplayStats stats;
  const auto start = std::chrono::steady_clock::now();
  const absl::Status replayed = ReplayEvents(
      args->positional[1], &*p, args->strict, ShowProgress(*args), now, &stats);
  if (!replayed.ok()) return Fail(replayed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s%llu rows: %llu accepted, %llu rejected, %llu bad rows; "
              "%llu deals; %llu timeouts fired (%.0f rows/s)\n",
              AsOf(now, stats).c_str(),
              static_cast<unsigned long long>(stats.rows),
              static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.rejected),
              static_cast<unsigned long long>(stats.bad_rows),
              static_cast<unsigned long long>(p->size()),
              static_cast<unsigned long long>(stats.timeouts),
              seconds > 0 ? static_cast<double>(stats.rows) / seconds : 0.0);
  const Machine& machine = **m;
  for (int s = 0; s < machine.num_stages(); ++s) {
    std::printf("  %-24s %8llu\n", machine.stage(static_cast<StageId>(s)).id.c_str(),
                static_cast<unsigned long long>(p->StageCount(static_cast<StageId>(s))));
  }
  if (args->options.count("snapshot-out")) {
    const absl::Status saved =
        SavePipeline(*p, SnapshotSink::File(args->options["snapshot-out"]));
    if (!saved.ok()) return Fail(saved);
  }
  return stats.bad_rows > 0 ? kBadRows : kOk;
}

int Report(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2,
                        {"format", "cohort", "value", "now", "out", "svg", "dot"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  const auto& pos = args->positional;
  if (pos.empty() || pos.size() > 2) {
    return Usage("report takes MACHINE EVENTS, or [MACHINE] SNAPSHOT");
  }
  const std::string format = args->options.count("format") ? args->options["format"] : "table";
  if (format != "table" && format != "json" && format != "csv" && format != "svg") {
    return Usage(
        absl::StrCat("--format is table, json, csv or svg, not \"", format, "\""));
  }
  PipelineOptions options;
  options.analytics.enabled = true;
  if (args->options.count("cohort")) {
    const std::string& c = args->options["cohort"];
    if (c != "week" && c != "month") {
      return Usage(absl::StrCat("--cohort is week or month, not \"", c, "\""));
    }
    options.analytics.cohort = c == "week" ? Cohort::kWeek : Cohort::kMonth;
  }
  FunnelOptions funnel;
  if (args->options.count("value")) funnel.value_attribute = args->options["value"];
  if (args->options.count("now")) {
    auto now = ParseTime(args->options["now"]);
    if (!now.ok()) return Usage(absl::StrCat("--now: ", now.status().message()));
    funnel.now = *now;
  }
  const bool from_snapshot = IsSnapshot(pos.back());
  if (pos.size() == 1 && !from_snapshot) {
    return Usage(absl::StrCat(pos[0], " is not a snapshot: give MACHINE EVENTS"));
  }
  if (from_snapshot && options.analytics.cohort != Cohort::kNone) {
    return Usage("--cohort needs MACHINE EVENTS (a snapshot's history has no "
                 "additions to group by)");
  }
  absl::StatusOr<Pipeline> p = absl::UnknownError("");
  int code = kOk;
  if (pos.size() == 1) {
    p = LoadPipeline(SnapshotSource::File(pos[0]));  // it carries its machine
  } else {
    auto m = Machine::FromFile(pos[0]);
    if (!m.ok()) return Fail(m.status());
    if (from_snapshot) {
      p = LoadPipeline(SnapshotSource::File(pos[1]), *m);
    } else {
      p = Pipeline::Create(*m, options);
      if (!p.ok()) return Fail(p.status());
      ReplayStats stats;
      const absl::Status replayed = ReplayEvents(
          pos[1], &*p, args->strict, ShowProgress(*args), funnel.now, &stats);
      if (!replayed.ok()) return Fail(replayed);
      if (stats.bad_rows > 0) code = kBadRows;
      // The report says "as of" itself; what --now left out goes beside it.
      if (funnel.now) std::fprintf(stderr, "%s", AsOf(funnel.now, stats).c_str());
    }
  }
  if (!p.ok()) return Fail(p.status());
  auto report = FunnelOf(*p, funnel);
  if (!report.ok()) return Fail(report.status());
  const std::string text = format == "json"  ? FunnelJson(*report)
                           : format == "csv" ? FunnelCsv(*report)
                           : format == "svg" ? FunnelSvg(*report)
                                             : FunnelTable(*report);
  absl::Status written = WriteOut(*args, text);
  // The pictures beside the report, in the same run.
  for (const auto& [flag, picture] :
       {std::pair<const char*, std::function<std::string()>>{
            "svg", [&] { return FunnelSvg(*report); }},
        {"dot", [&] { return MachineToDot(p->machine()); }}}) {
    if (!written.ok() || !args->options.count(flag)) continue;
    Args to_file;
    to_file.options["out"] = args->options[flag];
    written = WriteOut(to_file, picture());
  }
  return written.ok() ? code : Fail(written);
}


// ---- simulate

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
};

// "0.6" for every stage, or "qualification=0.4,closing=0.7" (the rest keep
// `fallback`).
absl::StatusOr<std::vector<double>> PerStage(const Machine& m, const std::string& flag,
                                             const std::string& text, double fallback,
                                             double lo, double hi) {
  std::vector<double> out(m.num_stages(), fallback);
  auto parse = [&](absl::string_view v, double* d) -> absl::Status {
    if (!absl::SimpleAtod(v, d) || *d < lo || *d > hi) {
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

// A numeric attribute's range (--range NAME=LO..HI): uniform within it.
struct Range {
  double lo, hi;
};

// Without a range, numbers are log-uniform from 1 to 100 000: budgets,
// days, values and percentages all get a plausible share of small and
// large. Bools are true 70% of the time.
AttributeValue RandomValue(const AttributeInfo& a, Random* r,
                           const std::optional<Range>& range = std::nullopt) {
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

struct SimRow {
  Timestamp time;
  uint32_t deal;
  uint32_t seq;  // keeps a deal's rows in order at equal times
  EventId event;  // kNoEvent: only sets attributes
  std::vector<std::pair<AttributeId, AttributeValue>> set;
};

// What `simulate` was asked for.
struct SimConfig {
  int64_t deals = 0;
  int64_t seed = 1;
  int64_t days = 365;
  std::string format = "csv";
  Timestamp start = 1767225600;  // 2026-01-01
  // Per stage: the chance of moving forward, the mean days before a step.
  std::vector<double> conversion;
  std::vector<double> delay;
  std::vector<std::optional<Range>> ranges;  // by attribute
};

// The options that need no machine; InvalidArgument is a usage error.
absl::StatusOr<SimConfig> SimBasics(std::map<std::string, std::string>& o) {
  SimConfig c;
  if (!o.count("deals") || !absl::SimpleAtoi(o["deals"], &c.deals) ||
      c.deals < 1 || c.deals > 100000000) {
    return absl::InvalidArgumentError("--deals takes a number from 1 to 100000000");
  }
  if (o.count("seed") && !absl::SimpleAtoi(o["seed"], &c.seed)) {
    return absl::InvalidArgumentError("--seed takes a number");
  }
  if (o.count("days") &&
      (!absl::SimpleAtoi(o["days"], &c.days) || c.days < 1 || c.days > 36500)) {
    return absl::InvalidArgumentError("--days takes a number from 1 to 36500");
  }
  if (o.count("format")) c.format = o["format"];
  if (c.format != "csv" && c.format != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format is csv or jsonl, not \"", c.format, "\""));
  }
  if (o.count("start")) {
    auto t = ParseTime(o["start"]);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--start: ", t.status().message()));
    }
    c.start = *t;
  }
  return c;
}

// --range ATTR=LO..HI,...: the numeric attributes' ranges.
absl::Status SimRanges(const Machine& m, const std::string& text,
                       SimConfig* c) {
  c->ranges.assign(m.num_attributes(), std::nullopt);
  if (text.empty()) return absl::OkStatus();
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    std::pair<absl::string_view, absl::string_view> bounds =
        absl::StrSplit(kv.second, "..");
    auto a = m.FindAttribute(kv.first);
    Range r;
    if (!a.ok() || !absl::SimpleAtod(bounds.first, &r.lo) ||
        !absl::SimpleAtod(bounds.second, &r.hi) || r.lo > r.hi ||
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
                         SimConfig* c) {
  SC_ASSIGN_OR_RETURN(c->conversion,
                      PerStage(m, "--conversion", o["conversion"], 0.7, 0, 1));
  if (o["conversion"].empty()) {
    // By default, lost deals seldom come back.
    for (int i = 0; i < m.num_stages(); ++i) {
      if (m.stage(static_cast<StageId>(i)).kind == StageKind::kLost) {
        c->conversion[i] = 0.05;
      }
    }
  }
  SC_ASSIGN_OR_RETURN(c->delay, PerStage(m, "--delay", o["delay"], 7, 0, 3650));
  return SimRanges(m, o["range"], c);
}

// Walks deals through the machine as a sales team might, writing the rows
// of an event file. One random stream for the whole run, drawn in deal
// order, so that a seed gives the same file every time.
class Simulator {
 public:
  Simulator(std::shared_ptr<const Machine> machine, const SimConfig& config)
      : machine_(std::move(machine)), m_(*machine_), c_(config),
        rng_{static_cast<uint64_t>(config.seed)},
        forward_(m_.num_stages()), other_(m_.num_stages()) {
    // Per stage: the events that lead forward (to a higher win
    // probability) and the others.
    for (const TransitionInfo& t : m_.transitions()) {
      // Events that move: activities and moves by stage are not simulated.
      if (t.to == kNoStage || t.event == kNoEvent) continue;
      auto& list = m_.stage(t.to).win_probability >
                               m_.stage(t.from).win_probability &&
                           m_.stage(t.to).kind != StageKind::kLost
                       ? forward_[t.from]
                       : other_[t.from];
      if (std::find(list.begin(), list.end(), t.event) == list.end()) {
        list.push_back(t.event);
      }
    }
  }

  absl::Status Deal(uint32_t d, std::vector<SimRow>* rows) {
    const Timestamp end = c_.start + c_.days * 86400;
    Timestamp t = c_.start + static_cast<Timestamp>(
                                 rng_.Uniform() * static_cast<double>(end - c_.start));
    SC_ASSIGN_OR_RETURN(Journey journey, Journey::Create(machine_, t));
    uint32_t seq = 0;
    // What the salesperson knows at the start: each attribute 60% of the time.
    SimRow first{t, d, seq++, kNoEvent, {}};
    Learn(0.6, &journey, &first);
    rows->push_back(std::move(first));
    constexpr int kMaxSteps = 40;
    for (int step = 0; step < kMaxSteps; ++step) {
      const StageId s = journey.stage();
      const double mean = c_.delay[s] * 86400;
      t += static_cast<Timestamp>(-std::log(1 - rng_.Uniform()) * mean) + 1;
      if (t >= end) break;
      const bool ahead = rng_.Uniform() < c_.conversion[s] && !forward_[s].empty();
      const auto& choices = ahead ? forward_[s] : other_[s];
      if (choices.empty()) {
        // A closed deal that does not come back stays where it is; an
        // open one waits.
        if (m_.stage(s).kind != StageKind::kOpen) break;
        continue;
      }
      const EventId e = choices[rng_.Below(static_cast<int64_t>(choices.size()))];
      Step(d, s, e, t, &seq, &journey, rows);
    }
    return absl::OkStatus();
  }

 private:
  AttributeValue Draw(AttributeId a) {
    return RandomValue(m_.attribute(a), &rng_, c_.ranges[a]);
  }

  // Sets each attribute with probability `p`, recording it in `row`.
  void Learn(double p, Journey* journey, SimRow* row) {
    for (int a = 0; a < m_.num_attributes(); ++a) {
      if (rng_.Uniform() >= p) continue;
      AttributeValue v = Draw(static_cast<AttributeId>(a));
      (void)journey->Set(static_cast<AttributeId>(a), v);
      row->set.emplace_back(static_cast<AttributeId>(a), std::move(v));
    }
  }

  // Fires `e` from stage `s` at `t`, with what it takes.
  void Step(uint32_t d, StageId s, EventId e, Timestamp t, uint32_t* seq,
            Journey* journey, std::vector<SimRow>* rows) {
    // Before moving on, the salesperson records what the next stage
    // requires.
    SimRow row{t, d, (*seq)++, e, {}};
    for (const TransitionInfo& tr : m_.transitions()) {
      if (tr.from != s || tr.event != e || tr.to == kNoStage) continue;
      for (AttributeId a : m_.stage(tr.to).required_attributes) {
        if (journey->IsSet(a)) continue;
        AttributeValue v = Draw(a);
        (void)journey->Set(a, v);
        row.set.emplace_back(a, std::move(v));
      }
    }
    const auto fired = journey->Fire(e, t);
    rows->push_back(std::move(row));
    if (fired.ok() && fired->outcome == Outcome::kGuardFailed) {
      // Turned down: by the next step the salesperson has learnt something
      // new about half of what the deal records.
      SimRow learnt{t + 1, d, 0, kNoEvent, {}};
      Learn(0.5, journey, &learnt);
      if (!learnt.set.empty()) {
        learnt.seq = (*seq)++;
        rows->push_back(std::move(learnt));
      }
    }
  }

  std::shared_ptr<const Machine> machine_;
  const Machine& m_;
  const SimConfig& c_;
  Random rng_;
  std::vector<std::vector<EventId>> forward_, other_;
};

// The rows as an event file: CSV with a column per attribute, or JSON Lines.
std::string FormatSimRows(const Machine& m, const std::vector<SimRow>& rows,
                          const std::string& format) {
  std::string out;
  auto deal_id = [](uint32_t d) { return absl::StrFormat("d%06u", d); };
  if (format == "csv") {
    out = "deal,event,time";
    for (int a = 0; a < m.num_attributes(); ++a) {
      absl::StrAppend(&out, ",", m.attribute(static_cast<AttributeId>(a)).name);
    }
    out += "\n";
    std::vector<std::string> cells(m.num_attributes());
    for (const SimRow& r : rows) {
      std::fill(cells.begin(), cells.end(), std::string());
      for (const auto& [a, v] : r.set) cells[a] = CsvCell(v);
      absl::StrAppend(&out, deal_id(r.deal), ",",
                      r.event == kNoEvent ? "" : m.event(r.event).id, ",", r.time);
      for (const std::string& c : cells) absl::StrAppend(&out, ",", c);
      out += "\n";
    }
    return out;
  }
  for (const SimRow& r : rows) {
    absl::StrAppend(&out, "{\"deal\": \"", deal_id(r.deal), "\"");
    if (r.event != kNoEvent) absl::StrAppend(&out, ", \"event\": \"", m.event(r.event).id, "\"");
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

int Simulate(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"deals", "seed", "start", "days", "conversion",
                                        "delay", "range", "format", "out"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("simulate takes one MACHINE");
  auto config = SimBasics(args->options);
  if (!config.ok()) return Usage(std::string(config.status().message()));
  auto machine = Machine::FromFile(args->positional[0]);
  if (!machine.ok()) return Fail(machine.status());
  const absl::Status per_stage = SimPerStage(**machine, args->options, &*config);
  if (!per_stage.ok()) return Usage(std::string(per_stage.message()));
  Simulator simulator(*machine, *config);
  std::vector<SimRow> rows;
  for (uint32_t d = 0; d < static_cast<uint32_t>(config->deals); ++d) {
    const absl::Status dealt = simulator.Deal(d, &rows);
    if (!dealt.ok()) return Fail(dealt);
  }
  std::sort(rows.begin(), rows.end(), [](const SimRow& a, const SimRow& b) {
    return std::tie(a.time, a.deal, a.seq) < std::tie(b.time, b.deal, b.seq);
  });
  const absl::Status written =
      WriteOut(*args, FormatSimRows(**machine, rows, config->format));
  if (!written.ok()) return Fail(written);
  std::fprintf(stderr, "simulate: %lld deals, %zu rows\n",
               static_cast<long long>(config->deals), rows.size());
  return kOk;
}

int Main(int argc, char** argv) {
  if (argc < 2) return Usage("no command");
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsageText, stdout);
    return kOk;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsageText, stdout);
      return kOk;
    }
  }
  const std::map<std::string, std::function<int(int, char**)>> commands = {
      {"validate", Validate}, {"render", Render}, {"simulate", Simulate},
      {"replay", Replay},     {"report", Report}};
  const auto it = commands.find(command);
  if (it == commands.end()) return Usage(absl::StrCat("unknown command \"", command, "\""));
  return it->second(argc, argv);
}

}  // namespace
}  // namespace cli
}  // namespace salescycle

int main(int argc, char** argv) { return salescycle::cli::Main(argc, argv); }
