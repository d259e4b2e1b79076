package salescycle

// #include "salescycle/c.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Bulk calls: many deals in one C call, for ingest where a call a deal
// would cost more than the work (issue 17).

// first is a pointer to s's first element, or nil for an empty slice.
func first[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

// FindKeys returns the deal of each key, or None for a key no live deal
// has: a miss is not an error.
func (p *Pipeline) FindKeys(keys []string) ([]uint32, error) {
	data, offsets := keyColumn(keys)
	out := make([]uint32, len(keys)+1)
	d, n := bytesArg(data)
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_find_keys((*C.uint32_t)(unsafe.Pointer(&out[0])), p.c(h), d, n,
			(*C.uint64_t)(unsafe.Pointer(&offsets[0])), C.size_t(len(keys)), e)
	})
	if err != nil {
		return nil, err
	}
	return out[:len(keys)], nil
}

// AddKeys returns the deal of each key, adding the keys no live deal has
// (in the initial stage, at times[i]), and how many it added. A key given
// twice is added once.
func (p *Pipeline) AddKeys(keys []string, times []int64) (deals []uint32, added uint64, err error) {
	if len(times) != len(keys) {
		return nil, 0, &Error{Code: InvalidArgument,
			Message: fmt.Sprintf("AddKeys: %d keys and %d times", len(keys), len(times))}
	}
	data, offsets := keyColumn(keys)
	out := make([]uint32, len(keys)+1)
	d, n := bytesArg(data)
	var a C.uint64_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_add_keys((*C.uint32_t)(unsafe.Pointer(&out[0])), &a, p.c(h), d, n,
			(*C.uint64_t)(unsafe.Pointer(&offsets[0])), C.size_t(len(keys)),
			(*C.int64_t)(first(times)), e)
	})
	runtime.KeepAlive(times)
	if err != nil {
		return nil, 0, err
	}
	return out[:len(keys)], uint64(a), nil
}

// columnArgs checks that deals and values are as long, and resolves the
// attribute's id.
func (p *Pipeline) columnArgs(attribute string, deals int, values int) (C.uint32_t, error) {
	if deals != values {
		return 0, &Error{Code: InvalidArgument,
			Message: fmt.Sprintf("set column: %d deals and %d values", deals, values)}
	}
	id, err := p.machine.AttributeID(attribute)
	return C.uint32_t(id), err
}

// SetInt64Column sets attribute of deals[i] to values[i] for every i, in
// one call; all or nothing (the type and every deal are checked first).
func (p *Pipeline) SetInt64Column(attribute string, deals []uint32, values []int64) error {
	a, err := p.columnArgs(attribute, len(deals), len(values))
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(values)
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_set_int64_column(p.c(h), a, (*C.uint32_t)(first(deals)),
			(*C.int64_t)(first(values)), C.size_t(len(deals)), e)
	})
}

// SetDoubleColumn is SetInt64Column for a double attribute.
func (p *Pipeline) SetDoubleColumn(attribute string, deals []uint32, values []float64) error {
	a, err := p.columnArgs(attribute, len(deals), len(values))
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(values)
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_set_double_column(p.c(h), a, (*C.uint32_t)(first(deals)),
			(*C.double)(first(values)), C.size_t(len(deals)), e)
	})
}

// SetBoolColumn is SetInt64Column for a bool attribute.
func (p *Pipeline) SetBoolColumn(attribute string, deals []uint32, values []bool) error {
	a, err := p.columnArgs(attribute, len(deals), len(values))
	if err != nil {
		return err
	}
	bytes := make([]uint8, len(values))
	for i, v := range values {
		if v {
			bytes[i] = 1
		}
	}
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_set_bool_column(p.c(h), a, (*C.uint32_t)(first(deals)),
			(*C.uint8_t)(first(bytes)), C.size_t(len(deals)), e)
	})
}

// SetStringColumn is SetInt64Column for a string attribute.
func (p *Pipeline) SetStringColumn(attribute string, deals []uint32, values []string) error {
	a, err := p.columnArgs(attribute, len(deals), len(values))
	if err != nil {
		return err
	}
	data, offsets := keyColumn(values)
	d, n := bytesArg(data)
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_set_string_column(p.c(h), a, (*C.uint32_t)(first(deals)), d, n,
			(*C.uint64_t)(unsafe.Pointer(&offsets[0])), C.size_t(len(deals)), e)
	})
}

// ApplyColumns is Apply with the records as three columns: deals[i],
// events[i], times[i].
func (p *Pipeline) ApplyColumns(deals, events []uint32, times []int64) (accepted, rejected uint64, err error) {
	if len(events) != len(deals) || len(times) != len(deals) {
		return 0, 0, &Error{Code: InvalidArgument, Message: fmt.Sprintf(
			"ApplyColumns: %d deals, %d events and %d times", len(deals), len(events), len(times))}
	}
	var a, r C.uint64_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply_columns(&a, &r, p.c(h), (*C.uint32_t)(first(deals)),
			(*C.uint32_t)(first(events)), (*C.int64_t)(first(times)), C.size_t(len(deals)), e)
	})
	runtime.KeepAlive(times)
	return uint64(a), uint64(r), err
}
