/// \file
/// One deal or buyer moving through a machine: a value type.
///
/// A Journey holds its current stage, the time it entered it, its attributes
/// and, if asked for, a bounded history of steps. Copying a journey copies its
/// state (and shares its machine and registered observers). It is not
/// thread-safe: use one journey from one thread at a time; many journeys may
/// share one Machine across threads.
#ifndef SALESCYCLE_JOURNEY_H_
#define SALESCYCLE_JOURNEY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/attribute.h"
#include "salescycle/machine.h"
#include "salescycle/observer.h"
#include "salescycle/options.h"
#include "salescycle/step.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class JourneyInternal;
}  // namespace internal

/// One deal or buyer moving through a machine, as a value you keep in your
/// own row or object.
class SC_API Journey {
 public:
  /// A journey in options.entry_stage (default: the machine's initial
  /// stage), entered and last active at `start`, in its first cycle, with
  /// every attribute unset (reads give the declared defaults).
  /// On failure: InvalidArgument if `machine` is null or the stage is not
  /// one of the machine's entry stages.
  [[nodiscard]] static absl::StatusOr<Journey> Create(
      std::shared_ptr<const Machine> machine, Timestamp start,
      const JourneyOptions& options = {});

  /// The machine the journey moves through (shared, immutable). @{
  const Machine& machine() const { return *machine_; }
  const std::shared_ptr<const Machine>& machine_ptr() const { return machine_; }
  ///@}
  /// The current stage.
  StageId stage() const { return stage_; }
  /// When the journey entered its current stage.
  Timestamp entered_at() const { return entered_at_; }
  /// As Pipeline's of the same names (pipeline.h): the last activity, the
  /// start of the stall clock, the loss reason, the stage it was closed
  /// from and the cycle (1 for the first). @{
  Timestamp last_activity() const { return last_activity_; }
  Timestamp ClockStart() const;
  const std::string& loss_reason() const { return loss_reason_; }
  StageId closed_from() const { return closed_from_; }
  uint32_t cycle() const { return cycle_; }
  ///@}

  /// Fires `event` at `time` through the machine's transition core.
  /// A rejection is a result (step.outcome), not an error; see
  /// Machine::ExplainRejection. Errors: InvalidArgument for an event id out of
  /// range; NotFound for an unknown event name. Nothing changes on error. @{
  [[nodiscard]] absl::StatusOr<StepResult> Fire(EventId event, Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> Fire(absl::string_view event,
                                                Timestamp time);
  ///@}
  /// A move by stage, as Pipeline::MoveTo.
  /// Errors: InvalidArgument for a stage id out of range; NotFound for an
  /// unknown stage name. @{
  [[nodiscard]] absl::StatusOr<StepResult> MoveTo(StageId stage,
                                                  Timestamp time);
  [[nodiscard]] absl::StatusOr<StepResult> MoveTo(absl::string_view stage,
                                                  Timestamp time);
  ///@}
  /// A reopen, as Pipeline::Reopen.
  StepResult Reopen(Timestamp time);

  /// Fires the timeout of the current stage if it fell due at or before
  /// `now`, and so on while the new stage's timeout is due too (at most
  /// 64 steps a call). Each step is timed at its due time. A timeout fires
  /// once per stage entry: a rejected one does not fire again until the deal
  /// enters a stage anew. Returns the number of timeouts fired.
  int AdvanceTo(Timestamp now);

  /// Sets an attribute. Errors: InvalidArgument for an id out of range or a
  /// value of another type than the attribute's; NotFound for an unknown
  /// name. Nothing changes on error. @{
  [[nodiscard]] absl::Status Set(AttributeId id, AttributeValue value);
  [[nodiscard]] absl::Status Set(absl::string_view name, AttributeValue value);
  ///@}
  /// The value, or the declared default when unset. Errors as for Set. @{
  [[nodiscard]] absl::StatusOr<AttributeValue> Get(AttributeId id) const;
  [[nodiscard]] absl::StatusOr<AttributeValue> Get(
      absl::string_view name) const;
  ///@}
  /// False for an id out of range.
  bool IsSet(AttributeId id) const;

  /// The remembered steps, oldest first; empty when history is off.
  std::vector<HistoryEntry> History() const;
  /// How many steps History() keeps (JourneyOptions::history_limit).
  size_t history_limit() const { return history_limit_; }

  /// See observer.h. Null is ignored; an observer registered twice is called
  /// twice.
  void AddObserver(Observer* observer);
  /// Unregisters `observer` (one registration of it); unknown ones are
  /// ignored.
  void RemoveObserver(Observer* observer);

 private:
  friend class internal::JourneyInternal;

  Journey(std::shared_ptr<const Machine> machine, Timestamp start,
          const JourneyOptions& options);
  void Record(const StepResult& step);

  std::shared_ptr<const Machine> machine_;
  StageId stage_;
  Timestamp entered_at_;
  // The current stage's timeout fired and was rejected.
  bool timeout_consumed_ = false;
  Timestamp last_activity_;
  std::string loss_reason_;
  StageId closed_from_ = kNoStage;
  uint32_t cycle_ = 1;
  std::vector<uint64_t> scalars_;      // by scalar slot (see Machine)
  std::vector<std::string> strings_;   // by string slot
  std::vector<uint64_t> set_bits_;     // bit per attribute id
  size_t history_limit_;
  uint64_t history_count_ = 0;
  std::vector<HistoryEntry> history_;  // ring of history_limit_ entries
  std::vector<Observer*> observers_;
};

}  // namespace salescycle

#endif  // SALESCYCLE_JOURNEY_H_
