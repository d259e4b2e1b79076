"""What pipelines and journeys share: attributes, firing, timeouts and
observers, over the C functions of either (sc_pipeline_* with a deal index,
sc_journey_* without). Private to the package."""
import ctypes
import enum
import functools
import inspect
import threading
from ctypes import byref, c_double, c_int32, c_int64, c_size_t, c_uint8, c_uint64, c_void_p
from typing import Callable, Dict, NamedTuple, Optional, Tuple

from . import _native
from ._native import NONE, encode, lib
from .errors import FailedPreconditionError, InvalidArgumentError
from .limits import Limits, limits_handle
from .machine import AttributeType, AttributeValue, Id, Machine


class Outcome(enum.IntEnum):
    """What a step did. MOVED and ACTIVITY are accepted; everything else is
    a rejection."""
    MOVED = 0
    NO_TRANSITION = 1
    GUARD_FAILED = 2
    MISSING_ATTRIBUTE = 3
    NO_DEAL = 4
    # Accepted without a move: an activity event, or a move by stage to the
    # deal's own stage (an update). It sets the deal's last activity time.
    ACTIVITY = 5
    # A reopen of a deal that is not in a reopenable closed stage.
    NOT_REOPENABLE = 6


_OUTCOMES = tuple(Outcome)


class Step(NamedTuple):
    """One step, as observers see it. `deal` is None for a journey, `event`
    None for a timeout that entered a stage; `to_stage == from_stage` for a
    rejection."""
    deal: Optional[int]
    from_stage: int
    to_stage: int
    event: Optional[int]
    time: int
    outcome: Outcome


Observer = Callable[[Step], None]


class Lifecycle(NamedTuple):
    """What a deal keeps beyond its stage: its last activity time (its entry
    time when the machine keeps none), the open stage it was last closed from
    (None: never, or the machine has no reopenable stage) and its cycle (1
    for the first; one more for each repeat purchase or new attempt)."""
    last_activity: int
    closed_from: Optional[int]
    cycle: int

_SETTERS = {AttributeType.INT64: "set_int64", AttributeType.DOUBLE: "set_double",
            AttributeType.BOOL: "set_bool", AttributeType.STRING: "set_string"}
# The Python values each type takes (an int is accepted for a double; a
# bool, though an int to Python, only for a bool: _set refuses it for a
# number, so that True never lands as 1).
_ACCEPTS = {AttributeType.INT64: (int,), AttributeType.DOUBLE: (int, float),
            AttributeType.BOOL: (bool,), AttributeType.STRING: (str, bytes)}
_GETTERS = {AttributeType.INT64: ("get_int64", c_int64),
            AttributeType.DOUBLE: ("get_double", c_double),
            AttributeType.BOOL: ("get_bool", c_uint8)}


def checked_attribute(machine: Machine, attribute: Id,
                      value: AttributeValue) -> Tuple[int, AttributeType]:
    """The attribute's id and type, once `value` is one it takes; else
    InvalidArgumentError naming both types."""
    a = machine.attribute_id(attribute)
    kind = machine.attribute_type(a)
    if not isinstance(value, _ACCEPTS[kind]) or (
            isinstance(value, bool) and kind != AttributeType.BOOL):
        raise InvalidArgumentError('attribute "%s" is %s, not %s' % (
            machine.attributes[a], kind.name.lower(), type(value).__name__))
    return a, kind


_SERIALIZED_DUNDERS = ("__len__", "__repr__")


def serialized(cls):
    """Runs every public method and property of `cls` under the handle's
    lock (an RLock, so that an observer may read its handle from inside the
    call that runs it).

    A pipeline or journey is one writer at a time, in C as in C++, and
    ctypes releases the GIL during each C call: two Python threads calling
    one handle at once crashed the process, and a close() from another
    thread during a call freed the handle under it (issue 15). Python code
    must not be able to crash the interpreter, so calls from several
    threads are serialized, and close() waits for the call under way. The
    lock costs about 0.25 us a call (fire: 1.45 us before)."""
    def wrap(fn):
        @functools.wraps(fn)
        def locked(self, *args, **kwargs):
            with self._lock:
                return fn(self, *args, **kwargs)
        return locked

    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name not in _SERIALIZED_DUNDERS:
            continue
        if isinstance(attr, property):
            setattr(cls, name, property(wrap(attr.fget), attr.fset, attr.fdel, attr.__doc__))
        elif inspect.isfunction(attr):
            setattr(cls, name, wrap(attr))
    return cls


@serialized
class Stepping(_native.Handle):
    """Base of Pipeline and Journey. `deal` arguments are tuples: (index,)
    for a pipeline, () for a journey."""

    _prefix: str

    def __init__(self, pointer: c_void_p, machine: Machine):
        self._lock = threading.RLock()  # see serialized()
        super().__init__(pointer)
        self._machine = machine  # keeps its named guards alive
        self._callbacks = _native.CallbackState()
        self._observers: Dict[int, Tuple[object, object]] = {}
        self._c_fire = getattr(lib, self._prefix + "fire")
        self._outcome = c_int32()
        self._outcome_ref = byref(self._outcome)

    @classmethod
    def _adopt(cls, pointer: c_void_p, machine: Machine):
        """Wraps a handle the library made (by a load or a clone)."""
        self = cls.__new__(cls)
        Stepping.__init__(self, pointer, machine)
        return self

    @classmethod
    def _load(cls, verb: str, machine: Machine, args: tuple,
              limits: Optional[Limits]):
        """A new handle from sc_<kind>_<verb>(out, machine, *args, limits)."""
        out = c_void_p()
        with limits_handle(limits) as handle:
            _native.call(getattr(lib, cls._prefix + verb), byref(out),
                         machine._handle, *args, handle)
        return cls._adopt(out, machine)

    @property
    def machine(self) -> Machine:
        return self._machine

    def _call(self, verb: str, *args) -> None:
        callbacks = self._callbacks
        fn = getattr(lib, self._prefix + verb)
        _native.check_ints(fn, args)
        callbacks.check(fn(*args, callbacks.err_ref))

    def _set(self, deal: tuple, attribute: Id, value: AttributeValue) -> None:
        a, kind = checked_attribute(self._machine, attribute, value)
        if kind == AttributeType.STRING:
            data = encode(value)
            self._call("set_string", self._handle, *deal, a, data, len(data))
        else:
            self._call(_SETTERS[kind], self._handle, *deal, a, value)

    def _get(self, deal: tuple, attribute: Id) -> AttributeValue:
        a = self._machine.attribute_id(attribute)
        kind = self._machine.attribute_type(a)
        if kind == AttributeType.STRING:
            data, size = c_void_p(), c_size_t()
            self._call("get_string", byref(data), byref(size), self._handle, *deal, a)
            return _native.decode(_native.take_bytes(data, size.value))
        verb, ctype = _GETTERS[kind]
        out = ctype()
        self._call(verb, byref(out), self._handle, *deal, a)
        return bool(out.value) if kind == AttributeType.BOOL else out.value

    def _is_set(self, deal: tuple, attribute: Id) -> bool:
        out = c_uint8()
        self._call("is_set", byref(out), self._handle, *deal,
                   self._machine.attribute_id(attribute))
        return bool(out.value)

    def _fire(self, deal: tuple, event: Id, time: int) -> Outcome:
        # The hot path of callers that cannot batch: the C functions, the
        # outcome slot and the errmsg slot are looked up once per handle.
        if isinstance(event, int):
            # check_ints's checks, in bit operations for the hot path (a
            # negative or too wide id has bits past 32; an int64 shifted by
            # 63 is 0 or -1); check_ints words the error.
            if ((event | (deal[0] if deal else 0)) >> 32 or (time >> 63) not in (0, -1)
                    or time.__class__ is bool or event.__class__ is bool):
                _native.check_ints(self._c_fire, (self._outcome_ref, self._handle,
                                                  *deal, event, time))
            self._callbacks.check(self._c_fire(self._outcome_ref, self._handle, *deal,
                                               event, time, self._callbacks.err_ref))
        else:
            name = encode(event)
            self._call("fire_by_name", self._outcome_ref, self._handle, *deal, name,
                       len(name), time)
        return _OUTCOMES[self._outcome.value]

    def _move_to(self, deal: tuple, stage: Id, time: int) -> Outcome:
        if isinstance(stage, int):
            self._call("move_to", self._outcome_ref, self._handle, *deal, stage, time)
        else:
            name = encode(stage)
            self._call("move_to_by_name", self._outcome_ref, self._handle, *deal,
                       name, len(name), time)
        return _OUTCOMES[self._outcome.value]

    def _reopen(self, deal: tuple, time: int) -> Outcome:
        self._call("reopen", self._outcome_ref, self._handle, *deal, time)
        return _OUTCOMES[self._outcome.value]

    def _lifecycle(self, verb: str, deal: tuple) -> Lifecycle:
        last, closed_from, cycle = c_int64(), ctypes.c_uint32(), ctypes.c_uint32()
        self._call(verb, byref(last), byref(closed_from), byref(cycle), self._handle, *deal)
        return Lifecycle(last.value, None if closed_from.value == NONE else closed_from.value,
                         cycle.value)

    def _loss_reason(self, deal: tuple) -> str:
        data, size = c_void_p(), c_size_t()
        self._call("loss_reason", byref(data), byref(size), self._handle, *deal)
        return _native.decode(_native.take_bytes(data, size.value))

    def advance_to(self, now: int) -> int:
        """Fires every timeout due at or before `now`, in due order; returns
        how many fired."""
        out = c_uint64()
        self._call("advance_to", byref(out), self._handle, now)
        return out.value

    def add_observer(self, on_transition: Optional[Observer] = None,
                     on_rejection: Optional[Observer] = None) -> int:
        """Calls `on_transition(step)` after every accepted step (a move, or
        an activity: outcome ACTIVITY, to_stage == from_stage) and
        `on_rejection` after every rejection, on the thread that applies it. An
        observer that raises does not undo the step: the call that applied
        it raises CallbackError from the observer's exception. Returns a
        token for remove_observer."""
        callbacks = self._callbacks

        def wrap(fn: Optional[Observer]):
            if fn is None:
                return _native.OBSERVER()  # NULL

            def trampoline(_user_data, deal, from_stage, to_stage, event, time, outcome):
                return callbacks.run(lambda: fn(Step(
                    None if deal == NONE else deal, from_stage, to_stage,
                    None if event == NONE else event, time, Outcome(outcome))))
            return _native.OBSERVER(trampoline)

        c_transition, c_rejection = wrap(on_transition), wrap(on_rejection)
        token = c_uint64()
        self._call("add_observer", byref(token), self._handle, c_transition,
                   c_rejection, None)
        self._observers[token.value] = (c_transition, c_rejection)
        return token.value

    def remove_observer(self, token: int) -> None:
        """Raises NotFoundError for a token that is not registered."""
        self._call("remove_observer", self._handle, token)
        del self._observers[token]

    def close(self) -> None:
        """Destroys the C handle. Idempotent. From one of the handle's own
        observers it raises FailedPreconditionError: the call running the
        observer still uses the handle (the library refuses every other
        change from there too)."""
        if self._callbacks.running:
            raise FailedPreconditionError(
                "close() from an observer of the same handle; close it after "
                "the call that runs the observer returns")
        super().close()
        self._observers.clear()  # after the handle that calls them is gone
