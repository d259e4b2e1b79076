package salescycle

// #include <stdlib.h>
// #include "salescycle/c.h"
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// BatchAt is what a batch at offsets did: records accepted and rejected,
// and those skipped because their offsets were applied before.
type BatchAt struct {
	Accepted, Rejected, Skipped uint64
}

// recordsAt is a batch's pointer, count and source as the C calls take them;
// free releases the source's C copy.
func recordsAt[R EventRecord | StageRecord](source string, records []R) (ptr unsafe.Pointer, n C.size_t, name *C.char, nameLen C.size_t, free func()) {
	if len(records) > 0 {
		ptr = unsafe.Pointer(&records[0])
	}
	name, nameLen = cBytes(source)
	return ptr, C.size_t(len(records)), name, nameLen, func() { C.free(unsafe.Pointer(name)) }
}

// ApplyAt applies records (as Apply, or with timed as a stream in time,
// firing the timeouts due between records) whose record i is at offset
// first+i of the input source (a file, a Kafka partition, a shard's
// stream). Records at offsets applied before from source are skipped, so a
// replay after a restore (positions are saved in snapshots) applies each
// record exactly once; then Position(source) is first+len(records).
func (p *Pipeline) ApplyAt(source string, first uint64, records []EventRecord, timed bool) (BatchAt, error) {
	ptr, n, name, nameLen, free := recordsAt(source, records)
	defer free()
	var a, r, s C.uint64_t
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply_at(&a, &r, &s, p.c(h), name, nameLen, C.uint64_t(first),
			(*C.sc_event_record)(ptr), n, flag(timed), e)
	})
	runtime.KeepAlive(records)
	return BatchAt{uint64(a), uint64(r), uint64(s)}, err
}

// ApplyMovesAt is ApplyAt for moves by stage; sources are shared with it.
func (p *Pipeline) ApplyMovesAt(source string, first uint64, records []StageRecord, timed bool) (BatchAt, error) {
	ptr, n, name, nameLen, free := recordsAt(source, records)
	defer free()
	var a, r, s C.uint64_t
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply_moves_at(&a, &r, &s, p.c(h), name, nameLen, C.uint64_t(first),
			(*C.sc_stage_record)(ptr), n, flag(timed), e)
	})
	runtime.KeepAlive(records)
	return BatchAt{uint64(a), uint64(r), uint64(s)}, err
}

// Position returns the first offset of source not applied yet (0 for a
// source never applied from).
func (p *Pipeline) Position(source string) (uint64, error) {
	name, nameLen := cBytes(source)
	defer C.free(unsafe.Pointer(name))
	var out C.uint64_t
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_position(&out, p.c(h), name, nameLen, e)
	})
	return uint64(out), err
}

// Positions returns every input source's position, by name.
func (p *Pipeline) Positions() (map[string]uint64, error) {
	var data *C.char
	var n C.size_t
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_positions_json(&data, &n, p.c(h), e)
	})
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	if err := json.Unmarshal(takeBytes(unsafe.Pointer(data), n), &out); err != nil {
		return nil, &Error{Code: Internal, Message: "Positions: " + err.Error()}
	}
	return out, nil
}

// ApplyAt is Pipeline.ApplyAt as one journal record: the positions are
// recovered with the deals.
func (d *DurablePipeline) ApplyAt(source string, first uint64, records []EventRecord, timed bool) (BatchAt, error) {
	ptr, n, name, nameLen, free := recordsAt(source, records)
	defer free()
	var a, r, s C.uint64_t
	err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_apply_at(&a, &r, &s, h, name, nameLen, C.uint64_t(first),
			(*C.sc_event_record)(ptr), n, flag(timed), e)
	})
	runtime.KeepAlive(records)
	return BatchAt{uint64(a), uint64(r), uint64(s)}, err
}

// ApplyMovesAt is Pipeline.ApplyMovesAt as one journal record.
func (d *DurablePipeline) ApplyMovesAt(source string, first uint64, records []StageRecord, timed bool) (BatchAt, error) {
	ptr, n, name, nameLen, free := recordsAt(source, records)
	defer free()
	var a, r, s C.uint64_t
	err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_apply_moves_at(&a, &r, &s, h, name, nameLen, C.uint64_t(first),
			(*C.sc_stage_record)(ptr), n, flag(timed), e)
	})
	runtime.KeepAlive(records)
	return BatchAt{uint64(a), uint64(r), uint64(s)}, err
}
