#include "salescycle/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <utility>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/core.h"
#include "src/crc32.h"
#include "src/name_mapper.h"
#include "src/proto_convert.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr char kMagic[8] = {'S', 'C', 'P', 'I', 'P', 'E', '\r', '\n'};
// A chunk holds at most this many slots, and is cut earlier when its
// strings pass kChunkStringBytes, so that frames stay far below protobuf's
// 2 GiB limit and a reader's memory stays bounded.
constexpr size_t kChunkSlots = 1 << 16;
constexpr size_t kChunkStringBytes = 32 << 20;
constexpr uint32_t kMaxFrameBytes = 256u << 20;

// A journey snapshot: this magic, the CRC-32 of the payload (u32 little
// endian), then the payload, one serialized JourneySnapshot. Without the
// checksum, 23 of 546 single-byte flips loaded altered data (protobuf
// parses most damage as other valid values). Snapshots written before the
// checksum are the bare payload, which starts with format_version's tag
// (0x08) where this starts with 'S': they still load, unchecked.
constexpr char kJourneyMagic[4] = {'S', 'C', 'J', 'N'};
constexpr size_t kJourneyHeaderBytes = sizeof kJourneyMagic + 4;
constexpr char kUncheckedJourneyTag = 0x08;

std::string ChecksumMismatch(uint32_t stored, uint32_t computed) {
  char hex[48];
  std::snprintf(hex, sizeof hex, "checksum mismatch (stored %08x, computed %08x)",
                stored, computed);
  return hex;
}

// The payload of a journey snapshot, its checksum verified.
absl::StatusOr<absl::string_view> JourneyPayload(absl::string_view bytes) {
  if (!bytes.empty() && bytes[0] == kUncheckedJourneyTag) return bytes;
  if (bytes.size() < kJourneyHeaderBytes ||
      bytes.substr(0, sizeof kJourneyMagic) !=
          absl::string_view(kJourneyMagic, sizeof kJourneyMagic)) {
    return absl::DataLossError(absl::StrCat(
        "not a journey snapshot (", bytes.size(), " bytes",
        bytes.size() < kJourneyHeaderBytes ? ", fewer than its header"
                                           : " without its magic",
        ")"));
  }
  const absl::string_view payload = bytes.substr(kJourneyHeaderBytes);
  const uint32_t stored =
      absl::little_endian::Load32(bytes.data() + sizeof kJourneyMagic);
  const uint32_t computed = Crc32(payload.data(), payload.size());
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat(
        "journey snapshot of ", bytes.size(), " bytes: ",
        ChecksumMismatch(stored, computed)));
  }
  return payload;
}

// Delta coding in modular arithmetic: any two int64 values, no overflow.
int64_t Delta(int64_t value, int64_t previous) {
  return static_cast<int64_t>(static_cast<uint64_t>(value) -
                              static_cast<uint64_t>(previous));
}
int64_t Undelta(int64_t previous, int64_t delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(previous) +
                              static_cast<uint64_t>(delta));
}

void SetIdentity(const Machine& m, v1::MachineIdentity* out) {
  out->set_name(m.name());
  out->set_version(m.version());
  out->set_fingerprint(m.fingerprint());
}

SnapshotIdentity Identity(const v1::MachineIdentity& id) {
  return SnapshotIdentity{id.name(), id.version(), id.fingerprint()};
}

// Parses untrusted bytes without protobuf logging to the host's stderr (it
// logs, for one, every string field that is not UTF-8). The silencer is
// process-wide while it lives, which is brief; the failure itself comes
// back as our own error, naming the frame.
bool ParseQuietly(absl::string_view bytes, google::protobuf::MessageLite* message) {
  google::protobuf::LogSilencer quiet;
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

absl::Status CheckFormatVersion(uint32_t version, absl::string_view what) {
  if (version == 0) {
    return absl::DataLossError(absl::StrCat(what, ": no format version"));
  }
  if (version > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": format version ", version,
        " is newer than this library reads (", kFormatVersion, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckHistoryLength(uint64_t history_limit, const Limits& limits,
                                absl::string_view what) {
  const uint64_t max = std::min<uint64_t>(limits.max_history_length,
                                          kMaxHistoryLimit);
  if (history_limit <= max) return absl::OkStatus();
  return LimitError(what, absl::StrCat("history_limit is ", history_limit),
                    "max_history_length", max);
}

// ---- byte sinks

class FrameWriter {
 public:
  virtual ~FrameWriter() = default;
  virtual absl::Status Write(absl::string_view bytes) = 0;

  absl::Status WriteFrame(const v1::PipelineFrame& frame) {
    buffer_.clear();
    {
      google::protobuf::io::StringOutputStream out(&buffer_);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      frame.SerializeToCodedStream(&coded);
    }
    if (buffer_.size() > kMaxFrameBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("a snapshot frame of ", buffer_.size(),
                       " bytes is past the limit of ", kMaxFrameBytes));
    }
    char head[8];
    absl::little_endian::Store32(head, static_cast<uint32_t>(buffer_.size()));
    absl::little_endian::Store32(head + 4,
                                 Crc32(buffer_.data(), buffer_.size()));
    SC_RETURN_IF_ERROR(Write(absl::string_view(head, sizeof head)));
    return Write(buffer_);
  }

 private:
  std::string buffer_;
};

class StringWriter : public FrameWriter {
 public:
  explicit StringWriter(std::string* out) : out_(out) {}
  absl::Status Write(absl::string_view bytes) override {
    out_->append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

 private:
  std::string* out_;
};

class StreamWriter : public FrameWriter {
 public:
  explicit StreamWriter(std::ostream* out) : out_(out) {}
  absl::Status Write(absl::string_view bytes) override {
    out_->write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out_->good()) {
      return absl::UnavailableError(absl::StrCat(
          "the output stream failed after ", written_, " bytes of snapshot"));
    }
    written_ += bytes.size();
    return absl::OkStatus();
  }

 private:
  std::ostream* out_;
  uint64_t written_ = 0;
};

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

// Writes a temporary file beside the target, then fsyncs and renames it, so
// the target is either the old file or the whole new one.
class FileWriter : public FrameWriter {
 public:
  explicit FileWriter(std::string path) : path_(std::move(path)) {}
  ~FileWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  absl::Status Open() {
    std::string pattern = path_ + ".tmp-XXXXXX";
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) {
      return ErrnoError(absl::StrCat(path_, ": cannot create a temporary file"),
                        errno);
    }
    temp_ = pattern;
    ::fchmod(fd_, 0644);
    return absl::OkStatus();
  }

  absl::Status Write(absl::string_view bytes) override {
    buffer_.append(bytes.data(), bytes.size());
    return buffer_.size() >= (1 << 20) ? Flush() : absl::OkStatus();
  }

  absl::Status Commit() {
    SC_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) {
      return ErrnoError(absl::StrCat(temp_, ": fsync"), errno);
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError(absl::StrCat(temp_, ": close"), errno);
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      return ErrnoError(absl::StrCat(path_, ": cannot replace"), errno);
    }
    temp_.clear();
    // Make the rename itself durable.
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(absl::StrCat(path_, ": cannot write snapshot"), errno);
      }
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
    return absl::OkStatus();
  }

  std::string path_;
  std::string temp_;
  int fd_ = -1;
  std::string buffer_;
};

// ---- byte sources

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
  absl::StatusOr<absl::string_view> Read(size_t n) override {
    const size_t take = std::min<size_t>(n, bytes_.size() - offset_);
    absl::string_view out = bytes_.substr(offset_, take);
    offset_ += take;
    return out;
  }
  std::optional<uint64_t> Remaining() const override {
    return bytes_.size() - offset_;
  }

 private:
  absl::string_view bytes_;
};

class StreamSource : public ByteSource {
 public:
  StreamSource(std::istream* in, std::string name)
      : in_(in), name_(std::move(name)) {
    // A seekable stream tells its size, which bounds what a header may
    // declare before anything is allocated for it.
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
  absl::StatusOr<absl::string_view> Read(size_t n) override {
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
  std::optional<uint64_t> Remaining() const override {
    if (!size_) return std::nullopt;
    return *size_ > offset_ ? *size_ - offset_ : 0;
  }

 private:
  std::istream* in_;
  std::string name_;
  std::string buffer_;
  std::optional<uint64_t> size_;
};

}  // namespace

// ---- access to the containers' state

struct SnapshotAccess {
  // ---- journeys

  static std::string SaveJourney(const Journey& j) {
    const Machine& m = *j.machine_;
    v1::JourneySnapshot s;
    s.set_format_version(kFormatVersion);
    SetIdentity(m, s.mutable_machine());
    s.set_stage(m.stage(j.stage_).id);
    s.set_entered_at(j.entered_at_);
    for (AttributeId a = 0; a < m.num_attributes(); ++a) {
      if (!j.IsSet(a)) continue;
      v1::NamedAttribute* out = s.add_attributes();
      out->set_name(m.attribute(a).name);
      ToProto(*j.Get(a), out->mutable_value());
    }
    s.set_timeout_consumed(j.timeout_consumed_);
    s.set_history_limit(static_cast<uint32_t>(j.history_limit_));
    s.set_history_count(j.history_count_);
    for (const HistoryEntry& e : j.History()) {
      v1::JourneyHistoryEntry* out = s.add_history();
      out->set_time(e.time);
      if (e.event != kNoEvent) out->set_event(m.event(e.event).id);
      out->set_from(m.stage(e.from).id);
      out->set_to(m.stage(e.to).id);
      out->set_outcome(static_cast<uint32_t>(e.outcome));
      out->set_by_timeout(e.by_timeout);
    }
    std::string bytes(kJourneyHeaderBytes, '\0');
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      s.SerializeToCodedStream(&coded);
    }
    std::memcpy(bytes.data(), kJourneyMagic, sizeof kJourneyMagic);
    absl::little_endian::Store32(
        bytes.data() + sizeof kJourneyMagic,
        Crc32(bytes.data() + kJourneyHeaderBytes,
              bytes.size() - kJourneyHeaderBytes));
    return bytes;
  }

  static absl::StatusOr<Journey> RestoreJourney(
      absl::string_view bytes, std::shared_ptr<const Machine> machine,
      const RestoreOptions& options) {
    if (machine == nullptr) {
      return absl::InvalidArgumentError("RestoreJourney: machine is null");
    }
    SC_ASSIGN_OR_RETURN(const absl::string_view payload, JourneyPayload(bytes));
    v1::JourneySnapshot s;
    if (!ParseQuietly(payload, &s)) {
      return absl::DataLossError(absl::StrCat(
          "not a journey snapshot (", bytes.size(), " bytes that do not parse)"));
    }
    SC_RETURN_IF_ERROR(CheckFormatVersion(s.format_version(), "journey snapshot"));
    SC_RETURN_IF_ERROR(
        CheckHistoryLength(s.history_limit(), options.limits, "journey snapshot"));
    SC_RETURN_IF_ERROR(CheckStringLengths(s, options.limits.max_string_length,
                                          "journey snapshot"));
    // Dictionaries of the names the snapshot uses.
    std::vector<std::string> stages = {s.stage()};
    std::vector<std::string> events;
    for (const auto& e : s.history()) {
      stages.push_back(e.from());
      stages.push_back(e.to());
      events.push_back(e.event());
    }
    std::vector<SnapshotAttribute> attributes;
    std::vector<AttributeValue> values;
    for (const auto& a : s.attributes()) {
      SC_ASSIGN_OR_RETURN(AttributeValue v, FromProto(a.value()));
      attributes.push_back(SnapshotAttribute{a.name(), v.type()});
      values.push_back(std::move(v));
    }
    SC_ASSIGN_OR_RETURN(
        const NameMapping map,
        NameMapper::Map(Identity(s.machine()), stages, events, attributes,
                        *machine, options));
    JourneyOptions journey_options;
    journey_options.history_limit = s.history_limit();
    SC_ASSIGN_OR_RETURN(Journey j, Journey::Create(machine, s.entered_at(),
                                                   journey_options));
    if (map.stages[0] == kNoStage) return map.MissingStage(0);
    j.stage_ = map.stages[0];
    j.timeout_consumed_ = s.timeout_consumed();
    for (size_t i = 0; i < values.size(); ++i) {
      if (map.attributes[i] == kNoAttribute) {
        if (map.attribute_dropped[i]) continue;
        return map.MissingAttribute(i);
      }
      SC_RETURN_IF_ERROR(j.Set(map.attributes[i], std::move(values[i])));
    }
    const uint64_t kept = std::min<uint64_t>(s.history_count(), j.history_limit_);
    if (static_cast<uint64_t>(s.history_size()) != kept) {
      return absl::DataLossError(absl::StrCat(
          "journey snapshot keeps ", s.history_size(), " history entries of ",
          s.history_count(), " with a limit of ", j.history_limit_));
    }
    j.history_count_ = s.history_count();
    for (int k = 0; k < s.history_size(); ++k) {
      const auto& e = s.history(k);
      HistoryEntry& out =
          j.history_[(s.history_count() - kept + k) % j.history_limit_];
      const size_t from = 1 + 2 * k, to = 2 + 2 * k;
      if (map.stages[from] == kNoStage) return map.MissingStage(from);
      if (map.stages[to] == kNoStage) return map.MissingStage(to);
      if (e.outcome() > static_cast<uint32_t>(Outcome::kMissingAttribute)) {
        return absl::DataLossError(absl::StrCat("history[", k, "]: outcome ",
                                                e.outcome(), " is unknown"));
      }
      out.time = e.time();
      out.event = e.event().empty() ? kNoEvent : map.events[k];
      if (!e.event().empty() && out.event == kNoEvent) {
        return absl::FailedPreconditionError(absl::StrCat(
            "snapshot of ", map.snapshot, " has history of event \"",
            e.event(), "\", which ", map.target,
            " lacks; rename it in a Migration"));
      }
      out.from = map.stages[from];
      out.to = map.stages[to];
      out.outcome = static_cast<Outcome>(e.outcome());
      out.by_timeout = e.by_timeout();
    }
    for (const auto& [id, value] : map.added) {
      SC_RETURN_IF_ERROR(j.Set(id, value));
    }
    return j;
  }

  // ---- pipelines: writing

  static absl::Status Save(const Pipeline& p, FrameWriter* w) {
    const Machine& m = *p.machine_;
    SC_RETURN_IF_ERROR(w->Write(absl::string_view(kMagic, sizeof kMagic)));
    v1::PipelineFrame frame;
    v1::PipelineHeader* h = frame.mutable_header();
    h->set_format_version(kFormatVersion);
    SetIdentity(m, h->mutable_machine());
    for (int s = 0; s < m.num_stages(); ++s) h->add_stages(m.stage(s).id);
    for (int e = 0; e < m.num_events(); ++e) h->add_events(m.event(e).id);
    for (int a = 0; a < m.num_attributes(); ++a) {
      v1::AttributeDescriptor* d = h->add_attributes();
      d->set_name(m.attribute(a).name);
      d->set_type(ToProto(m.attribute(a).type));
    }
    h->set_slot_count(p.slot_count());
    h->set_deal_count(p.size());
    h->set_history_limit(static_cast<uint32_t>(p.options_.history_limit));
    h->set_machine_spec(m.spec_text());
    SC_RETURN_IF_ERROR(w->WriteFrame(frame));

    uint64_t chunks = 0;
    for (size_t first = 0; first < p.slot_count();) {
      const size_t n = ChunkLength(p, first);
      FillChunk(p, first, n, frame.mutable_chunk());
      SC_RETURN_IF_ERROR(w->WriteFrame(frame));
      first += n;
      ++chunks;
    }
    v1::PipelineTrailer* t = frame.mutable_trailer();
    t->set_slot_count(p.slot_count());
    t->set_deal_count(p.size());
    t->set_chunk_count(chunks);
    for (int s = 0; s < m.num_stages(); ++s) {
      t->add_stage_counts(p.StageCount(static_cast<StageId>(s)));
    }
    return w->WriteFrame(frame);
  }

  static size_t ChunkLength(const Pipeline& p, size_t first) {
    const size_t most = std::min(kChunkSlots, p.slot_count() - first);
    if (p.strings_.empty()) return most;
    size_t bytes = 0;
    for (size_t n = 0; n < most; ++n) {
      for (const auto& column : p.strings_) bytes += column[first + n].size();
      if (auto key = p.key_of_deal_.find(static_cast<DealIndex>(first + n));
          key != p.key_of_deal_.end()) {
        bytes += key->second.size();
      }
      if (bytes > kChunkStringBytes) return std::max<size_t>(n, 1);
    }
    return most;
  }

  static void FillChunk(const Pipeline& p, size_t first, size_t n,
                        v1::PipelineChunk* c) {
    const Machine& m = *p.machine_;
    c->Clear();
    c->set_first_slot(first);
    const uint32_t empty = static_cast<uint32_t>(m.num_stages());
    auto* stages = c->mutable_stages();
    stages->Reserve(static_cast<int>(n));
    auto* entered = c->mutable_entered_at_deltas();
    entered->Reserve(static_cast<int>(n));
    int64_t previous = 0;
    for (size_t i = 0; i < n; ++i) {
      const DealIndex d = static_cast<DealIndex>(first + i);
      if (!p.Contains(d)) {
        stages->AddAlreadyReserved(empty);
        continue;
      }
      stages->AddAlreadyReserved(p.stage_[d]);
      entered->AddAlreadyReserved(Delta(p.entered_at_[d], previous));
      previous = p.entered_at_[d];
    }
    // Offsets of the live deals where `has(d)` holds, delta-encoded.
    auto offsets = [&](auto&& has, google::protobuf::RepeatedField<uint32_t>* out,
                       auto&& each) {
      int64_t last = -1;
      for (size_t i = 0; i < n; ++i) {
        const DealIndex d = static_cast<DealIndex>(first + i);
        if (!p.Contains(d) || !has(d)) continue;
        out->Add(static_cast<uint32_t>(static_cast<int64_t>(i) - last));
        last = static_cast<int64_t>(i);
        each(d);
      }
    };
    for (AttributeId a = 0; a < m.num_attributes(); ++a) {
      const AttributeType type = m.attribute(a).type;
      const uint16_t slot = Core::Slot(m, a);
      v1::AttributeColumn column;
      column.set_attribute(a);
      offsets([&](DealIndex d) { return p.IsSet(d, a); },
              column.mutable_set_offset_deltas(), [&](DealIndex d) {
                switch (type) {
                  case AttributeType::kInt64:
                    column.add_int64_values(
                        static_cast<int64_t>(p.scalars_[slot][d]));
                    break;
                  case AttributeType::kDouble:
                    column.add_double_values(BitsDouble(p.scalars_[slot][d]));
                    break;
                  case AttributeType::kBool:
                    column.add_bool_values(p.scalars_[slot][d] != 0);
                    break;
                  case AttributeType::kString:
                    column.add_string_values(p.strings_[slot][d]);
                    break;
                }
              });
      if (!column.set_offset_deltas().empty()) {
        *c->add_attributes() = std::move(column);
      }
    }
    if (!p.id_of_deal_.empty()) {
      offsets([&](DealIndex d) { return p.id_of_deal_.contains(d); },
              c->mutable_id_offset_deltas(),
              [&](DealIndex d) { c->add_ids(p.id_of_deal_.at(d)); });
    }
    if (!p.key_of_deal_.empty()) {
      offsets([&](DealIndex d) { return p.key_of_deal_.contains(d); },
              c->mutable_key_offset_deltas(),
              [&](DealIndex d) { c->add_keys(p.key_of_deal_.at(d)); });
    }
    offsets([&](DealIndex d) { return p.TimeoutConsumed(d); },
            c->mutable_timeout_consumed_offset_deltas(), [](DealIndex) {});
    const size_t limit = p.options_.history_limit;
    if (limit == 0) return;
    int64_t previous_time = 0;
    for (size_t i = 0; i < n; ++i) {
      const DealIndex d = static_cast<DealIndex>(first + i);
      if (!p.Contains(d)) continue;
      c->add_history_counts(p.history_count_[d]);
      for (const HistoryEntry& e : p.History(d)) {
        c->add_history_time_deltas(Delta(e.time, previous_time));
        previous_time = e.time;
        c->add_history_events(e.event == kNoEvent
                                  ? static_cast<uint32_t>(m.num_events())
                                  : e.event);
        c->add_history_from(e.from);
        c->add_history_to(e.to);
        c->add_history_outcomes(static_cast<uint32_t>(e.outcome) * 2 +
                                (e.by_timeout ? 1 : 0));
      }
    }
  }

  // ---- pipelines: reading

  // Extends every column by `n` empty slots.
  static void Grow(Pipeline* p, size_t n) {
    const size_t size = p->stage_.size() + n;
    p->stage_.resize(size, p->removed_stage_);
    p->entered_at_.resize(size, 0);
    const size_t words = (size + 63) / 64;
    p->timeout_consumed_.resize(words, 0);
    for (auto& bits : p->set_bits_) bits.resize(words, 0);
    const auto& scalar_defaults = Core::ScalarDefaults(*p->machine_);
    for (size_t s = 0; s < p->scalars_.size(); ++s) {
      p->scalars_[s].resize(size, scalar_defaults[s]);
    }
    const auto& string_defaults = Core::StringDefaults(*p->machine_);
    for (size_t s = 0; s < p->strings_.size(); ++s) {
      p->strings_[s].resize(size, string_defaults[s]);
    }
    if (p->options_.history_limit > 0) {
      p->history_.resize(size * p->options_.history_limit);
      p->history_count_.resize(size, 0);
    }
  }

  static absl::Status ReadChunk(const v1::PipelineChunk& c,
                                const v1::PipelineHeader& h,
                                const NameMapping& map, const Limits& limits,
                                uint64_t index, Pipeline* p);

  // Stage counts, live count and free list, from the stage column.
  static void Finish(Pipeline* p) {
    std::fill(p->stage_counts_.begin(), p->stage_counts_.end(), 0);
    p->live_ = 0;
    p->free_slots_.clear();
    for (DealIndex d = 0; d < p->stage_.size(); ++d) {
      ++p->stage_counts_[p->stage_[d]];
      if (p->stage_[d] == p->removed_stage_) {
        p->free_slots_.push_back(d);  // ascending: already a min-heap
      } else {
        ++p->live_;
      }
    }
    p->stage_counts_[p->removed_stage_] = 0;
  }

  static void SetBit(std::vector<uint64_t>* bits, DealIndex d) {
    (*bits)[d >> 6] |= uint64_t{1} << (d & 63);
  }

  static void ReplaceKeepingObservers(Pipeline* target, Pipeline loaded) {
    loaded.observers_ = std::move(target->observers_);
    *target = std::move(loaded);
  }
};

namespace {

absl::Status ChunkError(uint64_t index, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("pipeline snapshot chunk ", index, ": ", what));
}

}  // namespace

absl::Status SnapshotAccess::ReadChunk(const v1::PipelineChunk& c,
                                       const v1::PipelineHeader& h,
                                       const NameMapping& map,
                                       const Limits& limits, uint64_t index,
                                       Pipeline* p) {
  // Keys and string values are a chunk's only strings (a test holds the
  // .proto to that); the frame they came in is bounded, but one may still
  // be past what the caller allows to be kept. Checked directly rather than
  // by reflection, which cost a keyed load 5-10%.
  const size_t max_length = limits.max_string_length;
  auto too_long = [&](absl::string_view field, int i, size_t length) {
    return LimitError(absl::StrCat("pipeline snapshot chunk ", index),
                      absl::StrCat(field, "[", i, "] is ", length, " bytes"),
                      "max_string_length", max_length);
  };
  for (int i = 0; i < c.keys_size(); ++i) {
    if (c.keys(i).size() > max_length) return too_long("keys", i, c.keys(i).size());
  }
  for (int a = 0; a < c.attributes_size(); ++a) {
    const auto& values = c.attributes(a).string_values();
    for (int i = 0; i < values.size(); ++i) {
      if (values[i].size() > max_length) {
        return too_long(absl::StrCat("attributes[", a, "].string_values"), i,
                        values[i].size());
      }
    }
  }
  const size_t first = p->stage_.size();
  const size_t n = static_cast<size_t>(c.stages_size());
  if (c.first_slot() != first) {
    return ChunkError(index, absl::StrCat("starts at slot ", c.first_slot(),
                                          ", expected ", first));
  }
  if (n == 0 || first + n > h.slot_count()) {
    return ChunkError(index, absl::StrCat("holds ", n, " slots from slot ",
                                          first, " of ", h.slot_count()));
  }
  Grow(p, n);
  const uint32_t empty = static_cast<uint32_t>(h.stages_size());
  size_t live = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = c.stages(static_cast<int>(i));
    if (s == empty) continue;
    if (s > empty) {
      return ChunkError(index, absl::StrCat("slot ", first + i, " has stage ",
                                            s, " of ", empty));
    }
    if (map.stages[s] == kNoStage) return map.MissingStage(s);
    p->stage_[first + i] = map.stages[s];
    ++live;
  }
  if (static_cast<size_t>(c.entered_at_deltas_size()) != live) {
    return ChunkError(index, absl::StrCat(c.entered_at_deltas_size(),
                                          " entry times for ", live,
                                          " live deals"));
  }
  {
    int64_t previous = 0;
    int k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (p->stage_[first + i] == p->removed_stage_) continue;
      previous = Undelta(previous, c.entered_at_deltas(k++));
      p->entered_at_[first + i] = previous;
    }
  }
  // Walks delta-encoded offsets: each must name a live deal of the chunk,
  // in increasing order.
  auto walk = [&](const google::protobuf::RepeatedField<uint32_t>& deltas,
                  absl::string_view what, auto&& each) -> absl::Status {
    int64_t offset = -1;
    for (int k = 0; k < deltas.size(); ++k) {
      offset += deltas[k];
      if (deltas[k] == 0 || offset >= static_cast<int64_t>(n) ||
          p->stage_[first + offset] == p->removed_stage_) {
        return ChunkError(index, absl::StrCat(what, " offset ", offset,
                                              " is not a live deal"));
      }
      SC_RETURN_IF_ERROR(each(static_cast<DealIndex>(first + offset), k));
    }
    return absl::OkStatus();
  };
  for (const v1::AttributeColumn& column : c.attributes()) {
    const uint32_t a = column.attribute();
    if (a >= static_cast<uint32_t>(h.attributes_size())) {
      return ChunkError(index, absl::StrCat("attribute ", a, " of ",
                                            h.attributes_size()));
    }
    // The header's types were checked when it was read.
    const AttributeType type = *FromProto(h.attributes(a).type());
    const int count = column.set_offset_deltas_size();
    const int values[] = {column.int64_values_size(),
                          column.double_values_size(),
                          column.string_values_size(),
                          column.bool_values_size()};
    for (int t = 0; t < 4; ++t) {
      if (values[t] != (t == static_cast<int>(type) ? count : 0)) {
        return ChunkError(index, absl::StrCat("attribute \"",
                                              h.attributes(a).name(), "\" has ",
                                              values[t], " values of type ", t,
                                              " for ", count, " deals"));
      }
    }
    const AttributeId id = map.attributes[a];
    if (id == kNoAttribute) {
      if (map.attribute_dropped[a]) continue;
      return map.MissingAttribute(a);
    }
    const uint16_t slot = Core::Slot(*p->machine_, id);
    SC_RETURN_IF_ERROR(walk(column.set_offset_deltas(), "attribute",
                            [&](DealIndex d, int k) {
      switch (type) {
        case AttributeType::kInt64:
          p->scalars_[slot][d] = static_cast<uint64_t>(column.int64_values(k));
          break;
        case AttributeType::kDouble:
          p->scalars_[slot][d] = DoubleBits(column.double_values(k));
          break;
        case AttributeType::kBool:
          p->scalars_[slot][d] = column.bool_values(k) ? 1 : 0;
          break;
        case AttributeType::kString:
          p->strings_[slot][d] = column.string_values(k);
          break;
      }
      SetBit(&p->set_bits_[id], d);
      return absl::OkStatus();
    }));
  }
  if (c.id_offset_deltas_size() != c.ids_size() ||
      c.key_offset_deltas_size() != c.keys_size()) {
    return ChunkError(index, "external id offsets and ids do not pair up");
  }
  SC_RETURN_IF_ERROR(walk(c.id_offset_deltas(), "id", [&](DealIndex d, int k) {
    if (!p->deal_by_id_.emplace(c.ids(k), d).second) {
      return ChunkError(index, absl::StrCat("deal id ", c.ids(k),
                                            " appears twice"));
    }
    p->id_of_deal_.emplace(d, c.ids(k));
    return absl::OkStatus();
  }));
  SC_RETURN_IF_ERROR(walk(c.key_offset_deltas(), "key", [&](DealIndex d, int k) {
    if (!p->deal_by_key_.emplace(c.keys(k), d).second) {
      return ChunkError(index, absl::StrCat("deal key \"", c.keys(k),
                                            "\" appears twice"));
    }
    p->key_of_deal_.emplace(d, c.keys(k));
    return absl::OkStatus();
  }));
  SC_RETURN_IF_ERROR(walk(c.timeout_consumed_offset_deltas(), "timeout",
                          [&](DealIndex d, int) {
                            SetBit(&p->timeout_consumed_, d);
                            return absl::OkStatus();
                          }));

  const size_t limit = p->options_.history_limit;
  const int entries = c.history_time_deltas_size();
  if (c.history_events_size() != entries || c.history_from_size() != entries ||
      c.history_to_size() != entries || c.history_outcomes_size() != entries) {
    return ChunkError(index, "history columns differ in length");
  }
  if (limit == 0) {
    if (entries != 0 || c.history_counts_size() != 0) {
      return ChunkError(index, "history in a snapshot without history");
    }
    return absl::OkStatus();
  }
  if (static_cast<size_t>(c.history_counts_size()) != live) {
    return ChunkError(index, absl::StrCat(c.history_counts_size(),
                                          " history counts for ", live,
                                          " live deals"));
  }
  int k = 0, deal_k = 0;
  int64_t previous_time = 0;
  const uint32_t no_event = static_cast<uint32_t>(h.events_size());
  for (size_t i = 0; i < n; ++i) {
    const DealIndex d = static_cast<DealIndex>(first + i);
    if (p->stage_[d] == p->removed_stage_) continue;
    const uint64_t count = c.history_counts(deal_k++);
    const uint64_t kept = std::min<uint64_t>(count, limit);
    if (kept > static_cast<uint64_t>(entries - k)) {
      return ChunkError(index, absl::StrCat("deal ", d, " keeps ", kept,
                                            " history entries; ", entries - k,
                                            " are left"));
    }
    p->history_count_[d] = count;
    HistoryEntry* ring = &p->history_[d * limit];
    for (uint64_t step = count - kept; step < count; ++step, ++k) {
      HistoryEntry& e = ring[step % limit];
      previous_time = Undelta(previous_time, c.history_time_deltas(k));
      e.time = previous_time;
      const uint32_t event = c.history_events(k);
      const uint32_t from = c.history_from(k), to = c.history_to(k);
      const uint32_t outcome = c.history_outcomes(k);
      if (event > no_event || from >= empty || to >= empty ||
          (outcome >> 1) > static_cast<uint32_t>(Outcome::kMissingAttribute)) {
        return ChunkError(index, absl::StrCat("history entry ", k,
                                              " is out of range"));
      }
      if (map.stages[from] == kNoStage) return map.MissingStage(from);
      if (map.stages[to] == kNoStage) return map.MissingStage(to);
      e.event = event == no_event ? kNoEvent : map.events[event];
      if (event != no_event && e.event == kNoEvent) {
        return absl::FailedPreconditionError(absl::StrCat(
            "snapshot of ", map.snapshot, " has history of event \"",
            h.events(static_cast<int>(event)), "\", which ", map.target,
            " lacks; rename it in a Migration"));
      }
      e.from = map.stages[from];
      e.to = map.stages[to];
      e.outcome = static_cast<Outcome>(outcome >> 1);
      e.by_timeout = (outcome & 1) != 0;
    }
  }
  if (k != entries) {
    return ChunkError(index, absl::StrCat(entries - k,
                                          " history entries belong to no deal"));
  }
  return absl::OkStatus();
}

class PipelineLoader {
 public:
  // A null `machine` means the one the snapshot carries (when `own` is set;
  // otherwise a null machine is the caller's mistake).
  static absl::StatusOr<Pipeline> Load(const SnapshotSource& source,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options,
                                       bool own = false) {
    if (machine == nullptr && !own) {
      return absl::InvalidArgumentError("LoadPipeline: machine is null");
    }
    if (source.has_bytes_) {
      BytesSource bytes(source.bytes_);
      return Load(&bytes, "<bytes>", std::move(machine), options);
    }
    if (source.stream_ != nullptr) {
      StreamSource stream(source.stream_, "<stream>");
      return Load(&stream, "<stream>", std::move(machine), options);
    }
    std::ifstream file(source.path_, std::ios::binary);
    if (!file.is_open()) {
      return ErrnoError(absl::StrCat(source.path_, ": cannot read"), errno);
    }
    StreamSource stream(&file, source.path_);
    return Load(&stream, source.path_, std::move(machine), options);
  }

 private:
  static absl::StatusOr<Pipeline> Load(ByteSource* in, const std::string& name,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options) {
    auto data_loss = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat(name, ": ", what));
    };
    SC_ASSIGN_OR_RETURN(absl::string_view magic, in->Read(sizeof kMagic));
    if (magic != absl::string_view(kMagic, sizeof kMagic)) {
      return data_loss("not a salescycle pipeline snapshot (bad magic)");
    }
    v1::PipelineFrame frame;
    uint64_t frames = 0;
    // Reads the next frame; false at a clean end of the input.
    auto next = [&]() -> absl::StatusOr<bool> {
      const uint64_t at = in->offset();
      SC_ASSIGN_OR_RETURN(absl::string_view head, in->Read(8));
      if (head.empty()) return false;
      if (head.size() < 8) {
        return data_loss(absl::StrCat("truncated: frame ", frames, " at offset ",
                                      at, " has a partial header"));
      }
      const uint32_t length = absl::little_endian::Load32(head.data());
      const uint32_t crc = absl::little_endian::Load32(head.data() + 4);
      const std::optional<uint64_t> left = in->Remaining();
      if (length > kMaxFrameBytes || (left && length > *left)) {
        return data_loss(absl::StrCat(
            "frame ", frames, " at offset ", at, " declares ", length,
            " bytes, ", length > kMaxFrameBytes ? "past the frame limit"
                                                : "more than the input holds"));
      }
      SC_ASSIGN_OR_RETURN(absl::string_view payload, in->Read(length));
      if (payload.size() < length) {
        return data_loss(absl::StrCat("truncated: frame ", frames, " at offset ",
                                      at, " declares ", length, " bytes, ",
                                      payload.size(), " follow"));
      }
      const uint32_t actual = Crc32(payload.data(), payload.size());
      if (actual != crc) {
        return data_loss(absl::StrCat("frame ", frames, " at offset ", at, ": ",
                                      ChecksumMismatch(crc, actual)));
      }
      if (!ParseQuietly(payload, &frame)) {
        return data_loss(absl::StrCat("frame ", frames, " at offset ", at,
                                      " does not parse"));
      }
      ++frames;
      return true;
    };

    SC_ASSIGN_OR_RETURN(bool more, next());
    if (!more || !frame.has_header()) {
      return data_loss("the first frame is not a header");
    }
    // Kept past the frames that follow, which reuse `frame`.
    const v1::PipelineHeader header = std::move(*frame.mutable_header());
    SC_RETURN_IF_ERROR(CheckFormatVersion(header.format_version(), name));
    const Limits& limits = options.limits;
    const uint64_t max_slots =
        std::min<uint64_t>(limits.max_snapshot_deals, kNoDeal - 1);
    if (header.slot_count() > max_slots) {
      return LimitError(name,
                        absl::StrCat("declares ", header.slot_count(), " slots"),
                        "max_snapshot_deals", max_slots);
    }
    if (header.deal_count() > header.slot_count()) {
      return data_loss(absl::StrCat("declares ", header.deal_count(),
                                    " deals in ", header.slot_count(), " slots"));
    }
    // Every slot takes at least one byte of the stage column, so a size
    // past what is left is a lie, found before reserving for it.
    const std::optional<uint64_t> left = in->Remaining();
    if (left && header.slot_count() > *left) {
      return data_loss(absl::StrCat("declares ", header.slot_count(),
                                    " slots but only ", *left, " bytes follow"));
    }
    SC_RETURN_IF_ERROR(CheckHistoryLength(header.history_limit(), limits, name));
    if (header.slot_count() * header.history_limit() >
        limits.max_history_entries) {
      return LimitError(
          name,
          absl::StrCat("declares ", header.slot_count(), " slots with a history of ",
                       header.history_limit(), ", ",
                       header.slot_count() * header.history_limit(),
                       " entries"),
          "max_history_entries", limits.max_history_entries);
    }
    if (header.stages_size() > kMaxStages || header.events_size() > kMaxEvents ||
        header.attributes_size() > kMaxAttributes) {
      return data_loss("more stages, events or attributes than a machine has");
    }
    // The spec is bounded by max_spec_bytes when it is compiled, below.
    SC_RETURN_IF_ERROR(CheckStringLengths(
        header, limits.max_string_length, name,
        v1::PipelineHeader::descriptor()->FindFieldByName("machine_spec")));
    std::vector<std::string> stages(header.stages().begin(),
                                    header.stages().end());
    std::vector<std::string> events(header.events().begin(),
                                    header.events().end());
    std::vector<SnapshotAttribute> attributes;
    for (const auto& a : header.attributes()) {
      const std::optional<AttributeType> type = FromProto(a.type());
      if (!type) {
        return data_loss(absl::StrCat("attribute \"", a.name(),
                                      "\" has no known type (", a.type(), ")"));
      }
      attributes.push_back(SnapshotAttribute{a.name(), *type});
    }
    if (machine == nullptr) {
      if (header.machine_spec().empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            name, ": the snapshot carries no machine spec; give the machine"));
      }
      CompileOptions compile;
      compile.source_name = absl::StrCat(name, ": the snapshot's machine");
      compile.limits = limits;
      SC_ASSIGN_OR_RETURN(machine,
                          Machine::FromTextProto(header.machine_spec(), compile));
    }
    SC_ASSIGN_OR_RETURN(const NameMapping map,
                        NameMapper::Map(Identity(header.machine()), stages,
                                        events, attributes, *machine, options));

    PipelineOptions pipeline_options;
    pipeline_options.history_limit = header.history_limit();
    // Reserve exactly when the declared size is known to be honest (bounded
    // by the input's size); otherwise grow as chunks arrive.
    if (left || header.slot_count() <= (1u << 20)) {
      pipeline_options.expected_deals = header.slot_count();
    }
    SC_ASSIGN_OR_RETURN(Pipeline p, Pipeline::Create(machine, pipeline_options));

    uint64_t chunks = 0;
    while (true) {
      SC_ASSIGN_OR_RETURN(more, next());
      if (!more) {
        return data_loss(absl::StrCat("truncated: the input ends after frame ",
                                      frames - 1, ", before the trailer"));
      }
      if (frame.has_chunk()) {
        SC_RETURN_IF_ERROR(SnapshotAccess::ReadChunk(frame.chunk(), header, map,
                                                     options.limits, chunks++,
                                                     &p));
        continue;
      }
      if (!frame.has_trailer()) return data_loss("a second header");
      break;
    }
    const v1::PipelineTrailer& trailer = frame.trailer();
    SnapshotAccess::Finish(&p);
    if (trailer.slot_count() != header.slot_count() ||
        p.slot_count() != header.slot_count() ||
        trailer.deal_count() != header.deal_count() ||
        p.size() != header.deal_count() || trailer.chunk_count() != chunks) {
      return data_loss(absl::StrCat(
          "totals do not add up: header ", header.slot_count(), " slots / ",
          header.deal_count(), " deals, trailer ", trailer.slot_count(), " / ",
          trailer.deal_count(), " in ", trailer.chunk_count(), " chunks, read ",
          p.slot_count(), " / ", p.size(), " in ", chunks));
    }
    if (trailer.stage_counts_size() != header.stages_size()) {
      return data_loss("the trailer's stage counts do not match the stages");
    }
    std::vector<uint64_t> expected(machine->num_stages(), 0);
    for (int s = 0; s < trailer.stage_counts_size(); ++s) {
      if (trailer.stage_counts(s) == 0) continue;
      if (map.stages[s] == kNoStage) return map.MissingStage(s);
      expected[map.stages[s]] += trailer.stage_counts(s);
    }
    for (int s = 0; s < machine->num_stages(); ++s) {
      if (expected[s] != p.StageCount(static_cast<StageId>(s))) {
        return data_loss(absl::StrCat("stage \"", machine->stage(s).id,
                                      "\" holds ", p.StageCount(s),
                                      " deals; the trailer says ", expected[s]));
      }
    }
    SC_ASSIGN_OR_RETURN(absl::string_view rest, in->Read(1));
    if (!rest.empty()) return data_loss("bytes follow the trailer");
    for (const auto& [id, value] : map.added) {
      for (DealIndex d = 0; d < p.slot_count(); ++d) {
        if (p.Contains(d)) SC_RETURN_IF_ERROR(p.Set(d, id, value));
      }
    }
    return p;
  }
};

}  // namespace internal

std::string SnapshotJourney(const Journey& journey) {
  return internal::SnapshotAccess::SaveJourney(journey);
}

absl::StatusOr<Journey> RestoreJourney(absl::string_view bytes,
                                       std::shared_ptr<const Machine> machine,
                                       const RestoreOptions& options) {
  return internal::SnapshotAccess::RestoreJourney(bytes, std::move(machine),
                                                  options);
}

absl::Status SavePipeline(const Pipeline& pipeline, const SnapshotSink& sink) {
  if (sink.bytes_ != nullptr) {
    internal::StringWriter writer(sink.bytes_);
    return internal::SnapshotAccess::Save(pipeline, &writer);
  }
  if (sink.stream_ != nullptr) {
    internal::StreamWriter writer(sink.stream_);
    return internal::SnapshotAccess::Save(pipeline, &writer);
  }
  internal::FileWriter writer(sink.path_);
  SC_RETURN_IF_ERROR(writer.Open());
  SC_RETURN_IF_ERROR(internal::SnapshotAccess::Save(pipeline, &writer));
  return writer.Commit();
}

absl::StatusOr<Pipeline> LoadPipeline(const SnapshotSource& source,
                                      std::shared_ptr<const Machine> machine,
                                      const RestoreOptions& options) {
  return internal::PipelineLoader::Load(source, std::move(machine), options);
}

absl::StatusOr<Pipeline> LoadPipeline(const SnapshotSource& source,
                                      const RestoreOptions& options) {
  return internal::PipelineLoader::Load(source, nullptr, options, /*own=*/true);
}

absl::Status LoadPipelineInto(const SnapshotSource& source, Pipeline* pipeline,
                              const RestoreOptions& options) {
  if (pipeline == nullptr) {
    return absl::InvalidArgumentError("LoadPipelineInto: pipeline is null");
  }
  SC_ASSIGN_OR_RETURN(Pipeline loaded,
                      LoadPipeline(source, pipeline->machine_ptr(), options));
  internal::SnapshotAccess::ReplaceKeepingObservers(pipeline, std::move(loaded));
  return absl::OkStatus();
}

}  // namespace salescycle
