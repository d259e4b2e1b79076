#include "salescycle/durable.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "src/io_hooks.h"
#include "src/journal.h"
#include "src/pipeline_internal.h"
#include "src/snapshot_io.h"
#include "src/status_macros.h"

namespace salescycle {

using internal::ChangeResult;
using internal::ChangeType;

// A call waiting in the group commit's queue: a change, or a request to
// sync or to checkpoint that takes its turn among the changes.
struct DurablePipeline::Writer {
  enum Kind { kChange, kSync, kCheckpoint };
  explicit Writer(Kind k) : kind(k) {}
  Kind kind;
  std::string body;                // kChange: the encoded change
  ChangeResult* result = nullptr;  // kChange: what applying it returned
  absl::Status status;             // the journal's verdict
  bool done = false;
  std::condition_variable cv;
};

namespace {

// One write(2) carries at most this much of a group: enough for hundreds of
// small changes, little enough that a follower does not wait long behind it.
constexpr size_t kMaxGroupBytes = size_t{1} << 20;
constexpr size_t kMaxBatchRecords = size_t{1} << 27;

std::string FileName(absl::string_view kind, uint64_t number) {
  return absl::StrCat(kind, "-", number);
}

// The numbers of the files named KIND-N in `dir`, and the temporaries
// (KIND-N.tmp-*) that a save killed midway left beside them.
struct Listing {
  std::set<uint64_t> snapshots;
  std::set<uint64_t> journals;
  std::vector<std::string> temporaries;
};

bool ParseNumbered(absl::string_view name, absl::string_view kind, uint64_t* number) {
  if (!absl::ConsumePrefix(&name, kind) || !absl::ConsumePrefix(&name, "-")) return false;
  // Digits only, no sign, no leading zero: one file per number.
  if (name.empty() || name.size() > 20 || (name.size() > 1 && name[0] == '0')) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(name, number);
}

absl::StatusOr<Listing> List(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return internal::ErrnoError(absl::StrCat(dir, ": cannot list"), errno);
  Listing listing;
  while (const dirent* e = ::readdir(d)) {
    const absl::string_view name = e->d_name;
    uint64_t n;
    if (ParseNumbered(name, "snapshot", &n)) {
      listing.snapshots.insert(n);
    } else if (ParseNumbered(name, "journal", &n)) {
      listing.journals.insert(n);
    } else if (absl::StartsWith(name, "snapshot-") && absl::StrContains(name, ".tmp-")) {
      listing.temporaries.emplace_back(name);
    }
  }
  ::closedir(d);
  return listing;
}

absl::StatusOr<int> LockDirectory(const std::string& dir, bool create) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || !create) {
      return internal::ErrnoError(absl::StrCat(dir, ": cannot open the pipeline's directory"),
                                  errno);
    }
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
      return internal::ErrnoError(absl::StrCat(dir, ": cannot make the directory"), errno);
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": not a directory"));
  }
  const std::string path = absl::StrCat(dir, "/LOCK");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return internal::ErrnoError(absl::StrCat(path, ": cannot open"), errno);
  // flock, not fcntl's locks: those are per process, so a second Open in
  // the same process would pass them, and closing any descriptor of the
  // file would drop them.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, ": the pipeline is open elsewhere (", path, " is locked)"));
    }
    return internal::ErrnoError(absl::StrCat(path, ": cannot lock"), err);
  }
  return fd;
}

absl::Status CheckOptions(const DurableOptions& o) {
  if (o.sync == SyncPolicy::kInterval &&
      (o.sync_interval_ms < 1 || o.sync_interval_ms > 60000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sync_interval_ms is ", o.sync_interval_ms, ": 1 to 60000 with SyncPolicy::kInterval"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DurablePipeline>> DurablePipeline::Open(
    std::shared_ptr<const Machine> machine, const std::string& dir,
    const DurableOptions& options) {
  if (machine == nullptr) return absl::InvalidArgumentError("DurablePipeline::Open: null machine");
  SC_RETURN_IF_ERROR(CheckOptions(options));
  absl::StatusOr<Pipeline> empty = Pipeline::Create(machine, options.pipeline);
  if (!empty.ok()) return empty.status();
  SC_ASSIGN_OR_RETURN(const int lock_fd, LockDirectory(dir, options.create_if_missing));
  // From here the lock is the object's, released by its destructor.
  std::unique_ptr<DurablePipeline> db(
      new DurablePipeline(machine, dir, options, *std::move(empty), lock_fd));
  SC_RETURN_IF_ERROR(db->Recover());
  if (options.sync == SyncPolicy::kInterval) {
    db->syncer_ = std::thread([p = db.get()] { p->SyncLoop(); });
  }
  return db;
}

DurablePipeline::DurablePipeline(std::shared_ptr<const Machine> machine, std::string dir,
                                 const DurableOptions& options, Pipeline pipeline, int lock_fd)
    : machine_(std::move(machine)),
      dir_(std::move(dir)),
      options_(options),
      lock_fd_(lock_fd),
      pipeline_(std::move(pipeline)),
      next_checkpoint_at_(options.checkpoint_after_bytes) {}

DurablePipeline::~DurablePipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  sync_wakeup_.notify_one();
  if (syncer_.joinable()) syncer_.join();
  // Nothing acknowledged is lost by a clean close, whatever the policy.
  if (journal_ != nullptr) (void)Sync();
  journal_.reset();
  ::close(lock_fd_);  // releases the flock
}

// The latest snapshot, then its journal. Runs before the object is shared,
// but takes the lock the members are guarded by all the same.
absl::Status DurablePipeline::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  SC_ASSIGN_OR_RETURN(const Listing listing, List(dir_));
  for (const std::string& name : listing.temporaries) {
    ::unlink(absl::StrCat(dir_, "/", name).c_str());
  }
  if (listing.snapshots.empty()) {
    if (!listing.journals.empty()) {
      return absl::DataLossError(absl::StrCat(
          dir_, ": ", FileName("journal", *listing.journals.rbegin()),
          " has no snapshot to follow (snapshot-N was deleted or never written)"));
    }
    // A new pipeline: snapshot-1 (empty) and journal-1, so that a directory
    // always holds a pair and recovery has one way.
    recovery_.created = true;
    number_ = 0;
    return CheckpointLocked();
  }
  number_ = *listing.snapshots.rbegin();
  recovery_.snapshot = number_;
  if (!listing.journals.empty() && *listing.journals.rbegin() > number_) {
    // A checkpoint writes its snapshot before its journal, so a newer
    // journal than snapshot was not left by one: changes would be skipped.
    return absl::DataLossError(absl::StrCat(
        dir_, ": ", FileName("journal", *listing.journals.rbegin()),
        " is newer than the newest snapshot (", FileName("snapshot", number_),
        "): its changes follow a snapshot that is missing"));
  }
  const std::string snapshot_path = absl::StrCat(dir_, "/", FileName("snapshot", number_));
  // The snapshot's own options (history, analytics) win over
  // options_.pipeline, which are for a new directory.
  SC_ASSIGN_OR_RETURN(pipeline_,
                      LoadPipeline(SnapshotSource::File(snapshot_path), machine_, options_.restore));
  recovery_.deals_in_snapshot = pipeline_.size();
  const std::string journal_path = absl::StrCat(dir_, "/", FileName("journal", number_));
  if (listing.journals.count(number_) == 0) {
    // A checkpoint stopped between its snapshot and its journal: the
    // snapshot holds everything.
    SC_ASSIGN_OR_RETURN(journal_, internal::JournalWriter::Create(journal_path, number_));
  } else {
    ChangeResult result;
    SC_ASSIGN_OR_RETURN(
        const internal::JournalEnd end,
        internal::ReadJournal(journal_path, number_,
                              [&](absl::string_view body, uint64_t offset) -> absl::Status {
                                absl::Status s = internal::ApplyChange(body, &pipeline_, &result);
                                if (!s.ok()) {
                                  return absl::DataLossError(absl::StrCat(
                                      journal_path, ": the record at offset ", offset, ": ",
                                      s.message()));
                                }
                                return absl::OkStatus();
                              }));
    recovery_.changes_replayed = end.records;
    recovery_.journal_bytes = end.file_size;
    recovery_.bytes_dropped = end.file_size - end.valid_end;
    recovery_.stopped_at = end.why;
    if (end.kind == internal::JournalEnd::kDamaged) {
      if (!options_.salvage_damaged_journal) {
        return absl::DataLossError(absl::StrCat(
            end.why, ": the ", end.records,
            " changes before it are intact; DurableOptions::salvage_damaged_journal keeps them "
            "and sets the journal aside"));
      }
      recovery_.salvaged = true;
      const std::string aside = journal_path + ".damaged";
      if (::rename(journal_path.c_str(), aside.c_str()) != 0) {
        return internal::ErrnoError(absl::StrCat(journal_path, ": cannot set it aside"), errno);
      }
      SC_RETURN_IF_ERROR(CheckpointLocked());
    } else {
      recovery_.torn_tail = end.kind == internal::JournalEnd::kTornTail;
      SC_ASSIGN_OR_RETURN(journal_, internal::JournalWriter::Continue(journal_path, end.valid_end));
    }
  }
  // Pairs older than the newest: a checkpoint stopped before deleting them.
  for (uint64_t n : listing.snapshots) {
    if (n < number_) ::unlink(absl::StrCat(dir_, "/", FileName("snapshot", n)).c_str());
  }
  for (uint64_t n : listing.journals) {
    if (n < number_) ::unlink(absl::StrCat(dir_, "/", FileName("journal", n)).c_str());
  }
  published_number_ = number_;
  published_bytes_ = journal_->size();
  return absl::OkStatus();
}

// Snapshot N+1, then journal N+1, then the old pair goes. Each step leaves
// a directory that recovers the same state: until journal N+1 exists,
// snapshot N+1 alone is complete (nothing is written meanwhile); if journal
// N+1 cannot be made, snapshot N+1 is removed again, or the changes that go
// on into journal N would be hidden behind it.
absl::Status DurablePipeline::CheckpointLocked() {
  const uint64_t next = number_ + 1;
  const std::string snapshot_path = absl::StrCat(dir_, "/", FileName("snapshot", next));
  SC_RETURN_IF_ERROR(SavePipeline(pipeline_, SnapshotSink::File(snapshot_path)));
  absl::StatusOr<std::unique_ptr<internal::JournalWriter>> journal = internal::JournalWriter::Create(
      absl::StrCat(dir_, "/", FileName("journal", next)), next);
  if (!journal.ok()) {
    if (::unlink(snapshot_path.c_str()) != 0 || !internal::SyncDirectory(dir_).ok()) {
      error_ = absl::DataLossError(absl::StrCat(
          snapshot_path, ": a checkpoint could not start its journal (", journal.status().message(),
          ") nor remove its snapshot; reopen the pipeline"));
      return error_;
    }
    return journal.status();
  }
  journal_ = *std::move(journal);
  if (number_ > 0) {
    ::unlink(absl::StrCat(dir_, "/", FileName("journal", number_)).c_str());
    ::unlink(absl::StrCat(dir_, "/", FileName("snapshot", number_)).c_str());
    // Best effort: a pair that comes back after a crash is deleted at Open.
    (void)internal::SyncDirectory(dir_);
  }
  number_ = next;
  unsynced_ = false;
  published_number_ = number_;
  published_bytes_ = journal_->size();
  next_checkpoint_at_ = options_.checkpoint_after_bytes;
  return absl::OkStatus();
}

namespace {

absl::Status NotFromARead(const std::atomic<std::thread::id>& reader) {
  if (reader.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "a durable pipeline's call from inside its own Read or Update (it would wait for itself)");
}

}  // namespace

absl::Status DurablePipeline::Commit(Writer* w) {
  SC_RETURN_IF_ERROR(NotFromARead(reader_));
  std::unique_lock<std::mutex> lock(mu_);
  writers_.push_back(w);
  while (!w->done && w != writers_.front()) w->cv.wait(lock);
  if (w->done) return w->status;
  LeadGroup(w, lock);
  return w->status;
}

// The leader (the writer at the queue's front) writes its group: itself and
// the changes queued behind it, up to a checkpoint or kMaxGroupBytes; a
// checkpoint goes alone. The journal is written with the lock released, so
// that writers queue up and readers read meanwhile (the pipeline does not
// change: only the leader changes it, and it is writing); then the group is
// applied in journal order under the lock.
void DurablePipeline::LeadGroup(Writer* leader, std::unique_lock<std::mutex>& lock) {
  std::vector<Writer*> group;
  framed_.clear();
  bool sync = options_.sync == SyncPolicy::kEveryWrite;
  for (Writer* w : writers_) {
    if (w->kind == Writer::kCheckpoint && !group.empty()) break;
    if (!group.empty() && framed_.size() >= kMaxGroupBytes) break;
    group.push_back(w);
    if (w->kind == Writer::kChange) internal::FrameRecord(w->body, &framed_);
    if (w->kind == Writer::kSync) sync = true;
    if (w->kind == Writer::kCheckpoint) break;
  }
  absl::Status status = error_;
  if (status.ok() && leader->kind == Writer::kCheckpoint) {
    status = CheckpointLocked();
  } else if (status.ok()) {
    const bool sync_needed = sync && (!framed_.empty() || unsynced_);
    lock.unlock();
    if (!framed_.empty()) status = journal_->Append(framed_);
    if (status.ok() && sync_needed) status = journal_->Sync();
    lock.lock();
    if (!status.ok()) {
      // Part of the group may be on disk: which part, only a reopen, reading
      // the journal back, can tell. Until then nothing more is accepted.
      error_ = status;
    } else {
      for (Writer* w : group) {
        if (w->kind != Writer::kChange) continue;
        const absl::Status decoded = internal::ApplyChange(w->body, &pipeline_, w->result);
        // Only a defect of ours could make a body we encoded undecodable.
        if (!decoded.ok()) w->result->status = absl::InternalError(decoded.message());
      }
      unsynced_ = !sync_needed && (unsynced_ || !framed_.empty());
      published_bytes_ = journal_->size();
      if (next_checkpoint_at_ != 0 && journal_->size() >= next_checkpoint_at_) {
        // The changes are in the journal: a checkpoint that fails (a full
        // disk) costs them nothing, and is tried again after as many bytes.
        if (!CheckpointLocked().ok()) next_checkpoint_at_ += options_.checkpoint_after_bytes;
      }
    }
  }
  for (Writer* w : group) {
    writers_.pop_front();
    w->status = status;
    w->done = true;
    if (w != leader) w->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
}

absl::Status DurablePipeline::Change(std::string body, ChangeResult* result) {
  Writer w(Writer::kChange);
  w.body = std::move(body);
  w.result = result;
  return Commit(&w);
}

// The only timing in the library: when to sync, which decides no state.
// The wait is on a monotonic clock, never on the caller's timestamps.
void DurablePipeline::SyncLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closing_) {
    sync_wakeup_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms));
    if (closing_ || !unsynced_) continue;
    lock.unlock();
    Writer w(Writer::kSync);
    (void)Commit(&w);  // a failure is sticky: the next write reports it
    lock.lock();
  }
}

absl::Status DurablePipeline::Sync() {
  Writer w(Writer::kSync);
  return Commit(&w);
}

absl::Status DurablePipeline::Checkpoint() {
  Writer w(Writer::kCheckpoint);
  return Commit(&w);
}

absl::Status DurablePipeline::Read(absl::FunctionRef<void(const Pipeline&)> fn) const {
  // Update's lock and re-entry check; `fn` sees the pipeline const.
  return const_cast<DurablePipeline*>(this)->Update([&](Pipeline& p) { fn(p); });
}

absl::Status DurablePipeline::Update(absl::FunctionRef<void(Pipeline&)> fn) {
  SC_RETURN_IF_ERROR(NotFromARead(reader_));
  std::lock_guard<std::mutex> lock(mu_);
  reader_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  fn(pipeline_);
  reader_.store(std::thread::id(), std::memory_order_relaxed);
  return absl::OkStatus();
}

uint64_t DurablePipeline::journal_number() const { return published_number_.load(); }

uint64_t DurablePipeline::journal_bytes() const { return published_bytes_.load(); }

// ---- the changes

namespace {

template <typename T>
absl::StatusOr<T> Returned(absl::Status journal, const ChangeResult& r, T value) {
  if (!journal.ok()) return journal;
  if (!r.status.ok()) return r.status;
  return value;
}

absl::Status CheckBatchSize(size_t n) {
  if (n <= kMaxBatchRecords) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "a batch of ", n, " records is past the journal's ", kMaxBatchRecords,
      " a record: split it"));
}

}  // namespace

absl::StatusOr<DealIndex> DurablePipeline::Add(Timestamp time, StageId entry_stage) {
  std::string body;
  internal::EncodeAdd(ChangeType::kAdd, 0, "", time, entry_stage, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.deal);
}

absl::StatusOr<DealIndex> DurablePipeline::AddWithId(uint64_t id, Timestamp time,
                                                     StageId entry_stage) {
  std::string body;
  internal::EncodeAdd(ChangeType::kAddWithId, id, "", time, entry_stage, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.deal);
}

absl::StatusOr<DealIndex> DurablePipeline::AddWithKey(absl::string_view key, Timestamp time,
                                                      StageId entry_stage) {
  if (key.size() > UINT32_MAX) return absl::InvalidArgumentError("a key past 4 GiB");
  std::string body;
  internal::EncodeAdd(ChangeType::kAddWithKey, 0, key, time, entry_stage, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.deal);
}

absl::Status DurablePipeline::Remove(DealIndex deal) {
  std::string body;
  internal::EncodeRemove(deal, &body);
  ChangeResult r;
  SC_RETURN_IF_ERROR(Change(std::move(body), &r));
  return r.status;
}

absl::Status DurablePipeline::Set(DealIndex deal, AttributeId id, AttributeValue value) {
  if (value.type() == AttributeType::kString && value.string_value().size() > UINT32_MAX) {
    return absl::InvalidArgumentError("a string value past 4 GiB");
  }
  std::string body;
  internal::EncodeSet(deal, id, value, &body);
  ChangeResult r;
  SC_RETURN_IF_ERROR(Change(std::move(body), &r));
  return r.status;
}

absl::StatusOr<StepResult> DurablePipeline::Fire(DealIndex deal, EventId event, Timestamp time) {
  std::string body;
  internal::EncodeStep(ChangeType::kFire, deal, event, time, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.step);
}

absl::StatusOr<StepResult> DurablePipeline::Fire(DealIndex deal, absl::string_view event,
                                                 Timestamp time) {
  SC_ASSIGN_OR_RETURN(const EventId id, machine_->FindEvent(event));
  return Fire(deal, id, time);
}

absl::StatusOr<StepResult> DurablePipeline::MoveTo(DealIndex deal, StageId stage,
                                                   Timestamp time) {
  std::string body;
  internal::EncodeStep(ChangeType::kMoveTo, deal, stage, time, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.step);
}

absl::StatusOr<StepResult> DurablePipeline::Reopen(DealIndex deal, Timestamp time) {
  std::string body;
  internal::EncodeStep(ChangeType::kReopen, deal, 0, time, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.step);
}

namespace {

template <typename Record>
std::string BatchBody(ChangeType type, absl::Span<const Record> records) {
  static_assert(sizeof(Record) == 16, "journaled as 16 bytes a record");
  std::string body;
  body.reserve(1 + records.size() * sizeof(Record));
  internal::EncodeBatch(type, records.data(), records.size(), &body);
  return body;
}

}  // namespace

absl::StatusOr<BatchResult> DurablePipeline::Apply(absl::Span<const EventRecord> records) {
  SC_RETURN_IF_ERROR(CheckBatchSize(records.size()));
  ChangeResult r;
  absl::Status s = Change(BatchBody(ChangeType::kApply, records), &r);
  return Returned(s, r, r.batch);
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyMoves(absl::Span<const StageRecord> records) {
  SC_RETURN_IF_ERROR(CheckBatchSize(records.size()));
  ChangeResult r;
  absl::Status s = Change(BatchBody(ChangeType::kApplyMoves, records), &r);
  return Returned(s, r, r.batch);
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyTimed(absl::Span<const EventRecord> records) {
  SC_RETURN_IF_ERROR(CheckBatchSize(records.size()));
  ChangeResult r;
  absl::Status s = Change(BatchBody(ChangeType::kApplyTimed, records), &r);
  return Returned(s, r, r.batch);
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyMovesTimed(
    absl::Span<const StageRecord> records) {
  SC_RETURN_IF_ERROR(CheckBatchSize(records.size()));
  ChangeResult r;
  absl::Status s = Change(BatchBody(ChangeType::kApplyMovesTimed, records), &r);
  return Returned(s, r, r.batch);
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyAtOffset(uint8_t flags,
                                                           absl::string_view source,
                                                           uint64_t first_offset,
                                                           const void* records, size_t count) {
  SC_RETURN_IF_ERROR(CheckBatchSize(count));
  // Checked before it is journaled, as a batch's size is: a source name
  // the pipeline refuses would be journaled only to fail again at recovery.
  SC_RETURN_IF_ERROR(internal::CheckSourceName(source));
  // Records at offsets already applied are not journaled again: a replay
  // of a whole input after a restore would otherwise write all of it to
  // the journal once more. The position read here can only be behind the
  // one the change meets (positions never go back; another writer may
  // advance it meanwhile), and ApplyAt skips whatever it still finds
  // applied, so trimming by it never changes the result.
  uint64_t applied = 0;
  SC_RETURN_IF_ERROR(Read([&](const Pipeline& p) { applied = p.Position(source); }));
  const size_t skip = applied > first_offset
                          ? static_cast<size_t>(std::min<uint64_t>(applied - first_offset, count))
                          : 0;
  if (skip > 0 && skip == count) {
    BatchResult all_applied;  // nothing to change: nothing to journal
    all_applied.skipped = skip;
    return all_applied;
  }
  std::string body;
  internal::EncodeBatchAt(flags, source, first_offset + skip,
                          static_cast<const char*>(records) + skip * 16, count - skip, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  r.batch.skipped += skip;
  return Returned(s, r, r.batch);
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyAt(absl::string_view source,
                                                     uint64_t first_offset,
                                                     absl::Span<const EventRecord> records,
                                                     ApplyMode mode) {
  return ApplyAtOffset(mode == ApplyMode::kTimed ? internal::kAtTimed : 0, source, first_offset,
                       records.data(), records.size());
}

absl::StatusOr<BatchResult> DurablePipeline::ApplyMovesAt(absl::string_view source,
                                                          uint64_t first_offset,
                                                          absl::Span<const StageRecord> records,
                                                          ApplyMode mode) {
  return ApplyAtOffset(
      internal::kAtMoves | (mode == ApplyMode::kTimed ? internal::kAtTimed : 0), source,
      first_offset, records.data(), records.size());
}

absl::StatusOr<int64_t> DurablePipeline::AdvanceTo(Timestamp now) {
  std::string body;
  internal::EncodeAdvance(now, &body);
  ChangeResult r;
  absl::Status s = Change(std::move(body), &r);
  return Returned(s, r, r.fired);
}

}  // namespace salescycle
