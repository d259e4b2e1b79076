"""salescycle_replay prints the generator's summary for the streams the
generator wrote, through either API, any thread count and batch size; bad
input is an error with a message and exit code, never a crash.

Run by ctest (any python3) with SC_REPLAY (the tool) and SC_WORKLOAD_DIR
(the streams and summaries gen_workload.py wrote) in the environment.
"""
import json
import os
import subprocess
import tempfile
import unittest

REPLAY = os.environ["SC_REPLAY"]
WORKLOADS = os.environ["SC_WORKLOAD_DIR"]
SUMMARY_KEYS = ("machine", "events", "journeys", "seed", "accepted", "rejected",
                "final_stage_histogram", "final_state_fnv1a64")


def replay(*args):
    return subprocess.run([REPLAY, *args], capture_output=True, text=True)


class Replay(unittest.TestCase):
    def check(self, stem, *options):
        run = replay(os.path.join(WORKLOADS, stem + ".scwl"), "--repetitions", "1",
                     *options)
        self.assertEqual(run.returncode, 0, run.stderr)
        got = json.loads(run.stdout)
        with open(os.path.join(WORKLOADS, stem + ".json")) as f:
            want = json.load(f)
        self.assertEqual(sorted(want), sorted(SUMMARY_KEYS))
        for key in SUMMARY_KEYS:
            self.assertEqual(got[key], want[key], key)
        self.assertGreater(got["events_per_second"], 0)
        self.assertGreater(got["baseline_events_per_second"], 0)
        self.assertGreater(got["ratio_to_baseline"], 0)
        return got

    def test_matches_the_generator_through_both_apis(self):
        for stem in ("cycle9_e200000_j5000_s7", "cycle9-guarded_e200000_j5000_s7",
                     "cycle9_e100000_j1_s42", "cycle9-guarded_e50000_j1_s3"):
            for api in ("cpp", "c"):
                with self.subTest(stem=stem, api=api):
                    self.assertEqual(self.check(stem, "--api", api)["api"], api)

    def test_threads_and_batches_change_nothing(self):
        # 100k deals and 1M events: ApplyParallel really splits the work.
        stem = "cycle9-guarded_e1000000_j100000_s42"
        for options, ran in ((("--threads", "2"), 2), (("--batch", "1000"), 1),
                             (("--batch", "7", "--threads", "2", "--api", "c"), 1)):
            with self.subTest(options=options):
                got = self.check(stem, *options)
                # The threads that ran: a batch of 7 is too small for two.
                self.assertEqual(got["threads"], ran)
                self.assertEqual(got["threads_requested"],
                                 2 if "--threads" in options else 1)
        # cycle9's bare table: steps too cheap for a second thread to pay.
        got = self.check("cycle9_e1000000_j100000_s42", "--threads", "2")
        self.assertEqual((got["threads_requested"], got["threads"]), (2, 1))

    def test_bad_usage_and_bad_files(self):
        run = replay()
        self.assertEqual(run.returncode, 2)
        self.assertIn("no workload file", run.stderr)
        run = replay("x.scwl", "--threads", "0")
        self.assertEqual(run.returncode, 2)
        self.assertIn("--threads takes a number from 1 to 64", run.stderr)
        run = replay("x.scwl", "--api", "rust")
        self.assertEqual(run.returncode, 2)
        run = replay("/no/such/stream.scwl")
        self.assertEqual(run.returncode, 1)
        self.assertIn("/no/such/stream.scwl", run.stderr)
        with tempfile.NamedTemporaryFile(suffix=".scwl") as f:
            f.write(b"SCWL0001" + b"\xff" * 40)
            f.flush()
            run = replay(f.name)
            self.assertEqual(run.returncode, 1)
            self.assertIn(f.name, run.stderr)


if __name__ == "__main__":
    unittest.main()
