// Reading whole files with errors that name the path and the reason.
#ifndef SALESCYCLE_SRC_FILE_UTIL_H_
#define SALESCYCLE_SRC_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace salescycle {
namespace internal {

// NotFound, PermissionDenied or Unavailable naming `path` and errno's text;
// InvalidArgument naming Limits::`limit_name` for a file longer than
// `max_bytes`, found from its size before it is read (or, for a pipe, as
// soon as the bytes read pass it).
absl::StatusOr<std::string> ReadFile(
    const std::string& path, size_t max_bytes = SIZE_MAX,
    absl::string_view limit_name = "max_spec_bytes");

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_FILE_UTIL_H_
