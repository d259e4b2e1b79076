// A pipeline snapshot's frames as messages, and back: for tests that damage
// one field and frame the snapshot again, with valid checksums, so that
// only the reader's own checks can catch the damage.
#ifndef SALESCYCLE_TESTS_SNAPSHOT_FRAMES_H_
#define SALESCYCLE_TESTS_SNAPSHOT_FRAMES_H_

#include <string>
#include <vector>

#include "absl/base/internal/endian.h"
#include "gtest/gtest.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/crc32.h"

namespace salescycle {

inline std::vector<v1::PipelineFrame> SnapshotFrames(const std::string& bytes) {
  std::vector<v1::PipelineFrame> out;
  for (size_t at = 8; at < bytes.size();) {
    const uint32_t length = absl::little_endian::Load32(bytes.data() + at);
    out.emplace_back();
    EXPECT_TRUE(out.back().ParseFromArray(bytes.data() + at + 8, length));
    at += 8 + length;
  }
  return out;
}

inline std::string EncodeSnapshotFrames(const std::vector<v1::PipelineFrame>& frames) {
  std::string out("SCPIPE\r\n", 8);
  for (const auto& f : frames) {
    const std::string payload = f.SerializeAsString();
    char head[8];
    absl::little_endian::Store32(head, static_cast<uint32_t>(payload.size()));
    absl::little_endian::Store32(head + 4,
                                 internal::Crc32(payload.data(), payload.size()));
    out.append(head, 8);
    out += payload;
  }
  return out;
}

}  // namespace salescycle

#endif  // SALESCYCLE_TESTS_SNAPSHOT_FRAMES_H_
