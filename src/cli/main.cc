// salescycle: validate and draw sales cycles, replay event files through
// them, and report the funnel.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <csignal>
#include <cerrno>
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

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "salescycle/durable.h"
#include "salescycle/funnel.h"
#include "salescycle/funnel_state.h"
#include "salescycle/journey.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/render.h"
#include "salescycle/snapshot.h"
#include "salescycle/limits.h"
#include "salescycle/version.h"
#include "src/cli/common.h"
#include "src/cli/events.h"
#include "src/cli/rows.h"
#include "src/cli/simulate.h"
#include "src/file_util.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {
namespace {

constexpr char kUsageText[] = R"(usage: salescycle COMMAND [ARGS] [OPTIONS]

Sales cycles as state machines: validate and draw them, replay events
through them, report the funnel.

commands:
  validate MACHINE                 check a machine spec (.textproto or .json)
  render MACHINE [--format dot|mermaid] [--out FILE]
                                   draw the machine (default: dot)
  simulate MACHINE --deals N [--seed S] [--start DATE] [--days D]
           [--now TIME] [--conversion P | STAGE=P,... | --win-rate W]
           [--delay DAYS | STAGE=DAYS,...] [--skip P | STAGE=P,...]
           [--back P | STAGE=P,...]
           [--activities N] [--repeat P] [--later-entry P]
           [--range ATTRIBUTE=LO..HI,...] [--rows events|stages]
           [--format csv|jsonl] [--out FILE]
                                   a realistic stream of a sales team's
                                   rows: deals arrive over D days (default
                                   365) from DATE (default 2026-01-01), some
                                   created in later entry stages (P 0.15);
                                   each stay is log-normal around a median
                                   (a third of the stall limit, else 7
                                   days) with N activities (default 2); a
                                   deal then moves on along the funnel with
                                   a conversion calibrated to win W of the
                                   closed deals (default 0.22), skipping a
                                   stage (0.1) or going back (0.05) now and
                                   then, else is lost with a reason; won
                                   customers buy again (0.25). --rows stages
                                   writes it as a CRM's stage history.
                                   Numeric attributes are uniform in their
                                   --range (default: log-uniform, 1-100000)
  replay MACHINE EVENTS [--snapshot-out FILE [--cohort week|month|quarter]]
         [--history N] [--now TIME] [--strict]
         [--journal DIR [--sync write|none|MS]]
                                   apply an event file (CSV or JSONL) in
                                   time, firing the machine's timeouts
                                   between rows, and print what happened;
                                   the snapshot keeps the funnel (by cohort
                                   with --cohort) and N steps of history a
                                   deal (default 0). With --journal, into
                                   the durable pipeline in DIR (made if
                                   new, recovered if not), every change
                                   journaled, all synced before the exit;
                                   --sync write syncs each change, MS every
                                   MS milliseconds (default: none)
  report MACHINE EVENTS [options]  replay, then report the funnel
  report [MACHINE] STATE [--format ...] [--out FILE]
                                   report a saved funnel state (it carries
                                   its machine; give MACHINE when the
                                   machine uses named guards)
  merge STATE STATE... --out FILE [--machine MACHINE]
                                   the funnel states of shards (the same
                                   machine, captured with the same --now,
                                   --cohort, --value and --by) as one: its
                                   report is the report of all their deals
  report [MACHINE] SNAPSHOT [options]
                                   report from a snapshot: its saved funnel
                                   (the same report as from the events), or
                                   one replayed from its history (it
                                   carries its machine; give MACHINE when
                                   the machine uses named guards)

report options:
  --format table|json|csv|svg      default: table
  --svg FILE, --dot FILE           also write the funnel chart (SVG) and the
                                   machine (Graphviz DOT)
  --flow FILE                      also write the moves between stages
                                   (Graphviz DOT, edges by their moves)
  --cohort week|month|quarter      figures per week, month or quarter of addition
  --value ATTRIBUTE                the deal value attribute
  --by ATTRIBUTE                   the live deals by that attribute's value
                                   (a lead source, an owner, a region)
  --by-csv FILE                    also write that breakdown as CSV
  --in-order                       the table's reached and to-next count only
                                   cycles that skipped no stage of the line
  --closed-from DATE, --closed-to DATE
                                   the closes of [FROM, TO) only: each must
                                   start a period of --cohort (a Monday, a
                                   month's or a quarter's first day)
  --created-from DATE, --created-to DATE
                                   the deals added in [FROM, TO) only (their
                                   cohorts), bounds as above
  --state-out FILE                 also save the funnel state, to merge with
                                   other shards' (salescycle merge)
  --max-rejected SHARE             exit 4 when more than SHARE (0 to 1) of the
                                   steps were rejected (0: any); replay
                                   takes it too
  --now TIME                       as of TIME: later rows are not applied
                                   (and the count of them is printed),
                                   timeouts fire up to TIME, stalled deals
                                   are judged at TIME (default: the latest
                                   row)
  --out FILE                       write the report to FILE

Event files: CSV with a header (deal, time, event or stage or both, and
attribute columns) or JSON Lines ({"deal","event"|"stage","time",
"set":{...}}), chosen by the file's extension (.csv, .jsonl; without one,
as stdin "-", by whether the first line is a JSON object). A row names
an event, or a stage (a CRM's stage history: a move by stage; the deal's
own stage is an update), or neither (it only sets attributes). A deal's
first row creates it: in the initial stage, or in the stage it names,
which must be an entry stage. Times are epoch seconds or ISO 8601 (UTC
unless an offset is given). A bad row is reported with its line number and
skipped; --strict stops at the first one. --progress shows progress on
stderr (default: when stderr is a terminal).

exit codes:
  0  done
  1  failed: a bad machine, an unreadable or bad file, a failed write
  2  bad command line
  3  done, but some event rows were bad and skipped
  4  done, but more steps were rejected than --max-rejected allows
)";

int Validate(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("validate takes one MACHINE");
  auto m = Machine::FromFile(args->positional[0]);
  if (!m.ok()) return Fail(m.status());
  // "1 attribute", not "1 attributes": a one-attribute machine is common.
  auto count = [](size_t n, const char* noun) {
    return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
  };
  std::printf("%s: ok: %s v%u, %s, %s, %s, %s\n", args->positional[0].c_str(),
              (*m)->name().c_str(), (*m)->version(), count((*m)->num_stages(), "stage").c_str(),
              count((*m)->num_events(), "event").c_str(),
              count((*m)->num_attributes(), "attribute").c_str(),
              count((*m)->transitions().size(), "transition").c_str());
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


absl::StatusOr<EventReader> OpenEvents(const std::string& path,
                                       const Machine& machine,
                                       absl::string_view text) {
  // By the extension; without one (stdin, a FIFO), a JSON object first
  // is JSON Lines, anything else CSV.
  const bool csv_named = absl::EndsWith(path, ".csv");
  const bool jsonl_named = absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json");
  const auto format = jsonl_named || (!csv_named && absl::StartsWith(
                                                         absl::StripLeadingAsciiWhitespace(text), "{"))
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
template <typename P>
absl::Status ReplayText(const std::string& path, absl::string_view text, P* p, bool strict,
                        bool progress, std::optional<Timestamp> now, ReplayStats* stats) {
  SC_ASSIGN_OR_RETURN(EventReader reader, OpenEvents(path, p->machine(), text));
  ProgressLine line("replay", "rows", progress);
  constexpr int kShownBadRows = 10;
  SC_RETURN_IF_ERROR(ApplyRows(
      &reader, text.size(), p, now, stats,
      [&](int64_t line_number, absl::string_view bad) -> absl::Status {
        const std::string message = absl::StrCat(path, ":", line_number, ": ", bad);
        if (strict) return absl::InvalidArgumentError(absl::StrCat(message, " (--strict)"));
        if (stats->bad_rows <= kShownBadRows) std::fprintf(stderr, "%s\n", message.c_str());
        return absl::OkStatus();
      },
      [&](double done) { line.Update(stats->rows, done); }));
  line.Done(stats->rows);
  if (stats->bad_rows > kShownBadRows) {
    std::fprintf(stderr, "%s: %llu bad rows in all, %d shown\n", path.c_str(),
                 static_cast<unsigned long long>(stats->bad_rows), kShownBadRows);
  }
  return absl::OkStatus();
}

// The event file being read, for the SIGBUS handler's message: a mapped
// file that another process truncates (logrotate's copytruncate) raises
// SIGBUS where its lost pages are read. Set before the mapping is read.
char g_mapped_input[4096];

void NoteMappedInput(const std::string& path) {
  const size_t n = std::min(path.size(), sizeof g_mapped_input - 1);
  std::memcpy(g_mapped_input, path.data(), n);
  g_mapped_input[n] = '\0';
}

// Only async-signal-safe calls: write(2) and _exit(2).
extern "C" void OnMappedInputShrank(int) {
  const auto say = [](const char* text) {
    ssize_t ignored = ::write(2, text, std::strlen(text));
    (void)ignored;
  };
  say("salescycle: ");
  say(g_mapped_input[0] != '\0' ? g_mapped_input : "the input");
  say(": the file shrank while it was read (truncated by another process, as "
      "logrotate's copytruncate does): stopped there, the rows after it not read and "
      "nothing saved\n");
  ::_exit(1);
}

template <typename P>
absl::Status ReplayEvents(const std::string& path, P* p, bool strict, bool progress,
                          std::optional<Timestamp> now, ReplayStats* stats) {
  SC_ASSIGN_OR_RETURN(const internal::FileBytes file, internal::FileBytes::Open(path));
  NoteMappedInput(path);
  return ReplayText(path, file.view(), p, strict, progress, now, stats);
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



// Inputs are told apart by their first bytes, read once with the rest (a
// FIFO or a pipe has no second reading: sniffing it apart lost them).
bool IsSnapshot(absl::string_view input) { return absl::StartsWith(input, "SCPIPE\r\n"); }
bool IsFunnelState(absl::string_view input) { return absl::StartsWith(input, "SCFSTATE"); }

// A load's error, with the input's name in front (loading from bytes read
// once, the library cannot name the file).
template <typename T>
absl::StatusOr<T> Named(const std::string& path, absl::StatusOr<T> loaded) {
  if (loaded.ok()) return loaded;
  return absl::Status(loaded.status().code(), absl::StrCat(path, ": ", loaded.status().message()));
}

// --cohort; kNone without it. InvalidArgument is a usage error.
absl::StatusOr<Cohort> ParseCohort(Args& args) {
  if (!args.options.count("cohort")) return Cohort::kNone;
  const std::string& c = args.options["cohort"];
  if (c == "week") return Cohort::kWeek;
  if (c == "month") return Cohort::kMonth;
  if (c == "quarter") return Cohort::kQuarter;
  return absl::InvalidArgumentError(
      absl::StrCat("--cohort is week, month or quarter, not \"", c, "\""));
}

// The lines replay prints after the rows: totals, then deals by stage.
void PrintReplaySummary(const Pipeline& p, const ReplayStats& stats, double seconds,
                        std::optional<Timestamp> now) {
  std::printf("%s%llu rows: %llu accepted, %llu rejected, %llu bad rows; "
              "%llu deals; %llu timeouts fired (%.0f rows/s)\n",
              AsOf(now, stats).c_str(),
              static_cast<unsigned long long>(stats.rows),
              static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.rejected),
              static_cast<unsigned long long>(stats.bad_rows),
              static_cast<unsigned long long>(p.size()),
              static_cast<unsigned long long>(stats.timeouts),
              seconds > 0 ? static_cast<double>(stats.rows) / seconds : 0.0);
  const Machine& machine = p.machine();
  for (int s = 0; s < machine.num_stages(); ++s) {
    std::printf("  %-24s %8llu\n", machine.stage(static_cast<StageId>(s)).id.c_str(),
                static_cast<unsigned long long>(p.StageCount(static_cast<StageId>(s))));
  }
}

// --snapshot-out, never writing what loading refuses with its defaults.
absl::Status SaveReplaySnapshot(const Pipeline& p, const std::string& path) {
  const Limits defaults;
  const size_t history = p.options().history_limit;
  const absl::uint128 entries = absl::uint128(p.slot_count()) * history;
  if (entries > defaults.max_history_entries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not saved: ", p.slot_count(), " deals x --history ", history,
        " are past the ", defaults.max_history_entries,
        " history entries loading accepts (Limits::max_history_entries): give a smaller "
        "--history"));
  }
  return SavePipeline(p, SnapshotSink::File(path));
}

// What a row of the replay prints about the journal it opened.
std::string RecoveryLine(const DurablePipeline& db) {
  const RecoveryReport& r = db.recovery();
  if (r.created) return absl::StrCat("journal ", db.dir(), ": new\n");
  std::string line = absl::StrCat("journal ", db.dir(), ": recovered snapshot-", r.snapshot, " (",
                                  r.deals_in_snapshot, " deals) and ", r.changes_replayed,
                                  " journaled changes");
  if (r.torn_tail) {
    absl::StrAppend(&line, "; a torn tail of ", r.bytes_dropped, " bytes dropped (",
                    r.stopped_at, ")");
  }
  return line + "\n";
}

// --sync for --journal: none (the default), write (every write), or a
// number of milliseconds between syncs. A replay acknowledges nothing to
// anyone until it exits, and it syncs before it exits: syncing each batch
// would only make it slower (5k rows/s against 250k on the sample), so
// `write` is there to measure what a host that acknowledges each change
// pays.
absl::Status ParseSync(Args& args, DurableOptions* d) {
  d->sync = SyncPolicy::kNone;
  if (!args.options.count("sync")) return absl::OkStatus();
  const std::string& v = args.options["sync"];
  int ms;
  if (v == "write") {
    d->sync = SyncPolicy::kEveryWrite;
  } else if (v == "none") {
    d->sync = SyncPolicy::kNone;
  } else if (absl::SimpleAtoi(v, &ms) && ms >= 1 && ms <= 60000) {
    d->sync = SyncPolicy::kInterval;
    d->sync_interval_ms = ms;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--sync is write, none or the milliseconds between syncs (1 to 60000), not \"", v,
        "\""));
  }
  return absl::OkStatus();
}

int Replay(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2,
                        {"snapshot-out", "history", "now", "max-rejected", "cohort",
                         "journal", "sync"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 2) return Usage("replay takes MACHINE EVENTS");
  const auto max_rejected = MaxRejected(*args);
  if (!max_rejected.ok()) return Usage(std::string(max_rejected.status().message()));
  std::optional<Timestamp> now;
  if (args->options.count("now")) {
    auto parsed = ParseTime(args->options["now"]);
    if (!parsed.ok()) return Usage(absl::StrCat("--now: ", parsed.status().message()));
    now = *parsed;
  }
  const bool journaled = args->options.count("journal") > 0;
  DurableOptions durable;
  if (const absl::Status sync = ParseSync(*args, &durable); !sync.ok()) {
    return Usage(std::string(sync.message()));
  }
  if (args->options.count("sync") && !journaled) return Usage("--sync is for --journal");
  PipelineOptions options;
  // The snapshot keeps the funnel, so that `report SNAPSHOT` says what
  // `report MACHINE EVENTS` says; so does a journal's.
  options.analytics.enabled = args->options.count("snapshot-out") > 0 || journaled;
  const auto cohort = ParseCohort(*args);
  if (!cohort.ok()) return Usage(std::string(cohort.status().message()));
  if (*cohort != Cohort::kNone && !options.analytics.enabled) {
    return Usage("--cohort is kept in the snapshot: give --snapshot-out");
  }
  options.analytics.cohort = *cohort;
  if (args->options.count("history")) {
    int64_t history;
    if (!absl::SimpleAtoi(args->options["history"], &history) || history < 0 ||
        history > static_cast<int64_t>(kMaxHistoryLimit)) {
      return Usage(absl::StrCat("--history takes 0 to ", kMaxHistoryLimit));
    }
    options.history_limit = static_cast<size_t>(history);
  }
  auto m = Machine::FromFile(args->positional[0]);
  if (!m.ok()) return Fail(m.status());
  ReplayStats stats;
  const auto start = std::chrono::steady_clock::now();
  absl::Status done;
  const auto finish = [&](const Pipeline& p) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    PrintReplaySummary(p, stats, seconds, now);
    if (args->options.count("snapshot-out")) {
      done = SaveReplaySnapshot(p, args->options["snapshot-out"]);
    }
  };
  if (journaled) {
    // Into a durable pipeline: what the directory holds, then the rows,
    // each journaled (a snapshot taken then keeps its own options).
    durable.pipeline = options;
    auto db = DurablePipeline::Open(*m, args->options["journal"], durable);
    if (!db.ok()) return Fail(db.status());
    std::printf("%s", RecoveryLine(**db).c_str());
    const absl::Status replayed = ReplayEvents(args->positional[1], db->get(), args->strict,
                                               ShowProgress(*args), now, &stats);
    if (!replayed.ok()) return Fail(replayed);
    done = (*db)->Read(finish);
    if (done.ok()) done = (*db)->Sync();
  } else {
    auto p = Pipeline::Create(*m, options);
    if (!p.ok()) return Fail(p.status());
    const absl::Status replayed = ReplayEvents(args->positional[1], &*p, args->strict,
                                               ShowProgress(*args), now, &stats);
    if (!replayed.ok()) return Fail(replayed);
    finish(*p);
  }
  if (!done.ok()) return Fail(done);
  return CheckRejected(*max_rejected, stats.rejected, stats.accepted,
                       stats.bad_rows > 0 ? kBadRows : kOk);
}

// What `report`'s options ask for; InvalidArgument is a usage error.
struct ReportRequest {
  std::string format = "table";
  PipelineOptions options;
  FunnelOptions funnel;
  std::optional<double> max_rejected;
};

absl::StatusOr<ReportRequest> ParseReportOptions(Args& args) {
  ReportRequest r;
  SC_ASSIGN_OR_RETURN(r.max_rejected, MaxRejected(args));
  if (args.options.count("format")) r.format = args.options["format"];
  if (r.format != "table" && r.format != "json" && r.format != "csv" &&
      r.format != "svg") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format is table, json, csv or svg, not \"", r.format, "\""));
  }
  r.options.analytics.enabled = true;
  SC_ASSIGN_OR_RETURN(r.options.analytics.cohort, ParseCohort(args));
  if (args.options.count("value")) r.funnel.value_attribute = args.options["value"];
  if (args.options.count("by")) r.funnel.breakdown_attribute = args.options["by"];
  if (args.options.count("by-csv") && !args.options.count("by")) {
    return absl::InvalidArgumentError("--by-csv writes the breakdown --by ATTRIBUTE asks for");
  }
  for (const auto& [flag, bound] :
       {std::pair<const char*, std::optional<Timestamp>*>{"now", &r.funnel.now},
        {"closed-from", &r.funnel.closed_from},
        {"closed-to", &r.funnel.closed_to},
        {"created-from", &r.funnel.created_from},
        {"created-to", &r.funnel.created_to}}) {
    if (!args.options.count(flag)) continue;
    auto time = ParseTime(args.options[flag]);
    if (!time.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", time.status().message()));
    }
    *bound = *time;
  }
  return r;
}

// The pipeline to report on: a snapshot (with or without MACHINE), or
// MACHINE EVENTS replayed. `*code` becomes kBadRows for bad rows.
absl::StatusOr<Pipeline> OpenForReport(const Args& args, const ReportRequest& r,
                                       absl::string_view input, int* code) {
  const auto& pos = args.positional;
  const bool snapshot = IsSnapshot(input);
  if (pos.size() == 1) {
    return Named(pos[0], LoadPipeline(SnapshotSource::Bytes(input)));  // it carries its machine
  }
  SC_ASSIGN_OR_RETURN(auto m, Machine::FromFile(pos[0]));
  if (snapshot) return Named(pos[1], LoadPipeline(SnapshotSource::Bytes(input), m));
  SC_ASSIGN_OR_RETURN(Pipeline p, Pipeline::Create(m, r.options));
  ReplayStats stats;
  SC_RETURN_IF_ERROR(ReplayText(pos[1], input, &p, args.strict, ShowProgress(args),
                                r.funnel.now, &stats));
  if (stats.bad_rows > 0) *code = kBadRows;
  // The report says "as of" itself; what --now left out goes beside it.
  if (r.funnel.now) std::fprintf(stderr, "%s", AsOf(r.funnel.now, stats).c_str());
  return p;
}

// The report to --out (or stdout), and the pictures beside it, in the same
// run.
absl::Status WriteReport(Args& args, const std::string& format,
                         const FunnelReport& report, const Machine& machine) {
  FunnelTableOptions table;
  table.in_order = args.switches.count("in-order") > 0;
  const std::string text = format == "json"  ? FunnelJson(report)
                           : format == "csv" ? FunnelCsv(report)
                           : format == "svg" ? FunnelSvg(report)
                                             : FunnelTable(report, table);
  SC_RETURN_IF_ERROR(WriteOut(args, text));
  for (const auto& [flag, picture] :
       {std::pair<const char*, std::function<std::string()>>{
            "svg", [&] { return FunnelSvg(report); }},
        {"dot", [&] { return MachineToDot(machine); }},
        {"flow", [&] { return FunnelFlowToDot(report); }},
        {"by-csv", [&] { return FunnelBreakdownCsv(report); }}}) {
    if (!args.options.count(flag)) continue;
    Args to_file;
    to_file.options["out"] = args.options[flag];
    SC_RETURN_IF_ERROR(WriteOut(to_file, picture()));
  }
  return absl::OkStatus();
}

// A saved funnel state, read with the file's name in any error, onto
// `machine` (null: the one it carries).
absl::StatusOr<FunnelState> ParseFunnelState(const std::string& path, absl::string_view bytes,
                                             std::shared_ptr<const Machine> machine) {
  auto state = machine == nullptr ? FunnelState::Parse(bytes)
                                  : FunnelState::Parse(bytes, std::move(machine));
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrCat(path, ": ", state.status().message()));
  }
  return state;
}

absl::StatusOr<FunnelState> ReadFunnelState(const std::string& path,
                                            std::shared_ptr<const Machine> machine) {
  SC_ASSIGN_OR_RETURN(const std::string bytes, internal::ReadFile(path));
  return ParseFunnelState(path, bytes, std::move(machine));
}

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  Args to_file;
  to_file.options["out"] = path;
  return WriteOut(to_file, bytes);
}

// `report STATE`: the state's own report; what it was captured with is
// fixed in it.
int ReportState(Args& args, const ReportRequest& request, absl::string_view input) {
  for (const char* fixed :
       {"cohort", "value", "by", "now", "closed-from", "closed-to", "created-from", "created-to",
        "state-out"}) {
    if (args.options.count(fixed)) {
      return Usage(absl::StrCat("--", fixed, " was fixed when the state was captured "
                                "(report MACHINE EVENTS --state-out FILE takes it)"));
    }
  }
  std::shared_ptr<const Machine> machine;
  if (args.positional.size() == 2) {
    auto m = Machine::FromFile(args.positional[0]);
    if (!m.ok()) return Fail(m.status());
    machine = *m;
  }
  auto state = ParseFunnelState(args.positional.back(), input, machine);
  if (!state.ok()) return Fail(state.status());
  const FunnelReport report = FunnelOf(*state);
  const absl::Status written = WriteReport(args, request.format, report, state->machine());
  if (!written.ok()) return Fail(written);
  return CheckRejected(request.max_rejected, report.total.rejected_steps,
                       report.total.accepted_steps, kOk);
}

// `merge STATE STATE... --out FILE`: the states of shards as one.
int Merge(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"out", "machine"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() < 2) return Usage("merge takes two or more STATE files");
  if (!args->options.count("out")) return Usage("merge needs --out FILE");
  std::shared_ptr<const Machine> machine;
  if (args->options.count("machine")) {
    auto m = Machine::FromFile(args->options["machine"]);
    if (!m.ok()) return Fail(m.status());
    machine = *m;
  }
  auto merged = ReadFunnelState(args->positional[0], machine);
  if (!merged.ok()) return Fail(merged.status());
  for (size_t i = 1; i < args->positional.size(); ++i) {
    const std::string& path = args->positional[i];
    auto state = ReadFunnelState(path, machine);
    if (!state.ok()) return Fail(state.status());
    const absl::Status status = merged->Merge(*state);
    if (!status.ok()) {
      return Fail(absl::Status(status.code(), absl::StrCat(path, ": ", status.message())));
    }
  }
  const absl::Status written = WriteOut(*args, merged->Serialize());
  return written.ok() ? kOk : Fail(written);
}

int Report(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, 2, {"format", "cohort", "value", "now", "out", "svg",
                                        "dot", "flow", "max-rejected", "by", "by-csv",
                                        "closed-from", "closed-to", "created-from", "created-to",
                                        "state-out", "in-order!"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  const auto& pos = args->positional;
  if (pos.empty() || pos.size() > 2) {
    return Usage("report takes MACHINE EVENTS, or [MACHINE] SNAPSHOT, or STATE");
  }
  const auto request = ParseReportOptions(*args);
  if (!request.ok()) return Usage(std::string(request.status().message()));
  // Read once, whatever it turns out to be (a missing file says so here).
  auto input = internal::FileBytes::Open(pos.back());
  if (!input.ok()) return Fail(input.status());
  NoteMappedInput(pos.back());
  if (IsFunnelState(input->view())) return ReportState(*args, *request, input->view());
  const bool from_snapshot = IsSnapshot(input->view());
  if (pos.size() == 1 && !from_snapshot) {
    return Usage(absl::StrCat(pos[0], " is not a snapshot: give MACHINE EVENTS"));
  }
  int code = kOk;
  auto p = OpenForReport(*args, *request, input->view(), &code);
  if (!p.ok()) return Fail(p.status());
  const Cohort wanted = request->options.analytics.cohort;
  if (from_snapshot && wanted != Cohort::kNone &&
      (!p->options().analytics.enabled || p->options().analytics.cohort != wanted)) {
    return Usage(absl::StrCat(
        "--cohort ", args->options["cohort"],
        ": the snapshot's funnel was not kept by it (replay --snapshot-out --cohort ",
        args->options["cohort"], " keeps it), or give MACHINE EVENTS"));
  }
  auto state = CaptureFunnel(*p, request->funnel);
  if (!state.ok()) return Fail(state.status());
  if (args->options.count("state-out")) {
    const absl::Status saved = WriteFile(args->options["state-out"], state->Serialize());
    if (!saved.ok()) return Fail(saved);
  }
  const FunnelReport report = FunnelOf(*state);
  const absl::Status written = WriteReport(*args, request->format, report, p->machine());
  if (!written.ok()) return Fail(written);
  return CheckRejected(request->max_rejected, report.total.rejected_steps,
                       report.total.accepted_steps, code);
}

// The sections of kUsageText after the commands: from `title` (a line of
// its own) to the next blank line followed by an unindented one.
std::string UsageSection(absl::string_view title) {
  const absl::string_view text = kUsageText;
  const size_t start = text.find(absl::StrCat("\n", title, "\n"));
  if (start == absl::string_view::npos) return "";
  size_t end = start + 1;
  while (true) {
    end = text.find("\n\n", end);
    if (end == absl::string_view::npos) return std::string(text.substr(start + 1));
    if (end + 2 < text.size() && text[end + 2] != ' ') break;
    end += 2;
  }
  return std::string(text.substr(start + 1, end - start));
}

// `salescycle CMD --help`: CMD's own lines of the help (its usage blocks),
// then the sections that concern it, and the exit codes.
std::string CommandHelp(const std::string& command) {
  std::string out = "usage:\n";
  bool in_block = false;
  for (absl::string_view line : absl::StrSplit(kUsageText, '\n')) {
    // A command's block starts "  CMD" and goes on with deeper indentation.
    const bool starts_block = absl::StartsWith(line, "  ") && line.size() > 2 && line[2] != ' ';
    if (starts_block) {
      absl::string_view rest = line.substr(2);
      in_block = absl::ConsumePrefix(&rest, command) && (rest.empty() || rest[0] == ' ');
    } else if (!absl::StartsWith(line, "   ")) {
      in_block = false;
    }
    if (in_block) absl::StrAppend(&out, line, "\n");
  }
  if (command == "report") absl::StrAppend(&out, "\n", UsageSection("report options:"));
  if (command == "replay" || command == "report") {
    absl::StrAppend(&out, "\n", UsageSection("Event files: CSV with a header (deal, time, event or stage or both, and"));
  }
  absl::StrAppend(&out, "\n", UsageSection("exit codes:"));
  return out;
}

int Main(int argc, char** argv) {
  struct sigaction shrank = {};
  shrank.sa_handler = OnMappedInputShrank;
  ::sigaction(SIGBUS, &shrank, nullptr);
  if (argc < 2) return Usage("no command");
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsageText, stdout);
    return kOk;
  }
  if (command == "--version") {
    std::printf("salescycle %s\n", SC_VERSION_STRING);
    return kOk;
  }
  const std::map<std::string, std::function<int(int, char**)>> commands = {
      {"validate", Validate}, {"render", Render}, {"simulate", Simulate},
      {"replay", Replay},     {"report", Report},     {"merge", Merge}};
  const auto it = commands.find(command);
  if (it == commands.end()) return Usage(absl::StrCat("unknown command \"", command, "\""));
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;  // what follows is positional
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(CommandHelp(command).c_str(), stdout);
      return kOk;
    }
  }
  return it->second(argc, argv);
}

}  // namespace
}  // namespace cli
}  // namespace salescycle

int main(int argc, char** argv) { return salescycle::cli::Main(argc, argv); }
