// One line of a JSONL event file, parsed by hand: protobuf's JSON reader
// (google.protobuf.Struct) turned every number into a double, so deal ids
// past 2^53 merged and decimal attributes were rounded, and it took
// quadratic time on nested arrays (a 200 KB line, minutes).
//
// This parser is one pass over the line (linear time), keeps a number's text
// exactly as written, refuses nesting deeper than kMaxJsonDepth and a key
// given twice, and decodes string escapes (\uXXXX with surrogate pairs) to
// UTF-8. Only what an event row needs is kept: the top-level members, and
// the members of an object one level down (the "set" object); deeper
// values are checked and skipped.
#ifndef SALESCYCLE_SRC_CLI_JSON_LINE_H_
#define SALESCYCLE_SRC_CLI_JSON_LINE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace salescycle {
namespace cli {

inline constexpr int kMaxJsonDepth = 64;

struct JsonValue {
  enum class Kind { kString, kNumber, kBool, kNull, kObject, kArray };
  Kind kind = Kind::kNull;
  // A string's decoded UTF-8; a number's text as written; "true"/"false".
  std::string text;
  // An object's members, in order (for the top level and one level down;
  // empty for objects deeper than that).
  std::vector<std::pair<std::string, JsonValue>> members;
};

// The line as a JSON object. InvalidArgument naming what is wrong and the
// byte offset where.
absl::StatusOr<JsonValue> ParseJsonObjectLine(absl::string_view line);

}  // namespace cli
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CLI_JSON_LINE_H_
