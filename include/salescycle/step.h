/// \file
/// The result of one step of the transition core, as Journey, Pipeline and
/// observers see it, and the history entries that record steps.
///
/// Thread safety: plain values.
#ifndef SALESCYCLE_STEP_H_
#define SALESCYCLE_STEP_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// What one step did: a move, an activity, or why it was rejected.
enum class Outcome : uint8_t {
  /// The deal moved to the transition's target.
  kMoved = 0,
  /// No transition leaves the stage on this event.
  kNoTransition = 1,
  /// Transitions exist, but none of their guards held.
  kGuardFailed = 2,
  /// The chosen transition's target requires an attribute that is not set.
  kMissingAttribute = 3,
  /// The record named a removed deal (Pipeline::Apply only).
  kNoDeal = 4,
  /// Accepted without a move: an activity (a transition with no target), or
  /// a move by stage to the stage the deal is in (an update). The deal's
  /// last activity time is the step's.
  kActivity = 5,
  /// Reopen of a deal that is not in a reopenable closed stage.
  kNotReopenable = 6,
};

/// "moved", "no_transition", "guard_failed", "missing_attribute", "no_deal",
/// "activity", "not_reopenable".
SC_API absl::string_view OutcomeName(Outcome outcome);

/// Rejections are results, not errors: a rejected event is ordinary in a sales
/// cycle and the hot path must not allocate an error message for it.
/// Machine::ExplainRejection turns one into a FailedPrecondition status.
struct StepResult {
  Outcome outcome = Outcome::kNoTransition;  ///< what the step did
  bool by_timeout = false;  ///< the step was a timeout firing (Advance)
  /// A reopen (Pipeline::Reopen): back into the stage the deal was closed
  /// from, in the same cycle.
  bool reopened = false;
  StageId from = kNoStage;  ///< the stage before the step
  /// The stage after the step: the target when moved, `from` otherwise.
  StageId to = kNoStage;
  /// The event fired, or for a move by stage the event of the transition
  /// taken; kNoEvent for a timeout that enters a stage, a reopen, and a move
  /// by stage whose transition has no event or that was rejected.
  EventId event = kNoEvent;
  /// For a move by stage: the stage asked for; kNoStage otherwise.
  StageId target = kNoStage;
  /// The deal's slot for Pipeline steps; kNoDeal for Journey steps.
  DealIndex deal = kNoDeal;
  /// Index into Machine::transitions(): the transition taken, or for
  /// kGuardFailed the last candidate whose guard failed, or for
  /// kMissingAttribute the one that was blocked. -1 when none applies.
  int32_t transition = -1;
  /// For kMissingAttribute: the first required attribute that was not set.
  AttributeId missing_attribute = kNoAttribute;
  Timestamp time = 0;  ///< when the step happened, as the caller gave it

  /// The deal moved.
  bool moved() const { return outcome == Outcome::kMoved; }
  /// Not a rejection: a move or an activity.
  bool accepted() const {
    return outcome == Outcome::kMoved || outcome == Outcome::kActivity;
  }
};

/// One step as kept in a bounded history (16 bytes).
struct HistoryEntry {
  Timestamp time = 0;  ///< StepResult::time
  EventId event = kNoEvent;  ///< StepResult::event
  StageId from = kNoStage;  ///< StepResult::from
  StageId to = kNoStage;  ///< StepResult::to
  Outcome outcome = Outcome::kNoTransition;  ///< StepResult::outcome
  bool by_timeout = false;  ///< StepResult::by_timeout

  /// Equal when every field is.
  friend bool operator==(const HistoryEntry& a, const HistoryEntry& b) {
    return a.time == b.time && a.event == b.event && a.from == b.from &&
           a.to == b.to && a.outcome == b.outcome &&
           a.by_timeout == b.by_timeout;
  }
};

}  // namespace salescycle

#endif  // SALESCYCLE_STEP_H_
