/// \file
/// Sharded pipelines in one process: one Pipeline per owned range of key
/// groups (partition.h), each applying its own, already partitioned, input
/// on its own thread.
///
/// Why shards rather than ApplyParallel: ApplyParallel splits one shared
/// batch, and every thread reads all of it, so on a machine with two cores
/// it does not pay on a bare table (bench/RESULTS.md). Shards each read
/// their own input, the way a deployment partitions its events upstream (a
/// Kafka topic's partitions, a CRM export split by key), so the threads
/// share nothing but the machine.
///
/// A deal lives in the shard that owns its key's (or id's) group: add it
/// there (AddWithKey routes it) and send its events in that shard's batch,
/// by the shard's DealIndex. The shards' funnels merge into the whole's
/// (CaptureFunnel), byte for byte the report of one pipeline holding every
/// deal; each shard is a Pipeline, saved, restored and inspected as one,
/// with its own input positions (ApplyEachAt).
///
/// Thread safety: as a Pipeline's: external synchronization; ApplyEach and
/// ApplyEachAt use their own threads inside the call.
#ifndef SALESCYCLE_SHARDED_H_
#define SALESCYCLE_SHARDED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "salescycle/funnel.h"
#include "salescycle/funnel_state.h"
#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "salescycle/partition.h"
#include "salescycle/pipeline.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// The most shards of one ShardedPipeline (each has a thread in ApplyEach).
inline constexpr uint32_t kMaxShards = 256;

/// How a ShardedPipeline splits its deals.
struct ShardedOptions {
  /// Key groups (partition.h): fixed for the deployment. Default: 4096.
  uint32_t num_groups = 4096;
  /// Shards, 1 to min(num_groups, kMaxShards); shard i owns the groups
  /// KeyGroups::RangeOf(i, shards). Default: 2.
  uint32_t shards = 2;
  /// Each shard's options; expected_deals is the whole's, split evenly.
  PipelineOptions pipeline;
};

/// Where a deal lives: its shard, and its index in that shard's Pipeline.
struct ShardedDeal {
  uint32_t shard = 0;  ///< the shard that owns the deal's group
  DealIndex deal = 0;  ///< the deal's index in shard(shard)
};

/// One Pipeline per range of key groups, applied concurrently.
class SC_API ShardedPipeline {
 public:
  /// Errors: InvalidArgument for a null machine, num_groups outside
  /// 1..kMaxKeyGroups, or shards outside 1..min(num_groups, kMaxShards);
  /// Pipeline::Create's.
  [[nodiscard]] static absl::StatusOr<ShardedPipeline> Create(
      std::shared_ptr<const Machine> machine, const ShardedOptions& options = {});

  /// Movable; a moved-from one may only be assigned to or destroyed. @{
  ShardedPipeline(ShardedPipeline&&) noexcept;
  ShardedPipeline& operator=(ShardedPipeline&&) noexcept;
  ///@}
  ~ShardedPipeline();

  /// How many shards there are.
  uint32_t num_shards() const { return static_cast<uint32_t>(shards_.size()); }
  /// The key groups, and the range shard `shard` owns. @{
  const KeyGroups& key_groups() const { return groups_; }
  KeyGroupRange groups_of(uint32_t shard) const;
  ///@}
  /// The shard that owns a key's or an id's group. @{
  uint32_t ShardOfKey(absl::string_view key) const;
  uint32_t ShardOfId(uint64_t id) const;
  ///@}
  /// A shard's pipeline. REQUIRES: shard < num_shards(). @{
  Pipeline& shard(uint32_t shard) { return shards_[shard]; }
  const Pipeline& shard(uint32_t shard) const { return shards_[shard]; }
  ///@}
  /// Live deals in every shard.
  size_t size() const;

  /// Adds a deal to the shard that owns its key or id, as Pipeline's
  /// AddWithKey and AddWithId (and their errors). @{
  [[nodiscard]] absl::StatusOr<ShardedDeal> AddWithKey(absl::string_view key, Timestamp time,
                                                       StageId entry_stage = kNoStage);
  [[nodiscard]] absl::StatusOr<ShardedDeal> AddWithId(uint64_t id, Timestamp time,
                                                      StageId entry_stage = kNoStage);
  ///@}
  /// The live deal with this key or id, in the shard that owns it; none if
  /// there is none. @{
  std::optional<ShardedDeal> FindByKey(absl::string_view key) const;
  std::optional<ShardedDeal> FindById(uint64_t id) const;
  ///@}

  /// Applies batches[i] to shard i, all shards at once, each on a thread
  /// of its own (the calling thread takes shard 0; threads are started per
  /// call). All or nothing: every batch is checked first (as Apply checks
  /// one), and a bad record anywhere fails the call naming its shard and
  /// record, with nothing applied. Returns each shard's result.
  /// Errors: InvalidArgument for a number of batches other than
  /// num_shards(), or a bad record.
  [[nodiscard]] absl::StatusOr<std::vector<BatchResult>> ApplyEach(
      absl::Span<const absl::Span<const EventRecord>> batches,
      ApplyMode mode = ApplyMode::kInOrder);
  /// ApplyEach at offsets: batches[i] is at first_offsets[i] of
  /// sources[i], each shard's own input (Pipeline::ApplyAt), so that a
  /// replay after a restore is exactly once in every shard. Errors: also
  /// ApplyAt's, for a bad source name or offsets.
  [[nodiscard]] absl::StatusOr<std::vector<BatchResult>> ApplyEachAt(
      absl::Span<const std::string> sources, absl::Span<const uint64_t> first_offsets,
      absl::Span<const absl::Span<const EventRecord>> batches,
      ApplyMode mode = ApplyMode::kInOrder);

  /// The funnel state of every deal: each shard's captured and merged.
  /// Without options.now, every shard is judged at the latest time any of
  /// them saw, so that the states merge. Errors: CaptureFunnel's.
  [[nodiscard]] absl::StatusOr<FunnelState> CaptureFunnel(const FunnelOptions& options = {}) const;

  /// Moves whole key groups so that `shards` shards own them (shard i the
  /// groups KeyGroups::RangeOf(i, shards)): each shard's deals go, in parts
  /// (KeyGroups::RescalePlan, SavePipelinePart), to the new shards, which
  /// join theirs (LoadPipelines). Every deal keeps its state, key or id
  /// and history, and CaptureFunnel is unchanged, byte for byte. The new
  /// shards are new pipelines: deal indexes change (find deals by key or
  /// id), and observers added to the old shards are not carried over. All
  /// or nothing: the old shards are kept until every new one is made; it
  /// holds the parts, as snapshot bytes, meanwhile. Errors: InvalidArgument
  /// as Create's for `shards`; FailedPrecondition for a deal with neither
  /// key nor id (it belongs to no group).
  [[nodiscard]] absl::Status Rescale(uint32_t shards);

 private:
  ShardedPipeline(KeyGroups groups, std::vector<Pipeline> shards);
  // Checks every batch (on the shards' threads), then runs apply(shard,
  // batch) on them: the one concurrent path of ApplyEach and ApplyEachAt.
  template <typename ApplyFn>
  absl::StatusOr<std::vector<BatchResult>> RunEach(
      absl::Span<const absl::Span<const EventRecord>> batches, ApplyFn apply);

  KeyGroups groups_;
  std::vector<Pipeline> shards_;
};

/// The live deals of `pipeline` whose key (or id) is in the key groups of
/// `range`, in index order: a shard's deals that go to another owner when
/// the shards are rescaled (save them with SavePipelinePart, snapshot.h).
/// Errors: FailedPrecondition naming a live deal with neither key nor id
/// (it belongs to no key group); InvalidArgument for a range past the
/// groups.
[[nodiscard]] SC_API absl::StatusOr<std::vector<DealIndex>> DealsInKeyGroups(
    const Pipeline& pipeline, const KeyGroups& groups, KeyGroupRange range);

}  // namespace salescycle

#endif  // SALESCYCLE_SHARDED_H_
