#include "src/proto_convert.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "src/utf8.h"

namespace salescycle {
namespace internal {
namespace {

// Keeps the first error protobuf's text parser reports, with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Walks every string and bytes field set in `message`, at any depth, and
// stops at the first for which `found(field, value)` holds, setting `path`
// to where it is ("transitions[3].guard.compare.value.string_value").
template <typename Found>
bool FindString(const google::protobuf::Message& message,
                const google::protobuf::FieldDescriptor* skip, Found&& found,
                std::string* path) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const bool is_string = field->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    const bool is_message =
        field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if ((!is_string && !is_message) || field == skip) continue;
    const int count =
        field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      std::string scratch;
      const std::string where =
          field->is_repeated() ? absl::StrCat(field->name(), "[", i, "]")
                               : field->name();
      if (is_string) {
        const std::string& value =
            field->is_repeated()
                ? reflection->GetRepeatedStringReference(message, field, i,
                                                         &scratch)
                : reflection->GetStringReference(message, field, &scratch);
        if (found(*field, value)) {
          *path = where;
          return true;
        }
        continue;
      }
      const google::protobuf::Message& child =
          field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                               : reflection->GetMessage(message, field);
      if (FindString(child, skip, found, path)) {
        *path = absl::StrCat(where, ".", *path);
        return true;
      }
    }
  }
  return false;
}

}  // namespace

absl::Status CheckStringLengths(const google::protobuf::Message& message,
                                size_t max_length, absl::string_view source,
                                const google::protobuf::FieldDescriptor* skip) {
  std::string path;
  size_t length = 0;
  auto too_long = [&](const google::protobuf::FieldDescriptor&,
                      const std::string& value) {
    length = value.size();
    return length > max_length;
  };
  if (!FindString(message, skip, too_long, &path)) return absl::OkStatus();
  return LimitError(source, absl::StrCat(path, " is ", length, " bytes"),
                    "max_string_length", max_length);
}

absl::Status CheckUtf8(const google::protobuf::Message& message,
                       absl::string_view source) {
  std::string path;
  size_t at = 0;
  auto invalid = [&](const google::protobuf::FieldDescriptor& field,
                     const std::string& value) {
    if (field.type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
      return false;  // bytes may hold anything
    }
    at = ValidUtf8Prefix(value);
    return at != value.size();
  };
  if (!FindString(message, nullptr, invalid, &path)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", path, " is not UTF-8 (byte ", at,
                   "): a spec is text; save it as UTF-8"));
}

absl::Status LimitError(absl::string_view source, absl::string_view what,
                        absl::string_view limit_name, uint64_t limit) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", what, ", past Limits::", limit_name, " (", limit, ")"));
}

absl::Status ParseTextProto(absl::string_view text, const std::string& source,
                            google::protobuf::Message* message) {
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", errors.error().empty() ? " parse error" : errors.error()));
  }
  return absl::OkStatus();
}

absl::Status ParseJson(absl::string_view json, const std::string& source,
                       google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      std::string(json), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a ", message->GetDescriptor()->name(),
                     " in JSON: ", status.message().ToString()));
  }
  return absl::OkStatus();
}

namespace {

// Value (specs) and SnapshotValue (snapshots) have the same fields; only the
// string's wire type differs (string vs bytes).
template <typename V>
absl::StatusOr<AttributeValue> ValueFromProto(const V& value) {
  switch (value.kind_case()) {
    case V::kInt64Value:
      return AttributeValue::Int64(value.int64_value());
    case V::kDoubleValue:
      return AttributeValue::Double(value.double_value());
    case V::kStringValue:
      return AttributeValue::String(value.string_value());
    case V::kBoolValue:
      return AttributeValue::Bool(value.bool_value());
    case V::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("attribute value has no kind");
}

template <typename V>
void ValueToProto(const AttributeValue& value, V* out) {
  switch (value.type()) {
    case AttributeType::kInt64: out->set_int64_value(value.int64_value()); break;
    case AttributeType::kDouble:
      out->set_double_value(value.double_value());
      break;
    case AttributeType::kString:
      out->set_string_value(value.string_value());
      break;
    case AttributeType::kBool: out->set_bool_value(value.bool_value()); break;
  }
}

}  // namespace

absl::StatusOr<AttributeValue> FromProto(const v1::Value& value) {
  return ValueFromProto(value);
}
absl::StatusOr<AttributeValue> FromProto(const v1::SnapshotValue& value) {
  return ValueFromProto(value);
}
void ToProto(const AttributeValue& value, v1::Value* out) {
  ValueToProto(value, out);
}
void ToProto(const AttributeValue& value, v1::SnapshotValue* out) {
  ValueToProto(value, out);
}

std::optional<AttributeType> FromProto(v1::Attribute::Type type) {
  switch (type) {
    case v1::Attribute::INT64: return AttributeType::kInt64;
    case v1::Attribute::DOUBLE: return AttributeType::kDouble;
    case v1::Attribute::STRING: return AttributeType::kString;
    case v1::Attribute::BOOL: return AttributeType::kBool;
    default: return std::nullopt;
  }
}

v1::Attribute::Type ToProto(AttributeType type) {
  switch (type) {
    case AttributeType::kInt64: return v1::Attribute::INT64;
    case AttributeType::kDouble: return v1::Attribute::DOUBLE;
    case AttributeType::kString: return v1::Attribute::STRING;
    case AttributeType::kBool: return v1::Attribute::BOOL;
  }
  return v1::Attribute::TYPE_UNSPECIFIED;
}

}  // namespace internal
}  // namespace salescycle
