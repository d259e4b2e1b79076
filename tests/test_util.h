// Helpers shared by the tests.
#ifndef SALESCYCLE_TESTS_TEST_UTIL_H_
#define SALESCYCLE_TESTS_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"

namespace salescycle {

// A small valid spec in text format, whose parts tests replace or extend:
// stages a, b, c (lost); events go, stop; attributes n (int64), s (string);
// a --go--> b and any open --stop--> c.
struct SpecText {
  std::string header = R"(name: "t" version: 1 initial_stage: "a")";
  std::string stages =
      R"(stages { id: "a" } stages { id: "b" } stages { id: "c" kind: LOST })";
  std::string events = R"(events { id: "go" } events { id: "stop" })";
  std::string attributes = R"(attributes { name: "n" type: INT64 }
                              attributes { name: "s" type: STRING })";
  std::string transitions =
      R"(transitions { from_stage: "a" event: "go" to: "b" }
         transitions { from_any_open: true event: "stop" to: "c" })";
  std::string timeouts;

  std::string str() const {
    return absl::StrCat(header, "\n", stages, "\n", events, "\n", attributes,
                        "\n", transitions, "\n", timeouts, "\n");
  }
};

inline SpecText WithStallLimitOnB() {
  SpecText s;
  s.stages = R"(stages { id: "a" } stages { id: "b" stall_limit_seconds: 60 }
                stages { id: "c" kind: LOST })";
  return s;
}

inline void ExpectInvalid(
    const absl::StatusOr<std::shared_ptr<const Machine>>& m,
    const std::string& message_part) {
  ASSERT_FALSE(m.ok()) << "compiled, but expected an error containing: "
                       << message_part;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument)
      << m.status();
  EXPECT_THAT(std::string(m.status().message()),
              ::testing::HasSubstr(message_part));
}

inline void ExpectInvalid(const SpecText& spec,
                          const std::string& message_part) {
  ExpectInvalid(Machine::FromTextProto(spec.str()), message_part);
}

// Attributes for Machine::Step, set by id; unset ones read as zero values.
class MapReader : public AttributeReader {
 public:
  absl::flat_hash_map<AttributeId, int64_t> ints;
  absl::flat_hash_map<AttributeId, double> doubles;
  absl::flat_hash_map<AttributeId, bool> bools;
  absl::flat_hash_map<AttributeId, std::string> strings;

  bool IsSet(AttributeId id) const override {
    return ints.contains(id) || doubles.contains(id) || bools.contains(id) ||
           strings.contains(id);
  }
  int64_t GetInt64(AttributeId id) const override {
    auto it = ints.find(id);
    return it == ints.end() ? 0 : it->second;
  }
  double GetDouble(AttributeId id) const override {
    auto it = doubles.find(id);
    return it == doubles.end() ? 0 : it->second;
  }
  bool GetBool(AttributeId id) const override {
    auto it = bools.find(id);
    return it != bools.end() && it->second;
  }
  absl::string_view GetString(AttributeId id) const override {
    auto it = strings.find(id);
    return it == strings.end() ? absl::string_view() : it->second;
  }
};

// Where `event` takes a deal in `stage` with no attributes set ("-" when
// it is rejected).
inline std::string Target(const Machine& m, absl::string_view stage,
                          absl::string_view event) {
  const StepResult r =
      m.Step(*m.FindStage(stage), *m.FindEvent(event), 0, MapReader());
  return r.moved() ? m.stage(r.to).id : "-";
}

inline std::shared_ptr<const Machine> LoadTemplate(const std::string& file) {
  auto m = Machine::FromFile(absl::StrCat(SC_MACHINES_DIR, "/", file));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

// A pipeline's snapshot bytes: equal bytes, equal state.
inline std::string SnapshotBytes(const Pipeline& p) {
  std::string out;
  EXPECT_TRUE(SavePipeline(p, SnapshotSink::Bytes(&out)).ok());
  return out;
}

// cycle9's fingerprint, pinned (see MachineFingerprint.IsStableAcrossBuilds).
inline constexpr uint64_t kCycle9Fingerprint = 7597624676787024451ull;

}  // namespace salescycle

#endif  // SALESCYCLE_TESTS_TEST_UTIL_H_
