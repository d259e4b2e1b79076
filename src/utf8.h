// UTF-8 validation, for the text a spec must be (names end up in snapshots'
// `string` fields, which protobuf refuses to parse unless they are UTF-8).
#ifndef SALESCYCLE_SRC_UTF8_H_
#define SALESCYCLE_SRC_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace salescycle {
namespace internal {

// The length of the longest prefix of `s` that is valid UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF): s.size() when all
// of it is, so a caller can name the first bad byte.
size_t ValidUtf8Prefix(absl::string_view s);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_UTF8_H_
