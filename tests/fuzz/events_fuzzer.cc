// The tool's event files (CSV or JSONL, picked by the first byte) against
// the B2B machine: every line is a row or a reported bad row, and the rows
// drive a pipeline with weekly or monthly cohorts (the second bit) whose
// funnel is then reported, as `salescycle report --cohort` does. Memory
// that grows with what the times say rather than with the input shows as
// libFuzzer's RSS limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "salescycle/funnel.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "src/cli/events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salescycle;
  static const auto* machine = [] {
    auto m = Machine::FromFile(SC_MACHINES_DIR "/b2b.textproto");
    if (!m.ok()) std::abort();
    return new std::shared_ptr<const Machine>(*m);
  }();
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto reader = cli::EventReader::Create(
      **machine, text,
      (data[0] & 1) ? cli::EventReader::Format::kJsonl : cli::EventReader::Format::kCsv);
  if (!reader.ok()) return 0;
  PipelineOptions options;
  options.analytics.enabled = true;
  options.analytics.cohort = (data[0] & 2) ? Cohort::kWeek : Cohort::kMonth;
  auto pipeline = Pipeline::Create(*machine, options);
  if (!pipeline.ok()) std::abort();
  absl::flat_hash_map<std::string, DealIndex> deals;
  cli::EventRow row;
  for (int rows = 0; rows < 100000; ++rows) {
    auto more = reader->Next(&row);
    if (!more.ok()) continue;
    if (!*more) break;
    auto [it, added] = deals.try_emplace(std::string(row.deal), 0);
    if (added) {
      auto deal = pipeline->Add(row.time);
      if (!deal.ok()) std::abort();
      it->second = *deal;
    }
    for (auto& [attribute, value] : row.set) {
      (void)pipeline->Set(it->second, attribute, value);
    }
    if (row.event != kNoEvent) (void)pipeline->Fire(it->second, row.event, row.time);
  }
  auto report = FunnelOf(*pipeline);
  if (report.ok()) (void)FunnelTable(*report);
  return 0;
}
