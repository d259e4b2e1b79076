// Deal keys, each stored once: the bytes in an arena of blocks that never
// move (so the arena grows without copying what it holds), a column of
// each slot's place in the arena, and a set of deal indexes (DealSet,
// src/deal_set.h) whose hash and equality read the keys through the arena.
//
// Why not two hash maps (key -> deal, deal -> key), as before: each held a
// std::string of the key (a heap block for any key past 15 bytes), 40-byte
// slots, and both doubled at once: 299 bytes of peak RSS a deal with an
// 18-byte key (bench/deal_memory). Here a key costs its bytes and a length
// byte in the arena, 8 bytes of column and 4.3 to 5 bytes of set (10.5
// with absl::flat_hash_set at 2M deals: its load fell to 0.44 after each
// doubling, and a rehash held both tables).
//
// A removed deal's key bytes stay in the arena until the pipeline is
// restored from a snapshot (which writes only live keys).
#ifndef SALESCYCLE_SRC_KEY_INDEX_H_
#define SALESCYCLE_SRC_KEY_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/numeric/bits.h"
#include "absl/strings/string_view.h"
#include "salescycle/types.h"
#include "src/deal_set.h"

namespace salescycle {
namespace internal {

class KeyIndex {
 public:
  KeyIndex();
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;

  // The live deal with `key`, if any.
  std::optional<DealIndex> Find(absl::string_view key) const;
  // Gives `deal` the key; false (nothing changed) when a live deal has it
  // or `deal` has a key already.
  bool Insert(absl::string_view key, DealIndex deal);
  // Takes `deal`'s key away, if it has one.
  void Erase(DealIndex deal);
  // Gives `deal` the key without looking it up (false, nothing changed,
  // when `deal` has a key): a load adds every key so, then calls Reindex
  // once. Until then, only KeyOf may be called.
  bool InsertUnindexed(absl::string_view key, DealIndex deal);
  // Indexes every key, sized for them. A deal whose key an earlier deal
  // also has, if any: then the index stays incomplete, and the owner is to
  // be discarded.
  std::optional<DealIndex> Reindex();
  // `deal`'s key, if it has one; valid until the next Insert or Erase.
  std::optional<absl::string_view> KeyOf(DealIndex deal) const;
  bool empty() const { return deals_.empty(); }
  size_t size() const { return deals_.size(); }
  // The arena's blocks, the place column's chunks and the set's slots and
  // control bytes (capacity, not size).
  size_t MemoryUsage() const;

 private:
  // What DealSet asks of its owner (src/deal_set.h).
  friend class DealSet;
  uint64_t HashOf(DealIndex deal) const { return HashKey(Key(deal)); }
  static uint64_t HashKey(absl::string_view key) { return absl::Hash<absl::string_view>()(key); }
  template <typename F>
  void ForEachDeal(F f) const {
    for (size_t chunk = 0; chunk < places_.size(); ++chunk) {
      const uint64_t* places = places_[chunk].get();
      for (size_t slot = 0; slot < kPlaceChunk; ++slot) {
        if (places[slot] != 0) f(static_cast<DealIndex>(chunk << kPlaceChunkBits | slot));
      }
    }
  }
  uint64_t SlotBound() const { return uint64_t{places_.size()} << kPlaceChunkBits; }
  bool SameKey(DealIndex a, DealIndex b) const { return Key(a) == Key(b); }

  // Find, for a key already hashed.
  std::optional<DealIndex> FindHashed(absl::string_view key, uint64_t hash) const;
  // A deal's key. REQUIRES: it has one.
  absl::string_view Key(DealIndex deal) const;
  // Copies `key`, its length first, into the arena; its place there.
  uint64_t Store(absl::string_view key);

  struct Block {
    std::unique_ptr<char[]> bytes;
    size_t size = 0;
    size_t used = 0;
  };
  std::vector<Block> blocks_;
  // By slot: 0 for none, else 1 + (block << 32 | offset) of the key's
  // length byte(s). In chunks of kPlaceChunk slots rather than one
  // vector: a vector that doubles holds its old and new arrays at once
  // (8 more bytes a deal of peak RSS at 2M deals).
  static constexpr size_t kPlaceChunkBits = 16;
  static constexpr size_t kPlaceChunk = size_t{1} << kPlaceChunkBits;
  uint64_t Place(DealIndex deal) const {
    const size_t chunk = deal >> kPlaceChunkBits;
    return chunk < places_.size() ? places_[chunk][deal & (kPlaceChunk - 1)] : 0;
  }
  uint64_t& MutablePlace(DealIndex deal);
  std::vector<std::unique_ptr<uint64_t[]>> places_;
  DealSet deals_;
};

// Deal ids, as KeyIndex keeps keys: each id once, in a chunked column by
// slot, and a set of deal indexes hashed through it (two maps, id -> deal
// and deal -> id, took 120 bytes of peak RSS a deal at 2M deals).
class IdIndex {
 public:
  IdIndex();
  IdIndex(const IdIndex&) = delete;
  IdIndex& operator=(const IdIndex&) = delete;

  // The live deal with `id`, if any.
  std::optional<DealIndex> Find(uint64_t id) const;
  // Gives `deal` the id; false (nothing changed) when a live deal has it
  // or `deal` has an id already.
  bool Insert(uint64_t id, DealIndex deal);
  // Takes `deal`'s id away, if it has one.
  void Erase(DealIndex deal);
  // As KeyIndex's: ids added without a lookup, then indexed at once.
  bool InsertUnindexed(uint64_t id, DealIndex deal);
  std::optional<DealIndex> Reindex();
  // `deal`'s id, if it has one.
  std::optional<uint64_t> IdOf(DealIndex deal) const;
  bool empty() const { return deals_.empty(); }
  // The id and presence chunks and the set (capacity, not size).
  size_t MemoryUsage() const;

 private:
  static constexpr size_t kChunkBits = 16;
  static size_t Chunk(DealIndex deal) { return deal >> kChunkBits; }
  static size_t Slot(DealIndex deal) { return deal & ((size_t{1} << kChunkBits) - 1); }
  bool Has(DealIndex deal) const {
    return Chunk(deal) < has_.size() && ((has_[Chunk(deal)][Slot(deal) >> 6] >> (deal & 63)) & 1);
  }

  // What DealSet asks of its owner (src/deal_set.h).
  friend class DealSet;
  uint64_t HashOf(DealIndex deal) const { return HashId(ids_[Chunk(deal)][Slot(deal)]); }
  static uint64_t HashId(uint64_t id) { return absl::Hash<uint64_t>()(id); }
  template <typename F>
  void ForEachDeal(F f) const {
    constexpr size_t kWords = (size_t{1} << kChunkBits) / 64;
    for (size_t chunk = 0; chunk < has_.size(); ++chunk) {
      for (size_t word = 0; word < kWords; ++word) {
        for (uint64_t bits = has_[chunk][word]; bits != 0; bits &= bits - 1) {
          f(static_cast<DealIndex>(chunk << kChunkBits | word << 6 |
                                   static_cast<size_t>(absl::countr_zero(bits))));
        }
      }
    }
  }
  uint64_t SlotBound() const { return uint64_t{ids_.size()} << kChunkBits; }
  bool SameKey(DealIndex a, DealIndex b) const {
    return ids_[Chunk(a)][Slot(a)] == ids_[Chunk(b)][Slot(b)];
  }

  std::optional<DealIndex> FindHashed(uint64_t id, uint64_t hash) const;
  // Writes `deal`'s id and presence bit.
  void Store(uint64_t id, DealIndex deal);

  // By slot, in chunks that never move: the id, and whether there is one.
  std::vector<std::unique_ptr<uint64_t[]>> ids_;
  std::vector<std::unique_ptr<uint64_t[]>> has_;
  DealSet deals_;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_KEY_INDEX_H_
