// Not part of the API: a string attribute's values inside Pipeline, here
// only because Pipeline holds them by value. May change at any time.
//
// A CRM's string attributes are mostly a few values shared by many deals (a
// lead source, an owner, a region, a lost reason). A std::string a deal is
// 32 bytes, set or not, plus its heap copy past 15 characters: the shipped
// b2b template's two string attributes were 64 of its 151 bytes a deal. A
// StringColumn keeps each distinct value once, counted, and 4 bytes a deal
// that name it.
//
// Where values are mostly distinct (an email, a note) that table costs
// more than the strings: about 72 bytes a distinct value (the string, its
// count, its place in the index) against 32. So a column that comes to
// hold more distinct values than a third of its slots, past
// kMinDistinctForPlain, turns into one std::string a slot and stays so:
// interned, it would cost 4 + 72/3 = 28 bytes a slot there, about what
// plain strings do, and more past it. A column never turns back: a share
// that hovers around the line must not convert it again and again.
#ifndef SALESCYCLE_INTERNAL_STRING_COLUMN_H_
#define SALESCYCLE_INTERNAL_STRING_COLUMN_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "salescycle/internal/column.h"

namespace salescycle {
namespace internal {

class StringColumn {
 public:
  // A column of no slots; new slots hold `default_value`.
  explicit StringColumn(std::string default_value);
  StringColumn(const StringColumn&) = delete;
  StringColumn& operator=(const StringColumn&) = delete;
  // The index's keys point into values_, whose elements a deque's move
  // leaves where they are.
  StringColumn(StringColumn&&) = default;
  StringColumn& operator=(StringColumn&&) = default;

  size_t size() const { return interned_ ? ids_.size() : plain_.size(); }
  // Valid until the slot's value or the column's size changes.
  const std::string& operator[](size_t slot) const {
    return interned_ ? values_[ids_[slot]].text : plain_[slot];
  }
  void Set(size_t slot, absl::string_view value);
  // The slot holds the default again (a new deal's value), without a
  // lookup while interned.
  void Reset(size_t slot);
  // Grows (new slots hold the default) or shrinks to `n` slots.
  void Resize(size_t n);
  void Reserve(size_t n);

  // Whether the column keeps each distinct value once (it has not found
  // its values mostly distinct).
  bool interned() const { return interned_; }
  // The distinct values an interned column holds, "" and the default
  // among them (it never lets those go); 0 once it is plain.
  size_t interned_values() const { return values_.size() - free_.size(); }
  // Bytes held, heap copies of long strings included.
  size_t MemoryUsage() const;

  // A column that reaches this many distinct values, and more than a third
  // of its slots, turns plain.
  static constexpr size_t kMinDistinctForPlain = 1024;

 private:
  struct Value {
    std::string text;
    uint64_t slots = 0;  // how many slots hold it; 0: on the free list
  };

  uint32_t Intern(absl::string_view value);
  void Release(uint32_t id);
  void TurnPlain();

  bool interned_ = true;
  // Interned: ids_[slot] is an index into values_. values_[0] is "" (what
  // a removed deal holds) and values_[default_id_] the default; neither is
  // ever let go, so that naming them needs no lookup.
  Column<uint32_t> ids_;
  std::deque<Value> values_;
  std::vector<uint32_t> free_;  // indices into values_ let go, for reuse
  absl::flat_hash_map<absl::string_view, uint32_t> index_;  // keys: values_[i].text
  uint32_t default_id_ = 0;
  // Plain: a value a slot.
  std::vector<std::string> plain_;
  std::string default_;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_INTERNAL_STRING_COLUMN_H_
