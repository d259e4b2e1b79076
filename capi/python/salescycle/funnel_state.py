"""FunnelState: a pipeline's funnel as a value that merges exactly across
shards and travels as bytes (include/salescycle/funnel_state.h)."""
import json
from ctypes import byref, c_size_t, c_void_p
from typing import Optional, Union

from . import _native
from ._native import Handle, call, encode, lib
from .errors import InvalidArgumentError

FUNNEL_FORMATS = {"table": 0, "json": 1, "csv": 2, "svg": 3, "proto": 4}


def _format_id(format: str) -> int:
    if format not in FUNNEL_FORMATS:
        raise InvalidArgumentError("format is one of %s, not %r"
                                   % (", ".join(FUNNEL_FORMATS), format))
    return FUNNEL_FORMATS[format]


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

    def report(self, format: str = "table") -> Union[str, bytes]:
        """The report, as Pipeline.funnel() gives it ("proto" is bytes)."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_funnel_state_report, byref(data), byref(size), self._handle,
             _format_id(format))
        raw = _native.take_bytes(data, size.value)
        return raw if format == "proto" else raw.decode("utf-8")

    def report_dict(self) -> dict:
        """The report as a dict (the JSON form, parsed)."""
        return json.loads(self.report("json"))

    def __repr__(self) -> str:
        return "<salescycle.FunnelState%s>" % (" (closed)" if self.closed else "")


def capture(pipeline_handle, value: Optional[str], by: Optional[str],
            now: Optional[int]) -> FunnelState:
    out = c_void_p()
    call(lib.sc_funnel_state_capture, byref(out), pipeline_handle,
         None if value is None else encode(value), None if by is None else encode(by),
         0 if now is None else 1, 0 if now is None else now)
    return FunnelState(out)
