#include "salescycle/render.h"

#include <string>
#include <vector>

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

// Whether an earlier transition already draws the edge from -> to with an
// event: a move by stage between the same stages adds nothing to see.
bool DrawnByAnEvent(const Machine& m, const TransitionInfo& t) {
  if (t.event != kNoEvent) return false;
  for (const TransitionInfo& other : m.transitions()) {
    if (other.from == t.from && other.to == t.to && other.event != kNoEvent) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string MachineToDot(const Machine& m) {
  std::string out = absl::StrCat("digraph ", DotQuote(m.name()), " {\n",
                                 "  rankdir=LR;\n",
                                 "  node [shape=box, style=\"rounded,filled\", "
                                 "fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n",
                                 "  edge [fontname=\"Helvetica\", fontsize=10];\n",
                                 "  __start [shape=point, width=0.15];\n");
  // Deals start in the initial stage, or are created in another entry stage.
  for (StageId entry : m.entry_stages()) {
    absl::StrAppend(&out, "  __start -> ", DotQuote(m.stage(entry).id),
                    entry == m.initial_stage() ? "" : " [style=dashed]", ";\n");
  }
  const std::vector<std::string> activities = ActivitiesByStage(m);
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageInfo& s = m.stage(static_cast<StageId>(i));
    std::string style;
    if (s.kind == StageKind::kWon) {
      style = ", shape=doubleoctagon, fillcolor=\"#d8f3dc\"";
    } else if (s.kind == StageKind::kLost) {
      style = ", shape=octagon, fillcolor=\"#fde2e1\"";
    }
    std::string label = absl::StrCat(s.display_name, "\n", s.win_probability, "%");
    if (!activities[i].empty()) absl::StrAppend(&label, "\n(", activities[i], ")");
    absl::StrAppend(&out, "  ", DotQuote(s.id), " [label=", DotQuote(label), style,
                    "];\n");
  }
  // Moves by stage only are dotted and unlabelled; a move that starts a new
  // cycle is bold.
  for (const TransitionInfo& t : m.transitions()) {
    if (t.to == kNoStage || DrawnByAnEvent(m, t)) continue;
    std::string attrs = absl::StrCat("label=", DotQuote(EdgeLabel(m, t, "\n")));
    if (t.event == kNoEvent) absl::StrAppend(&attrs, ", style=dotted");
    if (t.new_cycle) absl::StrAppend(&attrs, ", style=bold");
    absl::StrAppend(&out, "  ", DotQuote(m.stage(t.from).id), " -> ",
                    DotQuote(m.stage(t.to).id), " [", attrs, "];\n");
  }
  for (int i = 0; i < m.num_stages(); ++i) {
    const auto timeout = m.timeout(static_cast<StageId>(i));
    if (!timeout) continue;
    const std::string delay = absl::StrCat("after ", Delay(timeout->after_seconds));
    if (timeout->enter_stage != kNoStage) {
      absl::StrAppend(&out, "  ", DotQuote(m.stage(timeout->stage).id), " -> ",
                      DotQuote(m.stage(timeout->enter_stage).id),
                      " [style=dashed, label=", DotQuote(delay), "];\n");
    } else {
      // A timeout that fires an event goes where that event's transitions go.
      absl::StrAppend(&out, "  ", DotQuote(m.stage(timeout->stage).id), " -> ",
                      DotQuote(m.stage(timeout->stage).id),
                      " [style=dashed, label=",
                      DotQuote(absl::StrCat(delay, ": ", m.event(timeout->fire_event).id)),
                      "];\n");
    }
  }
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
  for (const TransitionInfo& t : m.transitions()) {
    if (t.to == kNoStage || DrawnByAnEvent(m, t)) continue;
    const std::string label = EdgeLabel(m, t, " ");
    absl::StrAppend(&out, "  ", id(t.from), " --> ", id(t.to),
                    label.empty() ? "" : absl::StrCat(": ", MermaidText(label)),
                    "\n");
  }
  const std::vector<std::string> activities = ActivitiesByStage(m);
  for (int i = 0; i < m.num_stages(); ++i) {
    if (activities[i].empty()) continue;
    absl::StrAppend(&out, "  note right of ", id(static_cast<StageId>(i)),
                    " : activities ", MermaidText(activities[i]), "\n");
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
