// salescycle_replay: replays a cycle9 event stream written by
// ../shared/bench/gen_workload.py (SCWL0001) and prints, as one JSON object,
// the generator's summary (same keys, same values: the proof that the work
// was done) with the speed of the replay and of a raw table machine doing
// the same work in the same run.
//
//   salescycle_replay WORKLOAD.scwl [--api cpp|c] [--batch N] [--threads N]
//                     [--repetitions N] [--machines DIR]
//
//   --api cpp|c      through Pipeline (default) or the C API batch call
//   --batch N        records a call (default: the whole stream in one call)
//   --threads N      Pipeline::ApplyParallel / sc_pipeline_apply_parallel
//                    with N threads (default 1: Apply)
//   --repetitions N  runs of each, the medians reported (default 5)
//   --machines DIR   where cycle9.textproto and cycle9_guarded.textproto are
//
// Only the replay is timed: each repetition starts from a fresh pipeline of
// the stream's journeys (budgets set for the guarded variant). The raw
// baseline is the speed limit of a runtime-configured table machine: a
// uint8_t next[9][12] table filled from the machine, a uint8_t stage[P]
// array, and for the guarded variant the same budget check on an int64
// column. Its final state must equal the library's, or the tool fails.
//
// Exit codes: 0 done; 1 the stream or machine could not be read or the
// replay went wrong; 2 bad usage.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/workload.h"
#include "salescycle/c.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace salescycle {
namespace {

struct Options {
  std::string workload;
  bool c_api = false;
  size_t batch = 0;  // 0: all at once
  int threads = 1;
  int repetitions = 5;
  std::string machines = SC_MACHINES_DIR;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "salescycle_replay: %s\n"
               "usage: salescycle_replay WORKLOAD.scwl [--api cpp|c] "
               "[--batch N] [--threads N] [--repetitions N] [--machines DIR]\n",
               why);
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        *error = absl::StrCat(name, " needs a value");
        return nullptr;
      }
      return argv[++i];
    };
    auto number = [&](const char* name, int64_t lo, int64_t hi, auto* out) {
      const char* v = value(name);
      int64_t n;
      if (v == nullptr) return false;
      if (!absl::SimpleAtoi(v, &n) || n < lo || n > hi) {
        *error = absl::StrCat(name, " takes a number from ", lo, " to ", hi,
                              ", not \"", v, "\"");
        return false;
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(n);
      return true;
    };
    if (arg == "--api") {
      const char* v = value("--api");
      if (v == nullptr) return false;
      if (std::strcmp(v, "cpp") != 0 && std::strcmp(v, "c") != 0) {
        *error = absl::StrCat("--api is cpp or c, not \"", v, "\"");
        return false;
      }
      o->c_api = std::strcmp(v, "c") == 0;
    } else if (arg == "--batch") {
      if (!number("--batch", 1, int64_t{1} << 40, &o->batch)) return false;
    } else if (arg == "--threads") {
      if (!number("--threads", 1, Pipeline::kMaxApplyThreads, &o->threads)) {
        return false;
      }
    } else if (arg == "--repetitions") {
      if (!number("--repetitions", 1, 1000, &o->repetitions)) return false;
    } else if (arg == "--machines") {
      const char* v = value("--machines");
      if (v == nullptr) return false;
      o->machines = v;
    } else if (!arg.empty() && arg[0] == '-') {
      *error = absl::StrCat("unknown option ", arg);
      return false;
    } else if (o->workload.empty()) {
      o->workload = arg;
    } else {
      *error = "give one workload file";
      return false;
    }
  }
  if (o->workload.empty()) *error = "no workload file";
  return error->empty();
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2]
                      : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The batches of one replay: the whole stream, or runs of `batch` records.
// The threads reported are the most that any batch ran on.
template <typename ApplyFn>
absl::StatusOr<BatchResult> ForEachBatch(
    const std::vector<EventRecord>& records, size_t batch, ApplyFn&& apply) {
  const size_t step = batch == 0 ? std::max<size_t>(records.size(), 1) : batch;
  BatchResult total;
  for (size_t at = 0; at < records.size(); at += step) {
    const size_t n = std::min(step, records.size() - at);
    auto result = apply(absl::MakeConstSpan(records.data() + at, n));
    if (!result.ok()) return result.status();
    total.accepted += result->accepted;
    total.rejected += result->rejected;
    total.threads = std::max(total.threads, result->threads);
  }
  return total;
}

struct Replay {
  double seconds = 0;
  uint64_t accepted = 0;
  int threads = 1;  // that ran
  std::vector<uint8_t> final_stages;  // per journey
};

// ---- the library, through the C++ API

absl::StatusOr<Replay> ReplayCpp(const std::shared_ptr<const Machine>& m,
                                 const bench::Workload& w, const Options& o) {
  PipelineOptions options;
  options.expected_deals = w.journeys;
  auto pipeline = Pipeline::Create(m, options);
  if (!pipeline.ok()) return pipeline.status();
  for (uint32_t j = 0; j < w.journeys; ++j) {
    if (auto d = pipeline->Add(0); !d.ok()) return d.status();
    if (w.guarded) {
      if (auto s = pipeline->Set(j, 0, AttributeValue::Int64(bench::GuardedBudget(j)));
          !s.ok()) {
        return s;
      }
    }
  }
  Replay r;
  const auto start = std::chrono::steady_clock::now();
  auto accepted = ForEachBatch(
      w.records, o.batch,
      [&](absl::Span<const EventRecord> batch) {
        return o.threads == 1 ? pipeline->Apply(batch)
                              : pipeline->ApplyParallel(batch, o.threads);
      });
  r.seconds = Seconds(start);
  if (!accepted.ok()) return accepted.status();
  r.accepted = accepted->accepted;
  r.threads = accepted->threads;
  for (uint32_t j = 0; j < w.journeys; ++j) {
    r.final_stages.push_back(static_cast<uint8_t>(pipeline->stage(j)));
  }
  return r;
}

// ---- the library, through the C API

absl::Status CStatus(sc_status status, char* message) {
  absl::Status s(static_cast<absl::StatusCode>(status),
                 message != nullptr ? message : "");
  sc_free(message);
  return s;
}

absl::StatusOr<Replay> ReplayC(const std::string& machine_path,
                               const bench::Workload& w, const Options& o) {
  char* err = nullptr;
  sc_machine_t* m = nullptr;
  sc_status s = sc_machine_from_file(&m, machine_path.c_str(), nullptr, &err);
  if (s != SC_OK) return CStatus(s, err);
  std::unique_ptr<sc_machine_t, void (*)(sc_machine_t*)> machine(m, sc_machine_destroy);
  std::unique_ptr<sc_options_t, void (*)(sc_options_t*)> options(
      sc_options_create(), sc_options_destroy);
  sc_pipeline_t* p = nullptr;
  if ((s = sc_options_set_expected_deals(options.get(), w.journeys, &err)) != SC_OK ||
      (s = sc_pipeline_create(&p, m, options.get(), &err)) != SC_OK) {
    return CStatus(s, err);
  }
  std::unique_ptr<sc_pipeline_t, void (*)(sc_pipeline_t*)> pipeline(p, sc_pipeline_destroy);
  for (uint32_t j = 0; j < w.journeys; ++j) {
    uint32_t deal;
    if ((s = sc_pipeline_add(&deal, p, 0, &err)) != SC_OK ||
        (w.guarded &&
         (s = sc_pipeline_set_int64(p, j, 0, bench::GuardedBudget(j), &err)) != SC_OK)) {
      return CStatus(s, err);
    }
  }
  Replay r;
  const auto start = std::chrono::steady_clock::now();
  auto accepted = ForEachBatch(
      w.records, o.batch,
      [&](absl::Span<const EventRecord> batch) -> absl::StatusOr<BatchResult> {
        BatchResult result;
        uint32_t threads = 1;
        const auto* records = reinterpret_cast<const sc_event_record*>(batch.data());
        const sc_status st =
            o.threads == 1
                ? sc_pipeline_apply(&result.accepted, &result.rejected, p,
                                    records, batch.size(), &err)
                : sc_pipeline_apply_parallel(
                      &result.accepted, &result.rejected, &threads, p, records,
                      batch.size(), static_cast<uint32_t>(o.threads), &err);
        if (st != SC_OK) return CStatus(st, err);
        result.threads = static_cast<int>(threads);
        return result;
      });
  r.seconds = Seconds(start);
  if (!accepted.ok()) return accepted.status();
  r.accepted = accepted->accepted;
  r.threads = accepted->threads;
  for (uint32_t j = 0; j < w.journeys; ++j) {
    uint32_t stage;
    if ((s = sc_pipeline_deal_stage(&stage, nullptr, p, j, &err)) != SC_OK) {
      return CStatus(s, err);
    }
    r.final_stages.push_back(static_cast<uint8_t>(stage));
  }
  return r;
}

// ---- the raw baseline: a runtime-filled table and a byte per journey

Replay ReplayBaseline(const Machine& m, const bench::Workload& w) {
  constexpr uint8_t kNone = 0xFF;
  uint8_t next[9][12];
  bool guarded_cell[9][12] = {};
  std::memset(next, kNone, sizeof next);
  for (const TransitionInfo& t : m.transitions()) {
    if (t.to == kNoStage || t.event == kNoEvent) continue;  // none in cycle9
    next[t.from][t.event] = static_cast<uint8_t>(t.to);
    guarded_cell[t.from][t.event] = !t.guard.empty();
  }
  std::vector<uint8_t> stage(w.journeys, static_cast<uint8_t>(m.initial_stage()));
  std::vector<int64_t> budget(w.guarded ? w.journeys : 0);
  for (uint32_t j = 0; j < budget.size(); ++j) budget[j] = bench::GuardedBudget(j);
  Replay r;
  uint64_t accepted = 0;
  const auto start = std::chrono::steady_clock::now();
  if (w.guarded) {
    for (const EventRecord& e : w.records) {
      const uint8_t s = stage[e.deal];
      const uint8_t to = next[s][e.event];
      if (to != kNone && !(guarded_cell[s][e.event] && budget[e.deal] < 1000)) {
        stage[e.deal] = to;
        ++accepted;
      }
    }
  } else {
    for (const EventRecord& e : w.records) {
      const uint8_t to = next[stage[e.deal]][e.event];
      if (to != kNone) {
        stage[e.deal] = to;
        ++accepted;
      }
    }
  }
  r.seconds = Seconds(start);
  r.accepted = accepted;
  r.final_stages = std::move(stage);
  return r;
}

std::string Summary(const Machine& m, const bench::Workload& w,
                    const Replay& r) {
  uint64_t hash = 0xCBF29CE484222325ull;
  std::vector<uint64_t> histogram(m.num_stages(), 0);
  for (uint8_t s : r.final_stages) {
    hash = (hash ^ s) * 0x100000001B3ull;
    ++histogram[s];
  }
  std::string out = absl::StrCat(
      "{\n  \"machine\": \"", w.guarded ? "cycle9-guarded" : "cycle9",
      "\",\n  \"events\": ", w.records.size(), ",\n  \"journeys\": ", w.journeys,
      ",\n  \"seed\": ", w.seed, ",\n  \"accepted\": ", r.accepted,
      ",\n  \"rejected\": ", w.records.size() - r.accepted,
      ",\n  \"final_stage_histogram\": {");
  for (int s = 0; s < m.num_stages(); ++s) {
    absl::StrAppend(&out, s ? "," : "", "\n    \"", m.stage(s).id, "\": ",
                    histogram[s]);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  absl::StrAppend(&out, "\n  },\n  \"final_state_fnv1a64\": \"", hex, "\"");
  return out;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "salescycle_replay: %s\n", status.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  Options o;
  std::string error;
  if (!ParseArgs(argc, argv, &o, &error)) return Usage(error.c_str());
  auto workload = bench::ReadWorkload(o.workload);
  if (!workload.ok()) return Fail(workload.status());
  const bench::Workload& w = *workload;
  const std::string machine_path = absl::StrCat(
      o.machines, w.guarded ? "/cycle9_guarded.textproto" : "/cycle9.textproto");
  auto machine = Machine::FromFile(machine_path);
  if (!machine.ok()) return Fail(machine.status());
  const Machine& m = **machine;
  if (m.num_stages() != 9 || m.num_events() != 12) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        machine_path, ": not cycle9 (", m.num_stages(), " stages, ",
        m.num_events(), " events)")));
  }

  std::vector<double> library, baseline;
  Replay last, raw;
  for (int i = 0; i < o.repetitions; ++i) {
    auto r = o.c_api ? ReplayC(machine_path, w, o) : ReplayCpp(*machine, w, o);
    if (!r.ok()) return Fail(r.status());
    last = *std::move(r);
    library.push_back(last.seconds);
    raw = ReplayBaseline(m, w);
    baseline.push_back(raw.seconds);
  }
  if (raw.final_stages != last.final_stages || raw.accepted != last.accepted) {
    return Fail(absl::InternalError(
        "the library and the raw baseline disagree on the final state"));
  }
  const double events = static_cast<double>(w.records.size());
  const double lib_s = Median(library), raw_s = Median(baseline);
  std::printf(
      "%s,\n  \"api\": \"%s\",\n  \"threads_requested\": %d,\n"
      "  \"threads\": %d,\n  \"batch\": %zu,\n"
      "  \"repetitions\": %d,\n  \"events_per_second\": %.0f,\n"
      "  \"ns_per_event\": %.3f,\n  \"baseline_events_per_second\": %.0f,\n"
      "  \"baseline_ns_per_event\": %.3f,\n  \"ratio_to_baseline\": %.3f\n}\n",
      Summary(m, w, last).c_str(), o.c_api ? "c" : "cpp", o.threads, last.threads,
      o.batch == 0 ? w.records.size() : o.batch, o.repetitions,
      events / lib_s, lib_s / events * 1e9, events / raw_s,
      raw_s / events * 1e9, raw_s / lib_s);
  return 0;
}

}  // namespace
}  // namespace salescycle

int main(int argc, char** argv) { return salescycle::Main(argc, argv); }
