// Counts as people read them in reports and pictures: "1,234,567".
#ifndef SALESCYCLE_SRC_THOUSANDS_H_
#define SALESCYCLE_SRC_THOUSANDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace salescycle {
namespace internal {

inline std::string Thousands(uint64_t n) {
  std::string digits = absl::StrCat(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return digits;
}

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_THOUSANDS_H_
