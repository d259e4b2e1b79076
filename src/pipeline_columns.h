// The per-deal columns of a pipeline snapshot chunk, each described once:
// how it is written, what is checked against the caller's limits before
// anything of the chunk is read, and how it is read back (validated, and
// mapped onto the target machine). A new per-deal column is one more entry
// in ChunkColumns() (pipeline_columns.cc), one more field in
// PipelineChunk, and its state in Pipeline (a default for new slots in
// Pipeline::AppendSlots, an accessor in PipelineInternal).
#ifndef SALESCYCLE_SRC_PIPELINE_COLUMNS_H_
#define SALESCYCLE_SRC_PIPELINE_COLUMNS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/limits.h"
#include "salescycle/pipeline.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/name_mapper.h"

namespace salescycle {
namespace internal {

// Slots [first, first + n) of the snapshot, being written into `chunk`:
// the pipeline's own slots, or, for a part of it (SavePipelinePart), the
// deals of the part in its order, numbered from 0.
struct ChunkWriteContext {
  const Pipeline& pipeline;
  size_t first;
  size_t n;
  v1::PipelineChunk* chunk;
  // The pipeline's loss reason ids as the snapshot numbers them.
  const std::vector<uint32_t>& reason_ids;
  // The part's deals (all live), or null for every slot of the pipeline.
  const std::vector<DealIndex>* part = nullptr;

  // The pipeline's deal in the chunk's slot i.
  DealIndex Deal(size_t i) const {
    return part == nullptr ? static_cast<DealIndex>(first + i) : (*part)[first + i];
  }
};

// Chunk `index` being read into `pipeline`, whose slots [first, first + n)
// were appended empty. Columns read after the stage column see which slots
// are live through pipeline->Contains.
struct ChunkReadContext {
  const v1::PipelineChunk& chunk;
  const v1::PipelineHeader& header;
  const NameMapping& map;
  const Limits& limits;
  uint64_t index;
  size_t first;
  size_t n;
  Pipeline* pipeline;
  size_t live = 0;  // set by the stage column

  // DataLoss "pipeline snapshot chunk INDEX: WHAT".
  absl::Status Error(absl::string_view what) const;
};

struct ChunkColumn {
  const char* name;
  void (*write)(const ChunkWriteContext& c);
  // Limits on what the chunk holds, before anything of it is read; null
  // when the column holds nothing a limit bounds.
  absl::Status (*check)(const ChunkReadContext& c);
  absl::Status (*read)(ChunkReadContext* c);
};

// In the order they are read: the stage column first (it says which slots
// are live), then the others.
absl::Span<const ChunkColumn> ChunkColumns();

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_PIPELINE_COLUMNS_H_
