// Input positions (Pipeline::ApplyAt): records at offsets applied before
// are passed over, positions are saved in snapshots, and a replay after a
// restore applies each record exactly once.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/funnel.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"
#include "src/snapshot_format.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int kDeals = 300;

// A pipeline of kDeals deals of cycle9 added at time 0, and a stream of
// events for them in time order.
struct Fixture {
  std::shared_ptr<const Machine> machine = LoadTemplate("cycle9.textproto");
  std::vector<EventRecord> stream;

  explicit Fixture(size_t events, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    for (size_t i = 0; i < events; ++i) {
      stream.push_back(EventRecord{static_cast<DealIndex>(rng() % kDeals),
                                   static_cast<uint32_t>(rng() % machine->num_events()),
                                   static_cast<Timestamp>(10 + i)});
    }
  }
  Pipeline Empty() const {
    PipelineOptions options;
    options.analytics.enabled = true;  // the funnel must come out exactly once too
    auto p = Pipeline::Create(machine, options);
    EXPECT_TRUE(p.ok());
    for (int i = 0; i < kDeals; ++i) EXPECT_TRUE(p->Add(0).ok());
    return *std::move(p);
  }
  absl::Span<const EventRecord> Slice(size_t from, size_t to) const {
    return absl::MakeConstSpan(stream).subspan(from, to - from);
  }
};

// The deals and the funnel, positions aside (they differ by design between
// a pipeline fed at offsets and one fed by Apply).
std::string StateBytes(const Pipeline& p) {
  std::string out;
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    absl::StrAppend(&out, p.stage(d), "@", p.entered_at(d), ";");
  }
  auto funnel = FunnelOf(p);
  EXPECT_TRUE(funnel.ok());
  return out + FunnelJson(*funnel);
}

TEST(Positions, ABatchAppliedTwiceIsAppliedOnce) {
  Fixture f(1000);
  Pipeline once = f.Empty();
  ASSERT_TRUE(once.Apply(f.stream).ok());

  Pipeline p = f.Empty();
  auto first = p.ApplyAt("events.csv", 0, f.stream);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->skipped, 0u);
  EXPECT_EQ(first->accepted + first->rejected, 1000u);
  EXPECT_EQ(p.Position("events.csv"), 1000u);
  const std::string after_first = SnapshotBytes(p);

  auto again = p.ApplyAt("events.csv", 0, f.stream);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->skipped, 1000u);
  EXPECT_EQ(again->accepted + again->rejected, 0u);
  EXPECT_EQ(SnapshotBytes(p), after_first);  // nothing changed, not even the funnel
  EXPECT_EQ(StateBytes(p), StateBytes(once));
}

TEST(Positions, OverlappingBatchesApplyTheNewRecordsOnly) {
  Fixture f(1000);
  Pipeline once = f.Empty();
  ASSERT_TRUE(once.Apply(f.stream).ok());
  Pipeline p = f.Empty();
  ASSERT_TRUE(p.ApplyAt("s", 0, f.Slice(0, 600)).ok());
  auto overlap = p.ApplyAt("s", 400, f.Slice(400, 1000));
  ASSERT_TRUE(overlap.ok());
  EXPECT_EQ(overlap->skipped, 200u);
  EXPECT_EQ(overlap->accepted + overlap->rejected, 400u);
  EXPECT_EQ(p.Position("s"), 1000u);
  EXPECT_EQ(StateBytes(p), StateBytes(once));
}

TEST(Positions, SourcesAreIndependentAndListedInOrder) {
  Fixture f(100);
  Pipeline p = f.Empty();
  ASSERT_TRUE(p.ApplyAt("shard-b/part-1", 0, f.Slice(0, 50)).ok());
  ASSERT_TRUE(p.ApplyAt("shard-a/part-0", 0, f.Slice(50, 100)).ok());
  EXPECT_EQ(p.Position("shard-a/part-0"), 50u);
  EXPECT_EQ(p.Position("never"), 0u);
  EXPECT_THAT(p.Positions(), ElementsAre(Pair("shard-a/part-0", 50u), Pair("shard-b/part-1", 50u)));
  // Moves by stage share the sources' positions.
  const std::vector<StageRecord> moves = {{0, 1, 500}};
  auto m = p.ApplyMovesAt("shard-a/part-0", 49, moves);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->skipped, 1u);
  EXPECT_EQ(p.Position("shard-a/part-0"), 50u);
}

// Offsets may jump forward; a record below the position is taken as applied
// (inputs come in offset order), and the position never goes back.
TEST(Positions, AGapIsNoErrorAndThePositionNeverGoesBack) {
  Fixture f(30);
  Pipeline p = f.Empty();
  ASSERT_TRUE(p.ApplyAt("topic/3", 0, f.Slice(0, 10)).ok());
  auto gap = p.ApplyAt("topic/3", 100, f.Slice(10, 20));
  ASSERT_TRUE(gap.ok());
  EXPECT_EQ(gap->skipped, 0u);
  EXPECT_EQ(p.Position("topic/3"), 110u);
  auto late = p.ApplyAt("topic/3", 50, f.Slice(20, 30));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->skipped, 10u);
  EXPECT_EQ(p.Position("topic/3"), 110u);
  auto empty = p.ApplyAt("topic/3", 500, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(p.Position("topic/3"), 500u);  // an empty batch marks a gap
}

TEST(Positions, AFailedBatchAppliesNothingAndKeepsThePosition) {
  Fixture f(10);
  Pipeline p = f.Empty();
  ASSERT_TRUE(p.ApplyAt("s", 0, f.Slice(0, 5)).ok());
  std::vector<EventRecord> bad(f.stream.begin() + 5, f.stream.end());
  bad[3].deal = kDeals + 7;  // past the slots: the whole batch fails
  const std::string before = SnapshotBytes(p);
  auto r = p.ApplyAt("s", 5, bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.Position("s"), 5u);
  EXPECT_EQ(SnapshotBytes(p), before);
}

TEST(Positions, BadSourcesAndOffsetsAreErrors) {
  Fixture f(3);
  Pipeline p = f.Empty();
  EXPECT_THAT(p.ApplyAt("", 0, f.stream).status().message(),
              HasSubstr("named by 1 to 1024 bytes, not 0"));
  EXPECT_THAT(p.ApplyAt(std::string(1025, 'x'), 0, f.stream).status().message(),
              HasSubstr("not 1025"));
  EXPECT_THAT(p.ApplyAt("caf\xe9", 0, f.stream).status().message(),
              HasSubstr("is not UTF-8 at byte 3"));
  EXPECT_THAT(p.ApplyAt("s", ~uint64_t{0} - 1, f.stream).status().message(),
              HasSubstr("3 records from offset 18446744073709551614 run past"));
  EXPECT_TRUE(p.Positions().empty());
}

// The promise: snapshot after any batch, restore, replay the whole input
// from its first offset, and the result is one pass over it, byte for
// byte (deals, funnel, positions).
TEST(Positions, AReplayAfterARestoreIsExactlyOnce) {
  Fixture f(3000, 11);
  Pipeline whole = f.Empty();
  for (size_t at = 0; at < f.stream.size(); at += 250) {
    ASSERT_TRUE(whole.ApplyAt("in", at, f.Slice(at, std::min(at + 250, f.stream.size()))).ok());
  }
  const std::string expected = SnapshotBytes(whole);
  for (size_t cut : {0, 250, 1250, 2750, 3000}) {
    Pipeline p = f.Empty();
    for (size_t at = 0; at < cut; at += 250) {
      ASSERT_TRUE(p.ApplyAt("in", at, f.Slice(at, at + 250)).ok());
    }
    const std::string saved = SnapshotBytes(p);
    auto restored = LoadPipeline(SnapshotSource::Bytes(saved), f.machine);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(restored->Position("in"), cut);
    uint64_t skipped = 0;
    for (size_t at = 0; at < f.stream.size(); at += 250) {
      auto r = restored->ApplyAt("in", at, f.Slice(at, std::min(at + 250, f.stream.size())));
      ASSERT_TRUE(r.ok());
      skipped += r->skipped;
    }
    EXPECT_EQ(skipped, cut);
    EXPECT_EQ(SnapshotBytes(*restored), expected) << "cut at " << cut;
  }
}

// The header frame's first field is format_version (tag 0x08 inside the
// header message): magic (8), frame length (4), crc (4), PipelineFrame{
// header (0x0a len) PipelineHeader{0x08 version}}: the version byte follows
// 0x0a, the length varint and 0x08.
uint32_t FormatVersionOf(const std::string& bytes) {
  size_t i = 16;
  EXPECT_EQ(static_cast<uint8_t>(bytes[i++]), 0x0a);
  while (static_cast<uint8_t>(bytes[i]) & 0x80) ++i;
  ++i;
  EXPECT_EQ(static_cast<uint8_t>(bytes[i++]), 0x08);
  return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i]));
}

TEST(Positions, OnlyAPipelineWithPositionsIsWrittenAsFormat4) {
  Fixture f(10);
  Pipeline p = f.Empty();
  const std::string without = SnapshotBytes(p);
  ASSERT_TRUE(p.ApplyAt("s", 0, f.stream).ok());
  const std::string with = SnapshotBytes(p);
  const auto version_of = FormatVersionOf;
  EXPECT_EQ(version_of(without), internal::kFormatVersionWithFunnel);
  EXPECT_EQ(version_of(with), internal::kFormatVersionWithPositions);
  auto loaded = LoadPipeline(SnapshotSource::Bytes(with), f.machine);
  ASSERT_TRUE(loaded.ok());
  EXPECT_THAT(loaded->Positions(), ElementsAre(Pair("s", 10u)));
  // LoadPipelineInto replaces the positions with the snapshot's.
  Pipeline other = f.Empty();
  ASSERT_TRUE(other.ApplyAt("elsewhere", 0, f.stream).ok());
  ASSERT_TRUE(LoadPipelineInto(SnapshotSource::Bytes(without), &other).ok());
  EXPECT_TRUE(other.Positions().empty());
}

// A funnel cycle out of order keeps where it was counted in order (so that
// a move to another pipeline takes that count along): only a pipeline with
// one is written as format 5, and it comes back with the same counts.
TEST(Positions, ACycleOutOfOrderIsWrittenAsFormat5) {
  auto m = LoadTemplate("cycle9.textproto");
  PipelineOptions o;
  o.analytics.enabled = true;
  auto p = Pipeline::Create(m, o);
  ASSERT_TRUE(p.ok());
  const DealIndex d = *p->Add(0);
  Timestamp t = 1;
  for (const char* e : {"contact", "qualify", "present"}) {
    ASSERT_TRUE(p->Fire(d, *m->FindEvent(e), t++)->moved());
  }
  EXPECT_EQ(FormatVersionOf(SnapshotBytes(*p)), internal::kFormatVersionWithFunnel);
  // presentation -> negotiation passes objection handling by: out of order,
  // still counted in order at presentation (the fourth stage of the line).
  ASSERT_TRUE(p->Fire(d, *m->FindEvent("negotiate"), t++)->moved());
  const std::string bytes = SnapshotBytes(*p);
  EXPECT_EQ(FormatVersionOf(bytes), internal::kFormatVersion);
  auto loaded = LoadPipeline(SnapshotSource::Bytes(bytes), m);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(SnapshotBytes(*loaded), bytes);
  auto report = FunnelOf(*loaded);
  ASSERT_TRUE(report.ok());
  const auto& stages = report->total.stages;
  EXPECT_EQ(stages[*m->FindStage("presentation")].reached_in_order, 1u);
  EXPECT_EQ(stages[*m->FindStage("negotiation")].reached_in_order, 0u);
  EXPECT_EQ(stages[*m->FindStage("negotiation")].reached, 1u);
  // Moved to a pipeline of its own, the deal takes its in-order count along.
  std::string part;
  const std::vector<DealIndex> deals = {d};
  ASSERT_TRUE(SavePipelinePart(*p, deals, PartCounters::kWithout, SnapshotSink::Bytes(&part)).ok());
  auto alone = LoadPipeline(SnapshotSource::Bytes(part), m);
  ASSERT_TRUE(alone.ok()) << alone.status();
  auto moved = FunnelOf(*alone);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->total.stages[*m->FindStage("presentation")].reached_in_order, 1u);
  EXPECT_EQ(moved->total.stages[*m->FindStage("negotiation")].reached, 1u);
}

}  // namespace
}  // namespace salescycle
