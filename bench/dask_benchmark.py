#!/usr/bin/env python3
"""Events a second against Dask workers (issue 17): the generator's cycle9
stream, as CSV, split by key group and ingested by N shards on N worker
processes (salescycle.dask), for N = 1 and 2; prints, for each, the rows,
accepted and rejected against the generator's own summary, as proof that
the work was done; then the time to rescale the 2 shards to 1 and back.

    /usr/bin/python3 bench/dask_benchmark.py [--events 2000000] [--journeys 100000]

Needs ../shared/bench/gen_workload.py, Debian's python3-distributed, and the
package and library: run from the repository with
PYTHONPATH=capi/python SALESCYCLE_LIBRARY=build/capi/libsalescycle_c.so.
Wall time of ingest only (the partitions are written first, as a
deployment's upstream would have them); each worker reads its own file.
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared", "bench")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000000)
    parser.add_argument("--journeys", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    from distributed import Client, LocalCluster
    import salescycle.dask as scd
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with open(os.path.join(ROOT, "examples", "machines", "cycle9.textproto")) as f:
        spec = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        stream = os.path.join(tmp, "w.scwl")
        summary = json.loads(subprocess.run(
            [sys.executable, os.path.join(SHARED, "gen_workload.py"), "--events",
             str(args.events), "--journeys", str(args.journeys), "--seed", str(args.seed),
             "--out", stream], check=True, capture_output=True, text=True).stdout)
        csv_path = os.path.join(tmp, "w.csv")
        with open(csv_path, "w") as out:
            subprocess.run([sys.executable, os.path.join(HERE, "scwl_to_csv.py"), stream],
                           check=True, stdout=out)
        print("generator: %d events, accepted %d, rejected %d" % (
            summary["events"], summary["accepted"], summary["rejected"]))
        for workers in (1, 2):
            paths = scd.partition_csv(csv_path, os.path.join(tmp, "p%d" % workers),
                                      shards=workers)
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                shards = scd.ShardedCluster(client, spec, shards=workers, analytics=False)
                start = time.perf_counter()
                done = shards.ingest(paths)
                seconds = time.perf_counter() - start
                if workers == 2:
                    # Rescaling: every deal moves through parts (2 -> 1)
                    # and half of them back (1 -> 2); the deals all stay.
                    deals = shards.size()
                    moves = []
                    for to in (1, 2):
                        begin = time.perf_counter()
                        # 2 -> 1 through the client, 1 -> 2 through files.
                        shards.rescale(to, directory=None if to == 1 else
                                       os.path.join(tmp, "parts"))
                        moves.append(time.perf_counter() - begin)
                        if shards.size() != deals:
                            sys.exit("rescale to %d shards left %d of %d deals"
                                     % (to, shards.size(), deals))
            rows = sum(d.rows for d in done)
            accepted = sum(d.accepted for d in done)
            rejected = sum(d.rejected for d in done)
            ok = accepted == summary["accepted"] and rejected == summary["rejected"]
            print("%d worker(s): %d rows in %.3f s, %.1fM events/s; accepted %d, rejected %d%s"
                  % (workers, rows, seconds, rows / seconds / 1e6, accepted, rejected,
                     "" if ok else "  DIFFERS FROM THE GENERATOR"))
            if not ok:
                sys.exit(1)
            if workers == 2:
                print("rescale of %d deals: 2 -> 1 shard %.3f s (parts through the client), "
                      "1 -> 2 shards %.3f s (through files); every deal kept"
                      % (deals, moves[0], moves[1]))


if __name__ == "__main__":
    main()
