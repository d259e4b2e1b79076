#!/usr/bin/env python3
"""Batch throughput and single-fire cost of the Python package on a cycle9
stream written by ../shared/bench/gen_workload.py (SCWL0001).

    PYTHONPATH=capi/python SALESCYCLE_LIBRARY=build/capi/libsalescycle_c.so \\
      python3 capi/python/bench_salescycle.py \\
      build/tests/workloads/cycle9_e1000000_j100000_s42.scwl

Each repetition replays the whole stream through Pipeline.apply_batch on a
fresh pipeline, so `accepted` must equal the generator's figure; the fire
cost is one Pipeline.fire per event over the first --fire-events events.
Prints one JSON object (medians of --repetitions runs). Any python3.
"""
import argparse
import ctypes
import json
import os
import statistics
import struct
import sys
import time
from array import array

import salescycle

MACHINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "examples", "machines", "cycle9.textproto")


def read_workload(path):
    """(journeys, records as a writable array of 16-byte EventRecords)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"SCWL0001":
        sys.exit("%s: not an SCWL0001 workload" % path)
    n, journeys, _flags, _seed = struct.unpack_from("<QIIQ", data, 8)
    source = array("I")
    source.frombytes(data[32:32 + 8 * n])
    if sys.byteorder != "little":
        source.byteswap()
    words = array("I", bytes(16 * n))
    words[0::4] = source[0::2]  # deal
    words[1::4] = source[1::2]  # event
    records = array("q")
    records.frombytes(words.tobytes())
    records[1::2] = array("q", range(n))  # time: the event's index
    return journeys, records


def fresh(machine, journeys):
    p = salescycle.Pipeline(machine, expected_deals=journeys)
    for _ in range(journeys):
        p.add(0)
    return p


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--fire-events", type=int, default=200000)
    args = parser.parse_args()
    machine = salescycle.Machine.from_file(MACHINE)
    journeys, records = read_workload(args.workload)
    events = len(records) // 2

    # The batch is read once before each timed call, as a caller that has
    # just built it would have it in cache; the C and C++ benchmarks reuse
    # theirs hot too. The same C function called straight through ctypes
    # (the "C batch") runs under the same conditions, interleaved, so the
    # ratio is the package's own overhead.
    words = memoryview(records).cast("B").cast("Q")
    raw = salescycle._native.lib.sc_pipeline_apply
    raw_pointer = ctypes.cast((ctypes.c_char * (16 * events)).from_buffer(records), ctypes.c_void_p)
    batch_rates, c_rates, accepted = [], [], None
    for _ in range(args.repetitions):
        with fresh(machine, journeys) as p:
            sum(words)
            start = time.perf_counter()
            accepted, rejected = p.apply_batch(records)
            batch_rates.append(events / (time.perf_counter() - start))
        with fresh(machine, journeys) as p:
            sum(words)
            a = ctypes.c_uint64()
            start = time.perf_counter()
            status = raw(ctypes.byref(a), None, p._handle, raw_pointer, events, None)
            c_rates.append(events / (time.perf_counter() - start))
            assert status == 0 and a.value == accepted

    fire_n = min(args.fire_events, events)
    view = memoryview(records).cast("B").cast("I")
    stream = [(view[4 * i], view[4 * i + 1], i) for i in range(fire_n)]
    fire_ns = []
    for _ in range(args.repetitions):
        with fresh(machine, journeys) as p:
            fire = p.fire
            start = time.perf_counter()
            for deal, event, t in stream:
                fire(deal, event, t)
            fire_ns.append((time.perf_counter() - start) / fire_n * 1e9)

    print(json.dumps({
        "python": sys.version.split()[0],
        "events": events, "journeys": journeys,
        "accepted": accepted, "rejected": rejected,
        "batch_events_per_second": round(statistics.median(batch_rates)),
        "c_batch_events_per_second": round(statistics.median(c_rates)),
        "batch_ratio_to_c": round(statistics.median(batch_rates) / statistics.median(c_rates), 3),
        "fire_ns_per_call": round(statistics.median(fire_ns), 1),
    }))


if __name__ == "__main__":
    main()
