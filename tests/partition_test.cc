// Key hash and key groups (salescycle/partition.h): the vectors every
// language checks (tests/data/partition_vectors.json), and the properties
// that make ranges of groups a partition.
#include "salescycle/partition.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace salescycle {
namespace {

using ::testing::HasSubstr;

google::protobuf::Struct Vectors() {
  std::ifstream in(SC_TESTS_DIR "/data/partition_vectors.json");
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct vectors;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &vectors).ok());
  return vectors;
}

std::vector<uint32_t> NumGroups(const google::protobuf::Struct& vectors) {
  std::vector<uint32_t> out;
  for (const auto& v : vectors.fields().at("num_groups").list_value().values()) {
    out.push_back(static_cast<uint32_t>(v.number_value()));
  }
  return out;
}

void CheckGroups(const google::protobuf::Struct& entry, const std::vector<uint32_t>& num_groups,
                 uint32_t hash, const std::string& what) {
  const auto& groups = entry.fields().at("groups").list_value().values();
  ASSERT_EQ(groups.size(), num_groups.size()) << what;
  for (size_t i = 0; i < num_groups.size(); ++i) {
    auto kg = KeyGroups::Create(num_groups[i]);
    ASSERT_TRUE(kg.ok());
    EXPECT_EQ(kg->GroupOfHash(hash), static_cast<uint32_t>(groups[i].number_value()))
        << what << " among " << num_groups[i];
  }
}

TEST(KeyHash, MatchesTheVectors) {
  const google::protobuf::Struct vectors = Vectors();
  const std::vector<uint32_t> num_groups = NumGroups(vectors);
  ASSERT_EQ(num_groups.size(), 5u);
  int published = 0;
  for (const auto& v : vectors.fields().at("keys").list_value().values()) {
    const auto& entry = v.struct_value();
    const std::string key = absl::HexStringToBytes(entry.fields().at("hex").string_value());
    const uint32_t hash = static_cast<uint32_t>(entry.fields().at("hash").number_value());
    EXPECT_EQ(KeyHash(key), hash) << absl::CEscape(key);
    CheckGroups(entry, num_groups, hash, absl::CEscape(key));
    auto kg = KeyGroups::Create(num_groups.back());
    EXPECT_EQ(kg->GroupOfKey(key), kg->GroupOfHash(hash));
    published += entry.fields().count("published");
  }
  EXPECT_GE(published, 3);  // MurmurHash3's own values, not only ours
  for (const auto& v : vectors.fields().at("ids").list_value().values()) {
    const auto& entry = v.struct_value();
    uint64_t id = 0;
    ASSERT_TRUE(absl::SimpleAtoi(entry.fields().at("id").string_value(), &id));
    const uint32_t hash = static_cast<uint32_t>(entry.fields().at("hash").number_value());
    EXPECT_EQ(IdHash(id), hash) << id;
    CheckGroups(entry, num_groups, hash, absl::StrCat("id ", id));
    auto kg = KeyGroups::Create(128);
    EXPECT_EQ(kg->GroupOfId(id), kg->GroupOfHash(hash));
  }
}

TEST(KeyGroups, RangesMatchTheVectors) {
  const google::protobuf::Struct vectors = Vectors();
  const auto& ranges = vectors.fields().at("ranges").list_value().values();
  ASSERT_GE(ranges.size(), 10);
  for (const auto& v : ranges) {
    const auto& f = v.struct_value().fields();
    auto n = [&](const char* name) { return static_cast<uint32_t>(f.at(name).number_value()); };
    auto kg = KeyGroups::Create(n("num_groups"));
    ASSERT_TRUE(kg.ok());
    auto range = kg->RangeOf(n("owner"), n("owners"));
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_EQ(range->first, n("first"));
    EXPECT_EQ(range->end, n("end"));
  }
}

// For every number of groups up to 200 and every number of owners, and for
// the most groups with a few: the ranges cover the groups in order, none
// empty, sizes differing by at most one, and OwnerOf agrees with them.
TEST(KeyGroups, RangesPartitionTheGroupsAndAgreeWithOwnerOf) {
  auto check = [](uint32_t groups, uint32_t owners) {
    auto kg = KeyGroups::Create(groups);
    ASSERT_TRUE(kg.ok());
    uint32_t next = 0, smallest = groups, largest = 0;
    for (uint32_t o = 0; o < owners; ++o) {
      auto range = kg->RangeOf(o, owners);
      ASSERT_TRUE(range.ok());
      ASSERT_EQ(range->first, next) << groups << " groups, " << owners << " owners";
      ASSERT_GT(range->size(), 0u);
      smallest = std::min(smallest, range->size());
      largest = std::max(largest, range->size());
      for (uint32_t g = range->first; g < range->end; ++g) {
        ASSERT_EQ(*kg->OwnerOf(g, owners), o) << g;
        ASSERT_TRUE(range->contains(g));
      }
      next = range->end;
    }
    ASSERT_EQ(next, groups);
    ASSERT_LE(largest - smallest, 1u);
  };
  for (uint32_t groups = 1; groups <= 200; ++groups) {
    for (uint32_t owners = 1; owners <= groups; ++owners) check(groups, owners);
  }
  for (uint32_t owners : {1u, 2u, 3u, 7u, 1000u, 32767u, 32768u}) check(kMaxKeyGroups, owners);
}

// A broken hash (a constant, one that ignores a byte) would pile keys into
// few groups: 200k keys that differ only in their last digits spread over
// 128 groups within 10% of the mean each.
TEST(KeyGroups, KeysSpreadEvenly) {
  auto kg = KeyGroups::Create(128);
  std::vector<int> count(128);
  const int keys = 200000;
  for (int i = 0; i < keys; ++i) ++count[kg->GroupOfKey(absl::StrCat("deal-", i))];
  for (int c : count) EXPECT_NEAR(c, keys / 128, keys / 128 / 10);
  std::vector<int> by_id(128);
  for (uint64_t id = 0; id < static_cast<uint64_t>(keys); ++id) ++by_id[kg->GroupOfId(id)];
  for (int c : by_id) EXPECT_NEAR(c, keys / 128, keys / 128 / 10);
}

TEST(KeyGroups, BadArgumentsAreErrorsNamingThem) {
  EXPECT_THAT(KeyGroups::Create(0).status().message(), HasSubstr("0 groups; a deployment has 1 to 32768"));
  EXPECT_EQ(KeyGroups::Create(kMaxKeyGroups + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto kg = KeyGroups::Create(10);
  EXPECT_THAT(kg->OwnerOf(10, 2).status().message(), HasSubstr("group 10 of 10 (0 to 9)"));
  EXPECT_THAT(kg->OwnerOf(0, 0).status().message(), HasSubstr("0 owners of 10 groups"));
  EXPECT_THAT(kg->OwnerOf(0, 11).status().message(), HasSubstr("11 owners of 10 groups"));
  EXPECT_THAT(kg->RangeOf(2, 2).status().message(), HasSubstr("owner 2 of 2 (0 to 1)"));
  EXPECT_EQ(kg->RangeOf(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// 8 groups from 3 owners ([0,3) [3,6) [6,8)) to 2 ([0,4) [4,8)), by hand.
TEST(KeyGroups, RescalePlanByHand) {
  auto kg = KeyGroups::Create(8);
  ASSERT_TRUE(kg.ok());
  auto plan = kg->RescalePlan(3, 2);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 4u);
  auto is = [](const RescalePart& p, uint32_t from, uint32_t to, uint32_t first, uint32_t end,
               bool counted) {
    return p.from == from && p.to == to && p.groups.first == first && p.groups.end == end &&
           p.counted == counted;
  };
  EXPECT_TRUE(is((*plan)[0], 0, 0, 0, 3, true));
  EXPECT_TRUE(is((*plan)[1], 1, 0, 3, 4, true));
  EXPECT_TRUE(is((*plan)[2], 1, 1, 4, 6, false));
  EXPECT_TRUE(is((*plan)[3], 2, 1, 6, 8, true));
  EXPECT_EQ(kg->RescalePlan(0, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kg->RescalePlan(2, 9).status().code(), absl::StatusCode::kInvalidArgument);
}

// For every pair of owner counts to 12 over 1, 7, 12 and 100 groups: every
// group moves once, from its old owner to its new one, and each old owner
// has exactly one counted part, the one holding its first group.
TEST(KeyGroups, RescalePlanMovesEveryGroupOnce) {
  for (const uint32_t groups : {1u, 7u, 12u, 100u}) {
    auto kg = KeyGroups::Create(groups);
    ASSERT_TRUE(kg.ok());
    for (uint32_t from = 1; from <= std::min(groups, 12u); ++from) {
      for (uint32_t to = 1; to <= std::min(groups, 12u); ++to) {
        auto plan = kg->RescalePlan(from, to);
        ASSERT_TRUE(plan.ok());
        std::vector<int> moved(groups, 0);
        std::vector<int> counted(from, 0);
        for (const RescalePart& p : *plan) {
          ASSERT_LT(p.groups.first, p.groups.end);
          for (uint32_t g = p.groups.first; g < p.groups.end; ++g) {
            ++moved[g];
            EXPECT_EQ(*kg->OwnerOf(g, from), p.from);
            EXPECT_EQ(*kg->OwnerOf(g, to), p.to);
          }
          if (p.counted) {
            ++counted[p.from];
            EXPECT_EQ(p.groups.first, kg->RangeOf(p.from, from)->first);
          }
        }
        EXPECT_EQ(moved, std::vector<int>(groups, 1)) << groups << ": " << from << " -> " << to;
        EXPECT_EQ(counted, std::vector<int>(from, 1)) << groups << ": " << from << " -> " << to;
      }
    }
  }
}

}  // namespace
}  // namespace salescycle
