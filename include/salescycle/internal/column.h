// Not part of the API: the per-deal arrays inside Pipeline, here only
// because Pipeline's inline accessors read them. May change at any time.
//
// A Column is a std::vector of a trivially copyable type that grows without
// copying: its storage comes from the kernel's pages (src/page_memory.h),
// and on Linux a growth moves the pages (mremap) instead of copying them
// into a new array. A vector that doubles holds its old and new arrays at
// once, the copy touching every page of both; at 10M deals that spike was
// the largest part of a deal's peak RSS beyond its steady bytes (issue 17,
// bench/RESULTS.md). Capacity past the size is zero and untouched, so it
// costs address space, not memory.
#ifndef SALESCYCLE_INTERNAL_COLUMN_H_
#define SALESCYCLE_INTERNAL_COLUMN_H_

#include <cassert>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

namespace salescycle {
namespace internal {

// The bytes of a Column; out of line, in the library.
class ColumnStorage {
 public:
  ColumnStorage() = default;
  ColumnStorage(const ColumnStorage&) = delete;
  ColumnStorage& operator=(const ColumnStorage&) = delete;
  ColumnStorage(ColumnStorage&& other) noexcept;
  ColumnStorage& operator=(ColumnStorage&& other) noexcept;
  ~ColumnStorage();

 protected:
  // Grows the storage to at least `bytes` (geometrically: doubling on the
  // heap, by a quarter on pages, so appending one element at a time costs
  // O(1) amortized); what it holds is kept, and the rest is zero.
  void Reserve(size_t bytes);
  // Zeroes [from, to) (a shrink), so the bytes past the size stay zero.
  void Zero(size_t from, size_t to);

  void* bytes_ = nullptr;
  size_t capacity_bytes_ = 0;
};

template <typename T>
class Column : private ColumnStorage {
  static_assert(std::is_trivially_copyable<T>::value, "a Column holds plain values");

 public:
  using value_type = T;

  Column() = default;
  Column(Column&& other) noexcept : ColumnStorage(std::move(other)), size_(other.size_) {
    other.size_ = 0;
  }
  Column& operator=(Column&& other) noexcept {
    ColumnStorage::operator=(std::move(other));
    size_ = other.size_;
    other.size_ = 0;
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_bytes_ / sizeof(T); }
  T* data() { return static_cast<T*>(bytes_); }
  const T* data() const { return static_cast<const T*>(bytes_); }
  T& operator[](size_t i) {
    assert(i < size_);
    return data()[i];
  }
  const T& operator[](size_t i) const {
    assert(i < size_);
    return data()[i];
  }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }

  void reserve(size_t n) {
    if (n > capacity()) Reserve(n * sizeof(T));
  }
  // New elements are `value`; ones that are all zero bytes are left as the
  // storage's zeros (their pages untouched until written).
  void resize(size_t n, const T& value = T()) {
    if (n < size_) {
      Zero(n * sizeof(T), size_ * sizeof(T));
    } else if (n > size_) {
      reserve(n);
      if (!IsZero(value)) {
        for (size_t i = size_; i < n; ++i) data()[i] = value;
      }
    }
    size_ = n;
  }
  void clear() { resize(0); }

 private:
  static bool IsZero(const T& value) {
    unsigned char zero[sizeof(T)] = {};
    return std::memcmp(&value, zero, sizeof(T)) == 0;
  }

  size_t size_ = 0;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_INTERNAL_COLUMN_H_
