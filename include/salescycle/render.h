/// \file
/// Pictures of a machine: Graphviz DOT and Mermaid state diagrams; and of a
/// funnel report's flow.
///
/// Stages are nodes labelled with their display name and win probability;
/// WON and LOST stages are drawn apart; transitions are edges labelled with
/// their event and, when guarded, the guard; timeouts are dashed edges
/// labelled with their delay. A rule that leaves from many stages ("from
/// any open stage") is drawn once, from a dashed box around those stages.
/// The output is deterministic.
///
/// Thread safety: functions of a const Machine, safe from any thread.
#ifndef SALESCYCLE_RENDER_H_
#define SALESCYCLE_RENDER_H_

#include <string>

#include "salescycle/funnel.h"
#include "salescycle/machine.h"
#include "salescycle/visibility.h"

namespace salescycle {

/// A `digraph` for Graphviz (`dot -Tsvg`).
SC_API std::string MachineToDot(const Machine& machine);

/// A `stateDiagram-v2` for Mermaid (GitHub renders it in Markdown).
SC_API std::string MachineToMermaid(const Machine& machine);

/// The flow of a report's deals (FunnelFigures::flow) as a `digraph`: a
/// node a stage, with its live deals; an edge a pair deals moved between,
/// labelled with its moves and as thick as its share of the busiest pair;
/// moves to LOST red, forward on the funnel line blue, back on it orange,
/// and any other move (to a side stage, back onto the line from off it)
/// grey.
SC_API std::string FunnelFlowToDot(const FunnelReport& report);

}  // namespace salescycle

#endif  // SALESCYCLE_RENDER_H_
