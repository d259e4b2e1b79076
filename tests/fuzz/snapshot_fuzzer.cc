// Snapshots come from disk and from other processes: any bytes, read as a
// pipeline snapshot (onto a known machine and onto the machine it says it
// carries) and as a journey snapshot, must give a result or an error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "salescycle/funnel.h"
#include "salescycle/machine.h"
#include "salescycle/snapshot.h"

namespace {

std::shared_ptr<const salescycle::Machine> B2b() {
  static const auto* machine = [] {
    auto m = salescycle::Machine::FromFile(SC_MACHINES_DIR "/b2b.textproto");
    if (!m.ok()) std::abort();
    return new std::shared_ptr<const salescycle::Machine>(*m);
  }();
  return *machine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salescycle;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto onto_b2b = LoadPipeline(SnapshotSource::Bytes(bytes), B2b());
  if (onto_b2b.ok()) {
    (void)onto_b2b->AdvanceTo(1LL << 40);
    (void)FunnelOf(*onto_b2b);  // from history, or an error without one
  }
  auto own = LoadPipeline(SnapshotSource::Bytes(bytes));
  if (own.ok()) {
    std::string again;
    (void)SavePipeline(*own, SnapshotSink::Bytes(&again));
  }
  auto journey = RestoreJourney(bytes, B2b());
  if (journey.ok()) (void)SnapshotJourney(*journey);
  return 0;
}
