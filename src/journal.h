// The journal of a durable pipeline (durable.h): an append-only file of the
// changes made since the snapshot it follows.
//
// A change is journaled as what the caller asked (add, remove, set, an
// event, a move by stage, a batch, advance), not as what it did: the
// library is deterministic given its input and the timestamps passed in, so
// applying the same changes to the same snapshot gives the same pipeline.
// ApplyChange is the one path that turns a journaled change into a call on
// the pipeline, live and at recovery alike, so the two cannot drift apart.
//
// File: the 8 bytes "SCJL0001", the journal's number (u64 LE), then
// records, each as leveldb's log frames them: the body's length (u32 LE),
// the CRC-32 of the length's 4 bytes and the body (u32 LE), the body (a
// ChangeType byte, then its fields little endian). A record is whole or the
// reader stops at it: a torn tail (the last record cut short, or zeros to
// the end, as a crash mid-append leaves) is a clean end; any other bad
// record is damage, reported with its offset.
#ifndef SALESCYCLE_SRC_JOURNAL_H_
#define SALESCYCLE_SRC_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/attribute.h"
#include "salescycle/pipeline.h"
#include "salescycle/step.h"
#include "salescycle/types.h"

namespace salescycle {
namespace internal {

enum class ChangeType : uint8_t {
  kAdd = 1,          // time, entry stage
  kAddWithId = 2,    // id, time, entry stage
  kAddWithKey = 3,   // time, entry stage, key
  kRemove = 4,       // deal
  kSet = 5,          // deal, attribute, value
  kFire = 6,         // deal, event, time
  kMoveTo = 7,       // deal, stage, time
  kReopen = 8,       // deal, time
  kApply = 9,        // EventRecords
  kApplyMoves = 10,  // StageRecords
  kApplyTimed = 11,
  kApplyMovesTimed = 12,
  kAdvanceTo = 13,   // now
  kApplyAt = 14,     // flags (kAtTimed, kAtMoves), first offset, source, records
};

// kApplyAt's flags.
inline constexpr uint8_t kAtTimed = 1;  // ApplyMode::kTimed
inline constexpr uint8_t kAtMoves = 2;  // StageRecords, for ApplyMovesAt

// Bodies (the type byte and the fields), appended to `out`.
void EncodeAdd(ChangeType type, uint64_t id, absl::string_view key,
               Timestamp time, StageId entry_stage, std::string* out);
void EncodeRemove(DealIndex deal, std::string* out);
void EncodeSet(DealIndex deal, AttributeId id, const AttributeValue& value,
               std::string* out);
// kFire, kMoveTo (`what` is the event or the stage) and kReopen (0).
void EncodeStep(ChangeType type, DealIndex deal, uint32_t what, Timestamp time,
                std::string* out);
// kApply and kApplyTimed (EventRecords), kApplyMoves and kApplyMovesTimed
// (StageRecords): both 16 bytes a record, copied as they lie in memory.
void EncodeBatch(ChangeType type, const void* records, size_t count, std::string* out);
void EncodeAdvance(Timestamp now, std::string* out);
// kApplyAt: a batch at offsets of an input (Pipeline::ApplyAt, ApplyMovesAt).
void EncodeBatchAt(uint8_t flags, absl::string_view source, uint64_t first_offset,
                   const void* records, size_t count, std::string* out);

// What a change returned: the status, and the value of its kind.
struct ChangeResult {
  absl::Status status;
  DealIndex deal = 0;  // an add
  StepResult step;     // kFire, kMoveTo, kReopen
  BatchResult batch;   // the batches
  int64_t fired = 0;   // kAdvanceTo
};

// Applies the change in `body` to `*pipeline`, its outcome in `*result`.
// Errors: DataLoss for a body that is not a change (an unknown type, a
// length that does not fit its fields); the change's own errors are in
// result->status, not here.
absl::Status ApplyChange(absl::string_view body, Pipeline* pipeline,
                         ChangeResult* result);

// ---- files

constexpr size_t kJournalHeaderBytes = 16;
constexpr size_t kRecordHeaderBytes = 8;
// A record's body can be as long as a batch of 2^27 records (2 GiB); a
// larger batch is refused before it is journaled.
constexpr uint64_t kMaxRecordBody = uint64_t{1} << 31;

// Appends `body`, framed, to `*out`. REQUIRES: body.size() <= kMaxRecordBody.
void FrameRecord(absl::string_view body, std::string* out);

// One journal file open for appending. Not thread-safe: DurablePipeline
// lets one thread at a time (the group commit's leader) call it.
class JournalWriter {
 public:
  // A new file (O_EXCL): its header written and synced, and the directory.
  static absl::StatusOr<std::unique_ptr<JournalWriter>> Create(const std::string& path,
                                                               uint64_t number);
  // An existing file, cut to `valid_end` (what the reader found whole), then
  // synced: new records follow the last whole one, never garbage.
  static absl::StatusOr<std::unique_ptr<JournalWriter>> Continue(const std::string& path,
                                                                 uint64_t valid_end);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Framed records, written (not yet synced).
  absl::Status Append(absl::string_view framed);
  absl::Status Sync();
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  JournalWriter(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  uint64_t size_;
};

// How a read of a journal ended.
struct JournalEnd {
  enum Kind { kClean, kTornTail, kDamaged };
  Kind kind = kClean;
  uint64_t records = 0;    // whole records read (and accepted by the callback)
  uint64_t valid_end = 0;  // the offset after the last of them
  uint64_t file_size = 0;
  std::string why;         // for kTornTail and kDamaged: what was found where
};

// Calls `record(body, offset)` for each whole record in order, stopping at
// the end, at a torn tail or at damage (see the file comment); a callback
// error stops the read and is returned. Reads with read(2) into a buffer
// the size of the largest record, bounded by the file's size: a file that
// shrinks meanwhile is a torn tail, never a signal.
// Errors: NotFound etc. naming the path; DataLoss for a header that is not
// a journal's, or of another number than `number`.
absl::StatusOr<JournalEnd> ReadJournal(
    const std::string& path, uint64_t number,
    absl::FunctionRef<absl::Status(absl::string_view body, uint64_t offset)> record);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_JOURNAL_H_
