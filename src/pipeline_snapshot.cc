// Pipeline snapshots: a header frame (the machine and its names), chunk
// frames (pipeline_columns.h), a trailer frame (totals), through the frame
// I/O of snapshot_io.h. Loading checks every declared size against the
// input and the caller's limits before allocating for it, and checks the
// totals at the end, so that a damaged or hostile snapshot is an error and
// never a pipeline that differs from what was saved.
#include <algorithm>
#include <cerrno>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "salescycle/snapshot.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/funnel_snapshot.h"
#include "src/name_mapper.h"
#include "src/pipeline_columns.h"
#include "src/pipeline_internal.h"
#include "src/proto_convert.h"
#include "src/snapshot_format.h"
#include "src/snapshot_io.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {
namespace {

using PI = PipelineInternal;

// ---- writing

// The loss reasons a snapshot holds: those of live deals, numbered from 1
// in the order the deals first use them, so that the same state gives the
// same bytes however the pipeline came to intern them. `*renumber` maps the
// pipeline's reason ids to the snapshot's.
// A part of a pipeline (SavePipelinePart): its deals (live, each once) in
// their order, which of the pipeline's slots they are, and whether it
// carries the pipeline's funnel counters and input positions.
struct Part {
  std::vector<DealIndex> deals;
  std::vector<bool> member;  // by slot
  bool counted;
};

// What a snapshot holds: every slot of the pipeline, or a part of its deals
// (SavePipelinePart), which come back numbered from 0 in the part's order.
struct Scope {
  const Pipeline& p;
  const std::vector<DealIndex>* part;  // null: every slot

  size_t slots() const { return part == nullptr ? p.slot_count() : part->size(); }
  size_t deals() const { return part == nullptr ? p.size() : part->size(); }
  DealIndex deal(size_t i) const {
    return part == nullptr ? static_cast<DealIndex>(i) : (*part)[i];
  }
};

std::vector<std::string> SnapshotReasons(const Scope& scope,
                                         std::vector<uint32_t>* renumber) {
  const Pipeline& p = scope.p;
  const std::vector<std::string>& reasons = PI::reasons(p);
  renumber->assign(reasons.size(), 0);
  std::vector<std::string> out;
  if (!p.machine().keeps_loss_reasons()) return out;
  for (size_t i = 0; i < scope.slots(); ++i) {
    const DealIndex d = scope.deal(i);
    if (!p.Contains(d)) continue;
    const uint32_t id = PI::loss_reason_id(p, d);
    if (id == 0 || (*renumber)[id] != 0) continue;
    out.push_back(reasons[id]);
    (*renumber)[id] = static_cast<uint32_t>(out.size());
  }
  return out;
}

// `positions_too`: whether it lists the pipeline's input positions (a part
// carries them only with the counters).
v1::PipelineHeader Header(const Scope& scope, bool positions_too,
                          const std::vector<std::string>& reasons) {
  const Pipeline& p = scope.p;
  const Machine& m = p.machine();
  v1::PipelineHeader h;
  const FunnelAccumulator* funnel = PI::analytics(p);
  const auto positions =
      positions_too ? p.Positions() : std::vector<std::pair<std::string, uint64_t>>();
  // The oldest format that holds what is written, so that older readers
  // read all they can (snapshot_format.h): 5 for any cycle out of order,
  // whose in-order mark (none, too) only 5 keeps.
  bool out_of_order = false;
  for (size_t i = 0; funnel != nullptr && !out_of_order && i < scope.slots(); ++i) {
    const DealIndex d = scope.deal(i);
    out_of_order = p.Contains(d) && (funnel->flags(d) & FunnelAccumulator::kOutOfOrder) != 0;
  }
  h.set_format_version(out_of_order         ? kFormatVersion
                       : !positions.empty() ? kFormatVersionWithPositions
                       : funnel != nullptr  ? kFormatVersionWithFunnel
                                            : kFormatVersionWithoutFunnel);
  h.mutable_machine()->set_name(m.name());
  h.mutable_machine()->set_version(m.version());
  h.mutable_machine()->set_fingerprint(m.fingerprint());
  for (int s = 0; s < m.num_stages(); ++s) h.add_stages(m.stage(s).id);
  for (int e = 0; e < m.num_events(); ++e) h.add_events(m.event(e).id);
  for (int a = 0; a < m.num_attributes(); ++a) {
    v1::AttributeDescriptor* d = h.add_attributes();
    d->set_name(m.attribute(a).name);
    d->set_type(ToProto(m.attribute(a).type));
  }
  h.set_slot_count(scope.slots());
  h.set_deal_count(scope.deals());
  h.set_history_limit(static_cast<uint32_t>(PI::history_limit(p)));
  h.set_machine_spec(m.spec_text());
  for (const std::string& reason : reasons) h.add_loss_reasons(reason);
  if (funnel != nullptr) {
    h.mutable_funnel()->set_cohort(static_cast<uint32_t>(funnel->cohort()));
  }
  for (const auto& [source, next] : positions) {  // sorted: same state, same bytes
    v1::SourcePosition* position = h.add_positions();
    position->set_source(source);
    position->set_next_offset(next);
  }
  return h;
}

// Slots in the chunk from `first`: kChunkSlots, or fewer where the chunk's
// strings would pass kChunkStringBytes (but at least one slot).
size_t ChunkLength(const Scope& scope, size_t first) {
  const Pipeline& p = scope.p;
  const size_t most = std::min(kChunkSlots, scope.slots() - first);
  const bool keys = PI::has_keys(p);
  const size_t string_slots = PI::string_slots(p);
  if (string_slots == 0 && !keys) return most;
  size_t bytes = 0;
  for (size_t n = 0; n < most; ++n) {
    const DealIndex d = scope.deal(first + n);
    for (size_t s = 0; s < string_slots; ++s) {
      bytes += PI::string_value(p, static_cast<uint16_t>(s), d).size();
    }
    if (keys) {
      if (const std::optional<absl::string_view> key = PI::key_of(p, d)) bytes += key->size();
    }
    if (bytes > kChunkStringBytes) return std::max<size_t>(n, 1);
  }
  return most;
}

// The funnel counters of a part: with the counters, the pipeline's, less
// what its other live deals hold that a move takes back (they go with those
// deals); without, only what the part's own deals hold. The parts of one
// split, one of them counted, add up to the pipeline's counters.
FunnelAccumulator CountersOfPart(const Pipeline& p, const FunnelAccumulator& whole,
                                 const Part& part) {
  FunnelAccumulator out(p.machine(), whole.cohort());
  if (!part.counted) {
    // The latest time seen, which merging takes the largest of, is the
    // pipeline's whichever part has the counters.
    if (whole.has_latest()) out.RestoreLatest(whole.latest());
    for (const DealIndex d : part.deals) out.ShareLive(whole, d, 1);
    return out;
  }
  out.MergeCounters(whole);
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    if (p.Contains(d) && !part.member[d]) out.ShareLive(whole, d, -1);
  }
  return out;
}

// `part`: null for the whole pipeline.
absl::Status Save(const Pipeline& p, FrameWriter* w, const Part* part = nullptr) {
  const Scope scope{p, part == nullptr ? nullptr : &part->deals};
  const bool counted = part == nullptr || part->counted;
  SC_RETURN_IF_ERROR(
      w->Write(absl::string_view(kPipelineMagic, sizeof kPipelineMagic)));
  v1::PipelineFrame frame;
  std::vector<uint32_t> reason_ids;
  *frame.mutable_header() = Header(scope, counted, SnapshotReasons(scope, &reason_ids));
  SC_RETURN_IF_ERROR(w->WriteFrame(frame));
  uint64_t chunks = 0;
  for (size_t first = 0; first < scope.slots(); ++chunks) {
    const size_t n = ChunkLength(scope, first);
    v1::PipelineChunk* chunk = frame.mutable_chunk();
    chunk->Clear();
    chunk->set_first_slot(first);
    const ChunkWriteContext context{p, first, n, chunk, reason_ids, scope.part};
    for (const ChunkColumn& column : ChunkColumns()) column.write(context);
    SC_RETURN_IF_ERROR(w->WriteFrame(frame));
    first += n;
  }
  if (const FunnelAccumulator* funnel = PI::analytics(p); funnel != nullptr) {
    if (part == nullptr) {
      WriteFunnelFrame(*funnel, frame.mutable_funnel());
    } else {
      WriteFunnelFrame(CountersOfPart(p, *funnel, *part), frame.mutable_funnel());
    }
    SC_RETURN_IF_ERROR(w->WriteFrame(frame));
  }
  v1::PipelineTrailer* t = frame.mutable_trailer();
  t->set_slot_count(scope.slots());
  t->set_deal_count(scope.deals());
  t->set_chunk_count(chunks);
  if (part == nullptr) {
    for (int s = 0; s < p.machine().num_stages(); ++s) {
      t->add_stage_counts(p.StageCount(static_cast<StageId>(s)));
    }
  } else {
    std::vector<uint64_t> counts(p.machine().num_stages(), 0);
    for (const DealIndex d : part->deals) ++counts[p.stage(d)];
    for (const uint64_t n : counts) t->add_stage_counts(n);
  }
  return w->WriteFrame(frame);
}

// ---- reading

// Declared sizes, against the input and the limits, before anything sized
// by them is allocated.
absl::Status CheckDeclaredSizes(const v1::PipelineHeader& header,
                                const FrameReader& in, const Limits& limits,
                                const std::string& name) {
  SC_RETURN_IF_ERROR(CheckFormatVersion(header.format_version(), name));
  const uint64_t max_slots =
      std::min<uint64_t>(limits.max_snapshot_deals, kNoDeal - 1);
  if (header.slot_count() > max_slots) {
    return LimitError(name,
                      absl::StrCat("declares ", header.slot_count(), " slots"),
                      "max_snapshot_deals", max_slots);
  }
  if (header.deal_count() > header.slot_count()) {
    return in.DataLoss(absl::StrCat("declares ", header.deal_count(),
                                    " deals in ", header.slot_count(), " slots"));
  }
  // Every slot takes at least one byte of the stage column, so a size past
  // what is left is a lie, found before reserving for it.
  const std::optional<uint64_t> left = in.Remaining();
  if (left && header.slot_count() > *left) {
    return in.DataLoss(absl::StrCat("declares ", header.slot_count(),
                                    " slots but only ", *left, " bytes follow"));
  }
  SC_RETURN_IF_ERROR(CheckHistoryLength(header.history_limit(), limits, name));
  const uint64_t entries = header.slot_count() * header.history_limit();
  if (entries > limits.max_history_entries) {
    return LimitError(
        name,
        absl::StrCat("declares ", header.slot_count(), " slots with a history of ",
                     header.history_limit(), ", ", entries, " entries"),
        "max_history_entries", limits.max_history_entries);
  }
  if (header.stages_size() > kMaxStages || header.events_size() > kMaxEvents ||
      header.attributes_size() > kMaxAttributes) {
    return in.DataLoss("more stages, events or attributes than a machine has");
  }
  // The spec is bounded by max_spec_bytes when it is compiled.
  return CheckStringLengths(
      header, limits.max_string_length, name,
      v1::PipelineHeader::descriptor()->FindFieldByName("machine_spec"));
}

// The header's names mapped onto `machine` (through migrations).
absl::StatusOr<NameMapping> MapNames(const v1::PipelineHeader& header,
                                     const FrameReader& in,
                                     const Machine& machine,
                                     const RestoreOptions& options) {
  std::vector<SnapshotAttribute> attributes;
  for (const auto& a : header.attributes()) {
    const std::optional<AttributeType> type = FromProto(a.type());
    if (!type) {
      return in.DataLoss(absl::StrCat("attribute \"", a.name(),
                                      "\" has no known type (", a.type(), ")"));
    }
    attributes.push_back(SnapshotAttribute{a.name(), *type});
  }
  const v1::MachineIdentity& id = header.machine();
  return NameMapper::Map(
      SnapshotIdentity{id.name(), id.version(), id.fingerprint()},
      std::vector<std::string>(header.stages().begin(), header.stages().end()),
      std::vector<std::string>(header.events().begin(), header.events().end()),
      attributes, machine, options);
}

// The machine the snapshot carries, compiled within the caller's limits.
absl::StatusOr<std::shared_ptr<const Machine>> CarriedMachine(
    const v1::PipelineHeader& header, const std::string& name,
    const Limits& limits) {
  if (header.machine_spec().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, ": the snapshot carries no machine spec; give the machine"));
  }
  CompileOptions compile;
  compile.source_name = absl::StrCat(name, ": the snapshot's machine");
  compile.limits = limits;
  return Machine::FromTextProto(header.machine_spec(), compile);
}

// `base`: the slots `p` held before this snapshot's (LoadPipelines appends
// each snapshot's slots after the ones before).
absl::Status ReadChunk(const v1::PipelineChunk& chunk,
                       const v1::PipelineHeader& header, const NameMapping& map,
                       const Limits& limits, uint64_t index, size_t base, Pipeline* p) {
  ChunkReadContext c{chunk, header, map, limits, index, p->slot_count(),
                     static_cast<size_t>(chunk.stages_size()), p};
  for (const ChunkColumn& column : ChunkColumns()) {
    if (column.check != nullptr) SC_RETURN_IF_ERROR(column.check(c));
  }
  if (chunk.first_slot() != c.first - base) {
    return c.Error(absl::StrCat("starts at slot ", chunk.first_slot(),
                                ", expected ", c.first - base));
  }
  if (c.n == 0 || c.first - base + c.n > header.slot_count()) {
    return c.Error(absl::StrCat("holds ", c.n, " slots from slot ", c.first - base,
                                " of ", header.slot_count()));
  }
  PI::AppendEmptySlots(p, c.n);
  for (const ChunkColumn& column : ChunkColumns()) {
    SC_RETURN_IF_ERROR(column.read(&c));
  }
  return absl::OkStatus();
}

// What `p` held before a snapshot was appended to it: the trailer's
// totals are checked against what the snapshot added.
struct Before {
  size_t slots = 0;
  size_t deals = 0;
  std::vector<uint64_t> stage_counts;

  explicit Before(const Pipeline& p)
      : slots(p.slot_count()), deals(p.size()), stage_counts(p.machine().num_stages()) {
    for (int s = 0; s < p.machine().num_stages(); ++s) {
      stage_counts[s] = p.StageCount(static_cast<StageId>(s));
    }
  }
};

// The trailer's totals against the header's and what was read.
absl::Status CheckTotals(const v1::PipelineTrailer& trailer,
                         const v1::PipelineHeader& header, uint64_t chunks,
                         const NameMapping& map, const FrameReader& in,
                         const Before& before, const Pipeline& p) {
  const size_t slots = p.slot_count() - before.slots, deals = p.size() - before.deals;
  if (trailer.slot_count() != header.slot_count() || slots != header.slot_count() ||
      trailer.deal_count() != header.deal_count() || deals != header.deal_count() ||
      trailer.chunk_count() != chunks) {
    return in.DataLoss(absl::StrCat(
        "totals do not add up: header ", header.slot_count(), " slots / ",
        header.deal_count(), " deals, trailer ", trailer.slot_count(), " / ",
        trailer.deal_count(), " in ", trailer.chunk_count(), " chunks, read ",
        slots, " / ", deals, " in ", chunks));
  }
  if (trailer.stage_counts_size() != header.stages_size()) {
    return in.DataLoss("the trailer's stage counts do not match the stages");
  }
  const Machine& machine = p.machine();
  std::vector<uint64_t> expected(machine.num_stages(), 0);
  for (int s = 0; s < trailer.stage_counts_size(); ++s) {
    if (trailer.stage_counts(s) == 0) continue;
    if (map.stages[s] == kNoStage) return map.MissingStage(s);
    expected[map.stages[s]] += trailer.stage_counts(s);
  }
  for (int s = 0; s < machine.num_stages(); ++s) {
    const uint64_t read = p.StageCount(static_cast<StageId>(s)) - before.stage_counts[s];
    if (expected[s] != read) {
      return in.DataLoss(absl::StrCat("stage \"", machine.stage(s).id,
                                      "\" holds ", read,
                                      " deals; the trailer says ", expected[s]));
    }
  }
  return absl::OkStatus();
}

// Chunks until the trailer, then the totals and the end of the input.
// `appended`: `p` held deals of earlier snapshots (LoadPipelines), whose
// funnel counters this snapshot's add to. `index_keys`: index the deals'
// ids and keys once the chunks are read; false when the caller does it
// after more snapshots (LoadPipelines: once for all its parts, not once
// for each over every deal so far).
absl::Status ReadBody(FrameReader* in, const v1::PipelineHeader& header,
                      const NameMapping& map, const Limits& limits, bool appended,
                      bool index_keys, Pipeline* p) {
  const Before before(*p);
  v1::PipelineFrame frame;
  uint64_t chunks = 0;
  while (true) {
    SC_ASSIGN_OR_RETURN(const bool more, in->Next(&frame));
    if (!more) {
      return in->DataLoss(absl::StrCat("truncated: the input ends after frame ",
                                       in->frames() - 1, ", before the trailer"));
    }
    if (!frame.has_chunk()) break;
    SC_RETURN_IF_ERROR(
        ReadChunk(frame.chunk(), header, map, limits, chunks++, before.slots, p));
  }
  if (index_keys) {
    if (const std::optional<std::string> repeated = PI::IndexIdsAndKeys(p)) {
      return in->DataLoss(*repeated);
    }
  }
  if (header.has_funnel()) {
    if (!frame.has_funnel()) {
      return in->DataLoss("the header declares a funnel, but no funnel frame follows the chunks");
    }
    const DataLossError data_loss = [in](absl::string_view what) { return in->DataLoss(what); };
    FunnelAccumulator* funnel = PI::mutable_analytics(p);
    if (!appended) {
      SC_RETURN_IF_ERROR(ReadFunnelFrame(frame.funnel(), header, map, data_loss, funnel));
    } else {
      FunnelAccumulator counters(p->machine(), funnel->cohort());
      SC_RETURN_IF_ERROR(ReadFunnelFrame(frame.funnel(), header, map, data_loss, &counters));
      funnel->MergeCounters(counters);
    }
    SC_ASSIGN_OR_RETURN(const bool more, in->Next(&frame));
    if (!more) {
      return in->DataLoss("truncated: the input ends after the funnel, before the trailer");
    }
  }
  if (frame.has_funnel()) {
    return in->DataLoss(header.has_funnel() ? "a second funnel frame"
                                            : "a funnel frame, but the header declares none");
  }
  if (!frame.has_trailer()) return in->DataLoss("a second header");
  PI::FinishLoad(p);
  SC_RETURN_IF_ERROR(CheckTotals(frame.trailer(), header, chunks, map, *in, before, *p));
  SC_ASSIGN_OR_RETURN(const bool at_end, in->AtEnd());
  if (!at_end) return in->DataLoss("bytes follow the trailer");
  return absl::OkStatus();
}

// The pipeline options a snapshot's header asks for.
absl::StatusOr<PipelineOptions> OptionsOf(const v1::PipelineHeader& header,
                                          const FrameReader& in) {
  PipelineOptions options;
  options.history_limit = header.history_limit();
  if (header.has_funnel()) {
    // The funnel comes back as it was saved, with the cohorts it kept.
    if (header.funnel().cohort() > static_cast<uint32_t>(Cohort::kQuarter)) {
      return in.DataLoss(
          absl::StrCat("the funnel's cohort kind ", header.funnel().cohort(), " is unknown"));
    }
    options.analytics.enabled = true;
    options.analytics.cohort = static_cast<Cohort>(header.funnel().cohort());
  }
  return options;
}

// Reads one snapshot: into a new pipeline when `*p` holds none (a null
// `machine` then means the one the snapshot carries), else appended to
// `*p` (LoadPipelines), whose machine it is mapped onto and whose history
// limit and funnel cohorts it must have. `index_keys` as for ReadBody.
absl::Status Load(ByteSource* source, const std::string& name,
                  std::shared_ptr<const Machine> machine,
                  const RestoreOptions& options, std::optional<Pipeline>* p,
                  bool index_keys) {
  FrameReader in(source, name);
  SC_RETURN_IF_ERROR(in.ReadMagic(
      absl::string_view(kPipelineMagic, sizeof kPipelineMagic),
      "pipeline snapshot"));
  v1::PipelineFrame frame;
  SC_ASSIGN_OR_RETURN(const bool any, in.Next(&frame));
  if (!any || !frame.has_header()) {
    return in.DataLoss("the first frame is not a header");
  }
  const v1::PipelineHeader header = std::move(*frame.mutable_header());
  SC_RETURN_IF_ERROR(CheckDeclaredSizes(header, in, options.limits, name));
  const bool appended = p->has_value();
  if (appended) {
    machine = (*p)->machine_ptr();
  } else if (machine == nullptr) {
    SC_ASSIGN_OR_RETURN(machine, CarriedMachine(header, name, options.limits));
  }
  SC_ASSIGN_OR_RETURN(const NameMapping map,
                      MapNames(header, in, *machine, options));
  SC_ASSIGN_OR_RETURN(PipelineOptions pipeline_options, OptionsOf(header, in));
  if (appended) {
    const Pipeline& into = **p;
    const FunnelAccumulator* funnel = PI::analytics(into);
    const bool same_funnel =
        pipeline_options.analytics.enabled == (funnel != nullptr) &&
        (funnel == nullptr || pipeline_options.analytics.cohort == funnel->cohort());
    if (pipeline_options.history_limit != PI::history_limit(into) || !same_funnel) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, ": cannot join a pipeline with ",
          pipeline_options.history_limit, " history entries a deal and ",
          pipeline_options.analytics.enabled ? "funnel tracking" : "no funnel tracking",
          " to the snapshots before it, with ", PI::history_limit(into), " and ",
          funnel != nullptr ? "funnel tracking" : "none",
          " (the funnels' cohort kinds must match too)"));
    }
    const uint64_t max_slots = std::min<uint64_t>(options.limits.max_snapshot_deals, kNoDeal - 1);
    if (into.slot_count() + header.slot_count() > max_slots) {
      return LimitError(name,
                        absl::StrCat("brings the slots to ", into.slot_count() + header.slot_count()),
                        "max_snapshot_deals", max_slots);
    }
  } else {
    // Reserve exactly when the declared size is known to be honest
    // (bounded by the input's size); otherwise grow as chunks arrive.
    if (in.Remaining() || header.slot_count() <= (1u << 20)) {
      pipeline_options.expected_deals = header.slot_count();
    }
    SC_ASSIGN_OR_RETURN(Pipeline created, Pipeline::Create(machine, pipeline_options));
    p->emplace(std::move(created));
  }
  Pipeline& into = **p;
  const size_t base = into.slot_count();
  SC_RETURN_IF_ERROR(ReadBody(&in, header, map, options.limits, appended, index_keys, &into));
  for (const v1::SourcePosition& position : header.positions()) {
    if (absl::Status s = PI::RestorePosition(&into, position.source(), position.next_offset());
        !s.ok()) {
      return in.DataLoss(absl::StrCat("input position: ", s.message()));
    }
  }
  for (const auto& [id, value] : map.added) {
    for (DealIndex d = static_cast<DealIndex>(base); d < into.slot_count(); ++d) {
      if (into.Contains(d)) SC_RETURN_IF_ERROR(into.Set(d, id, value));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The friend of SnapshotSource: picks the byte source.
class PipelineLoader {
 public:
  // One snapshot into `*p` (see internal::Load).
  static absl::Status Load(const SnapshotSource& source,
                           std::shared_ptr<const Machine> machine,
                           const RestoreOptions& options, std::optional<Pipeline>* p,
                           bool index_keys = true) {
    if (source.has_bytes_) {
      BytesSource bytes(source.bytes_);
      return internal::Load(&bytes, "<bytes>", std::move(machine), options, p, index_keys);
    }
    if (source.stream_ != nullptr) {
      StreamSource stream(source.stream_, "<stream>");
      return internal::Load(&stream, "<stream>", std::move(machine), options, p, index_keys);
    }
    std::ifstream file(source.path_, std::ios::binary);
    if (!file.is_open()) {
      return ErrnoError(absl::StrCat(source.path_, ": cannot read"), errno);
    }
    StreamSource stream(&file, source.path_);
    return internal::Load(&stream, source.path_, std::move(machine), options, p, index_keys);
  }
  static absl::StatusOr<Pipeline> Load(const SnapshotSource& source,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options) {
    std::optional<Pipeline> p;
    SC_RETURN_IF_ERROR(Load(source, std::move(machine), options, &p));
    return *std::move(p);
  }
};

// The friend of SnapshotSink: picks the writer. `part` as for Save.
class PipelineSaver {
 public:
  static absl::Status Save(const Pipeline& p, const SnapshotSink& sink,
                           const Part* part = nullptr) {
    if (sink.bytes_ != nullptr) {
      StringWriter writer(sink.bytes_);
      return internal::Save(p, &writer, part);
    }
    if (sink.stream_ != nullptr) {
      StreamWriter writer(sink.stream_);
      return internal::Save(p, &writer, part);
    }
    FileWriter writer(sink.path_);
    SC_RETURN_IF_ERROR(writer.Open());
    SC_RETURN_IF_ERROR(internal::Save(p, &writer, part));
    return writer.Commit();
  }
};

}  // namespace internal

absl::Status SavePipeline(const Pipeline& pipeline, const SnapshotSink& sink) {
  return internal::PipelineSaver::Save(pipeline, sink);
}

absl::StatusOr<Pipeline> LoadPipeline(const SnapshotSource& source,
                                      std::shared_ptr<const Machine> machine,
                                      const RestoreOptions& options) {
  if (machine == nullptr) {
    return absl::InvalidArgumentError("LoadPipeline: machine is null");
  }
  return internal::PipelineLoader::Load(source, std::move(machine), options);
}

absl::StatusOr<Pipeline> LoadPipeline(const SnapshotSource& source,
                                      const RestoreOptions& options) {
  return internal::PipelineLoader::Load(source, nullptr, options);
}

absl::Status SavePipelinePart(const Pipeline& pipeline, absl::Span<const DealIndex> deals,
                              PartCounters counters, const SnapshotSink& sink) {
  internal::Part part{std::vector<DealIndex>(deals.begin(), deals.end()),
                      std::vector<bool>(pipeline.slot_count(), false),
                      counters == PartCounters::kWithCounters};
  for (size_t i = 0; i < deals.size(); ++i) {
    const DealIndex d = deals[i];
    if (!pipeline.Contains(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SavePipelinePart: deals[", i, "] = ", d, " is not a live deal"));
    }
    if (part.member[d]) {
      return absl::InvalidArgumentError(
          absl::StrCat("SavePipelinePart: deals[", i, "] = ", d, " is given twice"));
    }
    part.member[d] = true;
  }
  // A deal whose cycle is counted in order at a place it did not keep
  // (FunnelAccumulator::kUnknownInOrder) cannot take that count along:
  // moving it would leave the count behind, uncounted where it goes. The
  // deals that move are the part's, or, for the part with the counters,
  // all the others.
  if (const internal::FunnelAccumulator* funnel = internal::PipelineInternal::analytics(pipeline)) {
    for (DealIndex d = 0; d < pipeline.slot_count(); ++d) {
      if (pipeline.Contains(d) && part.member[d] != part.counted &&
          internal::FunnelAccumulator::InOrderMark(funnel->flags(d)) ==
              internal::FunnelAccumulator::kUnknownInOrder) {
        return absl::FailedPreconditionError(absl::StrCat(
            "SavePipelinePart: deal ", d,
            " cannot move: its cycle went out of order past the 30th stage of the funnel "
            "line, or was restored from a snapshot older than format 5, and where it stays "
            "counted in order is not kept (it can move once it starts a new cycle)"));
      }
    }
  }
  return internal::PipelineSaver::Save(pipeline, sink, &part);
}

absl::StatusOr<Pipeline> LoadPipelines(absl::Span<const SnapshotSource> sources,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options) {
  if (machine == nullptr) {
    return absl::InvalidArgumentError("LoadPipelines: machine is null");
  }
  if (sources.empty()) {
    return absl::InvalidArgumentError("LoadPipelines: no snapshots");
  }
  std::optional<Pipeline> p;
  for (size_t i = 0; i < sources.size(); ++i) {
    // Bytes and streams have no name of their own: say which one it was.
    if (absl::Status s = internal::PipelineLoader::Load(sources[i], machine, options, &p,
                                                        /*index_keys=*/false);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("LoadPipelines: snapshot ", i, " of ",
                                                 sources.size(), ": ", s.message()));
    }
  }
  // Once for all the parts' ids and keys: a key in two parts is found here
  // as one twice in a part is.
  if (const std::optional<std::string> repeated = internal::PipelineInternal::IndexIdsAndKeys(&*p)) {
    return absl::DataLossError(
        absl::StrCat("LoadPipelines: ", *repeated, " in the ", sources.size(), " snapshots"));
  }
  return *std::move(p);
}

absl::Status LoadPipelineInto(const SnapshotSource& source, Pipeline* pipeline,
                              const RestoreOptions& options) {
  if (pipeline == nullptr) {
    return absl::InvalidArgumentError("LoadPipelineInto: pipeline is null");
  }
  SC_ASSIGN_OR_RETURN(Pipeline loaded,
                      LoadPipeline(source, pipeline->machine_ptr(), options));
  internal::PipelineInternal::ReplaceKeepingObservers(pipeline,
                                                      std::move(loaded));
  return absl::OkStatus();
}

}  // namespace salescycle
