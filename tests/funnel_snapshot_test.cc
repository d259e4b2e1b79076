// The funnel's state in pipeline snapshots: a pipeline restored from a
// snapshot reports, byte for byte, what it reported when it was saved, and
// goes on counting as if it had never stopped; a damaged funnel is an error
// naming what is wrong.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/funnel.h"
#include "salescycle/machine.h"
#include "salescycle/migration.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"
#include "salescycle/v1/snapshot.pb.h"
#include "tests/funnel_workload.h"
#include "tests/snapshot_frames.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Reports(const Pipeline& p) {
  FunnelOptions o;
  o.value_attribute = "value";
  const auto report = FunnelOf(p, o);
  EXPECT_TRUE(report.ok()) << report.status();
  return {FunnelTable(*report), FunnelJson(*report), FunnelCsv(*report),
          FunnelProtoBytes(*report), FunnelSvg(*report)};
}

TEST(FunnelSnapshot, ARestoredPipelineReportsWhatItDidAndGoesOnCounting) {
  const auto m = FunnelMachine();
  for (Cohort cohort : {Cohort::kNone, Cohort::kWeek, Cohort::kQuarter}) {
    SCOPED_TRACE(static_cast<int>(cohort));
    Timestamp now = 0;
    Pipeline p = Worked(m, cohort, &now);
    const std::vector<std::string> before = Reports(p);
    std::string bytes;
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
    auto restored = LoadPipeline(SnapshotSource::Bytes(bytes), m);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(Reports(*restored), before);
    // Onto the machine the snapshot carries, too.
    auto carried = LoadPipeline(SnapshotSource::Bytes(bytes));
    ASSERT_TRUE(carried.ok()) << carried.status();
    EXPECT_EQ(Reports(*carried), before);
    // Saved again, the same bytes; and the same steps after the restore
    // count as they would have without it.
    std::string again;
    ASSERT_TRUE(SavePipeline(*restored, SnapshotSink::Bytes(&again)).ok());
    EXPECT_EQ(again, bytes);
    Timestamp later = now;
    Steps(&p, 11, 2000, &now);
    Steps(&*restored, 11, 2000, &later);
    ASSERT_TRUE(p.Add(now).ok());
    ASSERT_TRUE(restored->Add(later).ok());
    EXPECT_EQ(Reports(*restored), Reports(p));
    EXPECT_NE(Reports(p), before);  // the steps after did count
  }
}

TEST(FunnelSnapshot, APipelineWithoutAFunnelIsWrittenAsFormat2) {
  auto p = *Pipeline::Create(FunnelMachine());
  ASSERT_TRUE(p.Add(kStart).ok());
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  const auto frames = SnapshotFrames(bytes);
  EXPECT_EQ(frames[0].header().format_version(), 2u);
  EXPECT_FALSE(frames[0].header().has_funnel());
  EXPECT_EQ(frames.size(), 3u);  // header, chunk, trailer
  auto restored = LoadPipeline(SnapshotSource::Bytes(bytes), FunnelMachine());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(FunnelOf(*restored).status().code(), absl::StatusCode::kFailedPrecondition);
}

class DamagedFunnel : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_.clear();
    Timestamp now = 0;
    Pipeline p = Worked(FunnelMachine(), Cohort::kMonth, &now);
    ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes_)).ok());
    frames_ = SnapshotFrames(bytes_);
    // 5: some cycles went out of order (snapshot_format.h).
    ASSERT_EQ(frames_[0].header().format_version(), 5u);
    ASSERT_TRUE(frames_[frames_.size() - 2].has_funnel());
  }
  v1::PipelineChunk* Chunk() { return frames_[1].mutable_chunk(); }
  v1::PipelineFunnel* Funnel() { return frames_[frames_.size() - 2].mutable_funnel(); }
  absl::Status Load() {
    return LoadPipeline(SnapshotSource::Bytes(EncodeSnapshotFrames(frames_)), FunnelMachine())
        .status();
  }
  void ExpectDataLoss(absl::string_view what) {
    const absl::Status s = Load();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(s.message(), HasSubstr(what));
  }
  std::string bytes_;
  std::vector<v1::PipelineFrame> frames_;
};

TEST_F(DamagedFunnel, TheUndamagedFramesLoad) { EXPECT_TRUE(Load().ok()); }

TEST_F(DamagedFunnel, NoFunnelFrame) {
  frames_.erase(frames_.end() - 2);
  ExpectDataLoss("the header declares a funnel, but no funnel frame follows the chunks");
}

TEST_F(DamagedFunnel, AFunnelFrameTheHeaderDoesNotDeclare) {
  frames_[0].mutable_header()->clear_funnel();
  for (auto& f : frames_) {
    if (!f.has_chunk()) continue;
    v1::PipelineChunk* c = f.mutable_chunk();
    c->clear_funnel_added_before_entry();
    c->clear_funnel_visited();
    c->clear_funnel_flags();
    c->clear_funnel_furthest();
    c->clear_funnel_cycle_start_offset_deltas();
    c->clear_funnel_cycle_start_before_entry();
    c->clear_funnel_win_offset_deltas();
    c->clear_funnel_last_win_before_entry();
    c->clear_funnel_wins();
    c->clear_funnel_loss_offset_deltas();
    c->clear_funnel_loss_periods();
    c->clear_funnel_activity_offset_deltas();
    c->clear_funnel_activities();
  }
  ExpectDataLoss("a funnel frame, but the header declares none");
}

TEST_F(DamagedFunnel, FunnelColumnsTheHeaderDoesNotDeclare) {
  frames_[0].mutable_header()->clear_funnel();
  ExpectDataLoss("chunk 0: holds funnel columns, but the header declares no funnel");
}

TEST_F(DamagedFunnel, AnUnknownCohortKind) {
  frames_[0].mutable_header()->mutable_funnel()->set_cohort(9);
  ExpectDataLoss("the funnel's cohort kind 9 is unknown");
}

TEST_F(DamagedFunnel, ColumnsOfTheWrongLength) {
  Chunk()->mutable_funnel_visited()->pop_back();
  ExpectDataLoss("chunk 0: funnel columns hold 296 addition times, 295 visited bytes");
}

TEST_F(DamagedFunnel, AStageOutOfRange) {
  (*Chunk()->mutable_funnel_visited())[0] = static_cast<char>(0x80);  // stage 7 of 6
  ExpectDataLoss("deal 0 has been in stage 7 of 6");
  SetUp();
  Chunk()->set_funnel_furthest(0, 7);
  ExpectDataLoss("deal 0 got furthest to stage 6 of 6");
}

TEST_F(DamagedFunnel, CycleStarts) {
  ASSERT_GT(Chunk()->funnel_cycle_start_offset_deltas_size(), 0);  // reactivated deals
  Chunk()->mutable_funnel_cycle_start_before_entry()->RemoveLast();
  ExpectDataLoss("cycle start offsets for");
  SetUp();
  Chunk()->set_funnel_cycle_start_offset_deltas(0, 100000);
  ExpectDataLoss("cycle start offset 99999 is not a live deal");
}

TEST_F(DamagedFunnel, Wins) {
  ASSERT_GT(Chunk()->funnel_wins_size(), 0);  // the machine has new_cycle moves
  Chunk()->set_funnel_wins(0, 0);
  ExpectDataLoss("won 0 times");
  SetUp();
  Chunk()->mutable_funnel_wins()->RemoveLast();
  ExpectDataLoss("win counts for");
  SetUp();
  Chunk()->mutable_funnel_wins()->RemoveLast();
  Chunk()->mutable_funnel_last_win_before_entry()->RemoveLast();
  ExpectDataLoss("win offsets for");
  SetUp();
  Chunk()->set_funnel_win_offset_deltas(0, 100000);
  ExpectDataLoss("win offset 99999 is not a live deal");
}

TEST_F(DamagedFunnel, Activities) {
  ASSERT_GT(Chunk()->funnel_activities_size(), 0);
  Chunk()->mutable_funnel_activities()->RemoveLast();
  ExpectDataLoss("activity offsets for");
  SetUp();
  Chunk()->set_funnel_activity_offset_deltas(0, 100000);
  ExpectDataLoss("activity offset 99999 is not a live deal");
}

TEST_F(DamagedFunnel, ClosePeriods) {
  ASSERT_GT(Funnel()->closes_size(), 1);
  Funnel()->mutable_closes(0)->set_start(Funnel()->closes(0).start() + 5);
  ExpectDataLoss("is not the start of a period, or is there twice");
  SetUp();
  *Funnel()->add_closes() = Funnel()->closes(0);
  ExpectDataLoss("is not the start of a period, or is there twice");
  SetUp();
  Funnel()->mutable_closes(0)->mutable_cycle_lengths()->add_counts(1);
  ExpectDataLoss("funnel counters of the closes from");
}

// A machine where a lost deal can come back in its cycle keeps the period
// of each live loss, so that a later win takes it back there.
TEST(FunnelSnapshot, LossPeriodsMustBeCountedLosses) {
  auto m = Machine::FromTextProto(R"(name: "back" initial_stage: "lead"
      stages { id: "lead" } stages { id: "won" kind: WON } stages { id: "lost" kind: LOST }
      events { id: "win" } events { id: "lose" } events { id: "back" }
      transitions { from_stage: "lead" event: "win" to: "won" }
      transitions { from_stage: "lead" event: "lose" to: "lost" }
      transitions { from_stage: "lost" event: "back" to: "lead" })");
  ASSERT_TRUE(m.ok()) << m.status();
  PipelineOptions o;
  o.analytics.enabled = true;
  o.analytics.cohort = Cohort::kMonth;
  auto p = *Pipeline::Create(*m, o);
  for (int d = 0; d < 3; ++d) ASSERT_TRUE(p.Add(kStart).ok());
  ASSERT_TRUE(p.Fire(0, "lose", kStart + 10).ok());
  ASSERT_TRUE(p.Fire(1, "lose", kStart + 20).ok());
  std::string bytes;
  ASSERT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&bytes)).ok());
  auto frames = SnapshotFrames(bytes);
  v1::PipelineChunk* chunk = frames[1].mutable_chunk();
  ASSERT_EQ(chunk->funnel_loss_periods_size(), 2);
  auto load = [&] {
    return LoadPipeline(SnapshotSource::Bytes(EncodeSnapshotFrames(frames)), *m).status();
  };
  EXPECT_TRUE(load().ok());
  v1::PipelineFunnel* funnel = frames[frames.size() - 2].mutable_funnel();
  funnel->mutable_closes(0)->set_lost(1);
  EXPECT_THAT(load().message(),
              HasSubstr("2 live deals were lost in the period from 1767225600, which counts "
                        "1 losses"));
  funnel->mutable_closes(0)->set_lost(2);
  chunk->mutable_funnel_loss_periods()->RemoveLast();
  EXPECT_THAT(load().message(), HasSubstr("2 loss period offsets for 1 loss periods"));
}

TEST_F(DamagedFunnel, AnUnknownOutcome) {
  Chunk()->set_funnel_flags(0, 8);  // 1 won, 2 lost, 4 out of order
  ExpectDataLoss("deal 0 has funnel outcome 8");
  // Above the three bits, where a cycle out of order stays counted in
  // order: 1 + a position on the funnel line, which has 6 stages.
  SetUp();
  Chunk()->set_funnel_flags(0, 4 | (7 << 3));
  ExpectDataLoss("deal 0 has funnel outcome 60");
  SetUp();
  Chunk()->set_funnel_flags(0, 256);
  ExpectDataLoss("deal 0 has funnel outcome 256");
  SetUp();
  Chunk()->set_funnel_flags(0, 4 | (1 << 3));
  frames_[0].mutable_header()->set_format_version(4);
  ExpectDataLoss("deal 0 has an in-order mark (funnel outcome 12), which format 4 does not hold");
}

TEST_F(DamagedFunnel, CountersThatDoNotFitTheHeader) {
  Funnel()->mutable_total()->mutable_stages()->RemoveLast();
  ExpectDataLoss("funnel counters of all deals cover 5 stages");
  SetUp();
  Funnel()->mutable_total()->mutable_furthest_in_order()->RemoveLast();
  ExpectDataLoss("cover 6 stages, 6 furthest counts and 5 in order");
  SetUp();
  Funnel()->mutable_total()->set_furthest_in_order(0, 1u << 30);
  ExpectDataLoss("count more cycles in order (");
  SetUp();
  Funnel()->mutable_total()->mutable_flow_to()->RemoveLast();
  ExpectDataLoss("funnel counters of all deals: the flow's columns differ in length");
  SetUp();
  Funnel()->mutable_total()->set_flow_to(0, 6);
  ExpectDataLoss("a flow from stage");
  SetUp();
  // The moves are the flow's sum: a count that differs is damage.
  Funnel()->mutable_total()->set_moves(Funnel()->total().moves() + 1);
  ExpectDataLoss("funnel counters of all deals: " +
                 std::to_string(Funnel()->total().moves()) + " moves, but the flow holds");
  SetUp();
  Funnel()->mutable_total()->set_rejection_outcome(0, 9);
  ExpectDataLoss("rejection 0 names stage");
  SetUp();
  Funnel()->mutable_total()->mutable_rejection_count()->RemoveLast();
  ExpectDataLoss("the rejections' columns differ in length");
  SetUp();
  v1::FunnelHistogram* h =
      Funnel()->mutable_total()->mutable_stages(0)->mutable_time_in_stage();
  h->set_buckets(0, 1u << 20);
  ExpectDataLoss("stage 0 has duration bucket 1048576");
  SetUp();
  Funnel()->mutable_total()->mutable_stages(0)->mutable_time_in_stage()->add_counts(1);
  ExpectDataLoss("buckets and");
}

TEST_F(DamagedFunnel, ACohortThatDoesNotStartACohort) {
  Funnel()->mutable_cohorts(0)->set_cohort_start(kStart + 5);
  ExpectDataLoss("funnel cohort start 1767225605 is not the start of a cohort");
  SetUp();
  *Funnel()->add_cohorts() = Funnel()->cohorts(0);
  ExpectDataLoss("or is there twice");
}

// A snapshot of kFunnelSpec's machine (version 0) loaded onto `onto`, its
// version 2, through a migration that maps stages by name.
absl::StatusOr<Pipeline> LoadedAsVersion2(absl::string_view bytes,
                                          std::shared_ptr<const Machine> onto) {
  auto migration = Migration::FromTextProto(R"(machine: "fs" from_version: 0 to_version: 2)");
  if (!migration.ok()) return migration.status();
  RestoreOptions options;
  options.migrations.push_back(*migration);
  return LoadPipeline(SnapshotSource::Bytes(bytes), std::move(onto), options);
}

// A migration that removes a stage deals have been through: the funnel's
// counts for it must go somewhere, which only the caller can say.
TEST(FunnelSnapshot, CountsForAStageTheTargetLacksNeedAMapping) {
  Timestamp now = 0;
  Pipeline p = Worked(FunnelMachine(), Cohort::kNone, &now);
  // Version 2: the same machine without the nurture stage.
  std::string spec = absl::StrReplaceAll(
      kFunnelSpec, {{R"(name: "fs")", R"(name: "fs" version: 2)"},
                    {R"(stages { id: "nurture" side_stage: true })", ""}});
  auto without_nurture = Machine::FromTextProto(spec);
  ASSERT_TRUE(without_nurture.ok()) << without_nurture.status();
  // No live deal is in nurture: only the funnel's counts stop the load.
  for (DealIndex d = 0; d < p.slot_count(); ++d) {
    if (p.Contains(d) && p.stage(d) == 4) {
      ASSERT_TRUE(p.MoveTo(d, StageId{0}, now)->moved());
    }
  }
  const auto loaded = LoadedAsVersion2(SnapshotBytes(p), *without_nurture);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("has funnel counts for stage \"nurture\", which"));
}

// A load maps each deal's visited stages to the machine's ids (a lookup a
// byte, for machines of at most 16 stages): onto a version that declares
// the same stages in another order, every figure reads the same by stage,
// and the deals go on counting as they would have (a move into a stage
// already visited is a re-entry; a win counts for every stage the cycle
// visited), which they would not if the bits kept their old places.
TEST(FunnelSnapshot, VisitedStagesAreMappedOntoAReorderedMachine) {
  Timestamp now = 0;
  const auto m = FunnelMachine();
  Pipeline p = Worked(m, Cohort::kNone, &now);
  const std::string stages_v1 =
      R"(stages { id: "lead" } stages { id: "demo" } stages { id: "proposal" }
      stages { id: "won" kind: WON } stages { id: "nurture" side_stage: true }
      stages { id: "lost" kind: LOST reason_from_event: true })";
  const std::string stages_v2 =
      R"(stages { id: "lost" kind: LOST reason_from_event: true }
      stages { id: "nurture" side_stage: true } stages { id: "won" kind: WON }
      stages { id: "lead" } stages { id: "demo" } stages { id: "proposal" })";
  ASSERT_NE(std::string(kFunnelSpec).find(stages_v1), std::string::npos);
  auto reordered = Machine::FromTextProto(absl::StrReplaceAll(
      kFunnelSpec, {{R"(name: "fs")", R"(name: "fs" version: 2)"}, {stages_v1, stages_v2}}));
  ASSERT_TRUE(reordered.ok()) << reordered.status();
  ASSERT_EQ(*(*reordered)->FindStage("lead"), StageId{3});
  const std::string bytes = SnapshotBytes(p);
  auto loaded = LoadedAsVersion2(bytes, *reordered);
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  // Each stage's counts, by name.
  auto by_name = [](const Pipeline& q) {
    const auto report = FunnelOf(q, FunnelOptions());
    EXPECT_TRUE(report.ok()) << report.status();
    std::map<std::string, std::vector<uint64_t>> out;
    for (const StageFunnel& s : report->total.stages) {
      out[s.id] = {s.entered, s.reentries, s.reached, s.reached_in_order, s.moves_in,
                   s.now, static_cast<uint64_t>(s.conversion_to_won * 1e9)};
    }
    return out;
  };
  EXPECT_EQ(by_name(*loaded), by_name(p));
  // Every open deal back to lead, then on to proposal and won: the same on
  // both sides, each stage named rather than numbered.
  for (Pipeline* q : {&p, &*loaded}) {
    Timestamp t = now;
    for (DealIndex d = 0; d < q->slot_count(); ++d) {
      if (!q->Contains(d) || q->machine().stage(q->stage(d)).kind != StageKind::kOpen) continue;
      for (const char* to : {"lead", "proposal", "won"}) {
        const auto r = q->MoveTo(d, *q->machine().FindStage(to), ++t);
        ASSERT_TRUE(r.ok()) << r.status();
      }
    }
  }
  const auto after = by_name(p);
  EXPECT_EQ(by_name(*loaded), after);
  EXPECT_GT(after.at("lead")[1], by_name(*LoadPipeline(SnapshotSource::Bytes(bytes), m))
                                     .at("lead")[1]);  // the moves did re-enter lead
}

}  // namespace
}  // namespace salescycle
