// Limits on specs (limits.h): each refuses input past it, naming the limit,
// and a raised limit lets the same input through. Snapshot limits are
// tested with the crafted snapshots in snapshot_test.cc.
#include "salescycle/limits.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

CompileOptions WithLimits(const Limits& limits) {
  CompileOptions options;
  options.limits = limits;
  return options;
}

// A chain of `n` open stages s0 -> s1 -> ... and a lost stage.
std::string ChainSpec(int n) {
  std::string spec = R"(name: "chain" version: 1 initial_stage: "s0"
      events { id: "next" } events { id: "stop" }
      stages { id: "lost" kind: LOST }
      transitions { from_any_open: true event: "stop" to: "lost" })";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&spec, " stages { id: \"s", i, "\" }");
    if (i + 1 < n) {
      absl::StrAppend(&spec, " transitions { from_stage: \"s", i,
                      "\" event: \"next\" to: \"s", i + 1, "\" }");
    }
  }
  return spec;
}

TEST(Limits, DefaultsAreTheDocumentedOnes) {
  const Limits limits;
  EXPECT_EQ(limits.max_spec_bytes, 4u << 20);
  EXPECT_EQ(limits.max_stages, 1024u);
  EXPECT_EQ(limits.max_events, 1024u);
  EXPECT_EQ(limits.max_attributes, 1024u);
  EXPECT_EQ(limits.max_transitions, 1u << 20);
  EXPECT_EQ(limits.max_guard_depth, 32u);
  EXPECT_EQ(limits.max_string_length, 64u << 10);
  EXPECT_EQ(limits.max_history_length, kMaxHistoryLimit);  // what can be kept loads
  EXPECT_EQ(limits.max_snapshot_deals, uint64_t{1} << 28);
  EXPECT_EQ(limits.max_history_entries, uint64_t{1} << 26);
}

TEST(Limits, SpecBytes) {
  const std::string spec = SpecText().str();
  Limits limits;
  limits.max_spec_bytes = spec.size() - 1;
  ExpectInvalid(Machine::FromTextProto(spec, WithLimits(limits)),
                absl::StrCat("<text>: the spec is ", spec.size(),
                             " bytes, past Limits::max_spec_bytes (",
                             spec.size() - 1, ")"));
  ExpectInvalid(Machine::FromJson(std::string(spec.size(), ' '),
                                  WithLimits(limits)),
                "<json>: the spec is");
  limits.max_spec_bytes = spec.size();
  EXPECT_TRUE(Machine::FromTextProto(spec, WithLimits(limits)).ok());
}

TEST(Limits, SpecFileIsRefusedFromItsSize) {
  const std::string path = ::testing::TempDir() + "/limits_spec.textproto";
  const std::string spec = SpecText().str();
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(spec.data(), 1, spec.size(), f);
  std::fclose(f);
  Limits limits;
  limits.max_spec_bytes = 10;
  ExpectInvalid(Machine::FromFile(path, WithLimits(limits)),
                absl::StrCat(path, ": the file is ", spec.size(),
                             " bytes, past Limits::max_spec_bytes (10)"));
  EXPECT_TRUE(Machine::FromFile(path).ok());
  std::remove(path.c_str());
}

TEST(Limits, EndlessSpecFileStopsAtTheLimit) {
  // Not a regular file, so its size says nothing: reading stops once past
  // the limit instead of filling memory.
  Limits limits;
  limits.max_spec_bytes = 1 << 20;
  ExpectInvalid(Machine::FromFile("/dev/zero", WithLimits(limits)),
                "/dev/zero: the file is");
}

TEST(Limits, Stages) {
  const std::string spec = ChainSpec(1100);  // 1101 stages with "lost"
  ExpectInvalid(Machine::FromTextProto(spec),
                "declares 1101 stages, past Limits::max_stages (1024)");
  Limits limits;
  limits.max_stages = 1101;
  auto m = Machine::FromTextProto(spec, WithLimits(limits));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->num_stages(), 1101);
}

TEST(Limits, StagesPastTheHardCapActAsTheCap) {
  Limits limits;
  limits.max_stages = 1 << 20;
  limits.max_spec_bytes = 64 << 20;
  ExpectInvalid(Machine::FromTextProto(ChainSpec(kMaxStages), WithLimits(limits)),
                absl::StrCat("declares ", kMaxStages + 1,
                             " stages, past Limits::max_stages (", kMaxStages,
                             ")"));
}

TEST(Limits, Events) {
  SpecText s;
  for (int i = 0; i < 9; ++i) absl::StrAppend(&s.events, " events { id: \"e", i, "\" }");
  Limits limits;
  limits.max_events = 10;
  ExpectInvalid(Machine::FromTextProto(s.str(), WithLimits(limits)),
                "declares 11 events, past Limits::max_events (10)");
  limits.max_events = 11;
  EXPECT_TRUE(Machine::FromTextProto(s.str(), WithLimits(limits)).ok());
}

TEST(Limits, Attributes) {
  SpecText s;
  Limits limits;
  limits.max_attributes = 1;
  ExpectInvalid(Machine::FromTextProto(s.str(), WithLimits(limits)),
                "declares 2 attributes, past Limits::max_attributes (1)");
  limits.max_attributes = 2;
  EXPECT_TRUE(Machine::FromTextProto(s.str(), WithLimits(limits)).ok());
}

TEST(Limits, TransitionsCountOncePerStageTheyLeave) {
  // a --go--> b, and "stop" from the two open stages: three after expansion.
  const std::string spec = SpecText().str();
  Limits limits;
  limits.max_transitions = 2;
  ExpectInvalid(Machine::FromTextProto(spec, WithLimits(limits)),
                "transitions[1] (any open stage --stop--> c): brings the "
                "transitions, one per pair of stages, to 3, past "
                "Limits::max_transitions (2)");
  limits.max_transitions = 3;
  EXPECT_TRUE(Machine::FromTextProto(spec, WithLimits(limits)).ok());
}

std::string NestedGuardSpec(int depth) {
  std::string guard =
      R"(compare { attribute: "n" op: EQ value { int64_value: 1 } })";
  for (int i = 0; i < depth; ++i) guard = absl::StrCat("not { ", guard, " }");
  SpecText s;
  s.transitions += absl::StrCat(
      R"(transitions { from_stage: "b" event: "go" to: "a" guard { )", guard,
      " } }");
  return s.str();
}

TEST(Limits, GuardDepth) {
  ExpectInvalid(Machine::FromTextProto(NestedGuardSpec(33)),
                "guard nested deeper than 32 levels, past "
                "Limits::max_guard_depth (32)");
  EXPECT_TRUE(Machine::FromTextProto(NestedGuardSpec(32)).ok());
  Limits limits;
  limits.max_guard_depth = 4;
  ExpectInvalid(Machine::FromTextProto(NestedGuardSpec(5), WithLimits(limits)),
                "past Limits::max_guard_depth (4)");
  EXPECT_TRUE(Machine::FromTextProto(NestedGuardSpec(4), WithLimits(limits)).ok());
  // Past the cap, the cap holds: evaluation recurses once per level.
  limits.max_guard_depth = 1000;
  ExpectInvalid(Machine::FromTextProto(NestedGuardSpec(kMaxGuardDepthCap + 1),
                                       WithLimits(limits)),
                absl::StrCat("past Limits::max_guard_depth (",
                             kMaxGuardDepthCap, ")"));
  EXPECT_TRUE(Machine::FromTextProto(NestedGuardSpec(kMaxGuardDepthCap),
                                     WithLimits(limits))
                  .ok());
}

TEST(Limits, StringLengthNamesTheField) {
  SpecText s;
  s.stages = absl::StrCat(R"(stages { id: "a" } stages { id: "b" display_name: ")",
                          std::string(70000, 'x'),
                          R"(" } stages { id: "c" kind: LOST })");
  ExpectInvalid(Machine::FromTextProto(s.str()),
                "<text>: stages[1].display_name is 70000 bytes, past "
                "Limits::max_string_length (65536)");
  Limits limits;
  limits.max_string_length = 70000;
  EXPECT_TRUE(Machine::FromTextProto(s.str(), WithLimits(limits)).ok());
}

TEST(Limits, StringLengthReachesNestedMessages) {
  // A string attribute's default value, two messages down.
  SpecText s;
  s.attributes = R"(attributes { name: "n" type: INT64 }
      attributes { name: "s" type: STRING default_value { string_value: "0123456789" } })";
  Limits limits;
  limits.max_string_length = 9;
  ExpectInvalid(Machine::FromTextProto(s.str(), WithLimits(limits)),
                "attributes[1].default_value.string_value is 10 bytes, past "
                "Limits::max_string_length (9)");
}

}  // namespace
}  // namespace salescycle
