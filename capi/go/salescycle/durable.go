package salescycle

/*
#include <stdint.h>
#include <stdlib.h>
#include "salescycle/c.h"

extern void scGoRead(sc_pipeline_t*, void*);

// The read callback's user data is a cgo.Handle, converted here so that Go
// never turns an integer into a pointer.
static sc_status go_durable_read(sc_durable_t* d, uintptr_t handle, char** e) {
  return sc_durable_read(d, (sc_read_fn)scGoRead, (void*)handle, e);
}
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// SyncPolicy says when a DurablePipeline's journal reaches the disk.
type SyncPolicy int32

const (
	// SyncEveryWrite syncs before each change returns: an acknowledged
	// change survives a crash of the machine.
	SyncEveryWrite SyncPolicy = C.SC_SYNC_EVERY_WRITE
	// SyncInterval syncs in the background every interval.
	SyncInterval SyncPolicy = C.SC_SYNC_INTERVAL
	// SyncNone leaves it to the system: a crash of the process loses
	// nothing acknowledged, a crash of the machine may.
	SyncNone SyncPolicy = C.SC_SYNC_NONE
)

// DurableOption configures OpenDurable.
type DurableOption func(*durableOptions)

type durableOptions struct {
	policy          SyncPolicy
	intervalMs      int32
	checkpointAfter *uint64
	salvage         bool
	pipeline        []Option
}

// Sync sets the sync policy (default SyncEveryWrite); intervalMs (1 to
// 60000) is for SyncInterval.
func Sync(policy SyncPolicy, intervalMs int32) DurableOption {
	return func(o *durableOptions) { o.policy, o.intervalMs = policy, intervalMs }
}

// CheckpointAfterBytes folds a journal this long into a new snapshot
// (default 256 MiB; 0: only Checkpoint does).
func CheckpointAfterBytes(n uint64) DurableOption {
	return func(o *durableOptions) { o.checkpointAfter = &n }
}

// Salvage keeps the changes before a damaged journal record, where Open
// would return a DataLoss *Error (see salescycle/durable.h).
func Salvage() DurableOption { return func(o *durableOptions) { o.salvage = true } }

// WithPipeline sets the options of the pipeline a new directory gets (an
// existing one keeps its own).
func WithPipeline(opts ...Option) DurableOption {
	return func(o *durableOptions) { o.pipeline = opts }
}

// Recovery is what OpenDurable found: the snapshot it started from (N of
// snapshot-N), the journaled changes replayed after it, the bytes dropped
// from the journal's end (a torn tail, or a salvage), and where its read
// stopped ("" at a clean end).
type Recovery struct {
	Snapshot     uint64
	Changes      uint64
	BytesDropped uint64
	TornTail     bool
	Salvaged     bool
	StoppedAt    string
}

// DurablePipeline is a pipeline in a directory that survives its process:
// every change is journaled before it is applied, and OpenDurable recovers
// the latest snapshot and the journal after it. Unlike Pipeline it is safe
// for concurrent use: the library serializes writers, and those that wait
// for the disk together share one sync.
type DurablePipeline struct {
	mu      sync.Mutex
	ptr     *C.sc_durable_t // nil once closed
	calls   int             // calls under way
	machine *Machine
}

func newDurableOptions(o durableOptions) (*C.sc_durable_options_t, error) {
	var out *C.sc_durable_options_t
	if err := call(func(e **C.char) C.sc_status { return C.sc_durable_options_create(&out, e) }); err != nil {
		return nil, err
	}
	pipeline, err := newOptions(o.pipeline)
	if err == nil {
		err = call(func(e **C.char) C.sc_status {
			return C.sc_durable_options_set_pipeline(out, pipeline, e)
		})
		C.sc_options_destroy(pipeline)
	}
	if err == nil {
		err = call(func(e **C.char) C.sc_status {
			return C.sc_durable_options_set_sync(out, C.int32_t(o.policy), C.int32_t(o.intervalMs), e)
		})
	}
	if err == nil && o.checkpointAfter != nil {
		err = call(func(e **C.char) C.sc_status {
			return C.sc_durable_options_set_checkpoint_after_bytes(out, C.uint64_t(*o.checkpointAfter), e)
		})
	}
	if err == nil && o.salvage {
		err = call(func(e **C.char) C.sc_status { return C.sc_durable_options_set_salvage(out, 1, e) })
	}
	if err != nil {
		C.sc_durable_options_destroy(out)
		return nil, err
	}
	return out, nil
}

// OpenDurable opens (or creates) the durable pipeline of m in dir,
// recovering it. A directory open elsewhere or holding another machine's
// pipeline is a FailedPrecondition *Error; a damaged snapshot or journal, a
// DataLoss one naming the file and offset.
func OpenDurable(m *Machine, dir string, opts ...DurableOption) (*DurablePipeline, error) {
	o := durableOptions{policy: SyncEveryWrite, intervalMs: 1}
	for _, opt := range opts {
		opt(&o)
	}
	options, err := newDurableOptions(o)
	if err != nil {
		return nil, err
	}
	defer C.sc_durable_options_destroy(options)
	path, n := cBytes(dir)
	defer C.free(unsafe.Pointer(path))
	var out *C.sc_durable_t
	if err := onMachine(m, func(mp *C.sc_machine_t, e **C.char) C.sc_status {
		return C.sc_durable_open(&out, mp, path, n, options, e)
	}); err != nil {
		return nil, err
	}
	d := &DurablePipeline{ptr: out, machine: m}
	runtime.SetFinalizer(d, (*DurablePipeline).Close)
	return d, nil
}

// do runs one C call on the handle, counted as under way: Close from
// another goroutine meanwhile leaves the handle to the last call to end.
func (d *DurablePipeline) do(fn func(h *C.sc_durable_t, e **C.char) C.sc_status) error {
	d.mu.Lock()
	h := d.ptr
	if h == nil {
		d.mu.Unlock()
		return ErrClosed
	}
	d.calls++
	d.mu.Unlock()
	defer d.leave(h)
	err := call(func(e **C.char) C.sc_status { return fn(h, e) })
	if e, ok := err.(*Error); ok && e.Code == Aborted && d.machine.guards != nil {
		if cause := d.machine.takeCause(); cause != nil {
			return &CallbackError{Err: e, Cause: cause}
		}
	}
	return err
}

func (d *DurablePipeline) leave(h *C.sc_durable_t) {
	d.mu.Lock()
	d.calls--
	last := d.calls == 0 && d.ptr == nil
	d.mu.Unlock()
	if last {
		C.sc_durable_destroy(h)
	}
}

// Close syncs what was written and closes; later calls return ErrClosed.
// Calls under way on other goroutines (or the Read that runs this, from
// its callback) finish first: the last of them releases the handle.
// Idempotent.
func (d *DurablePipeline) Close() error {
	d.mu.Lock()
	h := d.ptr
	if h == nil {
		d.mu.Unlock()
		return nil
	}
	d.calls++ // the sync below
	d.mu.Unlock()
	err := call(func(e **C.char) C.sc_status { return C.sc_durable_sync(h, e) })
	d.mu.Lock()
	d.ptr = nil
	d.mu.Unlock()
	runtime.SetFinalizer(d, nil)
	d.leave(h)
	return err
}

// Machine is the machine the pipeline runs.
func (d *DurablePipeline) Machine() *Machine { return d.machine }

// Recovery says what OpenDurable found.
func (d *DurablePipeline) Recovery() (Recovery, error) {
	var snapshot, changes, dropped C.uint64_t
	var torn, salvaged C.uint8_t
	var data *C.char
	var n C.size_t
	err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		if s := C.sc_durable_recovery(&snapshot, &changes, &dropped, &torn, &salvaged, h, e); s != C.SC_OK {
			return s
		}
		return C.sc_durable_recovery_message(&data, &n, h, e)
	})
	if err != nil {
		return Recovery{}, err
	}
	return Recovery{Snapshot: uint64(snapshot), Changes: uint64(changes),
		BytesDropped: uint64(dropped), TornTail: torn != 0, Salvaged: salvaged != 0,
		StoppedAt: C.GoStringN(data, C.int(n))}, nil
}

func (d *DurablePipeline) entry(stage string) (C.uint32_t, error) {
	if stage == "" {
		return C.SC_NONE, nil
	}
	id, err := d.machine.StageID(stage)
	return C.uint32_t(id), err
}

// Add adds a deal entered at time in stage ("": the initial stage); see
// Pipeline.AddInStage.
func (d *DurablePipeline) Add(stage string, time int64) (uint32, error) {
	s, err := d.entry(stage)
	if err != nil {
		return 0, err
	}
	var out C.uint32_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_add(&out, h, s, C.int64_t(time), e)
	})
	return uint32(out), err
}

// AddWithID adds a deal known by id; see Add.
func (d *DurablePipeline) AddWithID(id uint64, stage string, time int64) (uint32, error) {
	s, err := d.entry(stage)
	if err != nil {
		return 0, err
	}
	var out C.uint32_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_add_with_id(&out, h, C.uint64_t(id), s, C.int64_t(time), e)
	})
	return uint32(out), err
}

// AddWithKey adds a deal known by key; see Add.
func (d *DurablePipeline) AddWithKey(key, stage string, time int64) (uint32, error) {
	s, err := d.entry(stage)
	if err != nil {
		return 0, err
	}
	data, n := cBytes(key)
	defer C.free(unsafe.Pointer(data))
	var out C.uint32_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_add_with_key(&out, h, data, n, s, C.int64_t(time), e)
	})
	return uint32(out), err
}

// Remove removes a live deal.
func (d *DurablePipeline) Remove(deal uint32) error {
	return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_remove(h, C.uint32_t(deal), e)
	})
}

// Set sets an attribute, as Pipeline.Set.
func (d *DurablePipeline) Set(deal uint32, attribute string, value interface{}) error {
	id, err := d.machine.AttributeID(attribute)
	if err != nil {
		return err
	}
	t := d.machine.types[id]
	v, err := checkValue(attribute, t, value)
	if err != nil {
		return err
	}
	dl, a := C.uint32_t(deal), C.uint32_t(id)
	switch t {
	case Int64Attribute:
		return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
			return C.sc_durable_set_int64(h, dl, a, C.int64_t(v.i), e)
		})
	case DoubleAttribute:
		return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
			return C.sc_durable_set_double(h, dl, a, C.double(v.f), e)
		})
	case BoolAttribute:
		return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
			return C.sc_durable_set_bool(h, dl, a, v.b, e)
		})
	}
	data, n := cBytes(v.s)
	defer C.free(unsafe.Pointer(data))
	return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_set_string(h, dl, a, data, n, e)
	})
}

// Fire fires an event by name, as Pipeline.Fire.
func (d *DurablePipeline) Fire(deal uint32, event string, time int64) (Outcome, error) {
	ev, err := d.machine.EventID(event)
	if err != nil {
		return 0, err
	}
	var out C.int32_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_fire(&out, h, C.uint32_t(deal), C.uint32_t(ev), C.int64_t(time), e)
	})
	return Outcome(out), err
}

// MoveTo moves a deal by stage name, as Pipeline.MoveTo.
func (d *DurablePipeline) MoveTo(deal uint32, stage string, time int64) (Outcome, error) {
	s, err := d.machine.StageID(stage)
	if err != nil {
		return 0, err
	}
	var out C.int32_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_move_to(&out, h, C.uint32_t(deal), C.uint32_t(s), C.int64_t(time), e)
	})
	return Outcome(out), err
}

// Reopen reopens a closed deal, as Pipeline.Reopen.
func (d *DurablePipeline) Reopen(deal uint32, time int64) (Outcome, error) {
	var out C.int32_t
	err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_reopen(&out, h, C.uint32_t(deal), C.int64_t(time), e)
	})
	return Outcome(out), err
}

func flag(b bool) C.uint8_t {
	if b {
		return 1
	}
	return 0
}

// Apply applies a batch as one journal record, all or nothing; timed fires
// the timeouts due between records (as Pipeline.ApplyTimed in C++).
func (d *DurablePipeline) Apply(records []EventRecord, timed bool) (accepted, rejected uint64, err error) {
	var ptr *C.sc_event_record
	if len(records) > 0 {
		ptr = (*C.sc_event_record)(unsafe.Pointer(&records[0]))
	}
	var a, r C.uint64_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_apply(&a, &r, h, ptr, C.size_t(len(records)), flag(timed), e)
	})
	runtime.KeepAlive(records)
	return uint64(a), uint64(r), err
}

// ApplyMoves applies moves by stage as one journal record; see Apply.
func (d *DurablePipeline) ApplyMoves(records []StageRecord, timed bool) (accepted, rejected uint64, err error) {
	var ptr *C.sc_stage_record
	if len(records) > 0 {
		ptr = (*C.sc_stage_record)(unsafe.Pointer(&records[0]))
	}
	var a, r C.uint64_t
	err = d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_apply_moves(&a, &r, h, ptr, C.size_t(len(records)), flag(timed), e)
	})
	runtime.KeepAlive(records)
	return uint64(a), uint64(r), err
}

// AdvanceTo fires every timeout due at or before now; returns how many.
func (d *DurablePipeline) AdvanceTo(now int64) (uint64, error) {
	var out C.uint64_t
	err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.sc_durable_advance_to(&out, h, C.int64_t(now), e)
	})
	return uint64(out), err
}

// Sync syncs everything written so far.
func (d *DurablePipeline) Sync() error {
	return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status { return C.sc_durable_sync(h, e) })
}

// Checkpoint writes a new snapshot atomically and starts a new journal.
func (d *DurablePipeline) Checkpoint() error {
	return d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status { return C.sc_durable_checkpoint(h, e) })
}

// Read calls fn with a read-only view of the pipeline while no change is
// applied, and returns what fn returns. Every read of Pipeline works on the
// view until fn returns (after that it is closed); a change through it is a
// FailedPrecondition *Error, as is a call of this DurablePipeline from fn. A
// panic in fn is returned as a *CallbackError.
func (d *DurablePipeline) Read(fn func(p *Pipeline) error) error {
	state := &readState{fn: fn, machine: d.machine}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	if err := d.do(func(h *C.sc_durable_t, e **C.char) C.sc_status {
		return C.go_durable_read(h, C.uintptr_t(handle), e)
	}); err != nil {
		return err
	}
	if state.cause != nil {
		return &CallbackError{Err: &Error{Code: Aborted, Message: "DurablePipeline.Read: fn panicked"}, Cause: state.cause}
	}
	return state.err
}
