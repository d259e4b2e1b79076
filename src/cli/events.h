// The `salescycle` tool's event files: CSV or JSON Lines, one row a line.
//
// CSV: a header row naming the columns `deal` and `time`, `event` or
// `stage` or both, in any order, and any number of attribute columns (named
// as the machine's attributes); then a row an event. Fields may be quoted
// ("..." with "" inside). JSONL: one object a line,
//   {"deal": "acme", "event": "contact", "time": "2026-01-02T09:00:00Z",
//    "set": {"budget": 50000}}
// or {"deal": "acme", "stage": "qualification", "time": ...}.
// A deal is its id (any text). A row names an event, or a stage (a row of a
// CRM's stage-history export: "the deal was in this stage from this time",
// a move by stage, Pipeline::MoveTo), or neither: it then only sets
// attributes (and adds the deal). Not both. A time is epoch seconds or
// ISO 8601 (2026-01-02, 2026-01-02T09:00:00, with Z or an offset; UTC when
// none). An attribute cell that is empty sets nothing.
#ifndef SALESCYCLE_SRC_CLI_EVENTS_H_
#define SALESCYCLE_SRC_CLI_EVENTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/attribute.h"
#include "salescycle/machine.h"
#include "salescycle/types.h"

namespace salescycle {
namespace cli {

struct EventRow {
  absl::string_view deal;  // into the line: valid until the next row
  EventId event = kNoEvent;  // kNoEvent: no event
  StageId stage = kNoStage;  // kNoStage: no move by stage
  Timestamp time = 0;
  std::vector<std::pair<AttributeId, AttributeValue>> set;
};

// The times the tool reads, in event files and flags: years 1 to 9999 UTC,
// as ISO 8601 writes them (issue 15). The library takes any int64 and its
// figures stay right at the ends of int64, but a time outside these is a
// typo or a unit mix-up (milliseconds for seconds), and calendar periods
// and dates past them cannot be printed.
inline constexpr Timestamp kFirstTime = -62135596800;  // 0001-01-01T00:00:00Z
inline constexpr Timestamp kLastTime = 253402300799;   // 9999-12-31T23:59:59Z

// Parses "1767225600", "2026-01-01", "2026-01-01T09:30:00",
// "2026-01-01T09:30:00Z" or with an offset. Errors: InvalidArgument, for a
// time outside kFirstTime..kLastTime too.
absl::StatusOr<Timestamp> ParseTime(absl::string_view text);

// Reads rows of CSV or JSONL text against a machine. Bad rows are errors
// that say what is wrong; the reader goes on with the next line.
class EventReader {
 public:
  enum class Format { kCsv, kJsonl };

  // `text` must outlive the reader. Errors: InvalidArgument for a CSV
  // header that lacks a column or names an attribute the machine lacks.
  static absl::StatusOr<EventReader> Create(const Machine& machine,
                                            absl::string_view text,
                                            Format format);

  // The next row into *row: true, or false at the end. A bad row is an
  // error naming what is wrong (the caller adds the line number); the
  // reader has moved past it.
  absl::StatusOr<bool> Next(EventRow* row);
  // The line the last row started on (1-based: a CSV row with line breaks
  // in a quoted field spans several), and how far the reader is.
  int64_t line() const { return record_line_; }
  size_t offset() const { return offset_; }

 private:
  EventReader(const Machine& machine, absl::string_view text, Format format)
      : machine_(&machine), text_(text), format_(format) {}
  absl::Status ReadHeader();
  absl::StatusOr<bool> NextCsv(absl::string_view line, EventRow* row);
  absl::StatusOr<bool> NextJson(absl::string_view line, EventRow* row);
  absl::StatusOr<AttributeValue> Value(AttributeId id, absl::string_view text) const;

  const Machine* machine_;
  absl::string_view text_;
  Format format_;
  size_t offset_ = 0;
  int64_t line_ = 0;         // the lines read so far
  int64_t record_line_ = 0;  // where the last row started
  // The row's event and stage cells (either may be empty), as ids.
  absl::Status ReadEventAndStage(absl::string_view event,
                                 absl::string_view stage, EventRow* row) const;

  // CSV columns: the index of deal, event, stage and time (-1: none);
  // attribute per column.
  int deal_column_ = -1, event_column_ = -1, stage_column_ = -1,
      time_column_ = -1;
  std::vector<AttributeId> attribute_of_column_;
  std::vector<std::string> fields_;  // unquoted copies, when quotes were used
  std::vector<absl::string_view> views_;
  std::string json_deal_;
};

}  // namespace cli
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CLI_EVENTS_H_
