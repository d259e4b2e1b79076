// How Journey and Pipeline check and store attribute writes: one set of
// rules for both containers.
#ifndef SALESCYCLE_SRC_ATTRIBUTE_CODEC_H_
#define SALESCYCLE_SRC_ATTRIBUTE_CODEC_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "salescycle/attribute.h"
#include "salescycle/machine.h"
#include "src/core.h"

namespace salescycle {
namespace internal {

// InvalidArgument "WHAT id ID is out of range: machine "M" has COUNT
// WHATs" when id >= count.
inline absl::Status CheckIdInRange(const Machine& m, const char* what,
                                   uint32_t id, int count) {
  if (id < static_cast<uint32_t>(count)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " id ", id, " is out of range: machine \"", m.name(),
                   "\" has ", count, " ", what, "s"));
}
inline absl::Status CheckStageId(const Machine& m, uint32_t id) {
  return CheckIdInRange(m, "stage", id, m.num_stages());
}
inline absl::Status CheckEventId(const Machine& m, uint32_t id) {
  return CheckIdInRange(m, "event", id, m.num_events());
}

// InvalidArgument naming the machine, the attribute and both types.
inline absl::Status CheckAttribute(const Machine& m, AttributeId id) {
  return CheckIdInRange(m, "attribute", id, m.num_attributes());
}

inline absl::Status CheckAttributeWrite(const Machine& m, AttributeId id,
                                        const AttributeValue& value) {
  if (absl::Status s = CheckAttribute(m, id); !s.ok()) return s;
  const AttributeInfo& info = m.attribute(id);
  if (value.type() != info.type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute \"", info.name, "\" is ", AttributeTypeName(info.type),
        ", not ", AttributeTypeName(value.type()), " (value ",
        value.DebugString(), ")"));
  }
  return absl::OkStatus();
}

// The 64-bit pattern of an int64, double or bool value.
inline uint64_t ScalarBits(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kInt64: return static_cast<uint64_t>(v.int64_value());
    case AttributeType::kDouble: return DoubleBits(v.double_value());
    case AttributeType::kBool: return v.bool_value() ? 1 : 0;
    case AttributeType::kString: break;
  }
  return 0;
}

inline AttributeValue ScalarValue(AttributeType type, uint64_t bits) {
  switch (type) {
    case AttributeType::kInt64:
      return AttributeValue::Int64(static_cast<int64_t>(bits));
    case AttributeType::kDouble: return AttributeValue::Double(BitsDouble(bits));
    case AttributeType::kBool: return AttributeValue::Bool(bits != 0);
    case AttributeType::kString: break;
  }
  return AttributeValue();
}

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_ATTRIBUTE_CODEC_H_
