#include "salescycle/funnel_state.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "salescycle/v1/funnel_state.pb.h"
#include "src/crc32.h"
#include "src/funnel_snapshot.h"
#include "src/funnel_state_rep.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

class FunnelStateAccess {
 public:
  static FunnelState Make(std::unique_ptr<FunnelStateRep> rep) {
    return FunnelState(std::move(rep));
  }
  static const FunnelStateRep& rep(const FunnelState& s) { return *s.rep_; }
};

namespace {

constexpr char kMagic[8] = {'S', 'C', 'F', 'S', 'T', 'A', 'T', 'E'};
constexpr uint32_t kStateFormatVersion = 1;

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("funnel state: ", what));
}

// ---- writing

void WriteInt128(absl::int128 v, v1::Int128* out) {
  out->set_low(absl::Int128Low64(v));
  out->set_high(absl::Int128High64(v));
}

absl::int128 ReadInt128(const v1::Int128& v) { return absl::MakeInt128(v.high(), v.low()); }

void WriteLive(const LiveTally& t, v1::FunnelLiveTally* out) {
  for (uint64_t n : t.now) out->add_now(n);
  for (uint64_t n : t.stalled) out->add_stalled(n);
  for (uint64_t n : t.stopped_lost) out->add_stopped_lost(n);
  for (uint64_t n : t.stopped_open) out->add_stopped_open(n);
  for (uint64_t n : t.stopped_side) out->add_stopped_side(n);
  // In reason order, so that the same state gives the same bytes.
  std::vector<std::pair<std::string, uint64_t>> reasons(t.lost_by_reason.begin(),
                                                        t.lost_by_reason.end());
  std::sort(reasons.begin(), reasons.end());
  for (const auto& [reason, n] : reasons) {
    out->add_lost_reasons(reason);
    out->add_lost_counts(n);
  }
  out->set_live(t.live);
  out->set_open(t.open);
  WriteInt128(t.weighted_percent.raw(), out->mutable_weighted_percent());
  WriteInt128(t.won_value.raw(), out->mutable_won_value());
  out->set_won_valued(t.won_valued);
  WriteInt128(t.open_value.raw(), out->mutable_open_value());
  out->set_open_valued(t.open_valued);
  for (const absl::uint128 n : t.current_stay_seconds) {
    WriteInt128(static_cast<absl::int128>(n), out->add_current_stay());
  }
}

void WriteSegment(const std::string& value, bool set, const SegmentTally& t,
                  v1::FunnelStateSegment* out) {
  out->set_value(value);
  out->set_set(set);
  out->set_deals(t.deals);
  out->set_open(t.open);
  out->set_won(t.won);
  out->set_lost(t.lost);
  WriteInt128(t.weighted_percent.raw(), out->mutable_weighted_percent());
  for (uint64_t n : t.reached) out->add_reached(n);
}

// ---- reading

absl::Status ReadStageCounts(const google::protobuf::RepeatedField<uint64_t>& in,
                             size_t stages, absl::string_view what,
                             std::vector<uint64_t>* out) {
  if (static_cast<size_t>(in.size()) != stages) {
    return Corrupt(absl::StrCat(what, " has ", in.size(), " stages, not ", stages));
  }
  out->assign(in.begin(), in.end());
  return absl::OkStatus();
}

absl::Status ReadLive(const v1::FunnelLiveTally& in, size_t stages, absl::string_view group,
                      LiveTally* out) {
  const std::string at = absl::StrCat("the live deals of ", group);
  SC_RETURN_IF_ERROR(ReadStageCounts(in.now(), stages, at, &out->now));
  SC_RETURN_IF_ERROR(ReadStageCounts(in.stalled(), stages, at, &out->stalled));
  SC_RETURN_IF_ERROR(ReadStageCounts(in.stopped_lost(), stages, at, &out->stopped_lost));
  SC_RETURN_IF_ERROR(ReadStageCounts(in.stopped_open(), stages, at, &out->stopped_open));
  SC_RETURN_IF_ERROR(ReadStageCounts(in.stopped_side(), stages, at, &out->stopped_side));
  if (in.lost_reasons_size() != in.lost_counts_size()) {
    return Corrupt(absl::StrCat(at, ": ", in.lost_reasons_size(), " loss reasons, ",
                                in.lost_counts_size(), " counts"));
  }
  for (int i = 0; i < in.lost_reasons_size(); ++i) {
    if (!out->lost_by_reason.emplace(in.lost_reasons(i), in.lost_counts(i)).second) {
      return Corrupt(absl::StrCat(at, ": a loss reason twice"));
    }
  }
  out->live = in.live();
  out->open = in.open();
  out->weighted_percent.set_raw(ReadInt128(in.weighted_percent()));
  out->won_value.set_raw(ReadInt128(in.won_value()));
  out->won_valued = in.won_valued();
  out->open_value.set_raw(ReadInt128(in.open_value()));
  out->open_valued = in.open_valued();
  if (static_cast<size_t>(in.current_stay_size()) != stages) {
    return Corrupt(absl::StrCat(at, " has stays in ", in.current_stay_size(), " stages, not ",
                                stages));
  }
  out->current_stay_seconds.clear();
  for (const v1::Int128& n : in.current_stay()) {
    const absl::int128 seconds = ReadInt128(n);
    if (seconds < 0) return Corrupt(absl::StrCat(at, ": a negative stay"));
    out->current_stay_seconds.push_back(static_cast<absl::uint128>(seconds));
  }
  return absl::OkStatus();
}

absl::Status ReadSegments(const v1::FunnelState& s, size_t stages, FunnelStateRep* rep) {
  if (s.breakdown_attribute().empty() && s.segments_size() > 0) {
    return Corrupt("segments without a breakdown attribute");
  }
  rep->unset.reached.assign(stages, 0);
  for (const v1::FunnelStateSegment& in : s.segments()) {
    SegmentTally t;
    SC_RETURN_IF_ERROR(ReadStageCounts(in.reached(), stages,
                                       absl::StrCat("segment \"", in.value(), "\""), &t.reached));
    t.deals = in.deals();
    t.open = in.open();
    t.won = in.won();
    t.lost = in.lost();
    t.weighted_percent.set_raw(ReadInt128(in.weighted_percent()));
    if (!in.set()) {
      rep->unset = std::move(t);
    } else if (!rep->segments.emplace(in.value(), std::move(t)).second) {
      return Corrupt(absl::StrCat("segment \"", in.value(), "\" is there twice"));
    }
  }
  return absl::OkStatus();
}

// The state's names against the machine it carries: indexes are the
// machine's own ids.
absl::Status CheckNames(const v1::FunnelState& s, const Machine& m) {
  bool same = s.stages_size() == m.num_stages() && s.events_size() == m.num_events() &&
              s.machine().fingerprint() == m.fingerprint();
  for (int i = 0; same && i < s.stages_size(); ++i) same = s.stages(i) == m.stage(i).id;
  for (int i = 0; same && i < s.events_size(); ++i) same = s.events(i) == m.event(i).id;
  return same ? absl::OkStatus()
              : Corrupt("its stages, events or fingerprint are not those of the machine it carries");
}

NameMapping Identity(const Machine& m) {
  NameMapping map;
  for (int s = 0; s < m.num_stages(); ++s) {
    map.stages.push_back(static_cast<StageId>(s));
    map.stage_names.push_back(m.stage(s).id);
  }
  for (int e = 0; e < m.num_events(); ++e) map.events.push_back(static_cast<EventId>(e));
  map.snapshot = map.target = absl::StrCat("machine \"", m.name(), "\" v", m.version());
  return map;
}

// `machine`: the one to read onto, or null for the one the state carries.
absl::StatusOr<std::unique_ptr<FunnelStateRep>> FromProto(
    const v1::FunnelState& s, std::shared_ptr<const Machine> machine, const Limits& limits) {
  if (s.format_version() == 0) return Corrupt("no format version");
  if (s.format_version() > kStateFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("funnel state: format version ",
                                                   s.format_version(), " is newer than this library reads (",
                                                   kStateFormatVersion, ")"));
  }
  if (s.cohort() > static_cast<uint32_t>(Cohort::kQuarter)) {
    return Corrupt(absl::StrCat("cohort kind ", s.cohort(), " is unknown"));
  }
  auto rep = std::make_unique<FunnelStateRep>();
  if (machine == nullptr) {
    CompileOptions compile;
    compile.source_name = "funnel state: the machine";
    compile.limits = limits;
    SC_ASSIGN_OR_RETURN(rep->machine, Machine::FromTextProto(s.machine_spec(), compile));
  } else if (machine->fingerprint() != s.machine().fingerprint()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "funnel state of machine \"", s.machine().name(), "\" v", s.machine().version(),
        " does not read onto machine \"", machine->name(), "\" v", machine->version(),
        " (fingerprints differ)"));
  } else {
    rep->machine = std::move(machine);
  }
  const Machine& m = *rep->machine;
  SC_RETURN_IF_ERROR(CheckNames(s, m));
  if (!s.value_attribute().empty()) SC_RETURN_IF_ERROR(m.FindAttribute(s.value_attribute()).status());
  if (!s.breakdown_attribute().empty()) {
    SC_RETURN_IF_ERROR(m.FindAttribute(s.breakdown_attribute()).status());
  }
  rep->counters = std::make_unique<FunnelAccumulator>(m, static_cast<Cohort>(s.cohort()));
  v1::PipelineHeader header;
  for (const std::string& stage : s.stages()) header.add_stages(stage);
  for (const std::string& event : s.events()) header.add_events(event);
  const NameMapping map = Identity(m);
  SC_RETURN_IF_ERROR(ReadFunnelFrame(s.counters(), header, map, Corrupt, rep->counters.get()));
  const size_t stages = static_cast<size_t>(m.num_stages());
  if (static_cast<size_t>(s.cohorts_size()) != rep->counters->cohorts().size()) {
    return Corrupt(absl::StrCat(s.cohorts_size(), " cohorts of live deals for ",
                                rep->counters->cohorts().size(), " cohorts of counters"));
  }
  SC_RETURN_IF_ERROR(ReadLive(s.total(), stages, "all deals", &rep->total));
  rep->cohorts.resize(rep->counters->cohorts().size());
  for (int c = 0; c < s.cohorts_size(); ++c) {
    // The counters' cohorts are made in the order the frame lists them.
    SC_RETURN_IF_ERROR(ReadLive(s.cohorts(c), stages,
                                absl::StrCat("cohort ", c), &rep->cohorts[static_cast<size_t>(c)]));
  }
  rep->as_of = s.as_of();
  rep->value_attribute = s.value_attribute();
  rep->breakdown_attribute = s.breakdown_attribute();
  if (s.has_closed_from()) rep->closed_from = s.closed_from();
  if (s.has_closed_to()) rep->closed_to = s.closed_to();
  if (s.has_created_from()) rep->created_from = s.created_from();
  if (s.has_created_to()) rep->created_to = s.created_to();
  FunnelOptions windows;
  windows.closed_from = rep->closed_from;
  windows.closed_to = rep->closed_to;
  windows.created_from = rep->created_from;
  windows.created_to = rep->created_to;
  if (const absl::Status bad = CheckWindows(*rep->counters, windows); !bad.ok()) {
    return Corrupt(absl::StrCat("its windows: ", bad.message()));
  }
  SC_RETURN_IF_ERROR(ReadSegments(s, stages, rep.get()));
  return rep;
}

}  // namespace
}  // namespace internal

FunnelState::FunnelState(std::unique_ptr<internal::FunnelStateRep> rep) : rep_(std::move(rep)) {}
FunnelState::FunnelState(FunnelState&&) noexcept = default;
FunnelState& FunnelState::operator=(FunnelState&&) noexcept = default;
FunnelState::~FunnelState() = default;

const Machine& FunnelState::machine() const { return *rep_->machine; }
Timestamp FunnelState::as_of() const { return rep_->as_of; }

absl::Status FunnelState::Merge(const FunnelState& other) {
  const internal::FunnelStateRep& o = *other.rep_;
  internal::FunnelStateRep& r = *rep_;
  if (&o == &r) {
    return absl::FailedPreconditionError("a funnel state cannot merge itself");
  }
  auto differ = [](absl::string_view what, const auto& a, const auto& b) {
    return absl::FailedPreconditionError(absl::StrCat(
        "funnel states of different ", what, " (", a, " and ", b,
        ") do not merge: capture them alike"));
  };
  if (r.machine->fingerprint() != o.machine->fingerprint()) {
    return differ("machines", r.machine->name(), o.machine->name());
  }
  if (r.as_of != o.as_of) {
    return differ("moments: give both FunnelOptions::now (the tool's --now)", r.as_of, o.as_of);
  }
  if (r.counters->cohort() != o.counters->cohort()) {
    return differ("cohorts", static_cast<int>(r.counters->cohort()),
                  static_cast<int>(o.counters->cohort()));
  }
  if (r.value_attribute != o.value_attribute) {
    return differ("value attributes", r.value_attribute, o.value_attribute);
  }
  if (r.breakdown_attribute != o.breakdown_attribute) {
    return differ("breakdowns", r.breakdown_attribute, o.breakdown_attribute);
  }
  auto window = [](std::optional<Timestamp> from, std::optional<Timestamp> to) {
    return absl::StrCat("[", from ? absl::StrCat(*from) : "", ", ", to ? absl::StrCat(*to) : "",
                        ")");
  };
  if (r.closed_from != o.closed_from || r.closed_to != o.closed_to) {
    return differ("close windows", window(r.closed_from, r.closed_to),
                  window(o.closed_from, o.closed_to));
  }
  if (r.created_from != o.created_from || r.created_to != o.created_to) {
    return differ("creation windows", window(r.created_from, r.created_to),
                  window(o.created_from, o.created_to));
  }
  r.counters->MergeCounters(*o.counters);
  r.total.Merge(o.total);
  r.cohorts.resize(r.counters->cohorts().size(),
                   internal::LiveTally(static_cast<size_t>(r.machine->num_stages())));
  for (size_t c = 0; c < o.cohorts.size(); ++c) {
    r.cohorts[r.counters->RestoreCohort(o.counters->cohort_starts()[c])].Merge(o.cohorts[c]);
  }
  for (const auto& [value, tally] : o.segments) {
    auto [it, added] = r.segments.try_emplace(value);
    if (added) it->second.reached.assign(tally.reached.size(), 0);
    it->second.Merge(tally);
  }
  r.unset.Merge(o.unset);
  return absl::OkStatus();
}

std::string FunnelState::Serialize() const {
  const internal::FunnelStateRep& r = *rep_;
  const Machine& m = *r.machine;
  v1::FunnelState s;
  s.set_format_version(internal::kStateFormatVersion);
  s.mutable_machine()->set_name(m.name());
  s.mutable_machine()->set_version(m.version());
  s.mutable_machine()->set_fingerprint(m.fingerprint());
  s.set_machine_spec(m.spec_text());
  for (int i = 0; i < m.num_stages(); ++i) s.add_stages(m.stage(i).id);
  for (int i = 0; i < m.num_events(); ++i) s.add_events(m.event(i).id);
  s.set_cohort(static_cast<uint32_t>(r.counters->cohort()));
  s.set_as_of(r.as_of);
  s.set_value_attribute(r.value_attribute);
  s.set_breakdown_attribute(r.breakdown_attribute);
  if (r.closed_from) s.set_closed_from(*r.closed_from);
  if (r.closed_to) s.set_closed_to(*r.closed_to);
  if (r.created_from) s.set_created_from(*r.created_from);
  if (r.created_to) s.set_created_to(*r.created_to);
  internal::WriteFunnelFrame(*r.counters, s.mutable_counters());
  internal::WriteLive(r.total, s.mutable_total());
  // In the order WriteFunnelFrame lists the cohorts' counters.
  for (const size_t c : internal::CohortsByStart(*r.counters)) {
    internal::WriteLive(r.cohorts[c], s.add_cohorts());
  }
  if (!r.breakdown_attribute.empty()) {
    std::vector<const std::string*> values;
    for (const auto& [value, tally] : r.segments) values.push_back(&value);
    std::sort(values.begin(), values.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    for (const std::string* v : values) {
      internal::WriteSegment(*v, true, r.segments.at(*v), s.add_segments());
    }
    if (r.unset.deals > 0) internal::WriteSegment("", false, r.unset, s.add_segments());
  }
  std::string payload;
  s.SerializeToString(&payload);
  std::string out(internal::kMagic, sizeof internal::kMagic);
  char head[8];
  absl::little_endian::Store32(head, static_cast<uint32_t>(payload.size()));
  absl::little_endian::Store32(head + 4, internal::Crc32(payload.data(), payload.size()));
  out.append(head, sizeof head);
  out += payload;
  return out;
}

namespace internal {
namespace {

// The state in `bytes`, onto `machine` (null: the one it carries).
absl::StatusOr<std::unique_ptr<FunnelStateRep>> ParseBytes(
    absl::string_view bytes, std::shared_ptr<const Machine> machine, const Limits& limits) {
  constexpr size_t kHead = sizeof kMagic + 8;
  if (bytes.size() < kHead || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Corrupt("bad magic: not a funnel state (\"SCFSTATE\")");
  }
  const uint32_t length = absl::little_endian::Load32(bytes.data() + 8);
  const uint32_t crc = absl::little_endian::Load32(bytes.data() + 12);
  if (bytes.size() - kHead != length) {
    return Corrupt(absl::StrCat("declares ", length, " bytes, ", bytes.size() - kHead,
                                " follow"));
  }
  const absl::string_view payload = bytes.substr(kHead);
  const uint32_t computed = Crc32(payload.data(), payload.size());
  if (computed != crc) {
    return Corrupt(absl::StrCat("checksum mismatch (stored ", crc, ", computed ", computed, ")"));
  }
  v1::FunnelState s;
  if (!s.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Corrupt("the payload does not parse");
  }
  return FromProto(s, std::move(machine), limits);
}

}  // namespace
}  // namespace internal

absl::StatusOr<FunnelState> FunnelState::Parse(absl::string_view bytes, const Limits& limits) {
  SC_ASSIGN_OR_RETURN(auto rep, internal::ParseBytes(bytes, nullptr, limits));
  return internal::FunnelStateAccess::Make(std::move(rep));
}

absl::StatusOr<FunnelState> FunnelState::Parse(absl::string_view bytes,
                                               std::shared_ptr<const Machine> machine,
                                               const Limits& limits) {
  if (machine == nullptr) return absl::InvalidArgumentError("FunnelState::Parse: machine is null");
  SC_ASSIGN_OR_RETURN(auto rep, internal::ParseBytes(bytes, std::move(machine), limits));
  return internal::FunnelStateAccess::Make(std::move(rep));
}

absl::StatusOr<FunnelState> CaptureFunnel(const Pipeline& pipeline,
                                          const FunnelOptions& options) {
  SC_ASSIGN_OR_RETURN(auto rep, internal::CaptureRep(pipeline, options));
  return internal::FunnelStateAccess::Make(std::move(rep));
}

FunnelReport FunnelOf(const FunnelState& state) {
  return internal::ReportOf(internal::FunnelStateAccess::rep(state));
}

}  // namespace salescycle
