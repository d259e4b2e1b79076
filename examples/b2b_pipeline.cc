// The quick start's main job until the funnel report lands: moves a few
// thousand deals through the B2B template (or an edited copy of it with the
// same attributes) and prints where they are.
//
//   b2b_pipeline [--snapshot-out FILE] [MACHINE.textproto] [DEALS]
//
// With --snapshot-out, the pipeline is also saved as a snapshot (see
// examples/python/read_snapshot.py for reading one without this library).
//
// Deals and their events come from a fixed-seed generator, so every run
// prints the same table.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"

namespace {

// splitmix64: small, fixed, the same everywhere.
uint64_t Next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "b2b_pipeline: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string snapshot_out;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--snapshot-out" && i + 1 < argc) {
      snapshot_out = argv[++i];
    } else {
      args.push_back(argv[i]);
    }
  }
  const std::string path = args.size() > 0
                               ? args[0]
                               : SC_EXAMPLES_DIR "/machines/b2b.textproto";
  const long deals =
      args.size() > 1 ? std::strtol(args[1].c_str(), nullptr, 10) : 5000;
  if (deals <= 0) return Fail(absl::InvalidArgumentError("DEALS must be > 0"));

  auto machine = salescycle::Machine::FromFile(path);
  if (!machine.ok()) return Fail(machine.status());
  const salescycle::Machine& m = **machine;
  auto pipeline = salescycle::Pipeline::Create(*machine);
  if (!pipeline.ok()) return Fail(pipeline.status());

  uint64_t rng = 2026;
  constexpr salescycle::Timestamp kStart = 1767225600;  // 2026-01-01
  constexpr int64_t kDay = 86400;
  for (long i = 0; i < deals; ++i) {
    auto deal = pipeline->AddWithId(static_cast<uint64_t>(i),
                                    kStart + (i * 365 / deals) * kDay);
    if (!deal.ok()) return Fail(deal.status());
    // What the salesperson has recorded so far: most deals have some of
    // BANT, fewer all of it.
    auto set = [&](const char* name, salescycle::AttributeValue v) {
      auto id = m.FindAttribute(name);
      return id.ok() ? pipeline->Set(*deal, *id, std::move(v)) : id.status();
    };
    using salescycle::AttributeValue;
    const absl::Status statuses[] = {
        set("budget", AttributeValue::Int64(Next(&rng) % 60000)),
        set("authority", AttributeValue::Bool(Next(&rng) % 10 < 7)),
        set("need", AttributeValue::Bool(Next(&rng) % 10 < 8)),
        set("timeline_days", AttributeValue::Int64(30 + Next(&rng) % 300)),
        set("discount_pct", AttributeValue::Double(Next(&rng) % 30)),
        Next(&rng) % 10 < 8
            ? set("deal_value", AttributeValue::Double(5000 + Next(&rng) % 95000))
            : absl::OkStatus(),
        Next(&rng) % 10 < 7
            ? set("decision_maker", AttributeValue::String("CFO"))
            : absl::OkStatus(),
    };
    for (const absl::Status& s : statuses) {
      if (!s.ok()) return Fail(s);
    }
  }
  // A year of events. Salespeople push deals forward: an event that leads
  // to a stage with a higher win probability is picked six times as often.
  std::vector<std::vector<salescycle::EventId>> choices(m.num_stages());
  for (const salescycle::TransitionInfo& t : m.transitions()) {
    // Moves only: activities (no target) and moves by stage (no event).
    if (t.to == salescycle::kNoStage || t.event == salescycle::kNoEvent) continue;
    const bool forward =
        m.stage(t.to).win_probability > m.stage(t.from).win_probability;
    choices[t.from].insert(choices[t.from].end(), forward ? 6 : 1, t.event);
  }
  std::vector<salescycle::EventRecord> batch;
  for (int64_t day = 0; day < 365; ++day) {
    batch.clear();
    for (long i = 0; i < deals / 10; ++i) {
      const auto deal = static_cast<salescycle::DealIndex>(Next(&rng) % deals);
      const auto& events = choices[pipeline->stage(deal)];
      if (events.empty()) continue;
      batch.push_back({deal, events[Next(&rng) % events.size()],
                       kStart + day * kDay});
    }
    if (auto r = pipeline->Apply(batch); !r.ok()) return Fail(r.status());
    pipeline->AdvanceTo(kStart + (day + 1) * kDay);
  }

  std::printf("%s v%u: %zu deals\n\n%-24s %8s %7s\n", m.name().c_str(),
              m.version(), pipeline->size(), "stage", "deals", "share");
  for (int s = 0; s < m.num_stages(); ++s) {
    const uint64_t n = pipeline->StageCount(static_cast<salescycle::StageId>(s));
    std::printf("%-24s %8llu %6.1f%%\n", m.stage(s).display_name.c_str(),
                static_cast<unsigned long long>(n),
                100.0 * static_cast<double>(n) / static_cast<double>(deals));
  }
  if (!snapshot_out.empty()) {
    const absl::Status saved = salescycle::SavePipeline(
        *pipeline, salescycle::SnapshotSink::File(snapshot_out));
    if (!saved.ok()) return Fail(saved);
    std::printf("\nsnapshot: %s\n", snapshot_out.c_str());
  }
  return 0;
}
