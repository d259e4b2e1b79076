#include "src/funnel_snapshot.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"
#include "src/pipeline_internal.h"
#include "src/snapshot_format.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {
namespace {

using PI = PipelineInternal;

// Funnel data for a stage the machine restored onto lacks cannot be put
// anywhere without changing what the report says: the caller maps it.
absl::Status MissingFunnelStage(const NameMapping& map, uint32_t index) {
  return absl::FailedPreconditionError(absl::StrCat(
      "snapshot of ", map.snapshot, " has funnel counts for stage \"",
      map.stage_names[index], "\", which ", map.target, " lacks; map it in a Migration"));
}

}  // namespace

// ---- the per-deal columns

void WriteFunnelColumns(const ChunkWriteContext& c) {
  const FunnelAccumulator* acc = PI::analytics(c.pipeline);
  if (acc == nullptr) return;
  // The header lists the machine's stages in id order, so a deal's visited
  // bytes are already in the snapshot's numbering.
  v1::PipelineChunk* chunk = c.chunk;
  std::string* visited = chunk->mutable_funnel_visited();
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    if (!c.pipeline.Contains(d)) continue;
    chunk->add_funnel_added_before_entry(EncodeDelta(c.pipeline.entered_at(d), acc->added(d)));
    acc->AppendVisited(d, visited);
    chunk->add_funnel_flags(acc->flags(d));
    const uint8_t furthest = acc->furthest(d);
    chunk->add_funnel_furthest(
        furthest == FunnelAccumulator::kOffLine ? 0 : uint32_t{acc->line()[furthest]} + 1);
  }
  int64_t last = -1, last_win = -1, last_loss = -1, last_activity = -1;
  for (size_t i = 0; i < c.n; ++i) {
    const DealIndex d = c.Deal(i);
    if (!c.pipeline.Contains(d)) continue;
    const Timestamp entered_at = c.pipeline.entered_at(d);
    if (acc->cycle_start(d) != acc->added(d)) {
      chunk->add_funnel_cycle_start_offset_deltas(
          static_cast<uint32_t>(static_cast<int64_t>(i) - last));
      last = static_cast<int64_t>(i);
      chunk->add_funnel_cycle_start_before_entry(EncodeDelta(entered_at, acc->cycle_start(d)));
    }
    if (const std::optional<Timestamp> period = acc->loss_period(d)) {
      chunk->add_funnel_loss_offset_deltas(
          static_cast<uint32_t>(static_cast<int64_t>(i) - last_loss));
      last_loss = static_cast<int64_t>(i);
      chunk->add_funnel_loss_periods(*period);
    }
    if (const uint32_t n = acc->activities(d); n > 0) {
      chunk->add_funnel_activity_offset_deltas(
          static_cast<uint32_t>(static_cast<int64_t>(i) - last_activity));
      last_activity = static_cast<int64_t>(i);
      chunk->add_funnel_activities(n);
    }
    if (const FunnelAccumulator::Wins* wins = acc->wins(d)) {
      chunk->add_funnel_win_offset_deltas(
          static_cast<uint32_t>(static_cast<int64_t>(i) - last_win));
      last_win = static_cast<int64_t>(i);
      chunk->add_funnel_last_win_before_entry(EncodeDelta(entered_at, wins->last));
      chunk->add_funnel_wins(wins->count);
    }
  }
}

namespace {

bool HasFunnelColumns(const v1::PipelineChunk& chunk) {
  return chunk.funnel_added_before_entry_size() > 0 || !chunk.funnel_visited().empty() ||
         chunk.funnel_flags_size() > 0 || chunk.funnel_furthest_size() > 0 ||
         chunk.funnel_cycle_start_offset_deltas_size() > 0 ||
         chunk.funnel_win_offset_deltas_size() > 0 ||
         chunk.funnel_loss_offset_deltas_size() > 0 ||
         chunk.funnel_activity_offset_deltas_size() > 0;
}

// Visited bits mapped a byte at a time, for a machine of at most
// kMarkedStages stages: a load then turns a deal's saved bytes into its
// marks with a lookup a byte, rather than listing its stages (which led
// the profile of a load). Entry b * 256 + v is byte b of value v mapped to
// the machine's stage bits, or kUnmappable when one of its stages is past
// the saved ones or not in the machine (ReadVisited then says which).
class VisitedBytes {
 public:
  static constexpr uint32_t kUnmappable = 1u << 31;
  // Bytes past this many are read stage by stage: a table of them would
  // cost more than it saves on a chunk.
  static constexpr size_t kMaxWidth = 4;

  VisitedBytes(const NameMapping& map, uint32_t stages, size_t width)
      : table_(width * 256, 0) {
    for (size_t b = 0; b < width; ++b) {
      for (unsigned v = 0; v < 256; ++v) {
        uint32_t mapped = 0;
        for (unsigned bits = v; bits != 0; bits &= bits - 1) {
          const size_t s = b * 8 + static_cast<size_t>(absl::countr_zero(bits));
          if (s >= stages || map.stages[s] == kNoStage || map.stages[s] >= kMarkedStages) {
            mapped = kUnmappable;
            break;
          }
          mapped |= 1u << map.stages[s];
        }
        table_[b * 256 + v] = mapped;
      }
    }
  }
  // The deal's visited bits, or kUnmappable.
  uint32_t Map(const uint8_t* bytes) const {
    uint32_t mapped = 0;
    for (size_t b = 0; b * 256 < table_.size(); ++b) mapped |= table_[b * 256 + bytes[b]];
    return (mapped & kUnmappable) != 0 ? kUnmappable : mapped;
  }

 private:
  std::vector<uint32_t> table_;
};

// The visited stages of the chunk's k-th live deal, mapped.
absl::Status ReadVisited(const ChunkReadContext& c, DealIndex d, size_t k,
                         size_t width, std::vector<StageId>* visited) {
  const uint32_t stages = static_cast<uint32_t>(c.header.stages_size());
  const auto* bits =
      reinterpret_cast<const uint8_t*>(c.chunk.funnel_visited().data()) + k * width;
  visited->clear();
  for (size_t b = 0; b < width; ++b) {
    for (unsigned v = bits[b]; v != 0; v &= v - 1) {
      const uint32_t s = static_cast<uint32_t>(b * 8) + static_cast<uint32_t>(absl::countr_zero(v));
      if (s >= stages) {
        return c.Error(absl::StrCat("deal ", d, " has been in stage ", s, " of ", stages));
      }
      if (c.map.stages[s] == kNoStage) return MissingFunnelStage(c.map, s);
      visited->push_back(c.map.stages[s]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// A sparse column of live deals (offsets in the chunk, delta-encoded,
// each with `values` values): calls f(deal, k) for the k-th; `what` names
// the column in errors.
template <typename F>
absl::Status ForEachSparseDeal(const ChunkReadContext& c,
                               const google::protobuf::RepeatedField<uint32_t>& deltas,
                               int values, absl::string_view what, F f) {
  if (deltas.size() != values) {
    return c.Error(absl::StrCat(deltas.size(), " ", what, " offsets for ", values, " ", what,
                                "s"));
  }
  int64_t offset = -1;
  for (int k = 0; k < deltas.size(); ++k) {
    offset += deltas[k];
    const DealIndex d = static_cast<DealIndex>(c.first + static_cast<size_t>(offset));
    if (deltas[k] == 0 || offset >= static_cast<int64_t>(c.n) || !c.pipeline->Contains(d)) {
      return c.Error(absl::StrCat(what, " offset ", offset, " is not a live deal"));
    }
    SC_RETURN_IF_ERROR(f(d, k));
  }
  return absl::OkStatus();
}

// The live deals past their first cycle, and when their cycle started;
// the deals that won (machines with new_cycle transitions), their latest
// win and how many.
absl::Status ReadCycleStartsAndWins(const ChunkReadContext& c, FunnelAccumulator* acc) {
  const v1::PipelineChunk& chunk = c.chunk;
  SC_RETURN_IF_ERROR(ForEachSparseDeal(
      c, chunk.funnel_cycle_start_offset_deltas(), chunk.funnel_cycle_start_before_entry_size(),
      "cycle start", [&](DealIndex d, int k) {
        acc->RestoreCycleStart(
            d, EncodeDelta(c.pipeline->entered_at(d), chunk.funnel_cycle_start_before_entry(k)));
        return absl::OkStatus();
      }));
  if (chunk.funnel_wins_size() != chunk.funnel_last_win_before_entry_size()) {
    return c.Error(absl::StrCat(chunk.funnel_wins_size(), " win counts for ",
                                chunk.funnel_last_win_before_entry_size(), " latest wins"));
  }
  SC_RETURN_IF_ERROR(ForEachSparseDeal(
      c, chunk.funnel_activity_offset_deltas(), chunk.funnel_activities_size(), "activity",
      [&](DealIndex d, int k) {
        acc->RestoreActivities(d, chunk.funnel_activities(k));
        return absl::OkStatus();
      }));
  SC_RETURN_IF_ERROR(ForEachSparseDeal(
      c, chunk.funnel_loss_offset_deltas(), chunk.funnel_loss_periods_size(), "loss period",
      [&](DealIndex d, int k) {
        // The period's counters are restored with the funnel frame, after
        // the chunks: that it is one is checked there.
        acc->RestoreLossPeriod(d, chunk.funnel_loss_periods(k));
        return absl::OkStatus();
      }));
  return ForEachSparseDeal(
      c, chunk.funnel_win_offset_deltas(), chunk.funnel_wins_size(), "win",
      [&](DealIndex d, int k) {
        if (chunk.funnel_wins(k) == 0) {
          return c.Error(absl::StrCat("deal ", d - c.first, " won 0 times"));
        }
        // A machine without new_cycle transitions keeps none: its deals
        // cannot win again.
        acc->RestoreWins(
            d, {EncodeDelta(c.pipeline->entered_at(d), chunk.funnel_last_win_before_entry(k)),
                chunk.funnel_wins(k)});
        return absl::OkStatus();
      });
}

}  // namespace

absl::Status ReadFunnelColumns(ChunkReadContext* c) {
  FunnelAccumulator* acc = PI::mutable_analytics(c->pipeline);
  const v1::PipelineChunk& chunk = c->chunk;
  if (!c->header.has_funnel()) {
    return HasFunnelColumns(chunk)
               ? c->Error("holds funnel columns, but the header declares no funnel")
               : absl::OkStatus();
  }
  const uint32_t stages = static_cast<uint32_t>(c->header.stages_size());
  const size_t width = (stages + 7) / 8;
  if (static_cast<size_t>(chunk.funnel_added_before_entry_size()) != c->live ||
      static_cast<size_t>(chunk.funnel_flags_size()) != c->live ||
      static_cast<size_t>(chunk.funnel_furthest_size()) != c->live ||
      chunk.funnel_visited().size() != c->live * width) {
    return c->Error(absl::StrCat(
        "funnel columns hold ", chunk.funnel_added_before_entry_size(), " addition times, ",
        chunk.funnel_visited().size(), " visited bytes, ", chunk.funnel_flags_size(),
        " outcomes and ", chunk.funnel_furthest_size(), " furthest stages for ", c->live,
        " live deals of ", stages, " stages"));
  }
  std::vector<StageId> visited;
  std::optional<VisitedBytes> by_table;
  if (acc->visited_width() <= 2 && width <= VisitedBytes::kMaxWidth) {
    by_table.emplace(c->map, stages, width);
  }
  for (size_t i = c->n; i-- > 0;) {
    const DealIndex d = static_cast<DealIndex>(c->first + i);
    if (c->pipeline->Contains(d)) {
      acc->Grow(d);  // the chunk's last live deal
      break;
    }
  }
  const auto* visited_bytes = reinterpret_cast<const uint8_t*>(chunk.funnel_visited().data());
  size_t k = 0;
  for (size_t i = 0; i < c->n; ++i) {
    const DealIndex d = static_cast<DealIndex>(c->first + i);
    if (!c->pipeline->Contains(d)) continue;
    uint32_t visited_bits = VisitedBytes::kUnmappable;
    if (by_table.has_value()) visited_bits = by_table->Map(visited_bytes + k * width);
    if (visited_bits == VisitedBytes::kUnmappable) {
      SC_RETURN_IF_ERROR(ReadVisited(*c, d, k, width, &visited));
    }
    uint32_t flags = chunk.funnel_flags(static_cast<int>(k));
    // The outcome bits, and above them where a cycle out of order stays
    // counted in order (FunnelAccumulator::kInOrderShift): 1 + a position
    // on the line.
    const uint32_t in_order_mark = flags >> FunnelAccumulator::kInOrderShift;
    if (flags > 0xFF || (in_order_mark != 0 && ((flags & FunnelAccumulator::kOutOfOrder) == 0 ||
                                                in_order_mark > acc->line().size()))) {
      return c->Error(absl::StrCat("deal ", d, " has funnel outcome ", flags));
    }
    if (in_order_mark != 0 && c->header.format_version() < kFormatVersion) {
      return c->Error(absl::StrCat("deal ", d, " has an in-order mark (funnel outcome ", flags,
                                   "), which format ", c->header.format_version(),
                                   " does not hold"));
    }
    const uint32_t furthest = chunk.funnel_furthest(static_cast<int>(k));
    uint8_t position = FunnelAccumulator::kOffLine;
    if (furthest != 0) {
      if (furthest > stages) {
        return c->Error(absl::StrCat("deal ", d, " got furthest to stage ", furthest - 1,
                                     " of ", stages));
      }
      const StageId mapped = c->map.stages[furthest - 1];
      if (mapped == kNoStage) return MissingFunnelStage(c->map, furthest - 1);
      position = acc->line_position(mapped);
    }
    // Before format 5 a cycle out of order kept no mark: whether it is
    // counted in order somewhere is not known, so it may not move
    // (SavePipelinePart) until its cycle ends.
    if (c->header.format_version() < kFormatVersion &&
        (flags & FunnelAccumulator::kOutOfOrder) != 0 && position != FunnelAccumulator::kOffLine) {
      flags |= uint32_t{FunnelAccumulator::kUnknownInOrder} << FunnelAccumulator::kInOrderShift;
    }
    const Timestamp added = EncodeDelta(
        c->pipeline->entered_at(d), chunk.funnel_added_before_entry(static_cast<int>(k)));
    if (visited_bits != VisitedBytes::kUnmappable) {
      acc->RestoreDeal(d, added, static_cast<uint16_t>(visited_bits),
                       static_cast<uint8_t>(flags), position);
    } else {
      acc->RestoreDeal(d, added, visited, static_cast<uint8_t>(flags), position);
    }
    ++k;
  }
  return ReadCycleStartsAndWins(*c, acc);
}

// ---- the frame of counters

namespace {

void WriteHistogram(const DurationHistogram& from, v1::FunnelHistogram* h) {
  from.ForEachBucket([h](uint32_t bucket, uint64_t n) {
    h->add_buckets(bucket);
    h->add_counts(n);
  });
  h->set_sum_low(absl::Uint128Low64(from.sum()));
  h->set_sum_high(absl::Uint128High64(from.sum()));
}

void WriteCounters(const FunnelCounters& c, const FunnelAccumulator& acc,
                   v1::FunnelCounters* out) {
  out->set_deals(c.deals);
  out->set_won(c.won);
  out->set_lost(c.lost);
  out->set_cycle_seconds_low(absl::Uint128Low64(static_cast<absl::uint128>(c.cycle_seconds)));
  out->set_cycle_seconds_high(absl::Int128High64(c.cycle_seconds));
  out->set_new_cycles(c.new_cycles);
  out->set_repeat_wins(c.repeat_wins);
  out->set_repeat_buyers(c.repeat_buyers);
  out->set_activities_won(c.activities_won);
  out->set_activities_lost(c.activities_lost);
  WriteHistogram(c.between_wins, out->mutable_between_wins());
  WriteHistogram(c.loss_lengths, out->mutable_loss_lengths());
  out->set_moves(c.flow.Total());
  for (const StageCounters& s : c.stages) {
    v1::FunnelStageCounters* o = out->add_stages();
    o->set_entered(s.entered);
    o->set_reentries(s.reentries);
    o->set_won_after(s.won_after);
    o->set_activities(s.activities);
    o->set_rejected(s.rejected);
    o->set_lost_from(s.lost_from);
    WriteHistogram(s.time_in_stage, o->mutable_time_in_stage());
  }
  WriteHistogram(c.cycle_lengths, out->mutable_cycle_lengths());
  c.flow.ForEach([out](StageId from, StageId to, uint64_t moves) {
    out->add_flow_from(from);
    out->add_flow_to(to);
    out->add_flow_moves(moves);
  });
  // In key order, so that the same counters give the same bytes.
  std::vector<std::pair<uint64_t, uint64_t>> rejections(c.rejections.begin(),
                                                        c.rejections.end());
  std::sort(rejections.begin(), rejections.end());
  const auto stages = static_cast<uint32_t>(c.stages.size());
  const auto events = static_cast<uint32_t>(acc.machine().num_events());
  auto or_none = [](uint32_t id, uint32_t none) { return id < none ? id : none; };
  for (const auto& [key, n] : rejections) {
    out->add_rejection_stage(or_none(RejectionKey::From(key), stages));
    out->add_rejection_event(or_none(RejectionKey::Event(key), events));
    out->add_rejection_target(or_none(RejectionKey::Target(key), stages));
    out->add_rejection_outcome(static_cast<uint32_t>(RejectionKey::Why(key)));
    out->add_rejection_count(n);
  }
  std::vector<uint64_t> furthest(c.stages.size(), 0);
  for (size_t p = 0; p < c.furthest.size(); ++p) furthest[acc.line()[p]] = c.furthest[p];
  for (uint64_t n : furthest) out->add_furthest(n);
  std::fill(furthest.begin(), furthest.end(), 0);
  for (size_t p = 0; p < c.furthest_in_order.size(); ++p) {
    furthest[acc.line()[p]] = c.furthest_in_order[p];
  }
  for (uint64_t n : furthest) out->add_furthest_in_order(n);
}

// Reads one group's counters into `out`, through the mapping.
class CountersReader {
 public:
  CountersReader(const v1::PipelineHeader& header, const NameMapping& map,
                 const DataLossError& in, const FunnelAccumulator& acc)
      : header_(header),
        stages_(static_cast<uint32_t>(header.stages_size())),
        events_(static_cast<uint32_t>(header.events_size())),
        map_(map),
        in_(in),
        acc_(acc) {}

  absl::Status Read(const v1::FunnelCounters& c, absl::string_view group,
                    FunnelCounters* out) const {
    if (static_cast<uint32_t>(c.stages_size()) != stages_ ||
        static_cast<uint32_t>(c.furthest_size()) != stages_ ||
        static_cast<uint32_t>(c.furthest_in_order_size()) != stages_) {
      return in_(absl::StrCat("funnel counters of ", group, " cover ", c.stages_size(),
                              " stages, ", c.furthest_size(), " furthest counts and ",
                              c.furthest_in_order_size(),
                              " in order, not the header's ", stages_));
    }
    // Every cycle counted in order is counted among those that reached.
    absl::uint128 reached = 0, in_order = 0;
    for (uint64_t n : c.furthest()) reached += n;
    for (uint64_t n : c.furthest_in_order()) in_order += n;
    if (in_order > reached) {
      return in_(absl::StrCat("funnel counters of ", group, " count more cycles in order (",
                              absl::Uint128Low64(in_order), ") than in all (",
                              absl::Uint128Low64(reached), ")"));
    }
    out->deals = c.deals();
    out->won = c.won();
    out->lost = c.lost();
    out->cycle_seconds = absl::MakeInt128(c.cycle_seconds_high(), c.cycle_seconds_low());
    out->new_cycles = c.new_cycles();
    out->repeat_wins = c.repeat_wins();
    out->repeat_buyers = c.repeat_buyers();
    out->activities_won = c.activities_won();
    out->activities_lost = c.activities_lost();
    for (uint32_t s = 0; s < stages_; ++s) {
      SC_RETURN_IF_ERROR(ReadStage(c.stages(static_cast<int>(s)), s, group, out));
      const uint64_t n = c.furthest(static_cast<int>(s));
      const uint64_t in_order = c.furthest_in_order(static_cast<int>(s));
      if (n == 0 && in_order == 0) continue;
      SC_ASSIGN_OR_RETURN(const StageId mapped, Stage(s));
      const uint8_t position = acc_.line_position(mapped);
      // A stage off the target machine's line is reached by no count.
      if (position != FunnelAccumulator::kOffLine) {
        out->furthest[position] += n;
        out->furthest_in_order[position] += in_order;
      }
    }
    SC_RETURN_IF_ERROR(ReadFlow(c, group, out));
    SC_RETURN_IF_ERROR(ReadHistogram(c.cycle_lengths(), absl::StrCat(group, ": cycle lengths"),
                                     &out->cycle_lengths));
    SC_RETURN_IF_ERROR(ReadHistogram(c.between_wins(),
                                     absl::StrCat(group, ": times between wins"),
                                     &out->between_wins));
    SC_RETURN_IF_ERROR(ReadHistogram(c.loss_lengths(), absl::StrCat(group, ": times to loss"),
                                     &out->loss_lengths));
    return ReadRejections(c, group, out);
  }

  // Adds `h` into `out`; `where` names it in errors.
  absl::Status ReadHistogram(const v1::FunnelHistogram& h, absl::string_view where,
                             DurationHistogram* out) const {
    if (h.buckets_size() != h.counts_size()) {
      return in_(absl::StrCat("funnel counters of ", where, " has ", h.buckets_size(),
                              " buckets and ", h.counts_size(), " counts"));
    }
    for (int b = 0; b < h.buckets_size(); ++b) {
      if (!out->Restore(h.buckets(b), h.counts(b))) {
        return in_(absl::StrCat("funnel counters of ", where, " has duration bucket ",
                                h.buckets(b)));
      }
    }
    out->RestoreSum(out->sum() + absl::MakeUint128(h.sum_high(), h.sum_low()));
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<StageId> Stage(uint32_t index) const {
    if (map_.stages[index] == kNoStage) return MissingFunnelStage(map_, index);
    return map_.stages[index];
  }

  absl::Status ReadStage(const v1::FunnelStageCounters& s, uint32_t index,
                         absl::string_view group, FunnelCounters* out) const {
    const v1::FunnelHistogram& h = s.time_in_stage();
    const bool empty = s.entered() == 0 && s.reentries() == 0 && s.won_after() == 0 &&
                       s.activities() == 0 && s.rejected() == 0 && s.lost_from() == 0 &&
                       h.buckets_size() == 0;
    if (empty) return absl::OkStatus();
    SC_ASSIGN_OR_RETURN(const StageId mapped, Stage(index));
    StageCounters& o = out->stages[mapped];
    o.entered += s.entered();
    o.reentries += s.reentries();
    o.won_after += s.won_after();
    o.activities += s.activities();
    o.rejected += s.rejected();
    o.lost_from += s.lost_from();
    return ReadHistogram(h, absl::StrCat(group, ": stage ", index), &o.time_in_stage);
  }


  absl::Status ReadFlow(const v1::FunnelCounters& c, absl::string_view group,
                        FunnelCounters* out) const {
    if (c.flow_from_size() != c.flow_to_size() || c.flow_from_size() != c.flow_moves_size()) {
      return in_(absl::StrCat("funnel counters of ", group,
                                       ": the flow's columns differ in length"));
    }
    uint64_t moves = 0;
    for (int k = 0; k < c.flow_from_size(); ++k) {
      if (c.flow_from(k) >= stages_ || c.flow_to(k) >= stages_) {
        return in_(absl::StrCat("funnel counters of ", group, ": a flow from stage ",
                                         c.flow_from(k), " to ", c.flow_to(k), " of ",
                                         stages_));
      }
      SC_ASSIGN_OR_RETURN(const StageId from, Stage(c.flow_from(k)));
      SC_ASSIGN_OR_RETURN(const StageId to, Stage(c.flow_to(k)));
      out->flow.AddMoves(from, to, c.flow_moves(k));
      moves += c.flow_moves(k);
    }
    // The moves are the flow's sum; a count that differs is damage.
    if (moves != c.moves()) {
      return in_(absl::StrCat("funnel counters of ", group, ": ", c.moves(),
                              " moves, but the flow holds ", moves));
    }
    return absl::OkStatus();
  }

  absl::Status ReadRejections(const v1::FunnelCounters& c, absl::string_view group,
                              FunnelCounters* out) const {
    const int n = c.rejection_count_size();
    if (c.rejection_stage_size() != n || c.rejection_event_size() != n ||
        c.rejection_target_size() != n || c.rejection_outcome_size() != n) {
      return in_(absl::StrCat("funnel counters of ", group,
                                       ": the rejections' columns differ in length"));
    }
    for (int k = 0; k < n; ++k) {
      const uint32_t from = c.rejection_stage(k), event = c.rejection_event(k),
                     target = c.rejection_target(k), outcome = c.rejection_outcome(k);
      if (from > stages_ || target > stages_ || event > events_ ||
          outcome > static_cast<uint32_t>(Outcome::kNotReopenable)) {
        return in_(absl::StrCat("funnel counters of ", group, ": rejection ", k,
                                         " names stage ", from, ", event ", event,
                                         ", target ", target, ", outcome ", outcome));
      }
      StageId mapped_from = kNoStage, mapped_target = kNoStage;
      EventId mapped_event = kNoEvent;
      if (from < stages_) {
        SC_ASSIGN_OR_RETURN(mapped_from, Stage(from));
      }
      if (target < stages_) {
        SC_ASSIGN_OR_RETURN(mapped_target, Stage(target));
      }
      if (event < events_) {
        mapped_event = map_.events[event];
        if (mapped_event == kNoEvent) {
          return absl::FailedPreconditionError(absl::StrCat(
              "snapshot of ", map_.snapshot, " has rejections of event \"",
              header_.events(static_cast<int>(event)), "\", which ", map_.target,
              " lacks; rename it in a Migration"));
        }
      }
      out->rejections[RejectionKey::Pack(mapped_from, mapped_event, mapped_target,
                                         static_cast<Outcome>(outcome))] +=
          c.rejection_count(k);
    }
    return absl::OkStatus();
  }

  const v1::PipelineHeader& header_;
  const uint32_t stages_;
  const uint32_t events_;
  const NameMapping& map_;
  const DataLossError& in_;
  const FunnelAccumulator& acc_;
};

}  // namespace

std::vector<size_t> CohortsByStart(const FunnelAccumulator& acc) {
  std::vector<size_t> order(acc.cohorts().size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&acc](size_t a, size_t b) {
    return acc.cohort_starts()[a] < acc.cohort_starts()[b];
  });
  return order;
}

void WriteFunnelFrame(const FunnelAccumulator& acc, v1::PipelineFunnel* out) {
  if (acc.has_latest()) out->set_latest(acc.latest());
  WriteCounters(acc.total(), acc, out->mutable_total());
  for (const size_t i : CohortsByStart(acc)) {
    v1::FunnelCounters* c = out->add_cohorts();
    c->set_cohort_start(acc.cohort_starts()[i]);
    WriteCounters(acc.cohorts()[i], acc, c);
  }
  for (const auto& [start, counters] : acc.close_periods()) {
    v1::FunnelClosePeriod* p = out->add_closes();
    p->set_start(start);
    p->set_won(counters.won);
    p->set_lost(counters.lost);
    WriteHistogram(counters.cycle_lengths, p->mutable_cycle_lengths());
  }
}

absl::Status ReadFunnelFrame(const v1::PipelineFunnel& funnel,
                             const v1::PipelineHeader& header,
                             const NameMapping& map, const DataLossError& in,
                             FunnelAccumulator* acc) {
  if (funnel.has_latest()) acc->RestoreLatest(funnel.latest());
  const CountersReader reader(header, map, in, *acc);
  SC_RETURN_IF_ERROR(reader.Read(funnel.total(), "all deals", acc->mutable_total()));
  absl::flat_hash_set<Timestamp> starts;
  for (const v1::FunnelCounters& c : funnel.cohorts()) {
    const uint32_t index = acc->RestoreCohort(c.cohort_start());
    FunnelCounters* cohort =
        index == FunnelAccumulator::kNoCohort ? nullptr : acc->mutable_cohort(index);
    if (cohort == nullptr || !starts.insert(c.cohort_start()).second) {
      return in(absl::StrCat("funnel cohort start ", c.cohort_start(),
                                      " is not the start of a cohort, or is there twice"));
    }
    SC_RETURN_IF_ERROR(
        reader.Read(c, absl::StrCat("the cohort from ", c.cohort_start()), cohort));
  }
  absl::flat_hash_set<Timestamp> periods;
  for (const v1::FunnelClosePeriod& p : funnel.closes()) {
    CloseCounters* counters = acc->RestoreClosePeriod(p.start());
    if (counters == nullptr || !periods.insert(p.start()).second) {
      return in(absl::StrCat("funnel close period start ", p.start(),
                             " is not the start of a period, or is there twice"));
    }
    counters->won += p.won();
    counters->lost += p.lost();
    SC_RETURN_IF_ERROR(reader.ReadHistogram(p.cycle_lengths(),
                                            absl::StrCat("the closes from ", p.start()),
                                            &counters->cycle_lengths));
  }
  // A deal's loss period is one its losses were counted in.
  absl::flat_hash_map<Timestamp, uint64_t> lost_in;
  for (const auto& [deal, period] : acc->loss_periods()) ++lost_in[period];
  for (const auto& [period, n] : lost_in) {
    const auto it = acc->close_periods().find(period);
    const uint64_t counted = it == acc->close_periods().end() ? 0 : it->second.lost;
    if (n > counted) {
      return in(absl::StrCat(n, " live deals were lost in the period from ", period,
                             ", which counts ", counted, " losses"));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace salescycle
