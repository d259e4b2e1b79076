#include "src/key_index.h"

#include <algorithm>
#include <cstring>

namespace salescycle {
namespace internal {
namespace {

// Blocks of 1 MiB: few enough that their list stays small, small enough
// that the last one's unused part is nothing beside a million keys.
constexpr size_t kBlockBytes = size_t{1} << 20;
constexpr size_t kMaxLengthBytes = 10;  // a varint of 64 bits

}  // namespace

KeyIndex::KeyIndex() = default;

absl::string_view KeyIndex::Key(DealIndex deal) const {
  const uint64_t place = Place(deal) - 1;
  const Block& block = blocks_[place >> 32];
  const char* p = block.bytes.get() + (place & 0xFFFFFFFF);
  // The length, LEB128: 7 bits a byte, low first.
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(*p++);
    length |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return absl::string_view(p, static_cast<size_t>(length));
}

uint64_t KeyIndex::Store(absl::string_view key) {
  const size_t need = key.size() + kMaxLengthBytes;
  if (blocks_.empty() || blocks_.back().size - blocks_.back().used < need) {
    Block block;
    block.size = std::max(kBlockBytes, need);
    block.bytes = std::make_unique<char[]>(block.size);
    blocks_.push_back(std::move(block));
  }
  Block& block = blocks_.back();
  const uint64_t place = (uint64_t{blocks_.size() - 1} << 32) | block.used;
  char* p = block.bytes.get() + block.used;
  uint64_t length = key.size();
  do {
    const auto byte = static_cast<unsigned char>(length & 0x7F);
    length >>= 7;
    *p++ = static_cast<char>(length != 0 ? (byte | 0x80) : byte);
  } while (length != 0);
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  block.used = static_cast<size_t>(p - block.bytes.get()) + key.size();
  return place;
}

std::optional<DealIndex> KeyIndex::Find(absl::string_view key) const {
  return FindHashed(key, HashKey(key));
}

std::optional<DealIndex> KeyIndex::FindHashed(absl::string_view key, uint64_t hash) const {
  return deals_.Find(hash, [&](DealIndex deal) { return Key(deal) == key; }, *this);
}

uint64_t& KeyIndex::MutablePlace(DealIndex deal) {
  const size_t chunk = deal >> kPlaceChunkBits;
  while (places_.size() <= chunk) {
    places_.push_back(std::make_unique<uint64_t[]>(kPlaceChunk));  // zeros: no key
  }
  return places_[chunk][deal & (kPlaceChunk - 1)];
}

bool KeyIndex::Insert(absl::string_view key, DealIndex deal) {
  // A deal has one key: a second would leave the set hashing a stale one
  // (a damaged snapshot could ask for it).
  const uint64_t hash = HashKey(key);
  if (Place(deal) != 0 || FindHashed(key, hash).has_value()) return false;
  MutablePlace(deal) = Store(key) + 1;
  deals_.Insert(deal, hash, *this);
  return true;
}

bool KeyIndex::InsertUnindexed(absl::string_view key, DealIndex deal) {
  if (Place(deal) != 0) return false;
  MutablePlace(deal) = Store(key) + 1;
  return true;
}

std::optional<DealIndex> KeyIndex::Reindex() { return deals_.Build(*this); }

void KeyIndex::Erase(DealIndex deal) {
  if (Place(deal) == 0) return;
  deals_.Erase(deal, HashOf(deal), *this);  // reads keys: before the place is cleared
  MutablePlace(deal) = 0;
}

std::optional<absl::string_view> KeyIndex::KeyOf(DealIndex deal) const {
  if (Place(deal) == 0) return std::nullopt;
  return Key(deal);
}

size_t KeyIndex::MemoryUsage() const {
  size_t bytes = places_.size() * kPlaceChunk * sizeof(uint64_t) +
                 deals_.MemoryUsage();
  for (const Block& block : blocks_) bytes += block.size;
  return bytes;
}

IdIndex::IdIndex() = default;

size_t IdIndex::MemoryUsage() const {
  constexpr size_t kChunk = size_t{1} << kChunkBits;
  return ids_.size() * kChunk * sizeof(uint64_t) + has_.size() * (kChunk / 64) * sizeof(uint64_t) +
         deals_.MemoryUsage();
}

std::optional<DealIndex> IdIndex::Find(uint64_t id) const { return FindHashed(id, HashId(id)); }

std::optional<DealIndex> IdIndex::FindHashed(uint64_t id, uint64_t hash) const {
  return deals_.Find(
      hash, [&](DealIndex deal) { return ids_[Chunk(deal)][Slot(deal)] == id; }, *this);
}

bool IdIndex::Insert(uint64_t id, DealIndex deal) {
  const uint64_t hash = HashId(id);
  if (Has(deal) || FindHashed(id, hash).has_value()) return false;  // as KeyIndex's
  Store(id, deal);
  deals_.Insert(deal, hash, *this);
  return true;
}

bool IdIndex::InsertUnindexed(uint64_t id, DealIndex deal) {
  if (Has(deal)) return false;
  Store(id, deal);
  return true;
}

std::optional<DealIndex> IdIndex::Reindex() { return deals_.Build(*this); }

void IdIndex::Store(uint64_t id, DealIndex deal) {
  const size_t chunk = Chunk(deal);
  while (ids_.size() <= chunk) {
    ids_.push_back(std::make_unique<uint64_t[]>(size_t{1} << kChunkBits));
    has_.push_back(std::make_unique<uint64_t[]>((size_t{1} << kChunkBits) / 64));  // zeros
  }
  ids_[chunk][Slot(deal)] = id;
  has_[chunk][Slot(deal) >> 6] |= uint64_t{1} << (deal & 63);
}

void IdIndex::Erase(DealIndex deal) {
  if (!Has(deal)) return;
  deals_.Erase(deal, HashOf(deal), *this);  // reads ids: before it is marked gone
  has_[Chunk(deal)][Slot(deal) >> 6] &= ~(uint64_t{1} << (deal & 63));
}

std::optional<uint64_t> IdIndex::IdOf(DealIndex deal) const {
  if (!Has(deal)) return std::nullopt;
  return ids_[Chunk(deal)][Slot(deal)];
}

}  // namespace internal
}  // namespace salescycle
