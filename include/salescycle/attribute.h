/// \file
/// Typed deal attributes (budget, deal value, lead source...): their values,
/// and the read-only view that guards see.
///
/// AttributeValue is a value type. AttributeReader is an interface that Journey
/// and Pipeline implement on the fly for named C++ guards; a reader is valid
/// only for the duration of the guard call.
#ifndef SALESCYCLE_ATTRIBUTE_H_
#define SALESCYCLE_ATTRIBUTE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "salescycle/types.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// What an attribute holds, as declared in the machine's spec.
enum class AttributeType : uint8_t {
  kInt64,   ///< a signed 64-bit integer (counts, days, whole amounts)
  kDouble,  ///< a double (money, percentages)
  kString,  ///< bytes, in any encoding (a lead source, a decision maker)
  kBool,    ///< true or false (BANT's authority, need)
};

/// "int64", "double", "string" or "bool".
SC_API absl::string_view AttributeTypeName(AttributeType type);

/// One attribute's value: an int64, a double, a string or a bool.
class SC_API AttributeValue {
 public:
  /// An int64 zero.
  AttributeValue() = default;
  /// A value of each type. @{
  static AttributeValue Int64(int64_t v) { return AttributeValue(v); }
  static AttributeValue Double(double v) { return AttributeValue(v); }
  static AttributeValue String(std::string v) {
    return AttributeValue(std::move(v));
  }
  static AttributeValue Bool(bool v) { return AttributeValue(v); }
  ///@}

  /// Which of the four it holds.
  AttributeType type() const { return static_cast<AttributeType>(v_.index()); }
  /// The value. REQUIRES: type() is the matching type. @{
  int64_t int64_value() const { return std::get<int64_t>(v_); }
  double double_value() const { return std::get<double>(v_); }
  const std::string& string_value() const { return std::get<std::string>(v_); }
  bool bool_value() const { return std::get<bool>(v_); }
  ///@}

  /// "1000", "0.5", "\"inbound\"", "true".
  std::string DebugString() const;

  /// Equal when both type and value are. @{
  friend bool operator==(const AttributeValue& a, const AttributeValue& b) {
    return a.v_ == b.v_;
  }
  friend bool operator!=(const AttributeValue& a, const AttributeValue& b) {
    return !(a == b);
  }
  ///@}

 private:
  template <typename T>
  explicit AttributeValue(T v) : v_(std::move(v)) {}
  // Order matches AttributeType.
  std::variant<int64_t, double, std::string, bool> v_;
};

/// What a named guard may read of one deal. Reads of an attribute that was
/// never set return the attribute's declared default.
/// REQUIRES for every getter: `id` is an attribute of the guard's machine and
/// of the getter's type (the machine checks types when it compiles).
class AttributeReader {
 public:
  virtual ~AttributeReader() = default;
  /// Whether the deal's attribute `id` was ever set.
  virtual bool IsSet(AttributeId id) const = 0;
  /// The value of attribute `id` (its default when unset). @{
  virtual int64_t GetInt64(AttributeId id) const = 0;
  virtual double GetDouble(AttributeId id) const = 0;
  virtual bool GetBool(AttributeId id) const = 0;
  virtual absl::string_view GetString(AttributeId id) const = 0;
  ///@}
};

/// An escape hatch for rules a declarative guard cannot say. It must be pure
/// (same attributes, same answer) and safe to call from several threads at
/// once, since a compiled Machine is shared; it must not throw.
using NamedGuard = std::function<bool(const AttributeReader&)>;

}  // namespace salescycle

#endif  // SALESCYCLE_ATTRIBUTE_H_
