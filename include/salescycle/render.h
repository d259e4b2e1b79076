// Pictures of a machine: Graphviz DOT and Mermaid state diagrams.
//
// Stages are nodes labelled with their display name and win probability;
// WON and LOST stages are drawn apart; transitions are edges labelled with
// their event and, when guarded, the guard; timeouts are dashed edges
// labelled with their delay. A transition from a group or from every open
// stage is drawn from each stage it covers. The output is deterministic.
//
// Thread safety: functions of a const Machine, safe from any thread.
#ifndef SALESCYCLE_RENDER_H_
#define SALESCYCLE_RENDER_H_

#include <string>

#include "salescycle/machine.h"

namespace salescycle {

// A `digraph` for Graphviz (`dot -Tsvg`).
std::string MachineToDot(const Machine& machine);

// A `stateDiagram-v2` for Mermaid (GitHub renders it in Markdown).
std::string MachineToMermaid(const Machine& machine);

}  // namespace salescycle

#endif  // SALESCYCLE_RENDER_H_
