/// \file
/// How snapshots of one version of a machine are restored onto the next.
///
/// A CRM keeps deals for years while its sales cycle is edited under them. A
/// Migration (proto/salescycle/v1/migration.proto) says what changed between
/// version N and N+1 of a machine, by name: stages renamed, merged or split,
/// events and attributes renamed, attributes dropped or added with a value.
/// Give the migrations to RestoreOptions and a snapshot of an older version
/// restores onto the current machine.
///
/// A Migration is immutable once loaded and safe to share between threads.
#ifndef SALESCYCLE_MIGRATION_H_
#define SALESCYCLE_MIGRATION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "salescycle/attribute.h"
#include "salescycle/visibility.h"

namespace salescycle {

namespace internal {
class MigrationLoader;
struct NameMapper;
}  // namespace internal

/// What changed between version N and N+1 of a machine, by name.
class SC_API Migration {
 public:
  /// Parse and check a Migration. Errors: InvalidArgument naming the source
  /// and the element (an empty name, a version that does not move forward, a
  /// name renamed twice, an attribute both dropped and added...); for files,
  /// NotFound etc. naming the path. A path ending in ".json" is read as JSON.
  /// @{
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Migration>>
  FromTextProto(absl::string_view text, absl::string_view source_name = "");
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Migration>>
  FromJson(absl::string_view json, absl::string_view source_name = "");
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Migration>>
  FromFile(const std::string& path);
  ///@}

  Migration(const Migration&) = delete;
  Migration& operator=(const Migration&) = delete;

  /// The name of the machine it migrates.
  const std::string& machine() const { return machine_; }
  /// The version it migrates from.
  uint32_t from_version() const { return from_version_; }
  /// The version it migrates to: later than from_version().
  uint32_t to_version() const { return to_version_; }

 private:
  friend class internal::MigrationLoader;
  friend struct internal::NameMapper;
  Migration() = default;

  std::string machine_;
  uint32_t from_version_ = 0;
  uint32_t to_version_ = 0;
  absl::flat_hash_map<std::string, std::string> stage_renames_;
  absl::flat_hash_map<std::string, std::string> event_renames_;
  absl::flat_hash_map<std::string, std::string> attribute_renames_;
  absl::flat_hash_set<std::string> dropped_attributes_;
  // Name and the value to set on every migrated deal (none: leave unset).
  std::vector<std::pair<std::string, std::optional<AttributeValue>>>
      added_attributes_;
};

}  // namespace salescycle

#endif  // SALESCYCLE_MIGRATION_H_
