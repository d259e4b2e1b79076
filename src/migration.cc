#include "salescycle/migration.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "salescycle/limits.h"
#include "salescycle/v1/migration.pb.h"
#include "src/file_util.h"
#include "src/name_mapper.h"
#include "src/proto_convert.h"
#include "src/status_macros.h"

namespace salescycle {
namespace internal {

class MigrationLoader {
 public:
  static absl::StatusOr<std::shared_ptr<const Migration>> Load(
      const v1::Migration& spec, const std::string& source) {
    auto error = [&](absl::string_view element, absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", element, ": ", what));
    };
    std::shared_ptr<Migration> m(new Migration());
    if (spec.machine().empty()) return error("machine", "empty machine name");
    if (spec.to_version() <= spec.from_version()) {
      return error("to_version",
                   absl::StrCat("migrates v", spec.from_version(), " to v",
                                spec.to_version(),
                                ": the version must move forward"));
    }
    m->machine_ = spec.machine();
    m->from_version_ = spec.from_version();
    m->to_version_ = spec.to_version();
    auto renames = [&](absl::string_view what,
                       const google::protobuf::RepeatedPtrField<
                           v1::Migration::Rename>& list,
                       absl::flat_hash_map<std::string, std::string>* out)
        -> absl::Status {
      for (int i = 0; i < list.size(); ++i) {
        const std::string element = absl::StrCat(what, "[", i, "]");
        if (list[i].from().empty() || list[i].to().empty()) {
          return error(element, "empty name");
        }
        if (!out->emplace(list[i].from(), list[i].to()).second) {
          return error(element, absl::StrCat("\"", list[i].from(),
                                             "\" is renamed twice"));
        }
      }
      return absl::OkStatus();
    };
    SC_RETURN_IF_ERROR(renames("stages", spec.stages(), &m->stage_renames_));
    SC_RETURN_IF_ERROR(renames("events", spec.events(), &m->event_renames_));
    SC_RETURN_IF_ERROR(
        renames("attributes", spec.attributes(), &m->attribute_renames_));
    for (int i = 0; i < spec.drop_attributes_size(); ++i) {
      if (spec.drop_attributes(i).empty()) {
        return error(absl::StrCat("drop_attributes[", i, "]"), "empty name");
      }
      m->dropped_attributes_.insert(spec.drop_attributes(i));
    }
    for (int i = 0; i < spec.add_attributes_size(); ++i) {
      const auto& add = spec.add_attributes(i);
      const std::string element = absl::StrCat("add_attributes[", i, "]");
      if (add.name().empty()) return error(element, "empty name");
      if (m->dropped_attributes_.contains(add.name())) {
        return error(element, absl::StrCat("\"", add.name(),
                                           "\" is both dropped and added"));
      }
      std::optional<AttributeValue> value;
      if (add.has_value()) {
        SC_ASSIGN_OR_RETURN(AttributeValue v, FromProto(add.value()));
        value = std::move(v);
      }
      m->added_attributes_.emplace_back(add.name(), std::move(value));
    }
    return std::shared_ptr<const Migration>(std::move(m));
  }
};

namespace {

std::string Rename(const absl::flat_hash_map<std::string, std::string>& map,
                   const std::string& name) {
  auto it = map.find(name);
  return it == map.end() ? name : it->second;
}

std::string Describe(const SnapshotIdentity& id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(id.fingerprint));
  return absl::StrCat("machine \"", id.name, "\" v", id.version,
                      " (fingerprint ", hex, ")");
}

}  // namespace

namespace {

absl::Status Mismatch(const SnapshotIdentity& snapshot,
                      const SnapshotIdentity& target, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("snapshot of ", Describe(snapshot), " cannot be restored "
                   "onto ", Describe(target), ": ", why));
}

}  // namespace

std::string NameMapper::Renamed(absl::Span<const Migration* const> chain,
                                RenameMap Migration::*renames,
                                const std::string& name) {
  std::string renamed = name;
  for (const Migration* m : chain) renamed = Rename(m->*renames, renamed);
  return renamed;
}

absl::StatusOr<std::vector<const Migration*>> NameMapper::Chain(
    const SnapshotIdentity& snapshot, const SnapshotIdentity& target,
    const RestoreOptions& options) {
  std::vector<const Migration*> chain;
  if (snapshot.fingerprint == target.fingerprint) return chain;
  if (snapshot.name != target.name) {
    return Mismatch(snapshot, target, "they are different machines");
  }
  uint32_t version = snapshot.version;
  while (version != target.version) {
    // The last migration given from this version wins: a caller can append
    // a corrected one without removing the first.
    const Migration* next = nullptr;
    for (const auto& m : options.migrations) {
      if (m != nullptr && m->machine() == snapshot.name &&
          m->from_version() == version) {
        next = m.get();
      }
    }
    // A chain longer than the migrations given has gone round a cycle
    // (v2 -> v1 -> v2): stop there rather than loop for ever.
    if (next == nullptr || chain.size() > options.migrations.size()) {
      return Mismatch(snapshot, target,
                      absl::StrCat("no migration from v", version,
                                   " was given (RestoreOptions::migrations)"));
    }
    chain.push_back(next);
    version = next->to_version();
    if (version > target.version) {
      return Mismatch(snapshot, target,
                      absl::StrCat("the migrations go past v", target.version));
    }
  }
  if (chain.empty()) {
    return Mismatch(snapshot, target,
                    "same name and version, different behaviour: a machine "
                    "edited without a new version cannot be migrated");
  }
  return chain;
}

absl::Status NameMapper::MapAttributes(
    const std::vector<SnapshotAttribute>& attributes,
    const std::vector<const Migration*>& chain, const Machine& machine,
    const SnapshotIdentity& snapshot, NameMapping* out) {
  const SnapshotIdentity target{machine.name(), machine.version(),
                                machine.fingerprint()};
  for (const SnapshotAttribute& a : attributes) {
    std::string final_name = a.name;
    bool dropped = false;
    for (const Migration* m : chain) {
      if (m->dropped_attributes_.contains(final_name)) dropped = true;
      final_name = Rename(m->attribute_renames_, final_name);
    }
    AttributeId id = kNoAttribute;
    if (!dropped) {
      auto found = machine.FindAttribute(final_name);
      if (found.ok()) {
        id = *found;
        if (machine.attribute(id).type != a.type) {
          return Mismatch(snapshot, target, absl::StrCat(
              "attribute \"", a.name, "\" is ", AttributeTypeName(a.type),
              " in the snapshot but ",
              AttributeTypeName(machine.attribute(id).type),
              " in the machine; convert it in a migration"));
        }
      }
    }
    out->attributes.push_back(id);
    out->attribute_dropped.push_back(dropped);
    out->attribute_names.push_back(final_name);
  }
  return absl::OkStatus();
}

absl::Status NameMapper::MapAdded(const std::vector<const Migration*>& chain,
                                  const Machine& machine,
                                  const SnapshotIdentity& snapshot,
                                  NameMapping* out) {
  const SnapshotIdentity target{machine.name(), machine.version(),
                                machine.fingerprint()};
  for (size_t i = 0; i < chain.size(); ++i) {
    for (const auto& [name, value] : chain[i]->added_attributes_) {
      // Named as of migration i: the later ones may rename it.
      const std::string final_name =
          Renamed(absl::MakeConstSpan(chain).subspan(i + 1),
                  &Migration::attribute_renames_, name);
      auto id = machine.FindAttribute(final_name);
      if (!id.ok()) {
        return Mismatch(snapshot, target,
                        absl::StrCat("the migration from v",
                                     chain[i]->from_version(),
                                     " adds attribute \"", final_name,
                                     "\", which the machine lacks"));
      }
      if (value && value->type() != machine.attribute(*id).type) {
        return Mismatch(snapshot, target, absl::StrCat(
            "the migration from v", chain[i]->from_version(),
            " sets attribute \"", final_name, "\" to a ",
            AttributeTypeName(value->type()), " but it is ",
            AttributeTypeName(machine.attribute(*id).type)));
      }
      if (value) out->added.emplace_back(*id, *value);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<NameMapping> NameMapper::Map(
    const SnapshotIdentity& snapshot, const std::vector<std::string>& stages,
    const std::vector<std::string>& events,
    const std::vector<SnapshotAttribute>& attributes, const Machine& machine,
    const RestoreOptions& options) {
  const SnapshotIdentity target{machine.name(), machine.version(),
                                machine.fingerprint()};
  SC_ASSIGN_OR_RETURN(const std::vector<const Migration*> chain,
                      Chain(snapshot, target, options));
  NameMapping out;
  for (const std::string& name : stages) {
    std::string final_name = Renamed(chain, &Migration::stage_renames_, name);
    auto id = machine.FindStage(final_name);
    out.stages.push_back(id.ok() ? *id : kNoStage);
    out.stage_names.push_back(std::move(final_name));
  }
  for (const std::string& name : events) {
    auto id = machine.FindEvent(Renamed(chain, &Migration::event_renames_, name));
    out.events.push_back(id.ok() ? *id : kNoEvent);
  }
  SC_RETURN_IF_ERROR(MapAttributes(attributes, chain, machine, snapshot, &out));
  SC_RETURN_IF_ERROR(MapAdded(chain, machine, snapshot, &out));
  out.snapshot = Describe(snapshot);
  out.target = Describe(target);
  return out;
}

absl::Status NameMapping::MissingStage(size_t index) const {
  return absl::FailedPreconditionError(absl::StrCat(
      "snapshot of ", snapshot, " has deals in stage \"", stage_names[index],
      "\", which ", target, " lacks; map it in a Migration"));
}

absl::Status NameMapping::MissingAttribute(size_t index) const {
  return absl::FailedPreconditionError(absl::StrCat(
      "snapshot of ", snapshot, " has values of attribute \"",
      attribute_names[index], "\", which ", target,
      " lacks; drop it in a Migration"));
}

}  // namespace internal

absl::StatusOr<std::shared_ptr<const Migration>> Migration::FromTextProto(
    absl::string_view text, absl::string_view source_name) {
  const std::string source =
      source_name.empty() ? "<text>" : std::string(source_name);
  v1::Migration spec;
  SC_RETURN_IF_ERROR(internal::ParseTextProto(text, source, &spec));
  return internal::MigrationLoader::Load(spec, source);
}

absl::StatusOr<std::shared_ptr<const Migration>> Migration::FromJson(
    absl::string_view json, absl::string_view source_name) {
  const std::string source =
      source_name.empty() ? "<json>" : std::string(source_name);
  v1::Migration spec;
  SC_RETURN_IF_ERROR(internal::ParseJson(json, source, &spec));
  return internal::MigrationLoader::Load(spec, source);
}

absl::StatusOr<std::shared_ptr<const Migration>> Migration::FromFile(
    const std::string& path) {
  SC_ASSIGN_OR_RETURN(std::string contents, internal::ReadFile(path, Limits().max_spec_bytes));
  if (absl::EndsWith(path, ".json")) return FromJson(contents, path);
  return FromTextProto(contents, path);
}

}  // namespace salescycle
