// Snapshots come from disk and from other processes: any bytes, read as a
// pipeline snapshot (onto a known machine and onto the machine it says it
// carries, alone and joined after another), as a funnel state and as a
// journey snapshot, must give a result or an error. A pipeline that loads,
// split in two parts and joined again, holds the same deals and reports
// the same funnel.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "salescycle/funnel.h"
#include "salescycle/funnel_state.h"
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
    std::vector<DealIndex> halves[2];
    for (DealIndex d = 0; d < own->slot_count(); ++d) {
      if (own->Contains(d)) halves[d % 2].push_back(d);
    }
    std::string parts[2];
    if (SavePipelinePart(*own, halves[0], PartCounters::kWithCounters,
                         SnapshotSink::Bytes(&parts[0])).ok() &&
        SavePipelinePart(*own, halves[1], PartCounters::kWithout,
                         SnapshotSink::Bytes(&parts[1])).ok()) {
      const std::vector<SnapshotSource> sources = {SnapshotSource::Bytes(parts[0]),
                                                   SnapshotSource::Bytes(parts[1])};
      auto joined = LoadPipelines(sources, own->machine_ptr());
      if (!joined.ok() || joined->size() != own->size()) std::abort();
      auto before = FunnelOf(*own);
      auto after = FunnelOf(*joined);
      if (before.ok() != after.ok() ||
          (before.ok() && FunnelJson(*before) != FunnelJson(*after))) {
        std::abort();
      }
    }
  }
  // Joined after itself: the second copy's slots follow the first's.
  const std::vector<SnapshotSource> twice = {SnapshotSource::Bytes(bytes),
                                             SnapshotSource::Bytes(bytes)};
  (void)LoadPipelines(twice, B2b());
  auto state = FunnelState::Parse(bytes);
  if (state.ok()) {
    (void)FunnelTable(FunnelOf(*state));
    auto twin = FunnelState::Parse(state->Serialize());
    if (!twin.ok() || !state->Merge(*twin).ok()) std::abort();  // its own bytes, twice
  }
  auto journey = RestoreJourney(bytes, B2b());
  if (journey.ok()) (void)SnapshotJourney(*journey);
  // Tight limits, so that every refusal path reads the same bytes too.
  RestoreOptions tight;
  tight.limits.max_spec_bytes = 512;
  tight.limits.max_stages = 6;
  tight.limits.max_string_length = 8;
  tight.limits.max_history_length = 2;
  tight.limits.max_snapshot_deals = 16;
  tight.limits.max_history_entries = 20;
  (void)LoadPipeline(SnapshotSource::Bytes(bytes), tight);
  (void)RestoreJourney(bytes, B2b(), tight);
  return 0;
}
