"""FunnelState: a pipeline's funnel as a value that merges exactly across
shards and travels as bytes (include/salescycle/funnel_state.h)."""
import json
from ctypes import (Structure, addressof, byref, c_char_p, c_int64, c_size_t, c_uint8, c_void_p,
                    sizeof)
from typing import Optional, Union

from . import _native
from ._native import Handle, call, encode, lib
from .errors import InvalidArgumentError

FUNNEL_FORMATS = {"table": 0, "json": 1, "csv": 2, "svg": 3, "proto": 4}
_TABLE_IN_ORDER = 5  # SC_FUNNEL_TABLE_IN_ORDER


def format_id(format: str, in_order: bool = False) -> int:
    """The SC_FUNNEL_* of `format`; `in_order` asks for the table's in-order
    columns."""
    if format not in FUNNEL_FORMATS:
        raise InvalidArgumentError("format is one of %s, not %r"
                                   % (", ".join(FUNNEL_FORMATS), format))
    if in_order:
        if format != "table":
            raise InvalidArgumentError("in_order is for the table; %s has the in-order "
                                       "figures beside the others" % format)
        return _TABLE_IN_ORDER
    return FUNNEL_FORMATS[format]


class _Options(Structure):
    """sc_funnel_options (capi/salescycle/c.h)."""
    _fields_ = [("struct_size", c_size_t), ("value_attribute", c_char_p),
                ("breakdown_attribute", c_char_p),
                ("has_now", c_uint8), ("now", c_int64),
                ("has_closed_from", c_uint8), ("closed_from", c_int64),
                ("has_closed_to", c_uint8), ("closed_to", c_int64),
                ("has_created_from", c_uint8), ("created_from", c_int64),
                ("has_created_to", c_uint8), ("created_to", c_int64)]


def options(value: Optional[str] = None, by: Optional[str] = None,
            now: Optional[int] = None, closed_from: Optional[int] = None,
            closed_to: Optional[int] = None, created_from: Optional[int] = None,
            created_to: Optional[int] = None) -> _Options:
    """The C options of a report or capture (times: Unix seconds)."""
    o = _Options()
    o.struct_size = sizeof(_Options)
    o.value_attribute = None if value is None else encode(value)
    o.breakdown_attribute = None if by is None else encode(by)
    for name, time in (("now", now), ("closed_from", closed_from), ("closed_to", closed_to),
                       ("created_from", created_from), ("created_to", created_to)):
        if time is None:
            continue
        if isinstance(time, bool) or not isinstance(time, int):
            raise InvalidArgumentError("%s is Unix seconds (an int), not %r" % (name, time))
        setattr(o, "has_" + name, 1)
        setattr(o, name, time)
    return o


class FunnelState(Handle):
    """A pipeline's funnel as of a moment: capture one with
    Pipeline.funnel_state(), merge the states of shards (pipelines that each
    saw some of the deals, captured with the same `now`, value and
    breakdown), and report: the report of all their deals, exactly.

    Like a pipeline, a state is used from one thread at a time."""

    _destroy = lib.sc_funnel_state_destroy

    @classmethod
    def from_bytes(cls, data: bytes, machine=None) -> "FunnelState":
        """A state from serialize()'s bytes, onto `machine` (the one it was
        captured from; needed when it uses named guards), or onto the
        machine the state carries. Raises DataLossError for bytes that are
        not a state, naming what is wrong."""
        data = bytes(data)
        out = c_void_p()
        call(lib.sc_funnel_state_parse, byref(out),
             None if machine is None else machine._handle, data, len(data))
        return cls(out)

    def merge(self, other: "FunnelState") -> "FunnelState":
        """Adds `other`'s deals; returns self. Raises
        FailedPreconditionError, changing nothing, for a state of another
        machine or captured differently."""
        if not isinstance(other, FunnelState):
            raise InvalidArgumentError("merge takes a FunnelState, not %s"
                                       % type(other).__name__)
        call(lib.sc_funnel_state_merge, self._handle, other._handle)
        return self

    def serialize(self) -> bytes:
        data, size = c_void_p(), c_size_t()
        call(lib.sc_funnel_state_serialize, byref(data), byref(size), self._handle)
        return _native.take_bytes(data, size.value)

    def report(self, format: str = "table", *, in_order: bool = False) -> Union[str, bytes]:
        """The report, as Pipeline.funnel() gives it ("proto" is bytes)."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_funnel_state_report, byref(data), byref(size), self._handle,
             format_id(format, in_order))
        raw = _native.take_bytes(data, size.value)
        return raw if format == "proto" else raw.decode("utf-8")

    def report_dict(self) -> dict:
        """The report as a dict (the JSON form, parsed)."""
        return json.loads(self.report("json"))

    def __repr__(self) -> str:
        return "<salescycle.FunnelState%s>" % (" (closed)" if self.closed else "")


def capture(pipeline_handle, o: _Options) -> FunnelState:
    out = c_void_p()
    call(lib.sc_funnel_state_capture_with, byref(out), pipeline_handle, addressof(o))
    return FunnelState(out)
