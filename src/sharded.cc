#include "salescycle/sharded.h"

#include <algorithm>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "salescycle/snapshot.h"
#include "src/analytics.h"
#include "src/pipeline_internal.h"
#include "src/status_macros.h"

namespace salescycle {
namespace {

using internal::PipelineInternal;

// Runs fn(0) .. fn(n - 1) at once: fn(0) on the calling thread, the others
// on threads of their own. A thread that cannot be started (the system's
// limit) leaves its shard to the calling thread, after its own: slower,
// never wrong.
template <typename Fn>
void ForEachShard(uint32_t n, Fn&& fn) {
  std::vector<std::thread> threads;
  std::vector<uint32_t> inline_shards;
  threads.reserve(n);
  for (uint32_t i = 1; i < n; ++i) {
    try {
      threads.emplace_back([&fn, i] { fn(i); });
    } catch (const std::system_error&) {
      inline_shards.push_back(i);
    }
  }
  fn(0);
  for (uint32_t i : inline_shards) fn(i);
  for (std::thread& t : threads) t.join();
}

// The first failed shard's status, naming the shard.
absl::Status FirstError(const std::vector<absl::Status>& statuses) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].ok()) {
      return absl::Status(statuses[i].code(),
                          absl::StrCat("shard ", i, ": ", statuses[i].message()));
    }
  }
  return absl::OkStatus();
}

// 1 to min(num_groups, kMaxShards) shards; `who` names the caller.
absl::Status CheckShardCount(uint32_t shards, uint32_t num_groups, absl::string_view who) {
  const uint32_t most = std::min(num_groups, kMaxShards);
  if (shards < 1 || shards > most) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": ", shards, " shards; 1 to ", most,
                                                   " with ", num_groups, " key groups"));
  }
  return absl::OkStatus();
}

}  // namespace

ShardedPipeline::ShardedPipeline(KeyGroups groups, std::vector<Pipeline> shards)
    : groups_(groups), shards_(std::move(shards)) {}
ShardedPipeline::ShardedPipeline(ShardedPipeline&&) noexcept = default;
ShardedPipeline& ShardedPipeline::operator=(ShardedPipeline&&) noexcept = default;
ShardedPipeline::~ShardedPipeline() = default;

absl::StatusOr<ShardedPipeline> ShardedPipeline::Create(std::shared_ptr<const Machine> machine,
                                                        const ShardedOptions& options) {
  if (machine == nullptr) return absl::InvalidArgumentError("ShardedPipeline: machine is null");
  SC_ASSIGN_OR_RETURN(const KeyGroups groups, KeyGroups::Create(options.num_groups));
  SC_RETURN_IF_ERROR(CheckShardCount(options.shards, options.num_groups, "ShardedPipeline"));
  PipelineOptions each = options.pipeline;
  each.expected_deals = (options.pipeline.expected_deals + options.shards - 1) / options.shards;
  std::vector<Pipeline> shards;
  shards.reserve(options.shards);
  for (uint32_t i = 0; i < options.shards; ++i) {
    SC_ASSIGN_OR_RETURN(Pipeline p, Pipeline::Create(machine, each));
    shards.push_back(std::move(p));
  }
  return ShardedPipeline(groups, std::move(shards));
}

KeyGroupRange ShardedPipeline::groups_of(uint32_t shard) const {
  // Checked when made: shard < num_shards() <= num_groups.
  return *groups_.RangeOf(shard, num_shards());
}

uint32_t ShardedPipeline::ShardOfKey(absl::string_view key) const {
  return *groups_.OwnerOf(groups_.GroupOfKey(key), num_shards());
}

uint32_t ShardedPipeline::ShardOfId(uint64_t id) const {
  return *groups_.OwnerOf(groups_.GroupOfId(id), num_shards());
}

size_t ShardedPipeline::size() const {
  size_t n = 0;
  for (const Pipeline& p : shards_) n += p.size();
  return n;
}

absl::StatusOr<ShardedDeal> ShardedPipeline::AddWithKey(absl::string_view key, Timestamp time,
                                                        StageId entry_stage) {
  const uint32_t s = ShardOfKey(key);
  SC_ASSIGN_OR_RETURN(const DealIndex deal, shards_[s].AddWithKey(key, time, entry_stage));
  return ShardedDeal{s, deal};
}

absl::StatusOr<ShardedDeal> ShardedPipeline::AddWithId(uint64_t id, Timestamp time,
                                                       StageId entry_stage) {
  const uint32_t s = ShardOfId(id);
  SC_ASSIGN_OR_RETURN(const DealIndex deal, shards_[s].AddWithId(id, time, entry_stage));
  return ShardedDeal{s, deal};
}

std::optional<ShardedDeal> ShardedPipeline::FindByKey(absl::string_view key) const {
  const uint32_t s = ShardOfKey(key);
  const std::optional<DealIndex> deal = shards_[s].IndexOfKey(key);
  if (!deal) return std::nullopt;
  return ShardedDeal{s, *deal};
}

std::optional<ShardedDeal> ShardedPipeline::FindById(uint64_t id) const {
  const uint32_t s = ShardOfId(id);
  absl::StatusOr<DealIndex> deal = shards_[s].FindById(id);
  if (!deal.ok()) return std::nullopt;
  return ShardedDeal{s, *deal};
}

template <typename ApplyFn>
absl::StatusOr<std::vector<BatchResult>> ShardedPipeline::RunEach(
    absl::Span<const absl::Span<const EventRecord>> batches, ApplyFn apply) {
  if (batches.size() != shards_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ShardedPipeline: ", batches.size(),
                                                   " batches for ", shards_.size(), " shards"));
  }
  const uint32_t n = num_shards();
  std::vector<absl::Status> statuses(n);
  std::vector<BatchResult> results(n);
  // Each batch is checked where it will be applied, so that its records are
  // in that core's cache for the second pass.
  ForEachShard(n, [&](uint32_t i) {
    statuses[i] = PipelineInternal::CheckBatch(shards_[i], batches[i]);
  });
  SC_RETURN_IF_ERROR(FirstError(statuses));
  ForEachShard(n, [&](uint32_t i) {
    absl::StatusOr<BatchResult> r = apply(i, batches[i]);
    if (r.ok()) {
      results[i] = *r;
    } else {
      statuses[i] = r.status();
    }
  });
  // Checked above, so only a bug gets here: said, not hidden.
  SC_RETURN_IF_ERROR(FirstError(statuses));
  return results;
}

absl::StatusOr<std::vector<BatchResult>> ShardedPipeline::ApplyEach(
    absl::Span<const absl::Span<const EventRecord>> batches, ApplyMode mode) {
  return RunEach(batches, [&](uint32_t i, absl::Span<const EventRecord> batch) {
    return mode == ApplyMode::kTimed ? shards_[i].ApplyTimed(batch) : shards_[i].Apply(batch);
  });
}

absl::StatusOr<std::vector<BatchResult>> ShardedPipeline::ApplyEachAt(
    absl::Span<const std::string> sources, absl::Span<const uint64_t> first_offsets,
    absl::Span<const absl::Span<const EventRecord>> batches, ApplyMode mode) {
  if (sources.size() != shards_.size() || first_offsets.size() != shards_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ShardedPipeline: ", sources.size(), " sources and ", first_offsets.size(),
                     " offsets for ", shards_.size(), " shards"));
  }
  // Only the records not applied before are checked, as ApplyAt checks.
  std::vector<absl::Span<const EventRecord>> rest(batches.begin(), batches.end());
  std::vector<absl::Status> statuses(shards_.size());
  for (size_t i = 0; i < shards_.size() && i < batches.size(); ++i) {
    absl::StatusOr<uint64_t> skip = PipelineInternal::AlreadyApplied(
        shards_[i], sources[i], first_offsets[i], batches[i].size());
    if (skip.ok()) {
      rest[i] = batches[i].subspan(static_cast<size_t>(*skip));
    } else {
      statuses[i] = skip.status();
    }
  }
  SC_RETURN_IF_ERROR(FirstError(statuses));
  return RunEach(rest, [&](uint32_t i, absl::Span<const EventRecord>) {
    return shards_[i].ApplyAt(sources[i], first_offsets[i], batches[i], mode);
  });
}

absl::StatusOr<FunnelState> ShardedPipeline::CaptureFunnel(const FunnelOptions& options) const {
  FunnelOptions each = options;
  if (!each.now) {
    // Each shard's own default is the latest time it saw; the whole's is
    // the latest of those, and states merge only as of one moment.
    std::optional<Timestamp> latest;  // none seen: judged at 0, as one pipeline is
    auto saw = [&](Timestamp t) { latest = latest ? std::max(*latest, t) : t; };
    for (const Pipeline& p : shards_) {
      if (const internal::FunnelAccumulator* acc = PipelineInternal::analytics(p)) {
        if (acc->has_latest()) saw(acc->latest());
      } else if (p.size() > 0) {  // a funnel from history: its default, the long way
        SC_ASSIGN_OR_RETURN(const FunnelState s, salescycle::CaptureFunnel(p, options));
        saw(s.as_of());
      }
    }
    each.now = latest.value_or(0);
  }
  SC_ASSIGN_OR_RETURN(FunnelState whole, salescycle::CaptureFunnel(shards_[0], each));
  for (size_t i = 1; i < shards_.size(); ++i) {
    SC_ASSIGN_OR_RETURN(const FunnelState s, salescycle::CaptureFunnel(shards_[i], each));
    SC_RETURN_IF_ERROR(whole.Merge(s));
  }
  return whole;
}

absl::Status ShardedPipeline::Rescale(uint32_t shards) {
  SC_RETURN_IF_ERROR(CheckShardCount(shards, groups_.num_groups(), "ShardedPipeline::Rescale"));
  SC_ASSIGN_OR_RETURN(const std::vector<RescalePart> plan,
                      groups_.RescalePlan(num_shards(), shards));
  std::vector<std::vector<std::string>> parts(shards);
  for (const RescalePart& part : plan) {
    const Pipeline& from = shards_[part.from];
    SC_ASSIGN_OR_RETURN(const std::vector<DealIndex> deals,
                        DealsInKeyGroups(from, groups_, part.groups));
    SC_RETURN_IF_ERROR(SavePipelinePart(
        from, deals, part.counted ? PartCounters::kWithCounters : PartCounters::kWithout,
        SnapshotSink::Bytes(&parts[part.to].emplace_back())));
  }
  // The parts were written just now from pipelines that exist: no limit
  // meant for untrusted snapshots applies to them.
  RestoreOptions trusted;
  Limits& l = trusted.limits;
  l.max_spec_bytes = l.max_stages = l.max_events = l.max_attributes = l.max_transitions =
      l.max_guard_depth = l.max_string_length = l.max_history_length =
          std::numeric_limits<size_t>::max();
  l.max_snapshot_deals = l.max_history_entries = std::numeric_limits<uint64_t>::max();
  std::vector<Pipeline> rescaled;
  rescaled.reserve(shards);
  for (uint32_t j = 0; j < shards; ++j) {
    std::vector<SnapshotSource> sources;
    for (const std::string& bytes : parts[j]) sources.push_back(SnapshotSource::Bytes(bytes));
    SC_ASSIGN_OR_RETURN(Pipeline p, LoadPipelines(sources, shards_[0].machine_ptr(), trusted));
    rescaled.push_back(std::move(p));
  }
  shards_ = std::move(rescaled);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DealIndex>> DealsInKeyGroups(const Pipeline& pipeline,
                                                        const KeyGroups& groups,
                                                        KeyGroupRange range) {
  if (range.first > range.end || range.end > groups.num_groups()) {
    return absl::InvalidArgumentError(absl::StrCat("key groups [", range.first, ", ", range.end,
                                                   ") are not within the ", groups.num_groups()));
  }
  std::vector<DealIndex> out;
  for (DealIndex d = 0; d < pipeline.slot_count(); ++d) {
    if (!pipeline.Contains(d)) continue;
    uint32_t group;
    if (const std::optional<uint64_t> id = pipeline.IdOf(d)) {
      group = groups.GroupOfId(*id);
    } else if (const std::optional<absl::string_view> key =
                   PipelineInternal::key_of(pipeline, d)) {
      group = groups.GroupOfKey(*key);
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "deal ", d, " has neither key nor id: it belongs to no key group"));
    }
    if (range.contains(group)) out.push_back(d);
  }
  return out;
}

}  // namespace salescycle
