// One process, both APIs: the C++ core and the C API. Were the C library to
// carry a private copy of the generated protobuf types, protobuf would abort
// this process at load time ("File already exists in database"): the test
// failing to start is the failure it guards against (src/CMakeLists.txt).
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "salescycle/c.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"
#include "salescycle/snapshot.h"

namespace salescycle {
namespace {

TEST(MixedApis, SnapshotsCrossBetweenTheCxxAndCApis) {
  const std::string path = std::string(SC_MACHINES_DIR) + "/cycle9.textproto";
  auto machine = Machine::FromFile(path);
  ASSERT_TRUE(machine.ok()) << machine.status();
  auto pipeline = *Pipeline::Create(*machine);
  const DealIndex deal = *pipeline.Add(0);
  ASSERT_TRUE(pipeline.Fire(deal, "contact", 1).ok());
  std::string bytes;
  ASSERT_TRUE(SavePipeline(pipeline, SnapshotSink::Bytes(&bytes)).ok());

  sc_machine_t* m = nullptr;
  sc_pipeline_t* p = nullptr;
  ASSERT_EQ(sc_machine_from_file(&m, path.c_str(), nullptr, nullptr), SC_OK);
  ASSERT_EQ(sc_pipeline_load(&p, m, reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size(), nullptr),
            SC_OK);
  uint32_t stage = 0;
  ASSERT_EQ(sc_pipeline_deal_stage(&stage, nullptr, p, deal, nullptr), SC_OK);
  EXPECT_EQ(stage, pipeline.stage(deal));
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

}  // namespace
}  // namespace salescycle
