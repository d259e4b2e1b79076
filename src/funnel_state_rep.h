// A funnel state's parts (funnel_state.h): the counters the accumulator
// keeps as deals move, and what one pass over the live deals adds as of a
// moment. Every sum is an integer, so that merging the states of pipelines
// that saw disjoint deals gives, in any split and any order, the state of
// one pipeline that saw them all.
#ifndef SALESCYCLE_SRC_FUNNEL_STATE_REP_H_
#define SALESCYCLE_SRC_FUNNEL_STATE_REP_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "salescycle/funnel.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/types.h"
#include "src/analytics.h"

namespace salescycle {
namespace internal {

// Deal values summed exactly: each value rounded once to a multiple of
// 2^-32 (far below a cent), then added as a 128-bit integer, so the sum
// does not depend on the order of the additions, which a double's does.
// Values past +-2^80 (1.2e24) count as +-2^80.
class ExactSum {
 public:
  static constexpr double kScale = 4294967296.0;  // 2^32
  void Add(double value, int64_t times = 1) { sum_ += Fixed(value) * times; }
  void Merge(const ExactSum& other) { sum_ += other.sum_; }
  double value() const { return static_cast<double>(sum_) / kScale; }
  absl::int128 raw() const { return sum_; }
  void set_raw(absl::int128 raw) { sum_ = raw; }

 private:
  static absl::int128 Fixed(double value) {
    constexpr double kLimit = 1208925819614629174706176.0;  // 2^80
    if (std::isnan(value)) return 0;
    const double clamped = std::fmax(-kLimit, std::fmin(kLimit, value));
    return absl::int128(std::nearbyint(clamped * kScale));
  }
  absl::int128 sum_ = 0;
};

// What one pass over the live deals adds to a group's figures.
struct LiveTally {
  LiveTally() = default;
  explicit LiveTally(size_t stages)
      : now(stages, 0), stalled(stages, 0), stopped_lost(stages, 0),
        stopped_open(stages, 0), stopped_side(stages, 0), current_stay_seconds(stages, 0) {}
  std::vector<uint64_t> now;
  std::vector<uint64_t> stalled;
  // By the stage of a live deal's furthest position on the line: it is now
  // lost, still open (on the line, perhaps behind it), or in a side stage.
  std::vector<uint64_t> stopped_lost, stopped_open, stopped_side;
  // By stage: the live deals' stays in it so far, from their entry to the
  // report's time, summed (the cumulative time in stage counts them).
  std::vector<absl::uint128> current_stay_seconds;
  absl::flat_hash_map<std::string, uint64_t> lost_by_reason;
  uint64_t live = 0;
  uint64_t open = 0;
  // Sum over open valued deals of value x win probability (a percentage:
  // divided by 100 when read).
  ExactSum weighted_percent;
  ExactSum won_value;
  uint64_t won_valued = 0;
  ExactSum open_value;
  uint64_t open_valued = 0;

  // One live deal in stage `s`, whose furthest stage on the line is
  // `furthest` (kNoStage: none); `value` when its value attribute is set.
  void Add(StageId s, const StageInfo& info, StageId furthest, bool is_stalled,
           bool won, std::optional<double> value, uint64_t stay_seconds);
  void Merge(const LiveTally& other);
};

// The live deals with one value of the breakdown attribute.
struct SegmentTally {
  uint64_t deals = 0, open = 0, won = 0, lost = 0;
  ExactSum weighted_percent;
  std::vector<uint64_t> reached;  // by stage id
  void Merge(const SegmentTally& other);
};

struct FunnelStateRep {
  std::shared_ptr<const Machine> machine;
  // The counters only: no per-deal state.
  std::unique_ptr<FunnelAccumulator> counters;
  Timestamp as_of = 0;
  std::string value_attribute;
  std::string breakdown_attribute;
  std::optional<Timestamp> closed_from, closed_to;  // FunnelOptions'
  std::optional<Timestamp> created_from, created_to;
  LiveTally total;
  std::vector<LiveTally> cohorts;  // by counters->cohorts() index
  absl::flat_hash_map<std::string, SegmentTally> segments;
  SegmentTally unset;  // the deals without the breakdown attribute
};

// The state of `pipeline` as of options.now (funnel.cc); errors as FunnelOf.
absl::StatusOr<std::unique_ptr<FunnelStateRep>> CaptureRep(const Pipeline& pipeline,
                                                          const FunnelOptions& options);
// OK when options' windows fit the counters' cohorts (funnel.cc).
absl::Status CheckWindows(const FunnelAccumulator& acc, const FunnelOptions& options);
// The report a state makes (funnel.cc).
FunnelReport ReportOf(const FunnelStateRep& rep);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_FUNNEL_STATE_REP_H_
