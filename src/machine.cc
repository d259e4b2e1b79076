#include "salescycle/machine.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "salescycle/v1/machine.pb.h"
#include "src/core.h"
#include "src/file_util.h"
#include "src/program.h"
#include "src/proto_convert.h"
#include "src/status_macros.h"

namespace salescycle {

absl::string_view StageKindName(StageKind kind) {
  switch (kind) {
    case StageKind::kOpen: return "open";
    case StageKind::kWon: return "won";
    case StageKind::kLost: return "lost";
  }
  return "unknown";
}

namespace internal {
namespace {

namespace pb = ::salescycle::v1;

std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CEscape(s), "\"");
}

// FNV-1a 64: simple, fully specified, so fingerprints never change with the
// compiler, platform or protobuf version.
uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

const char* OpText(pb::Comparison::Op op) {
  switch (op) {
    case pb::Comparison::EQ: return "==";
    case pb::Comparison::NE: return "!=";
    case pb::Comparison::LT: return "<";
    case pb::Comparison::LE: return "<=";
    case pb::Comparison::GT: return ">";
    case pb::Comparison::GE: return ">=";
    default: return "?";
  }
}

std::string ValueText(const pb::Value& v) {
  switch (v.kind_case()) {
    case pb::Value::kInt64Value: return absl::StrCat(v.int64_value());
    case pb::Value::kDoubleValue: {
      // Round-trippable, so the canonical text (and the fingerprint) tells
      // apart any two different doubles.
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.double_value());
      return buf;
    }
    case pb::Value::kStringValue: return Quote(v.string_value());
    case pb::Value::kBoolValue: return v.bool_value() ? "true" : "false";
    case pb::Value::KIND_NOT_SET: return "<none>";
  }
  return "";
}

absl::string_view ValueTypeName(const pb::Value& v) {
  switch (v.kind_case()) {
    case pb::Value::kInt64Value: return "int64";
    case pb::Value::kDoubleValue: return "double";
    case pb::Value::kStringValue: return "string";
    case pb::Value::kBoolValue: return "bool";
    case pb::Value::KIND_NOT_SET: return "none";
  }
  return "";
}

bool ValueHasType(const pb::Value& v, AttributeType t) {
  switch (t) {
    case AttributeType::kInt64: return v.has_int64_value();
    case AttributeType::kDouble: return v.has_double_value();
    case AttributeType::kString: return v.has_string_value();
    case AttributeType::kBool: return v.has_bool_value();
  }
  return false;
}

std::string TransitionLabel(const pb::Transition& t, int index) {
  std::string from;
  switch (t.from_case()) {
    case pb::Transition::kFromStage: from = t.from_stage(); break;
    case pb::Transition::kFromGroup:
      from = absl::StrCat("group ", Quote(t.from_group()));
      break;
    case pb::Transition::kFromAnyOpen: from = "any open stage"; break;
    case pb::Transition::FROM_NOT_SET: from = "?"; break;
  }
  std::string to;
  switch (t.target_case()) {
    case pb::Transition::kTo: to = t.to(); break;
    case pb::Transition::kToAnyOpen:
      to = t.forward_only() ? "any later open stage" : "any open stage";
      break;
    case pb::Transition::kToAnyClosed: to = "any closed stage"; break;
    case pb::Transition::TARGET_NOT_SET: to = "(activity)"; break;
  }
  return absl::StrCat("transitions[", index, "] (", from, " --",
                      t.event().empty() ? "(by stage)" : t.event(), "--> ", to,
                      ")");
}

}  // namespace

class MachineCompiler {
 public:
  MachineCompiler(const pb::MachineSpec& spec, const CompileOptions& options,
                  std::string source)
      : spec_(spec), options_(options), source_(std::move(source)) {}

  absl::StatusOr<std::shared_ptr<const Machine>> Compile() {
    m_.reset(new Machine());
    m_->program_ = std::make_unique<Program>();
    prog_ = m_->program_.get();
    SC_RETURN_IF_ERROR(CheckLimits());
    SC_RETURN_IF_ERROR(CompileIdentity());
    SC_RETURN_IF_ERROR(CompileEvents());
    SC_RETURN_IF_ERROR(CompileAttributes());
    SC_RETURN_IF_ERROR(CompileStages());
    SC_RETURN_IF_ERROR(CompileInitial());
    SC_RETURN_IF_ERROR(CompileEntryStages());
    SC_RETURN_IF_ERROR(CompileTransitions());
    SC_RETURN_IF_ERROR(CompileTimeouts());
    SC_RETURN_IF_ERROR(CheckReachability());
    CompileStageFeatures();
    BuildTable();
    CompileTransitionFeatures();
    m_->spec_text_ = SpecText();
    m_->fingerprint_ = Fnv1a64(CanonicalText());
    return std::shared_ptr<const Machine>(std::move(m_));
  }

 private:
  absl::Status Error(absl::string_view element, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", element, ": ", what));
  }

  // Before anything sized by the spec is built.
  absl::Status CheckLimits() const {
    const Limits& limits = options_.limits;
    SC_RETURN_IF_ERROR(
        CheckStringLengths(spec_, limits.max_string_length, source_));
    // Names end up in snapshots' `string` fields, and guard constants are
    // compared with UTF-8 text; one Latin-1 byte made snapshots unloadable.
    SC_RETURN_IF_ERROR(CheckUtf8(spec_, source_));
    const struct {
      int declared;
      const char* what;
      const char* limit_name;
      size_t limit;
    } counts[] = {
        {spec_.stages_size(), "stages", "max_stages",
         std::min<size_t>(limits.max_stages, kMaxStages)},
        {spec_.events_size(), "events", "max_events",
         std::min<size_t>(limits.max_events, kMaxEvents)},
        {spec_.attributes_size(), "attributes", "max_attributes",
         std::min<size_t>(limits.max_attributes, kMaxAttributes)},
    };
    for (const auto& c : counts) {
      if (static_cast<size_t>(c.declared) > c.limit) {
        return LimitError(source_,
                          absl::StrCat("declares ", c.declared, " ", c.what),
                          c.limit_name, c.limit);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CompileIdentity() {
    if (spec_.name().empty()) return Error("name", "the machine has no name");
    m_->name_ = spec_.name();
    m_->version_ = spec_.version();
    return absl::OkStatus();
  }

  // Shared by stages and events: non-empty and unique (CheckLimits keeps
  // the count within the id space).
  template <typename Map>
  absl::Status AddName(absl::string_view what, int index, const std::string& id,
                       Map* by_name) const {
    const std::string element = absl::StrCat(what, "s[", index, "]");
    if (id.empty()) return Error(element, absl::StrCat("empty ", what, " id"));
    auto [it, inserted] = by_name->emplace(
        id, static_cast<typename Map::mapped_type>(index));
    if (!inserted) {
      return Error(element, absl::StrCat("duplicate ", what, " id ", Quote(id),
                                         " (first declared as ", what, "s[",
                                         it->second, "])"));
    }
    return absl::OkStatus();
  }

  absl::Status CompileEvents() {
    for (int i = 0; i < spec_.events_size(); ++i) {
      const pb::Event& e = spec_.events(i);
      SC_RETURN_IF_ERROR(
          AddName("event", i, e.id(), &m_->event_by_name_));
      m_->events_.push_back(EventInfo{e.id(), e.description()});
    }
    if (m_->events_.empty()) return Error("events", "the machine has no events");
    return absl::OkStatus();
  }

  absl::Status CompileAttributes() {
    for (int i = 0; i < spec_.attributes_size(); ++i) {
      const pb::Attribute& a = spec_.attributes(i);
      const std::string element = absl::StrCat("attributes[", i, "]");
      if (a.name().empty()) return Error(element, "empty attribute name");
      auto [it, inserted] =
          m_->attribute_by_name_.emplace(a.name(), static_cast<AttributeId>(i));
      if (!inserted) {
        return Error(element, absl::StrCat("duplicate attribute name ",
                                           Quote(a.name()),
                                           " (first declared as attributes[",
                                           it->second, "])"));
      }
      AttributeInfo info;
      info.name = a.name();
      const std::optional<AttributeType> type = FromProto(a.type());
      if (!type) {
        return Error(absl::StrCat(element, " ", Quote(a.name())),
                     "attribute has no type (INT64, DOUBLE, STRING or BOOL)");
      }
      info.type = *type;
      const pb::Value& d = a.default_value();
      if (d.kind_case() != pb::Value::KIND_NOT_SET &&
          !ValueHasType(d, info.type)) {
        return Error(absl::StrCat(element, " ", Quote(a.name())),
                     absl::StrCat("default value is ", ValueTypeName(d),
                                  " but the attribute is ",
                                  AttributeTypeName(info.type)));
      }
      uint64_t scalar = 0;
      switch (info.type) {
        case AttributeType::kInt64:
          info.default_value = AttributeValue::Int64(d.int64_value());
          scalar = static_cast<uint64_t>(d.int64_value());
          break;
        case AttributeType::kDouble:
          info.default_value = AttributeValue::Double(d.double_value());
          scalar = DoubleBits(d.double_value());
          break;
        case AttributeType::kBool:
          info.default_value = AttributeValue::Bool(d.bool_value());
          scalar = d.bool_value() ? 1 : 0;
          break;
        case AttributeType::kString:
          info.default_value = AttributeValue::String(d.string_value());
          break;
      }
      if (info.type == AttributeType::kString) {
        prog_->attribute_slot.push_back(
            static_cast<uint16_t>(prog_->num_string_slots++));
        prog_->string_defaults.push_back(d.string_value());
      } else {
        prog_->attribute_slot.push_back(
            static_cast<uint16_t>(prog_->num_scalar_slots++));
        prog_->scalar_defaults.push_back(scalar);
      }
      m_->attributes_.push_back(std::move(info));
    }
    return absl::OkStatus();
  }

  absl::Status CompileStages() {
    for (int i = 0; i < spec_.stages_size(); ++i) {
      const pb::Stage& s = spec_.stages(i);
      SC_RETURN_IF_ERROR(
          AddName("stage", i, s.id(), &m_->stage_by_name_));
      const std::string element = absl::StrCat("stages[", i, "] ", Quote(s.id()));
      StageInfo info;
      info.id = s.id();
      info.display_name = s.display_name().empty() ? s.id() : s.display_name();
      switch (s.kind()) {
        case pb::Stage::WON: info.kind = StageKind::kWon; break;
        case pb::Stage::LOST: info.kind = StageKind::kLost; break;
        default: info.kind = StageKind::kOpen; break;
      }
      if (s.has_win_probability()) {
        if (s.win_probability() > 100) {
          return Error(element, absl::StrCat("win_probability ",
                                             s.win_probability(),
                                             " is not within 0..100"));
        }
        info.win_probability = static_cast<int>(s.win_probability());
      } else {
        info.win_probability = info.kind == StageKind::kWon ? 100 : 0;
      }
      info.group = s.group();
      if (s.has_stall_limit_seconds()) {
        if (s.stall_limit_seconds() <= 0) {
          return Error(element, absl::StrCat("stall_limit_seconds ",
                                             s.stall_limit_seconds(),
                                             " is not positive"));
        }
        info.stall_limit_seconds = s.stall_limit_seconds();
      }
      for (const std::string& name : s.required_attributes()) {
        auto it = m_->attribute_by_name_.find(name);
        if (it == m_->attribute_by_name_.end()) {
          return Error(element, absl::StrCat("required attribute ", Quote(name),
                                             " is not declared"));
        }
        info.required_attributes.push_back(it->second);
      }
      SC_RETURN_IF_ERROR(CompileOutcomeFields(s, element, &info));
      m_->stages_.push_back(std::move(info));
    }
    if (m_->stages_.empty()) return Error("stages", "the machine has no stages");
    return absl::OkStatus();
  }

  // The stall clock, and what closed stages record and allow.
  absl::Status CompileOutcomeFields(const pb::Stage& s,
                                    const std::string& element,
                                    StageInfo* info) const {
    if (s.stall_clock() == pb::Stage::LAST_ACTIVITY) {
      info->stall_clock = StallClock::kLastActivity;
    }
    if (!s.reason_attribute().empty() || s.reason_from_event()) {
      if (info->kind != StageKind::kLost) {
        return Error(element, "only a LOST stage records a loss reason");
      }
      info->reason_from_event = s.reason_from_event();
    }
    if (!s.reason_attribute().empty()) {
      auto it = m_->attribute_by_name_.find(s.reason_attribute());
      if (it == m_->attribute_by_name_.end() ||
          m_->attributes_[it->second].type != AttributeType::kString) {
        return Error(element, absl::StrCat("reason_attribute ",
                                           Quote(s.reason_attribute()),
                                           " is not a declared STRING "
                                           "attribute"));
      }
      info->reason_attribute = it->second;
    }
    if (s.reopenable()) {
      if (info->kind == StageKind::kOpen) {
        return Error(element, "only a WON or LOST stage can be reopenable");
      }
      info->reopenable = true;
    }
    if (s.side_stage()) {
      if (info->kind == StageKind::kLost) {
        return Error(element, "a LOST stage is off the funnel line already: "
                              "side_stage is for OPEN and WON stages");
      }
      info->side = true;
    }
    return absl::OkStatus();
  }

  // What per-deal state the machine needs (Machine::keeps_*): what the
  // stages say, before the table is built (BuildTable reads it); then what
  // the transitions say.
  void CompileStageFeatures() {
    for (const StageInfo& s : m_->stages_) {
      m_->keeps_last_activity_ |= s.stall_clock == StallClock::kLastActivity;
      m_->keeps_loss_reasons_ |= s.records_reason();
      m_->keeps_closed_from_ |= s.reopenable;
    }
  }
  void CompileTransitionFeatures() {
    m_->keeps_last_activity_ |= m_->has_activities_;
    for (const TransitionInfo& t : m_->transitions_) {
      m_->keeps_cycles_ |= t.new_cycle;
    }
  }
  // Whether a move from `from` to `to` changes more than the stage columns
  // (a loss reason, a closed-from stage, a cycle): the batch hot loop's
  // direct cells must never need that, so such moves get slow cells.
  bool MoveKeepsMore(StageId from, StageId to, bool new_cycle) const {
    const StageInfo& target = m_->stages_[to];
    return target.records_reason() || new_cycle ||
           (m_->keeps_closed_from_ && target.closed() &&
            !m_->stages_[from].closed());
  }

  absl::Status CompileInitial() {
    if (spec_.initial_stage().empty()) {
      return Error("initial_stage", "missing: name the stage deals start in");
    }
    auto it = m_->stage_by_name_.find(spec_.initial_stage());
    if (it == m_->stage_by_name_.end()) {
      return Error("initial_stage",
                   absl::StrCat("unknown stage ", Quote(spec_.initial_stage())));
    }
    m_->initial_stage_ = it->second;
    return absl::OkStatus();
  }

  // The initial stage first, then the spec's others in its order.
  absl::Status CompileEntryStages() {
    m_->entry_stages_ = {m_->initial_stage_};
    for (int i = 0; i < spec_.entry_stages_size(); ++i) {
      const std::string& name = spec_.entry_stages(i);
      auto it = m_->stage_by_name_.find(name);
      if (it == m_->stage_by_name_.end()) {
        return Error(absl::StrCat("entry_stages[", i, "]"),
                     absl::StrCat("unknown stage ", Quote(name)));
      }
      if (std::find(m_->entry_stages_.begin(), m_->entry_stages_.end(),
                    it->second) == m_->entry_stages_.end()) {
        m_->entry_stages_.push_back(it->second);
      }
    }
    return absl::OkStatus();
  }

  // Appends the guard's nodes in preorder and its readable form to `text`.
  absl::Status CompileGuard(const pb::Guard& g, const std::string& element,
                            int depth, bool top, std::string* text) {
    using Node = Program::GuardNode;
    const size_t max_depth =
        std::min(options_.limits.max_guard_depth, kMaxGuardDepthCap);
    if (static_cast<size_t>(depth) > max_depth) {
      return LimitError(source_,
                        absl::StrCat(element, ": guard nested deeper than ",
                                     max_depth, " levels"),
                        "max_guard_depth", max_depth);
    }
    // The node's place is taken now, before its children are appended
    // behind it (preorder), and filled in once they are: only then is its
    // subtree's size known. Until then it is a placeholder that nothing
    // reads, as the compile fails whole if a child fails.
    const size_t index = prog_->guard_nodes.size();
    prog_->guard_nodes.push_back(Node{});
    Node node{};
    switch (g.kind_case()) {
      case pb::Guard::kCompare:
        SC_RETURN_IF_ERROR(CompileComparison(g.compare(), element, &node, text));
        break;
      case pb::Guard::kAll:
      case pb::Guard::kAny:
      case pb::Guard::kNot:
        SC_RETURN_IF_ERROR(
            CompileCombination(g, element, depth, top, &node, text));
        break;
      case pb::Guard::kNamed:
        SC_RETURN_IF_ERROR(CompileNamed(g.named(), element, &node, text));
        break;
      case pb::Guard::KIND_NOT_SET:
        return Error(element, "empty guard: set compare, all, any, not or named");
    }
    node.size = static_cast<uint32_t>(prog_->guard_nodes.size() - index);
    prog_->guard_nodes[index] = node;
    return absl::OkStatus();
  }

  // Checks a comparison against the attribute's declared type.
  absl::Status CheckComparison(const pb::Comparison& c,
                               const std::string& element,
                               const AttributeInfo& attr) const {
    if (c.op() == pb::Comparison::OP_UNSPECIFIED) {
      return Error(element,
                   absl::StrCat("comparison on ", Quote(attr.name), " has no op"));
    }
    if (c.value().kind_case() == pb::Value::KIND_NOT_SET) {
      return Error(element, absl::StrCat("comparison on ", Quote(attr.name),
                                         " has no value"));
    }
    if (!ValueHasType(c.value(), attr.type)) {
      return Error(element,
                   absl::StrCat("guard compares ", AttributeTypeName(attr.type),
                                " attribute ", Quote(attr.name), " with a ",
                                ValueTypeName(c.value()), " value"));
    }
    const bool ordered =
        c.op() != pb::Comparison::EQ && c.op() != pb::Comparison::NE;
    if (ordered && (attr.type == AttributeType::kString ||
                    attr.type == AttributeType::kBool)) {
      return Error(element, absl::StrCat(AttributeTypeName(attr.type),
                                         " attribute ", Quote(attr.name),
                                         " compares only with == and !="));
    }
    return absl::OkStatus();
  }

  absl::Status CompileComparison(const pb::Comparison& c,
                                 const std::string& element,
                                 Program::GuardNode* node, std::string* text) {
    using Node = Program::GuardNode;
    auto it = m_->attribute_by_name_.find(c.attribute());
    if (it == m_->attribute_by_name_.end()) {
      return Error(element, absl::StrCat("guard on undeclared attribute ",
                                         Quote(c.attribute())));
    }
    const AttributeInfo& attr = m_->attributes_[it->second];
    SC_RETURN_IF_ERROR(CheckComparison(c, element, attr));
    node->attribute = it->second;
    // Node::Op lists the ops in the spec's order, from EQ (checked below).
    static_assert(pb::Comparison::NE - pb::Comparison::EQ == Node::kNe &&
                      pb::Comparison::LT - pb::Comparison::EQ == Node::kLt &&
                      pb::Comparison::LE - pb::Comparison::EQ == Node::kLe &&
                      pb::Comparison::GT - pb::Comparison::EQ == Node::kGt &&
                      pb::Comparison::GE - pb::Comparison::EQ == Node::kGe &&
                      Node::kEq == 0,
                  "machine.proto's Comparison.Op and Program's GuardNode::Op "
                  "are in the same order");
    node->op = static_cast<Node::Op>(c.op() - pb::Comparison::EQ);
    switch (attr.type) {
      case AttributeType::kInt64:
        node->kind = Node::kInt64Compare;
        node->constant.int64_value = c.value().int64_value();
        break;
      case AttributeType::kDouble:
        node->kind = Node::kDoubleCompare;
        node->constant.double_value = c.value().double_value();
        break;
      case AttributeType::kBool:
        node->kind = Node::kBoolCompare;
        node->constant.bool_value = c.value().bool_value();
        break;
      case AttributeType::kString:
        // Strings live beside the nodes, so that a node stays a plain value.
        node->kind = Node::kStringCompare;
        node->constant.index = static_cast<uint32_t>(prog_->guard_strings.size());
        prog_->guard_strings.push_back(c.value().string_value());
        break;
    }
    absl::StrAppend(text, attr.name, " ", OpText(c.op()), " ",
                    ValueText(c.value()));
    return absl::OkStatus();
  }

  // all / any / not: the children follow the node in preorder.
  absl::Status CompileCombination(const pb::Guard& g, const std::string& element,
                                  int depth, bool top, Program::GuardNode* node,
                                  std::string* text) {
    using Node = Program::GuardNode;
    if (g.kind_case() == pb::Guard::kNot) {
      node->kind = Node::kNot;
      text->append("not ");
      return CompileGuard(g.not_(), absl::StrCat(element, ".not"), depth + 1,
                          false, text);
    }
    const bool all = g.kind_case() == pb::Guard::kAll;
    const pb::GuardList& list = all ? g.all() : g.any();
    const char* word = all ? "all" : "any";
    if (list.guards().empty()) {
      return Error(element, absl::StrCat("'", word, "' with no guards"));
    }
    node->kind = all ? Node::kAll : Node::kAny;
    // Nested groups are bracketed; the outermost reads better bare.
    if (!top) text->append("(");
    for (int i = 0; i < list.guards_size(); ++i) {
      if (i > 0) text->append(all ? " and " : " or ");
      SC_RETURN_IF_ERROR(CompileGuard(
          list.guards(i), absl::StrCat(element, ".", word, "[", i, "]"),
          depth + 1, false, text));
    }
    if (!top) text->append(")");
    return absl::OkStatus();
  }

  absl::Status CompileNamed(const std::string& name, const std::string& element,
                            Program::GuardNode* node, std::string* text) {
    auto it = options_.named_guards.find(name);
    if (it == options_.named_guards.end() || !it->second) {
      return Error(element, absl::StrCat("named guard ", Quote(name),
                                         " is not registered in "
                                         "CompileOptions::named_guards"));
    }
    node->kind = Program::GuardNode::kNamed;
    // One entry per use: the function is copied, so the machine does not
    // depend on the caller's CompileOptions living on.
    node->constant.index = static_cast<uint32_t>(prog_->named_guards.size());
    prog_->named_guards.push_back(it->second);
    absl::StrAppend(text, "named(", Quote(name), ")");
    return absl::OkStatus();
  }

  struct PendingCandidate {
    StageId to;
    int spec_index;
    int32_t guard;  // -1: unguarded
  };

  // The stages a transition leaves from: one, a group's, or every open one.
  absl::StatusOr<std::vector<StageId>> SourceStages(
      const pb::Transition& t, const std::string& element) const {
    const size_t num_stages = m_->stages_.size();
    std::vector<StageId> from;
    switch (t.from_case()) {
      case pb::Transition::kFromStage: {
        auto it = m_->stage_by_name_.find(t.from_stage());
        if (it == m_->stage_by_name_.end()) {
          return Error(element,
                       absl::StrCat("unknown stage ", Quote(t.from_stage())));
        }
        from.push_back(it->second);
        break;
      }
      case pb::Transition::kFromGroup:
        for (size_t s = 0; s < num_stages; ++s) {
          if (m_->stages_[s].group == t.from_group()) {
            from.push_back(static_cast<StageId>(s));
          }
        }
        if (t.from_group().empty() || from.empty()) {
          return Error(element, absl::StrCat("unknown group ",
                                             Quote(t.from_group()),
                                             ": no stage has it"));
        }
        break;
      case pb::Transition::kFromAnyOpen:
        if (!t.from_any_open()) {
          return Error(element, "from_any_open is false: say where the "
                                "transition leaves from");
        }
        for (size_t s = 0; s < num_stages; ++s) {
          if (m_->stages_[s].kind == StageKind::kOpen) {
            from.push_back(static_cast<StageId>(s));
          }
        }
        if (from.empty()) return Error(element, "the machine has no open stage");
        break;
      case pb::Transition::FROM_NOT_SET:
        return Error(element, "no source: set from_stage, from_group or "
                              "from_any_open");
    }
    return from;
  }

  // Where a transition goes from one source stage: one stage, every open
  // stage but the source (or, forward_only, those declared after it), every
  // closed stage, or nowhere (an activity: {kNoStage}). Never the source
  // itself: a deal that stays records an activity.
  std::vector<StageId> TargetStages(const pb::Transition& t, StageId source,
                                    StageId named_target) const {
    switch (t.target_case()) {
      case pb::Transition::kTo:
        if (named_target == source) return {};
        return {named_target};
      case pb::Transition::kToAnyOpen:
      case pb::Transition::kToAnyClosed: {
        std::vector<StageId> out;
        const bool open = t.target_case() == pb::Transition::kToAnyOpen;
        for (size_t s = 0; s < m_->stages_.size(); ++s) {
          const bool is_open = m_->stages_[s].kind == StageKind::kOpen;
          if (s == source || is_open != open) continue;
          if (open && t.forward_only() && s < source) continue;
          out.push_back(static_cast<StageId>(s));
        }
        return out;
      }
      case pb::Transition::TARGET_NOT_SET:
        break;
    }
    return {kNoStage};
  }

  // The transition's own fields, before it is expanded over its stages.
  // `event` is kNoEvent for a transition taken only by moves by stage;
  // `target` is the named stage, or kNoStage for the other target forms.
  absl::Status CheckTransitionForm(const pb::Transition& t,
                                   const std::string& element, EventId* event,
                                   StageId* target) const {
    *event = kNoEvent;
    *target = kNoStage;
    const bool activity = t.target_case() == pb::Transition::TARGET_NOT_SET;
    const bool many = t.target_case() == pb::Transition::kToAnyOpen ||
                      t.target_case() == pb::Transition::kToAnyClosed;
    if (!t.event().empty()) {
      auto it = m_->event_by_name_.find(t.event());
      if (it == m_->event_by_name_.end()) {
        return Error(element, absl::StrCat("unknown event ", Quote(t.event())));
      }
      *event = it->second;
    }
    if (activity && *event == kNoEvent) {
      return Error(element, "no target and no event: name the stage it moves "
                            "to, or the event of the activity it records");
    }
    if (many && !(t.target_case() == pb::Transition::kToAnyOpen
                      ? t.to_any_open() : t.to_any_closed())) {
      return Error(element, "to_any_open / to_any_closed is false: say where "
                            "the transition goes");
    }
    if (many && *event != kNoEvent) {
      return Error(element, absl::StrCat(
                                "a transition to several stages takes no "
                                "event (it is taken by moves by stage); ",
                                Quote(t.event()), " would name no one target"));
    }
    if (t.forward_only() && t.target_case() != pb::Transition::kToAnyOpen) {
      return Error(element, "forward_only applies to to_any_open only");
    }
    if (t.new_cycle() && (t.from_case() == pb::Transition::kFromAnyOpen ||
                          t.target_case() != pb::Transition::kTo)) {
      return Error(element, "new_cycle: a new cycle starts with a move from "
                            "a closed stage to an open one");
    }
    if (t.target_case() == pb::Transition::kTo) {
      auto it = m_->stage_by_name_.find(t.to());
      if (it == m_->stage_by_name_.end()) {
        return Error(element,
                     absl::StrCat("unknown target stage ", Quote(t.to())));
      }
      *target = it->second;
      if (t.from_case() == pb::Transition::kFromStage &&
          t.from_stage() == t.to()) {
        return Error(element,
                     "a self-loop: a deal that stays in its stage records an "
                     "activity; leave out `to` to declare one");
      }
    }
    return absl::OkStatus();
  }

  absl::Status CompileTransitions() {
    const size_t num_stages = m_->stages_.size();
    const size_t row = m_->events_.size() + 1;  // the last: no event
    candidates_.assign(num_stages * row, {});
    guard_text_.resize(spec_.transitions_size());
    size_t expanded = 0;
    for (int i = 0; i < spec_.transitions_size(); ++i) {
      const pb::Transition& t = spec_.transitions(i);
      const std::string element = TransitionLabel(t, i);
      SC_ASSIGN_OR_RETURN(const std::vector<StageId> from,
                          SourceStages(t, element));
      EventId event;
      StageId named_target;
      SC_RETURN_IF_ERROR(CheckTransitionForm(t, element, &event, &named_target));
      int32_t guard = -1;
      if (t.has_guard()) {
        guard = static_cast<int32_t>(prog_->guard_nodes.size());
        SC_RETURN_IF_ERROR(CompileGuard(t.guard(),
                                        absl::StrCat(element, ".guard"), 0,
                                        true, &guard_text_[i]));
      }
      const size_t column = event == kNoEvent ? row - 1 : event;
      // A candidate behind an unguarded one for the same stage, event and
      // target can never be taken; a transition is an error only if that
      // holds for every pair it covers (a group transition may be shadowed
      // in one stage only).
      int live = 0;
      int shadowed_by = -1;
      for (StageId s : from) {
        std::vector<PendingCandidate>& list = candidates_[s * row + column];
        for (StageId to : TargetStages(t, s, named_target)) {
          if (++expanded > options_.limits.max_transitions) {
            return LimitError(
                source_,
                absl::StrCat(element, ": brings the transitions, one per "
                                      "pair of stages, to ", expanded),
                "max_transitions", options_.limits.max_transitions);
          }
          if (t.new_cycle() &&
              (!m_->stages_[s].closed() || m_->stages_[to].closed())) {
            return Error(element,
                         absl::StrCat("new_cycle: a new cycle starts with a "
                                      "move from a closed stage to an open "
                                      "one, and ",
                                      Quote(m_->stages_[s].id), " to ",
                                      Quote(m_->stages_[to].id), " is not"));
          }
          const PendingCandidate* blocker = Shadowing(list, event, to);
          if (blocker != nullptr) {
            shadowed_by = blocker->spec_index;
            continue;
          }
          list.push_back(PendingCandidate{to, i, guard});
          ++live;
        }
      }
      if (live == 0 && shadowed_by >= 0) {
        return Error(element,
                     absl::StrCat(event == kNoEvent ? "can never be taken"
                                                    : "can never fire",
                                  ": it follows the unguarded transitions[",
                                  shadowed_by, "] for the same stage and ",
                                  event == kNoEvent ? "target" : "event"));
      }
      if (live == 0) {
        return Error(element, "covers no pair of stages: its sources are "
                              "its only targets");
      }
    }
    return absl::OkStatus();
  }

  // The earlier unguarded candidate that a new one (to `to`) would never get
  // past: for an event, any; with no event (moves by stage), one to the same
  // target, as a move by stage names its target.
  static const PendingCandidate* Shadowing(
      const std::vector<PendingCandidate>& list, EventId event, StageId to) {
    for (const PendingCandidate& c : list) {
      if (c.guard < 0 && (event != kNoEvent || c.to == to)) return &c;
    }
    return nullptr;
  }

  absl::Status CompileTimeouts() {
    prog_->timeouts.assign(m_->stages_.size(), Program::TimeoutRule{});
    for (int i = 0; i < spec_.timeouts_size(); ++i) {
      const pb::Timeout& t = spec_.timeouts(i);
      std::string element = absl::StrCat("timeouts[", i, "]");
      auto stage = m_->stage_by_name_.find(t.stage());
      if (stage == m_->stage_by_name_.end()) {
        return Error(element, absl::StrCat("unknown stage ", Quote(t.stage())));
      }
      absl::StrAppend(&element, " (stage ", Quote(t.stage()), ")");
      const StageInfo& info = m_->stages_[stage->second];
      if (!info.stall_limit_seconds) {
        return Error(element, "timeout on a stage without a stall limit: set "
                              "the stage's stall_limit_seconds");
      }
      Program::TimeoutRule& rule = prog_->timeouts[stage->second];
      if (rule.after_seconds != 0) {
        return Error(element, "the stage has a timeout already");
      }
      rule.after_seconds = *info.stall_limit_seconds;
      if (t.has_after_seconds()) {
        if (t.after_seconds() <= 0) {
          return Error(element, absl::StrCat("after_seconds ", t.after_seconds(),
                                             " is not positive"));
        }
        rule.after_seconds = t.after_seconds();
      }
      switch (t.action_case()) {
        case pb::Timeout::kFireEvent: {
          auto event = m_->event_by_name_.find(t.fire_event());
          if (event == m_->event_by_name_.end()) {
            return Error(element, absl::StrCat("unknown event ",
                                               Quote(t.fire_event())));
          }
          if (candidates_[stage->second * (m_->events_.size() + 1) +
                          event->second]
                  .empty()) {
            return Error(element,
                         absl::StrCat("no transition leaves the stage on ",
                                      Quote(t.fire_event()),
                                      ": the timeout could never move a deal"));
          }
          rule.fire_event = event->second;
          break;
        }
        case pb::Timeout::kEnterStage: {
          auto target = m_->stage_by_name_.find(t.enter_stage());
          if (target == m_->stage_by_name_.end()) {
            return Error(element, absl::StrCat("unknown stage ",
                                               Quote(t.enter_stage())));
          }
          rule.enter_stage = target->second;
          break;
        }
        case pb::Timeout::ACTION_NOT_SET:
          return Error(element, "no action: set fire_event or enter_stage");
      }
      m_->has_timeouts_ = true;
    }
    return absl::OkStatus();
  }

  // Every stage must be reachable from an entry stage, by events, moves by
  // stage or timeouts.
  absl::Status CheckReachability() const {
    const size_t num_stages = m_->stages_.size();
    const size_t row = m_->events_.size() + 1;
    std::vector<bool> seen(num_stages, false);
    std::vector<StageId> queue;
    auto visit = [&](StageId s) {
      if (s != kNoStage && !seen[s]) {
        seen[s] = true;
        queue.push_back(s);
      }
    };
    for (StageId entry : m_->entry_stages_) visit(entry);
    while (!queue.empty()) {
      const StageId s = queue.back();
      queue.pop_back();
      for (size_t e = 0; e < row; ++e) {
        for (const PendingCandidate& c : candidates_[s * row + e]) visit(c.to);
      }
      visit(prog_->timeouts[s].enter_stage);
    }
    for (size_t s = 0; s < num_stages; ++s) {
      if (!seen[s]) {
        return Error(absl::StrCat("stages[", s, "] ", Quote(m_->stages_[s].id)),
                     absl::StrCat("unreachable from the ",
                                  m_->entry_stages_.size() > 1
                                      ? "entry stages"
                                      : "initial stage ",
                                  m_->entry_stages_.size() > 1
                                      ? ""
                                      : Quote(m_->stages_[m_->initial_stage_].id)));
      }
    }
    return absl::OkStatus();
  }

  // TransitionInfo is numbered as the candidates are, grouped by source
  // stage then event (moves by stage only last), so that a step's
  // `transition` names the same entry for direct, slow and move cells.
  void BuildTable() {
    const size_t num_stages = m_->stages_.size();
    const size_t num_events = m_->events_.size();
    // Rows are a power of two wide, so a cell is found by a shift and an
    // or (program.h); the unused cells of a row are never looked up.
    prog_->row_shift = 0;
    while ((size_t{1} << prog_->row_shift) < num_events) ++prog_->row_shift;
    const size_t row = size_t{1} << prog_->row_shift;
    prog_->cells.assign((num_stages + 1) * row, Program::kNoTransitionCell);
    prog_->cell_transition.assign(prog_->cells.size(), -1);
    std::fill(prog_->cells.begin() + num_stages * row, prog_->cells.end(),
              Program::kNoDealCell);
    for (size_t s = 0; s < num_stages; ++s) {
      for (size_t e = 0; e <= num_events; ++e) {
        const std::vector<PendingCandidate>& list =
            candidates_[s * (num_events + 1) + e];
        if (list.empty()) continue;
        const uint32_t first = static_cast<uint32_t>(prog_->candidates.size());
        for (const PendingCandidate& c : list) {
          const int32_t index = static_cast<int32_t>(m_->transitions_.size());
          m_->transitions_.push_back(TransitionInfo{
              static_cast<StageId>(s),
              e == num_events ? kNoEvent : static_cast<EventId>(e), c.to,
              c.spec_index, guard_text_[c.spec_index],
              spec_.transitions(c.spec_index).new_cycle()});
          prog_->candidates.push_back(Program::Candidate{c.to, index, c.guard});
          if (c.to == kNoStage) m_->has_activities_ = true;
        }
        if (e == num_events) continue;  // no cell: only moves by stage
        // Only an unguarded move into a stage that requires nothing can be
        // decided from the cell alone: the batch hot loop takes it without
        // reading the deal's attributes. Everything else (guards, required
        // attributes, activities) goes the slow way.
        const size_t cell = (s << prog_->row_shift) | e;
        const PendingCandidate& only = list.front();
        if (list.size() == 1 && only.guard < 0 && only.to != kNoStage &&
            m_->stages_[only.to].required_attributes.empty() &&
            !MoveKeepsMore(static_cast<StageId>(s), only.to,
                           spec_.transitions(only.spec_index).new_cycle())) {
          prog_->cells[cell] = only.to;
          prog_->cell_transition[cell] = static_cast<int32_t>(first);
        } else {
          prog_->cells[cell] = Program::kSlowCell |
                             static_cast<uint32_t>(prog_->slow_cells.size());
          prog_->slow_cells.push_back(Program::SlowCell{
              first, static_cast<uint32_t>(list.size())});
        }
      }
    }
    BuildMoveCells();
  }

  // Moves by stage: for each (from, to) pair, every transition between the
  // two, by any event or none, in declaration order.
  void BuildMoveCells() {
    std::vector<int32_t> order;
    for (size_t i = 0; i < m_->transitions_.size(); ++i) {
      if (m_->transitions_[i].to != kNoStage) {
        order.push_back(static_cast<int32_t>(i));
      }
    }
    const auto& t = m_->transitions_;
    // A total order: a spec entry covers a (from, to) pair at most once.
    std::sort(order.begin(), order.end(), [&t](int32_t a, int32_t b) {
      if (t[a].from != t[b].from) return t[a].from < t[b].from;
      if (t[a].to != t[b].to) return t[a].to < t[b].to;
      return t[a].spec_index < t[b].spec_index;
    });
    for (size_t i = 0; i < order.size();) {
      const TransitionInfo& head = t[order[i]];
      const uint32_t first =
          static_cast<uint32_t>(prog_->move_candidates.size());
      for (; i < order.size() && t[order[i]].from == head.from &&
             t[order[i]].to == head.to;
           ++i) {
        prog_->move_candidates.push_back(Program::Candidate{
            head.to, order[i], prog_->candidates[order[i]].guard});
      }
      prog_->move_cells.emplace(
          Program::MoveKey(head.from, head.to),
          Program::SlowCell{first, static_cast<uint32_t>(
                                       prog_->move_candidates.size() - first)});
    }
    const size_t n = m_->stages_.size();
    if (n <= Program::kDenseMoveStages) {
      prog_->dense_stride = static_cast<uint32_t>(n);
      prog_->dense_moves.assign(n * n, Program::SlowCell{0, 0});
      for (const auto& [key, cell] : prog_->move_cells) {
        prog_->dense_moves[(key >> 16) * n + (key & 0xFFFF)] = cell;
      }
    }
  }

  std::string SpecText() const {
    std::string text;
    google::protobuf::TextFormat::PrintToString(spec_, &text);
    return text;
  }

  // Everything that changes behaviour or analytics, in one fixed layout.
  std::string CanonicalText() const {
    std::string out = "salescycle-canonical-1\n";
    for (const StageInfo& s : m_->stages_) {
      absl::StrAppend(&out, "stage ", Quote(s.id), " ", StageKindName(s.kind),
                      " p=", s.win_probability, " group=", Quote(s.group),
                      " limit=",
                      s.stall_limit_seconds ? *s.stall_limit_seconds : 0,
                      " requires=");
      for (AttributeId a : s.required_attributes) {
        absl::StrAppend(&out, Quote(m_->attributes_[a].name), ",");
      }
      // Written only when set, so that a machine that uses none of them
      // keeps the fingerprint it had before they existed.
      if (s.stall_clock == StallClock::kLastActivity) out.append(" clock=activity");
      if (s.reason_attribute != kNoAttribute) {
        absl::StrAppend(&out, " reason=",
                        Quote(m_->attributes_[s.reason_attribute].name));
      }
      if (s.reason_from_event) out.append(" reason=event");
      if (s.reopenable) out.append(" reopenable");
      if (s.side) out.append(" side");
      out.append("\n");
    }
    for (const EventInfo& e : m_->events_) {
      absl::StrAppend(&out, "event ", Quote(e.id), "\n");
    }
    for (size_t i = 0; i < m_->attributes_.size(); ++i) {
      const AttributeInfo& a = m_->attributes_[i];
      const uint16_t slot = prog_->attribute_slot[i];
      absl::StrAppend(&out, "attribute ", Quote(a.name), " ",
                      AttributeTypeName(a.type), " default=",
                      a.type == AttributeType::kString
                          ? Quote(prog_->string_defaults[slot])
                          : absl::StrCat(prog_->scalar_defaults[slot]),
                      "\n");
    }
    absl::StrAppend(&out, "initial ", m_->initial_stage_, "\n");
    if (m_->entry_stages_.size() > 1) {
      absl::StrAppend(&out, "entry ", absl::StrJoin(m_->entry_stages_, ","),
                      "\n");
    }
    for (const TransitionInfo& t : m_->transitions_) {
      absl::StrAppend(&out, "transition ", t.from, " ", t.event, " ", t.to,
                      " guard=", Quote(t.guard), t.new_cycle ? " new_cycle" : "",
                      "\n");
    }
    for (size_t s = 0; s < prog_->timeouts.size(); ++s) {
      const Program::TimeoutRule& r = prog_->timeouts[s];
      if (r.after_seconds == 0) continue;
      absl::StrAppend(&out, "timeout ", s, " after=", r.after_seconds,
                      " event=", r.fire_event, " enter=", r.enter_stage, "\n");
    }
    return out;
  }

  const pb::MachineSpec& spec_;
  const CompileOptions& options_;
  const std::string source_;
  std::unique_ptr<Machine> m_;
  Program* prog_ = nullptr;  // m_'s, being built
  // Candidates per (stage, event) cell, in declaration order.
  std::vector<std::vector<PendingCandidate>> candidates_;
  std::vector<std::string> guard_text_;  // per spec transition
};

namespace {

std::string SourceName(const CompileOptions& options,
                       absl::string_view fallback) {
  return options.source_name.empty() ? std::string(fallback)
                                     : options.source_name;
}

absl::Status CheckSpecSize(size_t bytes, const CompileOptions& options,
                           absl::string_view source) {
  if (bytes <= options.limits.max_spec_bytes) return absl::OkStatus();
  return LimitError(source, absl::StrCat("the spec is ", bytes, " bytes"),
                    "max_spec_bytes", options.limits.max_spec_bytes);
}

}  // namespace
}  // namespace internal

Machine::Machine() = default;
Machine::~Machine() = default;

absl::StatusOr<std::shared_ptr<const Machine>> Machine::FromTextProto(
    absl::string_view text, const CompileOptions& options) {
  const std::string source = internal::SourceName(options, "<text>");
  SC_RETURN_IF_ERROR(internal::CheckSpecSize(text.size(), options, source));
  v1::MachineSpec spec;
  SC_RETURN_IF_ERROR(internal::ParseTextProto(text, source, &spec));
  return internal::MachineCompiler(spec, options, source).Compile();
}

absl::StatusOr<std::shared_ptr<const Machine>> Machine::FromJson(
    absl::string_view json, const CompileOptions& options) {
  const std::string source = internal::SourceName(options, "<json>");
  SC_RETURN_IF_ERROR(internal::CheckSpecSize(json.size(), options, source));
  v1::MachineSpec spec;
  SC_RETURN_IF_ERROR(internal::ParseJson(json, source, &spec));
  return internal::MachineCompiler(spec, options, source).Compile();
}

absl::StatusOr<std::shared_ptr<const Machine>> Machine::FromFile(
    const std::string& path, const CompileOptions& options) {
  SC_ASSIGN_OR_RETURN(std::string contents,
                      internal::ReadFile(path, options.limits.max_spec_bytes));
  CompileOptions named = options;
  if (named.source_name.empty()) named.source_name = path;
  if (absl::EndsWith(path, ".json")) return FromJson(contents, named);
  return FromTextProto(contents, named);
}

std::string Machine::SpecJson() const {
  v1::MachineSpec spec;
  // spec_text_ is what the compiler printed from a spec it accepted.
  google::protobuf::TextFormat::ParseFromString(spec_text_, &spec);
  for (int i = 0; i < spec.stages_size(); ++i) {
    v1::Stage* out = spec.mutable_stages(i);
    const StageInfo& info = stages_[i];
    out->set_display_name(info.display_name);
    out->set_kind(info.kind == StageKind::kWon    ? v1::Stage::WON
                  : info.kind == StageKind::kLost ? v1::Stage::LOST
                                                  : v1::Stage::OPEN);
    out->set_win_probability(static_cast<uint32_t>(info.win_probability));
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Cannot fail: a valid message, and no Any fields to resolve.
  (void)google::protobuf::util::MessageToJsonString(spec, &json, options);
  return json;
}

std::vector<EventId> Machine::EventsLeaving(StageId stage) const {
  std::vector<EventId> out;
  if (stage >= stages_.size()) return out;
  for (size_t e = 0; e < events_.size(); ++e) {
    if (internal::Core::Lookup(*this, stage, static_cast<EventId>(e)) !=
        internal::Program::kNoTransitionCell) {
      out.push_back(static_cast<EventId>(e));
    }
  }
  return out;
}

std::optional<TimeoutInfo> Machine::timeout(StageId stage) const {
  const auto& timeouts = program_->timeouts;
  if (stage >= timeouts.size() || timeouts[stage].after_seconds == 0) {
    return std::nullopt;
  }
  const internal::Program::TimeoutRule& r = timeouts[stage];
  return TimeoutInfo{stage, r.after_seconds, r.fire_event, r.enter_stage};
}

namespace {
template <typename Id>
absl::StatusOr<Id> FindIn(const absl::flat_hash_map<std::string, Id>& map,
                          absl::string_view what, absl::string_view name,
                          const Machine& m) {
  auto it = map.find(name);
  if (it == map.end()) {
    return absl::NotFoundError(absl::StrCat("machine \"", m.name(), "\" v",
                                            m.version(), " has no ", what,
                                            " \"", absl::CEscape(name), "\""));
  }
  return it->second;
}
}  // namespace

absl::StatusOr<StageId> Machine::FindStage(absl::string_view id) const {
  return FindIn(stage_by_name_, "stage", id, *this);
}
absl::StatusOr<EventId> Machine::FindEvent(absl::string_view id) const {
  return FindIn(event_by_name_, "event", id, *this);
}
absl::StatusOr<AttributeId> Machine::FindAttribute(
    absl::string_view name) const {
  return FindIn(attribute_by_name_, "attribute", name, *this);
}

bool Machine::IsEntryStage(StageId stage) const {
  return std::find(entry_stages_.begin(), entry_stages_.end(), stage) !=
         entry_stages_.end();
}

StepResult Machine::StepTo(StageId from, StageId to, Timestamp time,
                           const AttributeReader& attributes) const {
  if (from >= stages_.size() || to >= stages_.size()) {
    StepResult r = internal::Core::Start(from, kNoEvent, time);
    r.target = to;
    r.outcome = Outcome::kNoTransition;
    return r;
  }
  return internal::Core::DecideMove(*this, from, to, time, attributes);
}

StepResult Machine::Step(StageId from, EventId event, Timestamp time,
                         const AttributeReader& attributes) const {
  if (from >= stages_.size() || event >= events_.size()) {
    StepResult r = internal::Core::Start(from, event, time);
    r.outcome = Outcome::kNoTransition;
    return r;
  }
  return internal::Core::Decide(*this, from, event, time, attributes);
}

absl::Status Machine::ExplainRejection(const StepResult& step) const {
  if (step.accepted()) return absl::OkStatus();
  auto stage_name = [&](StageId s) {
    return s < stages_.size() ? internal::Quote(stages_[s].id)
                              : absl::StrCat("#", s);
  };
  std::string what;
  if (step.target != kNoStage) {
    what = absl::StrCat("move from stage ", stage_name(step.from),
                        " to stage ", stage_name(step.target), " rejected");
  } else if (step.event == kNoEvent) {
    what = absl::StrCat("timeout of stage ", stage_name(step.from));
  } else {
    what = absl::StrCat("event ",
                        step.event < events_.size()
                            ? internal::Quote(events_[step.event].id)
                            : absl::StrCat("#", step.event),
                        step.by_timeout ? " (fired by timeout)" : "",
                        " rejected in stage ", stage_name(step.from));
  }
  const bool has_transition =
      step.transition >= 0 &&
      static_cast<size_t>(step.transition) < transitions_.size();
  switch (step.outcome) {
    case Outcome::kNoTransition:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": no transition"));
    case Outcome::kGuardFailed:
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": guard failed",
          has_transition ? absl::StrCat(": ", transitions_[step.transition].guard)
                         : ""));
    case Outcome::kMissingAttribute:
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": target stage requires attribute ",
          step.missing_attribute < attributes_.size()
              ? internal::Quote(attributes_[step.missing_attribute].name)
              : "?",
          ", which is not set"));
    case Outcome::kNoDeal:
      return absl::FailedPreconditionError(
          absl::StrCat("deal ", step.deal, " was removed"));
    case Outcome::kNotReopenable:
      return absl::FailedPreconditionError(absl::StrCat(
          "reopen rejected in stage ", stage_name(step.from),
          step.from < stages_.size() && !stages_[step.from].closed()
              ? ": the deal is not closed"
              : ": the stage is not reopenable"));
    case Outcome::kMoved:
    case Outcome::kActivity:
      break;
  }
  return absl::OkStatus();
}

}  // namespace salescycle
