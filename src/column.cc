#include "salescycle/internal/column.h"

#include "src/page_memory.h"

namespace salescycle {
namespace internal {

ColumnStorage::ColumnStorage(ColumnStorage&& other) noexcept
    : bytes_(other.bytes_), capacity_bytes_(other.capacity_bytes_) {
  other.bytes_ = nullptr;
  other.capacity_bytes_ = 0;
}

ColumnStorage& ColumnStorage::operator=(ColumnStorage&& other) noexcept {
  if (this != &other) {
    FreeZeroed(bytes_, capacity_bytes_);
    bytes_ = other.bytes_;
    capacity_bytes_ = other.capacity_bytes_;
    other.bytes_ = nullptr;
    other.capacity_bytes_ = 0;
  }
  return *this;
}

ColumnStorage::~ColumnStorage() { FreeZeroed(bytes_, capacity_bytes_); }

void ColumnStorage::Reserve(size_t bytes) {
  if (bytes <= capacity_bytes_) return;
  // On the heap a growth copies, so it doubles; on pages it moves page
  // table entries, not bytes, so growing by a quarter costs little more
  // and keeps the capacity (what MemoryUsage counts) near the size.
  size_t capacity = capacity_bytes_ < 64 ? 64 : capacity_bytes_;
  while (capacity < bytes) {
    capacity += capacity >= kPageArrayMinBytes ? capacity / 4 : capacity;
  }
  bytes_ = ResizeZeroed(bytes_, capacity_bytes_, capacity);
  capacity_bytes_ = capacity;
}

void ColumnStorage::Zero(size_t from, size_t to) {
  if (from < to) std::memset(static_cast<char*>(bytes_) + from, 0, to - from);
}

}  // namespace internal
}  // namespace salescycle
