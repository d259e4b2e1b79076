"""Pipeline: many deals of one machine, moved one event at a time or in
batches of fixed-layout records."""
import array
import ctypes
import json
from ctypes import addressof, byref, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Callable, Dict, Iterable, NamedTuple, Optional, Tuple, Union

from . import _native
from ._native import NONE, EventRecord, StageRecord, call, column, encode, lib
from ._stepping import Lifecycle, Outcome, Stepping, serialized
from . import funnel_state
from .errors import InvalidArgumentError
from .funnel_state import FunnelState
from .limits import Limits
from .machine import AttributeType, AttributeValue, Id, Machine

RECORD_SIZE = ctypes.sizeof(EventRecord)  # 16
_COHORTS = {None: 0, "week": 1, "month": 2, "quarter": 3}


def records(events: Iterable[Tuple[int, int, int]]) -> "ctypes.Array[EventRecord]":
    """A batch built from (deal, event id, time) tuples. For large batches,
    fill a buffer directly instead: any buffer of 16-byte records laid out as
    EventRecord (deal u32, event u32, time i64) will do, e.g. a numpy
    structured array with dtype [('deal','<u4'),('event','<u4'),('time','<i8')]."""
    items = list(events)
    array = (EventRecord * len(items))()
    for i, (deal, event, time) in enumerate(items):
        array[i].deal, array[i].event, array[i].time = deal, event, time
    return array


def _bool_value(v) -> int:
    # A bool column takes bools (and 0 and 1): a 2 is not "true".
    if v is True or v is False or v in (0, 1):
        return int(v)
    raise InvalidArgumentError("a bool column takes True, False, 0 or 1, not %r" % (v,))


# By attribute type: the array.array code of a value column, the C call,
# what a bad value is named.
_COLUMN_TYPES = {
    AttributeType.INT64: ("q", "set_int64_column", "values: each is an int64"),
    AttributeType.DOUBLE: ("d", "set_double_column", "values: each is a number"),
    AttributeType.BOOL: ("B", "set_bool_column", "values: each is a bool"),
}


_ROW_FORMATS = {"auto": 0, "csv": 1, "jsonl": 2}


class Ingested(NamedTuple):
    """What Pipeline.ingest did (the tool's replay summary)."""
    rows: int
    bad_rows: int
    accepted: int
    rejected: int
    added: int
    timeouts: int
    last_time: Optional[int]  # the latest row's time; None when no row applied
    first_bad: Optional[str]


def stage_records(moves: Iterable[Tuple[int, int, int]]) -> "ctypes.Array[StageRecord]":
    """A batch of moves by stage built from (deal, stage id, time) tuples,
    for apply_moves; any buffer of the same 16-byte layout will do too."""
    items = list(moves)
    array = (StageRecord * len(items))()
    for i, (deal, stage, time) in enumerate(items):
        array[i].deal, array[i].stage, array[i].time = deal, stage, time
    return array


def _record_pointer(batch) -> Tuple[object, int]:
    """A pointer to the batch's records without copying them, and their
    count. The first element keeps whatever the pointer points into alive.
    Another Python thread may write a writable buffer during the C call (it
    releases the GIL): the library reads each record once where it applies
    it and checks it again (sc_pipeline_apply, Pipeline::ApplySharedBuffer),
    so that is never a crash."""
    if isinstance(batch, bytes):
        size = len(batch)
        keep, pointer = batch, ctypes.cast(ctypes.c_char_p(batch), c_void_p)
    else:
        view = memoryview(batch)
        if not view.c_contiguous:
            raise InvalidArgumentError("apply_batch: the records are not contiguous")
        size = view.nbytes
        if size == 0:
            return None, 0
        if view.readonly:
            # ctypes maps only writable buffers; a read-only one is copied.
            keep = (ctypes.c_char * size).from_buffer_copy(view)
        else:
            keep = (ctypes.c_char * size).from_buffer(view.cast("B"))
        pointer = ctypes.cast(keep, c_void_p)
    if size % RECORD_SIZE:
        raise InvalidArgumentError(
            "apply_batch: %d bytes is not a whole number of %d-byte records"
            % (size, RECORD_SIZE))
    return (keep, pointer), size // RECORD_SIZE


_CHANGE_KINDS = ("add", "remove", "set")  # SC_CHANGE_*


class Change(NamedTuple):
    """A change that is not a step: kind "add" (`id`: the stage the deal
    was added in, `time`: when), "remove" (`id` None) or "set" (`id`: the
    attribute set; read the value with get())."""
    kind: str
    deal: int
    id: Optional[int]
    time: int


@serialized
class Pipeline(Stepping):
    """Many deals of one machine in compact columns, addressed by a dense
    deal index and optionally by an external id (an int) or key (a str).

    Calls from several threads are safe and run one at a time (a lock);
    close() waits for the call under way. DurablePipeline lets writers on
    many threads share its journal's syncs.
    """

    _prefix = "sc_pipeline_"
    _destroy = lib.sc_pipeline_destroy

    def __init__(self, machine: Machine, *, history_limit: int = 0,
                 expected_deals: int = 0, analytics: bool = False,
                 cohort: Optional[str] = None):
        """`analytics` keeps the funnel's counters online (see funnel());
        `cohort` ("week", "month" or "quarter") also groups them by when
        deals were added."""
        if cohort not in _COHORTS:
            raise InvalidArgumentError(
                'cohort is "week", "month", "quarter" or None, not %r' % (cohort,))
        out = c_void_p()
        with _native.options(history_limit, expected_deals, analytics,
                             _COHORTS[cohort]) as options:
            call(lib.sc_pipeline_create, byref(out), machine._handle, options)
        super().__init__(out, machine)

    # ---- snapshots

    def save(self) -> bytes:
        """The pipeline as a snapshot (see salescycle/snapshot.h)."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_pipeline_save, byref(data), byref(size), self._handle)
        return _native.take_bytes(data, size.value)

    def save_file(self, path: str) -> None:
        """Writes a temporary file and renames it over `path`: a failed save
        leaves the previous file intact."""
        call(lib.sc_pipeline_save_file, self._handle, encode(path))

    @classmethod
    def load(cls, machine: Machine, data: bytes, *,
             limits: Optional[Limits] = None) -> "Pipeline":
        """Raises DataLossError for bad bytes, FailedPreconditionError for a
        snapshot of another machine or version, InvalidArgumentError for
        one that declares more than `limits` allow."""
        data = bytes(data)
        return cls._load("load_with_limits", machine, (data, len(data)), limits)

    @classmethod
    def load_file(cls, machine: Machine, path: str, *,
                  limits: Optional[Limits] = None) -> "Pipeline":
        return cls._load("load_file_with_limits", machine, (encode(path),), limits)

    # ---- splitting and joining (rescaling shards: salescycle/snapshot.h)

    def deals_in_key_groups(self, num_groups: int, first: int, end: int, *,
                            numpy: Optional[bool] = None):
        """The live deals whose key (or id) falls in key groups [first, end)
        of `num_groups` (KeyGroups), in index order (uint32). Raises
        FailedPreconditionError naming a deal with neither key nor id."""
        count = c_size_t()
        call(lib.sc_pipeline_deals_in_key_groups, None, 0, byref(count), self._handle,
             num_groups, first, end)
        out, pointer = column("I", "uint32", count.value, numpy)
        if count.value:
            call(lib.sc_pipeline_deals_in_key_groups, pointer, count.value, byref(count),
                 self._handle, num_groups, first, end)
        return out

    def save_part(self, deals, *, counters: bool = False) -> bytes:
        """A snapshot of `deals` alone (live, each once; they come back as
        deals 0, 1, ... in this order), to join with others by load_parts.
        With `counters`, the part carries this pipeline's funnel counters
        and input positions too: give them to exactly one part of a split,
        so that the joined funnels count every deal's past once. The
        pipeline is not changed."""
        keep, address, n = _native.typed_column(deals, "I", "deals: each is a deal index")
        data, size = c_void_p(), c_size_t()
        call(lib.sc_pipeline_save_part, byref(data), byref(size), self._handle, address, n,
             1 if counters else 0)
        return _native.take_bytes(data, size.value)

    @classmethod
    def load_parts(cls, machine: Machine, parts: Iterable[bytes], *,
                   limits: Optional[Limits] = None) -> "Pipeline":
        """One pipeline holding the deals of every snapshot in `parts`, in
        turn (keys and ids kept, indexes not), their funnel counters added
        and their input positions together. Raises DataLossError for a key,
        id or input source two parts hold, FailedPreconditionError for parts
        of different history limits or funnel settings, InvalidArgumentError
        for a part past `limits` (default: Limits(), meant for untrusted
        bytes)."""
        parts = [bytes(p) for p in parts]
        data = (ctypes.c_char_p * len(parts))(*parts)
        lens = (c_size_t * len(parts))(*[len(p) for p in parts])
        return cls._load("load_parts", machine, (data, lens, len(parts)), limits)

    # ---- deals

    def add(self, time: int, *, id: Optional[int] = None,
            key: Optional[str] = None, stage: Optional[Id] = None) -> int:
        """Adds a deal entered at `time` in `stage` (an id or name; one of
        the machine's entry stages; default: the initial stage) and returns
        its index. Raises AlreadyExistsError for an id or key in use,
        InvalidArgumentError for a stage that is not an entry stage."""
        out = c_uint32()
        if id is not None and key is not None:
            raise InvalidArgumentError("add: give an id or a key, not both")
        handle = self._handle
        # Through _call, so that a change observer's exception is raised as
        # CallbackError (the deal is added all the same).
        if stage is None:  # the initial stage
            if id is not None:
                self._call("add_with_id", byref(out), handle, id, time)
            elif key is not None:
                data = encode(key)
                self._call("add_with_key", byref(out), handle, data, len(data), time)
            else:
                self._call("add", byref(out), handle, time)
            return out.value
        entry = self._machine.stage_id(stage)
        if id is not None:
            self._call("add_with_id_in_stage", byref(out), handle, id, entry, time)
        elif key is not None:
            data = encode(key)
            self._call("add_with_key_in_stage", byref(out), handle, data, len(data), entry, time)
        else:
            self._call("add_in_stage", byref(out), handle, entry, time)
        return out.value

    def remove(self, deal: int) -> None:
        self._call("remove", self._handle, deal)

    def add_change_observer(self, on_change: Callable[[Change], None]) -> int:
        """Calls `on_change(change)` after every add, removal and attribute
        set (a Change: kind "add", "remove" or "set", the deal, the stage it
        was added in or the attribute set, the time of an add), on the
        thread that made it, so that a host can keep its own log or index.
        It may read the pipeline, not change it; an exception does not undo
        the change: the call raises CallbackError from it. Returns a token
        for remove_observer."""
        callbacks = self._callbacks

        def trampoline(_user_data, kind, deal, id, time):
            return callbacks.run(lambda: on_change(
                Change(_CHANGE_KINDS[kind], deal, None if id == NONE else id, time)))
        c_change = _native.CHANGE(trampoline)
        token = c_uint64()
        self._call("add_change_observer", byref(token), self._handle, c_change, None)
        self._observers[token.value] = (c_change, None)
        return token.value

    def find(self, *, id: Optional[int] = None, key: Optional[str] = None) -> int:
        """The index of the deal with this id or key; NotFoundError if none."""
        out = c_uint32()
        if (id is None) == (key is None):
            raise InvalidArgumentError("find: give an id or a key")
        if id is not None:
            call(lib.sc_pipeline_find_by_id, byref(out), self._handle, id)
        else:
            data = encode(key)
            call(lib.sc_pipeline_find_by_key, byref(out), self._handle, data, len(data))
        return out.value

    def __len__(self) -> int:
        out = c_uint64()
        call(lib.sc_pipeline_size, byref(out), self._handle)
        return out.value

    def stage_of(self, deal: int) -> Tuple[int, int]:
        """(stage id, time the deal entered it)."""
        stage, entered = c_uint32(), c_int64()
        call(lib.sc_pipeline_deal_stage, byref(stage), byref(entered), self._handle, deal)
        return stage.value, entered.value

    def lifecycle(self, deal: int) -> Lifecycle:
        """Its last activity time, the stage it was last closed from and its
        cycle (see Lifecycle)."""
        return self._lifecycle("deal_lifecycle", (deal,))

    def loss_reason(self, deal: int) -> str:
        """The reason recorded when the deal entered the LOST stage it is
        in ("" when none)."""
        return self._loss_reason((deal,))

    def set(self, deal: int, attribute: Id, value: AttributeValue) -> None:
        """Raises InvalidArgumentError for a value of another type."""
        self._set((deal,), attribute, value)

    def get(self, deal: int, attribute: Id) -> AttributeValue:
        """The value, or the declared default when unset."""
        return self._get((deal,), attribute)

    def is_set(self, deal: int, attribute: Id) -> bool:
        return self._is_set((deal,), attribute)

    # ---- moving deals

    def fire(self, deal: int, event: Id, time: int) -> Outcome:
        """Fires one event (an id or a name). A rejection is an Outcome, not
        an exception."""
        return self._fire((deal,), event, time)

    def move_to(self, deal: int, stage: Id, time: int) -> Outcome:
        """Moves the deal to `stage` (an id or a name) by stage: the first
        declared transition between its stage and `stage` whose guard holds.
        Its own stage records an activity (Outcome.ACTIVITY), never a move;
        with no declared transition, the stage a deal in a reopenable closed
        stage was closed from reopens it."""
        return self._move_to((deal,), stage, time)

    def reopen(self, deal: int, time: int) -> Outcome:
        """Back into the stage the deal was closed from, in the same cycle;
        Outcome.NOT_REOPENABLE unless it is in a reopenable closed stage."""
        return self._reopen((deal,), time)

    def apply_moves(self, batch) -> Tuple[int, int]:
        """Applies moves by stage (StageRecord layout, see stage_records) as
        apply_batch applies events; returns (accepted, rejected), where
        accepted counts moves and updates."""
        keep, count = _record_pointer(batch)
        accepted, rejected = c_uint64(), c_uint64()
        self._call("apply_moves", byref(accepted), byref(rejected), self._handle,
                   keep[1] if keep else None, count)
        return accepted.value, rejected.value

    def apply_batch(self, batch) -> Tuple[int, int]:
        """Applies a batch of records in order, in one C call and without a
        Python loop, and returns (accepted, rejected). `batch` is any
        contiguous buffer of EventRecord layout: bytes, bytearray,
        memoryview, array.array, a ctypes array (see records()), or a numpy
        array; writable buffers and bytes are read in place. A record with a
        deal index past the pipeline's slots or an unknown event fails the
        whole batch with InvalidArgumentError, and nothing is applied."""
        keep, count = _record_pointer(batch)
        accepted, rejected = c_uint64(), c_uint64()
        self._call("apply", byref(accepted), byref(rejected), self._handle,
                   keep[1] if keep else None, count)
        return accepted.value, rejected.value

    def apply_at(self, source: str, offset: int, batch, *, timed: bool = False,
                 moves: bool = False) -> Tuple[int, int, int]:
        """Applies a batch (as apply_batch, or with moves=True as
        apply_moves) whose records are at offsets offset, offset + 1, ...
        of the input `source` (any name: a file, a Kafka partition, a
        shard's stream); returns (accepted, rejected, skipped). Records at
        offsets applied before from `source` are skipped, so a replay of an
        input after a restore (positions are saved in snapshots) applies
        each record exactly once. `timed` fires the timeouts due between
        records first."""
        keep, count = _record_pointer(batch)
        name = encode(source)
        accepted, rejected, skipped = c_uint64(), c_uint64(), c_uint64()
        self._call("apply_moves_at" if moves else "apply_at", byref(accepted), byref(rejected),
                   byref(skipped), self._handle, name, len(name), offset,
                   keep[1] if keep else None, count, 1 if timed else 0)
        return accepted.value, rejected.value, skipped.value

    def position(self, source: str) -> int:
        """The first offset of `source` not applied yet (0 if never)."""
        name = encode(source)
        out = c_uint64()
        call(lib.sc_pipeline_position, byref(out), self._handle, name, len(name))
        return out.value

    def positions(self) -> Dict[str, int]:
        """Every input source's position, by name."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_pipeline_positions_json, byref(data), byref(size), self._handle)
        return json.loads(_native.take_bytes(data, size.value).decode("utf-8"))

    # ---- bulk: many deals a call (one C call each, no Python loop in C)

    def find_keys(self, keys: Iterable[Union[str, bytes]], *, numpy: Optional[bool] = None):
        """The deal of each key (uint32; NONE, 2**32 - 1, for a key no live
        deal has: a miss is not an exception), in one C call."""
        data, offsets = _native.key_column(keys)
        count = len(offsets) - 1
        out, pointer = column("I", "uint32", count, numpy)
        call(lib.sc_pipeline_find_keys, pointer, self._handle, data, len(data),
             c_void_p(offsets.buffer_info()[0]), count)
        return out

    def add_keys(self, keys: Iterable[Union[str, bytes]], times, *,
                 numpy: Optional[bool] = None):
        """The deal of each key, adding those no live deal has (in the
        initial stage at times[i]; `times` may be one int for all), in one C
        call. Returns (deals, how many were added)."""
        data, offsets = _native.key_column(keys)
        count = len(offsets) - 1
        if isinstance(times, int):
            times = array.array("q", [times]) * count
        keep, address, n = _native.typed_column(times, "q", "times: each is an int64")
        if n != count:
            raise InvalidArgumentError("add_keys: %d keys and %d times" % (count, n))
        out, pointer = column("I", "uint32", count, numpy)
        added = c_uint64()
        self._call("add_keys", pointer, byref(added), self._handle, data, len(data),
                   c_void_p(offsets.buffer_info()[0]), count, c_void_p(address))
        del keep
        return out, added.value

    def set_column(self, attribute: Id, deals, values) -> None:
        """Sets `attribute` of deals[i] to values[i] for every i, in one C
        call; all or nothing (the type and every deal are checked first).
        Numbers may come as a numpy array or array.array, read in place."""
        a = self._machine.attribute_id(attribute)
        kind = self._machine.attribute_type(a)
        keep_deals, deal_address, count = _native.typed_column(
            deals, "I", "deals: each is a deal index (uint32)")
        if kind == AttributeType.STRING:
            data, offsets = _native.key_column(values)
            if len(offsets) - 1 != count:
                raise InvalidArgumentError("set_column: %d deals and %d values"
                                           % (count, len(offsets) - 1))
            self._call("set_string_column", self._handle, a, c_void_p(deal_address), data,
                       len(data), c_void_p(offsets.buffer_info()[0]), count)
            return
        code, verb, what = _COLUMN_TYPES[kind]
        if kind == AttributeType.BOOL:
            values = [_bool_value(v) for v in values]
        keep_values, value_address, n = _native.typed_column(values, code, what)
        if n != count:
            raise InvalidArgumentError("set_column: %d deals and %d values" % (count, n))
        self._call(verb, self._handle, a, c_void_p(deal_address), c_void_p(value_address), count)
        del keep_deals, keep_values

    def apply_columns(self, deals, events, times) -> Tuple[int, int]:
        """apply_batch with the records as three columns (deal indexes,
        event ids, times: sequences, numpy arrays or array.array), in one C
        call; returns (accepted, rejected)."""
        keep_d, d, count = _native.typed_column(deals, "I", "deals: each is a uint32")
        keep_e, e, n_events = _native.typed_column(events, "I", "events: each is a uint32")
        keep_t, tm, n_times = _native.typed_column(times, "q", "times: each is an int64")
        if not count == n_events == n_times:
            raise InvalidArgumentError("apply_columns: %d deals, %d events and %d times"
                                       % (count, n_events, n_times))
        accepted, rejected = c_uint64(), c_uint64()
        self._call("apply_columns", byref(accepted), byref(rejected), self._handle,
                   c_void_p(d), c_void_p(e), c_void_p(tm), count)
        del keep_d, keep_e, keep_t
        return accepted.value, rejected.value

    def ingest(self, data: Union[str, bytes, bytearray, memoryview], *, format: str = "auto",
               strict: bool = False) -> "Ingested":
        """Applies an event file's rows (CSV with a header, or JSON Lines;
        "auto": JSON Lines when it starts with a JSON object) exactly as
        `salescycle replay` does, in one C call: a deal's first row adds it,
        rows apply in time with the machine's timeouts between them. Bad
        rows are skipped and counted (the first one's "LINE: what" in
        first_bad), or with strict=True the first raises
        InvalidArgumentError naming its line."""
        if format not in _ROW_FORMATS:
            raise InvalidArgumentError('format is "auto", "csv" or "jsonl", not %r' % (format,))
        if isinstance(data, str):
            data = data.encode("utf-8")  # text given as str: the file's UTF-8
        elif not isinstance(data, bytes):
            data = bytes(data)
        counts = (c_uint64 * 7)()
        first_bad = c_void_p()
        self._call("ingest", counts, 7, byref(first_bad), self._handle, data, len(data),
                   _ROW_FORMATS[format], 1 if strict else 0)
        bad = None
        if first_bad.value:  # NUL-terminated, freed by take_bytes
            size = len(ctypes.string_at(first_bad.value))
            bad = _native.take_bytes(first_bad, size).decode("utf-8", "replace")
        last = ctypes.c_int64(counts[6]).value if counts[0] > counts[1] else None
        return Ingested(*counts[:6], last, bad)

    def ingest_file(self, path, *, format: str = "auto", strict: bool = False) -> "Ingested":
        """ingest() of the file at `path` (format "auto" goes by the
        extension, .csv or .jsonl, then by the content)."""
        if format == "auto":
            name = str(path)
            format = ("csv" if name.endswith(".csv") else
                      "jsonl" if name.endswith((".jsonl", ".json")) else "auto")
        with open(path, "rb") as f:
            return self.ingest(f.read(), format=format, strict=strict)

    def apply_parallel(self, batch, threads: int) -> Tuple[int, int, int]:
        """apply_batch split across up to `threads` (1 to 64) threads by
        deal, with exactly its result; returns (accepted, rejected, threads
        that ran). It runs fewer where more do not pay, and one where the
        result could differ (named guards, observers, history, analytics).
        The GIL is released for the call, as for apply_batch."""
        keep, count = _record_pointer(batch)
        accepted, rejected, ran = c_uint64(), c_uint64(), c_uint32()
        self._call("apply_parallel", byref(accepted), byref(rejected), byref(ran),
                   self._handle, keep[1] if keep else None, count, threads)
        return accepted.value, rejected.value, ran.value

    # ---- the funnel

    def funnel(self, format: str = "table", *, value: Optional[str] = None,
               now: Optional[int] = None, by: Optional[str] = None,
               closed_from: Optional[int] = None, closed_to: Optional[int] = None,
               created_from: Optional[int] = None, created_to: Optional[int] = None,
               in_order: bool = False) -> Union[str, bytes]:
        """The funnel report (include/salescycle/funnel.h defines every
        figure) as "table", "json", "csv", "svg" (str) or "proto" (bytes of
        salescycle.v1.FunnelReport). `value` names the deal value attribute;
        `now` is when stalled deals are judged (default: the latest event);
        `by` breaks the live deals down by an attribute. The windows (Unix
        seconds, each bound the start of a period of the pipeline's
        cohorts) keep the closes of [closed_from, closed_to) and the deals
        added in [created_from, created_to). `in_order` puts the in-order
        figures in the table's reached and to-next columns. Raises
        FailedPreconditionError for a pipeline with neither analytics nor
        history, or a window without cohorts."""
        fid = funnel_state.format_id(format, in_order)
        o = funnel_state.options(value, by, now, closed_from, closed_to, created_from,
                                 created_to)
        data, size = c_void_p(), c_size_t()
        call(lib.sc_pipeline_funnel_with, byref(data), byref(size), self._handle, fid,
             addressof(o))
        raw = _native.take_bytes(data, size.value)
        return raw if format == "proto" else raw.decode("utf-8")

    def funnel_report(self, *, value: Optional[str] = None, now: Optional[int] = None,
                      **slices) -> dict:
        """The funnel report as a dict (the JSON form, parsed); `slices` as
        funnel()'s by, closed_from, closed_to, created_from, created_to."""
        return json.loads(self.funnel("json", value=value, now=now, **slices))

    def funnel_state(self, *, value: Optional[str] = None, by: Optional[str] = None,
                     now: Optional[int] = None, closed_from: Optional[int] = None,
                     closed_to: Optional[int] = None, created_from: Optional[int] = None,
                     created_to: Optional[int] = None) -> FunnelState:
        """The funnel's state as of `now` (a FunnelState: merge the states
        of shards, serialize, report), with funnel()'s options: they are
        part of the state (states captured differently do not merge)."""
        return funnel_state.capture(
            self._handle, funnel_state.options(value, by, now, closed_from, closed_to,
                                               created_from, created_to))

    # ---- counts

    def stage_count(self, stage: Id) -> int:
        out = c_uint64()
        call(lib.sc_pipeline_stage_count, byref(out), self._handle,
             self._machine.stage_id(stage))
        return out.value

    def stage_counts(self) -> Dict[str, int]:
        """Live deals per stage, by stage name, in stage order."""
        names = self._machine.stages
        counts = (c_uint64 * len(names))()
        call(lib.sc_pipeline_stage_counts, counts, len(names), self._handle)
        return dict(zip(names, counts))

    # ---- columns: one C call fills an array, no Python loop. A numpy
    # array where numpy is installed (numpy=None: if it imports), else an
    # array.array; the package itself needs only the standard library.

    def deals_in_stage(self, stage: Id, *, numpy: Optional[bool] = None):
        """The live deals in `stage`, in index order (uint32)."""
        s = self._machine.stage_id(stage)
        count = c_size_t()
        call(lib.sc_pipeline_deals_in_stage, None, 0, byref(count), self._handle, s)
        out, pointer = column("I", "uint32", count.value, numpy)
        if count.value:
            call(lib.sc_pipeline_deals_in_stage, pointer, count.value, byref(count),
                 self._handle, s)
        return out

    def _slots(self) -> int:
        out = c_uint64()
        call(lib.sc_pipeline_slot_count, byref(out), self._handle)
        return out.value

    def stage_column(self, *, numpy: Optional[bool] = None):
        """The stage id of every slot (uint32; NONE, 2**32 - 1, for a
        removed slot), indexed by deal."""
        n = self._slots()
        out, pointer = column("I", "uint32", n, numpy)
        if n:
            call(lib.sc_pipeline_stage_column, pointer, n, self._handle)
        return out

    def entered_at_column(self, *, numpy: Optional[bool] = None):
        """The time every deal entered its stage (int64; 0 for a removed
        slot), indexed by deal."""
        n = self._slots()
        out, pointer = column("q", "int64", n, numpy)
        if n:
            call(lib.sc_pipeline_entered_at_column, pointer, n, self._handle)
        return out

    def id_column(self, *, numpy: Optional[bool] = None):
        """(ids, has_id): every deal's external id (uint64; 0 where it has
        none) and whether it has one (uint8), indexed by deal."""
        n = self._slots()
        ids, ids_pointer = column("Q", "uint64", n, numpy)
        has, has_pointer = column("B", "uint8", n, numpy)
        if n:
            call(lib.sc_pipeline_id_column, ids_pointer, has_pointer, n, self._handle)
        return ids, has

    def __repr__(self) -> str:
        if self.closed:
            return "<salescycle.Pipeline (closed)>"
        return "<salescycle.Pipeline of %s: %d deals>" % (self._machine.name, len(self))
