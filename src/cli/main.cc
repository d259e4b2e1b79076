// salescycle: validate and draw sales cycles, replay event files through
// them, and report the funnel.
#include <unistd.h>

#include <chrono>
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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "salescycle/funnel.h"
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
  replay MACHINE EVENTS [--snapshot-out FILE] [--history N] [--strict]
                                   apply an event file (CSV or JSONL) and
                                   print what happened
  report MACHINE EVENTS [options]  replay, then report the funnel
  report [MACHINE] SNAPSHOT [options]
                                   report from a snapshot with history

report options:
  --format table|json|csv          default: table
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
};

// Applies an event file to `p` in batches (a row that sets attributes
// flushes the batch first, so that every event sees the attributes of the
// rows before it). Bad rows are reported on stderr with their line; with
// `strict` the first one is an error.
absl::Status ReplayEvents(const std::string& path, Pipeline* p, bool strict,
                          bool progress, ReplayStats* stats) {
  SC_ASSIGN_OR_RETURN(const std::string text, internal::ReadFile(path));
  const auto format = absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json")
                          ? EventReader::Format::kJsonl
                          : EventReader::Format::kCsv;
  auto reader = EventReader::Create(p->machine(), text, format);
  if (!reader.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: ", reader.status().message()));
  }
  std::vector<EventRecord> batch;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    SC_ASSIGN_OR_RETURN(const BatchResult r, p->Apply(batch));
    stats->accepted += r.accepted;
    stats->rejected += r.rejected;
    batch.clear();
    return absl::OkStatus();
  };
  constexpr int kShownBadRows = 10;
  auto last_shown = std::chrono::steady_clock::now();
  EventRow row;
  while (true) {
    auto more = reader->Next(&row);
    if (more.ok() && !*more) break;
    absl::Status bad = more.status();
    DealIndex deal = kNoDeal;
    if (bad.ok()) {
      ++stats->rows;
      auto found = p->FindByKey(row.deal);
      if (found.ok()) {
        deal = *found;
      } else {
        auto added = p->AddWithKey(row.deal, row.time);
        if (!added.ok()) return added.status();
        deal = *added;
        ++stats->added;
      }
      if (!row.set.empty()) {
        SC_RETURN_IF_ERROR(flush());
        for (auto& [attribute, value] : row.set) {
          if (bad.ok()) bad = p->Set(deal, attribute, std::move(value));
        }
      }
      if (bad.ok() && row.event != kNoEvent) {
        batch.push_back(EventRecord{deal, row.event, row.time});
        if (batch.size() >= (1 << 16)) SC_RETURN_IF_ERROR(flush());
      }
    }
    if (!bad.ok()) {
      if (!more.ok()) ++stats->rows;
      ++stats->bad_rows;
      const std::string message =
          absl::StrCat(path, ":", reader->line(), ": ", bad.message());
      if (strict) {
        SC_RETURN_IF_ERROR(flush());
        return absl::InvalidArgumentError(absl::StrCat(message, " (--strict)"));
      }
      if (stats->bad_rows <= kShownBadRows) {
        std::fprintf(stderr, "%s\n", message.c_str());
      }
    }
    if (progress && (stats->rows & 0xFFFF) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_shown > std::chrono::milliseconds(100)) {
        last_shown = now;
        std::fprintf(stderr, "\rreplay: %llu rows (%.0f%%)",
                     static_cast<unsigned long long>(stats->rows),
                     100.0 * static_cast<double>(reader->offset()) /
                         static_cast<double>(std::max<size_t>(text.size(), 1)));
      }
    }
  }
  SC_RETURN_IF_ERROR(flush());
  if (progress) {
    std::fprintf(stderr, "\rreplay: %llu rows (100%%)\n",
                 static_cast<unsigned long long>(stats->rows));
  }
  if (stats->bad_rows > kShownBadRows) {
    std::fprintf(stderr, "%s: %llu bad rows in all, %d shown\n", path.c_str(),
                 static_cast<unsigned long long>(stats->bad_rows), kShownBadRows);
  }
  return absl::OkStatus();
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
  auto args = ParseArgs(argc, argv, 2, {"snapshot-out", "history"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 2) return Usage("replay takes MACHINE EVENTS");
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
  const absl::Status replayed =
      ReplayEvents(args->positional[1], &*p, args->strict, ShowProgress(*args), &stats);
  if (!replayed.ok()) return Fail(replayed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu rows: %llu events accepted, %llu rejected, %llu bad rows; "
              "%llu deals (%.0f rows/s)\n",
              static_cast<unsigned long long>(stats.rows),
              static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.rejected),
              static_cast<unsigned long long>(stats.bad_rows),
              static_cast<unsigned long long>(p->size()),
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
  auto args = ParseArgs(argc, argv, 2, {"format", "cohort", "value", "now", "out"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  const auto& pos = args->positional;
  if (pos.empty() || pos.size() > 2) {
    return Usage("report takes MACHINE EVENTS, or [MACHINE] SNAPSHOT");
  }
  const std::string format = args->options.count("format") ? args->options["format"] : "table";
  if (format != "table" && format != "json" && format != "csv") {
    return Usage(absl::StrCat("--format is table, json or csv, not \"", format, "\""));
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
  if (pos.size() == 1 || IsSnapshot(pos.back())) {
    if (pos.size() == 1) {
      return Fail(absl::InvalidArgumentError(
          "a snapshot does not carry its machine spec: give MACHINE SNAPSHOT"));
    }
    if (options.analytics.cohort != Cohort::kNone) {
      return Usage("--cohort needs MACHINE EVENTS (a snapshot's history has no "
                   "additions to group by)");
    }
  }
  auto m = Machine::FromFile(pos[0]);
  if (!m.ok()) return Fail(m.status());
  absl::StatusOr<Pipeline> p = absl::UnknownError("");
  int code = kOk;
  if (IsSnapshot(pos[1])) {
    p = LoadPipeline(SnapshotSource::File(pos[1]), *m);
    if (!p.ok()) return Fail(p.status());
  } else {
    p = Pipeline::Create(*m, options);
    if (!p.ok()) return Fail(p.status());
    ReplayStats stats;
    const absl::Status replayed =
        ReplayEvents(pos[1], &*p, args->strict, ShowProgress(*args), &stats);
    if (!replayed.ok()) return Fail(replayed);
    if (stats.bad_rows > 0) code = kBadRows;
  }
  auto report = FunnelOf(*p, funnel);
  if (!report.ok()) return Fail(report.status());
  const std::string text = format == "json"  ? FunnelJson(*report)
                           : format == "csv" ? FunnelCsv(*report)
                                             : FunnelTable(*report);
  const absl::Status written = WriteOut(*args, text);
  return written.ok() ? code : Fail(written);
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
      {"validate", Validate}, {"render", Render}, {"replay", Replay},
      {"report", Report}};
  const auto it = commands.find(command);
  if (it == commands.end()) return Usage(absl::StrCat("unknown command \"", command, "\""));
  return it->second(argc, argv);
}

}  // namespace
}  // namespace cli
}  // namespace salescycle

int main(int argc, char** argv) { return salescycle::cli::Main(argc, argv); }
