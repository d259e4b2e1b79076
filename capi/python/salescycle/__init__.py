"""salescycle: sales cycles and buyer journeys as state machines, from
Python, over the library's C API (libsalescycle_c) with nothing but ctypes.

    import salescycle
    machine = salescycle.Machine.from_file("b2b.textproto")
    with salescycle.Pipeline(machine) as pipeline:
        deal = pipeline.add(time=1767225600, key="acme-renewal")
        pipeline.fire(deal, "contact", 1767312000)
        print(pipeline.stage_counts())

The library is found through $SALESCYCLE_LIBRARY, beside this package, or
on the system's library path, in that order.
"""
from ._native import EventRecord, StageRecord
from ._stepping import Lifecycle, Outcome, Step
from .durable import DurablePipeline, Recovery
from .errors import (AbortedError, AlreadyExistsError, CallbackError,
                     ClosedError, DataLossError, Error, FailedPreconditionError, FileMissingError,
                     InternalError, InvalidArgumentError, NotFoundError,
                     PermissionDeniedError, ResourceExhaustedError,
                     UnavailableError)
from .funnel_state import FunnelState
from .journey import Journey
from .limits import Limits
from .machine import AttributeType, DealView, Machine, StageKind
from .partition import MAX_KEY_GROUPS, KeyGroups, RescalePart, id_hash, key_hash
from .pipeline import RECORD_SIZE, Change, Ingested, Pipeline, records, stage_records

__version__ = "0.1.0"


def library_version() -> str:
    """The version of the loaded libsalescycle_c."""
    from ._native import lib
    return lib.sc_version_string().decode()


__all__ = [
    "AbortedError", "AlreadyExistsError", "AttributeType", "CallbackError", "Change",
    "ClosedError", "DataLossError", "DealView", "DurablePipeline", "Error", "EventRecord",
    "FailedPreconditionError", "FileMissingError", "FunnelState", "Ingested", "InternalError", "InvalidArgumentError",
    "Journey", "KeyGroups", "RescalePart", "Lifecycle", "Limits", "MAX_KEY_GROUPS", "Machine", "NotFoundError", "Outcome", "PermissionDeniedError",
    "Pipeline", "RECORD_SIZE", "Recovery", "ResourceExhaustedError", "StageKind", "StageRecord",
    "Step", "UnavailableError", "id_hash", "key_hash", "library_version", "records",
    "stage_records",
]
