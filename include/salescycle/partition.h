/// \file
/// Partitioning: which shard owns a deal, decided the same way in every
/// language and every process.
///
/// As Flink's key groups: a deal's key (or 64-bit id) hashes to one of a
/// fixed number of key groups, and each owner (a shard, a worker) holds a
/// contiguous range of groups. The number of groups is chosen once for a
/// deployment and never changes (it bounds how many owners there can ever
/// be); the number of owners can, and rescaling moves whole groups from one
/// owner to another, never single deals. Shards' funnel states merge into
/// the whole's whatever the split (funnel_state.h).
///
/// The key hash is frozen: MurmurHash3 x86_32 (Austin Appleby's, public
/// domain) with seed 0 over the key's bytes as given; an id hashes as its
/// 8 bytes, little endian. It is the same function everywhere: C++, the C
/// API (sc_key_hash and the batch sc_key_groups), Python and Go all call
/// this one, and tests/data/partition_vectors.json holds vectors that each
/// language's tests check, with MurmurHash3's published values among them.
/// It will not change within a major version (CHANGELOG.md): a change would
/// move every deal to another group.
///
/// \code{.txt}
///   group(hash) = (hash * num_groups) >> 32      (a 64-bit product)
///   owner(group) = group * owners / num_groups   (as Flink)
///   range(owner) = [ceil(owner * num_groups / owners),
///                   ceil((owner + 1) * num_groups / owners))
/// \endcode
///
/// so owner(g) is o exactly for g in range(o), and the ranges of 0 ..
/// owners - 1 cover 0 .. num_groups - 1 in order.
///
/// Thread safety: pure functions and a plain value.
#ifndef SALESCYCLE_PARTITION_H_
#define SALESCYCLE_PARTITION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// The most key groups a deployment can have (Flink's limit too): owners
/// are at most this many.
inline constexpr uint32_t kMaxKeyGroups = 32768;

/// MurmurHash3 x86_32 of `key`'s bytes, seed 0.
SC_API uint32_t KeyHash(absl::string_view key);
/// KeyHash of `id`'s 8 bytes, little endian.
SC_API uint32_t IdHash(uint64_t id);

/// The key groups an owner holds: [first, end).
struct KeyGroupRange {
  uint32_t first = 0;  ///< the first group held
  uint32_t end = 0;    ///< one past the last group held
  /// Whether `group` is in the range.
  bool contains(uint32_t group) const { return group >= first && group < end; }
  /// How many groups it holds.
  uint32_t size() const { return end - first; }
};

/// One part of a rescale: the groups an old owner gives a new one
/// (KeyGroups::RescalePlan).
struct RescalePart {
  uint32_t from = 0;     ///< the old owner
  uint32_t to = 0;       ///< the new owner
  KeyGroupRange groups;  ///< the groups that move (never none)
  /// Whether the part carries the old owner's funnel counters and input
  /// positions (PartCounters::kWithCounters, snapshot.h): exactly one part
  /// of each old owner does, the one for the new owner of its first group.
  bool counted = false;
};

/// A fixed number of key groups, and how they map to owners.
class SC_API KeyGroups {
 public:
  /// Errors: InvalidArgument for `num_groups` outside 1..kMaxKeyGroups.
  [[nodiscard]] static absl::StatusOr<KeyGroups> Create(uint32_t num_groups);

  /// How many groups there are.
  uint32_t num_groups() const { return num_groups_; }
  /// The group of a hash, a key or an id. @{
  uint32_t GroupOfHash(uint32_t hash) const {
    return static_cast<uint32_t>((uint64_t{hash} * num_groups_) >> 32);
  }
  uint32_t GroupOfKey(absl::string_view key) const { return GroupOfHash(KeyHash(key)); }
  uint32_t GroupOfId(uint64_t id) const { return GroupOfHash(IdHash(id)); }
  ///@}

  /// Which of `owners` holds `group`. Errors: InvalidArgument for `owners`
  /// outside 1..num_groups() or `group` outside 0..num_groups() - 1.
  [[nodiscard]] absl::StatusOr<uint32_t> OwnerOf(uint32_t group, uint32_t owners) const;
  /// The groups `owner` of `owners` holds. Errors: InvalidArgument for
  /// `owners` outside 1..num_groups() or `owner` outside 0..owners - 1.
  [[nodiscard]] absl::StatusOr<KeyGroupRange> RangeOf(uint32_t owner, uint32_t owners) const;
  /// The parts that take every group from `from` owners to `to`: for each
  /// old owner in order, one part a new owner whose range meets its own,
  /// in order. Errors: InvalidArgument as RangeOf's for either count.
  [[nodiscard]] absl::StatusOr<std::vector<RescalePart>> RescalePlan(uint32_t from,
                                                                    uint32_t to) const;

 private:
  explicit KeyGroups(uint32_t num_groups) : num_groups_(num_groups) {}
  uint32_t num_groups_;
};

}  // namespace salescycle

#endif  // SALESCYCLE_PARTITION_H_
