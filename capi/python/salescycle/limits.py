"""Limits: how much an untrusted spec or snapshot may ask of the library
(salescycle/limits.h says what each one bounds)."""
import contextlib
import dataclasses
from ctypes import byref, c_uint64
from typing import Iterator, Optional

from ._native import call, lib

# Field name -> SC_LIMIT_* in salescycle/c.h.
_CODES = {
    "spec_bytes": 0, "stages": 1, "events": 2, "attributes": 3,
    "transitions": 4, "guard_depth": 5, "string_length": 6,
    "history_length": 7, "snapshot_deals": 8, "history_entries": 9,
}


@dataclasses.dataclass(frozen=True)
class Limits:
    """Each field left None keeps the library's default; defaults() reads
    them. Input past a limit raises InvalidArgumentError naming it."""

    spec_bytes: Optional[int] = None
    stages: Optional[int] = None
    events: Optional[int] = None
    attributes: Optional[int] = None
    transitions: Optional[int] = None
    guard_depth: Optional[int] = None
    string_length: Optional[int] = None
    history_length: Optional[int] = None
    snapshot_deals: Optional[int] = None
    history_entries: Optional[int] = None

    def __post_init__(self) -> None:
        for name in _CODES:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int)
                                      or not 0 <= value < 2**64):
                raise ValueError(f"Limits.{name} must be an int in [0, 2**64), "
                                 f"not {value!r}")

    @classmethod
    def defaults(cls) -> "Limits":
        with limits_handle(None) as handle:
            values = {}  # every field, read from the library
            for name, code in _CODES.items():
                value = c_uint64()
                call(lib.sc_limits_get, byref(value), handle, code)
                values[name] = value.value
        return cls(**values)


@contextlib.contextmanager
def limits_handle(limits: Optional[Limits]) -> Iterator[object]:
    """An sc_limits_t holding `limits` (or the defaults), destroyed on
    leaving the block."""
    handle = lib.sc_limits_create()
    if not handle:
        raise MemoryError("sc_limits_create")
    try:
        for name, code in _CODES.items():
            value = None if limits is None else getattr(limits, name)
            if value is not None:  # checked when the Limits was made
                call(lib.sc_limits_set, handle, code, value)
        yield handle
    finally:
        lib.sc_limits_destroy(handle)

