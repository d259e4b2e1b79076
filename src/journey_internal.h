// The one door to a Journey's state for the snapshot codec (as
// PipelineInternal is to a Pipeline's): what the public API does not show.
#ifndef SALESCYCLE_SRC_JOURNEY_INTERNAL_H_
#define SALESCYCLE_SRC_JOURNEY_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "salescycle/journey.h"

namespace salescycle {
namespace internal {

class JourneyInternal {
 public:
  static bool timeout_consumed(const Journey& j) { return j.timeout_consumed_; }
  static bool is_set(const Journey& j, AttributeId id) {
    return (j.set_bits_[id >> 6] >> (id & 63)) & 1;
  }
  // REQUIRES: slot < the machine's scalar (string) slot count.
  static uint64_t scalar_bits(const Journey& j, uint16_t slot) {
    return j.scalars_[slot];
  }
  static const std::string& string_value(const Journey& j, uint16_t slot) {
    return j.strings_[slot];
  }
  static uint64_t history_count(const Journey& j) { return j.history_count_; }

  // ---- restoring. REQUIRES: stage < the machine's num_stages().
  static void SetStage(Journey* j, StageId stage) { j->stage_ = stage; }
  static void SetTimeoutConsumed(Journey* j, bool consumed) {
    j->timeout_consumed_ = consumed;
  }
  static void SetLastActivity(Journey* j, Timestamp time) {
    j->last_activity_ = time;
  }
  static void SetLossReason(Journey* j, absl::string_view reason) {
    j->loss_reason_ = std::string(reason);
  }
  static void SetClosedFrom(Journey* j, StageId stage) {
    j->closed_from_ = stage;
  }
  static void SetCycle(Journey* j, uint32_t cycle) { j->cycle_ = cycle; }
  // Sets the steps ever recorded; entries then go in with HistoryEntryAt.
  static void SetHistoryCount(Journey* j, uint64_t count) {
    j->history_count_ = count;
  }
  // The ring's slot for step `step` (of all steps ever recorded).
  // REQUIRES: history on.
  static HistoryEntry* HistoryEntryAt(Journey* j, uint64_t step) {
    return &j->history_[step % j->history_limit_];
  }
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_JOURNEY_INTERNAL_H_
