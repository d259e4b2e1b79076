#!/usr/bin/env python3
"""Five deals through the B2B template with the Python package, then the
stage counts: the same moves and lines as examples/c/b2b.c.

    PYTHONPATH=capi/python SALESCYCLE_LIBRARY=build/capi/libsalescycle_c.so \\
        python3 examples/python/b2b.py examples/machines/b2b.textproto

It needs only the standard library: any python3 will do.
"""
import sys

import salescycle

DAY = 86400


def main(path):
    machine = salescycle.Machine.from_file(path)
    now = 1767225600  # 2026-01-01
    with salescycle.Pipeline(machine) as pipeline:
        deals = {name: pipeline.add(now, key=name)
                 for name in ("acme", "globex", "initech", "umbrella", "hooli")}

        def fire(name, event):
            nonlocal now
            now += DAY
            outcome = pipeline.fire(deals[name], event, now)
            if outcome != salescycle.Outcome.MOVED:
                print("%s: %s rejected (%s)" % (name, event, outcome.name.lower()))

        # acme: qualified on BANT, presented, negotiated, closed, won.
        fire("acme", "contact")
        fire("acme", "qualify")
        for attribute, value in (("budget", 50000), ("authority", True),
                                 ("need", True), ("timeline_days", 90)):
            pipeline.set(deals["acme"], attribute, value)
        fire("acme", "present")
        pipeline.set(deals["acme"], "deal_value", 48000.0)
        fire("acme", "negotiate")
        pipeline.set(deals["acme"], "decision_maker", "CFO")
        fire("acme", "close")
        fire("acme", "win")
        # globex: no BANT yet, so the presentation is refused.
        fire("globex", "contact")
        fire("globex", "qualify")
        fire("globex", "present")
        fire("initech", "contact")
        fire("umbrella", "disqualify")
        for stage, count in pipeline.stage_counts().items():
            print("%s: %d" % (stage, count))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: b2b.py MACHINE.textproto")
    main(sys.argv[1])
