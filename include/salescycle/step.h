// The result of one step of the transition core, as Journey, Pipeline and
// observers see it, and the history entries that record steps.
//
// Thread safety: plain values.
#ifndef SALESCYCLE_STEP_H_
#define SALESCYCLE_STEP_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "salescycle/types.h"

namespace salescycle {

enum class Outcome : uint8_t {
  kMoved = 0,
  // No transition leaves the stage on this event.
  kNoTransition = 1,
  // Transitions exist, but none of their guards held.
  kGuardFailed = 2,
  // The chosen transition's target requires an attribute that is not set.
  kMissingAttribute = 3,
  // The record named a removed deal (Pipeline::Apply only).
  kNoDeal = 4,
};

// "moved", "no_transition", "guard_failed", "missing_attribute", "no_deal".
absl::string_view OutcomeName(Outcome outcome);

// Rejections are results, not errors: a rejected event is ordinary in a sales
// cycle and the hot path must not allocate an error message for it.
// Machine::ExplainRejection turns one into a FailedPrecondition status.
struct StepResult {
  Outcome outcome = Outcome::kNoTransition;
  bool by_timeout = false;
  StageId from = kNoStage;
  // The stage after the step: the target when moved, `from` otherwise.
  StageId to = kNoStage;
  EventId event = kNoEvent;  // kNoEvent for a timeout that enters a stage
  // The deal's slot for Pipeline steps; kNoDeal for Journey steps.
  DealIndex deal = kNoDeal;
  // Index into Machine::transitions(): the transition taken, or for
  // kGuardFailed the last candidate whose guard failed, or for
  // kMissingAttribute the one that was blocked. -1 when none applies.
  int32_t transition = -1;
  // For kMissingAttribute: the first required attribute that was not set.
  AttributeId missing_attribute = kNoAttribute;
  Timestamp time = 0;

  bool moved() const { return outcome == Outcome::kMoved; }
};

// One step as kept in a bounded history (16 bytes).
struct HistoryEntry {
  Timestamp time = 0;
  EventId event = kNoEvent;
  StageId from = kNoStage;
  StageId to = kNoStage;
  Outcome outcome = Outcome::kNoTransition;
  bool by_timeout = false;

  friend bool operator==(const HistoryEntry& a, const HistoryEntry& b) {
    return a.time == b.time && a.event == b.event && a.from == b.from &&
           a.to == b.to && a.outcome == b.outcome &&
           a.by_timeout == b.by_timeout;
  }
};

}  // namespace salescycle

#endif  // SALESCYCLE_STEP_H_
