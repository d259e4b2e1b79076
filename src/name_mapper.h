// Resolves the names a snapshot uses (stages, events, attributes) against
// the machine it is restored onto, through the chain of migrations from the
// snapshot's version to the machine's.
#ifndef SALESCYCLE_SRC_NAME_MAPPER_H_
#define SALESCYCLE_SRC_NAME_MAPPER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "salescycle/machine.h"
#include "salescycle/snapshot.h"

namespace salescycle {
namespace internal {

struct SnapshotIdentity {
  std::string name;
  uint32_t version = 0;
  uint64_t fingerprint = 0;
};

struct SnapshotAttribute {
  std::string name;
  AttributeType type;
};

struct NameMapping {
  // By the snapshot's index. kNoStage / kNoEvent / kNoAttribute: the
  // machine lacks it (an error only where a deal uses it) or, for an
  // attribute, a migration dropped it (its values are skipped).
  std::vector<StageId> stages;
  std::vector<std::string> stage_names;  // after renames
  std::vector<EventId> events;
  std::vector<AttributeId> attributes;
  std::vector<bool> attribute_dropped;
  std::vector<std::string> attribute_names;  // after renames
  // Values the migrations set on every restored deal.
  std::vector<std::pair<AttributeId, AttributeValue>> added;
  std::string snapshot;  // "machine "b2b" v1 (fingerprint ...)"
  std::string target;

  // FailedPrecondition naming both machines and the stage / attribute.
  absl::Status MissingStage(size_t index) const;
  absl::Status MissingAttribute(size_t index) const;
};

struct NameMapper {
  // Errors: FailedPrecondition naming both machines when no migration chain
  // leads from the snapshot to `machine`, or when a type differs.
  static absl::StatusOr<NameMapping> Map(
      const SnapshotIdentity& snapshot, const std::vector<std::string>& stages,
      const std::vector<std::string>& events,
      const std::vector<SnapshotAttribute>& attributes, const Machine& machine,
      const RestoreOptions& options);

 private:
  using RenameMap = absl::flat_hash_map<std::string, std::string>;
  // `name` after the `renames` of every migration of `chain`, in order.
  static std::string Renamed(absl::Span<const Migration* const> chain,
                             RenameMap Migration::*renames,
                             const std::string& name);
  // The migrations that lead from the snapshot's version to the target's:
  // none when the fingerprints agree.
  static absl::StatusOr<std::vector<const Migration*>> Chain(
      const SnapshotIdentity& snapshot, const SnapshotIdentity& target,
      const RestoreOptions& options);
  static absl::Status MapAttributes(
      const std::vector<SnapshotAttribute>& attributes,
      const std::vector<const Migration*>& chain, const Machine& machine,
      const SnapshotIdentity& snapshot, NameMapping* out);
  // The values the migrations set on every deal.
  static absl::Status MapAdded(const std::vector<const Migration*>& chain,
                               const Machine& machine,
                               const SnapshotIdentity& snapshot,
                               NameMapping* out);
};

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_NAME_MAPPER_H_
