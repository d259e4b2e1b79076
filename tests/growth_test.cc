// What keeps a deal's peak RSS down as deals are added (issue 17, item 6):
// the page arrays (src/page_memory.h), the Column that grows by moving
// pages (salescycle/internal/column.h) and the DealSet that KeyIndex and
// IdIndex look deals up in (src/deal_set.h). The bytes themselves are
// measured by bench/deal_memory; here, that each keeps what it holds and
// the bounds its memory figures rest on.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "salescycle/internal/column.h"
#include "src/deal_set.h"
#include "src/page_memory.h"

namespace salescycle {
namespace internal {
namespace {

TEST(PageMemory, ResizesKeepContentsAndZeroWhatIsNew) {
  // Through every pair of kinds: heap to heap, heap to pages, pages to
  // pages (mremap), pages to heap, and a shrink then a growth in place.
  const size_t sizes[] = {100, 5000, kPageArrayMinBytes + 3, 3 * kPageArrayMinBytes + 17, 700};
  size_t bytes = 40;
  auto* p = static_cast<unsigned char*>(AllocateZeroed(bytes));
  for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(p[i], 0) << i;
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
  for (const size_t next : sizes) {
    p = static_cast<unsigned char*>(ResizeZeroed(p, bytes, next));
    const size_t kept = bytes < next ? bytes : next;
    for (size_t i = 0; i < kept; ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7 + 1)) << next;
    for (size_t i = kept; i < next; ++i) ASSERT_EQ(p[i], 0) << next << " at " << i;
    for (size_t i = kept; i < next; ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
    bytes = next;
  }
  // A shrink on pages, then a growth: the bytes cut off read zero again
  // (mremap keeps the shrunk page's tail, so it is zeroed first).
  p = static_cast<unsigned char*>(ResizeZeroed(p, bytes, 2 * kPageArrayMinBytes));
  for (size_t i = 0; i < 2 * kPageArrayMinBytes; ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
  p = static_cast<unsigned char*>(ResizeZeroed(p, 2 * kPageArrayMinBytes, kPageArrayMinBytes + 1));
  p = static_cast<unsigned char*>(ResizeZeroed(p, kPageArrayMinBytes + 1, 2 * kPageArrayMinBytes));
  for (size_t i = 0; i <= kPageArrayMinBytes; ++i) {
    ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7 + 1)) << i;
  }
  for (size_t i = kPageArrayMinBytes + 1; i < 2 * kPageArrayMinBytes; ++i) ASSERT_EQ(p[i], 0) << i;
  FreeZeroed(p, 2 * kPageArrayMinBytes);
  EXPECT_EQ(AllocateZeroed(0), nullptr);
  FreeZeroed(nullptr, 0);
}

TEST(Column, BehavesAsAVectorAcrossGrowthsAndShrinks) {
  Column<uint32_t> column;
  std::vector<uint32_t> model;
  EXPECT_TRUE(column.empty());
  std::mt19937 random(7);
  // Appends one at a time well past the page threshold (the heap, then
  // pages), with shrinks between; fills with zero and non-zero values.
  for (int round = 0; round < 6; ++round) {
    const size_t grow_to = model.size() + 40000 + random() % 20000;
    const uint32_t fill = round % 2 == 0 ? 0 : 0xABCD0000u + round;
    while (model.size() < grow_to) {
      const size_t n = model.size() + 1 + random() % 3;
      column.resize(n, fill);
      model.resize(n, fill);
      column[n - 1] = static_cast<uint32_t>(n);
      model[n - 1] = static_cast<uint32_t>(n);
    }
    const size_t shrink_to = model.size() / 3;
    column.resize(shrink_to);
    model.resize(shrink_to);
    ASSERT_EQ(column.size(), model.size());
    ASSERT_TRUE(std::equal(column.begin(), column.end(), model.begin())) << round;
  }
  column.reserve(column.size() + 1000000);
  EXPECT_GE(column.capacity(), model.size() + 1000000);
  column.resize(model.size() + 5);  // zeros after a shrink and a reserve
  model.resize(model.size() + 5);
  EXPECT_TRUE(std::equal(column.begin(), column.end(), model.begin()));

  Column<uint32_t> moved(std::move(column));
  EXPECT_EQ(moved.size(), model.size());
  EXPECT_TRUE(column.empty());  // NOLINT(bugprone-use-after-move): what a move leaves
  Column<uint32_t> assigned;
  assigned.resize(10, 3);
  assigned = std::move(moved);
  EXPECT_TRUE(std::equal(assigned.begin(), assigned.end(), model.begin()));
  assigned.clear();
  assigned.resize(3);
  EXPECT_EQ(assigned[0] + assigned[1] + assigned[2], 0u);
}

// A DealSet's owner for the tests: keys by deal in a map (deal indexes up
// to 2^32 - 2), with a hash that can be made to collide.
struct Owner {
  absl::flat_hash_map<DealIndex, uint64_t> keys;
  uint64_t bound = 0;
  uint64_t (*hash)(uint64_t) = [](uint64_t key) { return absl::Hash<uint64_t>()(key); };

  mutable int scans = 0;  // ForEachDeal's calls: a real owner reads its column

  uint64_t HashOf(DealIndex deal) const { return hash(keys.at(deal)); }
  bool SameKey(DealIndex a, DealIndex b) const { return keys.at(a) == keys.at(b); }
  template <typename F>
  void ForEachDeal(F f) const {
    ++scans;
    for (const auto& [deal, key] : keys) f(deal);
  }
  uint64_t SlotBound() const { return bound; }

  std::optional<DealIndex> Find(const DealSet& set, uint64_t key) const {
    return set.Find(
        hash(key), [&](DealIndex deal) { return keys.at(deal) == key; }, *this);
  }
  void Insert(DealSet* set, DealIndex deal, uint64_t key) {
    keys[deal] = key;
    set->Insert(deal, hash(key), *this);
  }
  void Erase(DealSet* set, DealIndex deal) {
    set->Erase(deal, HashOf(deal), *this);
    keys.erase(deal);
  }
};

// Random inserts, erases and lookups against a std::map, for an owner
// whose slots need `bound` (the bits left for distances: none at 2^32 - 1)
// and a hash of `distinct` values (collisions, long probes, saturated
// distances, wrapping past the table's end).
void CheckAgainstAMap(uint64_t bound, uint64_t (*hash)(uint64_t), int steps, uint32_t seed) {
  Owner owner;
  owner.bound = bound;
  if (hash != nullptr) owner.hash = hash;
  DealSet set;
  std::map<uint64_t, DealIndex> model;  // key -> deal
  std::mt19937_64 random(seed);
  for (int step = 0; step < steps; ++step) {
    const uint64_t key = random() % 3000;
    const auto it = model.find(key);
    const std::optional<DealIndex> found = owner.Find(set, key);
    ASSERT_EQ(found.has_value(), it != model.end()) << "step " << step << " key " << key;
    if (it != model.end()) {
      ASSERT_EQ(*found, it->second) << "step " << step;
    }
    if (it == model.end()) {
      // A deal index spread over the bound: low, high, and the very last.
      DealIndex deal;
      do {
        deal = static_cast<DealIndex>(random() % 4 == 0 ? bound - 1 - random() % 4 : random() % bound);
      } while (owner.keys.count(deal) != 0);
      owner.Insert(&set, deal, key);
      model[key] = deal;
    } else if (random() % 3 != 0) {
      owner.Erase(&set, it->second);
      model.erase(it);
    }
    ASSERT_EQ(set.size(), model.size());
    ASSERT_LE(static_cast<double>(set.size()), DealSet::kMaxLoad * static_cast<double>(set.capacity()));
  }
  for (const auto& [key, deal] : model) ASSERT_EQ(owner.Find(set, key), deal) << key;
  owner.Erase(&set, model.begin()->second);  // erasing twice does nothing
  EXPECT_EQ(set.size(), model.size() - 1);
  set.Erase(model.begin()->second, owner.hash(model.begin()->first), owner);
  EXPECT_EQ(set.size(), model.size() - 1);
}

TEST(DealSet, AgreesWithAMapWithRoomForDistances) {
  CheckAgainstAMap(uint64_t{1} << 16, nullptr, 60000, 1);
}

TEST(DealSet, AgreesWithAMapWhenDistancesSaturate) {
  // 2^29 slots leave 3 bits (distances 0 to 6 stored, no tag); 2^32 - 1
  // leave none.
  CheckAgainstAMap(uint64_t{1} << 29, nullptr, 60000, 2);
  CheckAgainstAMap(kNoDeal, nullptr, 60000, 3);
}

TEST(DealSet, AgreesWithAMapWhenHashesCollide) {
  // 40 hash values for 3000 keys: runs of equal homes, compared by key.
  const auto few = [](uint64_t key) { return (key % 40) * 0x9E3779B97F4A7C15u; };
  CheckAgainstAMap(uint64_t{1} << 16, few, 30000, 4);
  CheckAgainstAMap(uint64_t{1} << 24, few, 30000, 7);  // 3 bits of tag, distances saturate
  CheckAgainstAMap(kNoDeal, few, 30000, 5);
  // Every key homed at the table's last slot: every run wraps to the start.
  const auto last = [](uint64_t key) { return ~uint64_t{0} - key % 7; };
  CheckAgainstAMap(uint64_t{1} << 16, last, 20000, 6);
}

TEST(DealSet, GrowsByLessThanDoublingAndHoldsOneTable) {
  // The memory bound bench/deal_memory's figures rest on: while deals are
  // only added, the table never holds more than 1 / kLoadAfterGrowth slots
  // a deal (4 bytes each), at any size, beyond its spare room of 1/64 of
  // the owner's slots.
  Owner owner;
  owner.bound = uint64_t{1} << 20;
  const double spare = static_cast<double>(owner.bound / DealSet::kSlotsPerSpareEntry);
  DealSet set;
  size_t growths = 0;
  size_t capacity = 0;
  for (DealIndex deal = 0; deal < 300000; ++deal) {
    owner.Insert(&set, deal, uint64_t{deal} * 7919);
    ASSERT_LE(static_cast<double>(set.capacity()),
              std::max(static_cast<double>(set.size()) / DealSet::kLoadAfterGrowth,
                       static_cast<double>(set.size()) + spare) +
                  DealSet::kMinCapacity)
        << deal;
    if (set.capacity() != capacity) {
      if (capacity != 0) {
        if (static_cast<double>(set.size()) / DealSet::kLoadAfterGrowth >
            static_cast<double>(set.size()) + spare) {
          ++growths;
          ASSERT_LT(static_cast<double>(set.capacity()), 1.25 * static_cast<double>(capacity));
        }
      }
      capacity = set.capacity();
    }
  }
  EXPECT_GE(growths, 9u);  // past the spare room, 82,000 to 375,000 slots by 1.15: 10
  EXPECT_EQ(set.MemoryUsage(), set.capacity() * sizeof(uint32_t));
  for (DealIndex deal = 0; deal < 300000; deal += 997) {
    ASSERT_EQ(owner.Find(set, uint64_t{deal} * 7919), deal);
  }
}

TEST(DealSet, ComparesAboutOneKeyALookup) {
  // What a lookup costs beyond the table is the owner's key reads (a cache
  // miss each, in an id column or a key arena): only entries of its home
  // whose tag matches are compared. At 2^21 slots the tag has 6 bits.
  Owner owner;
  owner.bound = uint64_t{1} << 21;
  DealSet set;
  const DealIndex n = 200000;
  for (DealIndex deal = 0; deal < n; ++deal) owner.Insert(&set, deal, uint64_t{deal} * 7919);
  size_t compares = 0;
  const auto count = [&](uint64_t key) {
    return set.Find(
        owner.hash(key), [&](DealIndex deal) { ++compares; return owner.keys.at(deal) == key; },
        owner);
  };
  for (DealIndex deal = 0; deal < n; ++deal) ASSERT_EQ(count(uint64_t{deal} * 7919), deal);
  EXPECT_LT(static_cast<double>(compares) / n, 1.05);  // the hit's own, and few more
  compares = 0;
  for (DealIndex deal = 0; deal < n; ++deal) ASSERT_FALSE(count(uint64_t{deal} * 7919 + 1));
  EXPECT_LT(static_cast<double>(compares) / n, 0.05);  // without tags: about the load, 0.8
}

TEST(DealSet, FewKeysAmongManySlotsReadTheColumnOnce) {
  // A rebuild reads the owner's column over all its slots: 1,000 keys
  // among 2^24 slots must not read it at every growth by 1.15 (40 times).
  Owner owner;
  owner.bound = uint64_t{1} << 24;
  DealSet set;
  for (DealIndex i = 0; i < 1000; ++i) owner.Insert(&set, i * 16000, i);
  EXPECT_EQ(owner.scans, 2);  // one rebuild: a count, then the entries
  for (DealIndex i = 0; i < 1000; ++i) ASSERT_EQ(owner.Find(set, i), i * 16000);
}

TEST(DealSet, BuildIndexesEveryDealAndFindsARepeatedKey) {
  Owner owner;
  owner.bound = uint64_t{1} << 16;
  for (DealIndex deal = 0; deal < 5000; ++deal) owner.keys[deal] = uint64_t{deal} * 31;
  DealSet set;
  EXPECT_EQ(set.Build(owner), std::nullopt);
  EXPECT_EQ(set.size(), 5000u);
  for (DealIndex deal = 0; deal < 5000; ++deal) ASSERT_EQ(owner.Find(set, uint64_t{deal} * 31), deal);
  owner.keys[7000] = 31 * 4321;  // deal 4321's key
  DealSet repeated;
  const std::optional<DealIndex> deal = repeated.Build(owner);
  ASSERT_TRUE(deal.has_value());
  EXPECT_TRUE(*deal == 7000 || *deal == 4321) << *deal;  // whichever comes second
}

}  // namespace
}  // namespace internal
}  // namespace salescycle
