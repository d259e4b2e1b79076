// `salescycle simulate`: a realistic stream of a sales team's rows for a
// machine, as an event file (or a stage-history export) that `replay` and
// `report` read.
//
// The model, per deal (every figure a default the command line can change):
// - Deals arrive uniformly over --days from --start. 15% are created in a
//   later entry stage than the initial one (a CRM lets a deal start
//   anywhere it allows), the rest in the initial stage.
// - A stay in a stage lasts a log-normal time: its median is the stage's
//   --delay (a third of its stall limit, or 7 days when it has none), with
//   a spread (sigma 0.9) that gives some stays four times the median and
//   most far less, as real dwell times are skewed.
// - During a stay, the deal records activities (calls, e-mails, meetings:
//   the machine's activity events from the stage), 2 on average.
// - At the end of a stay an open deal moves on with the stage's
//   --conversion, else it is lost. By default one rate for every stage,
//   calibrated on a pilot run so that --win-rate (0.22) of the closed
//   deals are won: guards, loops and timeouts make each machine need its
//   own. Moving on is to the next stage of
//   the funnel (the next OPEN or WON stage in declaration order that a
//   transition reaches), skipping one with --skip (0.1), or back to an
//   earlier one with --back (0.05). A guard that turns the move down sends
//   the salesperson to learn the deal's figures anew; turned down four
//   times, the deal is lost. Side stages (an abandoned cart) are not steps
//   forward: deals come there by timeouts, and go back into the funnel
//   from there with the same conversion, else on to the next side stage
//   (remarketing), else are lost.
// - A lost deal records a reason (the lost stage's reason attribute, drawn
//   from six common reasons, or the event that lost it).
// - A won deal gets its post-sale follow-up (a move to another WON stage,
//   when the machine has one) and buys again with --repeat (0.25) after a
//   few months, a new cycle; a lost one is tried again with 0.03.
// - The machine's timeouts happen as `replay` will fire them: a deal whose
//   stage times out before its next row moves (or is lost) then, and the
//   simulation goes on from there. No row is written for them.
// With every template this gives win rates near 22% of closed deals, and
// for b2b cycles of 30-120 days (README, "The sample pipeline").
#ifndef SALESCYCLE_SRC_CLI_SIMULATE_H_
#define SALESCYCLE_SRC_CLI_SIMULATE_H_

namespace salescycle {
namespace cli {

// The command: argv[2..] are its arguments. Returns an exit code.
int Simulate(int argc, char** argv);

}  // namespace cli
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CLI_SIMULATE_H_
