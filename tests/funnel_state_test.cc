// FunnelState: a captured state reports what the pipeline reports; the
// states of shards that each saw some of the deals merge, in any split and
// any order, into the report of one pipeline that saw them all, byte for
// byte; states travel as bytes and damaged bytes are errors.
#include "salescycle/funnel_state.h"

#include <string>
#include <vector>

#include "absl/base/internal/endian.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/funnel.h"
#include "salescycle/v1/funnel_state.pb.h"
#include "src/crc32.h"
#include "tests/funnel_workload.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

constexpr Timestamp kNow = kStart + 400 * kDay;
const char* const kSources[] = {"web", "fair", "partner, EMEA", "referral"};

FunnelOptions Options() {
  FunnelOptions o;
  o.value_attribute = "value";
  o.breakdown_attribute = "source";
  o.now = kNow;
  return o;
}

std::vector<std::string> Formats(const FunnelReport& r) {
  return {FunnelTable(r), FunnelJson(r), FunnelCsv(r), FunnelProtoBytes(r), FunnelSvg(r)};
}

// One operation on global deal `deal`.
struct Op {
  DealIndex deal;
  int kind;  // 0 move, 1 call, 2 lose, 3 ghost, 4 remove
  StageId stage;
  Timestamp time;
};

constexpr int kDeals = 240;

std::vector<Op> Ops() {
  std::vector<Op> ops;
  uint64_t x = 99;
  auto next = [&x] {
    x = x * 6364136223846793005u + 1442695040888963407u;
    return x >> 33;
  };
  Timestamp t = kStart + kDeals * kDay;
  for (int i = 0; i < 4000; ++i) {
    t += static_cast<Timestamp>(next() % 5000);
    const uint64_t what = next() % 20;
    ops.push_back({static_cast<DealIndex>(next() % kDeals),
                   what < 12 ? 0 : what < 16 ? 1 : what < 18 ? 2 : what < 19 ? 3 : 4,
                   static_cast<StageId>(next() % 6), t});
  }
  return ops;
}

// The deals d with d % shards == shard, in order (the whole: shards 1),
// each doing what Ops() says.
Pipeline Shard(Cohort cohort, int shard, int shards) {
  PipelineOptions o;
  o.analytics.enabled = true;
  o.analytics.cohort = cohort;
  auto p = *Pipeline::Create(FunnelMachine(), o);
  auto local = [&](DealIndex d) { return static_cast<DealIndex>(d / shards); };
  for (int d = shard; d < kDeals; d += shards) {
    const Timestamp added = kStart + d * kDay;
    auto deal = d % 7 == 0 ? p.Add(added, StageId{1}) : p.Add(added);
    EXPECT_EQ(*deal, local(d));
    EXPECT_TRUE(p.Set(*deal, 0, AttributeValue::Double(1000.25 * (d % 13))).ok());
    if (d % 5 != 0) {
      EXPECT_TRUE(p.Set(*deal, 1, AttributeValue::String(kSources[d % 4])).ok());
    }
  }
  for (const Op& op : Ops()) {
    if (static_cast<int>(op.deal % shards) != shard || !p.Contains(local(op.deal))) continue;
    const DealIndex d = local(op.deal);
    switch (op.kind) {
      case 0: EXPECT_TRUE(p.MoveTo(d, op.stage, op.time).ok()); break;
      case 1: EXPECT_TRUE(p.Fire(d, "call", op.time).ok()); break;
      case 2: EXPECT_TRUE(p.Fire(d, "lose", op.time).ok()); break;
      case 3: EXPECT_TRUE(p.Fire(d, "ghost", op.time).ok()); break;
      default: EXPECT_TRUE(p.Remove(d).ok());
    }
  }
  return p;
}

TEST(FunnelState, ACapturedStateReportsWhatThePipelineReports) {
  for (Cohort cohort : {Cohort::kNone, Cohort::kMonth}) {
    const Pipeline p = Shard(cohort, 0, 1);
    const auto state = CaptureFunnel(p, Options());
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(Formats(FunnelOf(*state)), Formats(*FunnelOf(p, Options())));
    EXPECT_EQ(state->as_of(), kNow);
    EXPECT_EQ(&state->machine(), &p.machine());
  }
}

TEST(FunnelState, ShardsMergeIntoTheWholeInAnySplitAndOrder) {
  for (Cohort cohort : {Cohort::kNone, Cohort::kWeek, Cohort::kQuarter}) {
    SCOPED_TRACE(static_cast<int>(cohort));
    const std::vector<std::string> whole = Formats(*FunnelOf(Shard(cohort, 0, 1), Options()));
    for (int shards : {2, 3, 5}) {
      SCOPED_TRACE(shards);
      std::vector<FunnelState> states;
      for (int s = 0; s < shards; ++s) {
        states.push_back(*CaptureFunnel(Shard(cohort, s, shards), Options()));
      }
      // First to last, and last to first, each through bytes once.
      FunnelState forward = *FunnelState::Parse(states[0].Serialize());
      for (int s = 1; s < shards; ++s) ASSERT_TRUE(forward.Merge(states[s]).ok());
      FunnelState backward = *FunnelState::Parse(states[shards - 1].Serialize());
      for (int s = shards - 2; s >= 0; --s) ASSERT_TRUE(backward.Merge(states[s]).ok());
      // EXPECT_TRUE: the bytes would print by the megabyte.
      EXPECT_TRUE(Formats(FunnelOf(forward)) == whole);
      EXPECT_TRUE(Formats(FunnelOf(backward)) == whole);
      EXPECT_TRUE(forward.Serialize() == backward.Serialize());
    }
  }
}

TEST(FunnelState, BytesRoundTrip) {
  const auto state = *CaptureFunnel(Shard(Cohort::kMonth, 0, 1), Options());
  const std::string bytes = state.Serialize();
  ASSERT_EQ(bytes.substr(0, 8), "SCFSTATE");
  const auto parsed = FunnelState::Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Serialize(), bytes);
  EXPECT_EQ(Formats(FunnelOf(*parsed)), Formats(FunnelOf(state)));
}

// A close window is part of what a state was captured with: kept in its
// bytes, and states with different windows do not merge.
TEST(FunnelState, KeepsItsCloseWindow) {
  const Pipeline p = Shard(Cohort::kMonth, 0, 1);
  FunnelOptions september = Options();  // the ops run from late August
  september.closed_from = kStart + 243 * kDay;  // 2026-09-01
  september.closed_to = kStart + 273 * kDay;    // 2026-10-01
  auto state = *CaptureFunnel(p, september);
  const FunnelReport report = FunnelOf(state);
  ASSERT_EQ(report.closes.size(), 1u);
  EXPECT_EQ(report.closes[0].label, "2026-09");
  EXPECT_GT(report.closed.won + report.closed.lost, 0u);
  EXPECT_EQ(report.closed.label, "2026-09-01 to 2026-09-30");
  EXPECT_EQ(Formats(report), Formats(*FunnelOf(p, september)));
  const auto parsed = FunnelState::Parse(state.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(Formats(FunnelOf(*parsed)), Formats(report));
  EXPECT_THAT(state.Merge(*CaptureFunnel(p, Options())).message(),
              HasSubstr("funnel states of different close windows"));
  // A creation window too: kept through bytes, and refused when it differs.
  FunnelOptions first_half = Options();
  first_half.created_to = kStart + 181 * kDay;  // 2026-07-01
  auto added = *CaptureFunnel(p, first_half);
  const FunnelReport half = FunnelOf(added);
  EXPECT_EQ(half.total.deals, 181u);  // a deal a day from 2026-01-01
  EXPECT_EQ(Formats(FunnelOf(*FunnelState::Parse(added.Serialize()))), Formats(half));
  EXPECT_THAT(added.Merge(*CaptureFunnel(p, Options())).message(),
              HasSubstr("funnel states of different creation windows"));
}

TEST(FunnelState, MergeRefusesStatesCapturedDifferentlyAndChangesNothing) {
  const Pipeline p = Shard(Cohort::kNone, 0, 2);
  auto a = *CaptureFunnel(p, Options());
  const std::string before = a.Serialize();
  FunnelOptions later = Options();
  later.now = kNow + 1;
  auto status = a.Merge(*CaptureFunnel(p, later));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("give both FunnelOptions::now"));
  FunnelOptions no_breakdown = Options();
  no_breakdown.breakdown_attribute = "";
  EXPECT_THAT(a.Merge(*CaptureFunnel(p, no_breakdown)).message(),
              HasSubstr("funnel states of different breakdowns"));
  EXPECT_THAT(a.Merge(*CaptureFunnel(Shard(Cohort::kWeek, 1, 2), Options())).message(),
              HasSubstr("funnel states of different cohorts"));
  auto other = *Machine::FromTextProto(R"(name: "other" initial_stage: "a"
      stages { id: "a" } events { id: "e" } attributes { name: "value" type: DOUBLE }
      attributes { name: "source" type: STRING } transitions { from_stage: "a" event: "e" })");
  PipelineOptions analytics;
  analytics.analytics.enabled = true;
  EXPECT_THAT(a.Merge(*CaptureFunnel(*Pipeline::Create(other, analytics), Options())).message(),
              HasSubstr("funnel states of different machines (fs and other)"));
  EXPECT_THAT(a.Merge(a).message(), HasSubstr("cannot merge itself"));
  EXPECT_EQ(a.Serialize(), before);
}

TEST(FunnelState, ParsesOntoTheMachineItWasCapturedFromOnly) {
  const Pipeline p = Shard(Cohort::kNone, 0, 1);
  const std::string bytes = CaptureFunnel(p, Options())->Serialize();
  const auto onto = FunnelState::Parse(bytes, p.machine_ptr());
  ASSERT_TRUE(onto.ok()) << onto.status();
  EXPECT_EQ(&onto->machine(), &p.machine());
  EXPECT_EQ(onto->Serialize(), bytes);
  auto other = *Machine::FromTextProto(R"(name: "fs" version: 2 initial_stage: "a"
      stages { id: "a" } events { id: "e" } transitions { from_stage: "a" event: "e" })");
  const auto wrong = FunnelState::Parse(bytes, other);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.status().message(),
              HasSubstr("funnel state of machine \"fs\" v0 does not read onto machine \"fs\" v2"));
  EXPECT_EQ(FunnelState::Parse(bytes, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The payload, parsed, changed, and framed again with a valid checksum,
// so that only the reader's own checks can catch the damage.
std::string Reframe(const v1::FunnelState& s) {
  const std::string payload = s.SerializeAsString();
  std::string out("SCFSTATE", 8);
  char head[8];
  absl::little_endian::Store32(head, static_cast<uint32_t>(payload.size()));
  absl::little_endian::Store32(head + 4, internal::Crc32(payload.data(), payload.size()));
  return out + std::string(head, 8) + payload;
}

TEST(FunnelState, DamagedBytesAreErrorsNamingWhat) {
  const std::string bytes = CaptureFunnel(Shard(Cohort::kMonth, 0, 1), Options())->Serialize();
  for (size_t n = 0; n < bytes.size(); n += 97) {
    EXPECT_EQ(FunnelState::Parse(bytes.substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss) << n;
  }
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  EXPECT_THAT(FunnelState::Parse(flipped).status().message(), HasSubstr("checksum mismatch"));
  EXPECT_THAT(FunnelState::Parse("SCPIPE\r\n12345678").status().message(),
              HasSubstr("not a funnel state"));

  v1::FunnelState s;
  ASSERT_TRUE(s.ParseFromString(bytes.substr(16)));
  auto expect = [](const v1::FunnelState& damaged, absl::StatusCode code, const char* what) {
    const absl::Status status = FunnelState::Parse(Reframe(damaged)).status();
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_THAT(status.message(), HasSubstr(what));
  };
  v1::FunnelState d = s;
  d.mutable_total()->mutable_now()->RemoveLast();
  expect(d, absl::StatusCode::kDataLoss, "the live deals of all deals has 5 stages, not 6");
  d = s;
  d.mutable_total()->mutable_current_stay()->RemoveLast();
  expect(d, absl::StatusCode::kDataLoss, "the live deals of all deals has stays in 5 stages");
  d = s;
  d.mutable_total()->mutable_current_stay(0)->set_high(-1);
  expect(d, absl::StatusCode::kDataLoss, "the live deals of all deals: a negative stay");
  d = s;
  d.set_closed_from(5);
  expect(d, absl::StatusCode::kDataLoss, "its windows: closed_from 1970-01-01 00:00:05");
  d = s;
  d.mutable_cohorts()->RemoveLast();
  expect(d, absl::StatusCode::kDataLoss, "cohorts of live deals for");
  d = s;
  d.set_stages(0, "prospect");
  expect(d, absl::StatusCode::kDataLoss, "not those of the machine it carries");
  d = s;
  d.set_format_version(2);
  expect(d, absl::StatusCode::kInvalidArgument, "format version 2 is newer");
  d = s;
  d.mutable_segments(0)->mutable_reached()->Add(1);
  expect(d, absl::StatusCode::kDataLoss, "has 7 stages, not 6");
  d = s;
  *d.add_segments() = s.segments(0);
  expect(d, absl::StatusCode::kDataLoss, "is there twice");
  d = s;
  d.mutable_counters()->mutable_total()->mutable_flow_from()->RemoveLast();
  expect(d, absl::StatusCode::kDataLoss, "the flow's columns differ in length");
  d = s;
  d.set_cohort(7);
  expect(d, absl::StatusCode::kDataLoss, "cohort kind 7 is unknown");
  d = s;
  d.set_breakdown_attribute("region");
  expect(d, absl::StatusCode::kNotFound, "region");
}

}  // namespace
}  // namespace salescycle
