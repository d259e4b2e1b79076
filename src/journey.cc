#include "salescycle/journey.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attribute_codec.h"
#include "src/core.h"
#include "src/journey_internal.h"
#include "src/status_macros.h"

namespace salescycle {

using internal::Core;

// The core's view of a journey's attributes.
class JourneyAttributes {
 public:
  explicit JourneyAttributes(const Journey& j) : j_(j) {}
  bool IsSet(AttributeId id) const { return JI::is_set(j_, id); }
  int64_t GetInt64(AttributeId id) const {
    return static_cast<int64_t>(Scalar(id));
  }
  double GetDouble(AttributeId id) const {
    return internal::BitsDouble(Scalar(id));
  }
  bool GetBool(AttributeId id) const { return Scalar(id) != 0; }
  absl::string_view GetString(AttributeId id) const {
    return JI::string_value(j_, Core::Slot(j_.machine(), id));
  }

 private:
  using JI = internal::JourneyInternal;
  uint64_t Scalar(AttributeId id) const {
    return JI::scalar_bits(j_, Core::Slot(j_.machine(), id));
  }
  const Journey& j_;
};

absl::StatusOr<Journey> Journey::Create(std::shared_ptr<const Machine> machine,
                                        Timestamp start,
                                        const JourneyOptions& options) {
  if (machine == nullptr) {
    return absl::InvalidArgumentError("Journey::Create: machine is null");
  }
  SC_RETURN_IF_ERROR(internal::CheckHistoryLimit(options.history_limit));
  if (options.entry_stage != kNoStage &&
      !machine->IsEntryStage(options.entry_stage)) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.entry_stage < machine->num_stages()
            ? absl::StrCat("stage \"", machine->stage(options.entry_stage).id,
                           "\"")
            : absl::StrCat("stage id ", options.entry_stage),
        " is not an entry stage of machine \"", machine->name(), "\""));
  }
  return Journey(std::move(machine), start, options);
}

Journey::Journey(std::shared_ptr<const Machine> machine, Timestamp start,
                 const JourneyOptions& options)
    : machine_(std::move(machine)),
      stage_(options.entry_stage == kNoStage ? machine_->initial_stage()
                                             : options.entry_stage),
      entered_at_(start),
      last_activity_(start),
      scalars_(Core::ScalarDefaults(*machine_)),
      strings_(Core::StringDefaults(*machine_)),
      set_bits_((machine_->num_attributes() + 63) / 64, 0),
      history_limit_(options.history_limit),
      history_(options.history_limit) {}

absl::StatusOr<StepResult> Journey::Fire(EventId event, Timestamp time) {
  SC_RETURN_IF_ERROR(internal::CheckEventId(*machine_, event));
  const StepResult step =
      Core::Decide(*machine_, stage_, event, time, JourneyAttributes(*this));
  Record(step);
  return step;
}

absl::StatusOr<StepResult> Journey::Fire(absl::string_view event,
                                         Timestamp time) {
  SC_ASSIGN_OR_RETURN(const EventId id, machine_->FindEvent(event));
  return Fire(id, time);
}

absl::StatusOr<StepResult> Journey::MoveTo(StageId stage, Timestamp time) {
  SC_RETURN_IF_ERROR(internal::CheckStageId(*machine_, stage));
  const StepResult step = Core::DecideMoveOrReopen(
      *machine_, stage_, stage, closed_from_, time, JourneyAttributes(*this));
  Record(step);
  return step;
}

absl::StatusOr<StepResult> Journey::MoveTo(absl::string_view stage,
                                           Timestamp time) {
  SC_ASSIGN_OR_RETURN(const StageId id, machine_->FindStage(stage));
  return MoveTo(id, time);
}

StepResult Journey::Reopen(Timestamp time) {
  const StepResult step =
      Core::DecideReopen(*machine_, stage_, closed_from_, time);
  Record(step);
  return step;
}

Timestamp Journey::ClockStart() const {
  return Core::ClockStart(*machine_, stage_, entered_at_, last_activity_);
}

// The journey's state beyond its stage, for Core::Bookkeep.
class JourneyDeal {
 public:
  explicit JourneyDeal(Journey* j) : j_(j) {}
  void SetLastActivity(Timestamp t) { JI::SetLastActivity(j_, t); }
  void SetLossReason(absl::string_view reason) { JI::SetLossReason(j_, reason); }
  void SetClosedFrom(StageId stage) { JI::SetClosedFrom(j_, stage); }
  void NextCycle() { JI::SetCycle(j_, j_->cycle() + 1); }
  void SetTimeoutConsumed(bool consumed) { JI::SetTimeoutConsumed(j_, consumed); }

 private:
  using JI = internal::JourneyInternal;
  Journey* j_;
};

void Journey::Record(const StepResult& step) {
  JourneyDeal view(this);
  Core::Bookkeep(*machine_, step, JourneyAttributes(*this), &view);
  if (step.moved()) {
    stage_ = step.to;
    entered_at_ = step.time;
  }
  if (history_limit_ > 0) {
    internal::PushHistory(history_.data(), history_limit_, &history_count_,
                          step);
  }
  internal::Notify(observers_, step);
}

int Journey::AdvanceTo(Timestamp now) {
  int fired = 0;
  while (fired < Core::kMaxTimeoutsPerAdvance && !timeout_consumed_) {
    const Timestamp due = Core::TimeoutDue(*machine_, stage_, ClockStart());
    if (!Core::IsDue(due, now)) break;
    Record(Core::FireTimeout(*machine_, stage_, due, JourneyAttributes(*this)));
    ++fired;
  }
  return fired;
}

absl::Status Journey::Set(AttributeId id, AttributeValue value) {
  SC_RETURN_IF_ERROR(internal::CheckAttributeWrite(*machine_, id, value));
  const uint16_t slot = Core::Slot(*machine_, id);
  if (value.type() == AttributeType::kString) {
    strings_[slot] = value.string_value();
  } else {
    scalars_[slot] = internal::ScalarBits(value);
  }
  set_bits_[id >> 6] |= uint64_t{1} << (id & 63);
  return absl::OkStatus();
}

absl::Status Journey::Set(absl::string_view name, AttributeValue value) {
  SC_ASSIGN_OR_RETURN(const AttributeId id, machine_->FindAttribute(name));
  return Set(id, std::move(value));
}

absl::StatusOr<AttributeValue> Journey::Get(AttributeId id) const {
  SC_RETURN_IF_ERROR(internal::CheckAttribute(*machine_, id));
  const AttributeType type = machine_->attribute(id).type;
  const uint16_t slot = Core::Slot(*machine_, id);
  if (type == AttributeType::kString) {
    return AttributeValue::String(strings_[slot]);
  }
  return internal::ScalarValue(type, scalars_[slot]);
}

absl::StatusOr<AttributeValue> Journey::Get(absl::string_view name) const {
  SC_ASSIGN_OR_RETURN(const AttributeId id, machine_->FindAttribute(name));
  return Get(id);
}

bool Journey::IsSet(AttributeId id) const {
  return id < machine_->num_attributes() && JourneyAttributes(*this).IsSet(id);
}

std::vector<HistoryEntry> Journey::History() const {
  return internal::CopyHistory(history_.data(), history_limit_, history_count_);
}

void Journey::AddObserver(Observer* observer) {
  internal::AddObserver(&observers_, observer);
}

void Journey::RemoveObserver(Observer* observer) {
  internal::RemoveObserver(&observers_, observer);
}

}  // namespace salescycle
