#include "src/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "src/crc32.h"
#include "src/io_hooks.h"
#include "src/snapshot_io.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

// Batches are journaled as they lie in memory, which is their documented
// little-endian layout only on a little-endian machine.
static_assert(ABSL_IS_LITTLE_ENDIAN, "journal batches are copied as little endian");

namespace {

constexpr char kJournalMagic[] = "SCJL0001";

void Put8(uint8_t v, std::string* out) { out->push_back(static_cast<char>(v)); }
void Put32(uint32_t v, std::string* out) {
  char b[4];
  absl::little_endian::Store32(b, v);
  out->append(b, 4);
}
void Put64(uint64_t v, std::string* out) {
  char b[8];
  absl::little_endian::Store64(b, v);
  out->append(b, 8);
}
void PutBytes(absl::string_view bytes, std::string* out) {
  Put32(static_cast<uint32_t>(bytes.size()), out);
  out->append(bytes.data(), bytes.size());
}

// Reads a body's fields in order; any read past the end makes ok() false,
// so a decoder checks once, at the end.
class Fields {
 public:
  explicit Fields(absl::string_view bytes) : rest_(bytes) {}
  uint8_t U8() { return static_cast<uint8_t>(Take(1)[0]); }
  uint32_t U32() { return absl::little_endian::Load32(Take(4)); }
  uint64_t U64() { return absl::little_endian::Load64(Take(8)); }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  absl::string_view Bytes() {
    const uint32_t n = U32();
    if (n > rest_.size()) {
      ok_ = false;
      return {};
    }
    return absl::string_view(Take(n), n);
  }
  absl::string_view Rest() {
    absl::string_view r = rest_;
    rest_ = {};
    return r;
  }
  // All fields read, and nothing left over.
  bool Done() const { return ok_ && rest_.empty(); }

 private:
  const char* Take(size_t n) {
    static constexpr char kZeros[8] = {};
    if (n > rest_.size()) {
      ok_ = false;
      rest_ = {};
      return kZeros;
    }
    const char* p = rest_.data();
    rest_.remove_prefix(n);
    return p;
  }
  absl::string_view rest_;
  bool ok_ = true;
};

absl::Status NotAChange(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("not a journaled change: ", why));
}

template <typename Record>
absl::Status DecodeRecords(absl::string_view bytes, std::vector<Record>* out) {
  if (bytes.size() % sizeof(Record) != 0) {
    return NotAChange(absl::StrCat("a batch of ", bytes.size(), " bytes is not whole records"));
  }
  out->resize(bytes.size() / sizeof(Record));
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
  return absl::OkStatus();
}

template <typename T>
void Take(absl::StatusOr<T> from, absl::Status* status, T* value) {
  if (from.ok()) {
    *value = *std::move(from);
  } else {
    *status = from.status();
  }
}

absl::Status ApplyBatch(ChangeType type, absl::string_view records, Pipeline* p,
                        ChangeResult* result) {
  // Reused: recovery applies millions of batches.
  thread_local std::vector<EventRecord> events;
  thread_local std::vector<StageRecord> moves;
  const bool by_event = type == ChangeType::kApply || type == ChangeType::kApplyTimed;
  if (by_event) {
    SC_RETURN_IF_ERROR(DecodeRecords(records, &events));
  } else {
    SC_RETURN_IF_ERROR(DecodeRecords(records, &moves));
  }
  switch (type) {
    case ChangeType::kApply: Take(p->Apply(events), &result->status, &result->batch); break;
    case ChangeType::kApplyTimed: Take(p->ApplyTimed(events), &result->status, &result->batch); break;
    case ChangeType::kApplyMoves: Take(p->ApplyMoves(moves), &result->status, &result->batch); break;
    default: Take(p->ApplyMovesTimed(moves), &result->status, &result->batch); break;
  }
  return absl::OkStatus();
}

absl::Status ApplyBatchAt(uint8_t flags, absl::string_view source, uint64_t first_offset,
                          absl::string_view records, Pipeline* p, ChangeResult* result) {
  thread_local std::vector<EventRecord> events;
  thread_local std::vector<StageRecord> moves;
  const ApplyMode mode = (flags & kAtTimed) ? ApplyMode::kTimed : ApplyMode::kInOrder;
  if (flags & kAtMoves) {
    SC_RETURN_IF_ERROR(DecodeRecords(records, &moves));
    Take(p->ApplyMovesAt(source, first_offset, moves, mode), &result->status, &result->batch);
  } else {
    SC_RETURN_IF_ERROR(DecodeRecords(records, &events));
    Take(p->ApplyAt(source, first_offset, events, mode), &result->status, &result->batch);
  }
  return absl::OkStatus();
}

absl::StatusOr<AttributeValue> DecodeValue(Fields* f) {
  const uint8_t type = f->U8();
  switch (static_cast<AttributeType>(type)) {
    case AttributeType::kInt64: return AttributeValue::Int64(f->I64());
    case AttributeType::kDouble: {
      const uint64_t bits = f->U64();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return AttributeValue::Double(d);
    }
    case AttributeType::kBool: return AttributeValue::Bool(f->U8() != 0);
    case AttributeType::kString: return AttributeValue::String(std::string(f->Bytes()));
  }
  return NotAChange(absl::StrCat("attribute type ", type, " is unknown"));
}

}  // namespace

void EncodeAdd(ChangeType type, uint64_t id, absl::string_view key, Timestamp time,
               StageId entry_stage, std::string* out) {
  Put8(static_cast<uint8_t>(type), out);
  if (type == ChangeType::kAddWithId) Put64(id, out);
  Put64(static_cast<uint64_t>(time), out);
  Put32(entry_stage, out);
  if (type == ChangeType::kAddWithKey) PutBytes(key, out);
}

void EncodeRemove(DealIndex deal, std::string* out) {
  Put8(static_cast<uint8_t>(ChangeType::kRemove), out);
  Put32(deal, out);
}

void EncodeSet(DealIndex deal, AttributeId id, const AttributeValue& value,
               std::string* out) {
  Put8(static_cast<uint8_t>(ChangeType::kSet), out);
  Put32(deal, out);
  Put32(id, out);
  Put8(static_cast<uint8_t>(value.type()), out);
  switch (value.type()) {
    case AttributeType::kInt64: Put64(static_cast<uint64_t>(value.int64_value()), out); break;
    case AttributeType::kDouble: {
      uint64_t bits;
      const double d = value.double_value();
      std::memcpy(&bits, &d, sizeof bits);
      Put64(bits, out);
      break;
    }
    case AttributeType::kBool: Put8(value.bool_value() ? 1 : 0, out); break;
    case AttributeType::kString: PutBytes(value.string_value(), out); break;
  }
}

void EncodeStep(ChangeType type, DealIndex deal, uint32_t what, Timestamp time,
                std::string* out) {
  Put8(static_cast<uint8_t>(type), out);
  Put32(deal, out);
  if (type != ChangeType::kReopen) Put32(what, out);
  Put64(static_cast<uint64_t>(time), out);
}

void EncodeBatch(ChangeType type, const void* records, size_t count, std::string* out) {
  Put8(static_cast<uint8_t>(type), out);
  out->append(static_cast<const char*>(records), count * 16);
}

void EncodeBatchAt(uint8_t flags, absl::string_view source, uint64_t first_offset,
                   const void* records, size_t count, std::string* out) {
  Put8(static_cast<uint8_t>(ChangeType::kApplyAt), out);
  Put8(flags, out);
  Put64(first_offset, out);
  PutBytes(source, out);
  out->append(static_cast<const char*>(records), count * 16);
}

void EncodeAdvance(Timestamp now, std::string* out) {
  Put8(static_cast<uint8_t>(ChangeType::kAdvanceTo), out);
  Put64(static_cast<uint64_t>(now), out);
}

absl::Status ApplyChange(absl::string_view body, Pipeline* p, ChangeResult* result) {
  *result = ChangeResult();
  Fields f(body);
  const auto type = static_cast<ChangeType>(f.U8());
  switch (type) {
    case ChangeType::kAdd:
    case ChangeType::kAddWithId:
    case ChangeType::kAddWithKey: {
      const uint64_t id = type == ChangeType::kAddWithId ? f.U64() : 0;
      const Timestamp time = f.I64();
      const uint32_t stage = f.U32();
      const absl::string_view key = type == ChangeType::kAddWithKey ? f.Bytes() : "";
      if (!f.Done()) break;
      if (stage > kNoStage) return NotAChange(absl::StrCat("stage ", stage, " past 16 bits"));
      const auto entry = static_cast<StageId>(stage);
      if (type == ChangeType::kAdd) {
        Take(p->Add(time, entry), &result->status, &result->deal);
      } else if (type == ChangeType::kAddWithId) {
        Take(p->AddWithId(id, time, entry), &result->status, &result->deal);
      } else {
        Take(p->AddWithKey(key, time, entry), &result->status, &result->deal);
      }
      return absl::OkStatus();
    }
    case ChangeType::kRemove: {
      const DealIndex deal = f.U32();
      if (!f.Done()) break;
      result->status = p->Remove(deal);
      return absl::OkStatus();
    }
    case ChangeType::kSet: {
      const DealIndex deal = f.U32();
      const uint32_t id = f.U32();
      absl::StatusOr<AttributeValue> value = DecodeValue(&f);
      if (!value.ok()) return value.status();
      if (!f.Done()) break;
      if (id > 0xFFFF) return NotAChange(absl::StrCat("attribute ", id, " past 16 bits"));
      result->status = p->Set(deal, static_cast<AttributeId>(id), *std::move(value));
      return absl::OkStatus();
    }
    case ChangeType::kFire:
    case ChangeType::kMoveTo:
    case ChangeType::kReopen: {
      const DealIndex deal = f.U32();
      const uint32_t what = type == ChangeType::kReopen ? 0 : f.U32();
      const Timestamp time = f.I64();
      if (!f.Done()) break;
      if (type == ChangeType::kFire) {
        // Out of range is the pipeline's error to give, as it would live.
        Take(p->Fire(deal, static_cast<EventId>(std::min<uint32_t>(what, kNoStage)), time),
             &result->status, &result->step);
      } else if (type == ChangeType::kMoveTo) {
        Take(p->MoveTo(deal, static_cast<StageId>(std::min<uint32_t>(what, kNoStage)), time),
             &result->status, &result->step);
      } else {
        Take(p->Reopen(deal, time), &result->status, &result->step);
      }
      return absl::OkStatus();
    }
    case ChangeType::kApply:
    case ChangeType::kApplyMoves:
    case ChangeType::kApplyTimed:
    case ChangeType::kApplyMovesTimed:
      return ApplyBatch(type, f.Rest(), p, result);
    case ChangeType::kApplyAt: {
      const uint8_t flags = f.U8();
      const uint64_t first_offset = f.U64();
      const absl::string_view source = f.Bytes();
      const absl::string_view records = f.Rest();  // whole records: DecodeRecords checks
      if (!f.Done()) break;
      if (flags > (kAtTimed | kAtMoves)) {
        return NotAChange(absl::StrCat("batch flags ", static_cast<int>(flags), " are unknown"));
      }
      return ApplyBatchAt(flags, source, first_offset, records, p, result);
    }
    case ChangeType::kAdvanceTo: {
      const Timestamp now = f.I64();
      if (!f.Done()) break;
      result->fired = p->AdvanceTo(now);
      return absl::OkStatus();
    }
    default:
      return NotAChange(absl::StrCat("change type ", static_cast<int>(type), " is unknown"));
  }
  return NotAChange(absl::StrCat("a change of type ", static_cast<int>(type), " of ",
                                 body.size(), " bytes does not hold its fields"));
}

// ---- files

namespace {

uint32_t RecordCrc(absl::string_view length_bytes, absl::string_view body) {
  return Crc32(body.data(), body.size(), Crc32(length_bytes.data(), length_bytes.size()));
}

}  // namespace

void FrameRecord(absl::string_view body, std::string* out) {
  char length[4];
  absl::little_endian::Store32(length, static_cast<uint32_t>(body.size()));
  out->append(length, 4);
  Put32(RecordCrc(absl::string_view(length, 4), body), out);
  out->append(body.data(), body.size());
}

absl::StatusOr<std::unique_ptr<JournalWriter>> JournalWriter::Create(const std::string& path,
                                                                      uint64_t number) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoError(absl::StrCat(path, ": cannot create the journal"), errno);
  std::unique_ptr<JournalWriter> writer(new JournalWriter(path, fd, 0));
  std::string header(kJournalMagic, 8);
  Put64(number, &header);
  SC_RETURN_IF_ERROR(writer->Append(header));
  SC_RETURN_IF_ERROR(writer->Sync());
  const size_t slash = path.rfind('/');
  SC_RETURN_IF_ERROR(SyncDirectory(slash == std::string::npos ? "." : path.substr(0, slash)));
  return writer;
}

absl::StatusOr<std::unique_ptr<JournalWriter>> JournalWriter::Continue(const std::string& path,
                                                                        uint64_t valid_end) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoError(absl::StrCat(path, ": cannot open the journal"), errno);
  std::unique_ptr<JournalWriter> writer(new JournalWriter(path, fd, valid_end));
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(absl::StrCat(path, ": fstat"), errno);
  if (static_cast<uint64_t>(st.st_size) != valid_end) {
    if (::ftruncate(fd, static_cast<off_t>(valid_end)) != 0) {
      return ErrnoError(absl::StrCat(path, ": cannot cut the torn tail at ", valid_end), errno);
    }
    SC_RETURN_IF_ERROR(writer->Sync());
  }
  return writer;
}

JournalWriter::~JournalWriter() { ::close(fd_); }

absl::Status JournalWriter::Append(absl::string_view framed) {
  SC_RETURN_IF_ERROR(WriteAll(fd_, framed, absl::StrCat(path_, ": cannot write the journal")));
  size_ += framed.size();
  return absl::OkStatus();
}

absl::Status JournalWriter::Sync() { return SyncFile(fd_, path_); }

namespace {

// read(2) at an offset until `n` bytes or the end; the bytes read.
absl::StatusOr<size_t> ReadAt(int fd, uint64_t offset, char* out, size_t n,
                              const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrCat(path, ": cannot read the journal"), errno);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

// True when the file holds only zeros from `offset` to `end` (what a crash
// leaves where the size grew before the data reached the disk).
absl::StatusOr<bool> ZerosFrom(int fd, uint64_t offset, uint64_t end, const std::string& path) {
  std::vector<char> block(1 << 16);
  while (offset < end) {
    SC_ASSIGN_OR_RETURN(const size_t got,
                        ReadAt(fd, offset, block.data(),
                               static_cast<size_t>(std::min<uint64_t>(block.size(), end - offset)),
                               path));
    if (got == 0) break;
    for (size_t i = 0; i < got; ++i) {
      if (block[i] != 0) return false;
    }
    offset += got;
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<JournalEnd> ReadJournal(
    const std::string& path, uint64_t number,
    absl::FunctionRef<absl::Status(absl::string_view body, uint64_t offset)> record) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(absl::StrCat(path, ": cannot open the journal"), errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(absl::StrCat(path, ": fstat"), errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": the journal is not a regular file"));
  }
  JournalEnd end;
  end.file_size = static_cast<uint64_t>(st.st_size);
  char header[kJournalHeaderBytes];
  SC_ASSIGN_OR_RETURN(const size_t got, ReadAt(fd.get(), 0, header, sizeof header, path));
  if (got >= sizeof header && std::memcmp(header, kJournalMagic, 4) == 0 &&
      std::memcmp(header, kJournalMagic, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": a journal of format \"", absl::string_view(header, 8),
        "\", which this library (SCJL0001) does not read: a newer release wrote it"));
  }
  if (got < sizeof header || std::memcmp(header, kJournalMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a salescycle journal (no SCJL0001 header)"));
  }
  if (absl::little_endian::Load64(header + 8) != number) {
    return absl::DataLossError(absl::StrCat(path, ": the header says journal ",
                                            absl::little_endian::Load64(header + 8),
                                            ", the name says ", number));
  }
  uint64_t offset = kJournalHeaderBytes;
  end.valid_end = offset;
  std::string body;
  const auto stop = [&](JournalEnd::Kind kind, std::string why) {
    end.kind = kind;
    end.why = absl::StrCat(path, ": ", why, " at offset ", offset, " (record ",
                           end.records + 1, "; ", end.file_size - offset,
                           " bytes from there to the end)");
    return end;
  };
  while (offset < end.file_size) {
    char head[kRecordHeaderBytes];
    SC_ASSIGN_OR_RETURN(const size_t n, ReadAt(fd.get(), offset, head, sizeof head, path));
    if (n < sizeof head) return stop(JournalEnd::kTornTail, "a record header cut short");
    const uint32_t length = absl::little_endian::Load32(head);
    const uint64_t body_end = offset + kRecordHeaderBytes + length;
    if (body_end > end.file_size) {
      return stop(JournalEnd::kTornTail, absl::StrCat("a record of ", length, " bytes cut short"));
    }
    body.resize(length);
    SC_ASSIGN_OR_RETURN(const size_t read,
                        ReadAt(fd.get(), offset + kRecordHeaderBytes, body.data(), length, path));
    if (read < length) return stop(JournalEnd::kTornTail, "the file shrank while it was read");
    const uint32_t stored = absl::little_endian::Load32(head + 4);
    if (length == 0 || RecordCrc(absl::string_view(head, 4), body) != stored) {
      SC_ASSIGN_OR_RETURN(const bool zeros, ZerosFrom(fd.get(), offset, end.file_size, path));
      if (zeros) return stop(JournalEnd::kTornTail, "zeros to the end");
      return stop(JournalEnd::kDamaged,
                  length == 0 ? std::string("an empty record")
                              : absl::StrCat("a checksum mismatch (stored ", stored, ")"));
    }
    SC_RETURN_IF_ERROR(record(body, offset));
    ++end.records;
    offset = body_end;
    end.valid_end = offset;
  }
  return end;
}

}  // namespace internal
}  // namespace salescycle
