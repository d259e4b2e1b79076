"""examples/python/read_snapshot.py reads what the C++ library saves.

Run by ctest with Debian's /usr/bin/python3 (it needs python3-protobuf), with
SC_B2B_PIPELINE, SC_PYTHON_PB_DIR and SC_EXAMPLES_DIR in the environment.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

B2B_PIPELINE = os.environ["SC_B2B_PIPELINE"]
PYTHON_PB_DIR = os.environ["SC_PYTHON_PB_DIR"]
READER = os.path.join(os.environ["SC_EXAMPLES_DIR"], "python", "read_snapshot.py")
ROW = re.compile(r"^(.*?)\s+(\d+)\s+[\d.]+%$")


def read_snapshot(path):
    env = dict(os.environ, PYTHONPATH=PYTHON_PB_DIR)
    return subprocess.run([sys.executable, READER, path], env=env,
                          capture_output=True, text=True)


class ReadSnapshotExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.dir.name, "b2b.scp")
        run = subprocess.run([B2B_PIPELINE, "--snapshot-out", cls.path],
                             capture_output=True, text=True, check=True)
        # The C++ program's table: display name, deals, share, in stage order.
        cls.cpp_counts = [int(m.group(2)) for m in map(ROW.match, run.stdout.splitlines())
                          if m]
        with open(cls.path, "rb") as f:
            cls.data = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def write(self, data):
        path = os.path.join(self.dir.name, "damaged.scp")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_stage_counts_equal_the_libraries(self):
        run = read_snapshot(self.path)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        self.assertRegex(lines[0], r"^b2b v1 \(fingerprint [0-9a-f]{16}\): 5000 deals in 5000 slots$")
        rows = [line.split() for line in lines[1:]]
        self.assertEqual([r[0] for r in rows][:3],
                         ["prospecting", "initial_contact", "qualification"])
        self.assertEqual(len(self.cpp_counts), 10)
        self.assertEqual([int(r[1]) for r in rows], self.cpp_counts)
        self.assertEqual(sum(self.cpp_counts), 5000)

    def test_a_flipped_byte_is_a_checksum_mismatch(self):
        data = bytearray(self.data)
        data[len(data) // 2] ^= 0x40
        run = read_snapshot(self.write(bytes(data)))
        self.assertEqual(run.returncode, 1)
        self.assertIn("checksum mismatch", run.stderr)

    def test_a_truncated_snapshot_is_refused(self):
        run = read_snapshot(self.write(self.data[:-3]))
        self.assertEqual(run.returncode, 1)
        self.assertIn("truncated", run.stderr)

    def test_not_a_snapshot(self):
        run = read_snapshot(self.write(b"SCWL0001" + self.data[8:]))
        self.assertEqual(run.returncode, 1)
        self.assertIn("bad magic", run.stderr)


if __name__ == "__main__":
    unittest.main()
