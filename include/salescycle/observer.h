/// \file
/// Callbacks on transitions and rejections.
///
/// Register an Observer with Journey::AddObserver or Pipeline::AddObserver.
/// The container does not own it; it must outlive its registration. Observers
/// are called synchronously on the thread that applies the event, after the
/// deal's state was updated, in registration order. With none registered the
/// hot paths take a separate instantiation that has no observer code at all.
/// An observer must not throw and must not modify the container it observes.
#ifndef SALESCYCLE_OBSERVER_H_
#define SALESCYCLE_OBSERVER_H_

#include "salescycle/attribute.h"
#include "salescycle/step.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// Callbacks on a journey's or pipeline's steps and changes; override the
/// ones you need (each does nothing by default).
class SC_API Observer {
 public:
  virtual ~Observer() = default;
  /// A deal moved (step.outcome == Outcome::kMoved).
  virtual void OnTransition(const StepResult& step) { (void)step; }
  /// An activity was recorded (step.outcome == Outcome::kActivity): an
  /// activity event, or a move by stage naming the deal's own stage.
  virtual void OnActivity(const StepResult& step) { (void)step; }
  /// An event, move or reopen was rejected (any other outcome).
  virtual void OnRejection(const StepResult& step) { (void)step; }

  /// The changes that are not steps, so that a host can keep its own log or
  /// index of a pipeline from its observers alone (Pipeline only: a Journey
  /// has one deal, and its attributes are set by its caller's own calls).
  /// A deal was added in `stage` at `time`; its id or key is the pipeline's
  /// by now (Pipeline::IdOf, KeyOf).
  virtual void OnAdd(DealIndex deal, StageId stage, Timestamp time) {
    (void)deal;
    (void)stage;
    (void)time;
  }
  /// A deal was removed: its slot (and DealIndex) may go to the next add.
  virtual void OnRemove(DealIndex deal) { (void)deal; }
  /// An attribute of a deal was set to `value`.
  virtual void OnSet(DealIndex deal, AttributeId id, const AttributeValue& value) {
    (void)deal;
    (void)id;
    (void)value;
  }
};

}  // namespace salescycle

#endif  // SALESCYCLE_OBSERVER_H_
