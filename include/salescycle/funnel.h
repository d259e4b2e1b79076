/// \file
/// Funnel analytics: where the funnel leaks, how long deals sit in each
/// stage, which deals are stalling, how fast deals are won and what the
/// pipeline is worth.
///
/// A pipeline created with PipelineOptions::analytics.enabled keeps the
/// counters online as events are applied (and costs nothing extra when it is
/// off); FunnelOf then reads them together with the deals' current state. A
/// pipeline without analytics but with history (for example one loaded from
/// a snapshot that kept history) gets the same report replayed from each
/// deal's remembered steps.
///
/// Cycles. A deal's first cycle starts when it is added; a new_cycle
/// transition (a repeat purchase after a win, a reactivation after a loss)
/// ends it and starts the next. The funnel counts cycles: a deal in its
/// third cycle has entered, reached, won or been lost three times over, and
/// the cycle length runs from its cycle's start. A machine without
/// new_cycle transitions has one cycle a deal, and "cycles" below reads
/// "deals".
///
/// \code{.txt}
/// Definitions (every count is of cycles, not events, unless it says moves;
/// "live deals" are the deals as they are now, in their current cycle):
///   entered      cycles that entered the stage (a deal added to the
///                pipeline enters the entry stage it is created in, and no
///                stage before it; a new cycle enters the stage its move
///                leads to);
///   moves in     moves into the stage (creation in it is not a move);
///   re-entries   moves in by deals that had been in the stage before in
///                the same cycle;
///   exits        moves out of the stage, by destination: forward (to a
///                later stage on the funnel line), back (to an earlier
///                stage on the line, or from a stage off the line back onto
///                it: a reactivation, a recovered cart, a repeat purchase),
///                lost (to a LOST stage), side (to any other stage off the
///                line);
///   moved on     exits forward, back and side: moves out to a stage that
///                is not LOST;
///   dropped      exits lost: moves out of the stage to a LOST stage;
///   flow         moves from each stage to each other stage;
///   now          live deals in the stage;
///   stalled      live deals whose stall clock has run past the stage's
///                stall limit: the clock runs from entry into the stage, or
///                for a LAST_ACTIVITY stage from the later of that and the
///                deal's last activity (Pipedrive's "rotting");
///   funnel line  the OPEN stages that are not side stages, in declaration
///                order, then the WON stages that are not (machine.proto's
///                side_stage); side stages and LOST stages are off it;
///   reached      cycles whose furthest stage on the line is this one or
///                later: a skipped stage counts as passed, and a move back
///                takes nothing away (CRMs' cumulative funnel); 0 off the
///                line;
///   stopped      live deals whose furthest stage on the line is this one:
///                lost from here, still open, or gone to a side stage (the
///                drop-off at the stage, split);
///   conversion to next   reached(next) / reached(stage), where next is the
///                next stage on the line; never above 100%; for OPEN stages
///                on the line only;
///   in order     reached and conversion to next counting only the cycles
///                that skipped no stage of the line (Mixpanel's and
///                Amplitude's ordered funnel): a cycle is in order while its
///                first stage on the line is the line's first and each new
///                furthest stage is the next one; moves back are allowed;
///                a deal created in a later entry stage is not in order;
///   conversion between two stages of the line, from k to a later j:
///                reached(j) / reached(k) (ConversionBetween; in JSON and
///                protobuf for every such pair);
///   conversion to won    cycles won / reached(stage) on the line (every won
///                cycle reached every stage before its win); off the line,
///                cycles that entered the stage and then won /
///                entered(stage);
///   cumulative time in stage   the time a cycle spent in the stage over
///                all its visits (HubSpot's cumulative time in stage),
///                averaged over the cycles that entered it: (completed stays
///                + the live deals' current stays up to the report's time)
///                / entered; a removed deal's unfinished stay is not in it;
///   time in stage        completed stays (entry to exit), mean exact,
///                median and 90th percentile within 1.6% (histograms of 32
///                buckets per power of two; exact below 32 seconds);
///   win rate     cycles won / cycles won or lost (Salesforce's and
///                HubSpot's closed won over closed);
///   cycle length the time from a cycle's start to its win: the
///                average in days, and the median and 90th percentile
///                (within 1.6%, as time in stage);
///   time to loss a cycle's start to its first loss, over every cycle lost
///                at least once (one reopened and won later too): median
///                and 90th percentile within 1.6%, and mean;
///   repeat purchases     for machines with new_cycle transitions (a
///                repurchase, a renewal): buyers = deals that won a cycle;
///                repeat buyers = those that won two or more; repeat rate
///                = repeat buyers / buyers (Shopify's repeat customer
///                rate); repeat wins = wins after a deal's first; cycles
///                per deal = cycles / deals; time between wins = from a
///                deal's win to its next, median and 90th percentile
///                within 1.6% (as time in stage) and mean; removed deals
///                count, as in every figure not of live deals;
///   average deal value   the value attribute's mean over the deals that
///                won (over open deals while none has);
///   sales velocity       open deals x average deal value x win rate /
///                average cycle length in days: value per day;
///   weighted pipeline    the sum over open deals of value x the stage's win
///                probability / 100; with no value attribute named, these
///                value figures are 0 and the table shows "-";
///   biggest leak the stage of the line with the lowest conversion to next
///                (Mixpanel's and Amplitude's biggest drop-off); ties: the
///                one where more deals stopped; none when every deal that
///                reached a stage reached the next;
///   activities   steps accepted in a stage without a move; by outcome,
///                the activities a won cycle had by its win, and a lost one
///                by its first loss, averaged over those cycles;
///   lost by reason   live deals now in a LOST stage, by the reason their
///                loss recorded (the stage's reason_attribute or event);
///   lost from    cycles whose first loss (before any win) left this stage,
///                removed deals' too (a deal created lost has none);
///   rejected     steps refused: counted by the stage the deal was in, the
///                event (or the move by stage's target) and the reason
///                (no transition, guard failed, missing attribute, not
///                reopenable, a removed deal), and in all; rejected share =
///                rejected / (accepted + rejected steps).
/// \endcode
/// A breakdown groups the live deals by the value of an attribute: per
/// value, its deals, those open now, those whose current cycle won or was
/// lost, win rate, weighted pipeline and reached per stage of the line, as
/// defined above over those deals only (removed deals count in the total
/// alone).
/// Past kMaxFunnelSegments values, the smallest are one "(N other values)"
/// segment.
/// Closes (with cohorts): the cycles closed in each period of close time
/// of the cohorts' kind (the week, month or quarter of the win or the
/// loss): won, lost (a loss a later win in the same cycle took back leaves
/// its period, as a CRM's closed-lost by close date reads the deal's stage
/// now), win rate and the won cycles' length; and their sum over the close
/// window (FunnelOptions::closed_from and closed_to: "the deals closed in
/// Q2"), every period without one.
/// Cohorts group deals by the UTC week (ISO 8601, "2026-W01"), month
/// ("2026-01") or calendar quarter ("2026-Q1") they were added in; each has every figure above, and the
/// table shows its deals, those still open (a recent cohort's win rate is
/// over its closed deals only), won, lost, win rate, cycle and weighted
/// pipeline.
///
/// Thread safety: FunnelOf reads the pipeline (no writer may run at the same
/// time); the report is a value.
#ifndef SALESCYCLE_FUNNEL_H_
#define SALESCYCLE_FUNNEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "salescycle/pipeline.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// What a funnel report covers: the value and breakdown attributes, the
/// moment stalled deals are judged at, and windows on close and creation
/// time.
struct FunnelOptions {
  /// The attribute that holds a deal's value (int64 or double), for the
  /// average deal value, sales velocity and weighted pipeline. Default: ""
  /// (those figures are 0).
  std::string value_attribute;
  /// The moment stalled deals are judged at. Default: the latest event or
  /// addition time the pipeline has seen.
  std::optional<Timestamp> now;
  /// Live deals broken down by this attribute's value (a lead source, an
  /// owner, a region: any type). Default: "" (no breakdown).
  std::string breakdown_attribute;
  /// A window on close time, [closed_from, closed_to) ("the deals closed in
  /// Q2"): the report's closes are the periods in it, and `closed` their
  /// sum. Each bound must start a period of the pipeline's cohort kind (a
  /// Monday, the first of a month or of a quarter, 00:00 UTC); the periods
  /// are the cohorts', so a window needs cohorts. Default: every period.
  /// @{
  std::optional<Timestamp> closed_from;
  std::optional<Timestamp> closed_to;
  ///@}
  /// A window on creation time, [created_from, created_to) ("the deals
  /// added in Q1"): the report's total and breakdown cover the deals added
  /// in it (its cohorts, merged), and its cohorts are those in it. Bounds as
  /// above; needs cohorts. The closes, which count every deal by close
  /// time, are left out. @{
  std::optional<Timestamp> created_from;
  std::optional<Timestamp> created_to;
  ///@}
};

/// A distribution of durations: how many, the exact mean, and the median
/// and 90th percentile within 1.6% (histograms of 32 buckets per power of
/// two; exact below 32 seconds).
struct DurationStats {
  uint64_t count = 0;         ///< durations counted
  double mean_seconds = 0;    ///< their exact mean
  int64_t median_seconds = 0; ///< the median, within 1.6%
  int64_t p90_seconds = 0;    ///< the 90th percentile, within 1.6%
};

/// One stage's row of the funnel (the file comment defines each figure).
struct StageFunnel {
  StageId stage = kNoStage;       ///< the stage's id
  std::string id;                 ///< its name in the spec
  std::string display_name;       ///< its display name
  StageKind kind = StageKind::kOpen;  ///< open, won or lost
  /// Off the funnel line (a side stage: machine.proto's side_stage).
  bool side = false;
  int win_probability = 0;  ///< the spec's, 0..100
  uint64_t entered = 0;     ///< cycles that entered the stage
  /// Deals whose furthest stage on the funnel line is this one or a later
  /// one; 0 off the line.
  uint64_t reached = 0;
  /// Live deals whose furthest stage on the line is this one, by where they
  /// are now: lost, still open (on the line), in a side stage. With the
  /// won and the removed deals they make up reached(this) - reached(next).
  /// @{
  uint64_t stopped_lost = 0;
  uint64_t stopped_open = 0;
  uint64_t stopped_side = 0;
  ///@}
  /// Flow, in moves (a deal that comes back counts each time): moves into
  /// the stage, those by deals that had been in it before, and moves out by
  /// destination (funnel.h's definitions); moved_on and dropped are the
  /// exits to a stage that is not LOST and to a LOST one.
  /// @{
  uint64_t moves_in = 0;
  uint64_t reentries = 0;
  uint64_t exits_forward = 0;
  uint64_t exits_back = 0;
  uint64_t exits_lost = 0;
  uint64_t exits_side = 0;
  uint64_t moved_on = 0;
  uint64_t dropped = 0;
  ///@}
  uint64_t now = 0;      ///< live deals in the stage
  uint64_t stalled = 0;  ///< live deals past the stage's stall limit
  /// The next stage on the funnel line, and reached(next) / reached(this);
  /// kNoStage and 0 when the stage is the last of the funnel order. @{
  StageId next_stage = kNoStage;
  double conversion_to_next = 0;
  ///@}
  /// In order (Mixpanel's and Amplitude's ordered funnel): reached by the
  /// cycles that entered every stage of the line before this one, none
  /// skipped; and reached_in_order(next) / reached_in_order(this).
  /// @{
  uint64_t reached_in_order = 0;
  double conversion_to_next_in_order = 0;
  ///@}
  double conversion_to_won = 0;  ///< cycles won / reached (entered off the line)
  double drop_rate = 0;  ///< dropped / entered
  DurationStats time_in_stage;  ///< completed stays, entry to exit
  /// Cumulative time in stage (HubSpot's, per deal) averaged over the
  /// cycles that entered: every stay summed, the live deals' current stays
  /// up to the report's time included, / entered.
  double mean_cumulative_seconds = 0;
  uint64_t activities = 0;  ///< steps accepted in the stage without a move
  uint64_t rejected = 0;    ///< steps refused in the stage
  /// Deals whose first loss (before any win) was a move out of this stage.
  uint64_t lost_from = 0;
};

/// Moves from one stage to another.
struct FlowCount {
  StageId from = kNoStage;  ///< the stage left
  StageId to = kNoStage;    ///< the stage entered
  uint64_t moves = 0;       ///< how many moves
};

/// One kind of rejected step: where, what, why, how often.
struct RejectionCount {
  std::string stage;   ///< the stage the deal was in
  std::string event;   ///< "" for a move by stage (or a reopen)
  std::string target;  ///< a move by stage's target; "" otherwise
  Outcome outcome = Outcome::kNoTransition;  ///< why
  uint64_t count = 0;  ///< how many such steps
};

/// The figures of a set of deals: the whole pipeline's, or a cohort's.
struct FunnelFigures {
  uint64_t deals = 0;  ///< added (live or removed since)
  /// Cycles: the deals' first cycles and every one a new_cycle transition
  /// started since (a repeat purchase, a reactivation).
  uint64_t cycles = 0;
  uint64_t live_deals = 0;  ///< deals not removed
  uint64_t open_deals = 0;  ///< live deals in an OPEN stage
  uint64_t won = 0;   ///< cycles won
  uint64_t lost = 0;  ///< cycles lost and not won after
  double win_rate = 0;  ///< won / (won + lost)
  double average_cycle_days = 0;  ///< cycle length's mean, in days
  /// The cycle lengths of won deals: count, exact mean, median and 90th
  /// percentile within 1.6% (as time in stage).
  DurationStats cycle_length;
  /// Repeat purchases (machines with new_cycle transitions): the deals that
  /// won at least once, those that won two cycles or more, the wins after a
  /// deal's first, repeat_buyers / buyers, cycles / deals, and the time from
  /// a deal's win to its next win.
  /// @{
  uint64_t buyers = 0;
  uint64_t repeat_buyers = 0;
  uint64_t repeat_wins = 0;
  double repeat_rate = 0;
  double cycles_per_deal = 0;
  DurationStats time_between_wins;
  ///@}
  /// A cycle's start to its first loss, over every cycle lost (one reopened
  /// and won later too).
  DurationStats time_to_loss;
  /// Activities (steps accepted without a move) a won cycle had by its win,
  /// and a lost cycle by its first loss, on average.
  /// @{
  double activities_per_won_cycle = 0;
  double activities_per_lost_cycle = 0;
  ///@}
  /// The value attribute's mean over the won deals (over open deals while
  /// none has won); 0 with no value attribute.
  double average_deal_value = 0;
  /// open deals x average deal value x win rate / average cycle days: value
  /// per day.
  double sales_velocity_per_day = 0;
  /// The sum over open deals of value x the stage's win probability / 100.
  double weighted_pipeline = 0;
  StageId biggest_leak = kNoStage;  ///< kNoStage when nothing leaked
  std::vector<StageFunnel> stages;  ///< by stage id
  /// Every pair of stages deals moved between, by from then to: the
  /// from-to matrix without its empty cells.
  std::vector<FlowCount> flow;
  /// Steps: accepted (moves and activities) and rejected (refused events,
  /// moves by stage and reopens, and records for removed deals); the kinds
  /// of rejection, the most frequent first (ties in stage, event, target
  /// and outcome order).
  /// @{
  uint64_t accepted_steps = 0;
  uint64_t rejected_steps = 0;
  std::vector<RejectionCount> rejections;
  ///@}
  /// Live deals now in a LOST stage, by the loss reason recorded ("" for
  /// none; Pipeline::LossReason), the most first (ties by reason).
  std::vector<std::pair<std::string, uint64_t>> lost_by_reason;
};

/// The cycles closed in a period of close time (a week, month or quarter:
/// the cohorts' kind), or in a window of them.
struct FunnelClosePeriod {
  std::string label;  ///< "2026-W14", "2026-04", "2026-Q2"; a window's dates
  Timestamp start = 0;  ///< the period's (or window's) first second
  Timestamp end = 0;  ///< the next period's start
  uint64_t won = 0;   ///< cycles won in it
  uint64_t lost = 0;  ///< and not won after
  double win_rate = 0;  ///< won / (won + lost)
  DurationStats cycle_length;  ///< of the cycles won in it
};

/// The deals added in one week, month or quarter, and their figures.
struct FunnelCohort {
  std::string label;  ///< "2026-W01", "2026-01" or "2026-Q1"
  Timestamp start = 0;  ///< the period's first second (UTC)
  FunnelFigures figures;  ///< every figure, over the cohort's deals
};

/// The live deals with one value of the breakdown attribute.
struct FunnelSegment {
  /// The value as text ("inbound", "42", "0.5", "true"); for the deals
  /// where it is not set, "(not set)" with `set` false; for the values past
  /// the most kMaxFunnelSegments - 1, "(N other values)" with `other` true.
  std::string value;
  bool set = true;     ///< false for the "(not set)" segment
  bool other = false;  ///< true for the "(N other values)" segment
  uint64_t deals = 0;  ///< live deals in the segment
  uint64_t open = 0;  ///< now in an OPEN stage
  uint64_t won = 0;   ///< whose current cycle won
  uint64_t lost = 0;  ///< whose current cycle was lost and not won after
  double win_rate = 0;  ///< won / (won + lost)
  double weighted_pipeline = 0;  ///< over the segment's open deals
  /// By stage id: the segment's deals whose furthest stage on the funnel
  /// line is this one or later; 0 off the line.
  std::vector<uint64_t> reached;
};

/// The most segments a breakdown has; the values past it are one.
inline constexpr size_t kMaxFunnelSegments = 1000;

/// A pipeline's funnel: the whole and, as asked, its cohorts, breakdown and
/// closes.
struct FunnelReport {
  std::string machine;  ///< the machine's name
  uint32_t version = 0; ///< the machine's version
  Timestamp as_of = 0;  ///< the moment stalled deals were judged at
  std::string value_attribute;  ///< FunnelOptions::value_attribute
  FunnelFigures total;  ///< every deal's figures (the creation window's)
  std::vector<FunnelCohort> cohorts;  ///< oldest first; empty without cohorts
  std::string breakdown_attribute;  ///< FunnelOptions::breakdown_attribute
  /// The most deals first (ties by value), "(not set)" and the other
  /// values last; empty without a breakdown.
  std::vector<FunnelSegment> breakdown;
  /// With cohorts: the cycles closed in each period of close time that had
  /// closes (within the close window, when one is set), oldest first, and
  /// their sum over the window (every period without one).
  /// @{
  std::vector<FunnelClosePeriod> closes;
  FunnelClosePeriod closed;
  ///@}
  bool close_window = false;  ///< whether FunnelOptions set one
  /// FunnelOptions' window on creation time, when it set one.
  /// @{
  std::optional<Timestamp> created_from;
  std::optional<Timestamp> created_to;
  ///@}
};

/// The funnel of `pipeline`. Errors: FailedPrecondition when the pipeline
/// has neither analytics nor history; NotFound for a value or breakdown
/// attribute the machine lacks; InvalidArgument for a value attribute that
/// is not a number.
[[nodiscard]] SC_API absl::StatusOr<FunnelReport> FunnelOf(
    const Pipeline& pipeline, const FunnelOptions& options = {});

/// The stages of the funnel line in its order (funnel line, above).
SC_API std::vector<StageId> FunnelLine(const FunnelFigures& figures);
/// Of the cycles that reached `from`, the share that reached `to`, a later
/// stage of the funnel line: reached(to) / reached(from), since every cycle
/// that reached `to` reached `from` (who had an intro call and got to a
/// demo; who saw a demo and won). 0 when no cycle reached `from`. Errors:
/// InvalidArgument naming the stage that is out of range or off the line,
/// or when `to` does not come after `from`.
[[nodiscard]] SC_API absl::StatusOr<double> ConversionBetween(const FunnelFigures& figures,
                                                       StageId from, StageId to);

/// A readable table for a terminal (stage rows, then the overall figures;
/// with cohorts, one line a cohort).
struct FunnelTableOptions {
  /// The reached and to-next columns in order (marked "*", with a note).
  bool in_order = false;
};
/// The table (FunnelTableOptions says which columns).
SC_API std::string FunnelTable(const FunnelReport& report, const FunnelTableOptions& options = {});
/// The report as salescycle.v1.FunnelReport (proto/salescycle/v1/funnel.proto):
/// serialized bytes, or its JSON. @{
SC_API std::string FunnelProtoBytes(const FunnelReport& report);
SC_API std::string FunnelJson(const FunnelReport& report);
///@}
/// One CSV row a stage (and a stage of each cohort), with a header row.
SC_API std::string FunnelCsv(const FunnelReport& report);
/// The breakdown as CSV: a row a value (the report's order), with a header
/// row: value, set, other, deals, open, won, lost, win_rate,
/// weighted_pipeline, then reached:STAGE for each stage of the funnel line.
/// Only the header without a breakdown.
SC_API std::string FunnelBreakdownCsv(const FunnelReport& report);
/// The funnel as an SVG chart: a bar a stage of the funnel line, as wide as
/// the deals that reached it (so it never widens), the conversion between
/// bars, the biggest leak in red, and below the bars the deals now off the
/// line (lost, side stages) and the rejected steps. Standalone (no scripts,
/// no external fonts or styles).
SC_API std::string FunnelSvg(const FunnelReport& report);

}  // namespace salescycle

#endif  // SALESCYCLE_FUNNEL_H_
