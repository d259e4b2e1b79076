#include "src/cli/events.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "src/cli/json_line.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {

namespace {

absl::StatusOr<Timestamp> InRange(absl::string_view text, Timestamp t) {
  if (t >= kFirstTime && t <= kLastTime) return t;
  return absl::InvalidArgumentError(absl::StrCat(
      "time \"", text, "\" is outside the times the tool reads (years 1 to 9999 UTC: ",
      kFirstTime, " to ", kLastTime, " epoch seconds)"));
}

}  // namespace

absl::StatusOr<Timestamp> ParseTime(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t seconds;
  if (absl::SimpleAtoi(text, &seconds)) return InRange(text, seconds);
  absl::Time t;
  std::string error;
  const std::string s(text);
  for (const char* format : {absl::RFC3339_full, "%Y-%m-%dT%H:%M:%E*S",
                             "%Y-%m-%d %H:%M:%E*S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, s, absl::UTCTimeZone(), &t, &error)) {
      return InRange(text, absl::ToUnixSeconds(t));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "time \"", text, "\" is neither epoch seconds nor ISO 8601"));
}

// What the first bytes of an export may hold: the UTF-8 byte order mark
// (Excel writes one), which is no part of the first column's name.
constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

absl::StatusOr<EventReader> EventReader::Create(const Machine& machine,
                                                absl::string_view text,
                                                Format format) {
  absl::ConsumePrefix(&text, kUtf8Bom);
  EventReader reader(machine, text, format);
  if (format == Format::kCsv) SC_RETURN_IF_ERROR(reader.ReadHeader());
  return reader;
}

namespace {

// The next record of `text` from `*offset`, without its end: a line ends
// at \n, \r\n or a lone \r (old Mac exports), and, in CSV, a line end
// inside a quoted field belongs to the field (RFC 4180: notes written by a
// CRM, or `simulate` itself). `*lines` gets the lines the record spans.
absl::string_view NextRecord(absl::string_view text, size_t* offset, bool csv,
                             int64_t* lines) {
  const size_t start = *offset;
  size_t i = start;
  *lines = 1;
  bool quoted = false;
  size_t end = text.size();
  while (i < text.size()) {
    if (quoted) {
      const size_t close = text.find('"', i);
      const size_t stop = close == absl::string_view::npos ? text.size() : close;
      *lines += std::count(text.begin() + i, text.begin() + stop, '\n');
      if (close == absl::string_view::npos) break;  // unclosed: SplitCsv says so
      quoted = false;
      i = close + 1;
      continue;
    }
    const size_t hit = text.find_first_of(csv ? absl::string_view("\"\r\n", 3) : "\r\n", i);
    if (hit == absl::string_view::npos) break;
    if (text[hit] == '"') {
      quoted = true;
      i = hit + 1;
      continue;
    }
    end = hit;
    break;
  }
  *offset = end;
  if (end < text.size()) {
    *offset = end + (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n' ? 2 : 1);
  }
  return text.substr(start, end - start);
}



// Splits a CSV line into fields. Unquoted fields point into the line;
// quoted ones are unquoted into `storage`.
absl::Status SplitCsv(absl::string_view line, std::vector<absl::string_view>* out,
                      std::vector<std::string>* storage) {
  out->clear();
  storage->clear();
  size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      std::string field;
      ++i;
      while (true) {
        if (i >= line.size()) {
          return absl::InvalidArgumentError("a quoted field is not closed");
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      storage->push_back(std::move(field));
      out->push_back(absl::string_view());  // filled in below
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError("text after a quoted field");
      }
    } else {
      const size_t comma = line.find(',', i);
      const size_t end = comma == absl::string_view::npos ? line.size() : comma;
      out->push_back(line.substr(i, end - i));
      i = end;
    }
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      out->push_back(line.substr(i));  // a trailing empty field
      break;
    }
  }
  // Point the quoted fields (the null views, in order) at their storage,
  // now that it no longer moves.
  size_t q = 0;
  for (absl::string_view& field : *out) {
    if (field.data() == nullptr) field = (*storage)[q++];
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EventReader::ReadHeader() {
  if (offset_ >= text_.size()) {
    return absl::InvalidArgumentError("the file is empty: no header row");
  }
  int64_t lines;
  const absl::string_view header = NextRecord(text_, &offset_, true, &lines);
  line_ += lines;
  SC_RETURN_IF_ERROR(SplitCsv(header, &views_, &fields_));
  std::map<std::string, size_t> columns;  // name -> its first column
  for (size_t c = 0; c < views_.size(); ++c) {
    const std::string name(absl::StripAsciiWhitespace(views_[c]));
    // Two columns of one name: which would win is a guess, so none does.
    if (const auto [it, added] = columns.emplace(name, c); !added) {
      return absl::InvalidArgumentError(absl::StrCat("header: column \"", name,
                                                     "\" is given twice (columns ", it->second + 1,
                                                     " and ", c + 1, ")"));
    }
    AttributeId attribute = kNoAttribute;
    if (name == "deal") {
      deal_column_ = static_cast<int>(c);
    } else if (name == "event") {
      event_column_ = static_cast<int>(c);
    } else if (name == "stage") {
      stage_column_ = static_cast<int>(c);
    } else if (name == "time") {
      time_column_ = static_cast<int>(c);
    } else {
      auto id = machine_->FindAttribute(name);
      if (!id.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header: column \"", name, "\" is neither deal, event, stage, "
            "time nor an attribute of machine \"", machine_->name(), "\""));
      }
      attribute = *id;
    }
    attribute_of_column_.push_back(attribute);
  }
  if (deal_column_ < 0 || time_column_ < 0 ||
      (event_column_ < 0 && stage_column_ < 0)) {
    return absl::InvalidArgumentError(
        "header: the columns deal, time, and event or stage (or both) are "
        "required");
  }
  return absl::OkStatus();
}

absl::StatusOr<AttributeValue> EventReader::Value(AttributeId id,
                                                  absl::string_view text) const {
  const AttributeInfo& info = machine_->attribute(id);
  switch (info.type) {
    case AttributeType::kInt64: {
      int64_t v;
      if (absl::SimpleAtoi(text, &v)) return AttributeValue::Int64(v);
      break;
    }
    case AttributeType::kDouble: {
      double v;
      if (absl::SimpleAtod(text, &v)) return AttributeValue::Double(v);
      break;
    }
    case AttributeType::kBool: {
      bool v;
      if (absl::SimpleAtob(text, &v)) return AttributeValue::Bool(v);
      break;
    }
    case AttributeType::kString:
      return AttributeValue::String(std::string(text));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("attribute \"", info.name, "\": \"", text, "\" is not ",
                   AttributeTypeName(info.type)));
}

absl::StatusOr<bool> EventReader::Next(EventRow* row) {
  while (offset_ < text_.size()) {
    int64_t lines;
    const absl::string_view line = NextRecord(text_, &offset_, format_ == Format::kCsv, &lines);
    ++line_;  // a record's line is its first
    const int64_t first = line_;
    line_ += lines - 1;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    record_line_ = first;
    row->set.clear();
    return format_ == Format::kCsv ? NextCsv(line, row) : NextJson(line, row);
  }
  return false;
}

absl::Status EventReader::ReadEventAndStage(absl::string_view event,
                                           absl::string_view stage,
                                           EventRow* row) const {
  row->event = kNoEvent;
  row->stage = kNoStage;
  if (!event.empty() && !stage.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the row names both an event (\"", event, "\") and a stage (\"",
        stage, "\"): give one"));
  }
  if (!event.empty()) {
    auto id = machine_->FindEvent(event);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown event \"", event, "\""));
    }
    row->event = *id;
  }
  if (!stage.empty()) {
    auto id = machine_->FindStage(stage);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown stage \"", stage, "\""));
    }
    row->stage = *id;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EventReader::NextCsv(absl::string_view line, EventRow* row) {
  SC_RETURN_IF_ERROR(SplitCsv(line, &views_, &fields_));
  if (views_.size() != attribute_of_column_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        views_.size(), " fields; the header has ", attribute_of_column_.size()));
  }
  row->deal = views_[deal_column_];
  if (row->deal.empty()) return absl::InvalidArgumentError("the deal is empty");
  SC_RETURN_IF_ERROR(ReadEventAndStage(
      event_column_ < 0 ? absl::string_view() : views_[event_column_],
      stage_column_ < 0 ? absl::string_view() : views_[stage_column_], row));
  SC_ASSIGN_OR_RETURN(row->time, ParseTime(views_[time_column_]));
  for (size_t c = 0; c < views_.size(); ++c) {
    const AttributeId a = attribute_of_column_[c];
    if (a == kNoAttribute || views_[c].empty()) continue;
    SC_ASSIGN_OR_RETURN(AttributeValue v, Value(a, views_[c]));
    row->set.emplace_back(a, std::move(v));
  }
  return true;
}

namespace {

// A JSON value as the text the CSV reader would have had: a number as
// written when it is an integer literal (exact, however long: a deal id
// past 2^53 stays itself), otherwise its double's shortest text (a time or
// an int64 attribute then refuses "1.5"; "1e3" reads as 1000); true and
// false as words; a string as it is.
std::string JsonText(const JsonValue& v) {
  if (v.kind != JsonValue::Kind::kNumber) return v.text;
  if (v.text.find_first_of(".eE") == std::string::npos) return v.text;
  double d;
  if (!absl::SimpleAtod(v.text, &d)) return v.text;
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) {
    return absl::StrCat(static_cast<int64_t>(d));
  }
  return absl::StrCat(d);
}

const JsonValue* Member(const JsonValue& object, absl::string_view key) {
  for (const auto& [name, value] : object.members) {
    if (name == key) return &value;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<bool> EventReader::NextJson(absl::string_view line, EventRow* row) {
  SC_ASSIGN_OR_RETURN(const JsonValue object, ParseJsonObjectLine(line));
  const JsonValue* deal = Member(object, "deal");
  const JsonValue* time = Member(object, "time");
  if (deal == nullptr || time == nullptr) {
    return absl::InvalidArgumentError("\"deal\" and \"time\" are required");
  }
  json_deal_ = JsonText(*deal);
  if (json_deal_.empty()) return absl::InvalidArgumentError("the deal is empty");
  row->deal = json_deal_;
  SC_ASSIGN_OR_RETURN(row->time, ParseTime(JsonText(*time)));
  const JsonValue* event = Member(object, "event");
  const JsonValue* stage = Member(object, "stage");
  auto name = [](const JsonValue* v) {
    return v == nullptr || v->kind != JsonValue::Kind::kString ? std::string() : v->text;
  };
  SC_RETURN_IF_ERROR(ReadEventAndStage(name(event), name(stage), row));
  if (const JsonValue* set = Member(object, "set")) {
    if (set->kind != JsonValue::Kind::kObject) {
      return absl::InvalidArgumentError("\"set\" is not an object");
    }
    for (const auto& [attribute, value] : set->members) {
      auto id = machine_->FindAttribute(attribute);
      if (!id.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown attribute \"", attribute, "\""));
      }
      // A double attribute takes the number as written: exact.
      const std::string v =
          machine_->attribute(*id).type == AttributeType::kDouble &&
                  value.kind == JsonValue::Kind::kNumber
              ? value.text
              : JsonText(value);
      SC_ASSIGN_OR_RETURN(AttributeValue parsed_value, Value(*id, v));
      row->set.emplace_back(*id, std::move(parsed_value));
    }
  }
  // Sorted by attribute, so that the same line always sets in one order.
  std::sort(row->set.begin(), row->set.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return true;
}

}  // namespace cli
}  // namespace salescycle
