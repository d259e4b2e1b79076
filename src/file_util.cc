#include "src/file_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "src/proto_convert.h"

namespace salescycle {
namespace internal {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes,
                                     absl::string_view limit_name) {
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
  auto too_big = [&](uint64_t bytes) {
    std::fclose(f);
    return LimitError(path, absl::StrCat("the file is ", bytes, " bytes"),
                      limit_name, max_bytes);
  };
  struct stat st;
  if (::fstat(::fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > max_bytes) {
    return too_big(static_cast<uint64_t>(st.st_size));
  }
  std::string contents;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    contents.append(buffer, n);
    if (contents.size() > max_bytes) return too_big(contents.size());
  }
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  // Reading a directory opens fine and fails here with EISDIR.
  if (err != 0) return error(err);
  return contents;
}

}  // namespace internal
}  // namespace salescycle
