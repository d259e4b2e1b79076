#include "src/snapshot_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "src/crc32.h"
#include "src/io_hooks.h"
#include "src/snapshot_format.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

bool ParseQuietly(absl::string_view bytes,
                  google::protobuf::MessageLite* message) {
  google::protobuf::LogSilencer quiet;
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

namespace {

void AppendDeterministically(const google::protobuf::MessageLite& message,
                             std::string* out) {
  google::protobuf::io::StringOutputStream stream(out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  // The coded stream's destructor trims `out` to what was written.
}

}  // namespace

std::string SerializeDeterministically(
    const google::protobuf::MessageLite& message) {
  std::string out;
  AppendDeterministically(message, &out);
  return out;
}

absl::Status ErrnoError(const std::string& what, int err) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS: return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT: return absl::ResourceExhaustedError(message);
    default: return absl::UnavailableError(message);
  }
}

// ---- writing

absl::Status FrameWriter::WriteFrame(
    const google::protobuf::MessageLite& frame) {
  buffer_.clear();
  AppendDeterministically(frame, &buffer_);
  if (buffer_.size() > kMaxFrameBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a snapshot frame of ", buffer_.size(),
                     " bytes is past the limit of ", kMaxFrameBytes));
  }
  char head[kFrameHeaderBytes];
  absl::little_endian::Store32(head, static_cast<uint32_t>(buffer_.size()));
  absl::little_endian::Store32(head + 4, Crc32(buffer_.data(), buffer_.size()));
  SC_RETURN_IF_ERROR(Write(absl::string_view(head, sizeof head)));
  return Write(buffer_);
}

absl::Status StringWriter::Write(absl::string_view bytes) {
  out_->append(bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::Status StreamWriter::Write(absl::string_view bytes) {
  out_->write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_->good()) {
    return absl::UnavailableError(absl::StrCat(
        "the output stream failed after ", written_, " bytes of snapshot"));
  }
  written_ += bytes.size();
  return absl::OkStatus();
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash + 1);
}

}  // namespace

namespace {

// The process's umask, read without changing it (umask(2) can only set it,
// and setting it back is a window in which another thread's files get the
// wrong mode).
mode_t CurrentUmask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    unsigned mask;
    if (std::sscanf(line.c_str(), "Umask: %o", &mask) == 1) return static_cast<mode_t>(mask);
  }
  return 022;  // the usual one, where /proc is not mounted
}

}  // namespace

// What replacing `path_` means (issue 15 found a save over a symlink
// replacing the link, over a device node replacing the device, and a 0600
// file coming back 0644): a symlink is written through, so its target gets
// the new contents and the link stays (as editors and `cp` do); anything
// that is not a regular file (a device, a FIFO, a directory, a socket) is
// refused and left alone; an existing file keeps its permission bits; a new
// one gets 0666 less the umask.
absl::Status FileWriter::ResolveTarget() {
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path_.c_str(), nullptr);
    if (real == nullptr) {
      return ErrnoError(absl::StrCat(path_, ": cannot write ", what_,
                                     " through the symlink (its target)"),
                        errno);
    }
    path_ = real;
    std::free(real);
  }
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();  // a new file
    return ErrnoError(absl::StrCat(path_, ": cannot write ", what_), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path_, ": cannot write ", what_,
        ": not a regular file (a device, FIFO, socket or directory is never replaced)"));
  }
  keep_mode_ = st.st_mode & 07777;
  return absl::OkStatus();
}

absl::Status FileWriter::Open() {
  SC_RETURN_IF_ERROR(ResolveTarget());
#ifdef O_TMPFILE
  // Mode 0666 less the umask, as for any new file.
  fd_ = ::open(DirectoryOf(path_).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd_ >= 0) {
    anonymous_ = true;
    return absl::OkStatus();
  }
  // Not supported here (an older kernel, a filesystem without it): a named
  // temporary, as below. Other errors (no such directory) show there too.
#endif
  std::string pattern = path_ + ".tmp-XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) {
    return ErrnoError(
        absl::StrCat(path_, ": cannot write ", what_, " (a temporary file beside it)"), errno);
  }
  temp_ = pattern;
  // mkstemp makes it 0600: the mode a new file would get instead.
  ::fchmod(fd_, 0666 & ~CurrentUmask());
  return absl::OkStatus();
}

absl::Status FileWriter::Write(absl::string_view bytes) {
  buffer_.append(bytes.data(), bytes.size());
  return buffer_.size() >= (1 << 20) ? Flush() : absl::OkStatus();
}

absl::Status FileWriter::LinkAnonymous() {
  // A name that is not taken: linkat never replaces a file.
  const std::string proc = absl::StrCat("/proc/self/fd/", fd_);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = absl::StrCat(path_, ".tmp-", ::getpid(), "-", attempt);
    int linked = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW);
    if (linked != 0 && errno == ENOENT) {  // no /proc: the descriptor itself
      linked = ::linkat(fd_, "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH);
    }
    if (linked == 0) {
      temp_ = std::move(name);
      anonymous_ = false;
      return absl::OkStatus();
    }
    if (errno != EEXIST) {
      return ErrnoError(absl::StrCat(path_, ": cannot write ", what_, " (naming it)"), errno);
    }
  }
  return ErrnoError(absl::StrCat(path_, ": cannot write ", what_, " (naming it)"), EEXIST);
}

absl::Status FileWriter::Commit() {
  SC_RETURN_IF_ERROR(Flush());
  if (keep_mode_ && ::fchmod(fd_, *keep_mode_) != 0) {
    return ErrnoError(absl::StrCat(path_, ": cannot keep the file's mode"), errno);
  }
  SC_RETURN_IF_ERROR(SyncFile(fd_, path_));
  if (anonymous_) SC_RETURN_IF_ERROR(LinkAnonymous());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoError(absl::StrCat(temp_, ": close"), errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(absl::StrCat(path_, ": cannot replace"), errno);
  }
  temp_.clear();
  // Make the rename itself durable: until the directory is synced, a crash
  // can bring the old file back.
  return SyncDirectory(DirectoryOf(path_));
}

absl::Status FileWriter::Flush() {
  SC_RETURN_IF_ERROR(WriteAll(fd_, buffer_, absl::StrCat(path_, ": cannot write ", what_)));
  buffer_.clear();
  return absl::OkStatus();
}

// ---- reading

absl::StatusOr<absl::string_view> BytesSource::Read(size_t n) {
  const size_t take = std::min<size_t>(n, bytes_.size() - offset_);
  absl::string_view out = bytes_.substr(offset_, take);
  offset_ += take;
  return out;
}

StreamSource::StreamSource(std::istream* in, std::string name)
    : in_(in), name_(std::move(name)) {
  const std::istream::pos_type start = in_->tellg();
  if (start != std::istream::pos_type(-1) && in_->seekg(0, std::ios::end)) {
    const std::istream::pos_type end = in_->tellg();
    in_->seekg(start);
    if (end != std::istream::pos_type(-1) && end >= start) {
      size_ = static_cast<uint64_t>(end - start);
    }
  }
  in_->clear();
}

absl::StatusOr<absl::string_view> StreamSource::Read(size_t n) {
  buffer_.resize(n);
  in_->read(buffer_.data(), static_cast<std::streamsize>(n));
  const size_t got = static_cast<size_t>(in_->gcount());
  if (got < n && in_->bad()) {
    return absl::UnavailableError(
        absl::StrCat(name_, ": read failed at offset ", offset_ + got));
  }
  offset_ += got;
  return absl::string_view(buffer_.data(), got);
}

std::optional<uint64_t> StreamSource::Remaining() const {
  if (!size_) return std::nullopt;
  return *size_ > offset_ ? *size_ - offset_ : 0;
}

absl::Status FrameReader::DataLoss(absl::string_view what) const {
  return absl::DataLossError(absl::StrCat(name_, ": ", what));
}

absl::Status FrameReader::ReadMagic(absl::string_view magic,
                                    absl::string_view what) {
  SC_ASSIGN_OR_RETURN(absl::string_view got, in_->Read(magic.size()));
  if (got != magic) {
    return DataLoss(absl::StrCat("not a salescycle ", what, " (bad magic)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FrameReader::Next(google::protobuf::MessageLite* frame) {
  const uint64_t at = in_->offset();
  SC_ASSIGN_OR_RETURN(absl::string_view head, in_->Read(kFrameHeaderBytes));
  if (head.empty()) return false;
  if (head.size() < kFrameHeaderBytes) {
    return DataLoss(absl::StrCat("truncated: frame ", frames_, " at offset ",
                                 at, " has a partial header"));
  }
  const uint32_t length = absl::little_endian::Load32(head.data());
  const uint32_t crc = absl::little_endian::Load32(head.data() + 4);
  // Checked before reading, so that a damaged length allocates nothing.
  const std::optional<uint64_t> left = in_->Remaining();
  if (length > kMaxFrameBytes || (left && length > *left)) {
    return DataLoss(absl::StrCat(
        "frame ", frames_, " at offset ", at, " declares ", length, " bytes, ",
        length > kMaxFrameBytes ? "past the frame limit"
                                : "more than the input holds"));
  }
  SC_ASSIGN_OR_RETURN(absl::string_view payload, in_->Read(length));
  if (payload.size() < length) {
    return DataLoss(absl::StrCat("truncated: frame ", frames_, " at offset ",
                                 at, " declares ", length, " bytes, ",
                                 payload.size(), " follow"));
  }
  const uint32_t actual = Crc32(payload.data(), payload.size());
  if (actual != crc) {
    return DataLoss(absl::StrCat("frame ", frames_, " at offset ", at, ": ",
                                 ChecksumMismatch(crc, actual)));
  }
  if (!ParseQuietly(payload, frame)) {
    return DataLoss(
        absl::StrCat("frame ", frames_, " at offset ", at, " does not parse"));
  }
  ++frames_;
  return true;
}

absl::StatusOr<bool> FrameReader::AtEnd() {
  SC_ASSIGN_OR_RETURN(absl::string_view rest, in_->Read(1));
  return rest.empty();
}

}  // namespace internal
}  // namespace salescycle
