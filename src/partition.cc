#include "salescycle/partition.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace salescycle {
namespace {

inline uint32_t RotateLeft(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// MurmurHash3 x86_32, written from the algorithm's description (smhasher's
// MurmurHash3.cpp is the reference; tests/data/partition_vectors.json checks
// its published values). Blocks are read little endian whatever the host's
// byte order, so that every platform hashes a key alike.
uint32_t Murmur3x86_32(const unsigned char* data, size_t len, uint32_t seed) {
  constexpr uint32_t c1 = 0xcc9e2d51;
  constexpr uint32_t c2 = 0x1b873593;
  auto mix = [](uint32_t k) { return RotateLeft(k * c1, 15) * c2; };
  uint32_t h = seed;
  const size_t blocks = len / 4;
  for (size_t i = 0; i < blocks; ++i) {
    const unsigned char* b = data + 4 * i;
    const uint32_t k = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 |
                       uint32_t{b[3]} << 24;
    h ^= mix(k);
    h = RotateLeft(h, 13) * 5 + 0xe6546b64;
  }
  const unsigned char* tail = data + 4 * blocks;
  uint32_t k = 0;
  switch (len & 3) {
    case 3: k ^= uint32_t{tail[2]} << 16; [[fallthrough]];
    case 2: k ^= uint32_t{tail[1]} << 8; [[fallthrough]];
    case 1: k ^= tail[0]; h ^= mix(k);
  }
  h ^= static_cast<uint32_t>(len);  // the reference takes an int length
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

absl::Status CheckOwners(uint32_t owners, uint32_t num_groups) {
  if (owners < 1 || owners > num_groups) {
    return absl::InvalidArgumentError(absl::StrCat("key groups: ", owners, " owners of ",
                                                   num_groups, " groups; 1 to ", num_groups));
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t KeyHash(absl::string_view key) {
  return Murmur3x86_32(reinterpret_cast<const unsigned char*>(key.data()), key.size(), 0);
}

uint32_t IdHash(uint64_t id) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(id >> (8 * i));
  return Murmur3x86_32(bytes, sizeof bytes, 0);
}

absl::StatusOr<KeyGroups> KeyGroups::Create(uint32_t num_groups) {
  if (num_groups < 1 || num_groups > kMaxKeyGroups) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key groups: ", num_groups, " groups; a deployment has 1 to ", kMaxKeyGroups));
  }
  return KeyGroups(num_groups);
}

absl::StatusOr<uint32_t> KeyGroups::OwnerOf(uint32_t group, uint32_t owners) const {
  if (absl::Status s = CheckOwners(owners, num_groups_); !s.ok()) return s;
  if (group >= num_groups_) {
    return absl::InvalidArgumentError(
        absl::StrCat("key groups: group ", group, " of ", num_groups_, " (0 to ",
                     num_groups_ - 1, ")"));
  }
  return static_cast<uint32_t>(uint64_t{group} * owners / num_groups_);
}

absl::StatusOr<KeyGroupRange> KeyGroups::RangeOf(uint32_t owner, uint32_t owners) const {
  if (absl::Status s = CheckOwners(owners, num_groups_); !s.ok()) return s;
  if (owner >= owners) {
    return absl::InvalidArgumentError(
        absl::StrCat("key groups: owner ", owner, " of ", owners, " (0 to ", owners - 1, ")"));
  }
  // ceil(o * G / P): the first group g with g * P / G >= o.
  auto first_of = [&](uint64_t o) {
    return static_cast<uint32_t>((o * num_groups_ + owners - 1) / owners);
  };
  return KeyGroupRange{first_of(owner), first_of(uint64_t{owner} + 1)};
}

absl::StatusOr<std::vector<RescalePart>> KeyGroups::RescalePlan(uint32_t from,
                                                                uint32_t to) const {
  if (absl::Status s = CheckOwners(from, num_groups_); !s.ok()) return s;
  if (absl::Status s = CheckOwners(to, num_groups_); !s.ok()) return s;
  std::vector<RescalePart> plan;
  for (uint32_t i = 0; i < from; ++i) {
    const KeyGroupRange old_range = *RangeOf(i, from);
    // Every owner's range holds a group (owners <= groups), so the new
    // owner of the first one meets it.
    const uint32_t counted = *OwnerOf(old_range.first, to);
    for (uint32_t j = counted; j < to; ++j) {
      const KeyGroupRange new_range = *RangeOf(j, to);
      if (new_range.first >= old_range.end) break;
      plan.push_back({i, j,
                      {std::max(old_range.first, new_range.first),
                       std::min(old_range.end, new_range.end)},
                      j == counted});
    }
  }
  return plan;
}

}  // namespace salescycle
