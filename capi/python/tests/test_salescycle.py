"""The Python package over libsalescycle_c.

ctest runs this file with Debian's /usr/bin/python3 and, when `python3` on
PATH is another interpreter (a pyenv build), with that one too: the package
needs only the standard library. SALESCYCLE_LIBRARY names the built library,
SC_MACHINES_DIR the templates and SC_TEST_DATA_DIR tests/data.
"""
import array
import ctypes
import os
import struct
import tempfile
import threading
import unittest

import salescycle as sc

MACHINES = os.environ["SC_MACHINES_DIR"]
with open(os.path.join(os.environ["SC_TEST_DATA_DIR"], "tiny.textproto")) as f:
    TINY = f.read()


def machine(name):
    return sc.Machine.from_file(os.path.join(MACHINES, name))


def pack(recs):
    return b"".join(struct.pack("=IIq", d, e, t) for d, e, t in recs)


class MachineTest(unittest.TestCase):
    def test_loads_text_json_and_files(self):
        m = sc.Machine.from_text(TINY)
        self.assertEqual((m.name, m.version), ("tiny", 3))
        self.assertEqual(m.stages, ["a", "b", "c"])
        self.assertEqual(m.events, ["go", "back", "win"])
        self.assertEqual(m.attribute_type("source"), sc.AttributeType.STRING)
        self.assertEqual(m.stage_kind("c"), sc.StageKind.WON)
        self.assertEqual(m.stage_id("b"), 1)
        j = sc.Machine.from_json('{"name": "tiny", "version": 3, "initialStage": "a",'
                                 ' "stages": [{"id": "a"}], "events": [{"id": "go"}]}')
        self.assertEqual(j.name, "tiny")
        b2b = machine("b2b.textproto")
        self.assertEqual(len(b2b.stages), 10)
        self.assertIn("b2b v1", repr(b2b))

    def test_spec_is_the_whole_machine(self):
        m = machine("b2b.textproto")
        spec = m.spec()
        self.assertEqual([s["id"] for s in spec["stages"]], m.stages)
        won = spec["stages"][m.stage_id("won")]
        self.assertEqual((won["kind"], won["win_probability"], won["display_name"]),
                         ("WON", 100, "Closed won"))
        self.assertEqual(spec["stages"][0]["stall_limit_seconds"], "2592000")
        import json
        again = sc.Machine.from_json(json.dumps(spec))
        self.assertEqual(again.fingerprint, m.fingerprint)

    def test_errors_name_the_source_and_element(self):
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            sc.Machine.from_text(TINY.replace('event: "win"', 'event: "wn"'),
                                 source_name="tiny.textproto")
        self.assertIn('tiny.textproto: transitions[2]', str(ctx.exception))
        self.assertIn('unknown event "wn"', str(ctx.exception))
        self.assertEqual(ctx.exception.code, 3)
        with self.assertRaises(sc.NotFoundError) as ctx:
            sc.Machine.from_file("/no/such/file.textproto")
        self.assertIn("/no/such/file.textproto", str(ctx.exception))
        with self.assertRaises(sc.NotFoundError) as ctx:
            sc.Machine.from_text(TINY).event_id("nope")
        self.assertIn('"nope"', str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Machine.from_json("{not json")

    def test_closed_machine_raises_but_its_pipelines_live_on(self):
        m = sc.Machine.from_text(TINY)
        p = sc.Pipeline(m)
        m.close()
        m.close()  # idempotent
        self.assertTrue(m.closed)
        with self.assertRaises(sc.ClosedError):
            m.version
        with self.assertRaises(sc.ClosedError):
            sc.Pipeline(m)
        deal = p.add(0)
        self.assertEqual(p.fire(deal, "go", 1), sc.Outcome.MOVED)
        self.assertIn("closed", repr(m))


class LimitsTest(unittest.TestCase):
    def test_defaults_come_from_the_library(self):
        d = sc.Limits.defaults()
        # A snapshot's history length: the most a pipeline may keep, so
        # that whatever is saved loads with the defaults.
        self.assertEqual((d.stages, d.guard_depth, d.history_length),
                         (1024, 32, 65536))
        self.assertEqual(d.snapshot_deals, 2**28)
        self.assertIsNone(sc.Limits().stages)  # unset: the library's default

    def test_specs_past_a_limit_are_refused(self):
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            sc.Machine.from_text(TINY, limits=sc.Limits(stages=2))
        self.assertIn("declares 3 stages, past Limits::max_stages (2)",
                      str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            sc.Machine.from_file(os.path.join(MACHINES, "b2b.textproto"),
                                 limits=sc.Limits(spec_bytes=100))
        self.assertIn("past Limits::max_spec_bytes (100)", str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Machine.from_json('{"name": "t"}', limits=sc.Limits(spec_bytes=3))
        self.assertEqual(sc.Machine.from_text(TINY, limits=sc.Limits(stages=3)).name,
                         "tiny")
        with self.assertRaises(ValueError):
            sc.Machine.from_text(TINY, limits=sc.Limits(stages=-1))

    def test_snapshots_past_a_limit_are_refused(self):
        m = sc.Machine.from_text(TINY)
        with sc.Pipeline(m, history_limit=50) as p:
            p.add(0, key="x" * 40)
            data = p.save()
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "p.scp")
                p.save_file(path)
                with self.assertRaises(sc.InvalidArgumentError) as ctx:
                    sc.Pipeline.load_file(m, path, limits=sc.Limits(history_length=49))
                self.assertIn("history_limit is 50", str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            sc.Pipeline.load(m, data, limits=sc.Limits(string_length=39))
        self.assertIn("keys[0] is 40 bytes, past Limits::max_string_length (39)",
                      str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Pipeline.load(m, data, limits=sc.Limits(snapshot_deals=0))
        self.assertEqual(len(sc.Pipeline.load(m, data, limits=sc.Limits(string_length=40))), 1)
        j = sc.Journey(m, 0, history_limit=50)
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Journey.load(m, j.save(), limits=sc.Limits(history_length=49))
        self.assertEqual(sc.Journey.load(m, j.save()).stage, 0)


class PipelineTest(unittest.TestCase):
    def setUp(self):
        self.m = sc.Machine.from_text(TINY)
        self.p = sc.Pipeline(self.m, history_limit=2, expected_deals=10)

    def tearDown(self):
        self.p.close()

    def test_deals_ids_and_keys(self):
        a = self.p.add(10, key="acme")
        b = self.p.add(10, id=77)
        self.assertEqual((a, b), (0, 1))
        self.assertEqual(self.p.find(key="acme"), a)
        self.assertEqual(self.p.find(id=77), b)
        with self.assertRaises(sc.AlreadyExistsError):
            self.p.add(10, id=77)
        with self.assertRaises(sc.NotFoundError):
            self.p.find(key="nobody")
        self.assertEqual(len(self.p), 2)
        self.p.remove(a)
        self.assertEqual(len(self.p), 1)
        with self.assertRaises(sc.NotFoundError) as ctx:
            self.p.remove(a)
        self.assertIn("deal 0 is not in the pipeline", str(ctx.exception))

    def test_typed_attributes(self):
        d = self.p.add(0)
        self.assertEqual(self.p.get(d, "source"), "web")  # the default
        self.assertFalse(self.p.is_set(d, "source"))
        self.p.set(d, "source", "référence")
        self.p.set(d, "budget", -5)
        self.p.set(d, "value", 2.5)
        self.p.set(d, "hot", True)
        self.assertEqual(self.p.get(d, "source"), "référence")
        self.assertEqual(self.p.get(d, "budget"), -5)
        self.assertEqual(self.p.get(d, "value"), 2.5)
        self.assertIs(self.p.get(d, "hot"), True)
        self.assertTrue(self.p.is_set(d, "source"))
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            self.p.set(d, "budget", "lots")
        self.assertIn('attribute "budget" is int64, not str', str(ctx.exception))
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.set(d, "hot", 1)
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.get(d, 99)
        with self.assertRaises(sc.NotFoundError):
            self.p.set(5, "budget", 1)

    def test_fire_outcomes_and_stage_counts(self):
        d = self.p.add(0)
        self.assertEqual(self.p.fire(d, "back", 1), sc.Outcome.NO_TRANSITION)
        self.assertEqual(self.p.fire(d, "go", 2), sc.Outcome.MOVED)
        self.assertEqual(self.p.fire(d, "win", 3), sc.Outcome.GUARD_FAILED)
        self.p.set(d, "budget", 1000)
        self.assertEqual(self.p.fire(d, 2, 4), sc.Outcome.MOVED)
        self.assertEqual(self.p.stage_of(d), (2, 4))
        self.assertEqual(self.p.stage_counts(), {"a": 0, "b": 0, "c": 1})
        self.assertEqual(self.p.stage_count("c"), 1)
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.fire(d, 70000, 5)

    def test_ints_past_their_c_type_are_errors_not_other_deals(self):
        # ctypes alone would truncate: deal 2**32 would be deal 0.
        d = self.p.add(0)
        cases = [
            (lambda: self.p.fire(d + 2**32, "go", 1), "4294967296 is out of range for its uint32_t"),
            (lambda: self.p.fire(-1, "go", 1), "-1 is out of range for its uint32_t"),
            (lambda: self.p.fire(d, 2**32, 1), "sc_pipeline_fire: 4294967296"),
            (lambda: self.p.fire(d, 0, 2**63), "for its int64_t argument"),
            (lambda: self.p.add(-2**63 - 1), "sc_pipeline_add:"),
            (lambda: self.p.add(0, id=-1), "sc_pipeline_add_with_id: -1"),
            (lambda: self.p.add(0, id=2**64), "for its uint64_t argument"),
            (lambda: self.p.get(d + 2**32, "budget"), "sc_pipeline_get_int64"),
            (lambda: self.p.get(d, 2**32 + 1), "4294967297"),
            (lambda: self.p.get(d, -1), "-1"),
            (lambda: self.p.set(d + 2**32, "source", "x"), "sc_pipeline_set_string"),
            (lambda: self.p.stage_of(2**32), "sc_pipeline_deal_stage"),
            (lambda: self.p.remove(2**32), "sc_pipeline_remove"),
            (lambda: self.p.advance_to(2**63), "sc_pipeline_advance_to"),
            (lambda: sc.Pipeline(self.m, history_limit=2**32), "sc_options_set_history_limit"),
            (lambda: sc.Journey(self.m, 2**63), "sc_journey_create"),
        ]
        for use, part in cases:
            with self.subTest(part=part):
                with self.assertRaises(sc.InvalidArgumentError) as ctx:
                    use()
                self.assertIn(part, str(ctx.exception))
        # Nothing moved: every call above was refused before reaching a deal.
        self.assertEqual(self.p.stage_of(d), (0, 0))
        self.assertEqual(len(self.p), 1)

    def test_apply_batch_takes_any_buffer_in_place(self):
        recs = [(0, 0, 1), (1, 0, 2), (0, 1, 3), (1, 2, 4)]
        packed = pack(recs)
        expected = (3, 1)
        buffers = {
            "bytes": packed,
            "bytearray": bytearray(packed),
            "memoryview": memoryview(bytearray(packed)),
            "read-only memoryview": memoryview(packed),
            "array": array.array("b", packed),
            "ctypes": sc.records(recs),
        }
        for name, buffer in buffers.items():
            with self.subTest(buffer=name), sc.Pipeline(self.m) as p:
                p.add(0), p.add(0)
                self.assertEqual(p.apply_batch(buffer), expected)
                self.assertEqual(p.stage_counts(), {"a": 1, "b": 1, "c": 0})

    def test_columns_come_out_as_arrays(self):
        # issue 16: one stage_of call a deal cost 1 us each; the deals in a
        # stage and the stage, entered-at and id columns come out whole.
        with sc.Pipeline(self.m) as p:
            a = p.add(10, id=7)
            b = p.add(11)
            c = p.add(12, id=9)
            p.fire(b, "go", 20)
            p.remove(c)
            for use_numpy in (False, None):
                with self.subTest(numpy=use_numpy):
                    self.assertEqual(list(p.deals_in_stage("a", numpy=use_numpy)), [a])
                    self.assertEqual(list(p.deals_in_stage("b", numpy=use_numpy)), [b])
                    self.assertEqual(list(p.deals_in_stage("c", numpy=use_numpy)), [])
                    self.assertEqual(list(p.stage_column(numpy=use_numpy)),
                                     [self.m.stage_id("a"), self.m.stage_id("b"), 2 ** 32 - 1])
                    self.assertEqual(list(p.entered_at_column(numpy=use_numpy)), [10, 20, 0])
                    ids, has = p.id_column(numpy=use_numpy)
                    self.assertEqual(list(ids), [7, 0, 0])
                    self.assertEqual(list(has), [1, 0, 0])
            self.assertIsInstance(p.stage_column(numpy=False), array.array)
            try:
                import numpy
            except ImportError:
                return
            column = p.entered_at_column()
            self.assertIsInstance(column, numpy.ndarray)
            self.assertEqual(column.dtype, numpy.int64)

    def test_change_observers_see_adds_removals_and_sets(self):
        # issue 15: observers saw only steps, so a host could not keep its
        # own log from them.
        with sc.Pipeline(self.m) as p:
            changes = []
            token = p.add_change_observer(changes.append)
            acme = p.add(10, key="acme")
            p.set(acme, "budget", 5000)
            with self.assertRaises(sc.AlreadyExistsError):
                p.add(11, key="acme")  # what fails is not seen
            p.remove(acme)
            p.add(12)
            self.assertEqual(changes, [
                sc.Change("add", 0, self.m.initial_stage, 10),
                sc.Change("set", 0, self.m.attribute_id("budget"), 0),
                sc.Change("remove", 0, None, 0),
                sc.Change("add", 0, self.m.initial_stage, 12),
            ])

            def fail(change):
                raise KeyError("host index full")
            p.remove_observer(token)
            p.add_change_observer(fail)
            with self.assertRaises(sc.CallbackError) as raised:
                p.add(13)
            self.assertIsInstance(raised.exception.__cause__, KeyError)
            self.assertEqual(len(p), 2)  # the add stands

    def test_many_threads_on_one_pipeline_and_a_close_under_way(self):
        # issue 15: two threads on one pipeline crashed, or failed with a
        # misleading "called from a callback" and lost 210k of 400k deals;
        # a close from another thread during a call freed the handle under
        # it. Calls are serialized now, and close() waits for the one under way.
        p = sc.Pipeline(self.m)
        seen = []
        p.add_observer(lambda step: seen.append(len(p)))  # reads its handle
        errors = []

        def work(n):
            try:
                for k in range(n):
                    deal = p.add(k)
                    p.fire(deal, 0, k + 1)
                    p.apply_batch(pack([(deal, 1, k + 2)]))
            except sc.ClosedError:
                pass  # the close below came first
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(2000,)) for _ in range(4)]
        for t in threads:
            t.start()
        threads[0].join()
        self.assertEqual(errors, [])
        total = len(p)
        self.assertGreaterEqual(total, 2000)
        closer = threading.Thread(target=p.close)
        closer.start()
        closer.join()
        for t in threads[1:]:
            t.join()
        self.assertEqual(errors, [])
        with self.assertRaises(sc.ClosedError):
            len(p)
        self.assertGreater(len(seen), 0)

        q = sc.Pipeline(self.m)
        workers = [threading.Thread(target=lambda: [q.add(0) for _ in range(5000)])
                   for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        self.assertEqual(len(q), 20000)  # none lost
        q.close()

    def test_a_batch_written_by_another_thread_is_never_a_crash(self):
        # issue 15: a thread rewriting the buffer during apply_batch (the
        # GIL is released in the C call) crashed the process: the batch was
        # checked, then read again. The library now reads each record once
        # and checks it again; a batch seen bad is refused whole.
        with sc.Pipeline(self.m) as p:
            for _ in range(1000):
                p.add(0)
            good = pack([(d, 0, 1) for d in range(1000)] * 50)
            bad = pack([(2 ** 32 - 2, 2 ** 31, 1)] * 50000)
            shared = bytearray(good)
            stop = threading.Event()

            def rewrite():
                while not stop.is_set():
                    shared[:] = bad
                    shared[:] = good
            writer = threading.Thread(target=rewrite)
            writer.start()
            try:
                for _ in range(50):
                    try:
                        p.apply_batch(shared)
                    except sc.InvalidArgumentError:
                        pass  # the check saw the bad records: refused whole
            finally:
                stop.set()
                writer.join()

    def test_apply_batch_with_numpy_when_present(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy is not installed for this interpreter")
        dtype = np.dtype([("deal", "<u4"), ("event", "<u4"), ("time", "<i8")])
        batch = np.zeros(3, dtype=dtype)
        batch["deal"] = [0, 0, 0]
        batch["event"] = [0, 1, 0]
        batch["time"] = [1, 2, 3]
        self.p.add(0)
        self.assertEqual(self.p.apply_batch(batch), (3, 0))

    def test_apply_batch_agrees_with_firing_one_by_one(self):
        import random
        rng = random.Random(7)
        recs = [(rng.randrange(20), rng.randrange(3), i) for i in range(2000)]
        with sc.Pipeline(self.m) as one, sc.Pipeline(self.m) as batch:
            for p in (one, batch):
                for d in range(20):
                    p.add(0)
                    p.set(d, "budget", d * 100)
            for d, e, t in recs:
                one.fire(d, e, t)
            batch.apply_batch(pack(recs))
            self.assertEqual(one.stage_counts(), batch.stage_counts())
            self.assertEqual([one.stage_of(d) for d in range(20)],
                             [batch.stage_of(d) for d in range(20)])

    def test_apply_parallel_is_apply_batch(self):
        import random
        rng = random.Random(12)
        deals = 20000
        recs = pack([(rng.randrange(deals), rng.randrange(3), i)
                     for i in range(200000)])
        with sc.Pipeline(self.m) as one, sc.Pipeline(self.m) as par:
            for p in (one, par):
                for d in range(deals):
                    p.add(0)
                    p.set(d, "budget", d % 3000)
            accepted, rejected = one.apply_batch(recs)
            self.assertEqual(par.apply_parallel(recs, 3), (accepted, rejected, 3))
            self.assertEqual(one.stage_counts(), par.stage_counts())
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.apply_parallel(b"", 0)
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.apply_parallel(b"", 65)
        self.assertEqual(self.p.apply_parallel(b"", 2), (0, 0, 1))

    def test_keys_and_strings_are_bytes(self):
        # Latin-1 from an old CRM export, and every byte value: bytes in,
        # the same bytes out of a snapshot (issue 12).
        latin1 = "Jos\xe9 M\xfcller".encode("latin-1")
        every = bytes(range(256))
        a = self.p.add(1, key=latin1)
        b = self.p.add(1, key=every)
        self.p.set(a, "source", every)
        self.p.set(b, "source", latin1)
        restored = sc.Pipeline.load(self.m, self.p.save())
        self.assertEqual(restored.find(key=latin1), a)
        self.assertEqual(restored.find(key=every), b)
        # A str holds bytes that are not UTF-8 as surrogates, which go back
        # as the same bytes.
        got = restored.get(b, "source")
        self.assertEqual(got, latin1.decode("utf-8", "surrogateescape"))
        self.assertEqual(got.encode("utf-8", "surrogateescape"), latin1)
        self.assertEqual(restored.get(a, "source").encode("utf-8", "surrogateescape"),
                         every)
        restored.set(b, "source", got)
        self.assertEqual(restored.find(key=latin1), a)
        again = sc.Pipeline.load(self.m, restored.save())
        self.assertEqual(again.get(b, "source"), got)

    def test_bad_batches_fail_whole(self):
        self.p.add(0)
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            self.p.apply_batch(pack([(0, 0, 1), (5, 0, 2)]))
        self.assertIn("5", str(ctx.exception))
        self.assertEqual(self.p.stage_of(0)[0], 0)  # nothing applied
        with self.assertRaises(sc.InvalidArgumentError):
            self.p.apply_batch(b"\0" * 15)
        self.assertEqual(self.p.apply_batch(b""), (0, 0))

    def test_timeouts(self):
        d = self.p.add(0)
        self.assertEqual(self.p.advance_to(99), 0)
        self.assertEqual(self.p.advance_to(100), 1)
        self.assertEqual(self.p.stage_of(d), (1, 100))

    def test_observers_see_every_step(self):
        moves, rejections = [], []
        token = self.p.add_observer(moves.append, rejections.append)
        d = self.p.add(0)
        self.p.fire(d, "go", 5)
        self.p.fire(d, "go", 6)
        self.assertEqual(moves, [sc.Step(d, 0, 1, 0, 5, sc.Outcome.MOVED)])
        self.assertEqual(rejections, [sc.Step(d, 1, 1, 0, 6, sc.Outcome.NO_TRANSITION)])
        self.p.advance_to(10**6)  # b has no timeout
        self.p.remove_observer(token)
        self.p.fire(d, "back", 7)
        self.assertEqual(len(moves), 1)
        with self.assertRaises(sc.NotFoundError):
            self.p.remove_observer(token)

    def test_a_raising_observer_is_an_error_not_a_crash(self):
        def boom(step):
            raise ValueError("observer broke on %s" % (step,))
        self.p.add_observer(boom)
        d = self.p.add(0)
        with self.assertRaises(sc.CallbackError) as ctx:
            self.p.fire(d, "go", 1)
        self.assertIsInstance(ctx.exception.__cause__, ValueError)
        self.assertIn("callback failed", str(ctx.exception))
        self.assertEqual(self.p.stage_of(d)[0], 1)  # the step stands
        with self.assertRaises(sc.CallbackError):
            self.p.apply_batch(pack([(d, 1, 2), (d, 0, 3)]))
        self.assertEqual(self.p.stage_of(d)[0], 1)  # both records applied

    def test_an_observer_may_read_but_not_change_its_pipeline(self):
        d = self.p.add(0)
        seen = []

        def meddle(step):
            seen.append(len(self.p))  # reading is fine
            for change in (lambda: self.p.add_observer(print),
                           lambda: self.p.add(1), lambda: self.p.fire(d, "go", 2),
                           lambda: self.p.set(d, "budget", 1), lambda: self.p.close()):
                with self.assertRaises(sc.FailedPreconditionError):
                    change()

        self.p.add_observer(meddle)
        self.p.add_observer(lambda step: seen.append("second"))
        self.assertEqual(self.p.fire(d, "go", 1), sc.Outcome.MOVED)
        self.assertEqual(seen, [1, "second"])
        self.assertFalse(self.p.closed)
        self.assertEqual(len(self.p), 1)

    def test_snapshots(self):
        for d in range(30):
            self.p.add(d, id=1000 + d)
            self.p.set(d, "source", "s%d" % d)
        self.p.apply_batch(pack([(d, 0, 100 + d) for d in range(0, 30, 2)]))
        data = self.p.save()
        restored = sc.Pipeline.load(self.m, data)
        self.assertEqual(restored.stage_counts(), self.p.stage_counts())
        self.assertEqual(restored.get(restored.find(id=1029), "source"), "s29")
        self.assertEqual(restored.save(), data)  # same state, same bytes
        damaged = bytearray(data)
        damaged[len(data) // 2] ^= 1
        with self.assertRaises(sc.DataLossError) as ctx:
            sc.Pipeline.load(self.m, bytes(damaged))
        self.assertIn("checksum mismatch", str(ctx.exception))
        with self.assertRaises(sc.DataLossError):
            sc.Pipeline.load(self.m, data[:-1])
        with self.assertRaises(sc.FailedPreconditionError) as ctx:
            sc.Pipeline.load(machine("cycle9.textproto"), data)
        self.assertIn("tiny", str(ctx.exception))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "p.scp")
            self.p.save_file(path)
            self.assertEqual(sc.Pipeline.load_file(self.m, path).stage_counts(),
                             self.p.stage_counts())
            with self.assertRaises(sc.NotFoundError):
                sc.Pipeline.load_file(self.m, os.path.join(tmp, "missing.scp"))

    def test_closed_pipeline_raises(self):
        p = sc.Pipeline(self.m)
        with p:
            p.add(0)
        self.assertTrue(p.closed)
        for use in (lambda: p.add(0), lambda: len(p), lambda: p.fire(0, "go", 1),
                    lambda: p.apply_batch(b""), lambda: p.save(),
                    lambda: p.add_observer(print)):
            with self.assertRaises(sc.ClosedError):
                use()


class SplitAndJoinTest(unittest.TestCase):
    """Pipeline.deals_in_key_groups, save_part and load_parts: what
    salescycle.dask's rescale() is made of."""

    def setUp(self):
        self.m = sc.Machine.from_file(os.path.join(MACHINES, "cycle9.textproto"))
        self.p = sc.Pipeline(self.m, analytics=True)
        self.keys = ["deal-%d" % i for i in range(40)]
        self.p.add_keys(self.keys, times=100)

    def test_parts_of_key_groups_join_into_the_whole(self):
        for i, key in enumerate(self.keys[:20]):
            self.p.fire(self.p.find_keys([key], numpy=False)[0], "contact", 200 + i)
        low = self.p.deals_in_key_groups(8, 0, 4, numpy=False)
        high = self.p.deals_in_key_groups(8, 4, 8, numpy=False)
        self.assertEqual(sorted(list(low) + list(high)), list(range(40)))
        parts = [self.p.save_part(low, counters=True), self.p.save_part(high)]
        joined = sc.Pipeline.load_parts(self.m, parts)
        self.assertEqual(len(joined), 40)
        self.assertEqual(joined.funnel("json"), self.p.funnel("json"))
        groups = sc.KeyGroups(8)
        for key, deal, group in zip(self.keys, self.p.find_keys(self.keys, numpy=False),
                                    groups.of_keys(self.keys, numpy=False)):
            self.assertEqual(deal in list(low), group < 4, key)
        # Counters in both parts: every deal's past counted twice.
        doubled = sc.Pipeline.load_parts(self.m, [self.p.save_part(low, counters=True),
                                                  self.p.save_part(high, counters=True)])
        self.assertNotEqual(doubled.funnel("json"), self.p.funnel("json"))

    def test_rescale_plan_by_hand(self):
        # 8 groups from 3 owners ([0,3) [3,6) [6,8)) to 2 ([0,4) [4,8)).
        self.assertEqual(sc.KeyGroups(8).rescale_plan(3, 2), [
            sc.RescalePart(0, 0, range(0, 3), True), sc.RescalePart(1, 0, range(3, 4), True),
            sc.RescalePart(1, 1, range(4, 6), False), sc.RescalePart(2, 1, range(6, 8), True)])
        with self.assertRaises(sc.InvalidArgumentError):
            sc.KeyGroups(8).rescale_plan(3, 9)

    def test_bad_parts_are_refused(self):
        with self.assertRaisesRegex(sc.InvalidArgumentError, "is given twice"):
            self.p.save_part([3, 3])
        with self.assertRaisesRegex(sc.InvalidArgumentError, "deals: each is a deal index"):
            self.p.save_part([-1])
        part = self.p.save_part([1, 2])
        with self.assertRaisesRegex(sc.DataLossError, "appears twice"):
            sc.Pipeline.load_parts(self.m, [part, part])
        with self.assertRaisesRegex(sc.InvalidArgumentError, "no snapshots"):
            sc.Pipeline.load_parts(self.m, [])
        self.p.add(5)  # no key: in no group
        with self.assertRaisesRegex(sc.FailedPreconditionError, "neither key nor id"):
            self.p.deals_in_key_groups(8, 0, 8)


class FunnelTest(unittest.TestCase):
    def test_funnel_from_online_analytics(self):
        m = sc.Machine.from_text(TINY)
        with sc.Pipeline(m, analytics=True, cohort="month") as p:
            for d in range(4):
                p.add(1767225600 + d)
                p.set(d, "value", 100.0 * (d + 1))
            p.fire(0, "go", 1767225700)
            p.set(0, "budget", 5000)
            p.fire(0, "win", 1767225800)
            p.fire(1, "go", 1767225700)
            report = p.funnel_report(value="value")
            total = report["total"]
            self.assertEqual(total["deals"], 4)
            self.assertEqual(total["won"], 1)
            self.assertEqual(total["stages"][0]["entered"], 4)
            self.assertEqual(total["stages"][1]["entered"], 2)
            self.assertEqual(report["cohorts"][0]["label"], "2026-01")
            self.assertEqual(total["average_deal_value"], 100.0)
            self.assertIn("tiny v3 funnel", p.funnel())
            self.assertTrue(p.funnel("svg").startswith("<svg "))
            self.assertTrue(p.funnel("csv").startswith("cohort,stage,"))
            self.assertIsInstance(p.funnel("proto"), bytes)
            stalled = p.funnel_report(now=1767225600 + 10**6)["total"]["stages"][0]["stalled"]
            self.assertEqual(stalled, 2)  # deals 2 and 3, past a's 100 s
            with self.assertRaises(sc.NotFoundError):
                p.funnel(value="nope")
            with self.assertRaises(sc.InvalidArgumentError):
                p.funnel("xml")

    def test_funnel_states_of_shards_merge_into_the_whole(self):
        m = sc.Machine.from_text(TINY)

        def pipeline(deals):
            p = sc.Pipeline(m, analytics=True, cohort="month")
            for d in deals:
                deal = p.add(1767225600 + d)
                p.set(deal, "value", 100.5 * (d + 1))
                if d % 2 == 0:
                    p.fire(deal, "go", 1767225700 + d)
                if d % 3 == 0:
                    p.set(deal, "budget", 5000)
                    p.fire(deal, "win", 1767225800 + d)
            return p

        now = 1767225600 + 10**6
        with pipeline(range(9)) as whole, pipeline(range(0, 9, 2)) as even, \
                pipeline(range(1, 9, 2)) as odd:
            expected = whole.funnel_state(value="value", now=now).report("json")
            state = even.funnel_state(value="value", now=now)
            other = odd.funnel_state(value="value", now=now)
            carried = sc.FunnelState.from_bytes(state.serialize())  # its own spec
            self.assertEqual(carried.report("csv"), state.report("csv"))
            merged = sc.FunnelState.from_bytes(state.serialize(), machine=m).merge(other)
            self.assertEqual(merged.report("json"), expected)
            self.assertEqual(merged.report_dict()["total"]["deals"], 9)
            self.assertEqual(merged.report("json"),
                             whole.funnel("json", value="value", now=now))
            self.assertIsInstance(merged.report("proto"), bytes)
            with self.assertRaises(sc.FailedPreconditionError):
                merged.merge(odd.funnel_state(value="value", now=now + 1))
            with self.assertRaises(sc.FailedPreconditionError):
                merged.merge(merged)
            with self.assertRaises(sc.InvalidArgumentError):
                merged.merge("a state")
            with self.assertRaises(sc.InvalidArgumentError):
                merged.report("xml")
            with self.assertRaises(sc.NotFoundError):
                whole.funnel_state(by="region")
        with self.assertRaises(sc.DataLossError):
            sc.FunnelState.from_bytes(b"SCFSTATE" + b"\0" * 8)
        merged.close()
        with self.assertRaises(sc.ClosedError):
            merged.serialize()

    def test_funnel_slices(self):
        m = sc.Machine.from_text(TINY)
        jan, feb, mar = 1767225600, 1769904000, 1772323200
        with sc.Pipeline(m, analytics=True, cohort="month") as p:
            # Deal 0 added in January, won in February; deal 1 added in
            # February, still open; deal 2 added in February, a source.
            for d, added in enumerate((jan, feb, feb + 5)):
                p.add(added)
            p.set(2, "source", "web")
            p.fire(0, "go", feb + 10)
            p.set(0, "budget", 5000)
            p.fire(0, "win", feb + 20)
            closes = p.funnel_report(closed_from=feb, closed_to=mar)
            self.assertEqual([(c["label"], c["won"]) for c in closes["closes"]],
                             [("2026-02", 1)])
            self.assertTrue(closes["close_window"])
            added = p.funnel_report(created_from=feb, by="source")
            self.assertEqual(added["total"]["deals"], 2)
            self.assertEqual({s["value"]: s["deals"] for s in added["breakdown"]},
                             {"web": 1, "(not set)": 1})
            self.assertIn("reached*", p.funnel(in_order=True))
            state = p.funnel_state(created_from=feb)
            self.assertEqual(state.report_dict()["total"]["deals"], 2)
            self.assertIn("reached*", state.report(in_order=True))
            with self.assertRaises(sc.InvalidArgumentError):
                p.funnel(closed_from=feb + 1)  # not a month's start
            with self.assertRaises(sc.InvalidArgumentError):
                p.funnel("json", in_order=True)
            with self.assertRaises(sc.InvalidArgumentError):
                p.funnel(created_from=True)
        with sc.Pipeline(m, analytics=True) as p:
            with self.assertRaises(sc.FailedPreconditionError):
                p.funnel(closed_from=feb)

    def test_a_bool_is_not_a_number(self):
        # True is an int to Python: it must not land as deal 1 or time 1
        # (issue 15).
        m = sc.Machine.from_text(TINY)
        with sc.Pipeline(m) as p:
            with self.assertRaisesRegex(sc.InvalidArgumentError, "True is a bool"):
                p.add(True)
            p.add(0)
            with self.assertRaisesRegex(sc.InvalidArgumentError, "False is a bool"):
                p.fire(0, 0, False)
            with self.assertRaisesRegex(sc.InvalidArgumentError, "True is a bool"):
                p.fire(True, "go", 5)
            with self.assertRaisesRegex(sc.InvalidArgumentError, "is int64, not bool"):
                p.set(0, "budget", True)
            self.assertEqual(len(p), 1)

    def test_funnel_needs_analytics_or_history(self):
        m = sc.Machine.from_text(TINY)
        with sc.Pipeline(m) as p:
            with self.assertRaises(sc.FailedPreconditionError):
                p.funnel()
        with sc.Pipeline(m, history_limit=4) as p:
            p.add(0)
            p.fire(0, "go", 5)
            self.assertEqual(p.funnel_report()["total"]["stages"][1]["entered"], 1)
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Pipeline(m, cohort="year")
        with sc.Pipeline(m, analytics=True, cohort="quarter") as p:
            p.add(1775001599)  # 2026-03-31T23:59:59Z
            p.add(1775001600)  # 2026-04-01T00:00:00Z
            labels = [c["label"] for c in p.funnel_report()["cohorts"]]
            self.assertEqual(labels, ["2026-Q1", "2026-Q2"])


class NamedGuardTest(unittest.TestCase):
    SPEC = TINY.replace(
        'guard { compare { attribute: "budget" op: GE value { int64_value: 1000 } } }',
        'guard { named: "big_and_hot" }')

    def test_python_guards_decide(self):
        seen = []

        def big_and_hot(deal):
            seen.append((deal["budget"], deal["hot"], deal["source"], deal.is_set("budget")))
            return deal["budget"] >= 1000 and deal["hot"]

        m = sc.Machine.from_text(self.SPEC, named_guards={"big_and_hot": big_and_hot})
        j = sc.Journey(m, 0)
        j.fire("go", 1)
        self.assertEqual(j.fire("win", 2), sc.Outcome.GUARD_FAILED)
        j.set("budget", 5000)
        j.set("hot", True)
        self.assertEqual(j.fire("win", 3), sc.Outcome.MOVED)
        self.assertEqual(seen, [(0, False, "web", False), (5000, True, "web", True)])

    def test_unregistered_guard(self):
        with self.assertRaises(sc.InvalidArgumentError) as ctx:
            sc.Machine.from_text(self.SPEC)
        self.assertIn('"big_and_hot" is not registered', str(ctx.exception))

    def test_a_raising_guard_is_an_error_not_a_crash(self):
        def broken(deal):
            return deal["no_such_attribute"]
        m = sc.Machine.from_text(self.SPEC, named_guards={"big_and_hot": broken})
        p = sc.Pipeline(m)
        d = p.add(0)
        p.fire(d, "go", 1)
        with self.assertRaises(sc.CallbackError) as ctx:
            p.fire(d, "win", 2)
        self.assertIsInstance(ctx.exception.__cause__, sc.NotFoundError)
        self.assertIn('named guard "big_and_hot"', str(ctx.exception))
        self.assertEqual(p.stage_of(d)[0], 1)  # counted as not holding
        # The machine's guards stay usable from other threads.
        results = []
        t = threading.Thread(target=lambda: results.append(
            self.assertRaises(sc.CallbackError, p.fire, d, "win", 3)))
        t.start()
        t.join()
        self.assertEqual(len(results), 1)


class JourneyTest(unittest.TestCase):
    def test_journey(self):
        m = machine("b2b.textproto")
        with sc.Journey(m, 1000, history_limit=4) as j:
            steps = []
            j.add_observer(steps.append)
            self.assertEqual(j.fire("contact", 2000), sc.Outcome.MOVED)
            self.assertEqual(steps[0].deal, None)
            self.assertEqual(m.stages[j.stage], "initial_contact")
            self.assertEqual(j.entered_at, 2000)
            j.set("deal_value", 48000.5)
            copy = j.copy()
            copy.fire("qualify", 3000)
            self.assertEqual(len(steps), 1)  # the copy has no observers
            self.assertEqual(m.stages[j.stage], "initial_contact")
            restored = sc.Journey.load(m, copy.save())
            self.assertEqual(m.stages[restored.stage], "qualification")
            self.assertEqual(restored.get("deal_value"), 48000.5)
            with self.assertRaises(sc.DataLossError):
                sc.Journey.load(m, b"\xff" + copy.save())
            self.assertGreaterEqual(j.advance_to(2000 + 400 * 86400), 1)
            self.assertNotEqual(m.stages[j.stage], "initial_contact")
        with self.assertRaises(sc.ClosedError):
            j.fire("contact", 1)


class SalesModelTest(unittest.TestCase):
    """Entry stages, moves by stage, activities, loss reasons, reopening and
    repeat purchases (tests/data/crm.textproto)."""

    def setUp(self):
        self.m = sc.Machine.from_file(os.path.join(os.environ["SC_TEST_DATA_DIR"],
                                                   "crm.textproto"))

    def test_pipeline(self):
        with sc.Pipeline(self.m) as p:
            a = p.add(0, key="a", stage="demo")
            b = p.add(0, id=7)
            c = p.add(0, stage=0)
            self.assertEqual(p.stage_of(a), (self.m.stage_id("demo"), 0))
            with self.assertRaisesRegex(sc.InvalidArgumentError,
                                        'stage "won" is not an entry stage'):
                p.add(0, stage="won")
            with self.assertRaises(sc.NotFoundError):
                p.add(0, stage="nowhere")
            self.assertEqual(p.move_to(b, "proposal", 10), sc.Outcome.MOVED)
            self.assertEqual(p.move_to(b, "proposal", 20), sc.Outcome.ACTIVITY)
            self.assertEqual(p.move_to(b, "won", 30), sc.Outcome.MISSING_ATTRIBUTE)
            self.assertEqual(p.fire(a, "call", 40), sc.Outcome.ACTIVITY)
            self.assertEqual(p.lifecycle(a), sc.Lifecycle(40, None, 1))
            self.assertEqual(p.advance_to(139), 0)   # demo goes cold 100 s after
            self.assertEqual(p.advance_to(140), 1)   # the last activity
            self.assertEqual(p.loss_reason(a), "go_cold")
            self.assertEqual(p.lifecycle(a).closed_from, self.m.stage_id("demo"))
            self.assertEqual(p.reopen(a, 150), sc.Outcome.MOVED)
            self.assertEqual(p.reopen(a, 160), sc.Outcome.NOT_REOPENABLE)
            self.assertEqual(p.stage_of(a), (self.m.stage_id("demo"), 150))
            p.set(c, "amount", 5.0)
            self.assertEqual(p.move_to(c, self.m.stage_id("won"), 170), sc.Outcome.MOVED)
            self.assertEqual(p.fire(c, "repurchase", 180), sc.Outcome.MOVED)
            self.assertEqual(p.lifecycle(c).cycle, 2)
            p.set(b, "lost_reason", "price")
            self.assertEqual(p.fire(b, "lose", 190), sc.Outcome.MOVED)
            self.assertEqual(p.loss_reason(b), "price")
            restored = sc.Pipeline.load(self.m, p.save())
            self.assertEqual(restored.loss_reason(b), "price")
            self.assertEqual(restored.lifecycle(c), p.lifecycle(c))

    def test_apply_moves(self):
        with sc.Pipeline(self.m) as p:
            d = p.add(0)
            seen = []
            p.add_observer(lambda s: seen.append(s.outcome))
            q, pr = self.m.stage_id("qualified"), self.m.stage_id("proposal")
            self.assertEqual(p.apply_moves(sc.stage_records(
                [(d, q, 1), (d, q, 2), (d, pr, 3)])), (3, 0))
            self.assertEqual(seen, [sc.Outcome.MOVED, sc.Outcome.ACTIVITY,
                                    sc.Outcome.MOVED])
            self.assertEqual(p.apply_moves(struct.pack("=IIq", d, q, 4)), (1, 0))
            with self.assertRaisesRegex(sc.InvalidArgumentError,
                                        "records\\[0\\]: stage id 99 is out of range"):
                p.apply_moves(sc.stage_records([(d, 99, 5)]))
            self.assertEqual(p.stage_of(d)[0], q)

    def test_journey(self):
        j = sc.Journey(self.m, 0, stage="demo")
        self.assertEqual(j.stage, self.m.stage_id("demo"))
        self.assertEqual(j.fire("call", 5), sc.Outcome.ACTIVITY)
        self.assertEqual(j.move_to("lost", 6), sc.Outcome.MOVED)
        self.assertEqual(j.loss_reason, "")
        self.assertEqual(j.lifecycle, sc.Lifecycle(5, self.m.stage_id("demo"), 1))
        self.assertEqual(j.reopen(7), sc.Outcome.MOVED)
        with self.assertRaises(sc.InvalidArgumentError):
            sc.Journey(self.m, 0, stage="proposal")


class DurableTest(unittest.TestCase):
    """DurablePipeline (issue 15): changes survive a close and a reopen,
    reads through a lent view, many threads at once, and misuse refused."""

    def setUp(self):
        self.m = machine("b2b.textproto")
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "db")

    def tearDown(self):
        self.tmp.cleanup()

    def test_changes_survive_a_reopen(self):
        with sc.DurablePipeline(self.m, self.dir, analytics=True) as db:
            self.assertEqual(db.recovery, sc.Recovery(0, 0, 0, False, False, ""))
            acme = db.add(1767225600, key="acme")
            db.add(1767225600, id=42, stage="qualification")
            db.set(acme, "budget", 50000)
            db.set(acme, "decision_maker", "CFO")
            self.assertEqual(db.fire(acme, "contact", 1767225700), sc.Outcome.MOVED)
            self.assertEqual(db.fire(acme, "win", 1767225800), sc.Outcome.NO_TRANSITION)
            self.assertEqual(db.apply_batch(pack([(acme, self.m.event_id("qualify"),
                                                   1767225900)]), timed=True), (1, 0))
            self.assertEqual(db.move_to(acme, "lost", 1767226000), sc.Outcome.MOVED)
            self.assertEqual(db.reopen(acme, 1767226100), sc.Outcome.MOVED)
            self.assertEqual(db.advance_to(1767226200), 0)
            db.sync()
            before = db.read(lambda p: p.save())
        with sc.DurablePipeline(self.m, self.dir) as db:
            self.assertEqual(db.recovery.changes, 10)
            self.assertFalse(db.recovery.torn_tail)
            self.assertEqual(db.read(lambda p: p.save()), before)
            self.assertEqual(db.read(lambda p: p.find(key="acme")), 0)
            self.assertEqual(db.read(lambda p: p.get(0, "decision_maker")), "CFO")
            db.checkpoint()
        with sc.DurablePipeline(self.m, self.dir) as db:
            self.assertEqual(db.recovery.snapshot, 2)
            self.assertEqual(db.recovery.changes, 0)
            self.assertEqual(db.read(lambda p: p.save()), before)

    def test_errors_are_the_pipelines_and_the_journals(self):
        with sc.DurablePipeline(self.m, self.dir, sync="none") as db:
            db.add(0, key="acme")
            with self.assertRaises(sc.AlreadyExistsError):
                db.add(0, key="acme")
            with self.assertRaises(sc.NotFoundError):
                db.remove(7)
            with self.assertRaises(sc.InvalidArgumentError):
                db.set(0, "budget", True)  # a bool is not an int64
            with self.assertRaises(sc.InvalidArgumentError):
                db.fire(2 ** 32, "contact", 0)
            with self.assertRaises(sc.FailedPreconditionError):
                sc.DurablePipeline(self.m, self.dir)  # open here already
        with self.assertRaises(sc.InvalidArgumentError):
            sc.DurablePipeline(self.m, self.dir, sync="sometimes")
        with self.assertRaises(sc.InvalidArgumentError):
            sc.DurablePipeline(self.m, self.dir, sync=0)
        with open(os.path.join(self.dir, "journal-1"), "r+b") as f:
            f.seek(20)
            f.write(b"\xff")
        with self.assertRaises(sc.DataLossError) as raised:
            sc.DurablePipeline(self.m, self.dir)
        self.assertIn("journal-1: a checksum mismatch", str(raised.exception))
        self.assertIn("at offset 16 (record 1;", str(raised.exception))
        with sc.DurablePipeline(self.m, self.dir, salvage=True) as db:
            self.assertTrue(db.recovery.salvaged)
            self.assertIn("checksum mismatch", db.recovery.stopped_at)
            self.assertEqual(db.read(len), 0)

    def test_the_view_is_read_only_and_ends_with_the_read(self):
        with sc.DurablePipeline(self.m, self.dir, sync="none") as db:
            deal = db.add(0)
            kept = []
            with self.assertRaises(sc.FailedPreconditionError):
                db.read(lambda p: p.fire(deal, "contact", 1))  # not journaled: refused
            with self.assertRaises(sc.FailedPreconditionError):
                db.read(lambda p: db.add(1))  # would wait for itself
            with self.assertRaises(ZeroDivisionError):
                db.read(lambda p: 1 / 0)
            db.read(kept.append)
            with self.assertRaises(sc.ClosedError):
                kept[0].stage_counts()
            self.assertEqual(db.read(lambda p: p.stage_of(deal))[0], self.m.initial_stage)

    def test_many_threads_and_a_close_under_way(self):
        db = sc.DurablePipeline(self.m, self.dir, sync=1)
        errors = []

        def writer(t):
            try:
                for k in range(200):
                    db.add(k, key="%d-%d" % (t, k))
            except sc.ClosedError:
                pass  # the close below came first: refused, never a crash
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads[:2]:
            t.join()
        db.close()  # waits for the calls under way; later ones raise ClosedError
        for t in threads[2:]:
            t.join()
        self.assertEqual(errors, [])
        with self.assertRaises(sc.ClosedError):
            db.add(0)
        with sc.DurablePipeline(self.m, self.dir) as again:
            added = again.recovery.changes
            self.assertGreaterEqual(added, 400)
            self.assertEqual(again.read(len), added)


class ErrorsTest(unittest.TestCase):
    def test_errors_are_the_builtins_a_caller_catches(self):
        # issue 16: code that knows nothing of salescycle still handles them.
        m = sc.Machine.from_text(TINY)
        with sc.Pipeline(m) as p:
            with self.assertRaises(KeyError) as missing:
                p.find(key="nobody")
            self.assertIsInstance(missing.exception, sc.NotFoundError)
            self.assertNotIn("'", str(missing.exception)[:1])  # not quoted as KeyError does
            with self.assertRaises(ValueError):
                p.fire(0, 99, 0)
            p.add(0, key="acme")
            with self.assertRaises(ValueError):
                p.add(0, key="acme")
        with self.assertRaises(ValueError):
            p.stage_counts()  # closed, as a closed file's
        with self.assertRaises(ValueError):
            sc.Pipeline.load(m, b"not a snapshot")
        with self.assertRaises(FileNotFoundError) as gone:
            sc.Machine.from_file("/nonexistent/dir/m.textproto")
        self.assertIsInstance(gone.exception, sc.NotFoundError)
        self.assertIn("/nonexistent/dir/m.textproto", str(gone.exception))


class VersionTest(unittest.TestCase):
    def test_versions_agree(self):
        self.assertEqual(sc.library_version(), sc.__version__)
        self.assertEqual(ctypes.sizeof(sc.EventRecord), sc.RECORD_SIZE)
        self.assertEqual(sc.RECORD_SIZE, 16)


class PartitionTest(unittest.TestCase):
    """tests/data/partition_vectors.json, which C++ and Go check too: the
    same key lands in the same group in every language."""

    @classmethod
    def setUpClass(cls):
        import json
        with open(os.path.join(os.environ["SC_TEST_DATA_DIR"], "partition_vectors.json")) as f:
            cls.v = json.load(f)

    def test_keys_and_ids_match_the_vectors(self):
        groups = [sc.KeyGroups(n) for n in self.v["num_groups"]]
        keys = [bytes.fromhex(k["hex"]) for k in self.v["keys"]]
        for key, want in zip(keys, self.v["keys"]):
            self.assertEqual(sc.key_hash(key), want["hash"], key)
            if "text" in want:  # a str hashes as its UTF-8 bytes
                self.assertEqual(sc.key_hash(want["text"]), want["hash"])
            self.assertEqual([g.of_key(key) for g in groups], want["groups"], key)
        for i, g in enumerate(groups):  # the batch form, in one call
            self.assertEqual(list(g.of_keys(keys, numpy=False)),
                             [k["groups"][i] for k in self.v["keys"]])
        ids = [int(e["id"]) for e in self.v["ids"]]
        for id_, want in zip(ids, self.v["ids"]):
            self.assertEqual(sc.id_hash(id_), want["hash"])
            self.assertEqual([g.of_id(id_) for g in groups], want["groups"])
        for i, g in enumerate(groups):
            want = [e["groups"][i] for e in self.v["ids"]]
            self.assertEqual(list(g.of_ids(ids, numpy=False)), want)
            self.assertEqual(list(g.of_ids(array.array("Q", ids), numpy=False)), want)
        for r in self.v["ranges"]:
            g = sc.KeyGroups(r["num_groups"])
            self.assertEqual(g.range_of(r["owner"], r["owners"]), range(r["first"], r["end"]))
            self.assertEqual(g.owner_of(r["first"], r["owners"]), r["owner"])

    def test_numpy_in_and_out(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("numpy is not installed for this interpreter")
        g = sc.KeyGroups(4096)
        ids = numpy.array([int(e["id"]) for e in self.v["ids"]], dtype=numpy.uint64)
        out = g.of_ids(ids)
        self.assertEqual(out.dtype, numpy.uint32)
        self.assertEqual(out.tolist(), [e["groups"][3] for e in self.v["ids"]])
        self.assertEqual(g.of_keys(["hello"]).tolist(), [584])

    def test_bad_arguments_are_errors(self):
        with self.assertRaisesRegex(sc.InvalidArgumentError, "0 groups; a deployment has 1 to"):
            sc.KeyGroups(0)
        with self.assertRaises(sc.InvalidArgumentError):
            sc.KeyGroups(sc.MAX_KEY_GROUPS + 1)
        g = sc.KeyGroups(10)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "group 10 of 10"):
            g.owner_of(10, 2)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "owner 2 of 2"):
            g.range_of(2, 2)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "ids: each is an int"):
            g.of_ids([-1])
        # An int is not a key: bytes(5) would be five zero bytes.
        with self.assertRaisesRegex(sc.InvalidArgumentError, "5 is a int; a key"):
            g.of_key(5)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "is a int; a key"):
            sc.Pipeline(machine("b2b.textproto")).add(1, key=7)


class PositionsTest(unittest.TestCase):
    """Input positions (Pipeline::ApplyAt): a batch at offsets already
    applied is skipped; positions travel in snapshots and journals."""

    def setUp(self):
        self.m = machine("b2b.textproto")
        self.contact = self.m.event_id("contact")

    def batch(self, deals):
        return pack([(d, self.contact, 100 + d) for d in deals])

    def test_a_replay_after_a_restore_is_exactly_once(self):
        p = sc.Pipeline(self.m, analytics=True)
        deals = [p.add(1) for _ in range(4)]
        self.assertEqual(p.apply_at("crm-export.csv", 0, self.batch(deals[:2])), (2, 0, 0))
        restored = sc.Pipeline.load(self.m, p.save())
        self.assertEqual(restored.positions(), {"crm-export.csv": 2})
        # The whole input again, from offset 0: the first two are skipped.
        self.assertEqual(restored.apply_at("crm-export.csv", 0, self.batch(deals)), (2, 0, 2))
        self.assertEqual(restored.position("crm-export.csv"), 4)
        self.assertEqual(restored.position("never"), 0)
        self.assertEqual(restored.stage_counts()["initial_contact"], 4)
        moves = sc.stage_records([(deals[0], self.m.stage_id("qualification"), 500)])
        self.assertEqual(restored.apply_at("moves", 9, moves, moves=True, timed=True),
                         (1, 0, 0))
        self.assertEqual(restored.positions(), {"crm-export.csv": 4, "moves": 10})

    def test_bad_sources_are_errors(self):
        p = sc.Pipeline(self.m)
        deal = p.add(1)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "named by 1 to 1024 bytes"):
            p.apply_at("", 0, self.batch([deal]))
        with self.assertRaisesRegex(sc.InvalidArgumentError, "not UTF-8"):
            p.apply_at(b"\xff", 0, self.batch([deal]))
        with self.assertRaisesRegex(sc.InvalidArgumentError, "out of range"):
            p.apply_at("s", -1, self.batch([deal]))
        self.assertEqual(p.positions(), {})

    def test_durable_positions_survive_a_reopen(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "db")
            with sc.DurablePipeline(self.m, path) as db:
                deals = [db.add(1) for _ in range(3)]
                self.assertEqual(db.apply_at("in", 0, self.batch(deals)), (3, 0, 0))
            with sc.DurablePipeline(self.m, path) as db:
                self.assertEqual(db.apply_at("in", 1, self.batch(deals[1:])), (0, 0, 2))
                self.assertEqual(db.read(lambda p: p.positions()), {"in": 3})


class BulkTest(unittest.TestCase):
    """Many deals a call (issue 17): keys looked up or added, attribute
    columns, records as columns; one C call each."""

    def setUp(self):
        self.m = machine("b2b.textproto")
        self.p = sc.Pipeline(self.m)

    def test_keys_found_and_added_in_one_call(self):
        acme = self.p.add(5, key="acme")
        deals, added = self.p.add_keys(["globex", "acme", "initech", "globex"], 10,
                                       numpy=False)
        self.assertEqual(added, 2)  # globex once, initech
        self.assertEqual(deals[1], acme)
        self.assertEqual(deals[0], deals[3])
        self.assertEqual(self.p.find(key="initech"), deals[2])
        found = self.p.find_keys(["initech", "nobody", b"acme"], numpy=False)
        self.assertEqual(list(found), [deals[2], 2**32 - 1, acme])  # a miss is NONE
        deals, added = self.p.add_keys(["a", "b"], array.array("q", [7, 8]), numpy=False)
        self.assertEqual(added, 2)
        self.assertEqual(self.p.stage_of(deals[1])[1], 8)
        with self.assertRaisesRegex(sc.InvalidArgumentError, "2 keys and 1 times"):
            self.p.add_keys(["c", "d"], [1])

    def test_columns_set_all_or_nothing(self):
        deals, _ = self.p.add_keys(["a", "b", "c"], 1, numpy=False)
        self.p.set_column("budget", deals, [100, 200, 300])
        self.p.set_column("deal_value", deals, array.array("d", [1.5, 2.5, 3.5]))
        self.p.set_column("authority", deals, [True, False, 1])
        self.p.set_column("decision_maker", deals, ["CFO", "CEO", b"CTO"])
        self.assertEqual([self.p.get(d, "budget") for d in deals], [100, 200, 300])
        self.assertEqual(self.p.get(deals[2], "deal_value"), 3.5)
        self.assertEqual([self.p.get(d, "authority") for d in deals], [True, False, True])
        self.assertEqual(self.p.get(deals[1], "decision_maker"), "CEO")
        with self.assertRaisesRegex(sc.NotFoundError, r"deals\[1\]: deal 99 is not live"):
            self.p.set_column("budget", [deals[0], 99], [5, 6])
        self.assertEqual(self.p.get(deals[0], "budget"), 100)  # nothing set
        with self.assertRaisesRegex(sc.InvalidArgumentError, "a bool column takes"):
            self.p.set_column("authority", deals, [True, 2, False])
        with self.assertRaisesRegex(sc.InvalidArgumentError, "3 deals and 2 values"):
            self.p.set_column("budget", deals, [1, 2])

    def test_records_as_columns(self):
        deals, _ = self.p.add_keys(["a", "b"], 1, numpy=False)
        contact = self.m.event_id("contact")
        win = self.m.event_id("win")
        self.assertEqual(self.p.apply_columns(deals, [contact, win], [10, 11]), (1, 1))
        self.assertEqual(self.p.stage_of(deals[0])[0], self.m.stage_id("initial_contact"))
        with self.assertRaisesRegex(sc.InvalidArgumentError, "2 deals, 1 events and 2 times"):
            self.p.apply_columns(deals, [contact], [1, 2])
        with self.assertRaisesRegex(sc.InvalidArgumentError, r"records\[0\]: deal 77 is out of range"):
            self.p.apply_columns([77], [contact], [12])


class IngestTest(unittest.TestCase):
    """Pipeline.ingest: an event file in one C call, as `salescycle replay`."""

    def test_the_sample_as_the_tool_replays_it(self):
        m = machine("b2b.textproto")
        p = sc.Pipeline(m, analytics=True)
        sample = os.path.join(os.environ["SC_MACHINES_DIR"], "..", "data", "b2b_2026.csv")
        got = p.ingest_file(sample)
        # `salescycle replay b2b.textproto b2b_2026.csv` prints these counts.
        self.assertEqual(got[:6], (102729, 0, 83743, 6993, 5000, 547))
        self.assertEqual(got.first_bad, None)
        self.assertEqual(got.last_time, p.funnel_report()["as_of"])  # the latest row
        self.assertEqual(p.stage_counts()["prospecting"], 162)
        self.assertEqual(p.stage_counts()["initial_contact"], 85)

    def test_bad_rows_are_counted_or_stop_the_call(self):
        m = machine("b2b.textproto")
        p = sc.Pipeline(m)
        text = (b"deal,time,event,budget\n"
                b"acme,100,contact,\n"
                b"globex,101,no_such_event,\n"
                b"acme,102,qualify,5000\n")
        got = p.ingest(text)
        self.assertEqual((got.rows, got.bad_rows, got.accepted, got.added), (3, 1, 2, 1))  # a bad row adds no deal
        self.assertRegex(got.first_bad, '^3: .*no_such_event')
        with self.assertRaisesRegex(sc.InvalidArgumentError, "line 3: .*no_such_event"):
            sc.Pipeline(m).ingest(text, strict=True)
        jsonl = b'{"deal": "acme", "event": "contact", "time": 5}\n'
        self.assertEqual(sc.Pipeline(m).ingest(jsonl).accepted, 1)
        self.assertEqual(sc.Pipeline(m).ingest(jsonl.decode()).accepted, 1)  # str: UTF-8
        with self.assertRaisesRegex(sc.InvalidArgumentError, "line 1: .*"):
            sc.Pipeline(m).ingest(b"who,when\nacme,1\n", format="csv")
        with self.assertRaisesRegex(sc.InvalidArgumentError, "format is"):
            p.ingest(text, format="xml")


if __name__ == "__main__":
    unittest.main()
