// Splitting and joining pipelines (SavePipelinePart, LoadPipelines,
// DealsInKeyGroups, ShardedPipeline::Rescale): shards rescaled by moving
// key groups keep every deal as it was and, merged, the funnel of one
// pipeline that saw every event, byte for byte, however often they are
// rescaled and whatever the deals do after they move.
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/funnel.h"
#include "salescycle/funnel_state.h"
#include "salescycle/sharded.h"
#include "salescycle/snapshot.h"
#include "tests/snapshot_frames.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

constexpr Timestamp kStart = 1767225600;  // 2026-01-01
constexpr int kDeals = 400;

struct Case {
  const char* machine;
  Cohort cohort;
};

class Rescale : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    m_ = LoadTemplate(GetParam().machine);
    ASSERT_NE(m_, nullptr);
    options_.analytics.enabled = true;
    options_.analytics.cohort = GetParam().cohort;
    options_.history_limit = 4;
  }

  std::string Key(int i) const { return absl::StrCat("deal-", i); }

  // The attributes b2b's guards and required attributes ask for, where the
  // machine has them, so that random events carry deals to the end.
  void Prepare(Pipeline* p, DealIndex d) {
    const std::vector<std::pair<const char*, AttributeValue>> values = {
        {"budget", AttributeValue::Int64(20000)},  {"authority", AttributeValue::Bool(true)},
        {"need", AttributeValue::Bool(true)},      {"timeline_days", AttributeValue::Int64(90)},
        {"deal_value", AttributeValue::Double(1500)}, {"discount_pct", AttributeValue::Double(5)},
        {"decision_maker", AttributeValue::String("cfo")}};
    for (const auto& [name, value] : values) {
      if (const auto a = m_->FindAttribute(name); a.ok()) {
        ASSERT_TRUE(p->Set(d, *a, value).ok());
      }
    }
  }

  // Random events for every deal, to `one` and to the shard that holds it.
  void Phase(int events, uint32_t seed, Timestamp* clock) {
    std::mt19937 rng(seed);
    std::vector<std::vector<EventRecord>> per_shard(sharded_->num_shards());
    std::vector<EventRecord> all;
    for (int i = 0; i < events; ++i) {
      const std::string key = Key(static_cast<int>(rng() % kDeals));
      const auto event = static_cast<uint32_t>(rng() % m_->num_events());
      *clock += 1 + static_cast<Timestamp>(rng() % 7200);
      const std::optional<ShardedDeal> where = sharded_->FindByKey(key);
      ASSERT_TRUE(where.has_value()) << key;
      per_shard[where->shard].push_back({where->deal, event, *clock});
      all.push_back({*one_->IndexOfKey(key), event, *clock});
    }
    const std::vector<absl::Span<const EventRecord>> batches(per_shard.begin(), per_shard.end());
    auto results = sharded_->ApplyEach(batches);
    ASSERT_TRUE(results.ok()) << results.status();
    uint64_t accepted = 0;
    for (const BatchResult& r : *results) accepted += r.accepted;
    auto r = one_->Apply(all);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(accepted, r->accepted);
  }

  // Every deal where `one` has it, in the shard that owns its key; the
  // shards' merged funnel is `one`'s, and no shard's own counts went below
  // zero (an unsigned count that did would print 20 digits).
  void ExpectTheWholeIsOnePipeline() {
    EXPECT_EQ(sharded_->size(), static_cast<size_t>(kDeals));
    for (int i = 0; i < kDeals; ++i) {
      const std::string key = Key(i);
      const std::optional<ShardedDeal> where = sharded_->FindByKey(key);
      ASSERT_TRUE(where.has_value()) << key;
      EXPECT_EQ(where->shard, sharded_->ShardOfKey(key));
      const Pipeline& shard = sharded_->shard(where->shard);
      const DealIndex o = *one_->IndexOfKey(key);
      EXPECT_EQ(shard.stage(where->deal), one_->stage(o)) << key;
      EXPECT_EQ(shard.entered_at(where->deal), one_->entered_at(o)) << key;
      EXPECT_EQ(shard.History(where->deal).size(), one_->History(o).size()) << key;
    }
    auto whole = CaptureFunnel(*one_);
    ASSERT_TRUE(whole.ok());
    FunnelOptions at;
    at.now = whole->as_of();
    for (uint32_t s = 0; s < sharded_->num_shards(); ++s) {
      auto state = CaptureFunnel(sharded_->shard(s), at);
      ASSERT_TRUE(state.ok()) << state.status();
      const std::string own = FunnelJson(FunnelOf(*state));
      std::smatch wrapped;
      EXPECT_FALSE(std::regex_search(own, wrapped, std::regex("\"[a-z_]+\": [0-9]{15,}[,}]")))
          << wrapped.str();
    }
    auto merged = sharded_->CaptureFunnel();
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_EQ(FunnelJson(FunnelOf(*merged)), FunnelJson(FunnelOf(*whole)));
    EXPECT_EQ(FunnelTable(FunnelOf(*merged)), FunnelTable(FunnelOf(*whole)));
  }

  std::shared_ptr<const Machine> m_;
  PipelineOptions options_;
  std::optional<Pipeline> one_;
  std::optional<ShardedPipeline> sharded_;
};

// 3 shards, then 2, then 5, then 1 (ShardedPipeline::Rescale), with events
// between every rescale: deals move mid-cycle, reach further stages, lose
// and win (cycle9 reopens a lost deal in the same cycle; b2b starts new
// cycles) where they moved to.
TEST_P(Rescale, MovedKeyGroupsKeepTheWholeFunnel) {
  auto one = Pipeline::Create(m_, options_);
  ASSERT_TRUE(one.ok());
  one_.emplace(*std::move(one));
  ShardedOptions options;
  options.num_groups = 64;
  options.shards = 3;
  options.pipeline = options_;
  auto sharded = ShardedPipeline::Create(m_, options);
  ASSERT_TRUE(sharded.ok());
  sharded_.emplace(*std::move(sharded));
  for (int i = 0; i < kDeals; ++i) {
    // Created over four months: several monthly and weekly cohorts.
    const Timestamp created = kStart + static_cast<Timestamp>(i) * 26000;
    auto where = sharded_->AddWithKey(Key(i), created);
    ASSERT_TRUE(where.ok());
    Prepare(&sharded_->shard(where->shard), where->deal);
    auto o = one_->AddWithKey(Key(i), created);
    ASSERT_TRUE(o.ok());
    Prepare(&*one_, *o);
  }
  Timestamp clock = kStart + kDeals * 26000;
  uint32_t seed = 1;
  for (const uint32_t to : {2u, 5u, 1u}) {
    Phase(3000, seed++, &clock);
    ExpectTheWholeIsOnePipeline();
    ASSERT_TRUE(sharded_->Rescale(to).ok());
    ASSERT_EQ(sharded_->num_shards(), to);
    ExpectTheWholeIsOnePipeline();
  }
  Phase(3000, seed, &clock);
  ExpectTheWholeIsOnePipeline();
}

INSTANTIATE_TEST_SUITE_P(Machines, Rescale,
                         ::testing::Values(Case{"cycle9.textproto", Cohort::kMonth},
                                           Case{"b2b.textproto", Cohort::kWeek},
                                           Case{"ecommerce.textproto", Cohort::kNone}));

class SplitAndJoin : public ::testing::Test {
 protected:
  void SetUp() override {
    PipelineOptions o;
    o.analytics.enabled = true;
    auto p = Pipeline::Create(m_, o);
    ASSERT_TRUE(p.ok());
    p_.emplace(*std::move(p));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(p_->AddWithKey(absl::StrCat("k", i), 100 + i).ok());
  }
  std::string Part(absl::Span<const DealIndex> deals, PartCounters counters) {
    std::string out;
    const absl::Status s = SavePipelinePart(*p_, deals, counters, SnapshotSink::Bytes(&out));
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  std::shared_ptr<const Machine> m_ = LoadTemplate("cycle9.textproto");
  std::optional<Pipeline> p_;
};

TEST_F(SplitAndJoin, APartNamesTheDealItCannotTake) {
  ASSERT_TRUE(p_->Remove(3).ok());
  std::string out;
  const std::vector<DealIndex> removed = {1, 3};
  absl::Status s = SavePipelinePart(*p_, removed, PartCounters::kWithout, SnapshotSink::Bytes(&out));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("deals[1] = 3 is not a live deal"));
  const std::vector<DealIndex> twice = {4, 5, 4};
  s = SavePipelinePart(*p_, twice, PartCounters::kWithout, SnapshotSink::Bytes(&out));
  EXPECT_THAT(s.message(), HasSubstr("deals[2] = 4 is given twice"));
  EXPECT_TRUE(out.empty());
}

TEST_F(SplitAndJoin, APartKeepsItsDealsInItsOrder) {
  const std::vector<DealIndex> deals = {7, 2};
  ASSERT_TRUE(p_->Fire(7, *m_->FindEvent("contact"), 500).ok());
  auto part = LoadPipeline(SnapshotSource::Bytes(Part(deals, PartCounters::kWithout)), m_);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->size(), 2u);
  EXPECT_EQ(part->slot_count(), 2u);
  EXPECT_EQ(*part->KeyOf(0), "k7");
  EXPECT_EQ(*part->KeyOf(1), "k2");
  EXPECT_EQ(m_->stage(part->stage(0)).id, "initial_contact");
  EXPECT_EQ(part->entered_at(0), 500);
}

TEST_F(SplitAndJoin, TwoPartsWithOneKeyAreNotJoined) {
  const std::vector<DealIndex> a = {0, 1}, b = {1, 2};
  const std::string pa = Part(a, PartCounters::kWithCounters), pb = Part(b, PartCounters::kWithout);
  const std::vector<SnapshotSource> sources = {SnapshotSource::Bytes(pa), SnapshotSource::Bytes(pb)};
  auto joined = LoadPipelines(sources, m_);
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kDataLoss);
  // Found once the parts are all read (their keys are indexed once, not
  // once a part): it names the key, not a part.
  EXPECT_EQ(joined.status().message(),
            "LoadPipelines: deal key \"k1\" appears twice in the 2 snapshots");
}

TEST_F(SplitAndJoin, PartsOfDifferentKindsAreNotJoined) {
  const std::vector<DealIndex> a = {0};
  const std::string pa = Part(a, PartCounters::kWithCounters);
  PipelineOptions o;
  o.history_limit = 3;
  auto other = Pipeline::Create(m_, o);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other->AddWithKey("elsewhere", 5).ok());
  const std::string pb = SnapshotBytes(*other);
  const std::vector<SnapshotSource> sources = {SnapshotSource::Bytes(pa), SnapshotSource::Bytes(pb)};
  auto joined = LoadPipelines(sources, m_);
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(joined.status().message(), HasSubstr("cannot join a pipeline with 3 history entries"));
  EXPECT_EQ(LoadPipelines({}, m_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SplitAndJoin, ADamagedPartIsNamed) {
  const std::vector<DealIndex> a = {0}, b = {1};
  const std::string pa = Part(a, PartCounters::kWithCounters);
  std::string pb = Part(b, PartCounters::kWithout);
  pb[pb.size() / 2] ^= 0x20;
  const std::vector<SnapshotSource> sources = {SnapshotSource::Bytes(pa), SnapshotSource::Bytes(pb)};
  const absl::Status s = LoadPipelines(sources, m_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("LoadPipelines: snapshot 1 of 2: <bytes>: "));
}

// Positions go with the counters: one part has them, and two pipelines that
// both read a source cannot be joined (which of their offsets is right?).
TEST_F(SplitAndJoin, PositionsGoWithTheCounters) {
  const std::vector<EventRecord> records = {{0, 0, 200}};
  ASSERT_TRUE(p_->ApplyAt("events.csv", 0, records).ok());
  const std::vector<DealIndex> a = {0}, b = {1};
  auto counted = LoadPipeline(SnapshotSource::Bytes(Part(a, PartCounters::kWithCounters)), m_);
  auto bare = LoadPipeline(SnapshotSource::Bytes(Part(b, PartCounters::kWithout)), m_);
  ASSERT_TRUE(counted.ok() && bare.ok());
  EXPECT_EQ(counted->Position("events.csv"), 1u);
  EXPECT_TRUE(bare->Positions().empty());
  const std::string pa = Part(a, PartCounters::kWithCounters), pb = Part(b, PartCounters::kWithCounters);
  const std::vector<SnapshotSource> sources = {SnapshotSource::Bytes(pa), SnapshotSource::Bytes(pb)};
  auto joined = LoadPipelines(sources, m_);
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(joined.status().message(), HasSubstr("\"events.csv\" appears twice"));
}

TEST_F(SplitAndJoin, ADealWithoutKeyBelongsToNoGroup) {
  const KeyGroups groups = *KeyGroups::Create(8);
  auto all = DealsInKeyGroups(*p_, groups, {0, 8});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 20u);
  auto none = DealsInKeyGroups(*p_, groups, {3, 3});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(DealsInKeyGroups(*p_, groups, {0, 9}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bare = p_->Add(300);
  ASSERT_TRUE(bare.ok());
  auto refused = DealsInKeyGroups(*p_, groups, {0, 8});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr(absl::StrCat("deal ", *bare, " has neither")));
}

// A deal whose cycle went out of order keeps where it stays counted in
// order, so that the count moves with it; where that is not kept (past the
// 30th stage of a long funnel line, or in a snapshot older than format 5),
// the deal cannot move, and SavePipelinePart says so rather than leave the
// count behind.
TEST(InOrderMarks, ADealWhoseInOrderCountIsUnknownCannotMove) {
  // A line of 34 open stages, then won: "next" steps along it, "jump" skips
  // one stage.
  std::string spec = "name: \"long\" initial_stage: \"s0\"\n";
  for (int i = 0; i < 34; ++i) absl::StrAppend(&spec, "stages { id: \"s", i, "\" }\n");
  absl::StrAppend(&spec, "stages { id: \"won\" kind: WON }\nevents { id: \"next\" }\n",
                  "events { id: \"jump\" }\n");
  for (int i = 0; i < 34; ++i) {
    const std::string to = i == 33 ? "won" : absl::StrCat("s", i + 1);
    absl::StrAppend(&spec, "transitions { from_stage: \"s", i, "\" event: \"next\" to: \"", to,
                    "\" }\n");
    if (i < 32) {
      absl::StrAppend(&spec, "transitions { from_stage: \"s", i, "\" event: \"jump\" to: \"s",
                      i + 2, "\" }\n");
    }
  }
  auto m = Machine::FromTextProto(spec);
  ASSERT_TRUE(m.ok()) << m.status();
  PipelineOptions o;
  o.analytics.enabled = true;
  auto p = Pipeline::Create(*m, o);
  ASSERT_TRUE(p.ok());
  const EventId next = *(*m)->FindEvent("next"), jump = *(*m)->FindEvent("jump");
  // Deal 0 skips at the 6th stage: it moves. Deal 1 skips after the 31st.
  const DealIndex early = *p->AddWithKey("early", 0), late = *p->AddWithKey("late", 0);
  Timestamp t = 1;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(p->Fire(early, next, t++)->moved());
  ASSERT_TRUE(p->Fire(early, jump, t++)->moved());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(p->Fire(late, next, t++)->moved());
  ASSERT_TRUE(p->Fire(late, jump, t++)->moved());
  std::string part;
  const std::vector<DealIndex> first = {early}, second = {late};
  EXPECT_TRUE(SavePipelinePart(*p, first, PartCounters::kWithout, SnapshotSink::Bytes(&part)).ok());
  absl::Status s = SavePipelinePart(*p, second, PartCounters::kWithout, SnapshotSink::Bytes(&part));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("deal ", late, " cannot move: its cycle went out of order")));
  // With the counters, the deals left out are the ones that move.
  s = SavePipelinePart(*p, first, PartCounters::kWithCounters, SnapshotSink::Bytes(&part));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(SavePipelinePart(*p, second, PartCounters::kWithCounters, SnapshotSink::Bytes(&part)).ok());
  // Won, its cycle keeps its marks until a new one starts: still refused.
  for (int i = 32; i < 34; ++i) ASSERT_TRUE(p->Fire(late, next, t++)->moved());
  ASSERT_EQ((*m)->stage(p->stage(late)).id, "won");
  s = SavePipelinePart(*p, second, PartCounters::kWithout, SnapshotSink::Bytes(&part));
  EXPECT_THAT(s.message(), HasSubstr("it can move once it starts a new cycle"));

  // The same pipeline as an older format wrote it: the marks were not kept,
  // so a deal out of order is unknown, however early it skipped.
  std::string bytes;
  ASSERT_TRUE(SavePipeline(*p, SnapshotSink::Bytes(&bytes)).ok());
  auto frames = SnapshotFrames(bytes);
  ASSERT_EQ(frames[0].header().format_version(), 5u);
  frames[0].mutable_header()->set_format_version(4);
  v1::PipelineChunk* chunk = frames[1].mutable_chunk();
  for (int k = 0; k < chunk->funnel_flags_size(); ++k) chunk->set_funnel_flags(k, chunk->funnel_flags(k) & 7);
  auto old = LoadPipeline(SnapshotSource::Bytes(EncodeSnapshotFrames(frames)), *m);
  ASSERT_TRUE(old.ok()) << old.status();
  s = SavePipelinePart(*old, first, PartCounters::kWithout, SnapshotSink::Bytes(&part));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  const std::vector<DealIndex> both = {early, late};
  EXPECT_TRUE(SavePipelinePart(*old, both, PartCounters::kWithCounters, SnapshotSink::Bytes(&part)).ok());
}

}  // namespace
}  // namespace salescycle
