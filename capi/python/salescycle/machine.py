"""Machine: a compiled sales cycle, immutable and safe to share between
threads. Load one from protobuf text format, JSON or a file."""
import ctypes
import enum
import json
from ctypes import byref, c_char_p, c_double, c_int32, c_int64, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from typing import Callable, Dict, List, Mapping, Optional, Union

from . import _native
from ._native import call, encode, lib
from .limits import Limits, limits_handle


class StageKind(enum.IntEnum):
    OPEN = 0
    WON = 1
    LOST = 2


class AttributeType(enum.IntEnum):
    INT64 = 0
    DOUBLE = 1
    STRING = 2
    BOOL = 3


AttributeValue = Union[int, float, str, bool]
Id = Union[int, str]  # an id, or a name to look it up by


class DealView:
    """What a named guard sees of the deal it decides on; valid only during
    the guard call. `deal["budget"]` reads an attribute (its declared default
    when unset)."""

    __slots__ = ("_machine", "_view")

    def __init__(self, machine: "Machine", view: int):
        self._machine = machine
        self._view = view

    def is_set(self, attribute: Id) -> bool:
        out = c_uint8()
        call(lib.sc_deal_view_is_set, byref(out), self._view,
             self._machine.attribute_id(attribute))
        return bool(out.value)

    def __getitem__(self, attribute: Id) -> AttributeValue:
        a = self._machine.attribute_id(attribute)
        kind = self._machine.attribute_type(a)
        if kind == AttributeType.STRING:
            data, size = c_void_p(), c_size_t()
            call(lib.sc_deal_view_get_string, byref(data), byref(size), self._view, a)
            return ctypes.string_at(data.value, size.value).decode("utf-8")
        out = {AttributeType.INT64: c_int64, AttributeType.DOUBLE: c_double,
               AttributeType.BOOL: c_uint8}[kind]()
        getter = {AttributeType.INT64: lib.sc_deal_view_get_int64,
                  AttributeType.DOUBLE: lib.sc_deal_view_get_double,
                  AttributeType.BOOL: lib.sc_deal_view_get_bool}[kind]
        call(getter, byref(out), self._view, a)
        return bool(out.value) if kind == AttributeType.BOOL else out.value


NamedGuard = Callable[[DealView], bool]


class Machine(_native.Handle):
    """A compiled MachineSpec (proto/salescycle/v1/machine.proto).

    Loading errors raise InvalidArgumentError naming the source and the
    offending element, or NotFoundError for a missing file. Named guards are
    Python callables that take a DealView and return a bool; one that raises
    makes the call that stepped the deal raise CallbackError.
    """

    _destroy = lib.sc_machine_destroy

    def __init__(self, pointer: c_void_p, guards: List[object]):
        super().__init__(pointer)
        # The C callbacks must outlive every pipeline and journey of this
        # machine; those hold this object, and close() keeps these.
        self._guards = guards
        self._names: Dict[str, List[str]] = {}
        self._ids: Dict[str, Dict[str, int]] = {}
        self._types: Optional[List[AttributeType]] = None

    @classmethod
    def _load(cls, fn, args, named_guards: Optional[Mapping[str, NamedGuard]],
              source_name: Optional[str], limits: Optional[Limits]) -> "Machine":
        options = lib.sc_compile_options_create()
        if not options:
            raise MemoryError("sc_compile_options_create")
        guards: List[object] = []
        machine_box: List[Machine] = []
        try:
            with limits_handle(limits) as handle:
                call(lib.sc_compile_options_set_limits, options, handle)
            if source_name is not None:
                name = encode(source_name)
                call(lib.sc_compile_options_set_source_name, options, name, len(name))
            for guard_name, guard in (named_guards or {}).items():
                trampoline = _native.GUARD(_guard_trampoline(guard, machine_box))
                guards.append(trampoline)
                name = encode(guard_name)
                call(lib.sc_compile_options_add_named_guard, options, name,
                     len(name), trampoline, None)
            out = c_void_p()
            call(fn, byref(out), *args, options)
        finally:
            lib.sc_compile_options_destroy(options)
        machine = cls(out, guards)
        machine_box.append(machine)
        # Names and types are read once: lookups then cost a dict access,
        # and named guards can still read deals after close().
        for kind in ("stage", "event", "attribute"):
            machine._list(kind)
        if machine._names["attribute"]:
            machine.attribute_type(0)
        return machine

    @classmethod
    def from_text(cls, text: Union[str, bytes], *,
                  named_guards: Optional[Mapping[str, NamedGuard]] = None,
                  source_name: Optional[str] = None,
                  limits: Optional[Limits] = None) -> "Machine":
        """From protobuf text format. InvalidArgumentError names what is
        wrong, and where; `limits` bounds what the spec may ask for."""
        data = encode(text)
        return cls._load(lib.sc_machine_from_text, (data, len(data)),
                         named_guards, source_name, limits)

    @classmethod
    def from_json(cls, text: Union[str, bytes], *,
                  named_guards: Optional[Mapping[str, NamedGuard]] = None,
                  source_name: Optional[str] = None,
                  limits: Optional[Limits] = None) -> "Machine":
        """From protobuf JSON, as from_text."""
        data = encode(text)
        return cls._load(lib.sc_machine_from_json, (data, len(data)),
                         named_guards, source_name, limits)

    @classmethod
    def from_file(cls, path: str, *,
                  named_guards: Optional[Mapping[str, NamedGuard]] = None,
                  limits: Optional[Limits] = None) -> "Machine":
        """From a file: JSON when the name ends in .json, text format
        otherwise."""
        return cls._load(lib.sc_machine_from_file, (encode(path),),
                         named_guards, None, limits)

    # ---- identity and introspection

    def _scalar(self, fn, ctype):
        out = ctype()
        call(fn, byref(out), self._handle)
        return out.value

    @property
    def name(self) -> str:
        return self._scalar(lib.sc_machine_name, c_char_p).decode("utf-8")

    @property
    def version(self) -> int:
        return self._scalar(lib.sc_machine_version, c_uint32)

    def spec(self) -> dict:
        """The whole machine as compiled (Machine::SpecJson): a dict in the
        shape of salescycle.v1.MachineSpec, field names as machine.proto's,
        every stage's display_name, kind and win_probability resolved; stage,
        event and attribute i are the i-th of their list. 64-bit integers
        (stall_limit_seconds, after_seconds) are strings, as protobuf's JSON
        mapping writes them. A new field of machine.proto shows here with no
        change to this package."""
        data, size = c_void_p(), c_size_t()
        call(lib.sc_machine_spec_json, byref(data), byref(size), self._handle)
        return json.loads(_native.take_bytes(data, size.value).decode("utf-8"))

    @property
    def fingerprint(self) -> int:
        """Equal for machines that behave the same; snapshots check it."""
        return self._scalar(lib.sc_machine_fingerprint, c_uint64)

    @property
    def initial_stage(self) -> int:
        return self._scalar(lib.sc_machine_initial_stage, c_uint32)

    def _list(self, kind: str) -> List[str]:
        if kind not in self._names:
            count = self._scalar(getattr(lib, "sc_machine_num_%ss" % kind), c_uint32)
            name_of = getattr(lib, "sc_machine_%s_name" % kind)
            names = []
            for i in range(count):
                out = c_char_p()
                call(name_of, byref(out), self._handle, i)
                names.append(out.value.decode("utf-8"))
            self._names[kind] = names
            self._ids[kind] = {n: i for i, n in enumerate(names)}
        return self._names[kind]

    @property
    def stages(self) -> List[str]:
        """Stage ids, in id order."""
        return list(self._list("stage"))

    @property
    def events(self) -> List[str]:
        return list(self._list("event"))

    @property
    def attributes(self) -> List[str]:
        return list(self._list("attribute"))

    def _find(self, kind: str, key: Id) -> int:
        if isinstance(key, int):
            return key
        found = self._ids[kind].get(key)
        if found is not None:
            return found
        out = c_uint32()  # not there: the library raises, in its words
        name = encode(key)
        call(getattr(lib, "sc_machine_find_%s" % kind), byref(out),
             self._handle, name, len(name))
        return out.value

    def stage_id(self, stage: Id) -> int:
        """The id of a stage named `stage` (an int is returned as is).
        Raises NotFoundError for an unknown name."""
        return self._find("stage", stage)

    def event_id(self, event: Id) -> int:
        return self._find("event", event)

    def attribute_id(self, attribute: Id) -> int:
        return self._find("attribute", attribute)

    def stage_kind(self, stage: Id) -> StageKind:
        out = c_int32()
        call(lib.sc_machine_stage_kind, byref(out), self._handle, self.stage_id(stage))
        return StageKind(out.value)

    def attribute_type(self, attribute: Id) -> AttributeType:
        if self._types is None:
            types = []
            for a in range(len(self._list("attribute"))):
                out = c_int32()
                call(lib.sc_machine_attribute_type, byref(out), self._handle, a)
                types.append(AttributeType(out.value))
            self._types = types
        a = self.attribute_id(attribute)
        if not 0 <= a < len(self._types):
            # Let the library say what is wrong, in its words.
            out = c_int32()
            call(lib.sc_machine_attribute_type, byref(out), self._handle, a)
        return self._types[a]

    def __repr__(self) -> str:
        if self.closed:
            return "<salescycle.Machine (closed)>"
        return "<salescycle.Machine %s v%d: %d stages>" % (
            self.name, self.version, len(self._list("stage")))


def _guard_trampoline(guard: NamedGuard, machine_box: List[Machine]):
    def trampoline(_user_data, view, out_holds):
        try:
            out_holds[0] = 1 if guard(DealView(machine_box[0], view)) else 0
            return 0
        except BaseException as e:  # never let an exception into C
            _native.record_guard_failure(e)
            return 1
    return trampoline
