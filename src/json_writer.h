// JSON text by hand, for the funnel report and the C API's small JSON
// answers: protobuf's JSON prints 64-bit integers as strings ("deals":
// "5000"), which every reader then has to convert. Strings are written as
// JSON strings whatever their bytes (a byte that is not UTF-8 becomes
// U+FFFD), so the output is always JSON.
#ifndef SALESCYCLE_SRC_JSON_WRITER_H_
#define SALESCYCLE_SRC_JSON_WRITER_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "src/utf8.h"

namespace salescycle {
namespace internal {

class JsonWriter {
 public:
  std::string Take() { return std::move(out_); }
  void Open(char c) {
    Comma();
    out_ += c;
    first_ = true;
  }
  void Close(char c) {
    out_ += c;
    first_ = false;
  }
  void Key(absl::string_view k) {
    Comma();
    String(k);
    out_ += ": ";
    first_ = true;  // the value follows without a comma
  }
  void Value(bool v) { Raw(v ? "true" : "false"); }
  // A C string would convert to bool before string_view: say which.
  void Value(const char* v) = delete;
  void Value(uint64_t v) { Raw(absl::StrCat(v)); }
  void Value(int64_t v) { Raw(absl::StrCat(v)); }
  // The shortest text that reads back as the same double.
  void Value(double v) {
    if (!std::isfinite(v)) return Raw("null");
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
    Raw(absl::string_view(buffer, static_cast<size_t>(end - buffer)));
  }
  void Value(absl::string_view v) {
    Comma();
    String(v);
  }
  template <typename T>
  void Field(absl::string_view k, T v) {
    Key(k);
    Value(v);
  }

 private:
  void Comma() {
    if (!first_) out_ += ", ";
    first_ = false;
  }
  void Raw(absl::string_view v) {
    Comma();
    absl::StrAppend(&out_, v);
  }
  void String(absl::string_view s) {
    out_ += '"';
    while (!s.empty()) {
      const size_t valid = internal::ValidUtf8Prefix(s);
      for (unsigned char c : s.substr(0, valid)) {
        if (c == '"' || c == '\\') {
          out_ += '\\';
          out_ += static_cast<char>(c);
        } else if (c < 0x20) {
          absl::StrAppendFormat(&out_, "\\u%04x", c);
        } else {
          out_ += static_cast<char>(c);
        }
      }
      s.remove_prefix(valid);
      // Attribute values and loss reasons are bytes: one that is not UTF-8
      // is written as U+FFFD, so that the JSON stays JSON.
      if (!s.empty()) {
        out_ += "\\ufffd";
        s.remove_prefix(1);
      }
    }
    out_ += '"';
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_JSON_WRITER_H_
