// The funnel's state in a pipeline snapshot (format 3): the per-deal funnel
// columns of each chunk and the funnel frame of counters, so that a
// pipeline restored from a snapshot reports what it reported when it was
// saved, byte for byte. Stages and events are written as the header's
// indexes and read back through the snapshot's NameMapping, like every
// other column.
#ifndef SALESCYCLE_SRC_FUNNEL_SNAPSHOT_H_
#define SALESCYCLE_SRC_FUNNEL_SNAPSHOT_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "salescycle/v1/snapshot.pb.h"
#include "src/analytics.h"
#include "src/name_mapper.h"
#include "src/pipeline_columns.h"
#include "src/snapshot_io.h"

namespace salescycle {
namespace internal {

// The chunk column (pipeline_columns.h): nothing when the pipeline keeps
// no funnel.
void WriteFunnelColumns(const ChunkWriteContext& c);
absl::Status ReadFunnelColumns(ChunkReadContext* c);

// The accumulator's cohort indexes, by start: the order the frame lists
// them in, whatever order they were made in, so that the same counters
// give the same bytes.
std::vector<size_t> CohortsByStart(const FunnelAccumulator& acc);

// The frame of counters, written after the last chunk.
void WriteFunnelFrame(const FunnelAccumulator& acc, v1::PipelineFunnel* out);
// Errors: DataLoss (made by `data_loss`, which says where) naming what does
// not fit the header; FailedPrecondition for counts of a stage or event the
// machine restored onto lacks.
using DataLossError = std::function<absl::Status(absl::string_view what)>;
absl::Status ReadFunnelFrame(const v1::PipelineFunnel& funnel,
                             const v1::PipelineHeader& header,
                             const NameMapping& map, const DataLossError& data_loss,
                             FunnelAccumulator* acc);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_FUNNEL_SNAPSHOT_H_
