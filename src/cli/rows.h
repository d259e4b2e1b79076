// Applying the rows of an event file (events.h) to a pipeline, as the
// tool's `replay` does: shared by the tool and the C API's
// sc_pipeline_ingest, so that a file ingested from Python or Go gives the
// pipeline `salescycle replay` gives.
#ifndef SALESCYCLE_SRC_CLI_ROWS_H_
#define SALESCYCLE_SRC_CLI_ROWS_H_

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "salescycle/durable.h"
#include "salescycle/pipeline.h"
#include "src/cli/events.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {

struct ReplayStats {
  uint64_t rows = 0;
  uint64_t bad_rows = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t added = 0;
  uint64_t timeouts = 0;   // fired between rows and at the end
  uint64_t after_now = 0;  // rows past --now, not applied
  Timestamp clock = std::numeric_limits<Timestamp>::min();  // latest row
};

// Feeds rows to a pipeline in batches, in time: timeouts fire between rows
// as the rows' clock passes them (Pipeline::ApplyTimed). Events and moves by
// stage go in batches of their own kind, flushed when the kind changes; a
// row that sets attributes flushes first, so that every step sees the
// attributes of the rows before it.
//
// P is a Pipeline, or a DurablePipeline (replay --journal), whose changes
// are the same calls, journaled.
inline std::optional<DealIndex> IndexOfKey(const Pipeline& p, absl::string_view key) {
  return p.IndexOfKey(key);
}
inline std::optional<DealIndex> IndexOfKey(const DurablePipeline& p, absl::string_view key) {
  std::optional<DealIndex> found;
  // It fails only when called from inside a Read, which this is not.
  const absl::Status read =
      p.Read([&](const Pipeline& pipeline) { found = pipeline.IndexOfKey(key); });
  assert(read.ok());
  (void)read;
  return found;
}
// DurablePipeline's AdvanceTo can fail (the journal): the rows stop there.
inline absl::StatusOr<int64_t> Advance(Pipeline* p, Timestamp now) { return p->AdvanceTo(now); }
inline absl::StatusOr<int64_t> Advance(DurablePipeline* p, Timestamp now) { return p->AdvanceTo(now); }

template <typename P>
class RowApplier {
 public:
  RowApplier(P* p, ReplayStats* stats) : p_(p), stats_(stats) {}

  // Applies one parsed row. A problem with the row itself (a value the
  // attribute refuses) goes to `*bad`; the returned error is fatal.
  absl::Status Apply(EventRow* row, absl::Status* bad) {
    stats_->clock = std::max(stats_->clock, row->time);
    DealIndex deal;
    bool created_here = false;
    if (const std::optional<DealIndex> found = IndexOfKey(*p_, row->deal)) {
      deal = *found;
    } else {
      // A deal's first stage-history row is its creation in that stage
      // (and entry into no stage before it), which must be an entry stage:
      // entering it through the stages before at once would count a stay
      // of no time in each of them.
      created_here = row->stage != kNoStage;
      auto added = p_->AddWithKey(row->deal, row->time,
                                  created_here ? row->stage : kNoStage);
      if (absl::IsInvalidArgument(added.status())) {
        *bad = absl::InvalidArgumentError(absl::StrCat(
            "deal \"", row->deal, "\": ", added.status().message(),
            ": add the stage to the machine's entry_stages"));
        return absl::OkStatus();
      }
      SC_RETURN_IF_ERROR(added.status());
      deal = *added;
      ++stats_->added;
    }
    if (!row->set.empty()) {
      SC_RETURN_IF_ERROR(Flush());
      // What fell due before this row happened before its values were set.
      if (row->time != std::numeric_limits<Timestamp>::min()) {
        SC_ASSIGN_OR_RETURN(const int64_t fired, Advance(p_, row->time - 1));
        stats_->timeouts += static_cast<uint64_t>(fired);
      }
      for (auto& [attribute, value] : row->set) {
        if (bad->ok()) *bad = p_->Set(deal, attribute, std::move(value));
      }
      // Refused values are the row's fault; the journal's failure is not.
      if (absl::IsResourceExhausted(*bad) || absl::IsUnavailable(*bad) ||
          absl::IsDataLoss(*bad)) {
        return *bad;
      }
    }
    if (!bad->ok()) return absl::OkStatus();
    if (row->event != kNoEvent) {
      if (!moves_.empty()) SC_RETURN_IF_ERROR(Flush());
      events_.push_back(EventRecord{deal, row->event, row->time});
    } else if (row->stage != kNoStage && !created_here) {
      if (!events_.empty()) SC_RETURN_IF_ERROR(Flush());
      moves_.push_back(StageRecord{deal, row->stage, row->time});
    }
    if (events_.size() + moves_.size() >= (1 << 16)) SC_RETURN_IF_ERROR(Flush());
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (!events_.empty()) {
      SC_ASSIGN_OR_RETURN(const BatchResult r, p_->ApplyTimed(events_));
      Count(r);
      events_.clear();
    }
    if (!moves_.empty()) {
      SC_ASSIGN_OR_RETURN(const BatchResult r, p_->ApplyMovesTimed(moves_));
      Count(r);
      moves_.clear();
    }
    return absl::OkStatus();
  }

  // After the last row: what is due by `now` fires.
  absl::Status Finish(Timestamp now) {
    SC_RETURN_IF_ERROR(Flush());
    SC_ASSIGN_OR_RETURN(const int64_t fired, Advance(p_, now));
    stats_->timeouts += static_cast<uint64_t>(fired);
    return absl::OkStatus();
  }

 private:
  void Count(const BatchResult& r) {
    stats_->accepted += r.accepted;
    stats_->rejected += r.rejected;
    stats_->timeouts += r.timeouts_fired;
  }

  P* p_;
  ReplayStats* stats_;
  std::vector<EventRecord> events_;
  std::vector<StageRecord> moves_;
};

// Applies every row of `reader` (over text of `text_size` bytes) to `p`, in
// time, as of `now` (rows after it are counted, not applied; nullopt: as of
// the last row), then fires what is due by then. A bad row is counted and
// passed to on_bad(line, message), whose error stops the rows there (what
// came before it applied); on_progress(fraction of the text read) is
// called after each row.
template <typename P, typename OnBad, typename OnProgress>
absl::Status ApplyRows(EventReader* reader, size_t text_size, P* p,
                       std::optional<Timestamp> now, ReplayStats* stats, OnBad&& on_bad,
                       OnProgress&& on_progress) {
  RowApplier<P> applier(p, stats);
  EventRow row;
  while (true) {
    auto more = reader->Next(&row);
    if (more.ok() && !*more) break;
    ++stats->rows;
    absl::Status bad = more.status();
    if (bad.ok() && now && row.time > *now) {
      ++stats->after_now;
    } else if (bad.ok()) {
      SC_RETURN_IF_ERROR(applier.Apply(&row, &bad));
    }
    if (!bad.ok()) {
      ++stats->bad_rows;
      if (absl::Status stop = on_bad(reader->line(), bad.message()); !stop.ok()) {
        SC_RETURN_IF_ERROR(applier.Flush());
        return stop;
      }
    }
    on_progress(static_cast<double>(reader->offset()) /
                static_cast<double>(std::max<size_t>(text_size, 1)));
  }
  return applier.Finish(now.value_or(stats->clock));
}

}  // namespace cli
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CLI_ROWS_H_
