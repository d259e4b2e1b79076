/// \file
/// Options for compiling machines and creating journeys and pipelines.
///
/// Thread safety: plain values, copied by the calls that take them (a named
/// guard's function is kept by the machine and called from whichever thread
/// steps a deal: see attribute.h).
#ifndef SALESCYCLE_OPTIONS_H_
#define SALESCYCLE_OPTIONS_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "salescycle/attribute.h"
#include "salescycle/limits.h"
#include "salescycle/types.h"

namespace salescycle {

/// How Machine::FromText, FromJson and FromFile compile a spec.
struct CompileOptions {
  /// C++ guards that a spec refers to with `guard { named: "..." }`.
  /// Default: none; a spec that names an unregistered guard fails to compile.
  absl::flat_hash_map<std::string, NamedGuard> named_guards;

  /// Named in error messages. Default: "" — Machine::FromFile uses the path,
  /// the string loaders "<text>" or "<json>".
  std::string source_name;

  /// What the spec may ask for (limits.h). Default: Limits's defaults.
  Limits limits;
};

/// The largest history_limit a journey or pipeline accepts.
inline constexpr size_t kMaxHistoryLimit = 1 << 16;

/// What a Journey keeps, and where it starts.
struct JourneyOptions {
  /// How many steps (moves and rejections) the journey remembers; older ones
  /// are dropped. At most kMaxHistoryLimit. Default: 0, no history.
  size_t history_limit = 0;
  /// The stage the journey starts in: one of the machine's entry stages.
  /// Default: kNoStage, the machine's initial stage.
  StageId entry_stage = kNoStage;
};

/// How funnel analytics group deals (funnel.h): by the UTC week, month or
/// calendar quarter a deal was added in. New kinds are added at the end: the
/// C API passes the number.
enum class Cohort : uint8_t {
  kNone,     ///< no cohorts: the whole pipeline's figures only
  kWeek,     ///< the ISO 8601 week (Monday to Sunday, UTC)
  kMonth,    ///< the calendar month (UTC)
  kQuarter,  ///< the calendar quarter (UTC)
};

/// Whether a pipeline keeps the funnel's counters (funnel.h) as it goes.
struct AnalyticsOptions {
  /// Keep the funnel counters online (funnel.h), at the cost of per-deal
  /// state (21 bytes plus a bit per stage) and work on every move.
  /// Default: false, and then analytics cost nothing.
  bool enabled = false;
  /// How deals are grouped into cohorts. Default: kNone, only the whole
  /// pipeline's figures.
  Cohort cohort = Cohort::kNone;
};

/// What a Pipeline keeps, and how much room it reserves.
struct PipelineOptions {
  /// Steps remembered per deal, as JourneyOptions::history_limit (at most
  /// kMaxHistoryLimit). Storage is
  /// reserved per deal when it is added, so firing never allocates.
  /// Default: 0, no history.
  size_t history_limit = 0;

  /// Deals to reserve room for up front; fewer than 2^32. Default: 0.
  size_t expected_deals = 0;
  /// Funnel analytics. Default: off.
  AnalyticsOptions analytics;
};

}  // namespace salescycle

#endif  // SALESCYCLE_OPTIONS_H_
