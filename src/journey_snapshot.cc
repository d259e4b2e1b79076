// Journey snapshots: one JourneySnapshot message behind a checksummed
// envelope (snapshot_format.h). Names, not ids, so that a snapshot restores
// onto an edited machine through migrations (name_mapper.h).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "salescycle/snapshot.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/journey_internal.h"
#include "src/name_mapper.h"
#include "src/proto_convert.h"
#include "src/snapshot_format.h"
#include "src/snapshot_io.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {
namespace {

void SetIdentity(const Machine& m, v1::MachineIdentity* out) {
  out->set_name(m.name());
  out->set_version(m.version());
  out->set_fingerprint(m.fingerprint());
}

v1::JourneySnapshot ToMessage(const Journey& j) {
  const Machine& m = j.machine();
  v1::JourneySnapshot s;
  s.set_format_version(kFormatVersionWithoutFunnel);
  SetIdentity(m, s.mutable_machine());
  s.set_stage(m.stage(j.stage()).id);
  s.set_entered_at(j.entered_at());
  for (AttributeId a = 0; a < m.num_attributes(); ++a) {
    if (!j.IsSet(a)) continue;
    v1::NamedAttribute* out = s.add_attributes();
    out->set_name(m.attribute(a).name);
    ToProto(*j.Get(a), out->mutable_value());
  }
  s.set_timeout_consumed(JourneyInternal::timeout_consumed(j));
  s.set_history_limit(static_cast<uint32_t>(j.history_limit()));
  s.set_history_count(JourneyInternal::history_count(j));
  for (const HistoryEntry& e : j.History()) {
    v1::JourneyHistoryEntry* out = s.add_history();
    out->set_time(e.time);
    if (e.event != kNoEvent) out->set_event(m.event(e.event).id);
    out->set_from(m.stage(e.from).id);
    out->set_to(m.stage(e.to).id);
    out->set_outcome(static_cast<uint32_t>(e.outcome));
    out->set_by_timeout(e.by_timeout);
  }
  // What the machine keeps beyond the stage, where it is not the default.
  if (m.keeps_last_activity() && j.last_activity() != j.entered_at()) {
    s.set_last_activity(j.last_activity());
  }
  s.set_loss_reason(j.loss_reason());
  if (j.closed_from() != kNoStage) {
    s.set_closed_from(m.stage(j.closed_from()).id);
  }
  if (j.cycle() != 1) s.set_cycle(j.cycle());
  return s;
}

// The snapshot's names, in the order NameMapper's indices follow: the
// current stage, then each history entry's from and to (stages) and event,
// then the stage the journey was closed from, if any.
struct JourneyNames {
  std::vector<std::string> stages;
  std::vector<std::string> events;
  std::vector<SnapshotAttribute> attributes;
  std::vector<AttributeValue> values;  // by attribute
};

absl::StatusOr<JourneyNames> NamesOf(const v1::JourneySnapshot& s) {
  JourneyNames names;
  names.stages.push_back(s.stage());
  for (const auto& e : s.history()) {
    names.stages.push_back(e.from());
    names.stages.push_back(e.to());
    names.events.push_back(e.event());
  }
  if (!s.closed_from().empty()) names.stages.push_back(s.closed_from());
  for (const auto& a : s.attributes()) {
    SC_ASSIGN_OR_RETURN(AttributeValue v, FromProto(a.value()));
    names.attributes.push_back(SnapshotAttribute{a.name(), v.type()});
    names.values.push_back(std::move(v));
  }
  return names;
}

absl::Status RestoreHistory(const v1::JourneySnapshot& s,
                            const NameMapping& map, Journey* j) {
  const uint64_t kept = std::min<uint64_t>(s.history_count(), j->history_limit());
  if (static_cast<uint64_t>(s.history_size()) != kept) {
    return absl::DataLossError(absl::StrCat(
        "journey snapshot keeps ", s.history_size(), " history entries of ",
        s.history_count(), " with a limit of ", j->history_limit()));
  }
  JourneyInternal::SetHistoryCount(j, s.history_count());
  for (int k = 0; k < s.history_size(); ++k) {
    const auto& e = s.history(k);
    // Indices into map.stages, as NamesOf laid them out.
    const size_t from = 1 + 2 * static_cast<size_t>(k), to = from + 1;
    if (map.stages[from] == kNoStage) return map.MissingStage(from);
    if (map.stages[to] == kNoStage) return map.MissingStage(to);
    HistoryEntry* out =
        JourneyInternal::HistoryEntryAt(j, s.history_count() - kept + k);
    if (!DecodeOutcome(e.outcome(), &out->outcome)) {
      return absl::DataLossError(absl::StrCat("history[", k, "]: outcome ",
                                              e.outcome(), " is unknown"));
    }
    out->time = e.time();
    out->event = e.event().empty() ? kNoEvent : map.events[k];
    if (!e.event().empty() && out->event == kNoEvent) {
      return absl::FailedPreconditionError(absl::StrCat(
          "snapshot of ", map.snapshot, " has history of event \"", e.event(),
          "\", which ", map.target, " lacks; rename it in a Migration"));
    }
    out->from = map.stages[from];
    out->to = map.stages[to];
    out->by_timeout = e.by_timeout();
  }
  return absl::OkStatus();
}

// What the machine keeps beyond the stage; a machine that keeps none of it
// ignores it, as a pipeline's does.
absl::Status RestoreKept(const v1::JourneySnapshot& s, const NameMapping& map,
                         Journey* j) {
  const Machine& m = j->machine();
  if (m.keeps_last_activity()) {
    JourneyInternal::SetLastActivity(
        j, s.has_last_activity() ? s.last_activity() : s.entered_at());
  }
  if (m.keeps_loss_reasons()) {
    JourneyInternal::SetLossReason(j, s.loss_reason());
  }
  if (m.keeps_closed_from() && !s.closed_from().empty()) {
    const size_t index = 1 + 2 * static_cast<size_t>(s.history_size());
    if (map.stages[index] == kNoStage) return map.MissingStage(index);
    JourneyInternal::SetClosedFrom(j, map.stages[index]);
  }
  if (m.keeps_cycles() && s.has_cycle()) {
    if (s.cycle() == 0) {
      return absl::DataLossError("journey snapshot: cycle 0");
    }
    JourneyInternal::SetCycle(j, s.cycle());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::JourneySnapshot> ParseJourney(absl::string_view bytes,
                                                 const Limits& limits) {
  SC_ASSIGN_OR_RETURN(const absl::string_view payload,
                      DecodeJourneyEnvelope(bytes));
  v1::JourneySnapshot s;
  if (!ParseQuietly(payload, &s)) {
    return absl::DataLossError(absl::StrCat(
        "not a journey snapshot (", bytes.size(), " bytes that do not parse)"));
  }
  constexpr absl::string_view kWhat = "journey snapshot";
  SC_RETURN_IF_ERROR(CheckFormatVersion(s.format_version(), kWhat));
  SC_RETURN_IF_ERROR(CheckHistoryLength(s.history_limit(), limits, kWhat));
  SC_RETURN_IF_ERROR(CheckStringLengths(s, limits.max_string_length, kWhat));
  return s;
}

}  // namespace
}  // namespace internal

std::string SnapshotJourney(const Journey& journey) {
  return internal::EncodeJourneyEnvelope(
      internal::SerializeDeterministically(internal::ToMessage(journey)));
}

absl::StatusOr<Journey> RestoreJourney(absl::string_view bytes,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options) {
  using internal::JourneyInternal;
  if (machine == nullptr) {
    return absl::InvalidArgumentError("RestoreJourney: machine is null");
  }
  SC_ASSIGN_OR_RETURN(const v1::JourneySnapshot s,
                      internal::ParseJourney(bytes, options.limits));
  SC_ASSIGN_OR_RETURN(internal::JourneyNames names, internal::NamesOf(s));
  SC_ASSIGN_OR_RETURN(
      const internal::NameMapping map,
      internal::NameMapper::Map(
          internal::SnapshotIdentity{s.machine().name(), s.machine().version(),
                                     s.machine().fingerprint()},
          names.stages, names.events, names.attributes, *machine, options));
  JourneyOptions journey_options;
  journey_options.history_limit = s.history_limit();
  SC_ASSIGN_OR_RETURN(Journey j, Journey::Create(machine, s.entered_at(),
                                                 journey_options));
  if (map.stages[0] == kNoStage) return map.MissingStage(0);
  JourneyInternal::SetStage(&j, map.stages[0]);
  JourneyInternal::SetTimeoutConsumed(&j, s.timeout_consumed());
  for (size_t i = 0; i < names.values.size(); ++i) {
    if (map.attributes[i] == kNoAttribute) {
      if (map.attribute_dropped[i]) continue;
      return map.MissingAttribute(i);
    }
    SC_RETURN_IF_ERROR(j.Set(map.attributes[i], std::move(names.values[i])));
  }
  SC_RETURN_IF_ERROR(internal::RestoreHistory(s, map, &j));
  SC_RETURN_IF_ERROR(internal::RestoreKept(s, map, &j));
  for (const auto& [id, value] : map.added) {
    SC_RETURN_IF_ERROR(j.Set(id, value));
  }
  return j;
}

}  // namespace salescycle
