#include "src/io_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "src/snapshot_io.h"

namespace salescycle {
namespace internal {
namespace {

IoFaults& SystemCalls() {
  static IoFaults* calls = new IoFaults;
  return *calls;
}
std::atomic<IoFaults*> installed{nullptr};

IoFaults& Io() {
  IoFaults* faults = installed.load(std::memory_order_acquire);
  return faults != nullptr ? *faults : SystemCalls();
}

}  // namespace

ssize_t IoFaults::Write(int fd, const void* data, size_t size) {
  return ::write(fd, data, size);
}

int IoFaults::Sync(int fd) { return ::fdatasync(fd); }

void SetIoFaultsForTesting(IoFaults* faults) {
  installed.store(faults, std::memory_order_release);
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& what) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = Io().Write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(what, errno);
    }
    // A regular file takes at least a byte or says why not; a write that
    // takes none would loop forever.
    if (n == 0) return absl::UnavailableError(absl::StrCat(what, ": the write made no progress"));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncFile(int fd, const std::string& what) {
  while (Io().Sync(fd) != 0) {
    if (errno != EINTR) return ErrnoError(absl::StrCat(what, ": fsync"), errno);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(absl::StrCat(dir, ": cannot open the directory"), errno);
  absl::Status status;
  if (::fsync(fd) != 0 && errno != EINVAL) {  // EINVAL: a filesystem that cannot
    status = ErrnoError(absl::StrCat(dir, ": fsync of the directory"), errno);
  }
  ::close(fd);
  return status;
}

}  // namespace internal
}  // namespace salescycle
