"""salescycle.dask: sharded pipelines over a dask.distributed cluster.

Each shard is a Pipeline holding the deals of one contiguous range of key
groups (salescycle.KeyGroups, the frozen key hash shared by every language
and process), kept on a worker by a Dask actor. Each shard reads its own
partition of the input (partition_csv splits an event file by key group),
so events never pass through the client. A checkpoint writes every shard's
snapshot and then a manifest, atomically each; restore() brings the shards
back, on whichever workers are alive, from the last complete checkpoint.
funnel() merges the shards' funnel states into the funnel of the whole,
byte for byte the report of one pipeline that saw every deal.

    from distributed import Client, LocalCluster
    import salescycle.dask as scd

    with Client(LocalCluster(n_workers=2)) as client:
        paths = scd.partition_csv("events.csv", "parts/", shards=2)
        cluster = scd.ShardedCluster(client, machine_text, shards=2)
        cluster.ingest(paths)
        cluster.checkpoint("checkpoint/")
        print(cluster.funnel("table"))

rescale() moves whole key groups between shards (to more shards or fewer):
each shard's deals leave as parts (Pipeline.save_part) and the new shards
join theirs (Pipeline.load_parts); every deal's funnel history stays
counted once, so the merged funnel is unchanged by it.

Needs dask.distributed (Debian's python3-distributed); the rest of the
package does not.
"""
import csv
import json
import os
from typing import List, Optional, Sequence

from .funnel_state import FunnelState
from .limits import Limits
from .machine import Machine
from .partition import KeyGroups
from .pipeline import Ingested, Pipeline

MANIFEST = "manifest.json"

# Parts made by this cluster's own shards, from pipelines that exist: the
# limits meant for untrusted snapshots do not apply to them.
_OWN_PARTS = Limits(string_length=2**64 - 1, history_length=2**64 - 1,
                    snapshot_deals=2**64 - 1, history_entries=2**64 - 1)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class ShardActor:
    """One shard, on one worker: a Pipeline of the deals whose key groups
    are in its range. Created by ShardedCluster; its methods run on the
    worker."""

    def __init__(self, spec_text: str, analytics: bool, cohort: Optional[str],
                 snapshot_path: Optional[str] = None, parts: Optional[List[bytes]] = None):
        self.machine = Machine.from_text(spec_text)
        if parts is not None:
            # Bytes, or the paths of files that hold them (rescale's
            # `directory`).
            parts = [p if isinstance(p, bytes) else _read(p) for p in parts]
            self.pipeline = Pipeline.load_parts(self.machine, parts, limits=_OWN_PARTS)
        elif snapshot_path is None:
            self.pipeline = Pipeline(self.machine, analytics=analytics, cohort=cohort)
        else:
            self.pipeline = Pipeline.load_file(self.machine, snapshot_path)

    def part(self, num_groups: int, first: int, end: int, counters: bool,
             path: Optional[str] = None) -> Optional[bytes]:
        """The deals of key groups [first, end), as a part (Pipeline.save_part):
        its bytes, or None once written to `path` (a temporary file beside
        it, flushed, then renamed)."""
        deals = self.pipeline.deals_in_key_groups(num_groups, first, end, numpy=False)
        data = self.pipeline.save_part(deals, counters=counters)
        if path is None:
            return data
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return None

    def ingest_file(self, path: str) -> tuple:
        return tuple(self.pipeline.ingest_file(path))

    def advance_to(self, now: int) -> int:
        return self.pipeline.advance_to(now)

    def size(self) -> int:
        return len(self.pipeline)

    def save_file(self, path: str) -> None:
        # Pipeline.save_file writes a temporary file and renames it.
        self.pipeline.save_file(path)

    def funnel_state(self, value: Optional[str], by: Optional[str],
                     now: Optional[int]) -> tuple:
        """(the moment it was judged at, the state's bytes)."""
        state = self.pipeline.funnel_state(value=value, by=by, now=now)
        return state.report_dict()["as_of"], state.serialize()


def partition_csv(path: str, out_dir: str, *, shards: int, num_groups: int = 4096,
                  chunk_rows: int = 1 << 16) -> List[str]:
    """Splits an event CSV (with a `deal` column) into one file a shard,
    out_dir/shard-I.csv, each with the header and the rows of the deals
    whose key groups the shard owns, in their order. Returns the paths."""
    groups = KeyGroups(num_groups)
    owner = [groups.owner_of(g, shards) for g in range(num_groups)]
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "shard-%d.csv" % i) for i in range(shards)]
    outs = [open(p, "w", newline="") for p in paths]
    try:
        writers = [csv.writer(f) for f in outs]
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            deal = header.index("deal")
            for w in writers:
                w.writerow(header)
            while True:
                chunk = [row for _, row in zip(range(chunk_rows), reader)]
                if not chunk:
                    break
                for row, group in zip(chunk, groups.of_keys([r[deal] for r in chunk],
                                                            numpy=False)):
                    writers[owner[group]].writerow(row)
    finally:
        for f in outs:
            f.close()
    return paths


class ShardedCluster:
    """Shards of one machine on a Dask cluster, one actor a shard, placed
    round-robin over the client's workers."""

    def __init__(self, client, machine_text: str, *, shards: int, num_groups: int = 4096,
                 analytics: bool = True, cohort: Optional[str] = None,
                 _snapshots: Optional[Sequence[str]] = None,
                 _parts: Optional[Sequence[list]] = None):
        KeyGroups(num_groups).range_of(shards - 1, shards)  # checks both numbers
        self.client = client
        self.machine_text = machine_text
        self.machine = Machine.from_text(machine_text)
        self.shards = shards
        self.num_groups = num_groups
        workers = sorted(client.scheduler_info()["workers"])

        # Which groups a shard owns is the client's business (partition_csv
        # writes each shard's rows); the actor only holds the pipeline.
        futures = [client.submit(ShardActor, machine_text, analytics, cohort,
                                 None if _snapshots is None else _snapshots[i],
                                 None if _parts is None else _parts[i],
                                 actor=True, workers=[workers[i % len(workers)]])
                   for i in range(shards)]
        self.actors = [f.result() for f in futures]

    def ingest(self, paths: Sequence[str]) -> List[Ingested]:
        """Each shard ingests its own file (paths[i], as partition_csv made
        them), all at once."""
        if len(paths) != self.shards:
            raise ValueError("%d paths for %d shards" % (len(paths), self.shards))
        calls = [a.ingest_file(p) for a, p in zip(self.actors, paths)]
        done = [Ingested(*c.result()) for c in calls]
        # One pipeline fed the whole file ends at its last row, firing the
        # timeouts due by then; a shard's file may end sooner, so every
        # shard is brought to the latest time any of them saw.
        times = [d.last_time for d in done if d.last_time is not None]
        if not times:
            return done
        latest = max(times)
        fired = [c.result() for c in [a.advance_to(latest) for a in self.actors]]
        return [d._replace(timeouts=d.timeouts + f) for d, f in zip(done, fired)]

    def size(self) -> int:
        return sum(c.result() for c in [a.size() for a in self.actors])

    def checkpoint(self, directory: str) -> None:
        """Every shard's snapshot, then the manifest naming them: a
        checkpoint is whole once its manifest is there (written last, and
        atomically), so a crash mid-way leaves the previous one."""
        os.makedirs(directory, exist_ok=True)
        names = ["shard-%d.snapshot" % i for i in range(self.shards)]
        calls = [a.save_file(os.path.join(directory, n)) for a, n in zip(self.actors, names)]
        for c in calls:
            c.result()
        manifest = {"shards": self.shards, "num_groups": self.num_groups,
                    "fingerprint": self.machine.fingerprint, "snapshots": names}
        tmp = os.path.join(directory, MANIFEST + ".tmp")
        with open(tmp, "w") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(directory, MANIFEST))

    @classmethod
    def restore(cls, client, directory: str, machine_text: str) -> "ShardedCluster":
        """The shards of the checkpoint in `directory`, on the client's
        workers now (a lost worker's shards go to the others). ValueError
        for a checkpoint of another machine."""
        with open(os.path.join(directory, MANIFEST)) as f:
            manifest = json.load(f)
        if manifest["fingerprint"] != Machine.from_text(machine_text).fingerprint:
            raise ValueError("%s: a checkpoint of another machine" % directory)
        snapshots = [os.path.join(directory, n) for n in manifest["snapshots"]]
        return cls(client, machine_text, shards=manifest["shards"],
                   num_groups=manifest["num_groups"], _snapshots=snapshots)

    def rescale(self, shards: int, *, directory: Optional[str] = None) -> None:
        """Moves whole key groups so that `shards` shards own them (shard j
        the groups KeyGroups.range_of(j, shards)), placed over the client's
        workers now. Each shard's deals leave in parts, one for each new
        owner of some of its groups; its funnel counters and input
        positions go with the part for the owner of its first group, so
        every deal's past stays counted once and the merged funnel does not
        change. The old shards are dropped only once every new one holds
        its deals: a failure leaves the cluster as it was. Input read after
        it is partitioned for the new count (partition_csv(..., shards=
        shards)); checkpoint after it, so that a restore finds the new
        shards.

        Without `directory` the parts pass through this client and the
        task graph (an actor cannot hand another one data), which needs
        room for them (Dask warns of large objects in the graph; scattering
        them ahead to the new shards' workers had the actors' creation
        cancelled). With `directory`, a path every worker sees (as a
        checkpoint's), each part goes there as a file and only its name
        passes through; the files are removed once the new shards hold
        their deals."""
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
        calls = [[] for _ in range(shards)]
        paths = []
        try:
            for n, part in enumerate(KeyGroups(self.num_groups).rescale_plan(self.shards,
                                                                             shards)):
                path = None
                if directory is not None:
                    path = os.path.join(directory, "rescale-part-%d.bin" % n)
                    paths.append(path)
                calls[part.new_owner].append((path, self.actors[part.old_owner].part(
                    self.num_groups, part.groups.start, part.groups.stop, part.counted, path)))
            parts = []
            for per_shard in calls:
                mine = []
                for path, call in per_shard:
                    data = call.result()  # None once written to `path`
                    mine.append(data if path is None else path)
                parts.append(mine)
            rescaled = ShardedCluster(self.client, self.machine_text, shards=shards,
                                      num_groups=self.num_groups, _parts=parts)
            self.actors, self.shards = rescaled.actors, shards
        finally:
            # Made or not, the part files are not kept: on a failure the
            # old shards still hold every deal.
            for path in paths:
                for name in (path, path + ".tmp"):
                    if os.path.exists(name):
                        os.remove(name)

    def funnel_state(self, *, value: Optional[str] = None, by: Optional[str] = None,
                     now: Optional[int] = None) -> FunnelState:
        """The shards' funnel states merged: every shard judged as of `now`
        (default: the latest time any shard saw, as one pipeline's is)."""
        states = [c.result() for c in [a.funnel_state(value, by, now) for a in self.actors]]
        if now is None and len({as_of for as_of, _ in states}) > 1:
            latest = max(as_of for as_of, _ in states)
            states = [c.result()
                      for c in [a.funnel_state(value, by, latest) for a in self.actors]]
        whole = FunnelState.from_bytes(states[0][1], self.machine)
        for _, data in states[1:]:
            with FunnelState.from_bytes(data, self.machine) as part:
                whole.merge(part)
        return whole

    def funnel(self, format: str = "table", **options):
        """The merged funnel's report ("table", "json", "csv", "svg")."""
        with self.funnel_state(**options) as state:
            return state.report(format)
