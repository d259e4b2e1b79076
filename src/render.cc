#include "salescycle/render.h"

#include <string>

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

}  // namespace

std::string MachineToDot(const Machine& m) {
  std::string out = absl::StrCat("digraph ", DotQuote(m.name()), " {\n",
                                 "  rankdir=LR;\n",
                                 "  node [shape=box, style=\"rounded,filled\", "
                                 "fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n",
                                 "  edge [fontname=\"Helvetica\", fontsize=10];\n",
                                 "  __start [shape=point, width=0.15];\n",
                                 "  __start -> ", DotQuote(m.stage(m.initial_stage()).id),
                                 ";\n");
  for (int i = 0; i < m.num_stages(); ++i) {
    const StageInfo& s = m.stage(static_cast<StageId>(i));
    std::string style;
    if (s.kind == StageKind::kWon) {
      style = ", shape=doubleoctagon, fillcolor=\"#d8f3dc\"";
    } else if (s.kind == StageKind::kLost) {
      style = ", shape=octagon, fillcolor=\"#fde2e1\"";
    }
    absl::StrAppend(&out, "  ", DotQuote(s.id), " [label=",
                    DotQuote(absl::StrCat(s.display_name, "\n", s.win_probability, "%")),
                    style, "];\n");
  }
  for (const TransitionInfo& t : m.transitions()) {
    std::string label = m.event(t.event).id;
    if (!t.guard.empty()) absl::StrAppend(&label, "\n[", t.guard, "]");
    absl::StrAppend(&out, "  ", DotQuote(m.stage(t.from).id), " -> ",
                    DotQuote(m.stage(t.to).id), " [label=", DotQuote(label), "];\n");
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
  absl::StrAppend(&out, "  [*] --> ", id(m.initial_stage()), "\n");
  for (const TransitionInfo& t : m.transitions()) {
    std::string label = m.event(t.event).id;
    if (!t.guard.empty()) absl::StrAppend(&label, " [", t.guard, "]");
    absl::StrAppend(&out, "  ", id(t.from), " --> ", id(t.to), ": ",
                    MermaidText(label), "\n");
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
