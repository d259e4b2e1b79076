// Callbacks on transitions and rejections.
//
// Register an Observer with Journey::AddObserver or Pipeline::AddObserver.
// The container does not own it; it must outlive its registration. Observers
// are called synchronously on the thread that applies the event, after the
// deal's state was updated, in registration order. With none registered the
// hot paths take a separate instantiation that has no observer code at all.
// An observer must not throw and must not modify the container it observes.
#ifndef SALESCYCLE_OBSERVER_H_
#define SALESCYCLE_OBSERVER_H_

#include "salescycle/step.h"

namespace salescycle {

class Observer {
 public:
  virtual ~Observer() = default;
  // A deal moved (step.outcome == Outcome::kMoved).
  virtual void OnTransition(const StepResult& step) { (void)step; }
  // An activity was recorded (step.outcome == Outcome::kActivity): an
  // activity event, or a move by stage naming the deal's own stage.
  virtual void OnActivity(const StepResult& step) { (void)step; }
  // An event, move or reopen was rejected (any other outcome).
  virtual void OnRejection(const StepResult& step) { (void)step; }
};

}  // namespace salescycle

#endif  // SALESCYCLE_OBSERVER_H_
