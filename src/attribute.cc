#include "salescycle/attribute.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace salescycle {

absl::string_view AttributeTypeName(AttributeType type) {
  switch (type) {
    case AttributeType::kInt64: return "int64";
    case AttributeType::kDouble: return "double";
    case AttributeType::kString: return "string";
    case AttributeType::kBool: return "bool";
  }
  return "unknown";
}

std::string AttributeValue::DebugString() const {
  switch (type()) {
    case AttributeType::kInt64: return absl::StrCat(int64_value());
    case AttributeType::kDouble: return absl::StrCat(double_value());
    case AttributeType::kString:
      return absl::StrCat("\"", absl::CEscape(string_value()), "\"");
    case AttributeType::kBool: return bool_value() ? "true" : "false";
  }
  return "";
}

}  // namespace salescycle
