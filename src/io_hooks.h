// Writing and syncing files, through one seam. Every byte the library
// writes to a snapshot or a journal goes through WriteAll and SyncFile, so
// that tests can make a disk fail as real ones rarely do on demand: short
// writes, ENOSPC, EIO, a failed fsync (tests/durable_test.cc).
#ifndef SALESCYCLE_SRC_IO_HOOKS_H_
#define SALESCYCLE_SRC_IO_HOOKS_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace salescycle {
namespace internal {

// What a test puts between the library and write(2) / fdatasync(2). Each
// returns as the system call would, setting errno on failure.
class IoFaults {
 public:
  virtual ~IoFaults() = default;
  virtual ssize_t Write(int fd, const void* data, size_t size);
  virtual int Sync(int fd);
};

// Installs `faults` for the whole process (null: the system calls). For
// tests only: not synchronized with writes under way.
void SetIoFaultsForTesting(IoFaults* faults);

// All of `bytes` at the file's offset, retrying short writes and EINTR.
// Errors: ErrnoError("WHAT", errno) (snapshot_io.h's kinds); a write that
// makes no progress is Unavailable.
absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& what);
// fdatasync: the data and what reading it needs (the size), not the times.
absl::Status SyncFile(int fd, const std::string& what);
// Makes the names in a directory durable (a new file, a rename, an unlink).
absl::Status SyncDirectory(const std::string& dir);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_IO_HOOKS_H_
