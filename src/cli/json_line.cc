#include "src/cli/json_line.h"

#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace salescycle {
namespace cli {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view in) : in_(in) {}

  absl::StatusOr<JsonValue> Object() {
    SkipSpace();
    if (!Peek('{')) return Error("not a JSON object: it must start with {");
    JsonValue v;
    if (!Value(0, /*keep=*/2, &v)) return status_;
    SkipSpace();
    if (pos_ != in_.size()) return Error("not a JSON object: text after its end");
    return v;
  }

 private:
  bool Peek(char c) const { return pos_ < in_.size() && in_[pos_] == c; }
  void SkipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\r' || in_[pos_] == '\n')) {
      ++pos_;
    }
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " (at byte ", pos_, ")"));
  }
  bool Fail(absl::string_view what) {
    status_ = Error(what);
    return false;
  }

  // A value at nesting `depth`; `keep` levels of object members are kept
  // (2 at the top: its members, and those of an object in it).
  bool Value(int depth, int keep, JsonValue* out) {
    SkipSpace();
    if (pos_ >= in_.size()) return Fail("not a JSON object: it ends too soon");
    const char c = in_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= kMaxJsonDepth) {
        return Fail(absl::StrCat("not a JSON object: nested deeper than ", kMaxJsonDepth));
      }
      return c == '{' ? ObjectBody(depth, keep, out) : ArrayBody(depth, out);
    }
    if (c == '"') {
      out->kind = JsonValue::Kind::kString;
      return String(&out->text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      out->kind = JsonValue::Kind::kNumber;
      return Number(&out->text);
    }
    for (const auto& [word, kind] : {std::pair<absl::string_view, JsonValue::Kind>{
                                         "true", JsonValue::Kind::kBool},
                                     {"false", JsonValue::Kind::kBool},
                                     {"null", JsonValue::Kind::kNull}}) {
      if (in_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        out->kind = kind;
        out->text = std::string(word);
        return true;
      }
    }
    return Fail("not a JSON object: a value is not JSON");
  }

  bool ObjectBody(int depth, int keep, JsonValue* out) {
    out->kind = JsonValue::Kind::kObject;
    ++pos_;  // {
    absl::flat_hash_set<std::string> keys;
    SkipSpace();
    if (Peek('}')) {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      std::string key;
      if (!Peek('"')) return Fail("not a JSON object: a key must be a string");
      if (!String(&key)) return false;
      SkipSpace();
      if (!Peek(':')) return Fail("not a JSON object: a key without a ':'");
      ++pos_;
      if (!keys.insert(key).second) {
        return Fail(absl::StrCat("not a JSON object: \"", key, "\" given twice"));
      }
      JsonValue value;
      if (!Value(depth + 1, keep - 1, &value)) return false;
      if (keep > 0) out->members.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        continue;
      }
      if (Peek('}')) {
        ++pos_;
        return true;
      }
      return Fail("not a JSON object: members must be separated by ','");
    }
  }

  bool ArrayBody(int depth, JsonValue* out) {
    out->kind = JsonValue::Kind::kArray;
    ++pos_;  // [
    SkipSpace();
    if (Peek(']')) {
      ++pos_;
      return true;
    }
    while (true) {
      JsonValue element;  // an event row keeps no array: checked, then dropped
      if (!Value(depth + 1, 0, &element)) return false;
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        continue;
      }
      if (Peek(']')) {
        ++pos_;
        return true;
      }
      return Fail("not a JSON object: elements must be separated by ','");
    }
  }

  // The number's text as written, checked against JSON's grammar.
  bool Number(std::string* out) {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t from = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (Peek('-')) ++pos_;
    if (Peek('0')) {
      ++pos_;
    } else if (!digits()) {
      return Fail("not a JSON object: a number without digits");
    }
    if (Peek('.')) {
      ++pos_;
      if (!digits()) return Fail("not a JSON object: a number without digits after '.'");
    }
    if (Peek('e') || Peek('E')) {
      ++pos_;
      if (Peek('+') || Peek('-')) ++pos_;
      if (!digits()) return Fail("not a JSON object: a number without an exponent");
    }
    *out = std::string(in_.substr(start, pos_ - start));
    return true;
  }

  bool Hex4(uint32_t* out) {
    if (in_.size() - pos_ < 4) return Fail("not a JSON object: a short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = in_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("not a JSON object: a \\u escape that is not hexadecimal");
      }
    }
    *out = v;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Escape(std::string* out) {
    if (pos_ >= in_.size()) return Fail("not a JSON object: a string ends in '\\'");
    const char c = in_[pos_++];
    switch (c) {
      case '"': out->push_back('"'); return true;
      case '\\': out->push_back('\\'); return true;
      case '/': out->push_back('/'); return true;
      case 'b': out->push_back('\b'); return true;
      case 'f': out->push_back('\f'); return true;
      case 'n': out->push_back('\n'); return true;
      case 'r': out->push_back('\r'); return true;
      case 't': out->push_back('\t'); return true;
      case 'u': break;
      default: return Fail("not a JSON object: an unknown escape in a string");
    }
    uint32_t cp;
    if (!Hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return Fail("not a JSON object: a lone low surrogate in a string");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a pair: the low half follows
      uint32_t low;
      if (in_.substr(pos_, 2) != "\\u") {
        return Fail("not a JSON object: a lone high surrogate in a string");
      }
      pos_ += 2;
      if (!Hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return Fail("not a JSON object: a high surrogate without its low half");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool String(std::string* out) {
    ++pos_;  // "
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (!Escape(out)) return false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return Fail("not a JSON object: a control character in a string");
      } else {
        out->push_back(c);
      }
    }
    return Fail("not a JSON object: a string without its closing '\"'");
  }

  absl::string_view in_;
  size_t pos_ = 0;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<JsonValue> ParseJsonObjectLine(absl::string_view line) {
  return Parser(line).Object();
}

}  // namespace cli
}  // namespace salescycle
