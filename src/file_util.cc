#include "src/file_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace salescycle {
namespace internal {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  auto error = [&path](int err) {
    const std::string message =
        absl::StrCat(path, ": cannot read: ", std::strerror(err));
    switch (err) {
      case ENOENT: return absl::NotFoundError(message);
      case EACCES: return absl::PermissionDeniedError(message);
      default: return absl::UnavailableError(message);
    }
  };
  if (f == nullptr) return error(errno);
  std::string contents;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    contents.append(buffer, n);
  }
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  // Reading a directory opens fine and fails here with EISDIR.
  if (err != 0) return error(err);
  return contents;
}

}  // namespace internal
}  // namespace salescycle
