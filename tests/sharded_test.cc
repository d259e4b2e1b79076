// ShardedPipeline: deals routed by key group, shards applied at once, all or
// nothing, and the merged funnel equal to one pipeline's that saw every deal.
#include "salescycle/sharded.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/snapshot.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

struct Event {
  std::string key;
  uint32_t event;
  Timestamp time;
};

// `deals` deals of cycle9 by key, and a stream of events for them.
std::vector<Event> Stream(const Machine& m, int deals, size_t events, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Event> out;
  for (size_t i = 0; i < events; ++i) {
    out.push_back({absl::StrCat("deal-", rng() % deals),
                   static_cast<uint32_t>(rng() % m.num_events()), static_cast<Timestamp>(100 + i)});
  }
  return out;
}

PipelineOptions Analytics() {
  PipelineOptions o;
  o.analytics.enabled = true;
  return o;
}

class Sharded : public ::testing::TestWithParam<uint32_t> {
 protected:
  std::shared_ptr<const Machine> m_ = LoadTemplate("cycle9.textproto");
};

// For 1, 2, 3 and 7 shards: the shards' merged funnel is, byte for byte, the
// report of one pipeline fed the same events, and every deal is where one
// pipeline has it.
TEST_P(Sharded, TheWholeIsOnePipeline) {
  const int deals = 500;
  ShardedOptions options;
  options.shards = GetParam();
  options.num_groups = 128;
  options.pipeline = Analytics();
  auto sharded = ShardedPipeline::Create(m_, options);
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto one = Pipeline::Create(m_, Analytics());
  ASSERT_TRUE(one.ok());
  for (int i = 0; i < deals; ++i) {
    const std::string key = absl::StrCat("deal-", i);
    auto where = sharded->AddWithKey(key, 10 + i);
    ASSERT_TRUE(where.ok());
    EXPECT_EQ(where->shard, sharded->ShardOfKey(key));
    EXPECT_EQ(where->shard, *sharded->key_groups().OwnerOf(
                                sharded->key_groups().GroupOfKey(key), GetParam()));
    ASSERT_TRUE(one->AddWithKey(key, 10 + i).ok());
  }
  EXPECT_EQ(sharded->size(), static_cast<size_t>(deals));

  const std::vector<Event> stream = Stream(*m_, deals, 20000, 3);
  std::vector<std::vector<EventRecord>> per_shard(GetParam());
  std::vector<EventRecord> all;
  for (const Event& e : stream) {
    const auto where = sharded->FindByKey(e.key);
    ASSERT_TRUE(where.has_value());
    per_shard[where->shard].push_back({where->deal, e.event, e.time});
    all.push_back({*one->IndexOfKey(e.key), e.event, e.time});
  }
  std::vector<absl::Span<const EventRecord>> batches(per_shard.begin(), per_shard.end());
  auto results = sharded->ApplyEach(batches);
  ASSERT_TRUE(results.ok()) << results.status();
  auto whole = one->Apply(all);
  ASSERT_TRUE(whole.ok());
  uint64_t accepted = 0, rejected = 0;
  for (const BatchResult& r : *results) {
    accepted += r.accepted;
    rejected += r.rejected;
  }
  EXPECT_EQ(accepted, whole->accepted);
  EXPECT_EQ(rejected, whole->rejected);
  for (int i = 0; i < deals; ++i) {
    const std::string key = absl::StrCat("deal-", i);
    const auto where = sharded->FindByKey(key);
    EXPECT_EQ(sharded->shard(where->shard).stage(where->deal), one->stage(*one->IndexOfKey(key)));
  }
  auto merged = sharded->CaptureFunnel();
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto single = FunnelOf(*one);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(FunnelJson(FunnelOf(*merged)), FunnelJson(*single));
  EXPECT_EQ(FunnelTable(FunnelOf(*merged)), FunnelTable(*single));
}

INSTANTIATE_TEST_SUITE_P(Shards, Sharded, ::testing::Values(1u, 2u, 3u, 7u));

// A deal added by index to a shard belongs to no key group: the rescale
// says so and leaves every shard as it was.
TEST(ShardedPipeline, ARescaleThatCannotBeDoneChangesNothing) {
  ShardedOptions options;
  options.shards = 2;
  options.num_groups = 16;
  auto s = ShardedPipeline::Create(LoadTemplate("cycle9.textproto"), options);
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->AddWithId(i, 0).ok());
  EXPECT_EQ(s->Rescale(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Rescale(17).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(s->shard(1).Add(5).ok());
  const std::string before[2] = {SnapshotBytes(s->shard(0)), SnapshotBytes(s->shard(1))};
  const absl::Status r = s->Rescale(3);
  EXPECT_EQ(r.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.message(), HasSubstr("has neither key nor id"));
  ASSERT_EQ(s->num_shards(), 2u);
  EXPECT_EQ(SnapshotBytes(s->shard(0)), before[0]);
  EXPECT_EQ(SnapshotBytes(s->shard(1)), before[1]);
}

TEST(ShardedPipeline, ABadRecordAnywhereAppliesNothing) {
  ShardedOptions options;
  options.shards = 3;
  auto s = ShardedPipeline::Create(LoadTemplate("cycle9.textproto"), options);
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(s->AddWithId(i, 0).ok());
  std::vector<std::string> before;
  for (uint32_t i = 0; i < 3; ++i) before.push_back(SnapshotBytes(s->shard(i)));
  const std::vector<EventRecord> good = {{0, 0, 5}, {1, 0, 6}};
  const std::vector<EventRecord> bad = {{0, 0, 5}, {900, 0, 6}};
  const std::vector<absl::Span<const EventRecord>> batches = {good, bad, good};
  auto r = s->ApplyEach(batches);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("shard 1: "));
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(SnapshotBytes(s->shard(i)), before[i]) << i;
  const std::vector<absl::Span<const EventRecord>> two = {good, good};
  EXPECT_THAT(s->ApplyEach(two).status().message(), HasSubstr("2 batches for 3 shards"));
}

TEST(ShardedPipeline, EachShardReplaysItsOwnInputExactlyOnce) {
  ShardedOptions options;
  options.shards = 2;
  auto s = ShardedPipeline::Create(LoadTemplate("cycle9.textproto"), options);
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(s->AddWithKey(absl::StrCat("k", i), 0).ok());
  const std::vector<EventRecord> batch = {{0, 0, 5}, {1, 0, 6}, {2, 0, 7}};
  const std::vector<absl::Span<const EventRecord>> batches = {batch, batch};
  const std::vector<std::string> sources = {"part-0", "part-1"};
  auto first = s->ApplyEachAt(sources, std::vector<uint64_t>{0, 0}, batches);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = s->ApplyEachAt(sources, std::vector<uint64_t>{0, 1}, batches);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].skipped, 3u);
  EXPECT_EQ((*again)[1].skipped, 2u);
  EXPECT_EQ(s->shard(1).Position("part-1"), 4u);
  // A bad record among those skipped is not looked at (ApplyAt's rule).
  const std::vector<EventRecord> stale = {{999, 0, 5}};
  const std::vector<absl::Span<const EventRecord>> stale_batches = {stale, stale};
  EXPECT_TRUE(s->ApplyEachAt(sources, std::vector<uint64_t>{0, 0}, stale_batches).ok());
  EXPECT_THAT(s->ApplyEachAt(std::vector<std::string>{"", "x"}, std::vector<uint64_t>{0, 0},
                             batches).status().message(),
              HasSubstr("shard 0: an input source is named by 1 to 1024 bytes"));
}

TEST(ShardedPipeline, BadOptionsAreErrors) {
  auto m = LoadTemplate("cycle9.textproto");
  ShardedOptions o;
  o.shards = 0;
  EXPECT_THAT(ShardedPipeline::Create(m, o).status().message(), HasSubstr("0 shards; 1 to 256"));
  o.shards = 9;
  o.num_groups = 8;
  EXPECT_THAT(ShardedPipeline::Create(m, o).status().message(),
              HasSubstr("9 shards; 1 to 8 with 8 key groups"));
  o.num_groups = 0;
  EXPECT_THAT(ShardedPipeline::Create(m, o).status().message(), HasSubstr("0 groups"));
  EXPECT_EQ(ShardedPipeline::Create(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace salescycle
