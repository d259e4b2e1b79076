// The one door to a Pipeline's columns for the library's own code (the
// snapshot codec and the funnel), as leveldb's WriteBatchInternal is to a
// WriteBatch: a few static accessors, no algorithms. Everything here works
// on raw columns; the algorithms that keep them consistent (stage counts,
// the free list) stay in Pipeline.
#ifndef SALESCYCLE_SRC_PIPELINE_INTERNAL_H_
#define SALESCYCLE_SRC_PIPELINE_INTERNAL_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "salescycle/pipeline.h"
#include "salescycle/step.h"
#include "src/key_index.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

// OkStatus for a name ApplyAt takes as an input source: UTF-8, 1 to
// kMaxSourceNameBytes bytes; InvalidArgument saying what is wrong otherwise.
absl::Status CheckSourceName(absl::string_view source);

class PipelineInternal {
 public:
  // ---- reading. REQUIRES: deal < p.slot_count(); slot < the machine's
  // scalar (string) slot count.
  static size_t history_limit(const Pipeline& p) {
    return p.options_.history_limit;
  }
  static uint64_t history_count(const Pipeline& p, DealIndex deal) {
    assert(deal < p.history_count_.size());
    return p.history_count_[deal];
  }
  static bool timeout_consumed(const Pipeline& p, DealIndex deal) {
    return p.TimeoutConsumed(deal);
  }
  static bool is_set(const Pipeline& p, AttributeId id, DealIndex deal) {
    assert(id < p.set_bits_.size() && deal < p.slot_count());
    return (p.set_bits_[id][deal >> 6] >> (deal & 63)) & 1;
  }
  static uint64_t scalar_bits(const Pipeline& p, uint16_t slot, DealIndex deal) {
    assert(slot < p.scalars_.size() && deal < p.slot_count());
    return p.scalars_[slot][deal];
  }
  static const std::string& string_value(const Pipeline& p, uint16_t slot,
                                         DealIndex deal) {
    assert(slot < p.strings_.size() && deal < p.slot_count());
    return p.strings_[slot][deal];
  }
  static size_t string_slots(const Pipeline& p) { return p.strings_.size(); }
  // Whether any deal has an id, and `deal`'s.
  static bool has_ids(const Pipeline& p) { return p.ids_ != nullptr && !p.ids_->empty(); }
  static std::optional<uint64_t> id_of(const Pipeline& p, DealIndex deal) {
    if (p.ids_ == nullptr) return std::nullopt;
    return p.ids_->IdOf(deal);
  }
  // Whether any deal has a key, and `deal`'s (valid until the next key
  // is given or taken away).
  static bool has_keys(const Pipeline& p) { return p.keys_ != nullptr && !p.keys_->empty(); }
  static std::optional<absl::string_view> key_of(const Pipeline& p, DealIndex deal) {
    if (p.keys_ == nullptr) return std::nullopt;
    return p.keys_->KeyOf(deal);
  }
  // The interned loss reasons; [0] is "" (none).
  static const std::vector<std::string>& reasons(const Pipeline& p) {
    return p.reasons_;
  }
  // The deal's loss reason as an index into reasons(); 0 when the machine
  // keeps none.
  static uint32_t loss_reason_id(const Pipeline& p, DealIndex deal) {
    return p.loss_reason_.empty() ? 0 : p.loss_reason_[deal];
  }
  // Null when analytics are off.
  static const FunnelAccumulator* analytics(const Pipeline& p) {
    return p.analytics_.get();
  }
  static FunnelAccumulator* mutable_analytics(Pipeline* p) {
    return p->analytics_.get();
  }

  // ---- loading: AppendEmptySlots, then the raw setters, then FinishLoad,
  // which rebuilds what the columns imply (counts, live deals, free list).
  static void AppendEmptySlots(Pipeline* p, size_t n) { p->AppendSlots(n); }
  // The stage column alone: counts are FinishLoad's.
  static void SetStage(Pipeline* p, DealIndex deal, StageId stage) {
    p->stage_[deal] = stage;
  }
  static void SetEnteredAt(Pipeline* p, DealIndex deal, Timestamp time) {
    p->entered_at_[deal] = time;
  }
  static void SetScalarBits(Pipeline* p, uint16_t slot, DealIndex deal,
                            uint64_t bits) {
    p->scalars_[slot][deal] = bits;
  }
  static void SetString(Pipeline* p, uint16_t slot, DealIndex deal,
                        absl::string_view value) {
    p->strings_[slot].Set(deal, value);
  }
  static void MarkSet(Pipeline* p, AttributeId id, DealIndex deal) {
    p->set_bits_[id][deal >> 6] |= uint64_t{1} << (deal & 63);
  }
  // Ids and keys are added without a lookup (false when the deal has one
  // already), then indexed at once by IndexIdsAndKeys: one table sized
  // for them all, instead of a growth every 15% of them.
  ABSL_MUST_USE_RESULT static bool AddIdUnindexed(Pipeline* p, DealIndex deal, uint64_t id) {
    if (p->ids_ == nullptr) p->ids_ = std::make_unique<IdIndex>();
    return p->ids_->InsertUnindexed(id, deal);
  }
  ABSL_MUST_USE_RESULT static bool AddKeyUnindexed(Pipeline* p, DealIndex deal,
                                                   const std::string& key) {
    if (p->keys_ == nullptr) p->keys_ = std::make_unique<KeyIndex>();
    return p->keys_->InsertUnindexed(key, deal);
  }
  // What is wrong when an id or a key is two deals' ("deal id 7 appears
  // twice"); the pipeline is then to be discarded.
  static std::optional<std::string> IndexIdsAndKeys(Pipeline* p) {
    if (p->ids_ != nullptr) {
      if (const std::optional<DealIndex> deal = p->ids_->Reindex()) {
        return absl::StrCat("deal id ", *p->ids_->IdOf(*deal), " appears twice");
      }
    }
    if (p->keys_ != nullptr) {
      if (const std::optional<DealIndex> deal = p->keys_->Reindex()) {
        return absl::StrCat("deal key \"", absl::CEscape(*p->keys_->KeyOf(*deal)),
                            "\" appears twice");
      }
    }
    return std::nullopt;
  }
  static void SetTimeoutConsumed(Pipeline* p, DealIndex deal,
                                 bool consumed = true) {
    p->SetTimeoutConsumed(deal, consumed);
  }
  // What the machine keeps beyond the stage (Machine::keeps_*): REQUIRES
  // that it keeps it.
  static void SetLastActivity(Pipeline* p, DealIndex deal, Timestamp time) {
    p->last_activity_[deal] = time;
  }
  static void SetLossReason(Pipeline* p, DealIndex deal,
                            absl::string_view reason) {
    p->loss_reason_[deal] = p->InternReason(reason);
  }
  static void SetClosedFrom(Pipeline* p, DealIndex deal, StageId stage) {
    p->closed_from_[deal] = stage;
  }
  static void SetCycle(Pipeline* p, DealIndex deal, uint32_t cycle) {
    p->cycle_[deal] = cycle;
  }
  // The deal's ring of history_limit(p) entries. REQUIRES: history on.
  static HistoryEntry* history_ring(Pipeline* p, DealIndex deal) {
    return &p->history_[deal * p->options_.history_limit];
  }
  static void SetHistoryCount(Pipeline* p, DealIndex deal, uint64_t count) {
    p->history_count_[deal] = count;
  }
  static void FinishLoad(Pipeline* p) { p->RebuildFromStages(); }

  // `loaded` replaces `*target`, whose observers stay registered.
  // A snapshot's input position, checked as ApplyAt checks a source.
  static absl::Status RestorePosition(Pipeline* p, absl::string_view source, uint64_t next) {
    if (absl::Status s = CheckSourceName(source); !s.ok()) return s;
    if (!p->positions_.emplace(source, next).second) {
      return absl::InvalidArgumentError(absl::StrCat("source \"", source, "\" appears twice"));
    }
    return absl::OkStatus();
  }
  // ApplyAt for the C API, whose caller's array another thread may write
  // meanwhile: untimed batches (and timed ones of a machine without
  // timeouts, which ApplyTimed hands to Apply) through ApplySharedBuffer.
  static absl::StatusOr<BatchResult> ApplyAtShared(Pipeline* p, absl::string_view source,
                                                   uint64_t first_offset,
                                                   absl::Span<const EventRecord> records,
                                                   ApplyMode mode) {
    return p->ApplyFromOffset(source, first_offset, records,
                              [&](absl::Span<const EventRecord> rest) {
                                return mode == ApplyMode::kTimed && p->machine().has_timeouts()
                                           ? p->ApplyTimed(rest)
                                           : p->ApplySharedBuffer(rest);
                              });
  }
  // Apply's check of a batch, alone (ShardedPipeline checks every shard's
  // batch before applying any), and ApplyAt's count of records to skip.
  static absl::Status CheckBatch(const Pipeline& p, absl::Span<const EventRecord> records) {
    return p.CheckBatch(records);
  }
  static absl::StatusOr<uint64_t> AlreadyApplied(const Pipeline& p, absl::string_view source,
                                                 uint64_t first_offset, size_t count) {
    return p.AlreadyApplied(source, first_offset, count);
  }
  static void ReplaceKeepingObservers(Pipeline* target, Pipeline loaded) {
    loaded.observers_ = std::move(target->observers_);
    *target = std::move(loaded);
  }
};

}  // namespace internal

// Defined here, not in pipeline.cc, for PipelineInternal::ApplyAtShared.
template <typename BatchRecord, typename ApplyRest>
absl::StatusOr<BatchResult> Pipeline::ApplyFromOffset(absl::string_view source,
                                                      uint64_t first_offset,
                                                      absl::Span<const BatchRecord> records,
                                                      ApplyRest apply_rest) {
  SC_ASSIGN_OR_RETURN(const uint64_t skip, AlreadyApplied(source, first_offset, records.size()));
  SC_ASSIGN_OR_RETURN(BatchResult result, apply_rest(records.subspan(static_cast<size_t>(skip))));
  result.skipped = skip;
  AdvancePosition(source, first_offset + records.size());
  return result;
}

}  // namespace salescycle

#endif  // SALESCYCLE_SRC_PIPELINE_INTERNAL_H_
