// A hash set of deal indexes whose keys live with their owner (KeyIndex's
// arena, IdIndex's column): 4 bytes an entry, at a load of 0.8 to 0.92, so
// 4.3 to 5 bytes a deal at any size, growth included (issue 17: a deal by
// id in 40 bytes of peak RSS).
//
// What it replaced, absl::flat_hash_set<DealIndex>, spends 5 bytes a slot
// at a load between 0.44 and 0.875 and doubles, holding the old and the new
// table at once: 10.5 bytes a deal at 2M deals. Three choices make the
// difference:
// - Robin Hood linear probing: entries sorted by home slot, so a load of
//   0.92 keeps probes short, and a lookup compares a key (a read of the
//   owner's memory) only for entries with its own home and tag.
// - An entry is the deal index + 1 (0 is empty) in its low `index_bits_`
//   bits (as many as the owner's slots need) and, in the bits above, the
//   entry's distance from its home (5 bits), so probing needs no key to
//   place an entry, then as many low bits of its hash as are left (a tag:
//   at 2M slots 6 bits, so 1 in 64 entries of a lookup's home has its
//   key compared in vain). A distance too large for its bits is saturated,
//   and the owner hashes that entry's key again when it is needed: slower,
//   never wrong (with 2^31 or more slots there are no spare bits, and
//   every distance is recomputed, every entry of the home compared).
// - Growth rebuilds from the owner, not from the old table: the old table
//   is freed first, the new one sized for a load of 0.8, and the owner
//   hashes each key again as it walks its column in order. The peak is one
//   table; the price is about seven rebuilds of each entry over its life
//   (growth by 1.15), in sequential reads of the owner's column.
//
// Homes are the hash's top 64 bits scaled to the table (h * capacity >>
// 64), so any capacity works and growth is not by doubling.
//
// The Owner (KeyIndex, IdIndex) provides:
//   uint64_t HashOf(DealIndex deal) const;      // the deal's key's hash
//   template <typename F> void ForEachDeal(F f) const;  // f(deal) for each
//   uint64_t SlotBound() const;  // every deal it may insert is below it
//   bool SameKey(DealIndex a, DealIndex b) const;  // for Build
#ifndef SALESCYCLE_SRC_DEAL_SET_H_
#define SALESCYCLE_SRC_DEAL_SET_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/numeric/bits.h"
#include "absl/numeric/int128.h"
#include "salescycle/types.h"
#include "src/page_memory.h"

namespace salescycle {
namespace internal {

class DealSet {
 public:
  // Above this load an insert rebuilds the table, for a load of
  // kLoadAfterGrowth. Public for the tests.
  static constexpr double kMaxLoad = 0.92;
  static constexpr double kLoadAfterGrowth = 0.8;
  static constexpr size_t kMinCapacity = 16;
  static constexpr uint64_t kSlotsPerSpareEntry = 64;
  // Bits of an entry's distance from its home, when the deal index leaves
  // them: distances 0 to 30 stored, 31 and up saturated (at a load of 0.92
  // the mean distance is about 6).
  static constexpr int kDistanceBits = 5;

  DealSet() = default;
  DealSet(const DealSet&) = delete;
  DealSet& operator=(const DealSet&) = delete;
  ~DealSet() { FreeZeroed(table_, capacity_ * sizeof(uint32_t)); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  size_t MemoryUsage() const { return capacity_ * sizeof(uint32_t); }

  // The deal whose key hashes to `hash` and for which `matches(deal)` is
  // true, if any.
  template <typename Owner, typename Matches>
  std::optional<DealIndex> Find(uint64_t hash, Matches matches, const Owner& owner) const {
    const std::optional<size_t> pos = PositionOf(hash, matches, owner);
    if (!pos.has_value()) return std::nullopt;
    return DealOf(table_[*pos]);
  }

  // Adds `deal`, whose key hashes to `hash`. REQUIRES: neither the deal
  // nor an equal key in the set; the owner already answers for `deal`
  // (HashOf, ForEachDeal).
  template <typename Owner>
  void Insert(DealIndex deal, uint64_t hash, const Owner& owner) {
    if (uint64_t{deal} + 1 > index_mask_ ||
        static_cast<double>(size_ + 1) > kMaxLoad * static_cast<double>(capacity_)) {
      Rebuild(owner);  // takes `deal` in too: the owner lists it
      return;
    }
    Place(deal, hash, owner);
  }

  // Indexes every deal of the owner at once, sized for them: what a load
  // does after adding keys unindexed, instead of a growth every 15%. The
  // first deal whose key an earlier deal has, if any (then the set is
  // incomplete, and the owner is to be discarded).
  template <typename Owner>
  std::optional<DealIndex> Build(const Owner& owner) {
    return Rebuild</*kCheck=*/true>(owner);
  }

  // Takes `deal`, whose key hashes to `hash`, out; nothing if it is not in.
  template <typename Owner>
  void Erase(DealIndex deal, uint64_t hash, const Owner& owner) {
    const std::optional<size_t> found =
        PositionOf(hash, [deal](DealIndex other) { return other == deal; }, owner);
    if (!found.has_value()) return;
    size_t pos = *found;
    // Backward shift: each following entry away from its home moves one
    // closer, so no tombstone is left to lengthen later probes.
    for (size_t next = Next(pos);; pos = next, next = Next(next)) {
      const uint32_t entry = table_[next];
      const uint64_t d = entry == 0 ? 0 : DistanceAt(entry, next, owner);
      if (d == 0) break;
      table_[pos] = Encode(DealOf(entry), d - 1, TagIn(entry));
    }
    table_[pos] = 0;
    --size_;
  }

 private:
  // The slot of the entry of `hash`'s home and tag for which
  // `matches(deal)` is true, if any.
  template <typename Owner, typename Matches>
  std::optional<size_t> PositionOf(uint64_t hash, Matches matches, const Owner& owner) const {
    if (size_ == 0) return std::nullopt;
    const uint64_t tag = TagOf(hash);
    size_t pos = Home(hash);
    for (uint64_t dist = 0;; ++dist, pos = Next(pos)) {
      const uint32_t entry = table_[pos];
      if (entry == 0) return std::nullopt;
      const uint64_t d = DistanceAt(entry, pos, owner);
      // Sorted by home: past the entries of our home, it is not here.
      if (d < dist) return std::nullopt;
      if (d == dist && TagIn(entry) == tag && matches(DealOf(entry))) return pos;
    }
  }

  size_t Home(uint64_t hash) const {
    return static_cast<size_t>(absl::Uint128High64(absl::uint128(hash) * capacity_));
  }
  size_t Next(size_t pos) const { return pos + 1 == capacity_ ? 0 : pos + 1; }
  DealIndex DealOf(uint32_t entry) const {
    return static_cast<DealIndex>((entry & index_mask_) - 1);
  }
  uint64_t TagOf(uint64_t hash) const { return hash & tag_mask_; }
  uint64_t TagIn(uint32_t entry) const { return uint64_t{entry} >> tag_shift_; }
  uint32_t Encode(DealIndex deal, uint64_t dist, uint64_t tag) const {
    const uint64_t stored = dist < max_stored_ ? dist : max_stored_;
    return static_cast<uint32_t>((tag << tag_shift_) | (stored << index_bits_) |
                                 (uint64_t{deal} + 1));
  }
  // How far the entry at `pos` is from its home.
  template <typename Owner>
  uint64_t DistanceAt(uint32_t entry, size_t pos, const Owner& owner) const {
    const uint64_t stored = (uint64_t{entry} >> index_bits_) & max_stored_;
    if (stored < max_stored_) return stored;
    const size_t home = Home(owner.HashOf(DealOf(entry)));  // saturated
    return pos >= home ? pos - home : pos + capacity_ - home;
  }

  // Robin Hood insertion: an entry nearer its home than the one being
  // placed gives up its slot and is placed further on.
  template <typename Owner>
  void Place(DealIndex deal, uint64_t hash, const Owner& owner) {
    size_t pos = Home(hash);
    uint64_t dist = 0;
    uint64_t tag = TagOf(hash);
    for (;; ++dist, pos = Next(pos)) {
      const uint32_t entry = table_[pos];
      if (entry == 0) break;
      const uint64_t d = DistanceAt(entry, pos, owner);
      if (d < dist) {
        table_[pos] = Encode(deal, dist, tag);
        deal = DealOf(entry);
        dist = d;
        tag = TagIn(entry);
      }
    }
    table_[pos] = Encode(deal, dist, tag);
    ++size_;
  }

  // Builds the table afresh from the owner's deals. With kCheck, each
  // deal's key is first looked for among those placed before it; the first
  // deal found to repeat one is returned (the table then holds the deals
  // before it).
  template <bool kCheck = false, typename Owner>
  std::optional<DealIndex> Rebuild(const Owner& owner) {
    size_t count = 0;
    owner.ForEachDeal([&count](DealIndex) { ++count; });
    FreeZeroed(table_, capacity_ * sizeof(uint32_t));
    table_ = nullptr;
    capacity_ = 0;
    size_ = 0;
    const uint64_t bound = owner.SlotBound();
    assert(bound <= uint64_t{kNoDeal});
    // An entry holds deal + 1, so 2^32 - 1 slots need 32 bits. A deal past
    // the bits rebuilds the table: once each time the owner's slots pass a
    // power of two.
    index_bits_ = absl::bit_width(bound);
    index_mask_ = static_cast<uint32_t>((uint64_t{1} << index_bits_) - 1);
    const int spare = 32 - index_bits_;
    const int dist_bits = spare < kDistanceBits ? spare : kDistanceBits;
    max_stored_ = (uint64_t{1} << dist_bits) - 1;
    tag_shift_ = index_bits_ + dist_bits;
    tag_mask_ = (uint64_t{1} << (spare - dist_bits)) - 1;
    // A rebuild reads the owner's whole column (SlotBound slots): with few
    // keys among many slots, growth by 1.15 would read it again every few
    // keys. So a table has room for at least 1/64 of the slots more than it
    // holds, and each read is shared by that many inserts (about 1/16 of a
    // byte a slot; nothing when most slots have keys).
    size_t capacity = static_cast<size_t>(static_cast<double>(count) / kLoadAfterGrowth) + 1;
    if (capacity < count + bound / kSlotsPerSpareEntry) {
      capacity = count + static_cast<size_t>(bound / kSlotsPerSpareEntry);
    }
    if (capacity < kMinCapacity) capacity = kMinCapacity;
    table_ = static_cast<uint32_t*>(AllocateZeroed(capacity * sizeof(uint32_t)));
    capacity_ = capacity;
    // The owner's keys are read in order, the table at random: a batch's
    // homes are fetched ahead of placing them, so the misses overlap.
    constexpr size_t kBatch = 16;
    DealIndex deals[kBatch];
    uint64_t hashes[kBatch];
    size_t n = 0;
    std::optional<DealIndex> repeated;
    const auto place_batch = [&] {
      for (size_t i = 0; i < n && !repeated.has_value(); ++i) {
        const DealIndex deal = deals[i];
        if constexpr (kCheck) {
          const auto same = [&](DealIndex other) { return owner.SameKey(deal, other); };
          if (Find(hashes[i], same, owner).has_value()) {
            repeated = deal;
            break;
          }
        }
        Place(deal, hashes[i], owner);
      }
      n = 0;
    };
    owner.ForEachDeal([&](DealIndex deal) {
      if (repeated.has_value()) return;
      assert(uint64_t{deal} < bound);
      deals[n] = deal;
      hashes[n] = owner.HashOf(deal);
      __builtin_prefetch(&table_[Home(hashes[n])], /*rw=*/1);
      if (++n == kBatch) place_batch();
    });
    place_batch();
    return repeated;
  }

  uint32_t* table_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
  int index_bits_ = 0;
  uint32_t index_mask_ = 0;
  uint64_t max_stored_ = 0;  // also the distance field's mask
  int tag_shift_ = 32;
  uint64_t tag_mask_ = 0;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_DEAL_SET_H_
