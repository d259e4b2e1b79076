#include "salescycle/render.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

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

// How the moves are drawn. A spec entry that expands to more moves by stage
// than the machine has stages ("from any open stage to any other") would
// bury the picture under its edges (56 for a 10-stage CRM pipeline): its
// sources are drawn as one group instead, with a note for the moves inside
// it and one edge from it to each stage outside.
struct Layout {
  std::vector<bool> grouped;           // by stage: in the free-movement group
  bool group_forward_only = true;      // every move inside goes forward
  bool group_moves_inside = false;
  std::vector<StageId> group_targets;  // outside the group, in stage order
  // By transition index: drawn as an edge of its own.
  std::vector<bool> own_edge;
};

Layout LayOut(const Machine& m) {
  const auto& ts = m.transitions();
  Layout l;
  l.grouped.assign(static_cast<size_t>(m.num_stages()), false);
  l.own_edge.assign(ts.size(), false);
  absl::flat_hash_map<int, size_t> by_stage_moves;  // per spec entry
  absl::flat_hash_set<uint32_t> event_pairs;       // (from, to) with an event
  for (const TransitionInfo& t : ts) {
    if (t.to == kNoStage) continue;
    if (t.event == kNoEvent) {
      ++by_stage_moves[t.spec_index];
    } else {
      event_pairs.insert((uint32_t{t.from} << 16) | t.to);
    }
  }
  auto wide = [&](const TransitionInfo& t) {
    return t.event == kNoEvent &&
           by_stage_moves[t.spec_index] > static_cast<size_t>(m.num_stages());
  };
  for (const TransitionInfo& t : ts) {
    if (t.to != kNoStage && wide(t)) l.grouped[t.from] = true;
  }
  std::vector<bool> target(l.grouped.size(), false);
  for (size_t i = 0; i < ts.size(); ++i) {
    const TransitionInfo& t = ts[i];
    if (t.to == kNoStage) continue;
    if (!wide(t)) {
      // A move by stage between stages an event already joins adds nothing.
      l.own_edge[i] = t.event != kNoEvent ||
                      !event_pairs.contains((uint32_t{t.from} << 16) | t.to);
    } else if (l.grouped[t.to]) {
      l.group_moves_inside = true;
      l.group_forward_only &= t.from < t.to;
    } else {
      target[t.to] = true;
    }
  }
  for (size_t s = 0; s < target.size(); ++s) {
    if (target[s]) l.group_targets.push_back(static_cast<StageId>(s));
  }
  return l;
}

std::string GroupNote(const Layout& l) {
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
                                       DotQuote(layout.group_moves_inside
                                                    ? GroupNote(layout)
                                                    : ""),
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
  for (StageId to : layout.group_targets) {
    absl::StrAppend(out, "  ", DotQuote(m.stage(first_grouped).id), " -> ",
                    DotQuote(m.stage(to).id),
                    " [ltail=cluster_free, style=dotted, label=\"by stage\"];\n");
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
  for (StageId to : layout.group_targets) {
    absl::StrAppend(&targets, targets.empty() ? "" : ", ", m.stage(to).display_name);
  }
  const std::vector<std::string> activities = ActivitiesByStage(m);
  for (int i = 0; i < m.num_stages(); ++i) {
    std::string note;
    if (layout.grouped[i]) {
      note = layout.group_forward_only ? "moves by stage to any later open stage"
                                       : "moves by stage to any other open stage";
      if (!targets.empty()) absl::StrAppend(&note, " and to ", targets);
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

}  // namespace salescycle
