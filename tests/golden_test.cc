// The cycle9 golden replay: streams written by ../shared/bench/gen_workload.py
// (a ctest fixture puts them in the build tree) are replayed through
// Pipeline, and the summary must equal both the generator's own and, for the
// five configurations it holds, ../shared/bench/golden.json.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/workload.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "salescycle/journey.h"
#include "salescycle/pipeline.h"
#include "tests/test_util.h"

namespace salescycle {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Struct ParseJson(const std::string& json) {
  Struct out;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

std::string Key(const Struct& s) {
  const auto& f = s.fields();
  return absl::StrCat(f.at("machine").string_value(), "/",
                      f.at("events").number_value(), "/",
                      f.at("journeys").number_value(), "/",
                      f.at("seed").number_value());
}

// The summary as the generator writes it.
void ExpectSummary(const Machine& m, const bench::Summary& got,
                   const Struct& want, const std::string& what) {
  SCOPED_TRACE(what);
  const auto& f = want.fields();
  EXPECT_EQ(got.accepted, f.at("accepted").number_value());
  EXPECT_EQ(got.rejected, f.at("rejected").number_value());
  const auto& hist = f.at("final_stage_histogram").struct_value().fields();
  ASSERT_EQ(hist.size(), static_cast<size_t>(m.num_stages()));
  for (int s = 0; s < m.num_stages(); ++s) {
    EXPECT_EQ(got.histogram[s], hist.at(m.stage(s).id).number_value())
        << m.stage(s).id;
  }
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(got.final_state_fnv1a64));
  EXPECT_EQ(hash, f.at("final_state_fnv1a64").string_value());
}

Pipeline NewPipeline(const bench::Workload& w,
                     std::shared_ptr<const Machine> m,
                     const PipelineOptions& options = {}) {
  auto p = *Pipeline::Create(m, options);
  for (uint32_t j = 0; j < w.journeys; ++j) {
    EXPECT_EQ(*p.Add(0), j);
    if (w.guarded) {
      EXPECT_TRUE(p.Set(j, 0, AttributeValue::Int64(bench::GuardedBudget(j))).ok());
    }
  }
  return p;
}

bench::Summary ReplayBatches(const bench::Workload& w,
                             std::shared_ptr<const Machine> m, size_t batch,
                             const PipelineOptions& options = {}) {
  Pipeline p = NewPipeline(w, m, options);
  BatchResult total;
  for (size_t i = 0; i < w.records.size(); i += batch) {
    const size_t n = std::min(batch, w.records.size() - i);
    const BatchResult r =
        *p.Apply(absl::MakeConstSpan(w.records.data() + i, n));
    total.accepted += r.accepted;
    total.rejected += r.rejected;
  }
  return bench::Summarize(p, w.journeys, total);
}

TEST(Golden, ReplaysReproduceTheGeneratorAndGoldenJson) {
  const Struct golden = ParseJson(absl::StrCat(
      "{\"entries\": ", Slurp(SC_SHARED_DIR "/bench/golden.json"), "}"));
  std::map<std::string, Struct> golden_by_key;
  for (const Value& v : golden.fields().at("entries").list_value().values()) {
    golden_by_key[Key(v.struct_value())] = v.struct_value();
  }
  ASSERT_EQ(golden_by_key.size(), 5u);

  auto cycle9 = LoadTemplate("cycle9.textproto");
  auto guarded = LoadTemplate("cycle9_guarded.textproto");
  ASSERT_TRUE(cycle9 && guarded);

  int golden_checked = 0, other_checked = 0;
  for (absl::string_view stem : absl::StrSplit(SC_WORKLOAD_STEMS, ',')) {
    const std::string base = absl::StrCat(SC_WORKLOAD_DIR, "/", stem);
    auto w = bench::ReadWorkload(base + ".scwl");
    ASSERT_TRUE(w.ok()) << w.status();
    const Struct generated = ParseJson(Slurp(base + ".json"));
    auto m = w->guarded ? guarded : cycle9;

    const bench::Summary one_batch = ReplayBatches(*w, m, w->records.size());
    ExpectSummary(*m, one_batch, generated, absl::StrCat(stem, " one batch"));
    const bench::Summary small_batches = ReplayBatches(*w, m, 4096);
    ExpectSummary(*m, small_batches, generated,
                  absl::StrCat(stem, " batches of 4096"));
    if (w->records.size() <= 200000) {
      // The recorded path (history on) decides through the same core.
      PipelineOptions history;
      history.history_limit = 2;
      ExpectSummary(*m, ReplayBatches(*w, m, 1000, history), generated,
                    absl::StrCat(stem, " with history"));
    }
    if (w->journeys == 1) {
      auto j = *Journey::Create(m, 0);
      if (w->guarded) {
        ASSERT_TRUE(j.Set("budget", AttributeValue::Int64(
                                        bench::GuardedBudget(0))).ok());
      }
      BatchResult counts;
      for (const EventRecord& r : w->records) {
        const bool moved = j.Fire(static_cast<EventId>(r.event), r.time)->moved();
        counts.accepted += moved;
        counts.rejected += !moved;
      }
      Pipeline holder = NewPipeline(*w, m);
      bench::Summary s = bench::Summarize(holder, 1, counts);
      s.histogram.assign(m->num_stages(), 0);
      s.histogram[j.stage()] = 1;
      s.final_state_fnv1a64 =
          (0xcbf29ce484222325ull ^ j.stage()) * 0x100000001b3ull;
      ExpectSummary(*m, s, generated, absl::StrCat(stem, " journey"));
    }

    auto g = golden_by_key.find(Key(generated));
    if (g != golden_by_key.end()) {
      ExpectSummary(*m, one_batch, g->second, absl::StrCat(stem, " golden"));
      ++golden_checked;
    } else {
      ++other_checked;
    }
  }
  EXPECT_EQ(golden_checked, 5);
  EXPECT_GE(other_checked, 1);
}

TEST(Golden, WorkloadReaderRejectsDamagedFiles) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  std::string header("SCWL0001", 8);
  auto append_le = [](std::string* s, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
  };
  std::string good = header;
  append_le(&good, 1, 8);   // one event
  append_le(&good, 2, 4);   // two journeys
  append_le(&good, 0, 4);   // flags
  append_le(&good, 42, 8);  // seed
  std::string record;
  append_le(&record, 1, 4);
  append_le(&record, 3, 4);
  auto ok = bench::ReadWorkload(write("good.scwl", good + record));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->records[0].deal, 1u);
  EXPECT_EQ(ok->records[0].event, 3u);

  auto magic = bench::ReadWorkload(write("magic.scwl", "SCWL0002" + good.substr(8) + record));
  EXPECT_EQ(magic.status().code(), absl::StatusCode::kDataLoss);
  auto truncated = bench::ReadWorkload(write("short.scwl", good + record.substr(0, 5)));
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  std::string far;
  append_le(&far, 7, 4);
  append_le(&far, 0, 4);
  auto journey = bench::ReadWorkload(write("far.scwl", good + far));
  EXPECT_EQ(journey.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(journey.status().message().find("journey 7 of 2"), std::string::npos);
}

}  // namespace
}  // namespace salescycle
