#include "src/pipeline_columns.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/core.h"
#include "src/funnel_snapshot.h"
#include "src/pipeline_internal.h"
#include "src/proto_convert.h"
#include "src/snapshot_format.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

absl::Status ChunkReadContext::Error(absl::string_view what) const {
  return absl::DataLossError(
      absl::StrCat("pipeline snapshot chunk ", index, ": ", what));
}

namespace {

using google::protobuf::RepeatedField;
using PI = PipelineInternal;

DealIndex Slot(size_t first, size_t i) {
  return static_cast<DealIndex>(first + i);
}

// ---- sparse columns: the chunk offsets of the live deals they cover,
// increasing, each stored as the difference from the previous (the first
// from -1), so that every delta is at least 1.

// Writes the offsets of the live deals where `has(deal)` holds, and calls
// `each(deal)` for each, in order, to write its value.
template <typename Has, typename Each>
void WriteOffsets(const ChunkWriteContext& c, Has&& has,
                  RepeatedField<uint32_t>* out, Each&& each) {
  int64_t last = -1;
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    if (!c.pipeline.Contains(d) || !has(d)) continue;
    out->Add(static_cast<uint32_t>(static_cast<int64_t>(i) - last));
    last = static_cast<int64_t>(i);
    each(d);
  }
}

// Walks the offsets: each must name a live deal of the chunk, after the one
// before. Calls `each(deal, k)` for the k-th.
template <typename Each>
absl::Status ReadOffsets(const ChunkReadContext& c,
                         const RepeatedField<uint32_t>& deltas,
                         absl::string_view what, Each&& each) {
  int64_t offset = -1;
  for (int k = 0; k < deltas.size(); ++k) {
    offset += deltas[k];
    if (deltas[k] == 0 || offset >= static_cast<int64_t>(c.n) ||
        !c.pipeline->Contains(Slot(c.first, static_cast<size_t>(offset)))) {
      return c.Error(
          absl::StrCat(what, " offset ", offset, " is not a live deal"));
    }
    SC_RETURN_IF_ERROR(each(Slot(c.first, static_cast<size_t>(offset)), k));
  }
  return absl::OkStatus();
}

// Strings are checked field by field rather than by reflection, which cost
// a keyed load 5-10%; a test holds the chunk's .proto to the fields checked.
template <typename Strings>
absl::Status CheckLengths(const ChunkReadContext& c, const Strings& strings,
                          absl::string_view field) {
  const size_t max = c.limits.max_string_length;
  for (int i = 0; i < strings.size(); ++i) {
    if (strings[i].size() > max) {
      return LimitError(
          absl::StrCat("pipeline snapshot chunk ", c.index),
          absl::StrCat(field, "[", i, "] is ", strings[i].size(), " bytes"),
          "max_string_length", max);
    }
  }
  return absl::OkStatus();
}

// ---- stage: one per slot (snapshot_format.h: EncodeSlotStage).

void WriteStages(const ChunkWriteContext& c) {
  const uint32_t stages = static_cast<uint32_t>(c.pipeline.machine().num_stages());
  auto* out = c.chunk->mutable_stages();
  out->Reserve(static_cast<int>(c.n));
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    out->AddAlreadyReserved(EncodeSlotStage(
        c.pipeline.Contains(d) ? std::optional<StageId>(c.pipeline.stage(d))
                               : std::nullopt,
        stages));
  }
}

absl::Status ReadStages(ChunkReadContext* c) {
  const uint32_t stages = static_cast<uint32_t>(c->header.stages_size());
  for (size_t i = 0; i < c->n; ++i) {
    const uint32_t wire = c->chunk.stages(static_cast<int>(i));
    std::optional<uint32_t> stage;
    if (!DecodeSlotStage(wire, stages, &stage)) {
      return c->Error(absl::StrCat("slot ", c->first + i, " has stage ", wire,
                                   " of ", stages));
    }
    if (!stage) continue;
    if (c->map.stages[*stage] == kNoStage) return c->map.MissingStage(*stage);
    PI::SetStage(c->pipeline, Slot(c->first, i), c->map.stages[*stage]);
    ++c->live;
  }
  return absl::OkStatus();
}

// ---- entered_at: one per live deal, delta-coded from the live deal before.

void WriteEnteredAt(const ChunkWriteContext& c) {
  auto* out = c.chunk->mutable_entered_at_deltas();
  out->Reserve(static_cast<int>(c.n));
  int64_t previous = 0;
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    if (!c.pipeline.Contains(d)) continue;
    out->AddAlreadyReserved(EncodeDelta(c.pipeline.entered_at(d), previous));
    previous = c.pipeline.entered_at(d);
  }
}

absl::Status ReadEnteredAt(ChunkReadContext* c) {
  const auto& deltas = c->chunk.entered_at_deltas();
  if (static_cast<size_t>(deltas.size()) != c->live) {
    return c->Error(absl::StrCat(deltas.size(), " entry times for ", c->live,
                                 " live deals"));
  }
  int64_t previous = 0;
  int k = 0;
  for (size_t i = 0; i < c->n; ++i) {
    const DealIndex d = Slot(c->first, i);
    if (!c->pipeline->Contains(d)) continue;
    previous = DecodeDelta(previous, deltas[k++]);
    PI::SetEnteredAt(c->pipeline, d, previous);
  }
  return absl::OkStatus();
}

// ---- attributes: a sparse column per attribute set on any deal of the
// chunk, its values in the list of the attribute's type.

void WriteAttributeValue(const Pipeline& p, AttributeType type, uint16_t slot,
                         DealIndex d, v1::AttributeColumn* column) {
  switch (type) {
    case AttributeType::kInt64:
      column->add_int64_values(static_cast<int64_t>(PI::scalar_bits(p, slot, d)));
      break;
    case AttributeType::kDouble:
      column->add_double_values(BitsDouble(PI::scalar_bits(p, slot, d)));
      break;
    case AttributeType::kBool:
      column->add_bool_values(PI::scalar_bits(p, slot, d) != 0);
      break;
    case AttributeType::kString:
      column->add_string_values(PI::string_value(p, slot, d));
      break;
  }
}

void WriteAttributes(const ChunkWriteContext& c) {
  const Machine& m = c.pipeline.machine();
  for (AttributeId a = 0; a < m.num_attributes(); ++a) {
    const AttributeType type = m.attribute(a).type;
    const uint16_t slot = Core::Slot(m, a);
    v1::AttributeColumn column;
    column.set_attribute(a);
    WriteOffsets(
        c, [&](DealIndex d) { return c.pipeline.IsSet(d, a); },
        column.mutable_set_offset_deltas(), [&](DealIndex d) {
          WriteAttributeValue(c.pipeline, type, slot, d, &column);
        });
    if (!column.set_offset_deltas().empty()) {
      *c.chunk->add_attributes() = std::move(column);
    }
  }
}

absl::Status CheckAttributes(const ChunkReadContext& c) {
  for (int a = 0; a < c.chunk.attributes_size(); ++a) {
    SC_RETURN_IF_ERROR(
        CheckLengths(c, c.chunk.attributes(a).string_values(),
                     absl::StrCat("attributes[", a, "].string_values")));
  }
  return absl::OkStatus();
}

// How many values of `type` the column holds.
int ValueCount(const v1::AttributeColumn& column, AttributeType type) {
  switch (type) {
    case AttributeType::kInt64: return column.int64_values_size();
    case AttributeType::kDouble: return column.double_values_size();
    case AttributeType::kBool: return column.bool_values_size();
    case AttributeType::kString: return column.string_values_size();
  }
  return 0;
}

// A column's values are all of the header's type, one per set deal.
absl::Status CheckValueCounts(const ChunkReadContext& c,
                              const v1::AttributeColumn& column,
                              AttributeType type) {
  const int count = column.set_offset_deltas_size();
  for (AttributeType t : {AttributeType::kInt64, AttributeType::kDouble,
                          AttributeType::kBool, AttributeType::kString}) {
    const int values = ValueCount(column, t);
    if (values != (t == type ? count : 0)) {
      return c.Error(absl::StrCat(
          "attribute \"", c.header.attributes(column.attribute()).name(),
          "\" has ", values, " ", AttributeTypeName(t), " values for ", count,
          " deals"));
    }
  }
  return absl::OkStatus();
}

void ReadAttributeValue(Pipeline* p, AttributeType type, uint16_t slot,
                        DealIndex d, const v1::AttributeColumn& column, int k) {
  switch (type) {
    case AttributeType::kInt64:
      PI::SetScalarBits(p, slot, d, static_cast<uint64_t>(column.int64_values(k)));
      break;
    case AttributeType::kDouble:
      PI::SetScalarBits(p, slot, d, DoubleBits(column.double_values(k)));
      break;
    case AttributeType::kBool:
      PI::SetScalarBits(p, slot, d, column.bool_values(k) ? 1 : 0);
      break;
    case AttributeType::kString:
      PI::SetString(p, slot, d, column.string_values(k));
      break;
  }
}

absl::Status ReadAttributes(ChunkReadContext* c) {
  for (const v1::AttributeColumn& column : c->chunk.attributes()) {
    const uint32_t a = column.attribute();
    if (a >= static_cast<uint32_t>(c->header.attributes_size())) {
      return c->Error(absl::StrCat("attribute ", a, " of ",
                                   c->header.attributes_size()));
    }
    // The header's types were checked when it was read.
    const AttributeType type = *FromProto(c->header.attributes(a).type());
    SC_RETURN_IF_ERROR(CheckValueCounts(*c, column, type));
    const AttributeId id = c->map.attributes[a];
    if (id == kNoAttribute) {
      if (c->map.attribute_dropped[a]) continue;
      return c->map.MissingAttribute(a);
    }
    const uint16_t slot = Core::Slot(c->pipeline->machine(), id);
    SC_RETURN_IF_ERROR(ReadOffsets(
        *c, column.set_offset_deltas(), "attribute", [&](DealIndex d, int k) {
          ReadAttributeValue(c->pipeline, type, slot, d, column, k);
          PI::MarkSet(c->pipeline, id, d);
          return absl::OkStatus();
        }));
  }
  return absl::OkStatus();
}

// ---- external ids and keys: sparse columns, each unique in the pipeline.

void WriteIds(const ChunkWriteContext& c) {
  if (!PI::has_ids(c.pipeline)) return;
  WriteOffsets(
      c, [&](DealIndex d) { return PI::id_of(c.pipeline, d).has_value(); },
      c.chunk->mutable_id_offset_deltas(),
      [&](DealIndex d) { c.chunk->add_ids(*PI::id_of(c.pipeline, d)); });
}

absl::Status ReadIds(ChunkReadContext* c) {
  if (c->chunk.id_offset_deltas_size() != c->chunk.ids_size()) {
    return c->Error("external id offsets and ids do not pair up");
  }
  return ReadOffsets(*c, c->chunk.id_offset_deltas(), "id",
                     [&](DealIndex d, int k) {
                       // Two ids of one deal; two deals of one id are
                       // found once every chunk is read (IndexIdsAndKeys).
                       if (PI::AddIdUnindexed(c->pipeline, d, c->chunk.ids(k))) {
                         return absl::OkStatus();
                       }
                       return c->Error(absl::StrCat("deal ", d - c->first + c->chunk.first_slot(),
                                                    " has two ids"));
                     });
}

void WriteKeys(const ChunkWriteContext& c) {
  if (!PI::has_keys(c.pipeline)) return;
  WriteOffsets(
      c, [&](DealIndex d) { return PI::key_of(c.pipeline, d).has_value(); },
      c.chunk->mutable_key_offset_deltas(),
      [&](DealIndex d) { c.chunk->add_keys(std::string(*PI::key_of(c.pipeline, d))); });
}

absl::Status CheckKeys(const ChunkReadContext& c) {
  return CheckLengths(c, c.chunk.keys(), "keys");
}

absl::Status ReadKeys(ChunkReadContext* c) {
  if (c->chunk.key_offset_deltas_size() != c->chunk.keys_size()) {
    return c->Error("external key offsets and keys do not pair up");
  }
  return ReadOffsets(*c, c->chunk.key_offset_deltas(), "key",
                     [&](DealIndex d, int k) {
                       if (PI::AddKeyUnindexed(c->pipeline, d, c->chunk.keys(k))) {
                         return absl::OkStatus();
                       }
                       return c->Error(absl::StrCat("deal ", d - c->first + c->chunk.first_slot(),
                                                    " has two keys"));
                     });
}

// ---- timeout state: a sparse column of the deals whose stage timeout fired
// and was rejected (it is not fired again until they move).

void WriteTimeoutConsumed(const ChunkWriteContext& c) {
  WriteOffsets(
      c, [&](DealIndex d) { return PI::timeout_consumed(c.pipeline, d); },
      c.chunk->mutable_timeout_consumed_offset_deltas(), [](DealIndex) {});
}

absl::Status ReadTimeoutConsumed(ChunkReadContext* c) {
  return ReadOffsets(*c, c->chunk.timeout_consumed_offset_deltas(), "timeout",
                     [&](DealIndex d, int) {
                       PI::SetTimeoutConsumed(c->pipeline, d);
                       return absl::OkStatus();
                     });
}

// ---- history: per live deal the steps ever recorded, then the kept
// entries of every live deal in order, oldest first, in parallel columns.

void WriteHistory(const ChunkWriteContext& c) {
  const Pipeline& p = c.pipeline;
  if (PI::history_limit(p) == 0) return;
  const uint32_t events = static_cast<uint32_t>(p.machine().num_events());
  v1::PipelineChunk* out = c.chunk;
  int64_t previous_time = 0;
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    if (!p.Contains(d)) continue;
    out->add_history_counts(PI::history_count(p, d));
    for (const HistoryEntry& e : p.History(d)) {
      out->add_history_time_deltas(EncodeDelta(e.time, previous_time));
      previous_time = e.time;
      out->add_history_events(EncodeHistoryEvent(e.event, events));
      out->add_history_from(e.from);
      out->add_history_to(e.to);
      out->add_history_outcomes(EncodeChunkOutcome(e.outcome, e.by_timeout));
    }
  }
}

// The columns agree in length, and with the snapshot's history limit.
absl::Status CheckHistoryShape(const ChunkReadContext& c) {
  const v1::PipelineChunk& h = c.chunk;
  const int entries = h.history_time_deltas_size();
  if (h.history_events_size() != entries || h.history_from_size() != entries ||
      h.history_to_size() != entries || h.history_outcomes_size() != entries) {
    return c.Error("history columns differ in length");
  }
  if (PI::history_limit(*c.pipeline) == 0) {
    if (entries != 0 || h.history_counts_size() != 0) {
      return c.Error("history in a snapshot without history");
    }
    return absl::OkStatus();
  }
  if (static_cast<size_t>(h.history_counts_size()) != c.live) {
    return c.Error(absl::StrCat(h.history_counts_size(),
                                " history counts for ", c.live, " live deals"));
  }
  return absl::OkStatus();
}

// Entry `k` of the chunk, mapped onto the target machine.
absl::Status ReadHistoryEntry(const ChunkReadContext& c, int k,
                              int64_t* previous_time, HistoryEntry* e) {
  const v1::PipelineChunk& h = c.chunk;
  const uint32_t stages = static_cast<uint32_t>(c.header.stages_size());
  std::optional<uint32_t> event, from, to;
  if (!DecodeHistoryEvent(h.history_events(k),
                          static_cast<uint32_t>(c.header.events_size()),
                          &event) ||
      !DecodeSlotStage(h.history_from(k), stages, &from) || !from ||
      !DecodeSlotStage(h.history_to(k), stages, &to) || !to ||
      !DecodeChunkOutcome(h.history_outcomes(k), &e->outcome,
                          &e->by_timeout)) {
    return c.Error(absl::StrCat("history entry ", k, " is out of range"));
  }
  if (c.map.stages[*from] == kNoStage) return c.map.MissingStage(*from);
  if (c.map.stages[*to] == kNoStage) return c.map.MissingStage(*to);
  *previous_time = DecodeDelta(*previous_time, h.history_time_deltas(k));
  e->time = *previous_time;
  e->event = event ? c.map.events[*event] : kNoEvent;
  if (event && e->event == kNoEvent) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot of ", c.map.snapshot, " has history of event \"",
        c.header.events(static_cast<int>(*event)), "\", which ", c.map.target,
        " lacks; rename it in a Migration"));
  }
  e->from = c.map.stages[*from];
  e->to = c.map.stages[*to];
  return absl::OkStatus();
}

absl::Status ReadHistory(ChunkReadContext* c) {
  SC_RETURN_IF_ERROR(CheckHistoryShape(*c));
  const size_t limit = PI::history_limit(*c->pipeline);
  if (limit == 0) return absl::OkStatus();
  const int entries = c->chunk.history_time_deltas_size();
  int k = 0, deal_k = 0;
  int64_t previous_time = 0;
  for (size_t i = 0; i < c->n; ++i) {
    const DealIndex d = Slot(c->first, i);
    if (!c->pipeline->Contains(d)) continue;
    const uint64_t count = c->chunk.history_counts(deal_k++);
    const uint64_t kept = std::min<uint64_t>(count, limit);
    if (kept > static_cast<uint64_t>(entries - k)) {
      return c->Error(absl::StrCat("deal ", d, " keeps ", kept,
                                   " history entries; ", entries - k,
                                   " are left"));
    }
    PI::SetHistoryCount(c->pipeline, d, count);
    HistoryEntry* ring = PI::history_ring(c->pipeline, d);
    for (uint64_t step = count - kept; step < count; ++step, ++k) {
      SC_RETURN_IF_ERROR(
          ReadHistoryEntry(*c, k, &previous_time, &ring[step % limit]));
    }
  }
  if (k != entries) {
    return c->Error(
        absl::StrCat(entries - k, " history entries belong to no deal"));
  }
  return absl::OkStatus();
}

// ---- what the machine keeps beyond the stage (format 2): sparse columns
// of the live deals whose value is not the default, written only when the
// machine keeps it. A snapshot from before (or from a machine that kept
// none) leaves the defaults; a target machine that keeps none ignores them.

// Reads a sparse column of `values`, paired with its offsets, calling
// `each(deal, value)`.
template <typename Values, typename Each>
absl::Status ReadSparse(ChunkReadContext* c,
                        const RepeatedField<uint32_t>& offsets,
                        const Values& values, absl::string_view what,
                        Each&& each) {
  if (offsets.size() != values.size()) {
    return c->Error(absl::StrCat(what, " offsets and values do not pair up"));
  }
  return ReadOffsets(*c, offsets, what, [&](DealIndex d, int k) {
    return each(d, values[k]);
  });
}

void WriteLastActivity(const ChunkWriteContext& c) {
  const Pipeline& p = c.pipeline;
  if (!p.machine().keeps_last_activity()) return;
  WriteOffsets(
      c, [&](DealIndex d) { return p.last_activity(d) != p.entered_at(d); },
      c.chunk->mutable_last_activity_offset_deltas(), [&](DealIndex d) {
        c.chunk->add_last_activity_after_entry(
            EncodeDelta(p.last_activity(d), p.entered_at(d)));
      });
}

absl::Status ReadLastActivity(ChunkReadContext* c) {
  Pipeline* p = c->pipeline;
  if (!p->machine().keeps_last_activity()) return absl::OkStatus();
  // The default first: every live deal last active when it entered.
  for (size_t i = 0; i < c->n; ++i) {
    const DealIndex d = Slot(c->first, i);
    if (p->Contains(d)) PI::SetLastActivity(p, d, p->entered_at(d));
  }
  return ReadSparse(c, c->chunk.last_activity_offset_deltas(),
                    c->chunk.last_activity_after_entry(), "last activity",
                    [&](DealIndex d, int64_t delta) {
                      PI::SetLastActivity(p, d,
                                          DecodeDelta(p->entered_at(d), delta));
                      return absl::OkStatus();
                    });
}

void WriteLossReasons(const ChunkWriteContext& c) {
  const Pipeline& p = c.pipeline;
  if (!p.machine().keeps_loss_reasons()) return;
  WriteOffsets(
      c, [&](DealIndex d) { return PI::loss_reason_id(p, d) != 0; },
      c.chunk->mutable_loss_reason_offset_deltas(), [&](DealIndex d) {
        c.chunk->add_loss_reasons(c.reason_ids[PI::loss_reason_id(p, d)]);
      });
}

absl::Status ReadLossReasons(ChunkReadContext* c) {
  Pipeline* p = c->pipeline;
  if (!p->machine().keeps_loss_reasons()) return absl::OkStatus();
  const auto& reasons = c->header.loss_reasons();
  return ReadSparse(c, c->chunk.loss_reason_offset_deltas(),
                    c->chunk.loss_reasons(), "loss reason",
                    [&](DealIndex d, uint32_t k) {
                      if (k == 0 || k > static_cast<uint32_t>(reasons.size())) {
                        return c->Error(absl::StrCat(
                            "deal ", d, " has loss reason ", k, " of ",
                            reasons.size()));
                      }
                      PI::SetLossReason(p, d, reasons[static_cast<int>(k - 1)]);
                      return absl::OkStatus();
                    });
}

void WriteClosedFrom(const ChunkWriteContext& c) {
  const Pipeline& p = c.pipeline;
  if (!p.machine().keeps_closed_from()) return;
  WriteOffsets(
      c, [&](DealIndex d) { return p.closed_from(d) != kNoStage; },
      c.chunk->mutable_closed_from_offset_deltas(),
      [&](DealIndex d) { c.chunk->add_closed_from(p.closed_from(d)); });
}

absl::Status ReadClosedFrom(ChunkReadContext* c) {
  Pipeline* p = c->pipeline;
  if (!p->machine().keeps_closed_from()) return absl::OkStatus();
  const uint32_t stages = static_cast<uint32_t>(c->header.stages_size());
  return ReadSparse(c, c->chunk.closed_from_offset_deltas(),
                    c->chunk.closed_from(), "closed-from stage",
                    [&](DealIndex d, uint32_t stage) {
                      if (stage >= stages) {
                        return c->Error(absl::StrCat("deal ", d,
                                                     " was closed from stage ",
                                                     stage, " of ", stages));
                      }
                      if (c->map.stages[stage] == kNoStage) {
                        return c->map.MissingStage(stage);
                      }
                      PI::SetClosedFrom(p, d, c->map.stages[stage]);
                      return absl::OkStatus();
                    });
}

void WriteCycles(const ChunkWriteContext& c) {
  const Pipeline& p = c.pipeline;
  if (!p.machine().keeps_cycles()) return;
  WriteOffsets(
      c, [&](DealIndex d) { return p.cycle(d) != 1; },
      c.chunk->mutable_cycle_offset_deltas(),
      [&](DealIndex d) { c.chunk->add_cycles(p.cycle(d)); });
}

absl::Status ReadCycles(ChunkReadContext* c) {
  Pipeline* p = c->pipeline;
  if (!p->machine().keeps_cycles()) return absl::OkStatus();
  return ReadSparse(c, c->chunk.cycle_offset_deltas(), c->chunk.cycles(),
                    "cycle", [&](DealIndex d, uint32_t cycle) {
                      if (cycle == 0) {
                        return c->Error(absl::StrCat("deal ", d,
                                                     " is in cycle 0"));
                      }
                      PI::SetCycle(p, d, cycle);
                      return absl::OkStatus();
                    });
}

constexpr ChunkColumn kColumns[] = {
    {"stages", WriteStages, nullptr, ReadStages},
    {"entered_at", WriteEnteredAt, nullptr, ReadEnteredAt},
    {"attributes", WriteAttributes, CheckAttributes, ReadAttributes},
    {"ids", WriteIds, nullptr, ReadIds},
    {"keys", WriteKeys, CheckKeys, ReadKeys},
    {"timeout_consumed", WriteTimeoutConsumed, nullptr, ReadTimeoutConsumed},
    {"history", WriteHistory, nullptr, ReadHistory},
    {"last_activity", WriteLastActivity, nullptr, ReadLastActivity},
    {"loss_reasons", WriteLossReasons, nullptr, ReadLossReasons},
    {"closed_from", WriteClosedFrom, nullptr, ReadClosedFrom},
    {"cycles", WriteCycles, nullptr, ReadCycles},
    // After entered_at: a deal's addition is saved relative to its entry.
    {"funnel", WriteFunnelColumns, nullptr, ReadFunnelColumns},
};

}  // namespace

absl::Span<const ChunkColumn> ChunkColumns() { return kColumns; }

}  // namespace internal
}  // namespace salescycle
