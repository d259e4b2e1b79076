#include "src/file_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/proto_convert.h"
#include "src/status_macros.h"

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

absl::StatusOr<FileBytes> FileBytes::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    void* mapped = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                          MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (mapped != MAP_FAILED) {
      ::madvise(mapped, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      FileBytes bytes;
      bytes.mapped_ = mapped;
      bytes.size_ = static_cast<size_t>(st.st_size);
      return bytes;
    }
  } else if (fd >= 0) {
    ::close(fd);
  }
  // Not mappable (a pipe, an empty or special file, or no such file): read
  // it, which also words any error.
  SC_ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
  FileBytes bytes;
  bytes.read_ = std::move(contents);
  return bytes;
}

FileBytes::FileBytes(FileBytes&& other) noexcept
    : mapped_(std::exchange(other.mapped_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      read_(std::move(other.read_)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    if (mapped_ != nullptr) ::munmap(mapped_, size_);
    mapped_ = std::exchange(other.mapped_, nullptr);
    size_ = std::exchange(other.size_, 0);
    read_ = std::move(other.read_);
  }
  return *this;
}

FileBytes::~FileBytes() {
  if (mapped_ != nullptr) ::munmap(mapped_, size_);
}

}  // namespace internal
}  // namespace salescycle
