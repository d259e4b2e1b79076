// The C API's threading promise (c.h, convention 7): one machine used from
// many threads at once, each with pipelines of its own; named guards, which
// the library reaches through per-thread state, called on every thread at
// once; errors that stay with the call that made them. Run under TSan by
// the sanitize_thread test.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "salescycle/c.h"

namespace {

constexpr char kSpec[] = R"(name: "threads" version: 1 initial_stage: "a"
  stages { id: "a" } stages { id: "b" } stages { id: "c" kind: WON }
  events { id: "go" } events { id: "back" }
  attributes { name: "budget" type: INT64 }
  transitions { from_stage: "a" event: "go" to: "b" guard { named: "even" } }
  transitions { from_stage: "b" event: "go" to: "c" }
  transitions { from_stage: "b" event: "back" to: "a" })";

std::atomic<uint64_t> g_guard_calls{0};

int32_t EvenBudget(void* /*user_data*/, const sc_deal_view_t* deal,
                   uint8_t* out_holds) {
  int64_t budget = 0;
  if (sc_deal_view_get_int64(&budget, deal, 0, nullptr) != SC_OK) return 1;
  g_guard_calls.fetch_add(1, std::memory_order_relaxed);
  *out_holds = budget % 2 == 0;
  return 0;
}

// kSpec with EvenBudget as its guard "even"; null on failure.
sc_machine_t* EvenGuardMachine() {
  sc_compile_options_t* options = sc_compile_options_create();
  sc_machine_t* m = nullptr;
  if (sc_compile_options_add_named_guard(options, "even", 4, EvenBudget,
                                         nullptr, nullptr) != SC_OK ||
      sc_machine_from_text(&m, kSpec, sizeof kSpec - 1, options, nullptr) !=
          SC_OK) {
    m = nullptr;
  }
  sc_compile_options_destroy(options);
  return m;
}

// A pipeline of the shared machine taken through a fixed stream, as text:
// stage counts, the funnel, and an error message of the thread's own.
std::string RunPipeline(const sc_machine_t* m, int seed_offset) {
  sc_options_t* options = sc_options_create();
  EXPECT_EQ(sc_options_set_analytics(options, 1, 0, nullptr), SC_OK);
  sc_pipeline_t* p = nullptr;
  EXPECT_EQ(sc_pipeline_create(&p, m, options, nullptr), SC_OK);
  sc_options_destroy(options);
  for (uint32_t d = 0; d < 500; ++d) {
    uint32_t deal = 0;
    EXPECT_EQ(sc_pipeline_add(&deal, p, 0, nullptr), SC_OK);
    EXPECT_EQ(sc_pipeline_set_int64(p, deal, 0, d % 7, nullptr), SC_OK);
  }
  std::mt19937 rng(7);
  std::vector<sc_event_record> records(20000);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i] = sc_event_record{static_cast<uint32_t>(rng() % 500),
                                 static_cast<uint32_t>(rng() % 2),
                                 static_cast<int64_t>(i)};
  }
  uint64_t accepted = 0;
  EXPECT_EQ(sc_pipeline_apply(&accepted, nullptr, p, records.data(),
                              records.size(), nullptr),
            SC_OK);
  std::string out = std::to_string(accepted);
  uint64_t counts[3] = {0, 0, 0};
  EXPECT_EQ(sc_pipeline_stage_counts(counts, 3, p, nullptr), SC_OK);
  for (uint64_t c : counts) out += "," + std::to_string(c);
  uint8_t* funnel = nullptr;
  size_t funnel_len = 0;
  EXPECT_EQ(sc_pipeline_funnel(&funnel, &funnel_len, p, SC_FUNNEL_JSON, nullptr,
                               0, 0, nullptr),
            SC_OK);
  out.append(reinterpret_cast<const char*>(funnel), funnel_len);
  sc_free(funnel);
  // Each thread's failing call gets its own message.
  char* message = nullptr;
  const uint32_t bad_deal = 1000000 + seed_offset;
  int32_t outcome = 0;
  EXPECT_EQ(sc_pipeline_fire(&outcome, p, bad_deal, 0, 1, &message),
            SC_NOT_FOUND);
  EXPECT_NE(message, nullptr);
  if (message != nullptr) {
    EXPECT_NE(std::strstr(message, std::to_string(bad_deal).c_str()), nullptr)
        << message;
  }
  sc_free(message);
  sc_pipeline_destroy(p);
  return out;
}

TEST(CApiThreads, OneMachineManyThreadsWithNamedGuards) {
  sc_machine_t* m = EvenGuardMachine();
  ASSERT_NE(m, nullptr);

  const std::string expected = RunPipeline(m, 0);
  const uint64_t calls_alone = g_guard_calls.load();
  ASSERT_GT(calls_alone, 0u);
  constexpr int kThreads = 4;
  std::vector<std::string> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { seen[t] = RunPipeline(m, t); });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& s : seen) EXPECT_EQ(s, expected);
  EXPECT_EQ(g_guard_calls.load(), calls_alone * (kThreads + 1));
  sc_machine_destroy(m);
}

// The issue-12 defect: sc_pipeline_apply_parallel with a named guard ran
// the guard on worker threads, which have no guard context (the guard
// failed: 28,773 accepted where sc_pipeline_apply accepts 115,242), and a
// guard reading the pipeline raced with the writers. Now the batch runs on
// the calling thread, says so, and gives sc_pipeline_apply's result.
TEST(CApiThreads, ParallelApplyWithANamedGuardIsApply) {
  sc_machine_t* m = EvenGuardMachine();
  ASSERT_NE(m, nullptr);
  constexpr uint32_t kDeals = 65536;  // enough for 4 threads to be worth it
  std::mt19937 rng(12);
  std::vector<sc_event_record> records(1 << 20);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i] = sc_event_record{static_cast<uint32_t>(rng() % kDeals),
                                 static_cast<uint32_t>(rng() % 2),
                                 static_cast<int64_t>(i)};
  }
  auto run = [&](uint32_t threads, uint32_t* ran) {
    sc_pipeline_t* p = nullptr;
    EXPECT_EQ(sc_pipeline_create(&p, m, nullptr, nullptr), SC_OK);
    for (uint32_t d = 0; d < kDeals; ++d) {
      uint32_t deal = 0;
      EXPECT_EQ(sc_pipeline_add(&deal, p, 0, nullptr), SC_OK);
      EXPECT_EQ(sc_pipeline_set_int64(p, deal, 0, d % 7, nullptr), SC_OK);
    }
    uint64_t accepted = 0, rejected = 0;
    char* message = nullptr;
    const sc_status status =
        threads == 0
            ? sc_pipeline_apply(&accepted, &rejected, p, records.data(),
                                records.size(), &message)
            : sc_pipeline_apply_parallel(&accepted, &rejected, ran, p,
                                         records.data(), records.size(),
                                         threads, &message);
    EXPECT_EQ(status, SC_OK) << (message != nullptr ? message : "");
    sc_free(message);
    uint64_t counts[3] = {0, 0, 0};
    EXPECT_EQ(sc_pipeline_stage_counts(counts, 3, p, nullptr), SC_OK);
    sc_pipeline_destroy(p);
    EXPECT_EQ(accepted + rejected, records.size());
    return std::to_string(accepted) + "," + std::to_string(counts[0]) + "," +
           std::to_string(counts[1]) + "," + std::to_string(counts[2]);
  };
  const std::string serial = run(0, nullptr);
  uint32_t ran = 99;
  EXPECT_EQ(run(4, &ran), serial);
  EXPECT_EQ(ran, 1u);
  sc_machine_destroy(m);
}

}  // namespace
