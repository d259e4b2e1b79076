#!/usr/bin/env python3
"""Writes an SCWL0001 stream (../shared/bench/gen_workload.py) as the
salescycle tool's CSV: deal,event,time, one row an event, deals named
j<index>, events by their cycle9 names, event i at time i. For measuring
`salescycle replay` on the same work salescycle_replay does:

    python3 bench/scwl_to_csv.py STREAM.scwl > stream.csv
    build/src/salescycle replay examples/machines/cycle9.textproto stream.csv

Any python3 will do.
"""
import json
import os
import struct
import sys
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-2].strip())
    with open(os.path.join(HERE, "..", "..", "shared", "bench", "cycle9.json")) as f:
        events = json.load(f)["events"]
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    if data[:8] != b"SCWL0001":
        sys.exit("%s: not an SCWL0001 stream" % sys.argv[1])
    n = struct.unpack_from("<Q", data, 8)[0]
    records = array("I")
    records.frombytes(data[32:32 + 8 * n])
    if sys.byteorder != "little":
        records.byteswap()
    out = sys.stdout
    out.write("deal,event,time\n")
    names = ["j%d" % j for j in range(max(records[0::2]) + 1)] if n else []
    out.writelines("%s,%s,%d\n" % (names[records[2 * i]], events[records[2 * i + 1]], i)
                   for i in range(n))


if __name__ == "__main__":
    main()
