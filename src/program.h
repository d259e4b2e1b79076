// A Machine's compiled form (as re2's Prog is an RE2's): the flat transition
// table, the guards compiled to preorder arrays, the timeouts and the
// attribute storage layout. Private: Machine holds it by pointer, so that
// its layout changes without touching the public header or recompiling
// its users. Built by MachineCompiler (machine.cc), read by the transition
// core (core.h) through MachineInternal.
#ifndef SALESCYCLE_SRC_PROGRAM_H_
#define SALESCYCLE_SRC_PROGRAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "salescycle/attribute.h"
#include "salescycle/machine.h"
#include "salescycle/types.h"

namespace salescycle {
namespace internal {

struct Program {
  // A transition-table cell: a stage id (< kSlowCell) for an unguarded move
  // to a target that requires nothing, else one of the markers below.
  static constexpr uint32_t kSlowCell = 0x80000000u;  // | slow_cells index
  static constexpr uint32_t kNoTransitionCell = 0xFFFFFFFFu;
  static constexpr uint32_t kNoDealCell = 0xFFFFFFFEu;

  struct SlowCell {
    uint32_t first_candidate;
    uint32_t num_candidates;
  };
  struct Candidate {
    StageId to;  // kNoStage: an activity
    int32_t transition;  // index into Machine::transitions()
    int32_t guard;       // root in guard_nodes, -1 when unguarded
  };
  // A guard compiled to a preorder array: node i's children start at i + 1,
  // and each child's subtree is `size` nodes long, so evaluation walks the
  // array without allocating.
  struct GuardNode {
    enum Kind : uint8_t {
      kInt64Compare,
      kDoubleCompare,
      kBoolCompare,
      kStringCompare,
      kAll,
      kAny,
      kNot,
      kNamed,
    };
    enum Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
    Kind kind;
    Op op;
    AttributeId attribute;
    uint32_t size;  // nodes in this subtree, itself included
    union {
      int64_t int64_value;
      double double_value;
      bool bool_value;
      uint32_t index;  // into guard_strings or named_guards
    } constant;
  };
  struct TimeoutRule {
    int64_t after_seconds = 0;  // 0: the stage has no timeout
    EventId fire_event = kNoEvent;
    StageId enter_stage = kNoStage;
  };

  // (num_stages + 1) rows of 2^row_shift >= num_events cells: cell
  // (from, event) is at (from << row_shift) | event, a shift rather than a
  // multiply on the hot loop's dependency chain. The extra last row is the
  // "removed deal" stage: every cell is kNoDealCell, so a pipeline's hot loop
  // needs no liveness branch.
  std::vector<uint32_t> cells;
  uint32_t row_shift = 0;
  // For direct cells, the transition they stand for (-1 elsewhere); read
  // only when a step is reported, never on the batch hot path.
  std::vector<int32_t> cell_transition;
  std::vector<SlowCell> slow_cells;
  // Indexed as Machine::transitions(): candidate i is transition i.
  std::vector<Candidate> candidates;
  // Moves by stage: (from, to) -> the transitions between the two, in
  // declaration order, in move_candidates. A table for machines of up to
  // kDenseMoveStages stages (a hash lookup was 6% of a stage-history
  // replay), a hash map beyond (a machine may have 65534 stages).
  static constexpr int kDenseMoveStages = 256;
  static uint32_t MoveKey(StageId from, StageId to) {
    return (static_cast<uint32_t>(from) << 16) | to;
  }
  absl::flat_hash_map<uint32_t, SlowCell> move_cells;
  std::vector<SlowCell> dense_moves;  // [from * num_stages + to]
  uint32_t dense_stride = 0;          // num_stages, when the table is built
  std::vector<Candidate> move_candidates;
  // The moves from -> to; null when there are none.
  const SlowCell* FindMove(StageId from, StageId to) const {
    if (dense_stride != 0) {
      const SlowCell& c = dense_moves[from * dense_stride + to];
      return c.num_candidates == 0 ? nullptr : &c;
    }
    const auto it = move_cells.find(MoveKey(from, to));
    return it == move_cells.end() ? nullptr : &it->second;
  }
  std::vector<GuardNode> guard_nodes;
  std::vector<std::string> guard_strings;
  std::vector<NamedGuard> named_guards;
  std::vector<TimeoutRule> timeouts;  // one per stage
  // Attribute storage layout: scalars (int64, double, bool) are kept as 64
  // bits in one slot space, strings in another.
  std::vector<uint16_t> attribute_slot;
  int num_scalar_slots = 0;
  int num_string_slots = 0;
  std::vector<uint64_t> scalar_defaults;      // bit patterns, by scalar slot
  std::vector<std::string> string_defaults;  // by string slot
};

// The one door to a Machine's program for the library's own code.
class MachineInternal {
 public:
  static const Program& program(const Machine& m) { return *m.program_; }
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_PROGRAM_H_
