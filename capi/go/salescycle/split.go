package salescycle

// #include <stdlib.h>
// #include "salescycle/c.h"
import "C"

import "unsafe"

// Splitting and joining pipelines, to rescale shards: the deals of some key
// groups leave one pipeline as a part and join another
// (include/salescycle/snapshot.h says how their funnel counters go with
// them).

// DealsInKeyGroups is the live deals whose key (or id) falls in key groups
// [first, end) of numGroups, in index order. A deal with neither key nor
// id is a FailedPrecondition *Error naming it.
func (p *Pipeline) DealsInKeyGroups(numGroups, first, end uint32) ([]uint32, error) {
	var deals []uint32
	// The count, then the deals, under one lock: no change in between.
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		var n C.size_t
		st := C.sc_pipeline_deals_in_key_groups(nil, 0, &n, p.c(h), C.uint32_t(numGroups),
			C.uint32_t(first), C.uint32_t(end), e)
		if st != C.SC_OK || n == 0 {
			deals = []uint32{}
			return st
		}
		deals = make([]uint32, int(n))
		return C.sc_pipeline_deals_in_key_groups((*C.uint32_t)(unsafe.Pointer(&deals[0])), n, &n,
			p.c(h), C.uint32_t(numGroups), C.uint32_t(first), C.uint32_t(end), e)
	})
	return deals, err
}

// SavePart is a snapshot of deals alone (live, each once; they come back as
// deals 0, 1, ... in this order), to join with others by LoadParts. With
// counters, the part carries the pipeline's funnel counters and input
// positions too: give them to exactly one part of a split. The pipeline is
// not changed.
func (p *Pipeline) SavePart(deals []uint32, counters bool) ([]byte, error) {
	var data *C.uint8_t
	var n C.size_t
	var ptr *C.uint32_t
	if len(deals) > 0 {
		ptr = (*C.uint32_t)(unsafe.Pointer(&deals[0]))
	}
	with := C.int(0)
	if counters {
		with = 1
	}
	if err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_save_part(&data, &n, p.c(h), ptr, C.size_t(len(deals)), with, e)
	}); err != nil {
		return nil, err
	}
	return takeBytes(unsafe.Pointer(data), n), nil
}

// LoadParts is one pipeline of m holding the deals of every part in turn
// (keys and ids kept, indexes not), their funnel counters added and their
// input positions together. A key, id or input source two parts hold is a
// DataLoss *Error. WithLimits bounds each part (the defaults are meant for
// untrusted bytes).
func LoadParts(m *Machine, parts [][]byte, opts ...LoadOption) (*Pipeline, error) {
	// cgo lets C see no Go pointer to Go pointers: the parts and the array
	// of their addresses are copied into C memory for the call (one more
	// element than needed, so that an empty list is a valid allocation).
	count := len(parts)
	dataMem := C.calloc(C.size_t(count+1), C.size_t(unsafe.Sizeof(uintptr(0))))
	lensMem := C.calloc(C.size_t(count+1), C.size_t(unsafe.Sizeof(C.size_t(0))))
	defer C.free(dataMem)
	defer C.free(lensMem)
	data := unsafe.Slice((**C.uint8_t)(dataMem), count+1)
	lens := unsafe.Slice((*C.size_t)(lensMem), count+1)
	for i, part := range parts {
		data[i] = (*C.uint8_t)(C.CBytes(part))
		lens[i] = C.size_t(len(part))
		defer C.free(unsafe.Pointer(data[i]))
	}
	var out *C.sc_pipeline_t
	if err := loadOnMachine(m, opts, func(mp *C.sc_machine_t, l *C.sc_limits_t, e **C.char) C.sc_status {
		return C.sc_pipeline_load_parts(&out, mp, &data[0], &lens[0], C.size_t(count), l, e)
	}); err != nil {
		return nil, err
	}
	return adoptPipeline(out, m), nil
}
