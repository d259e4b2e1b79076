"""DurablePipeline: a pipeline in a directory that survives its process.

    with salescycle.DurablePipeline(machine, "/var/lib/crm/deals") as db:
        deal = db.add(time=1767225600, key="acme-renewal")
        db.fire(deal, "contact", 1767312000)      # journaled, synced, applied
        counts = db.read(lambda p: p.stage_counts())

Every change is written to a journal before it is applied; a change whose
call returned survives a crash (of the machine too with sync="write", the
default). Opening the directory again recovers: the latest snapshot, then
the journal's changes. salescycle/durable.h says the rest.

Unlike Pipeline, a DurablePipeline may be used from many threads at once:
the library serializes writers (those that wait for the disk together share
one sync), and close() waits for the calls under way.
"""
import ctypes
import threading
from ctypes import byref, c_int32, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from typing import Callable, NamedTuple, Optional, Tuple, TypeVar, Union

from . import _native
from ._native import ABORTED, NONE, encode, lib
from ._stepping import Outcome, checked_attribute
from .errors import CallbackError, ClosedError, FailedPreconditionError, InvalidArgumentError
from .machine import AttributeType, AttributeValue, Id, Machine
from .pipeline import _COHORTS, Pipeline, _record_pointer

_SYNC_EVERY_WRITE, _SYNC_INTERVAL, _SYNC_NONE = 0, 1, 2
_OUTCOMES = tuple(Outcome)
_SETTERS = {AttributeType.INT64: lib.sc_durable_set_int64,
            AttributeType.DOUBLE: lib.sc_durable_set_double,
            AttributeType.BOOL: lib.sc_durable_set_bool}
T = TypeVar("T")


class Recovery(NamedTuple):
    """What opening the directory found: the snapshot it started from (its
    number N of snapshot-N), the journaled changes replayed after it, the
    bytes dropped from the journal's end (a torn tail, or from a damaged
    record on when salvaged) and where the read stopped ("" when it read to
    a clean end)."""
    snapshot: int
    changes: int
    bytes_dropped: int
    torn_tail: bool
    salvaged: bool
    stopped_at: str


def call(fn, *args) -> None:
    """_native.call, and a failure of a named guard (which runs in the call
    that applies a change, on whichever thread leads its group commit)
    raised as CallbackError from what the guard raised."""
    _native.check_ints(fn, args)
    err = c_void_p()
    status = fn(*args, byref(err))
    if status == 0:
        return
    error = _native.error_from(status, err)
    cause = _native.take_guard_failure()
    if cause is not None and status == ABORTED:
        raise CallbackError(str(error)) from cause
    raise error


class _View(Pipeline):
    """A read-only pipeline that the library lends for the length of a
    read(): its changes are refused (FailedPreconditionError), it is never
    destroyed from here, and it is closed when the read returns."""
    _destroy = staticmethod(lambda pointer: None)


class DurablePipeline(_native.Handle):
    """A pipeline in `directory` (made if missing; its parent must exist),
    recovered from what the directory holds.

    `sync`: "write" (fdatasync before each change returns), "none" (the
    system writes back; a crash of the machine can lose what was not yet),
    or an int of milliseconds between background syncs.
    `checkpoint_after_bytes`: a journal this long is folded into a new
    snapshot (0: only checkpoint() does). `salvage`: keep the changes before
    a damaged journal record instead of raising DataLossError. The pipeline
    options are for a new directory; an existing one keeps its own.
    Raises FailedPreconditionError when the directory is open elsewhere or
    holds another machine's pipeline, DataLossError naming file and offset
    for a damaged snapshot or journal.
    """

    def __init__(self, machine: Machine, directory: str, *,
                 sync: Union[str, int] = "write",
                 checkpoint_after_bytes: int = 256 << 20, salvage: bool = False,
                 history_limit: int = 0, expected_deals: int = 0,
                 analytics: bool = False, cohort: Optional[str] = None):
        if cohort not in _COHORTS:
            raise InvalidArgumentError(
                'cohort is "week", "month", "quarter" or None, not %r' % (cohort,))
        if sync == "write":
            policy, interval = _SYNC_EVERY_WRITE, 1
        elif sync == "none":
            policy, interval = _SYNC_NONE, 1
        elif isinstance(sync, int) and not isinstance(sync, bool):
            policy, interval = _SYNC_INTERVAL, sync
        else:
            raise InvalidArgumentError(
                'sync is "write", "none" or the milliseconds between syncs, not %r' % (sync,))
        super().__init__(None)  # set once the directory is open
        self._machine = machine
        self._calls = 0
        self._idle = threading.Condition()
        self._reading = threading.local()
        options = c_void_p()
        call(lib.sc_durable_options_create, byref(options))
        try:
            call(lib.sc_durable_options_set_sync, options, policy, interval)
            call(lib.sc_durable_options_set_checkpoint_after_bytes, options,
                 checkpoint_after_bytes)
            call(lib.sc_durable_options_set_salvage, options, 1 if salvage else 0)
            with _native.options(history_limit, expected_deals, analytics,
                                 _COHORTS[cohort]) as pipeline_options:
                call(lib.sc_durable_options_set_pipeline, options, pipeline_options)
            path = encode(directory)
            out = c_void_p()
            call(lib.sc_durable_open, byref(out), machine._handle, path, len(path), options)
            self._ptr = out
        finally:
            lib.sc_durable_options_destroy(options)

    # ---- the handle, used by many threads

    def _run(self, body: Callable[[c_void_p], T]) -> T:
        """body(handle), counted as a call under way, so that close() waits
        for it rather than freeing the handle under it."""
        if getattr(self._reading, "depth", 0):
            raise FailedPreconditionError(
                "a change or read of the durable pipeline from inside its own read(): "
                "it would wait for itself")
        with self._idle:
            if self._ptr is None:
                raise ClosedError("DurablePipeline is closed")
            handle = self._ptr
            self._calls += 1
        try:
            return body(handle)
        finally:
            with self._idle:
                self._calls -= 1
                if self._calls == 0:
                    self._idle.notify_all()

    def close(self) -> None:
        """Syncs what was written and closes, after the calls under way on
        other threads return; later calls raise ClosedError. Idempotent."""
        if getattr(self._reading, "depth", 0):
            raise FailedPreconditionError("close() from inside read()")
        with self._idle:
            ptr, self._ptr = self._ptr, None
            while self._calls:
                self._idle.wait()
        if ptr is not None:
            lib.sc_durable_destroy(ptr)

    @property
    def machine(self) -> Machine:
        return self._machine

    @property
    def recovery(self) -> Recovery:
        def body(handle):
            snapshot, changes, dropped = c_uint64(), c_uint64(), c_uint64()
            torn, salvaged = c_uint8(), c_uint8()
            call(lib.sc_durable_recovery, byref(snapshot), byref(changes), byref(dropped),
                 byref(torn), byref(salvaged), handle)
            data, size = c_void_p(), c_size_t()
            call(lib.sc_durable_recovery_message, byref(data), byref(size), handle)
            message = ctypes.string_at(data.value, size.value) if size.value else b""
            return Recovery(snapshot.value, changes.value, dropped.value, bool(torn.value),
                            bool(salvaged.value), _native.decode(message))
        return self._run(body)

    # ---- changes, each journaled before it is applied

    def add(self, time: int, *, id: Optional[int] = None, key: Optional[str] = None,
            stage: Optional[Id] = None) -> int:
        """As Pipeline.add."""
        if id is not None and key is not None:
            raise InvalidArgumentError("add: give an id or a key, not both")
        entry = NONE if stage is None else self._machine.stage_id(stage)
        out = c_uint32()

        def body(handle):
            if id is not None:
                call(lib.sc_durable_add_with_id, byref(out), handle, id, entry, time)
            elif key is not None:
                data = encode(key)
                call(lib.sc_durable_add_with_key, byref(out), handle, data, len(data), entry,
                     time)
            else:
                call(lib.sc_durable_add, byref(out), handle, entry, time)
        self._run(body)
        return out.value

    def remove(self, deal: int) -> None:
        self._run(lambda handle: call(lib.sc_durable_remove, handle, deal))

    def set(self, deal: int, attribute: Id, value: AttributeValue) -> None:
        """As Pipeline.set."""
        a, kind = checked_attribute(self._machine, attribute, value)
        if kind == AttributeType.STRING:
            data = encode(value)
            self._run(lambda h: call(lib.sc_durable_set_string, h, deal, a, data, len(data)))
        else:
            self._run(lambda h: call(_SETTERS[kind], h, deal, a, value))

    def _step(self, fn, deal: int, what: Tuple[int, ...], time: int) -> Outcome:
        outcome = c_int32()
        self._run(lambda h: call(fn, byref(outcome), h, deal, *what, time))
        return _OUTCOMES[outcome.value]

    def fire(self, deal: int, event: Id, time: int) -> Outcome:
        return self._step(lib.sc_durable_fire, deal, (self._machine.event_id(event),), time)

    def move_to(self, deal: int, stage: Id, time: int) -> Outcome:
        return self._step(lib.sc_durable_move_to, deal, (self._machine.stage_id(stage),), time)

    def reopen(self, deal: int, time: int) -> Outcome:
        return self._step(lib.sc_durable_reopen, deal, (), time)

    def _batch(self, fn, batch, timed: bool) -> Tuple[int, int]:
        keep, count = _record_pointer(batch)
        pointer = keep[1] if keep else None
        accepted, rejected = c_uint64(), c_uint64()
        self._run(lambda h: call(fn, byref(accepted), byref(rejected), h, pointer, count,
                                 1 if timed else 0))
        return accepted.value, rejected.value

    def apply_batch(self, batch, *, timed: bool = False) -> Tuple[int, int]:
        """As Pipeline.apply_batch, one journal record; `timed` fires the
        timeouts due between records. Returns (accepted, rejected)."""
        return self._batch(lib.sc_durable_apply, batch, timed)

    def apply_moves(self, batch, *, timed: bool = False) -> Tuple[int, int]:
        return self._batch(lib.sc_durable_apply_moves, batch, timed)

    def apply_at(self, source: str, offset: int, batch, *, timed: bool = False,
                 moves: bool = False) -> Tuple[int, int, int]:
        """As Pipeline.apply_at, one journal record: the positions are
        recovered with the deals. Returns (accepted, rejected, skipped)."""
        keep, count = _record_pointer(batch)
        pointer = keep[1] if keep else None
        name = encode(source)
        accepted, rejected, skipped = c_uint64(), c_uint64(), c_uint64()
        fn = lib.sc_durable_apply_moves_at if moves else lib.sc_durable_apply_at
        self._run(lambda h: call(fn, byref(accepted), byref(rejected), byref(skipped), h, name,
                                 len(name), offset, pointer, count, 1 if timed else 0))
        return accepted.value, rejected.value, skipped.value

    def advance_to(self, now: int) -> int:
        out = c_uint64()
        self._run(lambda h: call(lib.sc_durable_advance_to, byref(out), h, now))
        return out.value

    def sync(self) -> None:
        """Syncs everything written so far (for sync="none" or an interval)."""
        self._run(lambda h: call(lib.sc_durable_sync, h))

    def checkpoint(self) -> None:
        """Writes a new snapshot atomically and starts a new journal."""
        self._run(lambda h: call(lib.sc_durable_checkpoint, h))

    # ---- reading

    def read(self, fn: Callable[[Pipeline], T]) -> T:
        """Returns fn(pipeline), called with a read-only view of the
        pipeline while no change is applied: every read of Pipeline works
        on it (stage_of, find, stage_counts, funnel, save), until fn
        returns; a change through it raises FailedPreconditionError, as
        does a call of this object's methods from fn."""
        result: list = []
        failure: list = []
        reading = self._reading

        def trampoline(view_pointer, _user_data):
            view = _View._adopt(c_void_p(view_pointer), self._machine)
            reading.depth = getattr(reading, "depth", 0) + 1
            try:
                result.append(fn(view))
            except BaseException as e:  # never let an exception into C
                failure.append(e)
            finally:
                reading.depth -= 1
                view._ptr = None  # the view ends with the read

        callback = _native.READ(trampoline)
        self._run(lambda h: call(lib.sc_durable_read, h, callback, None))
        if failure:
            raise failure[0]
        return result[0]

    def __repr__(self) -> str:
        if self.closed:
            return "<DurablePipeline (closed)>"
        return "<DurablePipeline of %s>" % self._machine.name
