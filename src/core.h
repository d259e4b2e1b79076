// The one transition core. Journey, Pipeline and Machine::Step all decide
// through these functions; containers only store what they decide.
//
// An `Attrs` type gives the core a deal's attributes. It has the
// AttributeReader methods (IsSet, GetInt64, GetDouble, GetBool, GetString),
// non-virtual, so that a container's accessor inlines; AttributeReader itself
// also qualifies.
#ifndef SALESCYCLE_SRC_CORE_H_
#define SALESCYCLE_SRC_CORE_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "salescycle/options.h"
#include "salescycle/machine.h"
#include "salescycle/observer.h"
#include "salescycle/step.h"
#include "src/program.h"

namespace salescycle {
namespace internal {

inline constexpr Timestamp kNever = std::numeric_limits<Timestamp>::max();

// Wraps a container's accessor as the AttributeReader a named guard takes.
template <class Attrs>
class ReaderAdapter final : public AttributeReader {
 public:
  explicit ReaderAdapter(const Attrs& attrs) : attrs_(attrs) {}
  bool IsSet(AttributeId id) const override { return attrs_.IsSet(id); }
  int64_t GetInt64(AttributeId id) const override {
    return attrs_.GetInt64(id);
  }
  double GetDouble(AttributeId id) const override {
    return attrs_.GetDouble(id);
  }
  bool GetBool(AttributeId id) const override { return attrs_.GetBool(id); }
  absl::string_view GetString(AttributeId id) const override {
    return attrs_.GetString(id);
  }

 private:
  const Attrs& attrs_;
};

struct Core {
  using GuardNode = Program::GuardNode;

  static const Program& P(const Machine& m) {
    return MachineInternal::program(m);
  }

  // Attribute storage layout, for containers.
  static uint16_t Slot(const Machine& m, AttributeId id) {
    return P(m).attribute_slot[id];
  }
  static const std::vector<uint64_t>& ScalarDefaults(const Machine& m) {
    return P(m).scalar_defaults;
  }
  static const std::vector<std::string>& StringDefaults(const Machine& m) {
    return P(m).string_defaults;
  }

  // Whether any cell needs more than the table to decide (a guard or a
  // required attribute): steps there cost several times a direct cell's.
  static bool HasSlowCells(const Machine& m) {
    return !P(m).slow_cells.empty();
  }

  // Whether any guard calls the host's code (CompileOptions::named_guards).
  static bool HasNamedGuards(const Machine& m) {
    return !P(m).named_guards.empty();
  }

  template <typename T>
  static bool Compare(GuardNode::Op op, const T& a, const T& b) {
    switch (op) {
      case GuardNode::kEq: return a == b;
      case GuardNode::kNe: return a != b;
      case GuardNode::kLt: return a < b;
      case GuardNode::kLe: return a <= b;
      case GuardNode::kGt: return a > b;
      case GuardNode::kGe: return a >= b;
    }
    return false;
  }

  // Takes the program, not the machine: one load of Machine::program_ per
  // step instead of one per node (measurable on guarded batches).
  template <class Attrs>
  static bool EvalGuard(const Program& p, uint32_t index, const Attrs& a) {
    const GuardNode& node = p.guard_nodes[index];
    switch (node.kind) {
      case GuardNode::kInt64Compare:
        return Compare(node.op, a.GetInt64(node.attribute),
                       node.constant.int64_value);
      case GuardNode::kDoubleCompare:
        return Compare(node.op, a.GetDouble(node.attribute),
                       node.constant.double_value);
      case GuardNode::kBoolCompare:
        return Compare(node.op, a.GetBool(node.attribute),
                       node.constant.bool_value);
      case GuardNode::kStringCompare:
        return Compare(node.op, a.GetString(node.attribute),
                       absl::string_view(
                           p.guard_strings[node.constant.index]));
      case GuardNode::kAll:
      case GuardNode::kAny: {
        const bool want = node.kind == GuardNode::kAny;
        const uint32_t end = index + node.size;
        for (uint32_t child = index + 1; child < end;
             child += p.guard_nodes[child].size) {
          if (EvalGuard(p, child, a) == want) return want;
        }
        return !want;
      }
      case GuardNode::kNot:
        return !EvalGuard(p, index + 1, a);
      case GuardNode::kNamed: {
        const ReaderAdapter<Attrs> reader(a);
        return p.named_guards[node.constant.index](reader);
      }
    }
    return false;
  }

  // The table cell for (from, event). `from` may be the removed-deal row
  // (m.num_stages()).
  static size_t CellIndex(const Machine& m, StageId from, EventId event) {
    assert(from <= m.num_stages() && event < m.num_events());
    return (static_cast<size_t>(from) << P(m).row_shift) | event;
  }
  static uint32_t Lookup(const Machine& m, StageId from, EventId event) {
    return P(m).cells[CellIndex(m, from, event)];
  }
  // The table as the batch loop holds it in registers.
  struct Table {
    const uint32_t* cells;
    uint32_t row_shift;
    uint32_t Lookup(StageId from, EventId event) const {
      return cells[(static_cast<size_t>(from) << row_shift) | event];
    }
  };
  static Table HotTable(const Machine& m) {
    return Table{P(m).cells.data(), P(m).row_shift};
  }
  // A direct cell is an unguarded move to the stage it holds.
  static bool IsDirect(uint32_t cell) { return cell < Program::kSlowCell; }
  static bool IsNoTransition(uint32_t cell) {
    return cell == Program::kNoTransitionCell;
  }

  static StepResult Start(StageId from, EventId event, Timestamp time) {
    StepResult r;
    r.from = from;
    r.to = from;
    r.event = event;
    r.time = time;
    return r;
  }

  // Checks the target's required attributes, then moves; an activity
  // (to == kNoStage) is accepted where the deal is.
  template <class Attrs>
  static void Enter(const Machine& m, StageId to, int32_t transition,
                    const Attrs& a, StepResult* r) {
    r->transition = transition;
    if (to == kNoStage) {
      r->outcome = Outcome::kActivity;
      return;
    }
    for (AttributeId required : m.stage(to).required_attributes) {
      if (!a.IsSet(required)) {
        r->outcome = Outcome::kMissingAttribute;
        r->missing_attribute = required;
        return;
      }
    }
    r->outcome = Outcome::kMoved;
    r->to = to;
  }

  // Decides a non-direct cell: guards in declaration order, then the
  // target's required attributes.
  template <class Attrs>
  static StepResult DecideSlow(const Machine& m, uint32_t cell, StageId from,
                               EventId event, Timestamp time, const Attrs& a) {
    StepResult r = Start(from, event, time);
    if (cell == Program::kNoTransitionCell) {
      r.outcome = Outcome::kNoTransition;
      return r;
    }
    if (cell == Program::kNoDealCell) {
      r.outcome = Outcome::kNoDeal;
      return r;
    }
    const Program& p = P(m);
    const Program::SlowCell& slow = p.slow_cells[cell & ~Program::kSlowCell];
    for (uint32_t i = 0; i < slow.num_candidates; ++i) {
      const Program::Candidate& c = p.candidates[slow.first_candidate + i];
      if (c.guard >= 0 && !EvalGuard(p, static_cast<uint32_t>(c.guard), a)) {
        r.transition = c.transition;
        continue;
      }
      Enter(m, c.to, c.transition, a, &r);
      return r;
    }
    r.outcome = Outcome::kGuardFailed;
    return r;
  }

  template <class Attrs>
  static StepResult Decide(const Machine& m, StageId from, EventId event,
                           Timestamp time, const Attrs& a) {
    const uint32_t cell = Lookup(m, from, event);
    if (ABSL_PREDICT_TRUE(IsDirect(cell))) {
      StepResult r = Start(from, event, time);
      r.outcome = Outcome::kMoved;
      r.to = static_cast<StageId>(cell);
      r.transition = P(m).cell_transition[CellIndex(m, from, event)];
      return r;
    }
    return DecideSlow(m, cell, from, event, time, a);
  }

  // A move by stage (Machine::StepTo). `from` may be the removed-deal row.
  template <class Attrs>
  static StepResult DecideMove(const Machine& m, StageId from, StageId to,
                               Timestamp time, const Attrs& a) {
    StepResult r = Start(from, kNoEvent, time);
    r.target = to;
    if (from >= m.num_stages()) {
      r.outcome = Outcome::kNoDeal;
      return r;
    }
    if (from == to) {
      r.outcome = Outcome::kActivity;
      return r;
    }
    const Program& p = P(m);
    const Program::SlowCell* cell = p.FindMove(from, to);
    if (cell == nullptr) {
      r.outcome = Outcome::kNoTransition;
      return r;
    }
    for (uint32_t i = 0; i < cell->num_candidates; ++i) {
      const Program::Candidate& c = p.move_candidates[cell->first_candidate + i];
      if (c.guard >= 0 && !EvalGuard(p, static_cast<uint32_t>(c.guard), a)) {
        r.transition = c.transition;
        continue;
      }
      r.event = m.transitions()[c.transition].event;
      Enter(m, c.to, c.transition, a, &r);
      return r;
    }
    r.outcome = Outcome::kGuardFailed;
    return r;
  }

  // A move by stage for a deal closed from `closed_from` (kNoStage: never):
  // DecideMove, except that with no declared transition, a move from a
  // reopenable closed stage back to the stage the deal was closed from is a
  // reopen. That is how a reopened deal shows in a CRM's stage history.
  template <class Attrs>
  static StepResult DecideMoveOrReopen(const Machine& m, StageId from,
                                       StageId to, StageId closed_from,
                                       Timestamp time, const Attrs& a) {
    StepResult r = DecideMove(m, from, to, time, a);
    if (r.outcome != Outcome::kNoTransition || to != closed_from ||
        !m.stage(from).reopenable) {
      return r;
    }
    r = DecideReopen(m, from, closed_from, time);
    r.target = to;
    return r;
  }

  // Where the stall clock of `stage` starts for a deal that entered it at
  // `entered` and was last active at `last_activity` (ignored unless the
  // stage counts from the last activity; kNever-free: both are times).
  static Timestamp ClockStart(const Machine& m, StageId stage,
                              Timestamp entered, Timestamp last_activity) {
    return m.stage(stage).stall_clock == StallClock::kLastActivity
               ? std::max(entered, last_activity)
               : entered;
  }

  // When the timeout of `stage` is due for a deal whose stall clock started
  // at `clock_start` (ClockStart); kNever when the stage has none.
  static Timestamp TimeoutDue(const Machine& m, StageId stage,
                              Timestamp clock_start) {
    const int64_t after = P(m).timeouts[stage].after_seconds;
    if (after == 0) return kNever;
    if (clock_start > kNever - after) return kNever;
    return clock_start + after;
  }

  // The loss reason a move into a LOST stage records: the stage's reason
  // attribute if the deal has it set, else the event's id if the stage
  // takes reasons from events, else none (""). "" too for any other step.
  template <class Attrs>
  static absl::string_view LossReason(const Machine& m, const StepResult& r,
                                      const Attrs& a) {
    if (!r.moved()) return {};
    const StageInfo& to = m.stage(r.to);
    if (to.reason_attribute != kNoAttribute && a.IsSet(to.reason_attribute)) {
      return a.GetString(to.reason_attribute);
    }
    if (to.reason_from_event && r.event != kNoEvent) return m.event(r.event).id;
    return {};
  }

  // Whether a move starts a new cycle: it took a new_cycle transition (a
  // reopen or a timeout's enter_stage takes none).
  static bool StartsCycle(const Machine& m, const StepResult& r) {
    return r.moved() && r.transition >= 0 &&
           m.transitions()[r.transition].new_cycle;
  }

  // What a step changes beyond a deal's stage and entry time, decided once
  // for every container. `Deal` is the container's view of one deal's
  // state, with SetLastActivity(Timestamp), SetLossReason(string_view),
  // SetClosedFrom(StageId), NextCycle() and SetTimeoutConsumed(bool); the
  // setters of what the machine does not keep are never called. Called
  // before the container moves the deal (the attributes are read as the
  // step saw them).
  template <class Deal, class Attrs>
  static void Bookkeep(const Machine& m, const StepResult& r, const Attrs& a,
                       Deal* d) {
    if (r.moved()) {
      if (m.keeps_loss_reasons()) d->SetLossReason(LossReason(m, r, a));
      if (m.keeps_closed_from() && !m.stage(r.from).closed() &&
          m.stage(r.to).closed()) {
        d->SetClosedFrom(r.from);
      }
      if (m.keeps_cycles() && StartsCycle(m, r)) d->NextCycle();
      d->SetTimeoutConsumed(false);
    } else if (r.outcome == Outcome::kActivity) {
      if (m.keeps_last_activity()) d->SetLastActivity(r.time);
      // An activity restarts a LAST_ACTIVITY clock, and with it the
      // stage's timeout; on an entry clock, a timeout that fired an
      // activity is spent until the deal moves.
      if (m.stage(r.from).stall_clock == StallClock::kLastActivity) {
        d->SetTimeoutConsumed(false);
      } else if (r.by_timeout) {
        d->SetTimeoutConsumed(true);
      }
    } else if (r.by_timeout) {
      d->SetTimeoutConsumed(true);
    }
  }

  // A reopen of a deal in `from`, closed from `closed_from`.
  static StepResult DecideReopen(const Machine& m, StageId from,
                                 StageId closed_from, Timestamp time) {
    StepResult r = Start(from, kNoEvent, time);
    if (from >= m.num_stages()) {
      r.outcome = Outcome::kNoDeal;
      return r;
    }
    if (!m.stage(from).reopenable || closed_from >= m.num_stages()) {
      r.outcome = Outcome::kNotReopenable;
      return r;
    }
    r.outcome = Outcome::kMoved;
    r.reopened = true;
    r.to = closed_from;
    return r;
  }

  // Whether a timeout due at `due` fires by `now`. kNever never does, even
  // when `now` is the largest Timestamp.
  static bool IsDue(Timestamp due, Timestamp now) {
    return due != kNever && due <= now;
  }

  // Fires the timeout of `stage` as of its due time: the step is timed at
  // `due`, so the deal's new stage is entered then, not at the AdvanceTo
  // call, and replays do not depend on how often time is advanced.
  // REQUIRES: TimeoutDue(m, stage, entered) == due != kNever.
  template <class Attrs>
  static StepResult FireTimeout(const Machine& m, StageId stage, Timestamp due,
                                const Attrs& a) {
    const Program::TimeoutRule& rule = P(m).timeouts[stage];
    StepResult r;
    if (rule.fire_event != kNoEvent) {
      r = Decide(m, stage, rule.fire_event, due, a);
    } else {
      r = Start(stage, kNoEvent, due);
      Enter(m, rule.enter_stage, -1, a, &r);
    }
    r.by_timeout = true;
    return r;
  }

  // A timeout cascade (a timeout whose target times out too, already due)
  // stops after this many steps per deal and AdvanceTo call, so that a cycle
  // of short timeouts cannot keep one call busy for ever; the next call goes
  // on from there.
  static constexpr int kMaxTimeoutsPerAdvance = 64;
};

// InvalidArgument for a history limit past kMaxHistoryLimit: refused before
// anything is allocated for it.
inline absl::Status CheckHistoryLimit(size_t limit) {
  if (limit <= kMaxHistoryLimit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("history_limit ", limit, " is more than ", kMaxHistoryLimit));
}

// Observer lists, as Journey and Pipeline keep them.
inline void AddObserver(std::vector<Observer*>* list, Observer* observer) {
  if (observer != nullptr) list->push_back(observer);
}
inline void RemoveObserver(std::vector<Observer*>* list, Observer* observer) {
  auto it = std::find(list->begin(), list->end(), observer);
  if (it != list->end()) list->erase(it);
}
// By index, over the observers there were when the step was made: an
// observer that (against observer.h) registers another would otherwise
// leave this loop walking freed memory.
template <typename F>
void ForEachObserver(const std::vector<Observer*>& list, F call) {
  const size_t n = list.size();
  for (size_t i = 0; i < n && i < list.size(); ++i) call(list[i]);
}

inline void Notify(const std::vector<Observer*>& list, const StepResult& step) {
  ForEachObserver(list, [&](Observer* o) {
    if (step.moved()) {
      o->OnTransition(step);
    } else if (step.outcome == Outcome::kActivity) {
      o->OnActivity(step);
    } else {
      o->OnRejection(step);
    }
  });
}

// A bounded history kept as a ring of `limit` entries; `count` is the number
// of steps ever recorded, so the ring's oldest entry is at count % limit
// once it is full.
inline void PushHistory(HistoryEntry* ring, size_t limit, uint64_t* count,
                        const StepResult& r) {
  HistoryEntry& e = ring[*count % limit];
  e.time = r.time;
  e.event = r.event;
  e.from = r.from;
  e.to = r.to;
  e.outcome = r.outcome;
  e.by_timeout = r.by_timeout;
  ++*count;
}

inline std::vector<HistoryEntry> CopyHistory(const HistoryEntry* ring,
                                             size_t limit, uint64_t count) {
  std::vector<HistoryEntry> out;
  if (limit == 0) return out;
  const uint64_t kept = count < limit ? count : limit;
  out.reserve(kept);
  for (uint64_t i = count - kept; i < count; ++i) out.push_back(ring[i % limit]);
  return out;
}

inline uint64_t DoubleBits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}
inline double BitsDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CORE_H_
