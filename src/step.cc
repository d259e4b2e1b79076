#include "salescycle/step.h"

namespace salescycle {

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kMoved: return "moved";
    case Outcome::kNoTransition: return "no_transition";
    case Outcome::kGuardFailed: return "guard_failed";
    case Outcome::kMissingAttribute: return "missing_attribute";
    case Outcome::kNoDeal: return "no_deal";
    case Outcome::kActivity: return "activity";
    case Outcome::kNotReopenable: return "not_reopenable";
  }
  return "unknown";
}

}  // namespace salescycle
