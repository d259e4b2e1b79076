#include "salescycle/internal/string_column.h"

#include <cassert>
#include <utility>

namespace salescycle {
namespace internal {
namespace {

// Heap bytes of a string: none while it fits in the object (the capacity
// of an empty string: 15 bytes in libstdc++'s 32-byte std::string).
size_t HeapBytes(const std::string& s) {
  static const size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() + 1 : 0;
}

}  // namespace

StringColumn::StringColumn(std::string default_value) : default_(std::move(default_value)) {
  values_.emplace_back();  // "", id 0
  index_.emplace(values_[0].text, 0);
  if (!default_.empty()) {
    default_id_ = 1;
    values_.push_back(Value{default_, 0});
    index_.emplace(values_[1].text, 1);
  }
}

uint32_t StringColumn::Intern(absl::string_view value) {
  const auto it = index_.find(value);
  if (it != index_.end()) {
    ++values_[it->second].slots;
    return it->second;
  }
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    values_[id].text.assign(value.data(), value.size());
  } else {
    // values_ never outgrows the most values held at once, which Set keeps
    // to a third of the slots (DealIndex, 32 bits) by turning plain: an id
    // fits its 32 bits.
    id = static_cast<uint32_t>(values_.size());
    values_.push_back(Value{std::string(value), 0});
  }
  values_[id].slots = 1;
  index_.emplace(values_[id].text, id);
  return id;
}

void StringColumn::Release(uint32_t id) {
  Value& v = values_[id];
  assert(v.slots > 0);
  if (--v.slots > 0 || id == 0 || id == default_id_) return;
  index_.erase(v.text);
  // Its heap copy goes with it: a long note set once must not stay
  // resident in the free list.
  std::string().swap(v.text);
  free_.push_back(id);
}

void StringColumn::Set(size_t slot, absl::string_view value) {
  if (!interned_) {
    if (value.empty()) {
      // What Remove sets: the removed deal's heap copy goes with it.
      std::string().swap(plain_[slot]);
    } else {
      plain_[slot].assign(value.data(), value.size());
    }
    return;
  }
  const uint32_t old = ids_[slot];
  if (values_[old].text == value) return;
  const uint32_t id = Intern(value);
  ids_[slot] = id;
  Release(old);
  const size_t held = interned_values();
  if (held >= kMinDistinctForPlain && held > ids_.size() / 3) TurnPlain();
}

void StringColumn::Reset(size_t slot) {
  if (!interned_) {
    plain_[slot] = default_;
    return;
  }
  const uint32_t old = ids_[slot];
  if (old == default_id_) return;
  ++values_[default_id_].slots;
  ids_[slot] = default_id_;
  Release(old);
}

void StringColumn::Resize(size_t n) {
  if (!interned_) {
    plain_.resize(n, default_);
    return;
  }
  const size_t old = ids_.size();
  for (size_t slot = n; slot < old; ++slot) Release(ids_[slot]);
  ids_.resize(n, default_id_);
  if (n > old) values_[default_id_].slots += n - old;
}

void StringColumn::Reserve(size_t n) {
  if (interned_) {
    ids_.reserve(n);
  } else {
    plain_.reserve(n);
  }
}

void StringColumn::TurnPlain() {
  std::vector<std::string> plain;
  plain.reserve(ids_.capacity());
  for (const uint32_t id : ids_) plain.push_back(values_[id].text);
  plain_ = std::move(plain);
  interned_ = false;
  // Let go of everything the interned form held.
  ids_ = Column<uint32_t>();
  std::deque<Value>().swap(values_);
  std::vector<uint32_t>().swap(free_);
  absl::flat_hash_map<absl::string_view, uint32_t>().swap(index_);
  default_id_ = 0;
}

size_t StringColumn::MemoryUsage() const {
  size_t bytes = HeapBytes(default_);
  if (!interned_) {
    bytes += plain_.capacity() * sizeof(std::string);
    for (const std::string& s : plain_) bytes += HeapBytes(s);
    return bytes;
  }
  bytes += ids_.capacity() * sizeof(uint32_t) + values_.size() * sizeof(Value) +
           free_.capacity() * sizeof(uint32_t) +
           index_.capacity() * (sizeof(std::pair<absl::string_view, uint32_t>) + 1);
  for (const Value& v : values_) bytes += HeapBytes(v.text);
  return bytes;
}

}  // namespace internal
}  // namespace salescycle
