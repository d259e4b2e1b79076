// The figure "the fire and batch paths allocate nothing when history is
// off", checked by counting every call of the global operator new in this
// binary while those paths run.
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "salescycle/journey.h"
#include "salescycle/pipeline.h"
#include "tests/test_util.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort's buffer uses it): left to the
// runtime, its memory would come back through the delete below, a
// mismatch AddressSanitizer reports.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
// GCC pairs these with the standard operator new and warns that malloc'ed
// memory goes to free; in this binary both halves are replaced, so they match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace salescycle {
namespace {

class CountingObserver : public Observer {
 public:
  long moves = 0, rejections = 0;
  void OnTransition(const StepResult&) override { ++moves; }
  void OnRejection(const StepResult&) override { ++rejections; }
};

// Guarded cycle9, so the guard path (slow cells) runs too.
struct Fixture {
  std::shared_ptr<const Machine> m = LoadTemplate("cycle9_guarded.textproto");
  std::vector<EventRecord> records;
  Fixture() {
    for (uint32_t i = 0; i < 100000; ++i) {
      records.push_back(EventRecord{i % 1000, (i * 7) % 12, i});
    }
  }
};

TEST(Allocation, CounterSeesAllocations) {
  const long before = g_allocations.load();
  auto* v = new std::vector<int>(100);
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2);
}

TEST(Allocation, BatchAndFireAllocateNothingWithHistoryOff) {
  Fixture f;
  auto p = *Pipeline::Create(f.m);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.Add(0).ok());
    ASSERT_TRUE(p.Set(i, 0, AttributeValue::Int64(i * 3)).ok());
  }
  CountingObserver observer;
  const long before = g_allocations.load();
  const BatchResult r = *p.Apply(f.records);
  const auto one = p.Fire(3, EventId{0}, 100001);
  const auto rejected = p.Fire(3, EventId{11}, 100002);
  p.AddObserver(&observer);  // may allocate: registration, not firing
  const long after_register = g_allocations.load();
  const BatchResult observed = *p.Apply(f.records);
  const long after = g_allocations.load();
  EXPECT_EQ(after_register - before, 1);  // the observer list only
  EXPECT_EQ(after - after_register, 0);
  EXPECT_GT(r.accepted, 0u);
  EXPECT_GT(r.rejected, 0u);
  EXPECT_TRUE(one.ok() && rejected.ok());
  EXPECT_EQ(observer.moves + observer.rejections,
            static_cast<long>(f.records.size()));
  EXPECT_EQ(observed.accepted, static_cast<uint64_t>(observer.moves));
}

TEST(Allocation, HistoryIsReservedWhenADealIsAddedNotWhenItFires) {
  Fixture f;
  PipelineOptions options;
  options.history_limit = 8;
  auto p = *Pipeline::Create(f.m, options);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(p.Add(0).ok());
  const long before = g_allocations.load();
  ASSERT_TRUE(p.Apply(f.records).ok());
  EXPECT_EQ(g_allocations.load() - before, 0);
}

TEST(Allocation, JourneyFireAllocatesNothing) {
  Fixture f;
  JourneyOptions options;
  options.history_limit = 4;
  auto j = *Journey::Create(f.m, 0, options);
  ASSERT_TRUE(j.Set("budget", AttributeValue::Int64(2000)).ok());
  const long before = g_allocations.load();
  uint64_t moved = 0;
  for (const EventRecord& r : f.records) {
    moved += j.Fire(static_cast<EventId>(r.event), r.time)->moved();
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(moved, 0u);
}

}  // namespace
}  // namespace salescycle
