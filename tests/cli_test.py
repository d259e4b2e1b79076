"""The salescycle command-line tool: every command and its error paths.

Run by ctest (any python3) with SC_CLI (the tool) and SC_MACHINES_DIR in the
environment.
"""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

CLI = os.environ["SC_CLI"]
B2B = os.path.join(os.environ["SC_MACHINES_DIR"], "b2b.textproto")

EVENTS_CSV = """deal,event,time,budget,authority,need,timeline_days,deal_value,decision_maker
acme,,2026-01-01,,,,,,
acme,contact,2026-01-02,,,,,,
acme,qualify,2026-01-05,50000,true,true,90,48000,
acme,present,2026-01-09T10:00:00Z,,,,,,
globex,contact,1767225600,,,,,,
acme,negotiate,2026-01-12,,,,,,
acme,close,2026-01-20,,,,,,"CFO, ""the"" boss"
acme,win,2026-01-25,,,,,,
initech,disqualify,2026-02-01T00:00:00+01:00,,,,,,
"""

EVENTS_JSONL = "\n".join(json.dumps(row) for row in [
    {"deal": "acme", "time": "2026-01-01"},
    {"deal": "acme", "event": "contact", "time": "2026-01-02"},
    {"deal": "acme", "event": "qualify", "time": "2026-01-05",
     "set": {"budget": 50000, "authority": True, "need": True,
             "timeline_days": 90, "deal_value": 48000}},
    {"deal": "acme", "event": "present", "time": "2026-01-09T10:00:00Z"},
    {"deal": "globex", "event": "contact", "time": 1767225600},
    {"deal": "acme", "event": "negotiate", "time": "2026-01-12"},
    {"deal": "acme", "event": "close", "time": "2026-01-20",
     "set": {"decision_maker": "CFO, \"the\" boss"}},
    {"deal": "acme", "event": "win", "time": "2026-01-25"},
    {"deal": "initech", "event": "disqualify", "time": "2026-02-01T00:00:00+01:00"},
]) + "\n"

# globex's first contact (2026-01-01) goes unanswered for 14 days: b2b's
# timeout loses it on 2026-01-15, before the file's last row.
STAGE_COUNTS = {"won": 1, "lost": 2}


def run(*args):
    # A bound, so that a tool that blocks (on a pipe, say) fails the test.
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def counts(stdout):
    """The stage lines of `replay`'s output, as a dict of non-zero counts."""
    out = {}
    for line in stdout.splitlines()[1:]:
        if not line.startswith("  "):
            continue
        stage, n = line.split()
        if int(n):
            out[stage] = int(n)
    return out


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def through_fifo(self, *args):
        """Runs the tool with EVENTS_CSV written into a FIFO named by the
        last argument (in the test's directory), in its place."""
        fifo = os.path.join(self.dir.name, args[-1])
        os.mkfifo(fifo)

        def feed():
            with open(fifo, "w") as f:
                f.write(EVENTS_CSV)
        writer = threading.Thread(target=feed)
        writer.start()
        result = run(*args[:-1], fifo)
        writer.join()
        return result

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- usage

    def test_help_and_usage_errors(self):
        for args in (["--help"], ["help"], ["report", "--help"]):
            run_ = run(*args)
            self.assertEqual(run_.returncode, 0)
            self.assertIn("exit codes:", run_.stdout)
        for args, message in ((["frobnicate"], 'unknown command "frobnicate"'),
                              ([], "no command"),
                              (["validate"], "validate takes one MACHINE"),
                              (["render", B2B, "--format", "png"], "--format is dot or mermaid"),
                              (["render", B2B, "--colour", "red"], "unknown option --colour"),
                              (["render", B2B, "--out"], "--out needs a value"),
                              (["report", B2B, "x.csv", "--cohort", "year"],
                               "--cohort is week, month or quarter"),
                              (["report", B2B, "x.csv", "--format", "xml"],
                               "--format is table, json, csv or svg"),
                              (["report", B2B, "x.csv", "--now", "soon"], "--now: time \"soon\""),
                              (["replay", B2B], "replay takes MACHINE EVENTS"),
                              (["replay", B2B, "x.csv", "--history", "-1"], "--history takes 0 to"),
                              (["replay", B2B, "x.csv", "--cohort", "week"],
                               "--cohort is kept in the snapshot: give --snapshot-out")):
            with self.subTest(args=args):
                run_ = run(*args)
                self.assertEqual(run_.returncode, 2, run_.stderr)
                self.assertIn(message, run_.stderr)

    # ---- validate and render

    def test_validate(self):
        ok = run("validate", B2B)
        self.assertEqual(ok.returncode, 0)
        self.assertIn("ok: b2b v1, 10 stages, 17 events, 8 attributes", ok.stdout)
        one = self.write("one.textproto", 'name: "one" initial_stage: "a" stages { id: "a" }'
                         ' stages { id: "b" } events { id: "go" }'
                         ' transitions { from_stage: "a" event: "go" to: "b" }'
                         ' attributes { name: "v" type: DOUBLE }')
        self.assertIn("ok: one v0, 2 stages, 1 event, 1 attribute, 1 transition\n",
                      run("validate", one).stdout)
        bad = self.write("bad.textproto", 'name: "x" initial_stage: "a" stages { id: "a" }'
                         ' events { id: "go" } transitions { from_stage: "a" event: "gone" to: "a" }')
        run_ = run("validate", bad)
        self.assertEqual(run_.returncode, 1)
        self.assertIn('bad.textproto: transitions[0] (a --gone--> a): unknown event "gone"', run_.stderr)
        run_ = run("validate", "/no/such.textproto")
        self.assertEqual(run_.returncode, 1)
        self.assertIn("/no/such.textproto", run_.stderr)

    def test_render(self):
        dot = run("render", B2B)
        self.assertEqual(dot.returncode, 0)
        self.assertTrue(dot.stdout.startswith('digraph "b2b" {'))
        self.assertIn('"prospecting" -> "initial_contact" [label="contact"];', dot.stdout)
        self.assertIn("[budget >= 10000 and authority == true", dot.stdout)
        self.assertIn("style=dashed", dot.stdout)  # the timeouts
        self.assertIn('"won" [label="Closed won\\n100%", shape=doubleoctagon', dot.stdout)
        out = os.path.join(self.dir.name, "machine.mmd")
        mermaid = run("render", B2B, "--format", "mermaid", "--out", out)
        self.assertEqual(mermaid.returncode, 0)
        self.assertEqual(mermaid.stdout, "")
        with open(out) as f:
            text = f.read()
        self.assertTrue(text.startswith("stateDiagram-v2\n"))
        self.assertIn("[*] --> s0", text)
        self.assertIn("s0 --> s1: contact", text)
        self.assertIn("class s7 won", text)
        if shutil.which("dot"):  # Graphviz, when installed, must accept it
            svg = subprocess.run(["dot", "-Tsvg"], input=dot.stdout,
                                 capture_output=True, text=True)
            self.assertEqual(svg.returncode, 0, svg.stderr)
        run_ = run("render", B2B, "--out", "/no/such/dir/m.dot")
        self.assertEqual(run_.returncode, 1)
        self.assertIn("/no/such/dir/m.dot: cannot write the output (a temporary file beside "
                      "it): No such file or directory", run_.stderr)

    def test_times_outside_years_1_to_9999_are_bad_rows(self):
        # issue 15: a documented range, checked where times are read; a
        # time in milliseconds (a unit mix-up) is the usual culprit.
        events = self.write("ev.csv", "deal,event,time\n"
                            "acme,,2026-01-01\n"
                            "acme,contact,1767225600000\n"
                            "acme,contact,-9223372036854775808\n"
                            "acme,contact,253402300799\n")
        run_ = run("replay", B2B, events)
        self.assertEqual(run_.returncode, 3, run_.stderr)
        self.assertIn('ev.csv:3: time "1767225600000" is outside the times the tool reads '
                      "(years 1 to 9999 UTC: -62135596800 to 253402300799 epoch seconds)",
                      run_.stderr)
        self.assertIn("ev.csv:4: time", run_.stderr)
        self.assertNotIn("ev.csv:5", run_.stderr)  # 9999-12-31T23:59:59Z is in
        self.assertIn("4 rows: 1 accepted, 0 rejected, 2 bad rows", run_.stdout)
        now = run("report", B2B, events, "--now", "10000-01-01")
        self.assertEqual(now.returncode, 2)

    def test_inputs_are_read_once_and_bounded(self):
        # issue 15: `report` sniffed 8 bytes of a FIFO, then read it again
        # without them; /dev/zero was read until std::bad_alloc (exit 134).
        events = self.write("ev.csv", EVENTS_CSV)
        expected = run("report", B2B, events)
        self.assertEqual(expected.returncode, 0, expected.stderr)
        through_fifo = self.through_fifo("report", B2B, "fifo")
        self.assertEqual(through_fifo.returncode, 0, through_fifo.stderr)
        self.assertEqual(through_fifo.stdout, expected.stdout)
        zero = run("replay", B2B, "/dev/zero")
        self.assertEqual(zero.returncode, 1)
        self.assertIn("/dev/zero: more than 67108864 bytes from a pipe or device", zero.stderr)

    def test_a_file_truncated_while_it_is_read_is_an_error_that_says_so(self):
        # issue 15: an event file truncated under `replay` (logrotate's
        # copytruncate) killed it with SIGBUS and no message. Syncing each
        # change to a journal makes the replay slow enough (thousands of
        # rows a second) that the truncation lands while it reads.
        big = os.path.join(self.dir.name, "big.csv")
        made = run("simulate", B2B, "--deals", "20000", "--out", big)
        self.assertEqual(made.returncode, 0, made.stderr)
        journal = os.path.join(self.dir.name, "db")
        proc = subprocess.Popen([CLI, "replay", B2B, big, "--journal", journal, "--sync", "write"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait until it is reading (its journal grows), then cut the file.
        path = os.path.join(journal, "journal-1")
        for _ in range(2000):
            if os.path.exists(path) and os.path.getsize(path) > 4096:
                break
            threading.Event().wait(0.005)
        with open(big, "r+") as f:
            f.truncate(0)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(big + ": the file shrank while it was read (truncated by another "
                      "process", err)

    def test_command_line_conventions(self):
        # issue 16: --version; CMD --help; --opt=value and --; a repeated
        # option refused; "-" for stdin and stdout.
        version = run("--version")
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^salescycle \d+\.\d+\.\d+\n$")
        replay_help = run("replay", "--help")
        self.assertEqual(replay_help.returncode, 0)
        self.assertIn("replay MACHINE EVENTS", replay_help.stdout)
        self.assertIn("Event files:", replay_help.stdout)
        self.assertNotIn("simulate MACHINE", replay_help.stdout)
        self.assertNotIn("report options:", replay_help.stdout)
        self.assertIn("report options:", run("report", "-h").stdout)
        events = self.write("ev.csv", EVENTS_CSV)
        expected = run("report", B2B, events, "--format", "json")
        self.assertEqual(expected.returncode, 0, expected.stderr)
        self.assertEqual(run("report", B2B, events, "--format=json").stdout, expected.stdout)
        twice = run("report", B2B, events, "--format", "json", "--format=csv")
        self.assertEqual(twice.returncode, 2)
        self.assertIn("--format is given twice", twice.stderr)
        self.assertIn("--strict takes no value", run("replay", B2B, events, "--strict=yes").stderr)
        self.assertIn("unknown option -f", run("report", B2B, events, "-f", "json").stderr)
        with open(events) as stdin:
            piped = subprocess.run([CLI, "report", B2B, "-", "--format", "json", "--out", "-"],
                                   stdin=stdin, capture_output=True, text=True, timeout=120)
        self.assertEqual(piped.returncode, 0, piped.stderr)
        self.assertEqual(piped.stdout, expected.stdout)
        self.assertFalse(os.path.exists("-"))  # --out - is stdout, not a file named "-"
        jsonl = subprocess.run([CLI, "replay", B2B, "-"], input=EVENTS_JSONL,
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(jsonl.returncode, 0, jsonl.stderr)  # JSON Lines told by its first line
        self.assertEqual(counts(jsonl.stdout), STAGE_COUNTS)
        self.write("-leading.csv", EVENTS_CSV)
        # After --, a name starting with - is a file.
        after = subprocess.run([CLI, "replay", B2B, "--", "-leading.csv"], cwd=self.dir.name,
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(after.returncode, 0, after.stderr)
        self.assertEqual(counts(after.stdout), STAGE_COUNTS)
        before = subprocess.run([CLI, "replay", B2B, "-leading.csv"], cwd=self.dir.name,
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(before.returncode, 2)  # an option, unknown

    def test_csv_as_rfc_4180_has_it(self):
        # issue 16: quoted line breaks (CRM notes; simulate writes them),
        # a byte order mark, CRLF and CR-only line ends, and a column given
        # twice.
        noted = ("deal,event,time,decision_maker\n"
                 "acme,,2026-01-01,\"CFO,\nsays \"\"call me\"\"\"\n"
                 "acme,contact,2026-01-02,\n"
                 "acme,nonsense,2026-01-03,\n")
        run_ = run("replay", B2B, self.write("noted.csv", noted))
        self.assertEqual(run_.returncode, 3, run_.stderr)
        self.assertIn("3 rows: 1 accepted", run_.stdout)
        # The bad row is on line 5: the quoted field spans lines 2 and 3.
        self.assertIn('noted.csv:5: unknown event "nonsense"', run_.stderr)
        expected = run("report", B2B, self.write("plain.csv", EVENTS_CSV), "--format", "json")
        self.assertEqual(expected.returncode, 0, expected.stderr)
        for name, text in (("bom.csv", "\ufeff" + EVENTS_CSV),
                           ("crlf.csv", EVENTS_CSV.replace("\n", "\r\n")),
                           ("cr.csv", EVENTS_CSV.replace("\n", "\r"))):
            with self.subTest(name):
                path = os.path.join(self.dir.name, name)
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(text)
                got = run("report", B2B, path, "--format", "json")
                self.assertEqual(got.returncode, 0, got.stderr)
                self.assertEqual(got.stdout, expected.stdout)
        twice = run("replay", B2B, self.write("twice.csv", "deal,time,event,budget,budget\n"))
        self.assertEqual(twice.returncode, 1)
        self.assertIn('column "budget" is given twice (columns 4 and 5)', twice.stderr)
        # simulate's own CSV, with line breaks in quoted values, reads back.
        sim = os.path.join(self.dir.name, "sim.csv")
        self.assertEqual(run("simulate", B2B, "--deals", "50", "--out", sim).returncode, 0)
        back = run("replay", B2B, sim, "--strict")
        self.assertEqual(back.returncode, 0, back.stderr)

    def test_bash_completion_reads_the_tools_own_help(self):
        # issue 16: bash completion, installed; it asks the tool, so it
        # cannot go out of date.
        completion = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                  "src", "cli", "salescycle.bash-completion")
        if not shutil.which("bash"):
            self.skipTest("no bash")

        def complete(*words):
            script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                      '_salescycle; printf "%s\\n" "${COMPREPLY[@]}"')
            env = dict(os.environ, PATH=os.path.dirname(CLI) + os.pathsep + os.environ["PATH"])
            out = subprocess.run(["bash", "-c", script, "bash", completion, *words],
                                 capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            return sorted(out.stdout.split())

        self.assertEqual(complete("salescycle", "re"), ["render", "replay", "report"])
        self.assertIn("--journal", complete("salescycle", "replay", "--j"))
        self.assertEqual(complete("salescycle", "merge", "--m"), ["--machine"])

    def test_replay_into_a_journal(self):
        # issue 15: the rows go into a durable pipeline; a second replay
        # recovers it and goes on; a torn tail is dropped and said; damage
        # before the end is refused, saying where.
        events = self.write("ev.csv", EVENTS_CSV)
        journal = os.path.join(self.dir.name, "db")
        first = run("replay", B2B, events, "--journal", journal)
        self.assertEqual(first.returncode, 0, first.stderr)
        lines = first.stdout.splitlines()
        self.assertEqual(lines[0], "journal %s: new" % journal)
        self.assertEqual(counts("\n".join(lines[1:])), counts(run("replay", B2B, events).stdout))
        self.assertEqual(sorted(os.listdir(journal)), ["LOCK", "journal-1", "snapshot-1"])
        more = self.write("more.csv", "deal,event,time\nhooli,contact,2026-03-01\n")
        snapshot = os.path.join(self.dir.name, "after.snap")
        second = run("replay", B2B, more, "--journal", journal, "--sync", "write",
                     "--snapshot-out", snapshot)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertRegex(second.stdout.splitlines()[0],
                         r"^journal .*: recovered snapshot-1 \(0 deals\) and \d+ journaled "
                         r"changes$")
        self.assertIn("4 deals", second.stdout)
        report = run("report", B2B, snapshot)
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertIn("4 deals", report.stdout)
        path = os.path.join(journal, "journal-1")
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 3)
        torn = run("replay", B2B, more, "--journal", journal, "--sync", "5")
        self.assertEqual(torn.returncode, 0, torn.stderr)
        self.assertIn("a torn tail of", torn.stdout.splitlines()[0])
        self.assertIn("cut short at offset", torn.stdout.splitlines()[0])
        with open(path, "r+b") as f:
            f.seek(40)
            byte = f.read(1)
            f.seek(40)
            f.write(bytes([byte[0] ^ 0xFF]))
        damaged = run("replay", B2B, more, "--journal", journal)
        self.assertEqual(damaged.returncode, 1)
        self.assertIn("journal-1: a checksum mismatch", damaged.stderr)
        self.assertIn("at offset 16 (record 1;", damaged.stderr)
        bad = run("replay", B2B, more, "--journal", journal, "--sync", "0")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--sync is write, none or the milliseconds", bad.stderr)
        self.assertEqual(run("replay", B2B, more, "--sync", "none").returncode, 2)

    def test_what_is_saved_loads(self):
        # One history limit for writing and reading (issue 15): a history
        # past the old load default of 1024 saves and reads back.
        events = self.write("ev.csv", EVENTS_CSV)
        snapshot = os.path.join(self.dir.name, "deep.snap")
        self.assertEqual(run("replay", B2B, events, "--history", "2000",
                             "--snapshot-out", snapshot).returncode, 0)
        report = run("report", B2B, snapshot)
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertIn("3 deals", report.stdout)

    def test_a_missing_file_is_called_missing(self):
        missing = os.path.join(self.dir.name, "nowhere.snap")
        run_ = run("report", missing)
        self.assertEqual(run_.returncode, 1)
        self.assertIn(missing + ": cannot read: No such file or directory", run_.stderr)
        not_one = run("report", self.write("notes.txt", "not a snapshot"))
        self.assertEqual(not_one.returncode, 2)
        self.assertIn("is not a snapshot: give MACHINE EVENTS", not_one.stderr)

    def test_writes_are_checked_and_whole(self):
        # A full disk behind stdout is an error exit that says so (issue 15).
        if os.path.exists("/dev/full"):
            with open("/dev/full", "w") as full:
                run_ = subprocess.run([CLI, "render", B2B], stdout=full,
                                      stderr=subprocess.PIPE, text=True, timeout=120)
            self.assertEqual(run_.returncode, 1)
            self.assertIn("cannot write to stdout: No space left on device", run_.stderr)
        # --out replaces a file whole, by a rename, and leaves nothing beside it.
        out = self.write("m.dot", "an older, longer file " * 1000)
        self.assertEqual(run("render", B2B, "--out", out).returncode, 0)
        with open(out) as f:
            self.assertTrue(f.read().startswith("digraph"))
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["m.dot"])

    def test_render_what_crms_add(self):
        # b2b: entry stages (dashed from the start), activities in the
        # stage's label, a new cycle (bold).
        dot = run("render", B2B).stdout
        self.assertIn('__start -> "prospecting";', dot)
        self.assertIn('__start -> "qualification" [style=dashed];', dot)
        self.assertIn('Qualification\\n20%\\n(call, email, meeting)', dot)
        self.assertIn('"follow_up" -> "qualification" [label="repurchase", style="bold"];',
                      dot)
        # b2b's "lose" from every open stage is one edge from the box of open
        # stages, not one edge per stage.
        self.assertIn('-> "lost" [ltail=cluster_free, label="lose"];', dot)
        self.assertEqual(dot.count('label="lose"'), 1)
        self.assertIn("an edge from this box leaves from every stage in it", dot)
        # Free movement: one group and an edge from it to each closed stage,
        # not 56 edges between 8 open stages.
        crm = os.path.join(os.environ["SC_MACHINES_DIR"], "crm_opportunity.textproto")
        dot = run("render", crm).stdout
        self.assertIn("subgraph cluster_free", dot)
        self.assertIn("moves by stage between any two stages of the group", dot)
        self.assertEqual(dot.count(" -> "), 8 + 2)  # the 8 entry stages, 2 closed
        self.assertIn('-> "closed_won" [ltail=cluster_free, style=dotted', dot)
        deal = os.path.join(os.environ["SC_MACHINES_DIR"], "crm_deal.textproto")
        self.assertIn("to any later stage of the group", run("render", deal).stdout)
        mermaid = run("render", crm, "--format", "mermaid").stdout
        self.assertIn("note right of s0 : moves by stage to any other open stage and to "
                      "Closed Won, Closed Lost, activities call, email, meeting", mermaid)
        if shutil.which("dot"):
            for text in (dot, run("render", deal).stdout):
                svg = subprocess.run(["dot", "-Tsvg"], input=text,
                                     capture_output=True, text=True)
                self.assertEqual(svg.returncode, 0, svg.stderr)

    # ---- replay

    def test_replay_csv_and_jsonl_agree(self):
        csv = run("replay", B2B, self.write("ev.csv", EVENTS_CSV))
        jsonl = run("replay", B2B, self.write("ev.jsonl", EVENTS_JSONL))
        for run_ in (csv, jsonl):
            self.assertEqual(run_.returncode, 0, run_.stderr)
            self.assertIn("9 rows: 8 accepted, 0 rejected, 0 bad rows; 3 deals; 1 timeouts fired",
                          run_.stdout)
            self.assertEqual(counts(run_.stdout), STAGE_COUNTS)

    def test_replay_reads_pipes_and_empty_files(self):
        # Regular files are mapped; a pipe cannot be, and is read instead.
        piped = self.through_fifo("replay", B2B, "piped.csv")
        self.assertEqual(piped.returncode, 0, piped.stderr)
        self.assertEqual(counts(piped.stdout), STAGE_COUNTS)
        empty = run("replay", B2B, self.write("empty.csv", ""))
        self.assertEqual(empty.returncode, 1, empty.stderr)
        self.assertIn("empty.csv:1: the file is empty: no header row", empty.stderr)

    def test_bad_rows_are_reported_and_skipped(self):
        rows = EVENTS_CSV.splitlines()
        rows.insert(3, "acme,presnt,2026-01-06,,,,,,")
        rows.insert(4, "acme,,2026-01-06,lots,,,,,")
        rows.insert(5, "acme,contact,yesterday,,,,,,")
        rows.insert(6, "acme,contact")
        path = self.write("bad.csv", "\n".join(rows) + "\n")
        run_ = run("replay", B2B, path)
        self.assertEqual(run_.returncode, 3)
        self.assertIn("13 rows: 8 accepted, 0 rejected, 4 bad rows", run_.stdout)
        self.assertEqual(counts(run_.stdout), STAGE_COUNTS)
        self.assertIn('bad.csv:4: unknown event "presnt"', run_.stderr)
        self.assertIn('bad.csv:5: attribute "budget": "lots" is not int64', run_.stderr)
        self.assertIn('bad.csv:6: time "yesterday" is neither epoch seconds nor ISO 8601',
                      run_.stderr)
        self.assertIn("bad.csv:7: 2 fields; the header has 9", run_.stderr)
        strict = run("replay", B2B, path, "--strict")
        self.assertEqual(strict.returncode, 1)
        self.assertIn('bad.csv:4: unknown event "presnt" (--strict)', strict.stderr)
        jsonl = self.write("bad.jsonl", '{"deal": "a", "time": 1}\nnot json\n'
                           '{"deal": "a", "time": 2, "set": {"nope": 1}}\n'
                           # Found by the fuzzer: a number past int64 was
                           # undefined behaviour.
                           '{"deal": "a", "time": 1.78618e19}\n'
                           '{"deal": "a", "time": 3, "set": {"budget": 1e300}}\n'
                           '{"deal": "a", "time": 4.5}\n')
        run_ = run("replay", B2B, jsonl)
        self.assertEqual(run_.returncode, 3)
        self.assertIn("bad.jsonl:2: not a JSON object", run_.stderr)
        self.assertIn('bad.jsonl:3: unknown attribute "nope"', run_.stderr)
        self.assertIn('bad.jsonl:4: time "1.78618e+19" is neither', run_.stderr)
        self.assertIn('bad.jsonl:5: attribute "budget": "1e+300" is not int64', run_.stderr)
        self.assertIn('bad.jsonl:6: time "4.5" is neither', run_.stderr)

    def test_jsonl_numbers_are_exact_and_parsing_linear(self):
        # Issue 15: ids past 2^53 went through a double (4 ids, 2 deals);
        # decimals were rounded to 6 digits; nested arrays took quadratic
        # time; a key given twice was taken silently.
        rows = [{"deal": 2**53 + k, "time": 1767225600} for k in range(4)]
        rows.append({"deal": 2**53 + 1, "event": "contact", "time": 1767225700,
                     "set": {"deal_value": 93454.37, "decision_maker": "Jos\u00e9 \ud83d\ude00"}})
        text = "\n".join(json.dumps(r) for r in rows) + "\n"
        path = self.write("big.jsonl", text)
        replay = run("replay", B2B, path)
        self.assertEqual(replay.returncode, 0, replay.stderr)
        self.assertIn("4 deals", replay.stdout)
        by = run("report", B2B, path, "--by", "deal_value", "--format", "json")
        self.assertEqual(by.returncode, 0, by.stderr)
        self.assertIn("93454.37", [s["value"] for s in json.loads(by.stdout)["breakdown"]])
        maker = json.loads(run("report", B2B, path, "--by", "decision_maker",
                               "--format", "json").stdout)["breakdown"]
        self.assertIn("Jos\u00e9 \U0001F600", [s["value"] for s in maker])
        # 2 MB of nesting and arrays in a member nobody reads: one pass.
        deep = '{"deal": "a", "time": 1, "notes": %s}' % ("[" * 60 + "1" + "]" * 60)
        wide = '{"deal": "b", "time": 1, "notes": [%s]}' % ",".join(["[1, 2]"] * 250000)
        too_deep = '{"deal": "c", "time": 1, "notes": %s}' % ("[" * 100000 + "]" * 100000)
        twice = '{"deal": "d", "time": 1, "time": 2}'
        path = self.write("shapes.jsonl", "\n".join([deep, wide, too_deep, twice]) + "\n")
        shapes = run("replay", B2B, path)
        self.assertEqual(shapes.returncode, 3)
        self.assertIn("2 deals", shapes.stdout)
        self.assertIn("shapes.jsonl:3: not a JSON object: nested deeper than 64", shapes.stderr)
        self.assertIn('shapes.jsonl:4: not a JSON object: "time" given twice', shapes.stderr)

    def test_bad_headers_and_files(self):
        for header, message in (("deal,time", "the columns deal, time, and event or "
                                              "stage (or both) are required"),
                                ("deal,event,time,colour",
                                 'column "colour" is neither deal, event, stage, time nor '
                                 'an attribute')):
            run_ = run("replay", B2B, self.write("h.csv", header + "\n"))
            self.assertEqual(run_.returncode, 1)
            self.assertIn("h.csv:1: header: " + message, run_.stderr)
        run_ = run("replay", B2B, self.write("empty.csv", ""))
        self.assertEqual(run_.returncode, 1)
        self.assertIn("no header row", run_.stderr)
        run_ = run("replay", B2B, "/no/such/events.csv")
        self.assertEqual(run_.returncode, 1)
        self.assertIn("/no/such/events.csv", run_.stderr)

    def test_progress_and_snapshot(self):
        snapshot = os.path.join(self.dir.name, "p.scp")
        # Bytes: text mode would turn the carriage return into a newline.
        run_ = subprocess.run([CLI, "replay", B2B, self.write("ev.csv", EVENTS_CSV),
                               "--progress", "--snapshot-out", snapshot],
                              capture_output=True)
        self.assertEqual(run_.returncode, 0)
        self.assertIn(b"\rreplay: 9 rows (100%)", run_.stderr)
        with open(snapshot, "rb") as f:
            self.assertEqual(f.read(8), b"SCPIPE\r\n")
        # simulate too (issue 16), and neither shows it when asked not to.
        sim = subprocess.run([CLI, "simulate", B2B, "--deals", "30", "--progress"],
                             capture_output=True)
        self.assertEqual(sim.returncode, 0)
        self.assertIn(b"\rsimulate: 30 deals (100%)\n", sim.stderr)
        quiet = subprocess.run([CLI, "simulate", B2B, "--deals", "30", "--no-progress"],
                               capture_output=True)
        self.assertNotIn(b"\r", quiet.stderr)

    # ---- simulate

    def test_simulate(self):
        a = run("simulate", B2B, "--deals", "50", "--seed", "7")
        b = run("simulate", B2B, "--deals", "50", "--seed", "7")
        c = run("simulate", B2B, "--deals", "50", "--seed", "8")
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout)  # a seed makes the same stream
        self.assertNotEqual(a.stdout, c.stdout)
        self.assertTrue(a.stdout.startswith("deal,event,stage,time,budget,authority,"))
        self.assertIn("simulate: 50 deals,", a.stderr)
        rows = a.stdout.splitlines()[1:]
        times = [int(r.split(",")[3]) for r in rows]
        self.assertEqual(times, sorted(times))
        self.assertTrue(all(1767225600 <= t <= 1767225600 + 365 * 86400 for t in times))
        self.assertEqual(len({r.split(",")[0] for r in rows}), 50)
        # The same stream as JSONL replays to the same stages.
        csv = self.write("s.csv", a.stdout)
        jsonl = self.write("s.jsonl", run("simulate", B2B, "--deals", "50", "--seed", "7",
                                          "--format", "jsonl").stdout)
        from_csv, from_jsonl = run("replay", B2B, csv), run("replay", B2B, jsonl)
        self.assertEqual(from_csv.returncode, 0, from_csv.stderr)
        self.assertEqual(counts(from_csv.stdout), counts(from_jsonl.stdout))
        # Per-stage conversion and delays, ranges, a start and a period.
        run_ = run("simulate", B2B, "--deals", "20", "--conversion", "qualification=0.9",
                   "--delay", "2", "--range", "budget=20000..30000", "--start",
                   "2027-01-01", "--days", "30")
        self.assertEqual(run_.returncode, 0, run_.stderr)
        budgets = [int(r.split(",")[4]) for r in run_.stdout.splitlines()[1:]
                   if r.split(",")[4]]
        self.assertTrue(budgets and all(20000 <= v <= 30000 for v in budgets))

    def test_simulate_gives_b2b_figures(self):
        # The sample's command, smaller: a win rate of 15-30% of closed deals
        # and cycles of 30-120 days, losses with reasons, activities, deals
        # created in later entry stages, repeat purchases.
        events = self.write("b2b.csv", run(
            "simulate", B2B, "--deals", "2000", "--seed", "5", "--range",
            "budget=2000..200000,timeline_days=14..240,deal_value=5000..120000,"
            "discount_pct=0..30").stdout)
        total = json.loads(run("report", B2B, events, "--format", "json").stdout)["total"]
        self.assertTrue(0.15 <= total["win_rate"] <= 0.30, total["win_rate"])
        self.assertTrue(30 <= total["average_cycle_days"] <= 120,
                        total["average_cycle_days"])
        with open(events) as f:
            rows = [line.split(",") for line in f.read().splitlines()[1:]]
        reasons = {r[-1] for r in rows if r[-1]}
        self.assertEqual(reasons, {"No decision", "Price", "Competitor", "Timing",
                                   "No budget", "Product fit"})
        kinds = {r[1] for r in rows}
        self.assertTrue({"call", "email", "meeting", "repurchase", "lose"} <= kinds, kinds)
        self.assertIn("qualification", {r[2] for r in rows})  # created there
        # Where every stage may move to any other (a CRM's free movement),
        # moves forward are mostly to the next stage, and about a tenth skip
        # one (the old simulator, picking targets at random, skipped 55%).
        crm = os.path.join(os.environ["SC_MACHINES_DIR"], "crm_opportunity.textproto")
        order = [line.split('"')[1] for line in open(crm)
                 if line.startswith("stages {")]
        history = run("simulate", crm, "--deals", "2000", "--seed", "5", "--rows",
                      "stages").stdout.splitlines()[1:]
        last, forward, skips = {}, 0, 0
        for r in history:
            deal, stage = r.split(",")[0], r.split(",")[2]
            before = last.get(deal)
            last[deal] = stage
            if before in order[:8] and stage in order[:9] and \
                    order.index(stage) > order.index(before):
                forward += 1
                skips += order.index(stage) - order.index(before) > 1
        self.assertGreater(forward, 1000)
        self.assertTrue(0.05 < skips / forward < 0.25, skips / forward)

    def test_simulate_stage_history_is_the_same_history(self):
        # --rows stages writes the same deals' history as a CRM exports it:
        # the stage after each step. It replays to the same state.
        for machine in (B2B, os.path.join(os.environ["SC_MACHINES_DIR"],
                                          "ecommerce.textproto")):
            with self.subTest(machine=machine):
                outs = []
                for rows in ("events", "stages"):
                    path = self.write("h_%s.csv" % rows, run(
                        "simulate", machine, "--deals", "500", "--seed", "9",
                        "--rows", rows).stdout)
                    replay = run("replay", machine, path)
                    self.assertEqual(replay.returncode, 0, replay.stderr)
                    outs.append(counts(replay.stdout.split("\n", 1)[1]))
                self.assertEqual(outs[0], outs[1])
        with open(self.dir.name + "/h_stages.csv") as f:
            header, first = f.read().splitlines()[:2]
        self.assertTrue(header.startswith("deal,event,stage,time"))
        self.assertEqual(first.split(",")[1], "")  # no events, only stages

    def test_simulate_rates_per_stage(self):
        # Every move forward out of prospecting skips qualification.
        crm = os.path.join(os.environ["SC_MACHINES_DIR"], "crm_opportunity.textproto")
        run_ = run("simulate", crm, "--deals", "300", "--seed", "3", "--rows", "stages",
                   "--skip", "prospecting=1", "--back", "0", "--later-entry", "0")
        self.assertEqual(run_.returncode, 0, run_.stderr)
        last, after_prospecting = {}, []
        for r in run_.stdout.splitlines()[1:]:
            deal, stage = r.split(",")[0], r.split(",")[2]
            if last.get(deal) == "prospecting" and stage != "prospecting":
                after_prospecting.append(stage)
            last[deal] = stage
        self.assertGreater(len(after_prospecting), 100)
        self.assertNotIn("qualification", after_prospecting)
        self.assertIn("needs_analysis", after_prospecting)

    def test_simulate_as_of_now(self):
        run_ = run("simulate", B2B, "--deals", "300", "--seed", "2", "--now", "2026-03-01")
        self.assertEqual(run_.returncode, 0, run_.stderr)
        self.assertIn("(as of 2026-03-01T00:00:00Z: nothing later)", run_.stderr)
        times = [int(r.split(",")[3]) for r in run_.stdout.splitlines()[1:]]
        self.assertTrue(times and max(times) <= 1772323200)  # 2026-03-01
        self.assertLess(len({r.split(",")[0] for r in run_.stdout.splitlines()[1:]}), 300)

    def test_simulate_usage_errors(self):
        for args, message in ((["--deals", "0"], "--deals takes a number from 1"),
                              ([], "--deals takes a number from 1"),
                              (["--deals", "5", "--conversion", "1.5"],
                               '--conversion: "1.5" is not a number from 0 to 1'),
                              (["--deals", "5", "--conversion", "nowhere=0.5"],
                               'has no stage "nowhere"'),
                              (["--deals", "5", "--delay", "-1"], "--delay"),
                              (["--deals", "5", "--range", "decision_maker=1..2"],
                               "is not NUMERIC_ATTRIBUTE=LO..HI"),
                              (["--deals", "5", "--range", "budget=9..1"],
                               "is not NUMERIC_ATTRIBUTE=LO..HI"),
                              (["--deals", "5", "--days", "0"], "--days takes"),
                              (["--deals", "5", "--format", "xml"], "--format is csv or jsonl"),
                              (["--deals", "5", "--start", "soon"], "--start: time"),
                              (["--deals", "5", "--start", "99999999999999"],
                               '--start: time "99999999999999" is outside the times the tool '
                               'reads (years 1 to 9999 UTC'),
                              (["--deals", "5", "--start", "9223372036854775807"],
                               "is outside the times the tool reads"),
                              (["--deals", "5", "--skip", "nan"],
                               '--skip: "nan" is not a number from 0 to 1'),
                              (["--deals", "5", "--back", "closing=2"],
                               '--back: "2" is not a number from 0 to 1'),
                              (["--deals", "5", "--rows", "both"], "--rows is events or stages"),
                              (["--deals", "5", "--conversion", "0.5", "--win-rate", "0.3"],
                               "give --conversion or --win-rate, not both")):
            with self.subTest(args=args):
                run_ = run("simulate", B2B, *args)
                self.assertEqual(run_.returncode, 2, run_.stderr)
                self.assertIn(message, run_.stderr)

    # ---- report

    def test_report_formats(self):
        events = self.write("ev.csv", EVENTS_CSV)
        table = run("report", B2B, events, "--value", "deal_value")
        self.assertEqual(table.returncode, 0, table.stderr)
        # globex goes cold on 2026-01-15 (b2b's 14-day timeout).
        self.assertIn("b2b v1 funnel as of 2026-01-31: 3 deals, 3 live, 0 open", table.stdout)
        self.assertIn("win rate 33.3% (1 won, 2 lost)", table.stdout)
        report = json.loads(run("report", B2B, events, "--format", "json",
                                "--value", "deal_value").stdout)
        total = report["total"]
        self.assertEqual((total["won"], total["lost"], total["deals"]), (1, 2, 3))
        self.assertEqual(total["average_deal_value"], 48000)
        self.assertAlmostEqual(total["average_cycle_days"], 24.0)
        self.assertEqual(total["stages"][0]["entered"], 3)
        table_csv = run("report", B2B, events, "--format", "csv", "--cohort", "month").stdout
        lines = table_csv.splitlines()
        # all, then 2026-01: initech came at 2026-02-01T00:00+01:00, which is
        # still January in UTC.
        self.assertEqual(len(lines), 1 + 10 * 2)
        self.assertTrue(lines[1].startswith("all,prospecting,open,3,"))
        self.assertTrue(any(line.startswith("2026-01,lost,lost,2,") for line in lines))
        weekly = run("report", B2B, events, "--cohort", "week").stdout
        self.assertIn("2026-W01", weekly)
        self.assertIn("2026-W05", weekly)
        flow = os.path.join(self.dir.name, "flow.dot")
        self.assertEqual(run("report", B2B, events, "--flow", flow).returncode, 0)
        with open(flow) as f:
            text = f.read()
        self.assertIn('"prospecting" -> "lost" [label="', text)
        if shutil.which("dot"):
            svg = subprocess.run(["dot", "-Tsvg", flow], capture_output=True, text=True)
            self.assertEqual(svg.returncode, 0, svg.stderr)
        by = run("report", B2B, events, "--by", "decision_maker", "--format", "json")
        self.assertEqual(by.returncode, 0, by.stderr)
        segments = json.loads(by.stdout)["breakdown"]
        self.assertEqual(sum(s["deals"] for s in segments), 3)
        self.assertIn("by decision_maker (live deals)",
                      run("report", B2B, events, "--by", "decision_maker").stdout)
        by_csv = os.path.join(self.dir.name, "by.csv")
        self.assertEqual(run("report", B2B, events, "--by", "decision_maker",
                             "--by-csv", by_csv).returncode, 0)
        with open(by_csv, newline="") as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0][:4], ["value", "set", "other", "deals"])
        self.assertIn("reached:prospecting", rows[0])
        self.assertEqual(sum(int(r[3]) for r in rows[1:]), 3)
        alone = run("report", B2B, events, "--by-csv", by_csv)
        self.assertEqual(alone.returncode, 2)
        self.assertIn("--by-csv writes the breakdown --by ATTRIBUTE asks for", alone.stderr)
        missing = run("report", B2B, events, "--by", "region")
        self.assertEqual(missing.returncode, 1)
        self.assertIn('has no attribute "region"', missing.stderr)
        closed = run("report", B2B, events, "--cohort", "month", "--format", "json",
                     "--closed-from", "2026-01-01", "--closed-to", "2026-02-01")
        self.assertEqual(closed.returncode, 0, closed.stderr)
        report = json.loads(closed.stdout)
        self.assertTrue(report["close_window"])
        # acme won on 2026-01-25; initech was lost at 2026-01-31T23:00 UTC,
        # and globex went cold (the template's timeout) in January too.
        self.assertEqual([(p["label"], p["won"], p["lost"]) for p in report["closes"]],
                         [("2026-01", 1, 2)])
        self.assertEqual(report["closed"]["label"], "2026-01-01 to 2026-01-31")
        unaligned = run("report", B2B, events, "--cohort", "month", "--closed-from", "2026-01-15")
        self.assertEqual(unaligned.returncode, 1)
        self.assertIn("does not start a month", unaligned.stderr)
        quarterly = run("report", B2B, events, "--cohort", "quarter").stdout
        self.assertRegex(quarterly, r"\n2026-Q1 +3 ")
        out = os.path.join(self.dir.name, "report.txt")
        svg = os.path.join(self.dir.name, "funnel.svg")
        dot = os.path.join(self.dir.name, "machine.dot")
        self.assertEqual(run("report", B2B, events, "--out", out, "--svg", svg,
                             "--dot", dot).stdout, "")
        with open(out) as f:
            self.assertIn("biggest leak", f.read())
        with open(svg) as f:
            self.assertTrue(f.read().startswith("<svg "))
        with open(dot) as f:
            self.assertTrue(f.read().startswith('digraph "b2b"'))
        self.assertTrue(run("report", B2B, events, "--format", "svg").stdout.startswith("<svg "))
        run_ = run("report", B2B, events, "--svg", "/no/such/dir/f.svg")
        self.assertEqual(run_.returncode, 1)
        self.assertIn("/no/such/dir/f.svg: cannot write", run_.stderr)

    def test_rejections_in_plain_sight(self):
        # Two losses of a deal already won: rejected, and said so. Steps: 8
        # events and globex's timeout accepted, the 2 losses rejected.
        events = self.write("ev.csv", EVENTS_CSV + "acme,lose,2026-01-26,,,,,,\n"
                                                   "acme,lose,2026-01-27,,,,,,\n")
        table = run("report", B2B, events)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("rejected: 2 of 11 steps (18.2%)", table.stdout)
        self.assertRegex(table.stdout, r"won +lose +no_transition +2")
        report = json.loads(run("report", B2B, events, "--format", "json").stdout)
        self.assertEqual(report["total"]["rejected_steps"], 2)
        self.assertEqual(report["total"]["rejections"][0],
                         {"stage": "won", "event": "lose", "target": "",
                          "outcome": "no_transition", "count": 2})
        # An error exit past a share of rejections, or at any with 0.
        for args, code in ((("--max-rejected", "0"), 4), (("--max-rejected", "0.2"), 0),
                           (("--max-rejected", "0.1"), 4)):
            run_ = run("report", B2B, events, *args)
            self.assertEqual(run_.returncode, code, (args, run_.stderr))
        run_ = run("report", B2B, events, "--max-rejected", "0.1")
        self.assertIn("2 of 11 steps rejected (18.2%), more than --max-rejected 0.1",
                      run_.stderr)
        self.assertEqual(run("replay", B2B, events, "--max-rejected", "0").returncode, 4)
        self.assertEqual(run("replay", B2B, events, "--max-rejected", "2").returncode, 2)

    def test_report_stalled_deals_now(self):
        # q has sat in qualification since 2026-01-05; its stall limit is 21
        # days and it has no timeout.
        events = self.write("ev.csv", "deal,event,time\n"
                                      "q,contact,2026-01-01\nq,qualify,2026-01-05\n")
        early = json.loads(run("report", B2B, events, "--format", "json",
                               "--now", "2026-01-20").stdout)
        late = json.loads(run("report", B2B, events, "--format", "json",
                              "--now", "2026-03-01").stdout)
        self.assertEqual(early["total"]["stages"][2]["stalled"], 0)
        self.assertEqual(late["total"]["stages"][2]["stalled"], 1)

    def test_now_is_as_of(self):
        events = self.write("ev.csv", EVENTS_CSV)
        # As of 2026-01-16: globex went cold the day before; acme's close
        # (01-20) and win (01-25) and initech's loss (02-01) are later rows,
        # not applied: acme is still negotiating, initech is not there yet.
        run_ = run("replay", B2B, events, "--now", "2026-01-16")
        self.assertEqual(run_.returncode, 0, run_.stderr)
        self.assertIn("as of 2026-01-16T00:00:00Z (--now): 3 rows after it not applied\n"
                      "9 rows: 5 accepted, 0 rejected, 0 bad rows; 2 deals", run_.stdout)
        self.assertEqual(counts(run_.stdout.split("\n", 1)[1]),
                         {"negotiation": 1, "lost": 1})
        self.assertIn("1 timeouts fired", run_.stdout)
        report = run("report", B2B, events, "--format", "json", "--now", "2026-01-16")
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertEqual(json.loads(report.stdout)["total"]["lost"], 1)
        self.assertIn("3 rows after it not applied", report.stderr)
        # Before the timeout is due, nothing fires.
        run_ = run("replay", B2B, events, "--now", "2026-01-14")
        self.assertIn("0 timeouts fired", run_.stdout)

    def test_stage_history_files(self):
        crm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                           "crm.textproto")
        rows = ("deal,stage,time,amount,lost_reason\n"
                "a,lead,2026-01-01,,\n"
                "a,qualified,2026-01-03,,\n"
                "a,qualified,2026-01-04,,\n"     # an update, not a move
                "b,demo,2026-01-02,,\n"          # created in an entry stage
                "a,won,2026-01-10,5000,\n"
                "c,proposal,2026-01-11,,\n"      # not an entry stage
                "b,lost,2026-01-20,,\n")         # b went cold on 01-02 already
        csv = run("replay", crm, self.write("h.csv", rows))
        self.assertEqual(csv.returncode, 3, csv.stderr)
        # Accepted: two moves of a, a's update, and b's "lost" row, an update
        # of the deal its timeout lost; the creations are not steps.
        self.assertIn("7 rows: 4 accepted, 0 rejected, 1 bad rows; 2 deals; 1 timeouts fired",
                      csv.stdout)
        self.assertIn('h.csv:7: deal "c": stage "proposal" is not an entry stage of '
                      'machine "crm" (deals may be created in: lead, demo): add the stage '
                      "to the machine's entry_stages", csv.stderr)
        self.assertEqual(counts(csv.stdout), {"won": 1, "lost": 1})
        jsonl = "\n".join(json.dumps(r) for r in [
            {"deal": "a", "stage": "lead", "time": "2026-01-01"},
            {"deal": "a", "stage": "won", "time": "2026-01-02"},
            {"deal": "a", "event": "call", "stage": "lead", "time": "2026-01-03"},
        ]) + "\n"
        run_ = run("replay", crm, self.write("h.jsonl", jsonl))
        self.assertIn('h.jsonl:2: ', run_.stderr + "h.jsonl:2: ")  # won needs amount:
        self.assertIn("1 rejected", run_.stdout)                   # a rejection, not a bad row
        self.assertIn('h.jsonl:3: the row names both an event ("call") and a stage ("lead")',
                      run_.stderr)

    def test_report_from_a_snapshot(self):
        snapshot = os.path.join(self.dir.name, "p.scp")
        self.assertEqual(run("replay", B2B, self.write("ev.csv", EVENTS_CSV),
                             "--snapshot-out", snapshot).returncode, 0)
        run_ = run("report", B2B, snapshot, "--format", "json")
        self.assertEqual(run_.returncode, 0, run_.stderr)
        total = json.loads(run_.stdout)["total"]
        self.assertEqual((total["won"], total["lost"]), (1, 2))
        alone = run("report", snapshot, "--format", "json")
        self.assertEqual(alone.returncode, 0, alone.stderr)
        self.assertEqual(json.loads(alone.stdout)["total"], total)
        # The snapshot keeps the funnel: the same report as from the events,
        # byte for byte, in every format.
        for fmt in ("table", "json", "csv"):
            self.assertEqual(run("report", B2B, snapshot, "--format", fmt).stdout,
                             run("report", B2B, self.write("ev.csv", EVENTS_CSV),
                                 "--format", fmt).stdout, fmt)
        weekly = os.path.join(self.dir.name, "weekly.scp")
        self.assertEqual(run("replay", B2B, self.write("ev.csv", EVENTS_CSV),
                             "--snapshot-out", weekly, "--cohort", "week").returncode, 0)
        self.assertEqual(run("report", weekly, "--cohort", "week").stdout,
                         run("report", B2B, self.write("ev.csv", EVENTS_CSV),
                             "--cohort", "week").stdout)
        self.assertIn("2026-W01", run("report", weekly).stdout)  # kept by week
        month = run("report", weekly, "--cohort", "month")
        self.assertEqual(month.returncode, 2)
        self.assertIn("the snapshot's funnel was not kept by it", month.stderr)
        not_snapshot = run("report", self.write("ev2.csv", EVENTS_CSV))
        self.assertEqual(not_snapshot.returncode, 2)
        self.assertIn("is not a snapshot: give MACHINE EVENTS", not_snapshot.stderr)
        cohort = run("report", B2B, snapshot, "--cohort", "week")
        self.assertEqual(cohort.returncode, 2)
        damaged = self.write("damaged.scp", "SCPIPE\r\n" + "x" * 40)
        run_ = run("report", B2B, damaged)
        self.assertEqual(run_.returncode, 1)
        self.assertIn("damaged.scp", run_.stderr)

    def test_shards_states_merge_into_the_whole(self):
        # The sample split by deal into three shards: each reported with
        # --state-out, the states merged, and the merged state's report is
        # the report of the whole file, byte for byte.
        sample = os.path.join(os.environ["SC_MACHINES_DIR"], "..", "data", "b2b_2026.csv")
        with open(sample, newline="") as f:
            rows = list(csv.reader(f))
        shards = [[rows[0]] for _ in range(3)]
        for row in rows[1:]:
            shards[int(row[0][1:]) % 3].append(row)
        fixed = ["--now", "2026-12-31", "--value", "deal_value", "--by", "decision_maker",
                 "--cohort", "quarter"]
        states = []
        for i, shard in enumerate(shards):
            path = os.path.join(self.dir.name, "shard%d.csv" % i)
            with open(path, "w", newline="") as f:
                csv.writer(f).writerows(shard)
            states.append(os.path.join(self.dir.name, "shard%d.state" % i))
            r = run("report", B2B, path, *fixed, "--state-out", states[-1])
            self.assertEqual(r.returncode, 0, r.stderr)
        merged = os.path.join(self.dir.name, "all.state")
        r = run("merge", states[2], states[0], states[1], "--out", merged)
        self.assertEqual(r.returncode, 0, r.stderr)
        for fmt in ("table", "json", "csv"):
            self.assertEqual(run("report", merged, "--format", fmt).stdout,
                             run("report", B2B, sample, *fixed, "--format", fmt).stdout, fmt)
        self.assertEqual(run("report", B2B, merged).stdout, run("report", merged).stdout)
        # What a state was captured with is fixed; states captured as of
        # other moments do not merge; a file that is not a state is named.
        r = run("report", merged, "--value", "deal_value")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--value was fixed when the state was captured", r.stderr)
        other = os.path.join(self.dir.name, "other.state")
        run("report", B2B, os.path.join(self.dir.name, "shard0.csv"), *fixed[2:],
            "--now", "2026-06-30", "--state-out", other)
        r = run("merge", states[0], other, "--out", os.path.join(self.dir.name, "x.state"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("other.state: funnel states of different moments", r.stderr)
        r = run("merge", states[0], sample, "--out", os.path.join(self.dir.name, "x.state"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("b2b_2026.csv: funnel state: bad magic", r.stderr)
        self.assertEqual(run("merge", states[0], "--out", merged).returncode, 2)

    def test_a_format_1_snapshot_reports_as_the_same_events_do_now(self):
        # tests/data/format_v1: events and the snapshot that the release
        # before format 2 wrote from them with b2b (replay --history 4). That
        # release fired no timeouts in replay; this one does, so the events
        # replay to the same state with b2b less its timeouts. Each snapshot
        # is reported with the machine it carries. The old one's funnel is
        # replayed from 4 steps of history a deal, so only what the deals'
        # state says can agree; the new one keeps its funnel and says what
        # the events say.
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "data", "format_v1")
        old = os.path.join(data, "b2b_history4.scp")
        with open(old, "rb") as f:
            self.assertEqual(f.read(8), b"SCPIPE\r\n")
        new = os.path.join(self.dir.name, "new.scp")
        replay = run("replay", os.path.join(data, "b2b_as_replayed.textproto"),
                     os.path.join(data, "b2b_events.csv"),
                     "--history", "4", "--snapshot-out", new)
        self.assertEqual(replay.returncode, 0, replay.stderr)
        self.assertIn("0 timeouts fired", replay.stdout)
        reports = [run("report", path, "--format", "json", "--now",
                       "2027-01-01") for path in (old, new)]
        for r in reports:
            self.assertEqual(r.returncode, 0, r.stderr)
        old_total, new_total = (json.loads(r.stdout)["total"] for r in reports)
        for key in ("won", "lost", "live_deals", "open_deals", "lost_by_reason"):
            self.assertEqual(old_total[key], new_total[key], key)
        self.assertEqual([(s["stage"], s["now"], s["stalled"]) for s in old_total["stages"]],
                         [(s["stage"], s["now"], s["stalled"]) for s in new_total["stages"]])
        self.assertEqual(old_total["lost"], 38)
        from_events = run("report", os.path.join(data, "b2b_as_replayed.textproto"),
                          os.path.join(data, "b2b_events.csv"), "--format", "json",
                          "--now", "2027-01-01")
        self.assertEqual(from_events.stdout, reports[1].stdout)
        # The history replay undercounts what the kept funnel has exactly.
        self.assertLess(old_total["stages"][0]["entered"], new_total["stages"][0]["entered"])


if __name__ == "__main__":
    unittest.main()
