// Reading whole files with errors that name the path and the reason.
#ifndef SALESCYCLE_SRC_FILE_UTIL_H_
#define SALESCYCLE_SRC_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace salescycle {
namespace internal {

// NotFound, PermissionDenied or Unavailable naming `path` and errno's text.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_FILE_UTIL_H_
