/// \file
/// A compiled sales cycle: stages, events, attributes and transitions, with a
/// flat transition table that every container steps through.
///
/// A Machine is immutable once compiled and safe to share between any number
/// of threads (re2's model): journeys and pipelines hold it through a
/// shared_ptr<const Machine>. It cannot be copied or moved — there is no need
/// to, and its address is what containers hold — so it is only ever handed
/// out as that shared_ptr.
///
/// Loading: a MachineSpec (proto/salescycle/v1/machine.proto) in protobuf text
/// format or JSON, from a string or a file. Every error names the source and
/// the offending element, e.g.
/// \code{.txt}
///   b2b.textproto: transitions[4] (qualification --present--> presentation):
///   unknown event "presnt"
/// \endcode
#ifndef SALESCYCLE_MACHINE_H_
#define SALESCYCLE_MACHINE_H_

#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/attribute.h"
#include "salescycle/options.h"
#include "salescycle/step.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class MachineCompiler;
class MachineInternal;
struct Program;
}  // namespace internal

/// Whether a stage is open, or closes a cycle as won or lost.
enum class StageKind : uint8_t {
  kOpen,  ///< a deal here is still being worked
  kWon,   ///< closed won
  kLost,  ///< closed lost
};

/// "open", "won", "lost".
SC_API absl::string_view StageKindName(StageKind kind);

/// What a stage's stall limit and timeout count from (machine.proto's
/// Stage.StallClock): the deal's entry into the stage, or the later of that
/// and its last activity.
enum class StallClock : uint8_t {
  kStageEntry,    ///< from the deal's entry into the stage
  kLastActivity,  ///< from the later of its entry and its last activity
};

/// One stage of a compiled machine (machine.proto's Stage, resolved).
struct StageInfo {
  std::string id;  ///< the spec's id, unique in the machine
  std::string display_name;  ///< the id when the spec gives none
  StageKind kind = StageKind::kOpen;  ///< open, won or lost
  int win_probability = 0;   ///< 0..100
  std::string group;         ///< "" when none
  /// A deal here longer than this is stalled (funnel.h); none: never.
  std::optional<int64_t> stall_limit_seconds;
  /// A deal enters only with these attributes set.
  std::vector<AttributeId> required_attributes;
  /// What the stall limit and the stage's timeout count from.
  StallClock stall_clock = StallClock::kStageEntry;
  /// LOST stages: where a deal's loss reason comes from (machine.proto's
  /// reason_attribute, a STRING attribute, or kNoAttribute; then, with
  /// reason_from_event, the event's id).
  AttributeId reason_attribute = kNoAttribute;
  /// LOST stages: the reason is the event's id when no attribute gives one.
  bool reason_from_event = false;
  /// WON and LOST stages: a deal here may be reopened.
  bool reopenable = false;
  /// Off the funnel line (machine.proto's side_stage).
  bool side = false;

  /// WON or LOST.
  bool closed() const { return kind != StageKind::kOpen; }
  /// A LOST stage that records a loss reason.
  bool records_reason() const {
    return reason_attribute != kNoAttribute || reason_from_event;
  }
};

/// One event of a compiled machine.
struct EventInfo {
  std::string id;           ///< the spec's id, unique among events
  std::string description;  ///< the spec's, "" when none
};

/// One deal attribute of a compiled machine.
struct AttributeInfo {
  std::string name;                            ///< unique among attributes
  AttributeType type = AttributeType::kInt64;  ///< what it holds
  AttributeValue default_value;  ///< what a read of it gives while unset
};

/// One concrete transition, after "from a group", "from any open stage",
/// "to any open stage" and "to any closed stage" were expanded to every pair
/// of stages they cover (in stage order; never a stage to itself).
struct TransitionInfo {
  StageId from = kNoStage;  ///< the stage it leaves
  /// kNoEvent: only a move by stage takes it.
  EventId event = kNoEvent;
  /// kNoStage: an activity (the event is accepted and the deal stays).
  StageId to = kNoStage;
  /// Index of the transition in the spec's `transitions` list.
  int spec_index = -1;
  /// The guard in readable form ("budget >= 1000 and authority == true"),
  /// "" when unguarded.
  std::string guard;
  /// Taking it starts a new cycle of the deal (machine.proto's new_cycle).
  bool new_cycle = false;
};

/// A stage's timeout: after `after_seconds` on its stall clock, an event
/// fires or a stage is entered (Pipeline::AdvanceTo).
struct TimeoutInfo {
  StageId stage = kNoStage;   ///< the stage it belongs to
  int64_t after_seconds = 0;  ///< how long after the clock's start it is due
  /// Exactly one of the two is set: the event fired, or the stage entered.
  /// @{
  EventId fire_event = kNoEvent;
  StageId enter_stage = kNoStage;
  ///@}
};

/// A compiled sales cycle: stages, events, attributes, transitions and
/// timeouts in a flat table. Immutable, and shared by every journey and
/// pipeline of it, on any thread.
class SC_API Machine {
 public:
  /// Parse and compile a MachineSpec.
  /// On success: the compiled machine. On failure: InvalidArgument naming the
  /// source (options.source_name) and the offending element; NotFound /
  /// PermissionDenied etc. for a file that cannot be read. @{
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Machine>>
  FromTextProto(absl::string_view text, const CompileOptions& options = {});
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Machine>> FromJson(
      absl::string_view json, const CompileOptions& options = {});
  ///@}
  /// A path ending in ".json" is read as JSON, anything else as text format.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Machine>> FromFile(
      const std::string& path, const CompileOptions& options = {});

  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine();

  // ---- identity
  /// The spec's name.
  const std::string& name() const { return name_; }
  /// The spec's version (Migration moves snapshots between versions).
  uint32_t version() const { return version_; }
  /// A 64-bit hash of the canonical spec: everything that changes behaviour
  /// or analytics (ids, kinds, probabilities, groups, limits, attributes,
  /// guards, transitions, timeouts, the initial stage), but not the name,
  /// version, display names or descriptions. Stable across builds, platforms
  /// and protobuf versions: it hashes our own canonical encoding.
  uint64_t fingerprint() const { return fingerprint_; }
  /// The spec as compiled, in protobuf text format.
  const std::string& spec_text() const { return spec_text_; }
  /// The spec as compiled, in JSON (protobuf's mapping of MachineSpec, field
  /// names as in machine.proto, 64-bit integers as strings), with what the
  /// compiler resolved written out: every stage's display name, kind and win
  /// probability. Stage, event and attribute i are the i-th of their list.
  /// FromJson of it gives a machine with the same fingerprint. This is how
  /// the C API's callers read the whole machine (sc_machine_spec_json), so a
  /// field added to machine.proto reaches them with no change to the API.
  std::string SpecJson() const;

  // ---- introspection
  /// How many stages, events and attributes: ids run from 0 below these. @{
  int num_stages() const { return static_cast<int>(stages_.size()); }
  int num_events() const { return static_cast<int>(events_.size()); }
  int num_attributes() const { return static_cast<int>(attributes_.size()); }
  ///@}
  /// The stage a deal is created in when none is named.
  StageId initial_stage() const { return initial_stage_; }
  /// The stages a deal may be created in: the initial stage first, then the
  /// spec's entry_stages in its order.
  absl::Span<const StageId> entry_stages() const { return entry_stages_; }
  /// Whether `stage` is one of entry_stages().
  bool IsEntryStage(StageId stage) const;
  /// A stage, event or attribute by id.
  /// REQUIRES: id < num_stages() (resp. events, attributes).
  /// Debug builds (no NDEBUG) check every REQUIRES: of this header. @{
  const StageInfo& stage(StageId id) const {
    assert(id < stages_.size());
    return stages_[id];
  }
  const EventInfo& event(EventId id) const {
    assert(id < events_.size());
    return events_[id];
  }
  const AttributeInfo& attribute(AttributeId id) const {
    assert(id < attributes_.size());
    return attributes_[id];
  }
  ///@}
  /// Every concrete transition, grouped by source stage then event, in
  /// declaration order within a (stage, event) pair.
  absl::Span<const TransitionInfo> transitions() const { return transitions_; }
  /// The events that have at least one transition leaving `stage`, in event id
  /// order. REQUIRES: stage < num_stages().
  std::vector<EventId> EventsLeaving(StageId stage) const;
  /// The timeout of `stage`, if it has one.
  std::optional<TimeoutInfo> timeout(StageId stage) const;
  /// Some stage has a timeout.
  bool has_timeouts() const { return has_timeouts_; }

  // ---- what a deal keeps beyond its stage, entry time and attributes:
  // each costs per-deal state (pipeline.h), so only a machine that uses it
  // pays for it.
  /// The time of its last activity: the machine has activities or a stage
  /// whose stall clock is LAST_ACTIVITY.
  bool keeps_last_activity() const { return keeps_last_activity_; }
  /// A loss reason: some LOST stage records one.
  bool keeps_loss_reasons() const { return keeps_loss_reasons_; }
  /// The stage it was closed from: some closed stage is reopenable.
  bool keeps_closed_from() const { return keeps_closed_from_; }
  /// Its cycle number: some transition starts a new cycle (new_cycle: a
  /// repeat purchase, a new attempt after a loss).
  bool keeps_cycles() const { return keeps_cycles_; }

  // ---- lookups by name
  /// A stage, event or attribute id by name. Errors: NotFound naming the
  /// machine and the name. @{
  [[nodiscard]] absl::StatusOr<StageId> FindStage(absl::string_view id) const;
  [[nodiscard]] absl::StatusOr<EventId> FindEvent(absl::string_view id) const;
  [[nodiscard]] absl::StatusOr<AttributeId> FindAttribute(
      absl::string_view name) const;
  ///@}

  // ---- the transition core, for callers that keep state themselves.
  /// Pure: decides what `event` does to a deal in stage `from` with the given
  /// attributes at `time`, without changing anything. Journey and Pipeline
  /// call the same core.
  /// REQUIRES: from < num_stages(), event < num_events().
  StepResult Step(StageId from, EventId event, Timestamp time,
                  const AttributeReader& attributes) const;
  /// A move by stage: the first transition from `from` to `to`, by any event
  /// or none, in declaration order, whose guard holds; then `to`'s required
  /// attributes. The result's `target` is `to`; its `event` the event of the
  /// transition taken (kNoEvent for one that has none). `to` == `from` is an
  /// update of the deal where it is: Outcome::kActivity.
  /// REQUIRES: from, to < num_stages().
  StepResult StepTo(StageId from, StageId to, Timestamp time,
                    const AttributeReader& attributes) const;

  /// OkStatus for a move; for a rejection, FailedPrecondition saying which
  /// event was rejected in which stage and why (the guard, the missing
  /// attribute), e.g. `event "present" rejected in stage "qualification":
  /// guard failed: budget >= 1000`.
  absl::Status ExplainRejection(const StepResult& step) const;

 private:
  friend class internal::MachineCompiler;  // builds it
  friend class internal::MachineInternal;  // reads program_ (src/program.h)

  Machine();

  std::string name_;
  uint32_t version_ = 0;
  uint64_t fingerprint_ = 0;
  std::string spec_text_;
  std::vector<StageInfo> stages_;
  std::vector<EventInfo> events_;
  std::vector<AttributeInfo> attributes_;
  std::vector<TransitionInfo> transitions_;
  StageId initial_stage_ = 0;
  std::vector<StageId> entry_stages_;
  bool has_timeouts_ = false;
  bool has_activities_ = false;
  bool keeps_last_activity_ = false;
  bool keeps_loss_reasons_ = false;
  bool keeps_closed_from_ = false;
  bool keeps_cycles_ = false;

  absl::flat_hash_map<std::string, StageId> stage_by_name_;
  absl::flat_hash_map<std::string, EventId> event_by_name_;
  absl::flat_hash_map<std::string, AttributeId> attribute_by_name_;

  // The compiled form (src/program.h), behind a pointer as re2 keeps its
  // Prog: its layout is not the public header's business.
  std::unique_ptr<internal::Program> program_;
};

}  // namespace salescycle

#endif  // SALESCYCLE_MACHINE_H_
