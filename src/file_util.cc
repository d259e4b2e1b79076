#include "src/file_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

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
namespace {

absl::Status ReadError(const std::string& path, int err) {
  const std::string message =
      absl::StrCat(path, ": cannot read: ", std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(message);
    case EACCES: return absl::PermissionDeniedError(message);
    default: return absl::UnavailableError(message);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes,
                                     absl::string_view limit_name) {
  FILE* f = std::fopen(path.c_str(), "rb");
  auto error = [&path](int err) { return ReadError(path, err); };
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

absl::StatusOr<FileBytes> FileBytes::Open(const std::string& path, size_t max_bytes) {
  auto error = [&path](int err) { return ReadError(path, err); };
  // One open for both ways: a FIFO opened twice would lose what its writer
  // sent to the first.
  // "-" is stdin, as for every tool that reads files.
  const int fd = path == "-" ? ::fcntl(0, F_DUPFD_CLOEXEC, 0)
                             : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(errno);
  FileBytes bytes;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return error(err);
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    void* mapped = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                          MAP_PRIVATE, fd, 0);
    if (mapped != MAP_FAILED) {
      ::close(fd);
      ::madvise(mapped, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      bytes.mapped_ = mapped;
      bytes.size_ = static_cast<size_t>(st.st_size);
      return bytes;
    }
  }
  // Not mappable (a pipe, an empty or special file): read it, up to
  // max_bytes, so that an endless input (/dev/zero, a pipe that never
  // closes) is an error that says so, not every byte of memory and an
  // uncaught std::bad_alloc. A character device (a terminal, /dev/null,
  // /dev/zero) holds no export of gigabytes: it gets kMaxDeviceBytes.
  if (S_ISCHR(st.st_mode)) max_bytes = std::min(max_bytes, kMaxDeviceBytes);
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      if (bytes.read_.size() + static_cast<size_t>(n) > max_bytes) {
        ::close(fd);
        return absl::ResourceExhaustedError(absl::StrCat(
            path, ": more than ", max_bytes,
            " bytes from a pipe or device, which is read into memory: write it to a file "
            "(a file is mapped, not read) or give a smaller input"));
      }
      try {
        bytes.read_.append(buffer, static_cast<size_t>(n));
      } catch (const std::bad_alloc&) {
        ::close(fd);
        return absl::ResourceExhaustedError(absl::StrCat(
            path, ": out of memory after ", bytes.read_.size(),
            " bytes from a pipe or device: write it to a file (a file is mapped, not read)"));
      }
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;  // EISDIR for a directory
      ::close(fd);
      return error(err);
    }
  }
  ::close(fd);
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
