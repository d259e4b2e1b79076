#include "src/utf8.h"

namespace salescycle {
namespace internal {

size_t ValidUtf8Prefix(absl::string_view s) {
  // RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int more;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (static_cast<size_t>(more) >= n - i) return i;  // truncated
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (int k = 2; k <= more; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += 1 + more;
  }
  return n;
}

}  // namespace internal
}  // namespace salescycle
