#!/usr/bin/env python3
"""Measures the figures of bench/RESULTS.md and prints its table.

    python3 bench/run_results.py [--build build] [--shared ../shared]

Generates the cycle9 streams it needs with ../shared/bench/gen_workload.py
into BUILD/bench/workloads (once), then runs salescycle_replay on each
configuration: every line is the median of 5 runs, library and raw baseline
measured in the same process, and every summary is checked against the
generator's before its speed is reported. Any python3 will do.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY_KEYS = ("machine", "events", "journeys", "seed", "accepted", "rejected",
                "final_stage_histogram", "final_state_fnv1a64")


def workload(args, events, journeys, guarded):
    stem = "cycle9%s_e%d_j%d_s42" % ("-guarded" if guarded else "", events, journeys)
    directory = os.path.join(args.build, "bench", "workloads")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, stem + ".scwl")
    if not os.path.exists(path):
        command = [sys.executable, os.path.join(args.shared, "bench", "gen_workload.py"),
                   "--events", str(events), "--journeys", str(journeys), "--seed", "42",
                   "--out", path] + (["--guarded"] if guarded else [])
        with open(os.path.join(directory, stem + ".json"), "w") as out:
            subprocess.run(command, stdout=out, check=True)
    with open(os.path.join(directory, stem + ".json")) as f:
        return path, json.load(f)


def replay(args, path, want, *options):
    tool = os.path.join(args.build, "bench", "salescycle_replay")
    run = subprocess.run([tool, path, "--repetitions", "5", *options],
                         capture_output=True, text=True, check=True)
    got = json.loads(run.stdout)
    for key in SUMMARY_KEYS:
        if got[key] != want[key]:
            sys.exit("%s %s: %s differs from the generator's" % (path, options, key))
    return got


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = parser.parse_args()

    rows = []

    def row(figure, target, got, value):
        rows.append("| %s | %s | %.1f M/s | %.1f M/s | **%s** |" % (
            figure, target, got["events_per_second"] / 1e6,
            got["baseline_events_per_second"] / 1e6, value))

    for journeys in (1, 100000):
        path, want = workload(args, 1000000, journeys, False)
        got = replay(args, path, want)
        row("cycle9, 1M events, %d deal%s, history off" % (journeys, "s" if journeys > 1 else ""),
            ">= 0.75 of baseline", got, "%.2f" % got["ratio_to_baseline"])
    path, want = workload(args, 1000000, 100000, True)
    got = replay(args, path, want)
    row("cycle9-guarded, 1M events, 100k deals", ">= 0.5 of baseline", got,
        "%.2f" % got["ratio_to_baseline"])
    path, want = workload(args, 10000000, 1000000, False)
    one = replay(args, path, want, "--threads", "1")
    two = replay(args, path, want, "--threads", "2")
    row("cycle9, 10M events, 1M deals, 1 thread", "(reference)", one,
        "%.2f of baseline" % one["ratio_to_baseline"])
    row("cycle9, 10M events, 1M deals, 2 threads", ">= 1.6 x 1 thread", two,
        "%.2f x 1 thread" % (two["events_per_second"] / one["events_per_second"]))
    path, want = workload(args, 1000000, 100000, False)
    cpp = replay(args, path, want, "--api", "cpp")
    c = replay(args, path, want, "--api", "c")
    row("cycle9, 1M events, 100k deals, C API batch", ">= 0.9 of C++ batch", c,
        "%.2f of C++ (%.1f M/s)" % (c["events_per_second"] / cpp["events_per_second"],
                                    cpp["events_per_second"] / 1e6))
    print("| figure | target | library | raw baseline | measured |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
