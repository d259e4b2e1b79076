// A pipeline's pending timeouts as a min-heap on (due time, deal), kept
// across calls so that a stream of records can fire the timeouts that fall
// due between them without scanning every deal per record.
//
// Entries are never removed when a deal moves on: the queue is lazy. A
// popped entry counts only if it is still the deal's due time (the caller
// checks, as Pipeline::FireDue does), so a stale entry is skipped and a
// duplicate fires nothing twice. The invariant the owner keeps: every live
// deal with a timeout pending has an entry for its current due time. Steps
// that bypass the queue (the batch hot loops) must Invalidate() it instead.
#ifndef SALESCYCLE_SRC_TIMER_QUEUE_H_
#define SALESCYCLE_SRC_TIMER_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <vector>

#include "salescycle/types.h"

namespace salescycle {
namespace internal {

class TimerQueue {
 public:
  struct Due {
    Timestamp time;
    DealIndex deal;
  };

  // Whether the invariant holds; false until the owner has pushed every
  // pending timeout (and after Invalidate).
  bool valid() const { return valid_; }
  void Invalidate() {
    valid_ = false;
    heap_.clear();
  }
  // Starts over: the owner pushes every pending timeout next.
  void Reset() {
    heap_.clear();
    valid_ = true;
  }

  void Push(Timestamp time, DealIndex deal) {
    heap_.push_back(Due{time, deal});
    std::push_heap(heap_.begin(), heap_.end(), Later);
  }
  bool empty() const { return heap_.empty(); }
  // REQUIRES: !empty().
  const Due& top() const { return heap_.front(); }
  Due Pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    const Due d = heap_.back();
    heap_.pop_back();
    return d;
  }
  size_t MemoryUsage() const { return heap_.capacity() * sizeof(Due); }

 private:
  // Ties go to the lower DealIndex, so that the order is the pipeline's own.
  static bool Later(const Due& a, const Due& b) {
    return a.time != b.time ? a.time > b.time : a.deal > b.deal;
  }

  std::vector<Due> heap_;
  bool valid_ = false;
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_TIMER_QUEUE_H_
