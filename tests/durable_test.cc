// DurablePipeline: every kind of change survives a reopen, exactly; a torn
// tail at any byte recovers the whole records before it; a damaged record
// stops recovery naming its offset (or is salvaged); checkpoints; the
// directory lock; faults injected into writes and syncs; group commit; and
// processes killed with SIGKILL mid-stream lose nothing acknowledged.
//
// The changes come from RandomChange(i): change i is a function of i alone,
// so a parent can rebuild what a killed child did, on a plain Pipeline,
// and compare snapshots byte for byte.
#include "salescycle/durable.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"
#include "src/io_hooks.h"
#include "src/journal.h"

namespace salescycle {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::shared_ptr<const Machine> B2b() {
  static const auto* m =
      new std::shared_ptr<const Machine>(*Machine::FromFile(SC_MACHINES_DIR "/b2b.textproto"));
  return *m;
}

// A fresh directory under the test's temporary directory, removed after.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sc_durable_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

constexpr Timestamp kStart = 1767225600;  // 2026-01-01

// Change i on any container with Pipeline's calls (Pipeline itself, or
// DurablePipeline). Deals, events, stages and values are drawn from i, so
// many changes fail (a deal not there, an event with no transition): those
// must fail the same way at recovery.
template <typename P>
void RandomChange(P& p, uint64_t i) {
  const Machine& m = *B2b();
  std::mt19937_64 rng(i * 7919 + 17);
  const Timestamp t = kStart + static_cast<Timestamp>(i) * 3600;
  const auto deal = static_cast<DealIndex>(rng() % (i / 3 + 4));
  const auto event = static_cast<EventId>(rng() % m.num_events());
  const auto stage = static_cast<StageId>(rng() % m.num_stages());
  const unsigned kind = rng() % 100;
  if (kind < 8) {
    (void)p.Add(t);
  } else if (kind < 12) {
    (void)p.AddWithKey(absl::StrCat("deal-", i), t, rng() % 2 ? kNoStage : StageId{1});
  } else if (kind < 14) {
    (void)p.AddWithId(rng(), t);
  } else if (kind < 22) {
    const auto id = static_cast<AttributeId>(rng() % m.num_attributes());
    AttributeValue v = AttributeValue::Int64(static_cast<int64_t>(rng() % 40000));
    switch (m.attribute(id).type) {
      case AttributeType::kDouble: v = AttributeValue::Double(static_cast<double>(rng() % 400) / 10); break;
      case AttributeType::kBool: v = AttributeValue::Bool(rng() % 2 == 0); break;
      case AttributeType::kString: v = AttributeValue::String(absl::StrCat("v", rng() % 7)); break;
      case AttributeType::kInt64: break;
    }
    (void)p.Set(deal, id, v);
  } else if (kind < 24) {
    (void)p.Remove(deal);
  } else if (kind < 60) {
    (void)p.Fire(deal, event, t);
  } else if (kind < 72) {
    (void)p.MoveTo(deal, stage, t);
  } else if (kind < 75) {
    (void)p.Reopen(deal, t);
  } else if (kind < 95) {
    std::vector<EventRecord> events;
    std::vector<StageRecord> moves;
    for (int k = 0; k < 6; ++k) {
      const auto d = static_cast<DealIndex>(rng() % (i / 3 + 4));
      events.push_back({d, static_cast<uint32_t>(rng() % m.num_events()), t + k});
      moves.push_back({d, static_cast<uint32_t>(rng() % m.num_stages()), t + k});
    }
    // Batches at offsets of three inputs, overlapping one another now and
    // then (their first records skipped), and with gaps.
    const std::string source = absl::StrCat("input-", i % 3);
    const uint64_t offset = i * 2 - std::min<uint64_t>(i * 2, rng() % 12);
    const ApplyMode mode = rng() % 2 ? ApplyMode::kTimed : ApplyMode::kInOrder;
    if (kind < 81) {
      (void)p.Apply(events);
    } else if (kind < 85) {
      (void)p.ApplyTimed(events);
    } else if (kind < 88) {
      (void)p.ApplyMoves(moves);
    } else if (kind < 90) {
      (void)p.ApplyMovesTimed(moves);
    } else if (kind < 93) {
      (void)p.ApplyAt(source, offset, events, mode);
    } else {
      (void)p.ApplyMovesAt(source, offset, moves, mode);
    }
  } else {
    (void)p.AdvanceTo(t + 86400 * static_cast<Timestamp>(rng() % 40));
  }
}

PipelineOptions Options() {
  PipelineOptions o;
  o.history_limit = 4;
  o.analytics.enabled = true;
  return o;
}

std::string Bytes(const Pipeline& p) {
  std::string out;
  EXPECT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&out)).ok());
  return out;
}

std::string Bytes(const DurablePipeline& db) {
  std::string out;
  EXPECT_TRUE(db.Read([&](const Pipeline& p) { out = Bytes(p); }).ok());
  return out;
}

// Two snapshots' bytes: equal, or where they first differ (not the bytes).
::testing::AssertionResult SameState(const std::string& a, const std::string& b) {
  if (a == b) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return ::testing::AssertionFailure() << "snapshots of " << a.size() << " and " << b.size()
                                       << " bytes differ from byte " << i;
}

// What changes 0 to n - 1 make of a new pipeline.
std::string Reference(uint64_t n) {
  Pipeline p = *Pipeline::Create(B2b(), Options());
  for (uint64_t i = 0; i < n; ++i) RandomChange(p, i);
  return Bytes(p);
}

DurableOptions Durable(SyncPolicy sync = SyncPolicy::kEveryWrite) {
  DurableOptions o;
  o.pipeline = Options();
  o.sync = sync;
  return o;
}

uint64_t FileSize(const std::string& path) { return fs::file_size(path); }

TEST(Durable, EveryKindOfChangeSurvivesAReopenExactly) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  constexpr uint64_t kChanges = 3000;
  {
    auto db = DurablePipeline::Open(B2b(), dir, Durable(SyncPolicy::kNone));
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_TRUE((*db)->recovery().created);
    for (uint64_t i = 0; i < kChanges; ++i) RandomChange(**db, i);
    // The same calls on a plain pipeline give the same state: journaling
    // changes nothing.
    EXPECT_TRUE(SameState(Bytes(**db), Reference(kChanges)));
  }
  auto db = DurablePipeline::Open(B2b(), dir, Durable());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_FALSE((*db)->recovery().created);
  EXPECT_EQ((*db)->recovery().changes_replayed, kChanges);
  EXPECT_FALSE((*db)->recovery().torn_tail);
  EXPECT_TRUE(SameState(Bytes(**db), Reference(kChanges)));
  size_t live = 0;
  ASSERT_TRUE((*db)->Read([&](const Pipeline& p) { live = p.size(); }).ok());
  EXPECT_GT(live, 100u);  // the changes did add deals, and moved some
}

TEST(Durable, ResultsAreThePipelinesOwn) {
  TempDir tmp;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  auto deal = db->AddWithKey("acme", kStart);
  ASSERT_TRUE(deal.ok());
  EXPECT_EQ(db->AddWithKey("acme", kStart).status().code(), absl::StatusCode::kAlreadyExists);
  auto step = db->Fire(*deal, "contact", kStart + 10);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_TRUE(step->moved());
  EXPECT_EQ(db->Fire(*deal, "no_such_event", kStart).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->Remove(99).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->Set(*deal, 0, AttributeValue::String("x")).code(),
            absl::StatusCode::kInvalidArgument);
  // A refused batch is refused whole, as Pipeline's.
  const EventRecord bad[] = {{*deal, 0, kStart}, {12345, 0, kStart}};
  EXPECT_EQ(db->Apply(bad).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string before = Bytes(*db);
  db.reset();
  auto again = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  EXPECT_TRUE(SameState(Bytes(*again), before));
  // The failed ones too, but the unknown event name, refused before writing.
  EXPECT_EQ(again->recovery().changes_replayed, 6u);
}

TEST(Durable, ATornTailAtAnyByteRecoversTheWholeRecordsBeforeIt) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  constexpr uint64_t kChanges = 40;
  std::vector<uint64_t> ends;  // the journal's size after each change
  {
    auto db = *DurablePipeline::Open(B2b(), dir, Durable(SyncPolicy::kNone));
    ends.push_back(db->journal_bytes());
    for (uint64_t i = 0; i < kChanges; ++i) {
      RandomChange(*db, i);
      ends.push_back(db->journal_bytes());
    }
  }
  const std::string journal = dir + "/journal-1";
  std::string whole;
  {
    std::ifstream in(journal, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(whole.size(), ends.back());
  std::vector<std::string> references;
  for (uint64_t n = 0; n <= kChanges + 1; ++n) references.push_back(Reference(n));
  for (uint64_t cut = ends.front(); cut <= whole.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("journal cut at ", cut));
    const std::string copy = tmp.Sub(absl::StrCat("cut", cut));
    fs::create_directory(copy);
    fs::copy_file(dir + "/snapshot-1", copy + "/snapshot-1");
    std::ofstream(copy + "/journal-1", std::ios::binary).write(whole.data(), cut);
    const uint64_t whole_records =
        static_cast<uint64_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin()) - 1;
    {
      auto db = DurablePipeline::Open(B2b(), copy, Durable());
      ASSERT_TRUE(db.ok()) << db.status();
      EXPECT_EQ((*db)->recovery().changes_replayed, whole_records);
      EXPECT_EQ((*db)->recovery().torn_tail, cut != ends[whole_records]);
      EXPECT_EQ((*db)->recovery().bytes_dropped, cut - ends[whole_records]);
      if ((*db)->recovery().torn_tail) {
        EXPECT_THAT((*db)->recovery().stopped_at,
                    HasSubstr(absl::StrCat("offset ", ends[whole_records])));
      }
      EXPECT_TRUE(SameState(Bytes(**db), references[whole_records]));
      // New changes follow the last whole record, not the torn bytes.
      RandomChange(**db, whole_records);
    }
    auto db = DurablePipeline::Open(B2b(), copy, Durable());
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_FALSE((*db)->recovery().torn_tail);
    EXPECT_TRUE(SameState(Bytes(**db), references[whole_records + 1]));
    db->reset();
    fs::remove_all(copy);
  }
}

// Writes `n` changes into a new directory and returns the journal's size
// after each (the first: its header alone).
std::vector<uint64_t> WriteChanges(const std::string& dir, uint64_t n) {
  auto db = *DurablePipeline::Open(B2b(), dir, Durable(SyncPolicy::kNone));
  std::vector<uint64_t> ends = {db->journal_bytes()};
  for (uint64_t i = 0; i < n; ++i) {
    RandomChange(*db, i);
    ends.push_back(db->journal_bytes());
  }
  return ends;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(Durable, ADamagedRecordStopsRecoveryAndSaysWhere) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  const std::vector<uint64_t> ends = WriteChanges(dir, 10);
  FlipByte(dir + "/journal-1", ends[4] + 9);  // in the fifth record's body
  auto refused = DurablePipeline::Open(B2b(), dir, Durable());
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), HasSubstr(absl::StrCat("offset ", ends[4])));
  EXPECT_THAT(refused.status().message(), HasSubstr("record 5"));
  EXPECT_THAT(refused.status().message(), HasSubstr("the 4 changes before it are intact"));
  // Refusing left the directory as it was.
  EXPECT_EQ(FileSize(dir + "/journal-1"), ends.back());

  DurableOptions salvage = Durable();
  salvage.salvage_damaged_journal = true;
  {
    auto db = DurablePipeline::Open(B2b(), dir, salvage);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_TRUE((*db)->recovery().salvaged);
    EXPECT_EQ((*db)->recovery().changes_replayed, 4u);
    EXPECT_EQ((*db)->recovery().bytes_dropped, ends.back() - ends[4]);
    EXPECT_THAT((*db)->recovery().stopped_at, HasSubstr("checksum mismatch"));
    EXPECT_TRUE(SameState(Bytes(**db), Reference(4)));
    EXPECT_EQ((*db)->journal_number(), 2u);
  }
  EXPECT_TRUE(fs::exists(dir + "/journal-1.damaged"));
  EXPECT_FALSE(fs::exists(dir + "/journal-1"));
  auto db = DurablePipeline::Open(B2b(), dir, Durable());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE(SameState(Bytes(**db), Reference(4)));
}

TEST(Durable, ZerosAfterTheLastRecordAreATornTail) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  const std::vector<uint64_t> ends = WriteChanges(dir, 5);
  // What a crash can leave where the size grew before the data was written.
  std::ofstream(dir + "/journal-1", std::ios::binary | std::ios::app) << std::string(100, '\0');
  auto db = DurablePipeline::Open(B2b(), dir, Durable());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE((*db)->recovery().torn_tail);
  EXPECT_THAT((*db)->recovery().stopped_at, HasSubstr("zeros to the end"));
  EXPECT_EQ((*db)->recovery().changes_replayed, 5u);
  EXPECT_EQ(FileSize(dir + "/journal-1"), ends.back());  // cut back
}

TEST(Durable, NotAJournalIsRefused) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  WriteChanges(dir, 3);
  {
    // A newer release's journal is refused as such, not called garbage.
    std::fstream f(dir + "/journal-1", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(7);
    f.put('2');
  }
  auto newer = DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(newer.status().message(), HasSubstr("format \"SCJL0002\""));
  std::ofstream(dir + "/journal-1", std::ios::binary) << "GARBAGE GARBAGE GARBAGE";
  auto db = DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(db.status().message(), HasSubstr("not a salescycle journal"));
  fs::remove(dir + "/snapshot-1");
  db = DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(db.status().message(), HasSubstr("has no snapshot to follow"));
  // A journal newer than the newest snapshot: its snapshot went missing.
  const std::string other = tmp.Sub("other");
  WriteChanges(other, 3);
  ASSERT_TRUE(internal::JournalWriter::Create(other + "/journal-2", 2).ok());
  db = DurablePipeline::Open(B2b(), other, Durable());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(db.status().message(), HasSubstr("journal-2 is newer than the newest snapshot"));
}

// A replay of an input after a restore journals only what it applies.
TEST(Durable, RecordsAppliedBeforeAreNotJournaledAgain) {
  TempDir tmp;
  auto db = DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable(SyncPolicy::kNone));
  ASSERT_TRUE(db.ok()) << db.status();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*db)->Add(kStart).ok());
  std::vector<EventRecord> input;
  for (int i = 0; i < 200; ++i) input.push_back({static_cast<DealIndex>(i % 10), 0, kStart + i});
  const auto span = absl::MakeConstSpan(input);
  ASSERT_TRUE((*db)->ApplyAt("in", 0, span.subspan(0, 100)).ok());
  const uint64_t after_first = (*db)->journal_bytes();
  auto again = (*db)->ApplyAt("in", 0, span.subspan(0, 100));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->skipped, 100u);
  EXPECT_EQ((*db)->journal_bytes(), after_first);  // nothing written
  auto overlap = (*db)->ApplyAt("in", 50, span.subspan(50, 150));
  ASSERT_TRUE(overlap.ok());
  EXPECT_EQ(overlap->skipped, 50u);
  EXPECT_EQ(overlap->accepted + overlap->rejected, 100u);
  // One record: its header and 100 records of 16 bytes, not 150.
  EXPECT_LT((*db)->journal_bytes() - after_first, 100u * 16 + 64);
  const std::string before = Bytes(**db);
  db->reset();
  auto reopened = DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable(SyncPolicy::kNone));
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(SameState(Bytes(**reopened), before));
}

TEST(Durable, CheckpointStartsAFreshPair) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    auto db = *DurablePipeline::Open(B2b(), dir, Durable());
    for (uint64_t i = 0; i < 200; ++i) RandomChange(*db, i);
    ASSERT_TRUE(db->Checkpoint().ok());
    EXPECT_EQ(db->journal_number(), 2u);
    EXPECT_EQ(db->journal_bytes(), internal::kJournalHeaderBytes);
    for (uint64_t i = 200; i < 300; ++i) RandomChange(*db, i);
  }
  EXPECT_FALSE(fs::exists(dir + "/snapshot-1"));
  EXPECT_FALSE(fs::exists(dir + "/journal-1"));
  auto db = *DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_EQ(db->recovery().snapshot, 2u);
  EXPECT_EQ(db->recovery().changes_replayed, 100u);
  EXPECT_TRUE(SameState(Bytes(*db), Reference(300)));
}

TEST(Durable, AJournalPastItsLimitCheckpointsByItself) {
  TempDir tmp;
  DurableOptions o = Durable(SyncPolicy::kNone);
  o.checkpoint_after_bytes = 4096;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), o);
  for (uint64_t i = 0; i < 1000; ++i) RandomChange(*db, i);
  EXPECT_GT(db->journal_number(), 3u);
  EXPECT_LT(db->journal_bytes(), 4096u + 200);
  db.reset();
  db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), o);
  EXPECT_TRUE(SameState(Bytes(*db), Reference(1000)));
}

// A checkpoint killed at each of its steps: the directory as it leaves it.
TEST(Durable, ACheckpointStoppedAtAnyStepRecoversTheSameState) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  WriteChanges(dir, 50);
  const std::string expected = Reference(50);
  // 1. Snapshot 2 written, no journal 2 yet, the old pair still there.
  const std::string step1 = tmp.Sub("step1");
  fs::copy(dir, step1);
  {
    Pipeline p = *LoadPipeline(SnapshotSource::File(dir + "/snapshot-1"), B2b());
    for (uint64_t i = 0; i < 50; ++i) RandomChange(p, i);
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::File(step1 + "/snapshot-2")).ok());
  }
  // 2. Journal 2 started too.
  const std::string step2 = tmp.Sub("step2");
  fs::copy(step1, step2);
  ASSERT_TRUE(internal::JournalWriter::Create(step2 + "/journal-2", 2).ok());
  // 3. The old journal deleted, not the old snapshot.
  const std::string step3 = tmp.Sub("step3");
  fs::copy(step2, step3);
  fs::remove(step3 + "/journal-1");
  for (const std::string& d : {step1, step2, step3}) {
    SCOPED_TRACE(d);
    {
      auto db = DurablePipeline::Open(B2b(), d, Durable());
      ASSERT_TRUE(db.ok()) << db.status();
      EXPECT_EQ((*db)->recovery().snapshot, 2u);
      EXPECT_TRUE(SameState(Bytes(**db), expected));
    }
    EXPECT_FALSE(fs::exists(d + "/snapshot-1"));
    EXPECT_FALSE(fs::exists(d + "/journal-1"));
    EXPECT_TRUE(fs::exists(d + "/journal-2"));
  }
}

TEST(Durable, OneOpenAtATime) {
  TempDir tmp;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  auto second = DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("open elsewhere"));
  db.reset();
  EXPECT_TRUE(DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable()).ok());
}

// A call from inside Read would wait for itself: it is refused instead.
TEST(Durable, ACallFromInsideAReadIsRefusedAndOtherThreadsWait) {
  TempDir tmp;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  absl::Status nested_change, nested_read, nested_sync;
  ASSERT_TRUE(db->Read([&](const Pipeline&) {
                  nested_change = db->Add(kStart).status();
                  nested_read = db->Read([](const Pipeline&) {});
                  nested_sync = db->Sync();
                  EXPECT_EQ(db->journal_number(), 1u);  // takes no lock
                }).ok());
  for (const absl::Status& s : {nested_change, nested_read, nested_sync}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("from inside its own Read"));
  }
  // Another thread's change waits for the read instead, and goes through.
  std::thread other;
  ASSERT_TRUE(db->Read([&](const Pipeline&) {
                  other = std::thread([&] { EXPECT_TRUE(db->Add(kStart).ok()); });
                }).ok());
  other.join();
  size_t live = 0;
  ASSERT_TRUE(db->Read([&](const Pipeline& p) { live = p.size(); }).ok());
  EXPECT_EQ(live, 1u);
}

TEST(Durable, BadArgumentsAreRefused) {
  TempDir tmp;
  EXPECT_EQ(DurablePipeline::Open(nullptr, tmp.Sub("db")).status().code(),
            absl::StatusCode::kInvalidArgument);
  DurableOptions o = Durable(SyncPolicy::kInterval);
  o.sync_interval_ms = 0;
  EXPECT_THAT(DurablePipeline::Open(B2b(), tmp.Sub("db"), o).status().message(),
              HasSubstr("sync_interval_ms is 0"));
  o = Durable();
  o.create_if_missing = false;
  EXPECT_EQ(DurablePipeline::Open(B2b(), tmp.Sub("missing"), o).status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(tmp.Sub("file")) << "x";
  EXPECT_THAT(DurablePipeline::Open(B2b(), tmp.Sub("file")).status().message(),
              HasSubstr("not a directory"));
  // Another machine's directory: the snapshot's fingerprint says so.
  { auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable()); }
  auto other = *Machine::FromFile(SC_MACHINES_DIR "/cycle9.textproto");
  EXPECT_EQ(DurablePipeline::Open(other, tmp.Sub("db"), Durable()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---- faults

// Fails the `fail_at`-th write (counting from 1) with `err`, writes short
// (half, at most) when `short_writes`, and fails syncs with `sync_err` once
// `fail_syncs`; counts syncs, and can make each take a while.
class Faults : public internal::IoFaults {
 public:
  std::atomic<int> writes{0};
  std::atomic<int> syncs{0};
  int fail_at = 0;
  int err = ENOSPC;
  bool short_writes = false;
  bool fail_syncs = false;
  int sync_err = EIO;
  int sync_sleep_ms = 0;

  ssize_t Write(int fd, const void* data, size_t size) override {
    if (++writes == fail_at) {
      errno = err;
      return -1;
    }
    if (short_writes && size > 1) size = size / 2;
    return internal::IoFaults::Write(fd, data, size);
  }
  int Sync(int fd) override {
    ++syncs;
    if (sync_sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sync_sleep_ms));
    if (fail_syncs) {
      errno = sync_err;
      return -1;
    }
    return internal::IoFaults::Sync(fd);
  }
};

class Installed {
 public:
  explicit Installed(internal::IoFaults* f) { internal::SetIoFaultsForTesting(f); }
  ~Installed() { internal::SetIoFaultsForTesting(nullptr); }
};

TEST(DurableFaults, ShortWritesLoseNothing) {
  TempDir tmp;
  Faults faults;
  faults.short_writes = true;
  {
    Installed installed(&faults);
    auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
    for (uint64_t i = 0; i < 100; ++i) RandomChange(*db, i);
    ASSERT_TRUE(db->Checkpoint().ok());
    for (uint64_t i = 100; i < 200; ++i) RandomChange(*db, i);
  }
  EXPECT_GT(faults.writes, 200);
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  EXPECT_TRUE(SameState(Bytes(*db), Reference(200)));
}

// A write that fails is not applied, and nothing after it is accepted
// until a reopen has read back what reached the disk.
void CheckWriteFailure(int err, absl::StatusCode code) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  auto db = *DurablePipeline::Open(B2b(), dir, Durable());
  for (uint64_t i = 0; i < 50; ++i) RandomChange(*db, i);
  const std::string before = Bytes(*db);
  Faults faults;
  faults.fail_at = 1;
  faults.err = err;
  {
    Installed installed(&faults);
    auto added = db->AddWithKey("lost", kStart);
    EXPECT_EQ(added.status().code(), code);
    EXPECT_THAT(added.status().message(), HasSubstr("journal-1: cannot write the journal"));
    EXPECT_TRUE(SameState(Bytes(*db), before));  // not applied
    // Sticky: the next write is refused without touching the disk.
    EXPECT_EQ(db->Add(kStart).status().code(), code);
    EXPECT_EQ(faults.writes, 1);
  }
  db.reset();
  db = *DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_TRUE(SameState(Bytes(*db), before));
  EXPECT_TRUE(db->AddWithKey("lost", kStart).ok());
}

TEST(DurableFaults, ANoSpaceWriteIsRefusedAndSticks) {
  CheckWriteFailure(ENOSPC, absl::StatusCode::kResourceExhausted);
}

TEST(DurableFaults, AnIoErrorIsRefusedAndSticks) {
  CheckWriteFailure(EIO, absl::StatusCode::kUnavailable);
}

TEST(DurableFaults, AFailedSyncIsRefusedAndSticks) {
  TempDir tmp;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  ASSERT_TRUE(db->Add(kStart).ok());
  Faults faults;
  faults.fail_syncs = true;
  Installed installed(&faults);
  const auto added = db->Add(kStart);
  EXPECT_EQ(added.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(added.status().message(), HasSubstr("fsync: Input/output error"));
  size_t live = 0;
  ASSERT_TRUE(db->Read([&](const Pipeline& p) { live = p.size(); }).ok());
  EXPECT_EQ(live, 1u);
  EXPECT_FALSE(db->Add(kStart).ok());
}

TEST(DurableFaults, AFailedCheckpointKeepsTheJournalGoing) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  auto db = *DurablePipeline::Open(B2b(), dir, Durable());
  for (uint64_t i = 0; i < 60; ++i) RandomChange(*db, i);
  // The snapshot's first write fails with a full disk, then with EIO, then
  // its sync fails.
  for (const int err : {ENOSPC, EIO, 0}) {
    SCOPED_TRACE(err);
    Faults faults;
    faults.fail_at = err != 0 ? 1 : 0;
    faults.err = err;
    faults.fail_syncs = err == 0;
    Installed installed(&faults);
    const absl::Status s = db->Checkpoint();
    EXPECT_EQ(s.code(), err == ENOSPC ? absl::StatusCode::kResourceExhausted
                                      : absl::StatusCode::kUnavailable);
    EXPECT_THAT(s.message(), HasSubstr("snapshot-2"));
  }
  EXPECT_EQ(db->journal_number(), 1u);
  EXPECT_FALSE(fs::exists(dir + "/snapshot-2"));
  for (uint64_t i = 60; i < 100; ++i) RandomChange(*db, i);
  db.reset();
  db = *DurablePipeline::Open(B2b(), dir, Durable());
  EXPECT_TRUE(SameState(Bytes(*db), Reference(100)));
}

TEST(DurableFaults, WritersOnManyThreadsShareOneSync) {
  TempDir tmp;
  Faults faults;
  faults.sync_sleep_ms = 5;  // a slow disk: others queue meanwhile
  constexpr int kThreads = 4;
  constexpr int kEach = 100;
  {
    auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
    Installed installed(&faults);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < kEach; ++k) {
          EXPECT_TRUE(db->AddWithKey(absl::StrCat(t, "-", k), kStart + k).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  // Each of the 400 acknowledged writes was synced, in fewer syncs.
  EXPECT_LT(faults.syncs, kThreads * kEach * 3 / 4);
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), Durable());
  ASSERT_TRUE(db->Read([&](const Pipeline& p) {
                  EXPECT_EQ(p.size(), size_t{kThreads * kEach});
                  for (int t = 0; t < kThreads; ++t) {
                    for (int k = 0; k < kEach; ++k) {
                      EXPECT_TRUE(p.IndexOfKey(absl::StrCat(t, "-", k)));
                    }
                  }
                }).ok());
}

TEST(DurableFaults, TheIntervalPolicySyncsOnABackgroundThread) {
  TempDir tmp;
  Faults faults;
  Installed installed(&faults);
  DurableOptions o = Durable(SyncPolicy::kInterval);
  {
    // A write is acknowledged before its sync: with a minute between syncs,
    // none has run when it returns.
    o.sync_interval_ms = 60000;
    auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), o);
    const int at_open = faults.syncs;
    ASSERT_TRUE(db->Add(kStart).ok());
    EXPECT_EQ(faults.syncs, at_open);
  }
  o.sync_interval_ms = 1;
  auto db = *DurablePipeline::Open(B2b(), tmp.Sub("db"), o);
  const int at_open = faults.syncs;
  ASSERT_TRUE(db->Add(kStart).ok());
  for (int k = 0; k < 5000 && faults.syncs == at_open; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(faults.syncs, at_open);
}

// ---- crashes

// A child applies changes under `sync`, from where the directory's
// changes end, writing the number of each one acknowledged to `fd`, until
// it is killed.
[[noreturn]] void RunChild(const std::string& dir, SyncPolicy sync, int fd) {
  auto db = DurablePipeline::Open(B2b(), dir, Durable(sync));
  if (!db.ok()) _exit(3);
  for (uint64_t i = (*db)->recovery().changes_replayed;; ++i) {
    RandomChange(**db, i);
    if (::write(fd, &i, sizeof i) != sizeof i) _exit(4);
  }
}

// Kills children at random points; after each, every acknowledged change
// is there, and at most the one under way besides. The journal holds every
// change since the only snapshot (no checkpoint here), so change i is the
// journal's record i.
void CrashTrials(SyncPolicy sync, int trials) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  std::mt19937 rng(12345);
  Pipeline reference = *Pipeline::Create(B2b(), Options());
  uint64_t applied = 0;  // changes in the directory after the last trial
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE(absl::StrCat("trial ", trial));
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      RunChild(dir, sync, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    // Up to a quarter of a second: a child recovers what its elders wrote,
    // then applies hundreds to thousands of changes before it is killed.
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 250000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with " << WEXITSTATUS(status);
    uint64_t acknowledged = applied;
    uint64_t got;
    while (::read(pipe_fds[0], &got, sizeof got) == sizeof got) acknowledged = got + 1;
    ::close(pipe_fds[0]);
    auto db = DurablePipeline::Open(B2b(), dir, Durable());
    ASSERT_TRUE(db.ok()) << db.status();
    const uint64_t recovered = (*db)->recovery().changes_replayed;
    ASSERT_GE(recovered, acknowledged) << "an acknowledged change was lost";
    ASSERT_LE(recovered, acknowledged + 1) << "a change never written appeared";
    for (uint64_t i = applied; i < recovered; ++i) RandomChange(reference, i);
    ASSERT_TRUE(SameState(Bytes(**db), Bytes(reference)));
    applied = recovered;
  }
  EXPECT_GT(applied, static_cast<uint64_t>(trials));  // the children did work
  ::testing::Test::RecordProperty("changes", static_cast<int>(applied));
  std::printf("%d trials, %llu changes recovered, none acknowledged lost\n", trials,
              static_cast<unsigned long long>(applied));
}

int CrashTrialCount(int quick) {
  const char* n = std::getenv("SC_CRASH_TRIALS");  // the long mode: 200 or more
  return n != nullptr ? std::atoi(n) : quick;
}

TEST(DurableCrash, KilledWhileWritingWithSyncEveryWriteLosesNothingAcknowledged) {
  CrashTrials(SyncPolicy::kEveryWrite, CrashTrialCount(4));
}

TEST(DurableCrash, KilledWhileWritingWithIntervalSyncLosesNothingAcknowledged) {
  CrashTrials(SyncPolicy::kInterval, CrashTrialCount(2));
}

TEST(DurableCrash, KilledWhileWritingWithoutSyncLosesNothingAcknowledged) {
  // A process crash leaves the page cache to the kernel: under kNone and
  // kInterval only the machine's crash can lose acknowledged changes.
  CrashTrials(SyncPolicy::kNone, CrashTrialCount(4));
}

}  // namespace
}  // namespace salescycle
