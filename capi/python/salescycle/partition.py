"""Partitioning (include/salescycle/partition.h): which shard owns a deal,
decided the same way in every language and process.

A key (str, as UTF-8, or bytes) or a 64-bit id hashes, by a frozen hash
(MurmurHash3 x86_32, seed 0) computed by the C library, to one of a fixed
number of key groups; owner `o` of `owners` holds a contiguous range of
groups. Unlike Python's hash(), which is salted per process, the same key
lands in the same group in every process, and in C, C++ and Go too.

    groups = salescycle.KeyGroups(4096)
    groups.of_key("acme-2026-renewal")          # 3293
    groups.of_keys(keys)                         # one C call for them all
    groups.range_of(owner=1, owners=3)           # range(1366, 2731)
"""
from ctypes import byref, c_size_t, c_uint32, c_void_p
from typing import Iterable, List, NamedTuple, Optional, Union

from ._native import call, column, encode, key_column, lib, typed_column

MAX_KEY_GROUPS = 32768
Key = Union[str, bytes]


def key_hash(key: Key) -> int:
    """The frozen hash of a key's bytes (a str is hashed as UTF-8)."""
    data = encode(key)
    out = c_uint32()
    call(lib.sc_key_hash, byref(out), data, len(data))
    return out.value


def id_hash(id: int) -> int:
    """The frozen hash of a 64-bit id (its 8 bytes, little endian)."""
    out = c_uint32()
    call(lib.sc_id_hash, byref(out), id)
    return out.value


class RescalePart(NamedTuple):
    """One part of a rescale (KeyGroups.rescale_plan)."""
    old_owner: int
    new_owner: int
    groups: range
    counted: bool


class KeyGroups:
    """A fixed number of key groups (1 to MAX_KEY_GROUPS), and how they map
    to owners. InvalidArgumentError for a number out of range."""

    def __init__(self, num_groups: int):
        if isinstance(num_groups, bool) or not isinstance(num_groups, int):
            raise TypeError("num_groups is an int, not %r" % (num_groups,))
        self.num_groups = num_groups
        self.owner_of(0, 1)  # the library checks the number

    def of_key(self, key: Key) -> int:
        """The group of one key."""
        return int(self.of_keys([key], numpy=False)[0])

    def of_id(self, id: int) -> int:
        """The group of one id."""
        return int(self.of_ids([id], numpy=False)[0])

    def of_keys(self, keys: Iterable[Key], *, numpy: Optional[bool] = None):
        """The groups of many keys (uint32: numpy's array where numpy
        imports, or with numpy=False an array.array), in one C call."""
        data, offsets = key_column(keys)
        count = len(offsets) - 1
        out, pointer = column("I", "uint32", count, numpy)
        call(lib.sc_key_groups, pointer, data, len(data),
             c_void_p(offsets.buffer_info()[0]), count, self.num_groups)
        return out

    def of_ids(self, ids, *, numpy: Optional[bool] = None):
        """The groups of many ids: any iterable of ints, or a buffer of
        uint64 (a numpy array, array.array("Q")) read without a copy."""
        keep, address, count = typed_column(ids, "Q", "ids: each is an int from 0 to 2**64 - 1")
        out, pointer = column("I", "uint32", count, numpy)
        call(lib.sc_id_groups, pointer, c_void_p(address), count, self.num_groups)
        del keep  # alive until the call returned
        return out

    def owner_of(self, group: int, owners: int) -> int:
        """Which of `owners` holds `group`."""
        out = c_uint32()
        call(lib.sc_key_group_owner, byref(out), group, self.num_groups, owners)
        return out.value

    def rescale_plan(self, old_owners: int, new_owners: int) -> List["RescalePart"]:
        """The parts that take every group from `old_owners` owners to
        `new_owners` (salescycle/partition.h, KeyGroups::RescalePlan): for
        each old owner in order, one part a new owner whose range meets its
        own; `counted` marks the one part of each old owner that carries its
        funnel counters and input positions."""
        count = c_size_t()
        call(lib.sc_key_group_rescale_plan, None, 0, byref(count), self.num_groups,
             old_owners, new_owners)
        flat, pointer = column("I", "uint32", 5 * count.value, False)
        if count.value:
            call(lib.sc_key_group_rescale_plan, pointer, count.value, byref(count),
                 self.num_groups, old_owners, new_owners)
        return [RescalePart(flat[i], flat[i + 1], range(flat[i + 2], flat[i + 3]),
                            bool(flat[i + 4])) for i in range(0, 5 * count.value, 5)]

    def range_of(self, owner: int, owners: int) -> range:
        """The groups owner `owner` of `owners` holds."""
        first, end = c_uint32(), c_uint32()
        call(lib.sc_key_group_range, byref(first), byref(end), owner, owners, self.num_groups)
        return range(first.value, end.value)

    def __repr__(self) -> str:
        return "salescycle.KeyGroups(%d)" % self.num_groups
