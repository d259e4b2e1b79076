"""salescycle.dask on a LocalCluster of 2 workers on the loopback (issue
17): shards fed their partitions give, merged, the funnel of one pipeline
fed the whole file, byte for byte; a checkpoint restores onto the workers
left after one is lost.

Needs dask.distributed: Debian's python3-distributed, so ctest runs this
with /usr/bin/python3; elsewhere it is skipped, saying so. SC_MACHINES_DIR
names the templates (the sample is beside them, in ../data)."""
import logging
import os
import tempfile
import time
import unittest

import salescycle as sc

try:
    from distributed import Client, LocalCluster
    import salescycle.dask as scd
except ImportError as e:  # another interpreter than Debian's
    Client = None
    MISSING = str(e)

MACHINES = os.environ["SC_MACHINES_DIR"]
SAMPLE = os.path.join(MACHINES, "..", "data", "b2b_2026.csv")


@unittest.skipIf(Client is None, "dask.distributed is not importable here "
                 "(apt-get install python3-distributed; run with /usr/bin/python3)")
class DaskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("distributed").setLevel(logging.ERROR)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
        cls.client = Client(cls.cluster)
        with open(os.path.join(MACHINES, "b2b.textproto")) as f:
            cls.spec = f.read()
        # The whole file through one pipeline: what the shards must equal.
        cls.machine = sc.Machine.from_text(cls.spec)
        cls.one = sc.Pipeline(cls.machine, analytics=True)
        cls.one_result = cls.one.ingest_file(SAMPLE)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()
        cls.tmp.cleanup()

    def test_partitions_hold_their_own_keys(self):
        paths = scd.partition_csv(SAMPLE, os.path.join(self.tmp.name, "p3"), shards=3,
                                  num_groups=64)
        groups = sc.KeyGroups(64)
        rows = 0
        for shard, path in enumerate(paths):
            with open(path) as f:
                lines = f.read().splitlines()[1:]
            rows += len(lines)
            keys = {line.split(",", 1)[0] for line in lines}
            owned = groups.range_of(shard, 3)
            self.assertTrue(all(g in owned for g in groups.of_keys(sorted(keys), numpy=False)))
        self.assertEqual(rows, self.one_result.rows)

    def test_rescaling_moves_key_groups_and_keeps_the_funnel(self):
        # The sample in two halves: the first read by 2 shards, then 3 shards
        # own the groups and read the second half, partitioned for 3; then
        # all of it goes to 1 shard. One pipeline reads both halves.
        with open(SAMPLE) as f:
            lines = f.read().splitlines(keepends=True)
        middle = len(lines) // 2
        halves = []
        for n, rows in enumerate([lines[1:middle], lines[middle:]]):
            path = os.path.join(self.tmp.name, "half-%d.csv" % n)
            with open(path, "w") as f:
                f.writelines([lines[0]] + rows)
            halves.append(path)
        one = sc.Pipeline(self.machine, analytics=True)
        for path in halves:
            one.ingest_file(path)
        cluster = scd.ShardedCluster(self.client, self.spec, shards=2, num_groups=64)
        cluster.ingest(scd.partition_csv(halves[0], os.path.join(self.tmp.name, "r2"),
                                         shards=2, num_groups=64))
        cluster.rescale(3)
        self.assertEqual(cluster.shards, 3)
        cluster.ingest(scd.partition_csv(halves[1], os.path.join(self.tmp.name, "r3"),
                                         shards=3, num_groups=64))
        self.assertEqual(cluster.size(), len(one))
        self.assertEqual(cluster.funnel("json"), one.funnel("json"))
        # Each shard holds exactly the deals of its own groups.
        groups = sc.KeyGroups(64)
        for j, actor in enumerate(cluster.actors):
            owned = groups.range_of(j, 3)
            mine = actor.part(64, owned.start, owned.stop, False).result()
            theirs = [actor.part(64, r.start, r.stop, False).result()
                      for r in (range(0, owned.start), range(owned.stop, 64))]
            self.assertGreater(len(sc.Pipeline.load_parts(self.machine, [mine])), 0)
            for part in theirs:
                self.assertEqual(len(sc.Pipeline.load_parts(self.machine, [part])), 0)
        # Through files (a directory every worker sees), not the client:
        # 3 shards to 1, and the part files gone after.
        parts_dir = os.path.join(self.tmp.name, "rescale-parts")
        cluster.rescale(1, directory=parts_dir)
        self.assertEqual(os.listdir(parts_dir), [])
        self.assertEqual(cluster.size(), len(one))
        self.assertEqual(cluster.funnel("json"), one.funnel("json"))
        self.assertEqual(cluster.funnel("table"), one.funnel("table"))

    def test_the_shards_are_the_whole_and_survive_a_lost_worker(self):
        paths = scd.partition_csv(SAMPLE, os.path.join(self.tmp.name, "p2"), shards=2)
        cluster = scd.ShardedCluster(self.client, self.spec, shards=2)
        results = cluster.ingest(paths)
        self.assertEqual(sum(r.rows for r in results), self.one_result.rows)
        self.assertEqual(sum(r.accepted for r in results), self.one_result.accepted)
        self.assertEqual(sum(r.timeouts for r in results), self.one_result.timeouts)
        self.assertEqual(cluster.size(), len(self.one))
        expected = self.one.funnel("json")
        self.assertEqual(cluster.funnel("json"), expected)
        self.assertEqual(cluster.funnel("table"), self.one.funnel("table"))

        checkpoint = os.path.join(self.tmp.name, "checkpoint")
        cluster.checkpoint(checkpoint)
        # A worker is lost: its shard comes back on the one left.
        self.cluster.scale(1)  # the cluster stops one of its two workers
        deadline = time.monotonic() + 60
        while len(self.client.scheduler_info()["workers"]) > 1:
            self.assertLess(time.monotonic(), deadline, "a worker did not stop")
            time.sleep(0.1)
        restored = scd.ShardedCluster.restore(self.client, checkpoint, self.spec)
        self.assertEqual(len(self.client.scheduler_info()["workers"]), 1)
        self.assertEqual(restored.funnel("json"), expected)
        with self.assertRaisesRegex(ValueError, "another machine"):
            scd.ShardedCluster.restore(self.client, checkpoint,
                                       self.spec.replace('win_probability: 5', 'win_probability: 6', 1))
        self.cluster.scale(2)
        self.client.wait_for_workers(2)


if __name__ == "__main__":
    unittest.main()
