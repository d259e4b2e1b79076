#include "salescycle/render.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "src/thousands.h"

namespace salescycle {
namespace {

// "30d", "12h", "45m", "90s": the largest whole unit.
std::string Delay(int64_t seconds) {
  if (seconds % 86400 == 0) return absl::StrCat(seconds / 86400, "d");
  if (seconds % 3600 == 0) return absl::StrCat(seconds / 3600, "h");
  if (seconds % 60 == 0) return absl::StrCat(seconds / 60, "m");
  return absl::StrCat(seconds, "s");
}

// A DOT string: quotes and backslashes escaped, line breaks as \n.
std::string DotQuote(absl::string_view s) {
  return absl::StrCat(
      "\"",
      absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
      "\"");
}

// Mermaid labels cannot hold some characters; these read the same.
std::string MermaidText(absl::string_view s) {
  return absl::StrReplaceAll(
      s, {{"\"", "'"}, {":", " "}, {";", ","}, {"{", "("}, {"}", ")"}, {"\n", " "}});
}

// The activity events of each stage ("call, email"), for its label: a loop
// per activity and stage would bury the moves under them.
std::vector<std::string> ActivitiesByStage(const Machine& m) {
  std::vector<std::string> out(static_cast<size_t>(m.num_stages()));
  for (const TransitionInfo& t : m.transitions()) {
    if (t.to != kNoStage) continue;
    std::string& list = out[t.from];
    absl::StrAppend(&list, list.empty() ? "" : ", ", m.event(t.event).id);
  }
  return out;
}

// An edge's label: the event ("" for a move by stage only), then the guard
// in brackets after `separator`.
std::string EdgeLabel(const Machine& m, const TransitionInfo& t,
                      absl::string_view separator) {
  std::string label = t.event == kNoEvent ? "" : m.event(t.event).id;
  if (!t.guard.empty()) {
    absl::StrAppend(&label, label.empty() ? "" : separator, "[", t.guard, "]");
  }
  return label;
}

// How the moves are drawn. A spec entry that leaves from many stages
// ("from any open stage to any other", "lose from any open stage") would
// bury the picture under its edges (56 for a 10-stage CRM pipeline): the
// stages it leaves from are drawn as one group instead, with a note for
// the moves by stage inside it and one edge from it to each stage outside,
// a rule drawn once.
struct Layout {
  struct GroupEdge {
    StageId to;
    EventId event;  // kNoEvent: by stage
  };
  std::vector<bool> grouped;        // by stage: in the group
  bool group_forward_only = true;   // every move inside goes forward
  bool group_moves_inside = false;
  std::vector<GroupEdge> group_edges;  // by target, then event
  // By transition index: drawn as an edge of its own.
  std::vector<bool> own_edge;
};

// The stages each spec entry leaves from, for entries that move deals.
absl::flat_hash_map<int, std::vector<StageId>> SourcesByEntry(const Machine& m) {
  absl::flat_hash_map<int, std::vector<StageId>> sources;
  for (const TransitionInfo& t : m.transitions()) {
    if (t.to == kNoStage) continue;
    std::vector<StageId>& list = sources[t.spec_index];
    if (list.empty() || list.back() != t.from) list.push_back(t.from);
  }
  for (auto& [entry, list] : sources) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return sources;
}

Layout LayOut(const Machine& m) {
  // Fewer sources than this are drawn edge by edge.
  constexpr size_t kGroupAt = 4;
  const auto& ts = m.transitions();
  Layout l;
  l.grouped.assign(static_cast<size_t>(m.num_stages()), false);
  l.own_edge.assign(ts.size(), false);
  const auto sources = SourcesByEntry(m);
  // The group: the widest entry's sources (the first declared, on a tie).
  const std::vector<StageId>* group = nullptr;
  int group_entry = -1;
  for (const auto& [entry, list] : sources) {
    if (list.size() < kGroupAt) continue;
    if (group == nullptr || list.size() > group->size() ||
        (list.size() == group->size() && entry < group_entry)) {
      group = &list;
      group_entry = entry;
    }
  }
  if (group != nullptr) {
    for (StageId s : *group) l.grouped[s] = true;
  }
  // An entry is drawn from the group when every edge it would draw is
  // true of every stage in the group: it leaves from exactly the group and,
  // for an event, goes only outside it; or it is a move by stage between
  // the group's stages only, leaving from some of them (forward moves: the
  // last stage has none to make), which the group's note says.
  absl::flat_hash_map<int, bool> from_group;
  if (group != nullptr) {
    absl::flat_hash_map<int, bool> inside_only;  // by stage, targets in group
    for (const TransitionInfo& t : ts) {
      if (t.to == kNoStage) continue;
      auto [it, added] = inside_only.try_emplace(t.spec_index, true);
      it->second &= t.event == kNoEvent && l.grouped[t.to];
    }
    for (const TransitionInfo& t : ts) {
      if (t.to == kNoStage) continue;
      const std::vector<StageId>& from = sources.at(t.spec_index);
      const bool subset = std::all_of(from.begin(), from.end(),
                                      [&](StageId s) { return l.grouped[s]; });
      auto [it, added] = from_group.try_emplace(
          t.spec_index,
          from == *group || (subset && inside_only.at(t.spec_index)));
      if (t.event != kNoEvent && l.grouped[t.to]) it->second = false;
    }
  }
  absl::flat_hash_set<uint32_t> event_pairs;  // (from, to) with an event
  for (const TransitionInfo& t : ts) {
    if (t.to != kNoStage && t.event != kNoEvent) {
      event_pairs.insert((uint32_t{t.from} << 16) | t.to);
    }
  }
  std::vector<std::pair<StageId, EventId>> edges;
  for (size_t i = 0; i < ts.size(); ++i) {
    const TransitionInfo& t = ts[i];
    if (t.to == kNoStage) continue;
    const auto grouped = from_group.find(t.spec_index);
    if (grouped == from_group.end() || !grouped->second) {
      // A move by stage between stages an event already joins adds nothing.
      l.own_edge[i] = t.event != kNoEvent ||
                      !event_pairs.contains((uint32_t{t.from} << 16) | t.to);
    } else if (l.grouped[t.to]) {
      l.group_moves_inside = true;
      l.group_forward_only &= t.from < t.to;
    } else {
      edges.emplace_back(t.to, t.event);
    }
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  for (const auto& [to, event] : edges) l.group_edges.push_back({to, event});
  return l;
}

// The group's label: what its edges mean, and the moves inside it.
std::string GroupNote(const Layout& l) {
  if (!l.group_moves_inside) return "an edge from this box leaves from every stage in it";
  return l.group_forward_only
             ? "moves by stage to any later stage of the group"
             : "moves by stage between any two stages of the group";
}

}  // namespace

namespace {

// The stages as nodes; the free-movement group's in a cluster.
void DotStages(const Machine& m, const Layout& layout, std::string* out) {
  const std::vector<std::string> activities = ActivitiesByStage(m);
  bool grouping = false;
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageInfo& s = m.stage(static_cast<StageId>(i));
    if (layout.grouped[i] != grouping) {
      grouping = layout.grouped[i];
      absl::StrAppend(
          out, grouping ? absl::StrCat("  subgraph cluster_free {\n    style=dashed; label=",
                                       DotQuote(GroupNote(layout)),
                                       "; fontname=\"Helvetica\"; fontsize=10;\n")
                        : "  }\n");
    }
    std::string style;
    if (s.kind == StageKind::kWon) {
      style = ", shape=doubleoctagon, fillcolor=\"#d8f3dc\"";
    } else if (s.kind == StageKind::kLost) {
      style = ", shape=octagon, fillcolor=\"#fde2e1\"";
    }
    std::string label = absl::StrCat(s.display_name, "\n", s.win_probability, "%");
    if (!activities[i].empty()) absl::StrAppend(&label, "\n(", activities[i], ")");
    absl::StrAppend(out, "  ", DotQuote(s.id), " [label=", DotQuote(label), style,
                    "];\n");
  }
  if (grouping) absl::StrAppend(out, "  }\n");
}

// The moves: from the group, one dotted edge to each stage outside it;
// then each move of its own, dotted for moves by stage only, bold for one
// that starts a new cycle.
void DotMoves(const Machine& m, const Layout& layout, std::string* out) {
  StageId first_grouped = kNoStage;
  for (size_t i = 0; i < layout.grouped.size() && first_grouped == kNoStage; ++i) {
    if (layout.grouped[i]) first_grouped = static_cast<StageId>(i);
  }
  for (const Layout::GroupEdge& e : layout.group_edges) {
    absl::StrAppend(out, "  ", DotQuote(m.stage(first_grouped).id), " -> ",
                    DotQuote(m.stage(e.to).id), " [ltail=cluster_free, ",
                    e.event == kNoEvent
                        ? std::string("style=dotted, label=\"by stage\"")
                        : absl::StrCat("label=", DotQuote(m.event(e.event).id)),
                    "];\n");
  }
  const auto& transitions = m.transitions();
  for (size_t i = 0; i < transitions.size(); ++i) {
    const TransitionInfo& t = transitions[i];
    if (!layout.own_edge[i]) continue;
    std::string attrs = absl::StrCat("label=", DotQuote(EdgeLabel(m, t, "\n")));
    if (t.event == kNoEvent || t.new_cycle) {
      absl::StrAppend(&attrs, ", style=\"",
                      t.event == kNoEvent ? (t.new_cycle ? "dotted,bold" : "dotted")
                                          : "bold",
                      "\"");
    }
    absl::StrAppend(out, "  ", DotQuote(m.stage(t.from).id), " -> ",
                    DotQuote(m.stage(t.to).id), " [", attrs, "];\n");
  }
}

void DotTimeouts(const Machine& m, std::string* out) {
  for (int i = 0; i < m.num_stages(); ++i) {
    const auto timeout = m.timeout(static_cast<StageId>(i));
    if (!timeout) continue;
    const std::string delay = absl::StrCat("after ", Delay(timeout->after_seconds));
    if (timeout->enter_stage != kNoStage) {
      absl::StrAppend(out, "  ", DotQuote(m.stage(timeout->stage).id), " -> ",
                      DotQuote(m.stage(timeout->enter_stage).id),
                      " [style=dashed, label=", DotQuote(delay), "];\n");
    } else {
      // A timeout that fires an event goes where that event's transitions go.
      absl::StrAppend(out, "  ", DotQuote(m.stage(timeout->stage).id), " -> ",
                      DotQuote(m.stage(timeout->stage).id),
                      " [style=dashed, label=",
                      DotQuote(absl::StrCat(delay, ": ", m.event(timeout->fire_event).id)),
                      "];\n");
    }
  }
}

}  // namespace

std::string MachineToDot(const Machine& m) {
  std::string out = absl::StrCat("digraph ", DotQuote(m.name()), " {\n",
                                 "  rankdir=LR; compound=true;\n",
                                 "  node [shape=box, style=\"rounded,filled\", "
                                 "fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n",
                                 "  edge [fontname=\"Helvetica\", fontsize=10];\n",
                                 "  __start [shape=point, width=0.15];\n");
  // Deals start in the initial stage, or are created in another entry stage.
  for (StageId entry : m.entry_stages()) {
    absl::StrAppend(&out, "  __start -> ", DotQuote(m.stage(entry).id),
                    entry == m.initial_stage() ? "" : " [style=dashed]", ";\n");
  }
  const Layout layout = LayOut(m);
  DotStages(m, layout, &out);
  DotMoves(m, layout, &out);
  DotTimeouts(m, &out);
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string MachineToMermaid(const Machine& m) {
  // Stages are named s0, s1...: Mermaid ids cannot hold every character a
  // stage id may.
  auto id = [](StageId s) { return absl::StrCat("s", s); };
  std::string out = "stateDiagram-v2\n";
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageInfo& s = m.stage(static_cast<StageId>(i));
    absl::StrAppend(&out, "  state \"", MermaidText(s.display_name), " (",
                    s.win_probability, "%)\" as ", id(static_cast<StageId>(i)), "\n");
  }
  for (StageId entry : m.entry_stages()) {
    absl::StrAppend(&out, "  [*] --> ", id(entry), "\n");
  }
  const Layout layout = LayOut(m);
  const auto& transitions = m.transitions();
  for (size_t i = 0; i < transitions.size(); ++i) {
    const TransitionInfo& t = transitions[i];
    if (!layout.own_edge[i]) continue;
    const std::string label = EdgeLabel(m, t, " ");
    absl::StrAppend(&out, "  ", id(t.from), " --> ", id(t.to),
                    label.empty() ? "" : absl::StrCat(": ", MermaidText(label)),
                    "\n");
  }
  // The free-movement group, as a note on each of its stages.
  std::string targets;
  for (const Layout::GroupEdge& e : layout.group_edges) {
    absl::StrAppend(&targets, targets.empty() ? "" : ", ", m.stage(e.to).display_name,
                    e.event == kNoEvent ? "" : absl::StrCat(" (", m.event(e.event).id, ")"));
  }
  const std::vector<std::string> activities = ActivitiesByStage(m);
  for (int i = 0; i < m.num_stages(); ++i) {
    std::string note;
    if (layout.grouped[i]) {
      if (layout.group_moves_inside) {
        note = layout.group_forward_only ? "moves by stage to any later open stage"
                                         : "moves by stage to any other open stage";
      }
      if (!targets.empty()) {
        absl::StrAppend(&note, note.empty() ? "moves to " : " and to ", targets);
      }
    }
    if (!activities[i].empty()) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", "activities ", activities[i]);
    }
    if (note.empty()) continue;
    absl::StrAppend(&out, "  note right of ", id(static_cast<StageId>(i)), " : ",
                    MermaidText(note), "\n");
  }
  for (int i = 0; i < m.num_stages(); ++i) {
    const auto timeout = m.timeout(static_cast<StageId>(i));
    if (!timeout) continue;
    const StageId to =
        timeout->enter_stage != kNoStage ? timeout->enter_stage : timeout->stage;
    std::string label = absl::StrCat("after ", Delay(timeout->after_seconds));
    if (timeout->fire_event != kNoEvent) {
      absl::StrAppend(&label, " ", m.event(timeout->fire_event).id);
    }
    absl::StrAppend(&out, "  ", id(timeout->stage), " --> ", id(to), ": ",
                    MermaidText(label), "\n");
  }
  absl::StrAppend(&out, "  classDef won fill:#d8f3dc\n  classDef lost fill:#fde2e1\n");
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageKind kind = m.stage(static_cast<StageId>(i)).kind;
    if (kind != StageKind::kOpen) {
      absl::StrAppend(&out, "  class ", id(static_cast<StageId>(i)), " ",
                      kind == StageKind::kWon ? "won" : "lost", "\n");
    }
  }
  return out;
}

namespace {

// Each stage's position on the funnel line (funnel.h), or -1 off it.
std::vector<int> LinePositions(const std::vector<StageFunnel>& stages) {
  std::vector<int> position(stages.size(), -1);
  int next = 0;
  for (StageKind kind : {StageKind::kOpen, StageKind::kWon}) {
    for (size_t s = 0; s < stages.size(); ++s) {
      if (stages[s].kind == kind && !stages[s].side) position[s] = next++;
    }
  }
  return position;
}

std::string FlowNode(const StageFunnel& s) {
  const char* fill = s.kind == StageKind::kWon    ? "#d8f3dc"
                     : s.kind == StageKind::kLost ? "#fde2e1"
                     : s.side                     ? "#e9ecef"
                                                  : "#edf2fb";
  return absl::StrCat("  ", DotQuote(s.id), " [label=",
                      DotQuote(absl::StrCat(s.display_name, "\n", internal::Thousands(s.now), " now")),
                      ", fillcolor=\"", fill, "\"", s.side ? ", style=\"rounded,filled,dashed\"" : "",
                      "];\n");
}

}  // namespace

std::string FunnelFlowToDot(const FunnelReport& report) {
  const FunnelFigures& f = report.total;
  std::string out = absl::StrCat(
      "digraph ", DotQuote(absl::StrCat(report.machine, " flow")), " {\n",
      "  rankdir=LR;\n  label=", DotQuote(absl::StrCat(report.machine, " v", report.version,
                                                       ": moves between stages")),
      "; labelloc=t; fontname=\"Helvetica\";\n",
      "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
      "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  for (const StageFunnel& s : f.stages) absl::StrAppend(&out, FlowNode(s));
  const std::vector<int> position = LinePositions(f.stages);
  uint64_t busiest = 1;
  for (const FlowCount& c : f.flow) busiest = std::max(busiest, c.moves);
  for (const FlowCount& c : f.flow) {
    const StageFunnel& from = f.stages[c.from];
    const StageFunnel& to = f.stages[c.to];
    const char* colour = to.kind == StageKind::kLost                      ? "#d62828"
                         : position[c.to] < 0 || position[c.from] < 0     ? "#868e96"
                         : position[c.to] > position[c.from]              ? "#1d70b8"
                                                                          : "#f08c00";
    absl::StrAppendFormat(&out, "  %s -> %s [label=\"%s\", color=\"%s\", penwidth=%.1f];\n",
                          DotQuote(from.id), DotQuote(to.id), internal::Thousands(c.moves), colour,
                          1.0 + 7.0 * static_cast<double>(c.moves) / static_cast<double>(busiest));
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace salescycle
