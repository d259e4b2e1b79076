"""Loading libsalescycle_c and calling it: prototypes, the error
convention, and the handle base class. Private to the package."""
import array
import contextlib
import itertools
import ctypes
import ctypes.util
import os
import subprocess
import sys
import threading
from ctypes import (CFUNCTYPE, POINTER, byref, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p)
from typing import Any, Callable, Optional, Tuple

from .errors import CallbackError, ClosedError, InvalidArgumentError, error_for

# The C API's major version this package speaks (SC_VERSION_MAJOR).
ABI_MAJOR = 0
NONE = 0xFFFFFFFF  # SC_NONE
ABORTED = 10


class EventRecord(ctypes.Structure):
    """sc_event_record: the fixed 16-byte batch record (deal u32, event u32,
    time i64, native byte order)."""
    _fields_ = [("deal", c_uint32), ("event", c_uint32), ("time", c_int64)]


assert ctypes.sizeof(EventRecord) == 16
assert EventRecord.event.offset == 4 and EventRecord.time.offset == 8


class StageRecord(ctypes.Structure):
    """sc_stage_record: a move by stage, the same 16-byte layout with a
    stage id where EventRecord has the event id."""
    _fields_ = [("deal", c_uint32), ("stage", c_uint32), ("time", c_int64)]


assert ctypes.sizeof(StageRecord) == 16

OBSERVER = CFUNCTYPE(c_int32, c_void_p, c_uint32, c_uint32, c_uint32,
                     c_uint32, c_int64, c_int32)
GUARD = CFUNCTYPE(c_int32, c_void_p, c_void_p, POINTER(c_uint8))
READ = CFUNCTYPE(None, c_void_p, c_void_p)  # sc_read_fn
CHANGE = CFUNCTYPE(c_int32, c_void_p, c_int32, c_uint32, c_uint32, c_int64)  # sc_change_fn

_P = c_void_p  # an opaque handle
_PP = POINTER(c_void_p)
_E = POINTER(c_void_p)  # char** errmsg, kept as void* so it can be freed
_S = c_int32  # sc_status
_BYTES = c_void_p  # a pointer + length argument (str/bytes are passed as-is)

_PROTOTYPES = {
    "sc_version_number": (c_uint32, []),
    "sc_version_string": (c_char_p, []),
    "sc_status_name": (c_char_p, [c_int32]),
    "sc_free": (None, [c_void_p]),
    "sc_limits_create": (_P, []),
    "sc_limits_destroy": (None, [_P]),
    "sc_limits_set": (_S, [_P, c_int32, c_uint64, _E]),
    "sc_limits_get": (_S, [POINTER(c_uint64), _P, c_int32, _E]),
    "sc_compile_options_set_limits": (_S, [_P, _P, _E]),
    "sc_compile_options_create": (_P, []),
    "sc_compile_options_destroy": (None, [_P]),
    "sc_compile_options_set_source_name": (_S, [_P, c_char_p, c_size_t, _E]),
    "sc_compile_options_add_named_guard": (_S, [_P, c_char_p, c_size_t, GUARD, c_void_p, _E]),
    "sc_deal_view_is_set": (_S, [POINTER(c_uint8), _P, c_uint32, _E]),
    "sc_deal_view_get_int64": (_S, [POINTER(c_int64), _P, c_uint32, _E]),
    "sc_deal_view_get_double": (_S, [POINTER(c_double), _P, c_uint32, _E]),
    "sc_deal_view_get_bool": (_S, [POINTER(c_uint8), _P, c_uint32, _E]),
    "sc_deal_view_get_string": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_uint32, _E]),
    "sc_machine_from_text": (_S, [_PP, c_char_p, c_size_t, _P, _E]),
    "sc_machine_from_json": (_S, [_PP, c_char_p, c_size_t, _P, _E]),
    "sc_machine_from_file": (_S, [_PP, c_char_p, _P, _E]),
    "sc_machine_destroy": (None, [_P]),
    "sc_machine_name": (_S, [POINTER(c_char_p), _P, _E]),
    "sc_machine_version": (_S, [POINTER(c_uint32), _P, _E]),
    "sc_machine_fingerprint": (_S, [POINTER(c_uint64), _P, _E]),
    "sc_machine_spec_json": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_machine_num_stages": (_S, [POINTER(c_uint32), _P, _E]),
    "sc_machine_num_events": (_S, [POINTER(c_uint32), _P, _E]),
    "sc_machine_num_attributes": (_S, [POINTER(c_uint32), _P, _E]),
    "sc_machine_initial_stage": (_S, [POINTER(c_uint32), _P, _E]),
    "sc_machine_find_stage": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, _E]),
    "sc_machine_find_event": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, _E]),
    "sc_machine_find_attribute": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, _E]),
    "sc_machine_stage_name": (_S, [POINTER(c_char_p), _P, c_uint32, _E]),
    "sc_machine_event_name": (_S, [POINTER(c_char_p), _P, c_uint32, _E]),
    "sc_machine_attribute_name": (_S, [POINTER(c_char_p), _P, c_uint32, _E]),
    "sc_machine_stage_kind": (_S, [POINTER(c_int32), _P, c_uint32, _E]),
    "sc_machine_attribute_type": (_S, [POINTER(c_int32), _P, c_uint32, _E]),
    "sc_options_create": (_P, []),
    "sc_options_destroy": (None, [_P]),
    "sc_options_set_history_limit": (_S, [_P, c_uint32, _E]),
    "sc_options_set_expected_deals": (_S, [_P, c_uint64, _E]),
    "sc_options_set_analytics": (_S, [_P, c_uint8, c_int32, _E]),
    "sc_pipeline_funnel_with": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_int32, _P,
                                     _E]),
    "sc_funnel_state_capture_with": (_S, [_PP, _P, _P, _E]),
    "sc_funnel_state_merge": (_S, [_P, _P, _E]),
    "sc_funnel_state_serialize": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_funnel_state_parse": (_S, [_PP, _P, c_char_p, c_size_t, _E]),
    "sc_funnel_state_report": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_int32, _E]),
    "sc_funnel_state_destroy": (None, [_P]),
    "sc_durable_options_create": (_S, [_PP, _E]),
    "sc_durable_options_destroy": (None, [_P]),
    "sc_durable_options_set_sync": (_S, [_P, c_int32, c_int32, _E]),
    "sc_durable_options_set_checkpoint_after_bytes": (_S, [_P, c_uint64, _E]),
    "sc_durable_options_set_salvage": (_S, [_P, c_uint8, _E]),
    "sc_durable_options_set_pipeline": (_S, [_P, _P, _E]),
    "sc_durable_open": (_S, [_PP, _P, c_char_p, c_size_t, _P, _E]),
    "sc_durable_destroy": (None, [_P]),
    "sc_durable_recovery": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64),
                                 POINTER(c_uint8), POINTER(c_uint8), _P, _E]),
    "sc_durable_recovery_message": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_durable_add": (_S, [POINTER(c_uint32), _P, c_uint32, c_int64, _E]),
    "sc_durable_add_with_id": (_S, [POINTER(c_uint32), _P, c_uint64, c_uint32, c_int64, _E]),
    "sc_durable_add_with_key": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, c_uint32,
                                     c_int64, _E]),
    "sc_durable_remove": (_S, [_P, c_uint32, _E]),
    "sc_durable_set_int64": (_S, [_P, c_uint32, c_uint32, c_int64, _E]),
    "sc_durable_set_double": (_S, [_P, c_uint32, c_uint32, c_double, _E]),
    "sc_durable_set_bool": (_S, [_P, c_uint32, c_uint32, c_uint8, _E]),
    "sc_durable_set_string": (_S, [_P, c_uint32, c_uint32, c_char_p, c_size_t, _E]),
    "sc_durable_fire": (_S, [POINTER(c_int32), _P, c_uint32, c_uint32, c_int64, _E]),
    "sc_durable_move_to": (_S, [POINTER(c_int32), _P, c_uint32, c_uint32, c_int64, _E]),
    "sc_durable_reopen": (_S, [POINTER(c_int32), _P, c_uint32, c_int64, _E]),
    "sc_durable_apply": (_S, [POINTER(c_uint64), POINTER(c_uint64), _P, c_void_p, c_size_t,
                              c_uint8, _E]),
    "sc_durable_apply_moves": (_S, [POINTER(c_uint64), POINTER(c_uint64), _P, c_void_p,
                                    c_size_t, c_uint8, _E]),
    "sc_durable_advance_to": (_S, [POINTER(c_uint64), _P, c_int64, _E]),
    "sc_durable_sync": (_S, [_P, _E]),
    "sc_pipeline_apply_at": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64), _P,
                                  c_char_p, c_size_t, c_uint64, c_void_p, c_size_t, c_uint8, _E]),
    "sc_pipeline_apply_moves_at": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64),
                                        _P, c_char_p, c_size_t, c_uint64, c_void_p, c_size_t,
                                        c_uint8, _E]),
    "sc_pipeline_position": (_S, [POINTER(c_uint64), _P, c_char_p, c_size_t, _E]),
    "sc_pipeline_positions_json": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_durable_apply_at": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64), _P,
                                 c_char_p, c_size_t, c_uint64, c_void_p, c_size_t, c_uint8, _E]),
    "sc_durable_apply_moves_at": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64),
                                       _P, c_char_p, c_size_t, c_uint64, c_void_p, c_size_t,
                                       c_uint8, _E]),
    "sc_pipeline_find_keys": (_S, [c_void_p, _P, c_char_p, c_size_t, c_void_p, c_size_t, _E]),
    "sc_pipeline_add_keys": (_S, [c_void_p, POINTER(c_uint64), _P, c_char_p, c_size_t, c_void_p,
                                  c_size_t, c_void_p, _E]),
    "sc_pipeline_set_int64_column": (_S, [_P, c_uint32, c_void_p, c_void_p, c_size_t, _E]),
    "sc_pipeline_set_double_column": (_S, [_P, c_uint32, c_void_p, c_void_p, c_size_t, _E]),
    "sc_pipeline_set_bool_column": (_S, [_P, c_uint32, c_void_p, c_void_p, c_size_t, _E]),
    "sc_pipeline_set_string_column": (_S, [_P, c_uint32, c_void_p, c_char_p, c_size_t, c_void_p,
                                           c_size_t, _E]),
    "sc_pipeline_apply_columns": (_S, [POINTER(c_uint64), POINTER(c_uint64), _P, c_void_p,
                                       c_void_p, c_void_p, c_size_t, _E]),
    "sc_pipeline_ingest": (_S, [c_void_p, c_size_t, POINTER(c_void_p), _P, c_char_p, c_size_t,
                                c_int32, c_uint8, _E]),
    "sc_key_hash": (_S, [POINTER(c_uint32), c_char_p, c_size_t, _E]),
    "sc_id_hash": (_S, [POINTER(c_uint32), c_uint64, _E]),
    "sc_key_groups": (_S, [c_void_p, c_char_p, c_size_t, c_void_p, c_size_t, c_uint32, _E]),
    "sc_id_groups": (_S, [c_void_p, c_void_p, c_size_t, c_uint32, _E]),
    "sc_key_group_owner": (_S, [POINTER(c_uint32), c_uint32, c_uint32, c_uint32, _E]),
    "sc_key_group_range": (_S, [POINTER(c_uint32), POINTER(c_uint32), c_uint32, c_uint32,
                                c_uint32, _E]),
    "sc_key_group_rescale_plan": (_S, [c_void_p, c_size_t, POINTER(c_size_t), c_uint32,
                                       c_uint32, c_uint32, _E]),
    "sc_durable_checkpoint": (_S, [_P, _E]),
    "sc_durable_read": (_S, [_P, c_void_p, c_void_p, _E]),
    "sc_pipeline_create": (_S, [_PP, _P, _P, _E]),
    "sc_pipeline_destroy": (None, [_P]),
    "sc_pipeline_add": (_S, [POINTER(c_uint32), _P, c_int64, _E]),
    "sc_pipeline_add_with_id": (_S, [POINTER(c_uint32), _P, c_uint64, c_int64, _E]),
    "sc_pipeline_add_with_key": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, c_int64, _E]),
    "sc_pipeline_add_in_stage": (_S, [POINTER(c_uint32), _P, c_uint32, c_int64, _E]),
    "sc_pipeline_add_with_id_in_stage": (_S, [POINTER(c_uint32), _P, c_uint64, c_uint32,
                                              c_int64, _E]),
    "sc_pipeline_add_with_key_in_stage": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t,
                                               c_uint32, c_int64, _E]),
    "sc_pipeline_remove": (_S, [_P, c_uint32, _E]),
    "sc_pipeline_find_by_id": (_S, [POINTER(c_uint32), _P, c_uint64, _E]),
    "sc_pipeline_find_by_key": (_S, [POINTER(c_uint32), _P, c_char_p, c_size_t, _E]),
    "sc_pipeline_size": (_S, [POINTER(c_uint64), _P, _E]),
    "sc_pipeline_deal_stage": (_S, [POINTER(c_uint32), POINTER(c_int64), _P, c_uint32, _E]),
    "sc_pipeline_deal_lifecycle": (_S, [POINTER(c_int64), POINTER(c_uint32), POINTER(c_uint32),
                                        _P, c_uint32, _E]),
    "sc_pipeline_loss_reason": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_uint32, _E]),
    "sc_pipeline_set_int64": (_S, [_P, c_uint32, c_uint32, c_int64, _E]),
    "sc_pipeline_set_double": (_S, [_P, c_uint32, c_uint32, c_double, _E]),
    "sc_pipeline_set_bool": (_S, [_P, c_uint32, c_uint32, c_uint8, _E]),
    "sc_pipeline_set_string": (_S, [_P, c_uint32, c_uint32, c_char_p, c_size_t, _E]),
    "sc_pipeline_is_set": (_S, [POINTER(c_uint8), _P, c_uint32, c_uint32, _E]),
    "sc_pipeline_get_int64": (_S, [POINTER(c_int64), _P, c_uint32, c_uint32, _E]),
    "sc_pipeline_get_double": (_S, [POINTER(c_double), _P, c_uint32, c_uint32, _E]),
    "sc_pipeline_get_bool": (_S, [POINTER(c_uint8), _P, c_uint32, c_uint32, _E]),
    "sc_pipeline_get_string": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_uint32, c_uint32, _E]),
    "sc_pipeline_fire": (_S, [POINTER(c_int32), _P, c_uint32, c_uint32, c_int64, _E]),
    "sc_pipeline_fire_by_name": (_S, [POINTER(c_int32), _P, c_uint32, c_char_p, c_size_t, c_int64, _E]),
    "sc_pipeline_move_to": (_S, [POINTER(c_int32), _P, c_uint32, c_uint32, c_int64, _E]),
    "sc_pipeline_move_to_by_name": (_S, [POINTER(c_int32), _P, c_uint32, c_char_p, c_size_t,
                                         c_int64, _E]),
    "sc_pipeline_reopen": (_S, [POINTER(c_int32), _P, c_uint32, c_int64, _E]),
    "sc_pipeline_apply_moves": (_S, [POINTER(c_uint64), POINTER(c_uint64), _P, c_void_p,
                                     c_size_t, _E]),
    "sc_pipeline_apply": (_S, [POINTER(c_uint64), POINTER(c_uint64), _P, c_void_p, c_size_t, _E]),
    "sc_pipeline_apply_parallel": (_S, [POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint32),
                                        _P, c_void_p, c_size_t, c_uint32, _E]),
    "sc_pipeline_advance_to": (_S, [POINTER(c_uint64), _P, c_int64, _E]),
    "sc_pipeline_stage_count": (_S, [POINTER(c_uint64), _P, c_uint32, _E]),
    "sc_pipeline_stage_counts": (_S, [POINTER(c_uint64), c_size_t, _P, _E]),
    "sc_pipeline_add_observer": (_S, [POINTER(c_uint64), _P, OBSERVER, OBSERVER, c_void_p, _E]),
    "sc_pipeline_deals_in_stage": (_S, [c_void_p, c_size_t, POINTER(c_size_t), _P, c_uint32, _E]),
    "sc_pipeline_slot_count": (_S, [POINTER(c_uint64), _P, _E]),
    "sc_pipeline_stage_column": (_S, [c_void_p, c_size_t, _P, _E]),
    "sc_pipeline_entered_at_column": (_S, [c_void_p, c_size_t, _P, _E]),
    "sc_pipeline_id_column": (_S, [c_void_p, c_void_p, c_size_t, _P, _E]),
    "sc_pipeline_add_change_observer": (_S, [POINTER(c_uint64), _P, CHANGE, c_void_p, _E]),
    "sc_pipeline_remove_observer": (_S, [_P, c_uint64, _E]),
    "sc_pipeline_save": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_pipeline_save_file": (_S, [_P, c_char_p, _E]),
    "sc_pipeline_load": (_S, [_PP, _P, c_char_p, c_size_t, _E]),
    "sc_pipeline_load_file": (_S, [_PP, _P, c_char_p, _E]),
    "sc_pipeline_load_with_limits": (_S, [_PP, _P, c_char_p, c_size_t, _P, _E]),
    "sc_pipeline_load_file_with_limits": (_S, [_PP, _P, c_char_p, _P, _E]),
    "sc_pipeline_deals_in_key_groups": (_S, [c_void_p, c_size_t, POINTER(c_size_t), _P,
                                             c_uint32, c_uint32, c_uint32, _E]),
    "sc_pipeline_save_part": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_void_p,
                                   c_size_t, c_int, _E]),
    "sc_pipeline_load_parts": (_S, [_PP, _P, POINTER(c_char_p), POINTER(c_size_t), c_size_t,
                                    _P, _E]),
    "sc_journey_create": (_S, [_PP, _P, c_int64, _P, _E]),
    "sc_journey_create_in_stage": (_S, [_PP, _P, c_uint32, c_int64, _P, _E]),
    "sc_journey_clone": (_S, [_PP, _P, _E]),
    "sc_journey_destroy": (None, [_P]),
    "sc_journey_stage": (_S, [POINTER(c_uint32), POINTER(c_int64), _P, _E]),
    "sc_journey_fire": (_S, [POINTER(c_int32), _P, c_uint32, c_int64, _E]),
    "sc_journey_fire_by_name": (_S, [POINTER(c_int32), _P, c_char_p, c_size_t, c_int64, _E]),
    "sc_journey_advance_to": (_S, [POINTER(c_uint64), _P, c_int64, _E]),
    "sc_journey_move_to": (_S, [POINTER(c_int32), _P, c_uint32, c_int64, _E]),
    "sc_journey_move_to_by_name": (_S, [POINTER(c_int32), _P, c_char_p, c_size_t, c_int64, _E]),
    "sc_journey_reopen": (_S, [POINTER(c_int32), _P, c_int64, _E]),
    "sc_journey_lifecycle": (_S, [POINTER(c_int64), POINTER(c_uint32), POINTER(c_uint32), _P,
                                  _E]),
    "sc_journey_loss_reason": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_journey_set_int64": (_S, [_P, c_uint32, c_int64, _E]),
    "sc_journey_set_double": (_S, [_P, c_uint32, c_double, _E]),
    "sc_journey_set_bool": (_S, [_P, c_uint32, c_uint8, _E]),
    "sc_journey_set_string": (_S, [_P, c_uint32, c_char_p, c_size_t, _E]),
    "sc_journey_is_set": (_S, [POINTER(c_uint8), _P, c_uint32, _E]),
    "sc_journey_get_int64": (_S, [POINTER(c_int64), _P, c_uint32, _E]),
    "sc_journey_get_double": (_S, [POINTER(c_double), _P, c_uint32, _E]),
    "sc_journey_get_bool": (_S, [POINTER(c_uint8), _P, c_uint32, _E]),
    "sc_journey_get_string": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, c_uint32, _E]),
    "sc_journey_add_observer": (_S, [POINTER(c_uint64), _P, OBSERVER, OBSERVER, c_void_p, _E]),
    "sc_journey_remove_observer": (_S, [_P, c_uint64, _E]),
    "sc_journey_save": (_S, [POINTER(c_void_p), POINTER(c_size_t), _P, _E]),
    "sc_journey_load": (_S, [_PP, _P, c_char_p, c_size_t, _E]),
    "sc_journey_load_with_limits": (_S, [_PP, _P, c_char_p, c_size_t, _P, _E]),
}


# ctypes converts a Python int to a C integer by truncating it: deal
# 2**32 would silently be deal 0, time 2**63 a time in 1677. Every integer
# argument is checked against its C type first (check_ints), so that a value
# out of range is an InvalidArgumentError, never another deal.
_INT_RANGES = {
    c_uint8: (0, 1 << 8, "uint8_t"),
    c_int32: (-(1 << 31), 1 << 31, "int32_t"),
    c_uint32: (0, 1 << 32, "uint32_t"),
    c_int64: (-(1 << 63), 1 << 63, "int64_t"),
    # On LP64 hosts c_size_t is c_uint64 (one class): the entry after wins.
    c_size_t: (0, 1 << (8 * ctypes.sizeof(c_size_t)), "size_t"),
    c_uint64: (0, 1 << 64, "uint64_t"),
}
_INT_ARGS = {
    name: tuple((i,) + _INT_RANGES[t] for i, t in enumerate(argtypes)
                if t in _INT_RANGES)
    for name, (_, argtypes) in _PROTOTYPES.items()
}


def check_ints(fn: Any, args: tuple) -> None:
    """Raises InvalidArgumentError for an int argument of `fn` that its C
    type cannot hold, and for a bool where it takes a number (a bool is an
    int to Python: True would be deal 1 or the time 1); uint8_t arguments
    are flags and take bools."""
    for i, low, high, type_name in _INT_ARGS.get(fn.__name__, ()):
        value = args[i]
        if isinstance(value, bool) and type_name != "uint8_t":
            raise InvalidArgumentError("%s: %r is a bool, not a number for its %s argument "
                                       "(argument %d)" % (fn.__name__, value, type_name, i + 1))
        if isinstance(value, int) and not low <= value < high:
            raise InvalidArgumentError(
                "%s: %d is out of range for its %s argument (argument %d)"
                % (fn.__name__, value, type_name, i + 1))


_LIBRARY = "libsalescycle_c.so.%d" % ABI_MAJOR


def _candidates():
    """Where the C library may be, in order: $SALESCYCLE_LIBRARY; beside
    this package (one the install carried); the system's library path
    (ldconfig's cache); the libdir pkg-config names (what `cmake --install`
    wrote, ldconfig run or not); the usual install prefixes."""
    named = os.environ.get("SALESCYCLE_LIBRARY")
    if named:
        yield named
        return
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY)
    found = ctypes.util.find_library("salescycle_c")
    if found:
        yield found
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "salescycle_c"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        if libdir:
            yield os.path.join(libdir, _LIBRARY)
    except (OSError, subprocess.SubprocessError):
        pass  # no pkg-config here
    for prefix in (sys.prefix, "/usr/local", "/usr"):
        yield os.path.join(prefix, "lib", _LIBRARY)


def _load() -> ctypes.CDLL:
    tried = []
    lib = None
    for path in _candidates():
        if path in tried:
            continue
        tried.append(path)
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            if os.environ.get("SALESCYCLE_LIBRARY"):
                raise ImportError("$SALESCYCLE_LIBRARY=%s: %s" % (path, e)) from e
    if lib is None:
        raise ImportError(
            "salescycle needs %s (the C library) and found it nowhere: looked in %s. "
            "Install it (cmake --install build, as root for /usr/local), or set "
            "SALESCYCLE_LIBRARY to its path, or copy it and libsalescycle.so.%d beside "
            "this package" % (_LIBRARY, ", ".join(tried), ABI_MAJOR))
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    major = lib.sc_version_number() // 10000
    if major != ABI_MAJOR:
        raise ImportError(
            "%s is libsalescycle_c %s; this package needs major version %d"
            % (path, lib.sc_version_string().decode(), ABI_MAJOR))
    return lib


lib = _load()


def take_bytes(pointer: c_void_p, length: int) -> bytes:
    """Copies a caller-owned buffer the library returned, and frees it."""
    try:
        return ctypes.string_at(pointer.value, length) if length else b""
    finally:
        lib.sc_free(pointer)


def error_from(status: int, err: c_void_p) -> Exception:
    """The exception for a failed call's status and errmsg; frees errmsg and
    clears `err` so that it can serve the next call."""
    message = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
    lib.sc_free(err)
    err.value = None
    return error_for(status, message)


def call(fn: Callable[..., int], *args: Any) -> None:
    """Calls a C function that follows the error convention, raising the
    error its status names, with its message."""
    check_ints(fn, args)
    err = c_void_p()
    status = fn(*args, byref(err))
    if status != 0:
        raise error_from(status, err)


def encode(text) -> bytes:
    # Keys and string attributes are bytes to the library. A str is sent as
    # UTF-8, with surrogateescape so that a str read back from bytes that
    # were not UTF-8 (see decode) goes back as the same bytes.
    if isinstance(text, str):
        return text.encode("utf-8", "surrogateescape")
    # bytes(5) is five zero bytes: an int key or name would silently be
    # another one. Only what is already bytes is taken as bytes.
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise InvalidArgumentError("%r is a %s; a key, name, path or string value is str or bytes"
                               % (text, type(text).__name__))


def decode(data: bytes) -> str:
    """Bytes from the library as str: UTF-8, with any byte that is not
    (Latin-1 from an old export) kept as a lone surrogate, as os.fsdecode
    does, so that encode() gives the same bytes back."""
    return data.decode("utf-8", "surrogateescape")


# Named guards run inside whichever call steps a deal, possibly on another
# thread: their exceptions wait here, per thread, for that call to re-raise.
_guard_failures = threading.local()


def record_guard_failure(exc: BaseException) -> None:
    if getattr(_guard_failures, "exc", None) is None:
        _guard_failures.exc = exc


def take_guard_failure() -> Optional[BaseException]:
    exc = getattr(_guard_failures, "exc", None)
    _guard_failures.exc = None
    return exc


@contextlib.contextmanager
def options(history_limit: int = 0, expected_deals: int = 0,
            analytics: bool = False, cohort: int = 0):
    """An sc_options_t set up as asked, destroyed on leaving the block."""
    handle = lib.sc_options_create()
    if not handle:
        raise MemoryError("sc_options_create")
    try:
        call(lib.sc_options_set_history_limit, handle, history_limit)
        call(lib.sc_options_set_expected_deals, handle, expected_deals)
        call(lib.sc_options_set_analytics, handle, 1 if analytics else 0, cohort)
        yield handle
    finally:
        lib.sc_options_destroy(handle)


class Handle:
    """An owned C handle: close() or the context manager destroys it; a
    finalizer does so for handles that are never closed. Using a closed
    handle raises ClosedError."""

    _destroy: Callable[[Any], None]

    def __init__(self, pointer: c_void_p):
        self._ptr: Optional[c_void_p] = pointer

    @property
    def _handle(self) -> c_void_p:
        if self._ptr is None:
            raise ClosedError("%s is closed" % type(self).__name__)
        return self._ptr

    def close(self) -> None:
        """Destroys the C handle. Idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            type(self)._destroy(ptr)

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass


class CallbackState:
    """A handle's errmsg slot and what its observers raised, kept until the
    call that ran them re-raises. One per pipeline or journey, which are used
    from one thread at a time, so the slot is reused by every call."""

    def __init__(self) -> None:
        self.exc: Optional[BaseException] = None
        self.err = c_void_p()
        self.err_ref = byref(self.err)
        self.running = 0  # observers of the handle running now

    def run(self, fn: Callable[..., None], *args: Any) -> int:
        """Calls an observer of the handle from the library: 0, or 1 after
        keeping what it raised for the call that ran it (never let an
        exception into C)."""
        self.running += 1
        try:
            fn(*args)
            return 0
        except BaseException as e:
            if self.exc is None:
                self.exc = e
            return 1
        finally:
            self.running -= 1

    def check(self, status: int) -> None:
        """Raises for a failed status: a failure caused by a Python callback
        as CallbackError from the callback's own exception."""
        if status == 0:
            return
        error = error_from(status, self.err)
        # A failed callback always makes the call return ABORTED, so what
        # it raised is consumed here and never outlives the call.
        cause = self.exc or take_guard_failure()
        self.exc = None
        if cause is not None and status == ABORTED:
            raise CallbackError(str(error)) from cause
        raise error


def column(code: str, dtype: str, n: int, use_numpy: Optional[bool]):
    """An array of `n` zeros for a column, and a pointer to its first
    element: numpy's when numpy is wanted (or, for None, importable),
    array.array's otherwise."""
    if use_numpy is not False:
        try:
            import numpy  # optional: only where it is installed
        except ImportError:
            if use_numpy:
                raise
        else:
            out = numpy.zeros(n, dtype=dtype)
            return out, c_void_p(out.ctypes.data)
    out = array.array(code, bytes(n * array.array(code).itemsize))
    return out, c_void_p(out.buffer_info()[0])


def key_column(keys) -> Tuple[bytes, "array.array"]:
    """`keys` (str, as UTF-8, or bytes) as one buffer and the offsets of
    Arrow's layout (count + 1 entries), as the C column calls take them."""
    if not isinstance(keys, (list, tuple)):
        keys = list(keys)
    # The common case at C speed: every key a str and the whole ASCII (one
    # byte a character), so the offsets are the running sum of the lengths.
    if all(type(k) is str for k in keys):
        text = "".join(keys)
        if text.isascii():
            offsets = array.array("Q", [0])
            offsets.extend(itertools.accumulate(map(len, keys)))
            return text.encode("ascii"), offsets
    encoded = [encode(k) for k in keys]
    offsets = array.array("Q", [0])
    offsets.extend(itertools.accumulate(map(len, encoded)))
    return b"".join(encoded), offsets


# Buffer formats by array.array type code, for columns given as numpy
# arrays or array.array: the ones each code may come as.
_FORMATS = {"I": ("I", "<I", "=I"), "Q": ("Q", "<Q", "=Q", "L", "<L", "=L"),
            "q": ("q", "<q", "=q", "l", "<l", "=l"), "d": ("d", "<d", "=d"),
            "B": ("B", "<B", "=B", "?")}


def typed_column(values, code: str, what: str) -> Tuple[object, Optional[int], int]:
    """`values` as a contiguous C array of `code` (an array.array type
    code): (what keeps it alive, its address or None when empty, count). A
    writable buffer of that type (a numpy array, an array.array) is used in
    place; anything else is copied, and a value the type cannot hold is an
    InvalidArgumentError naming `what`."""
    try:
        view = memoryview(values)
    except TypeError:
        view = None
    if (view is not None and view.ndim == 1 and view.c_contiguous and not view.readonly
            and view.itemsize == array.array(code).itemsize and view.format in _FORMATS[code]):
        address = ctypes.addressof(ctypes.c_char.from_buffer(view)) if len(view) else None
        return view, address, len(view)
    try:
        copy = array.array(code, values)
    except (OverflowError, TypeError) as e:
        raise InvalidArgumentError("%s: %s" % (what, e)) from None
    return copy, (copy.buffer_info()[0] if copy else None), len(copy)
