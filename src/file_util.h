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

// A whole file's bytes for reading: a regular file is mapped read-only, so
// that an event file of gigabytes costs page cache the kernel can reclaim,
// not heap; anything else (a pipe, /dev/stdin) is read into memory, at most
// `max_bytes` of it. A mapped file that another process truncates meanwhile
// raises SIGBUS where its missing pages are read: a program that maps what
// others may write handles it (the tool does: src/cli/main.cc).
// "-" is stdin. Errors: as ReadFile; ResourceExhausted past max_bytes from
// a pipe or device, or when memory runs out reading one.
class FileBytes {
 public:
  static constexpr size_t kMaxReadBytes = size_t{4} << 30;     // a pipe
  static constexpr size_t kMaxDeviceBytes = size_t{64} << 20;  // a character device
  static absl::StatusOr<FileBytes> Open(const std::string& path,
                                        size_t max_bytes = kMaxReadBytes);
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  // Valid while this object lives.
  absl::string_view view() const {
    return mapped_ != nullptr
               ? absl::string_view(static_cast<const char*>(mapped_), size_)
               : absl::string_view(read_);
  }

 private:
  FileBytes() = default;
  void* mapped_ = nullptr;
  size_t size_ = 0;
  std::string read_;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_FILE_UTIL_H_
