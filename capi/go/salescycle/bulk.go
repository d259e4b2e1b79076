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

// RowFormat is an event file's format, for Ingest.
type RowFormat int32

const (
	RowsAuto  RowFormat = C.SC_ROWS_AUTO  // JSON Lines when the text starts with a JSON object, else CSV
	RowsCSV   RowFormat = C.SC_ROWS_CSV   // CSV with a header
	RowsJSONL RowFormat = C.SC_ROWS_JSONL // JSON Lines
)

// Ingested is what Ingest did (the tool's replay summary).
type Ingested struct {
	Rows, BadRows, Accepted, Rejected, Added, Timeouts uint64
	// LastTime is the latest row's time (0 when no row applied).
	LastTime int64
	// FirstBad is "LINE: what is wrong" of the first bad row, "" for none.
	FirstBad string
}

// Ingest applies an event file's rows exactly as `salescycle replay` does,
// in one C call: a deal's first row adds it, rows apply in time with the
// machine's timeouts between them. Bad rows are skipped and counted, or
// with strict the first is an InvalidArgument error naming its line.
func (p *Pipeline) Ingest(data []byte, format RowFormat, strict bool) (Ingested, error) {
	var counts [C.SC_INGEST_COUNTS]C.uint64_t
	var bad *C.char
	text := (*C.char)(first(data))
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_ingest(&counts[0], C.size_t(len(counts)), &bad, p.c(h), text,
			C.size_t(len(data)), C.int32_t(format), flag(strict), e)
	})
	runtime.KeepAlive(data)
	if err != nil {
		return Ingested{}, err
	}
	out := Ingested{uint64(counts[0]), uint64(counts[1]), uint64(counts[2]), uint64(counts[3]),
		uint64(counts[4]), uint64(counts[5]), int64(counts[6]), ""}
	if bad != nil {
		out.FirstBad = C.GoString(bad)
		C.sc_free(unsafe.Pointer(bad))
	}
	return out, nil
}
