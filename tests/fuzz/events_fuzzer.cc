// The tool's event files (CSV or JSONL, picked by the first byte) against
// the B2B machine: every line is a row or a reported bad row.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "salescycle/machine.h"
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
  cli::EventRow row;
  for (int rows = 0; rows < 100000; ++rows) {
    auto more = reader->Next(&row);
    if (more.ok() && !*more) break;
  }
  return 0;
}
