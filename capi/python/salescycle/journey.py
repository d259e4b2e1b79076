"""Journey: one deal or buyer moving through a machine."""
from ctypes import byref, c_int64, c_size_t, c_uint32, c_void_p
from typing import Optional

from . import _native
from ._native import call, lib
from ._stepping import Lifecycle, Outcome, Stepping, serialized
from .limits import Limits
from .machine import AttributeValue, Id, Machine


@serialized
class Journey(Stepping):
    """One deal: its stage, the time it entered it, its attributes and, if
    asked for, a bounded history. Calls from several threads run one at a
    time (a lock)."""

    _prefix = "sc_journey_"
    _destroy = lib.sc_journey_destroy

    def __init__(self, machine: Machine, start: int, *, history_limit: int = 0,
                 stage: Optional[Id] = None):
        """A journey entered at `start` in `stage` (one of the machine's entry
        stages; default: the initial stage)."""
        out = c_void_p()
        with _native.options(history_limit) as options:
            if stage is None:
                call(lib.sc_journey_create, byref(out), machine._handle, start, options)
            else:
                call(lib.sc_journey_create_in_stage, byref(out), machine._handle,
                     machine.stage_id(stage), start, options)
        super().__init__(out, machine)

    def copy(self) -> "Journey":
        """An independent copy of the state, without observers."""
        out = c_void_p()
        call(lib.sc_journey_clone, byref(out), self._handle)
        return Journey._adopt(out, self._machine)

    def save(self) -> bytes:
        """A journey snapshot, for a row in your own database."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_journey_save, byref(data), byref(size), self._handle)
        return _native.take_bytes(data, size.value)

    @classmethod
    def load(cls, machine: Machine, data: bytes, *,
             limits: Optional[Limits] = None) -> "Journey":
        data = bytes(data)
        return cls._load("load_with_limits", machine, (data, len(data)), limits)

    @property
    def stage(self) -> int:
        out = c_uint32()
        call(lib.sc_journey_stage, byref(out), None, self._handle)
        return out.value

    @property
    def entered_at(self) -> int:
        out = c_int64()
        call(lib.sc_journey_stage, None, byref(out), self._handle)
        return out.value

    def fire(self, event: Id, time: int) -> Outcome:
        return self._fire((), event, time)

    def move_to(self, stage: Id, time: int) -> Outcome:
        """As Pipeline.move_to."""
        return self._move_to((), stage, time)

    def reopen(self, time: int) -> Outcome:
        """As Pipeline.reopen."""
        return self._reopen((), time)

    @property
    def lifecycle(self) -> Lifecycle:
        return self._lifecycle("lifecycle", ())

    @property
    def loss_reason(self) -> str:
        return self._loss_reason(())

    def set(self, attribute: Id, value: AttributeValue) -> None:
        self._set((), attribute, value)

    def get(self, attribute: Id) -> AttributeValue:
        return self._get((), attribute)

    def is_set(self, attribute: Id) -> bool:
        return self._is_set((), attribute)

    def __repr__(self) -> str:
        if self.closed:
            return "<salescycle.Journey (closed)>"
        return "<salescycle.Journey of %s in %s>" % (
            self._machine.name, self._machine.stages[self.stage])
