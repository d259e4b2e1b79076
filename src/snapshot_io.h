// Snapshot bytes in and out (as leveldb's log_writer / log_reader): where a
// pipeline snapshot's frames go (a string, a stream, a file written
// atomically) and where they come from, each frame checked for its length
// and checksum before it is parsed. Nothing here knows what a frame holds.
#ifndef SALESCYCLE_SRC_SNAPSHOT_IO_H_
#define SALESCYCLE_SRC_SNAPSHOT_IO_H_

#include <sys/types.h>

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace salescycle {
namespace internal {

// Parses untrusted bytes without protobuf logging to the host's stderr (it
// logs, for one, every string field that is not UTF-8). The silencer is
// process-wide while it lives, which is brief; the caller reports the
// failure as its own error.
bool ParseQuietly(absl::string_view bytes,
                  google::protobuf::MessageLite* message);
// The same state always gives the same bytes, within one build.
std::string SerializeDeterministically(
    const google::protobuf::MessageLite& message);

// An errno as a Status: NotFound, PermissionDenied, ResourceExhausted (a
// full disk) or Unavailable, "WHAT: strerror".
absl::Status ErrnoError(const std::string& what, int err);

// ---- writing

class FrameWriter {
 public:
  virtual ~FrameWriter() = default;
  // Raw bytes (the magic).
  virtual absl::Status Write(absl::string_view bytes) = 0;
  // One frame: length, CRC-32, payload. ResourceExhausted past
  // kMaxFrameBytes.
  absl::Status WriteFrame(const google::protobuf::MessageLite& frame);

 private:
  std::string buffer_;  // reused between frames
};

// Appends to a string.
class StringWriter : public FrameWriter {
 public:
  explicit StringWriter(std::string* out) : out_(out) {}
  absl::Status Write(absl::string_view bytes) override;

 private:
  std::string* out_;
};

// Writes to a stream; Unavailable once it fails.
class StreamWriter : public FrameWriter {
 public:
  explicit StreamWriter(std::ostream* out) : out_(out) {}
  absl::Status Write(absl::string_view bytes) override;

 private:
  std::ostream* out_;
  uint64_t written_ = 0;
};

// Writes a temporary file beside the target, then fsyncs and renames it, so
// the target is either the old file or the whole new one. Without Commit,
// the temporary file is removed. Where the filesystem allows (Linux's
// O_TMPFILE), the temporary has no name until Commit links it, so a
// process killed mid-save leaves nothing behind either. A symlink is
// written through (its target replaced, the link kept); what is not a
// regular file is refused; an existing file keeps its mode, a new one gets
// 0666 less the umask. `what` names the contents in errors ("path: cannot
// write snapshot: No space left on device").
class FileWriter : public FrameWriter {
 public:
  explicit FileWriter(std::string path, std::string what = "snapshot")
      : path_(std::move(path)), what_(std::move(what)) {}
  ~FileWriter() override;
  absl::Status Open();
  absl::Status Write(absl::string_view bytes) override;
  absl::Status Commit();

 private:
  absl::Status Flush();

  // Gives the anonymous temporary a name beside the target, in temp_.
  absl::Status LinkAnonymous();
  // Follows a symlink, refuses what is not a regular file, notes the mode.
  absl::Status ResolveTarget();

  std::string path_;
  std::string what_;
  std::string temp_;  // the temporary's name; empty while anonymous
  bool anonymous_ = false;
  std::optional<mode_t> keep_mode_;  // an existing target's permission bits
  int fd_ = -1;
  std::string buffer_;
};

// ---- reading

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `n` bytes (fewer only at the end), valid until the next call.
  virtual absl::StatusOr<absl::string_view> Read(size_t n) = 0;
  // Bytes left, when the source knows.
  virtual std::optional<uint64_t> Remaining() const = 0;
  uint64_t offset() const { return offset_; }

 protected:
  uint64_t offset_ = 0;
};

class BytesSource : public ByteSource {
 public:
  explicit BytesSource(absl::string_view bytes) : bytes_(bytes) {}
  absl::StatusOr<absl::string_view> Read(size_t n) override;
  std::optional<uint64_t> Remaining() const override {
    return bytes_.size() - offset_;
  }

 private:
  absl::string_view bytes_;
};

// A seekable stream tells its size, which bounds what a header may declare
// before anything is allocated for it.
class StreamSource : public ByteSource {
 public:
  StreamSource(std::istream* in, std::string name);
  absl::StatusOr<absl::string_view> Read(size_t n) override;
  std::optional<uint64_t> Remaining() const override;

 private:
  std::istream* in_;
  std::string name_;
  std::string buffer_;
  std::optional<uint64_t> size_;
};

// Reads the magic, then one checked frame at a time. Every error is
// DataLoss naming the input, the frame and its offset.
class FrameReader {
 public:
  FrameReader(ByteSource* in, std::string name)
      : in_(in), name_(std::move(name)) {}
  absl::Status ReadMagic(absl::string_view magic, absl::string_view what);
  // The next frame parsed into `frame`; false at a clean end of the input.
  absl::StatusOr<bool> Next(google::protobuf::MessageLite* frame);
  // Frames read so far.
  uint64_t frames() const { return frames_; }
  std::optional<uint64_t> Remaining() const { return in_->Remaining(); }
  // True when nothing follows.
  absl::StatusOr<bool> AtEnd();
  absl::Status DataLoss(absl::string_view what) const;

 private:
  ByteSource* in_;
  std::string name_;
  uint64_t frames_ = 0;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_SNAPSHOT_IO_H_
