package salescycle

// #include "salescycle/c.h"
import "C"

import "unsafe"

// MaxKeyGroups is the most key groups a deployment can have.
const MaxKeyGroups = C.SC_MAX_KEY_GROUPS

// KeyHash is the frozen hash of a key's bytes (include/salescycle/partition.h:
// MurmurHash3 x86_32, seed 0), the same in every language and process.
func KeyHash(key string) uint32 {
	data, n := bytesArg([]byte(key))
	var out C.uint32_t
	// Cannot fail: the pointer and length come from a Go slice.
	mustOK(call(func(e **C.char) C.sc_status {
		return C.sc_key_hash(&out, (*C.char)(unsafe.Pointer(data)), n, e)
	}))
	return uint32(out)
}

// IDHash is the frozen hash of an id's 8 bytes, little endian.
func IDHash(id uint64) uint32 {
	var out C.uint32_t
	mustOK(call(func(e **C.char) C.sc_status { return C.sc_id_hash(&out, C.uint64_t(id), e) }))
	return uint32(out)
}

// KeyGroups is a fixed number of key groups, and how they map to owners:
// owner o of n holds a contiguous range of groups (partition.h).
type KeyGroups struct {
	n uint32
}

// NewKeyGroups returns n key groups; an error (InvalidArgument) for n
// outside 1..MaxKeyGroups.
func NewKeyGroups(n uint32) (KeyGroups, error) {
	g := KeyGroups{n: n}
	if _, err := g.OwnerOf(0, 1); err != nil {
		return KeyGroups{}, err
	}
	return g, nil
}

// NumGroups is the number of groups.
func (g KeyGroups) NumGroups() uint32 { return g.n }

// OfKey returns the group of one key; an error (InvalidArgument) only for
// a KeyGroups not made by NewKeyGroups (its zero value).
func (g KeyGroups) OfKey(key string) (uint32, error) {
	out, err := g.OfKeys([]string{key})
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

// OfID returns the group of one id; errors as OfKey's.
func (g KeyGroups) OfID(id uint64) (uint32, error) {
	out, err := g.OfIDs([]uint64{id})
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

// OfKeys returns the groups of many keys, in one C call; errors as OfKey's.
func (g KeyGroups) OfKeys(keys []string) ([]uint32, error) {
	data, offsets := keyColumn(keys)
	out := make([]uint32, len(keys)+1) // never empty: &out[0] is valid
	d, n := bytesArg(data)
	err := call(func(e **C.char) C.sc_status {
		return C.sc_key_groups((*C.uint32_t)(unsafe.Pointer(&out[0])), d, n,
			(*C.uint64_t)(unsafe.Pointer(&offsets[0])), C.size_t(len(keys)), C.uint32_t(g.n), e)
	})
	if err != nil {
		return nil, err
	}
	return out[:len(keys)], nil
}

// OfIDs returns the groups of many ids, in one C call; errors as OfKey's.
func (g KeyGroups) OfIDs(ids []uint64) ([]uint32, error) {
	out := make([]uint32, len(ids)+1)
	var p *C.uint64_t
	if len(ids) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&ids[0]))
	}
	err := call(func(e **C.char) C.sc_status {
		return C.sc_id_groups((*C.uint32_t)(unsafe.Pointer(&out[0])), p, C.size_t(len(ids)),
			C.uint32_t(g.n), e)
	})
	if err != nil {
		return nil, err
	}
	return out[:len(ids)], nil
}

// OwnerOf returns which of owners holds group; an error (InvalidArgument)
// for owners outside 1..NumGroups() or a group past it.
func (g KeyGroups) OwnerOf(group, owners uint32) (uint32, error) {
	var out C.uint32_t
	err := call(func(e **C.char) C.sc_status {
		return C.sc_key_group_owner(&out, C.uint32_t(group), C.uint32_t(g.n), C.uint32_t(owners), e)
	})
	return uint32(out), err
}

// RangeOf returns the groups [first, end) owner of owners holds; an error
// (InvalidArgument) as OwnerOf's, and for owner >= owners.
func (g KeyGroups) RangeOf(owner, owners uint32) (first, end uint32, err error) {
	var f, x C.uint32_t
	err = call(func(e **C.char) C.sc_status {
		return C.sc_key_group_range(&f, &x, C.uint32_t(owner), C.uint32_t(owners), C.uint32_t(g.n), e)
	})
	return uint32(f), uint32(x), err
}

// RescalePart is one part of a rescale: the key groups [First, End) old
// owner From gives new owner To; Counted: it carries From's funnel counters
// and input positions (exactly one part of each old owner does).
type RescalePart struct {
	From, To, First, End uint32
	Counted              bool
}

// RescalePlan is the parts that take every group from `from` owners to
// `to` (include/salescycle/partition.h, KeyGroups::RescalePlan).
func (g KeyGroups) RescalePlan(from, to uint32) ([]RescalePart, error) {
	var n C.size_t
	if err := call(func(e **C.char) C.sc_status {
		return C.sc_key_group_rescale_plan(nil, 0, &n, C.uint32_t(g.n), C.uint32_t(from), C.uint32_t(to), e)
	}); err != nil {
		return nil, err
	}
	flat := make([]uint32, 5*int(n)+1) // never empty: &flat[0] is valid
	if err := call(func(e **C.char) C.sc_status {
		return C.sc_key_group_rescale_plan((*C.uint32_t)(unsafe.Pointer(&flat[0])), n, &n,
			C.uint32_t(g.n), C.uint32_t(from), C.uint32_t(to), e)
	}); err != nil {
		return nil, err
	}
	parts := make([]RescalePart, int(n))
	for i := range parts {
		f := flat[5*i : 5*i+5]
		parts[i] = RescalePart{From: f[0], To: f[1], First: f[2], End: f[3], Counted: f[4] != 0}
	}
	return parts, nil
}

// mustOK panics on an error that only a bug in this package or the library
// can cause: the hashes take a pointer and length from a Go slice.
func mustOK(err error) {
	if err != nil {
		panic("salescycle: " + err.Error())
	}
}

// keyColumn lays keys out as the C column calls take them (Arrow's layout):
// one buffer, and len(keys)+1 offsets into it.
func keyColumn(keys []string) (data []byte, offsets []uint64) {
	offsets = make([]uint64, len(keys)+1)
	total := 0
	for i, k := range keys {
		total += len(k)
		offsets[i+1] = uint64(total)
	}
	data = make([]byte, 0, total)
	for _, k := range keys {
		data = append(data, k...)
	}
	return data, offsets
}
