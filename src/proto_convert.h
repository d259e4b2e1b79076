// Parsing protobuf text format and JSON with errors that name the source,
// and conversions between the library's types and their protobuf forms.
#ifndef SALESCYCLE_SRC_PROTO_CONVERT_H_
#define SALESCYCLE_SRC_PROTO_CONVERT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "salescycle/attribute.h"
#include "salescycle/v1/machine.pb.h"
#include "salescycle/v1/snapshot.pb.h"

namespace salescycle {
namespace internal {

// InvalidArgument "SOURCE:LINE:COLUMN: what" on a syntax error.
absl::Status ParseTextProto(absl::string_view text, const std::string& source,
                            google::protobuf::Message* message);
// InvalidArgument "SOURCE: not a NAME in JSON: what"; unknown fields are
// errors, so that a misspelled field is caught.
absl::Status ParseJson(absl::string_view json, const std::string& source,
                       google::protobuf::Message* message);

// InvalidArgument "SOURCE: FIELD.PATH[i] is N bytes, past Limits::
// max_string_length (LIMIT)" for the first string or bytes field, at any depth,
// longer than `max_length`. Reflection, so that a field added to a .proto
// later is covered without anyone remembering to.
// `skip`, when given, is a field left out (one bounded by another limit).
absl::Status CheckStringLengths(
    const google::protobuf::Message& message, size_t max_length,
    absl::string_view source,
    const google::protobuf::FieldDescriptor* skip = nullptr);

// InvalidArgument "SOURCE: PATH is not UTF-8 (byte N): ..." for the first
// `string` field (not `bytes`) of `message`, at any depth, that is not
// UTF-8: protobuf would print to stderr when writing it and refuse it when
// parsing, so a spec must never carry one into a snapshot.
absl::Status CheckUtf8(const google::protobuf::Message& message,
                       absl::string_view source);
// InvalidArgument "SOURCE: WHAT, past Limits::NAME (LIMIT)"; WHAT says how
// much was asked for ("declares 300 stages").
absl::Status LimitError(absl::string_view source, absl::string_view what,
                        absl::string_view limit_name, uint64_t limit);

// InvalidArgument for a value with no kind set.
absl::StatusOr<AttributeValue> FromProto(const v1::Value& value);
void ToProto(const AttributeValue& value, v1::Value* out);
absl::StatusOr<AttributeValue> FromProto(const v1::SnapshotValue& value);
void ToProto(const AttributeValue& value, v1::SnapshotValue* out);

// nullopt for TYPE_UNSPECIFIED or a value this build does not know.
std::optional<AttributeType> FromProto(v1::Attribute::Type type);
v1::Attribute::Type ToProto(AttributeType type);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_PROTO_CONVERT_H_
