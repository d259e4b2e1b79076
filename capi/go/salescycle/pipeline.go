package salescycle

/*
#include <stdint.h>
#include <stdlib.h>
#include "salescycle/c.h"

extern int32_t scGoChange(void*, int32_t, uint32_t, uint32_t, int64_t);

// The observer's user data is a cgo.Handle, converted here so that Go never
// turns an integer into a pointer.
static sc_status go_add_change_observer(uint64_t* token, sc_pipeline_t* p,
                                        uintptr_t handle, char** e) {
  return sc_pipeline_add_change_observer(token, p, (sc_change_fn)scGoChange,
                                         (void*)handle, e);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Option configures a pipeline or journey.
type Option func(*containerOptions)

type containerOptions struct {
	historyLimit  uint32
	expectedDeals uint64
	analytics     bool
	cohort        Cohort
}

// Cohort groups a funnel's figures by when deals were added (UTC).
type Cohort int32

const (
	NoCohort      Cohort = 0
	WeekCohort    Cohort = 1
	MonthCohort   Cohort = 2
	QuarterCohort Cohort = 3 // the calendar quarter: "2026-Q1"
)

// Analytics keeps the funnel's counters online (see Pipeline.Funnel),
// grouped by cohort too unless it is NoCohort. Pipelines only.
func Analytics(cohort Cohort) Option {
	return func(o *containerOptions) { o.analytics, o.cohort = true, cohort }
}

// HistoryLimit keeps the last n steps of each deal (at most 65536).
func HistoryLimit(n uint32) Option { return func(o *containerOptions) { o.historyLimit = n } }

// ExpectedDeals reserves room for n deals up front (pipelines only).
func ExpectedDeals(n uint64) Option { return func(o *containerOptions) { o.expectedDeals = n } }

func newOptions(opts []Option) (*C.sc_options_t, error) {
	var o containerOptions
	for _, opt := range opts {
		opt(&o)
	}
	options := C.sc_options_create()
	if options == nil {
		return nil, &Error{Code: ResourceExhausted, Message: "sc_options_create"}
	}
	err := call(func(e **C.char) C.sc_status {
		return C.sc_options_set_history_limit(options, C.uint32_t(o.historyLimit), e)
	})
	if err == nil {
		err = call(func(e **C.char) C.sc_status {
			return C.sc_options_set_expected_deals(options, C.uint64_t(o.expectedDeals), e)
		})
	}
	if err == nil && o.analytics {
		err = call(func(e **C.char) C.sc_status {
			return C.sc_options_set_analytics(options, 1, C.int32_t(o.cohort), e)
		})
	}
	if err != nil {
		C.sc_options_destroy(options)
		return nil, err
	}
	return options, nil
}

// Pipeline holds many deals of one machine, addressed by a dense index and
// optionally by an external id or key. Not safe for concurrent use.
type Pipeline struct {
	stepper
}

func adoptPipeline(ptr *C.sc_pipeline_t, m *Machine) *Pipeline {
	p := &Pipeline{stepper{ptr: unsafe.Pointer(ptr), journey: 0, machine: m}}
	runtime.SetFinalizer(p, (*Pipeline).Close)
	return p
}

// NewPipeline creates an empty pipeline of m.
func NewPipeline(m *Machine, opts ...Option) (*Pipeline, error) {
	options, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	defer C.sc_options_destroy(options)
	var out *C.sc_pipeline_t
	if err := onMachine(m, func(mp *C.sc_machine_t, e **C.char) C.sc_status {
		return C.sc_pipeline_create(&out, mp, options, e)
	}); err != nil {
		return nil, err
	}
	return adoptPipeline(out, m), nil
}

// LoadPipeline restores a pipeline snapshot onto m. Bad bytes are a DataLoss
// *Error; a snapshot of another machine or version, FailedPrecondition.
func LoadPipeline(m *Machine, data []byte, opts ...LoadOption) (*Pipeline, error) {
	ptr, n := bytesArg(data)
	var out *C.sc_pipeline_t
	if err := loadOnMachine(m, opts, func(mp *C.sc_machine_t, l *C.sc_limits_t, e **C.char) C.sc_status {
		return C.sc_pipeline_load_with_limits(&out, mp, ptr, n, l, e)
	}); err != nil {
		return nil, err
	}
	return adoptPipeline(out, m), nil
}

// LoadPipelineFile restores a pipeline snapshot file onto m.
func LoadPipelineFile(m *Machine, path string, opts ...LoadOption) (*Pipeline, error) {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	var out *C.sc_pipeline_t
	if err := loadOnMachine(m, opts, func(mp *C.sc_machine_t, l *C.sc_limits_t, e **C.char) C.sc_status {
		return C.sc_pipeline_load_file_with_limits(&out, mp, p, l, e)
	}); err != nil {
		return nil, err
	}
	return adoptPipeline(out, m), nil
}

// Close destroys the pipeline. Idempotent. From one of the pipeline's own
// observers it returns a FailedPrecondition *Error and leaves it open.
func (p *Pipeline) Close() error {
	// Waits for a call under way on another goroutine (an observer's
	// Close, inside the call, is refused by closable).
	defer p.lock()()
	if err := p.closable(); err != nil {
		return err
	}
	if p.lent {
		return &Error{Code: FailedPrecondition, Message: "Close of the pipeline a DurablePipeline.Read lends: it ends with the read"}
	}
	if p.ptr != nil {
		C.sc_pipeline_destroy((*C.sc_pipeline_t)(p.ptr))
		p.release()
		runtime.SetFinalizer(p, nil)
	}
	return nil
}

func (p *Pipeline) c(h unsafe.Pointer) *C.sc_pipeline_t { return (*C.sc_pipeline_t)(h) }

func (p *Pipeline) addWith(add func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status) (uint32, error) {
	var out C.uint32_t
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return add(p.c(h), &out, e) })
	return uint32(out), err
}

// Add adds a deal in the initial stage, entered at time, and returns its
// index.
func (p *Pipeline) Add(time int64) (uint32, error) {
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add(out, h, C.int64_t(time), e)
	})
}

// entryStage is the id of an entry stage named by the caller; "" is the
// initial stage (None).
func (p *Pipeline) entryStage(stage string) (uint32, error) {
	if stage == "" {
		return None, nil
	}
	return p.machine.StageID(stage)
}

// AddInStage adds a deal created in stage, one of the machine's entry
// stages ("": the initial stage): its creation is its entry into that stage
// and no stage before it. A stage that is not an entry stage is an
// InvalidArgument *Error.
func (p *Pipeline) AddInStage(stage string, time int64) (uint32, error) {
	s, err := p.entryStage(stage)
	if err != nil {
		return 0, err
	}
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add_in_stage(out, h, C.uint32_t(s), C.int64_t(time), e)
	})
}

// AddWithIDInStage and AddWithKeyInStage are AddWithID and AddWithKey in
// an entry stage.
func (p *Pipeline) AddWithIDInStage(id uint64, stage string, time int64) (uint32, error) {
	s, err := p.entryStage(stage)
	if err != nil {
		return 0, err
	}
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add_with_id_in_stage(out, h, C.uint64_t(id), C.uint32_t(s), C.int64_t(time), e)
	})
}

func (p *Pipeline) AddWithKeyInStage(key, stage string, time int64) (uint32, error) {
	s, err := p.entryStage(stage)
	if err != nil {
		return 0, err
	}
	data, n := cBytes(key)
	defer C.free(unsafe.Pointer(data))
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add_with_key_in_stage(out, h, data, n, C.uint32_t(s), C.int64_t(time), e)
	})
}

// AddWithID adds a deal known by an external id; an id in use is an
// AlreadyExists *Error.
func (p *Pipeline) AddWithID(id uint64, time int64) (uint32, error) {
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add_with_id(out, h, C.uint64_t(id), C.int64_t(time), e)
	})
}

// AddWithKey adds a deal known by an external key.
func (p *Pipeline) AddWithKey(key string, time int64) (uint32, error) {
	data, n := cBytes(key)
	defer C.free(unsafe.Pointer(data))
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_add_with_key(out, h, data, n, C.int64_t(time), e)
	})
}

// FindByID and FindByKey return a deal's index; NotFound if there is none.
func (p *Pipeline) FindByID(id uint64) (uint32, error) {
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_find_by_id(out, h, C.uint64_t(id), e)
	})
}

func (p *Pipeline) FindByKey(key string) (uint32, error) {
	data, n := cBytes(key)
	defer C.free(unsafe.Pointer(data))
	return p.addWith(func(h *C.sc_pipeline_t, out *C.uint32_t, e **C.char) C.sc_status {
		return C.sc_pipeline_find_by_key(out, h, data, n, e)
	})
}

// Remove removes a live deal.
func (p *Pipeline) Remove(deal uint32) error {
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_remove(p.c(h), C.uint32_t(deal), e)
	})
}

// Len is the number of live deals (0 once closed).
func (p *Pipeline) Len() int {
	var out C.uint64_t
	if p.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.sc_pipeline_size(&out, p.c(h), e) }) != nil {
		return 0
	}
	return int(out)
}

// Stage returns a deal's stage and the time it entered it.
func (p *Pipeline) Stage(deal uint32) (stage uint32, enteredAt int64, err error) {
	var s C.uint32_t
	var t C.int64_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_deal_stage(&s, &t, p.c(h), C.uint32_t(deal), e)
	})
	return uint32(s), int64(t), err
}

// Set sets an attribute by name: an int64 (or int), float64, bool or
// string, as the attribute is declared.
func (p *Pipeline) Set(deal uint32, attribute string, value interface{}) error {
	return p.set(deal, attribute, value)
}

// Get reads an attribute by name (its default when unset) as an int64,
// float64, bool or string.
func (p *Pipeline) Get(deal uint32, attribute string) (interface{}, error) {
	return p.get(deal, attribute)
}

// IsSet reports whether a deal's attribute was ever set.
func (p *Pipeline) IsSet(deal uint32, attribute string) (bool, error) {
	return p.isSet(deal, attribute)
}

// Fire fires an event by name. A rejection is an Outcome, not an error.
func (p *Pipeline) Fire(deal uint32, event string, time int64) (Outcome, error) {
	return p.fire(deal, event, time)
}

// FireID fires an event by id.
func (p *Pipeline) FireID(deal, event uint32, time int64) (Outcome, error) {
	return p.fireID(deal, event, time)
}

// MoveTo moves a deal to a stage by stage: the first declared transition
// between its stage and that one whose guard holds. Its own stage records
// an activity (Outcome Activity), never a move; with no declared
// transition, the stage a deal in a reopenable closed stage was closed
// from reopens it. A rejection is an Outcome.
func (p *Pipeline) MoveTo(deal uint32, stage string, time int64) (Outcome, error) {
	return p.moveTo(deal, stage, time)
}

// MoveToID moves by stage id.
func (p *Pipeline) MoveToID(deal, stage uint32, time int64) (Outcome, error) {
	return p.moveToID(deal, stage, time)
}

// Reopen moves a deal in a reopenable closed stage back into the stage it
// was closed from, in the same cycle; otherwise the Outcome is
// NotReopenable.
func (p *Pipeline) Reopen(deal uint32, time int64) (Outcome, error) { return p.reopen(deal, time) }

// Lifecycle returns what the deal keeps beyond its stage.
func (p *Pipeline) Lifecycle(deal uint32) (Lifecycle, error) { return p.lifecycle(deal) }

// LossReason is the reason recorded when the deal entered the LOST stage it
// is in ("" when none).
func (p *Pipeline) LossReason(deal uint32) (string, error) { return p.lossReason(deal) }

// ApplyMoves applies moves by stage in order, as Apply applies events, and
// returns how many were accepted (moves and updates) and rejected.
func (p *Pipeline) ApplyMoves(records []StageRecord) (accepted, rejected uint64, err error) {
	var ptr *C.sc_stage_record
	if len(records) > 0 {
		ptr = (*C.sc_stage_record)(unsafe.Pointer(&records[0]))
	}
	var a, r C.uint64_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply_moves(&a, &r, p.c(h), ptr, C.size_t(len(records)), e)
	})
	return uint64(a), uint64(r), err
}

// Apply applies the records in order, in one C call and without a copy,
// and returns how many were accepted and rejected. A record with a deal
// index past the pipeline's slots or an unknown event fails the whole batch
// (an InvalidArgument *Error) and nothing is applied.
func (p *Pipeline) Apply(records []EventRecord) (accepted, rejected uint64, err error) {
	var ptr *C.sc_event_record
	if len(records) > 0 {
		ptr = (*C.sc_event_record)(unsafe.Pointer(&records[0]))
	}
	var a, r C.uint64_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply(&a, &r, p.c(h), ptr, C.size_t(len(records)), e)
	})
	return uint64(a), uint64(r), err
}

// ApplyParallel is Apply split across up to `threads` (1 to 64) threads by
// deal, with exactly Apply's result. It returns the threads that ran: fewer
// where more do not pay (a small batch or pipeline), and one where the
// result could differ (named guards, observers, history, analytics).
func (p *Pipeline) ApplyParallel(records []EventRecord, threads int) (accepted, rejected uint64, ran int, err error) {
	if threads < 1 || threads > 64 {
		return 0, 0, 0, &Error{Code: InvalidArgument,
			Message: fmt.Sprintf("ApplyParallel: threads is %d; it must be 1 to 64", threads)}
	}
	var ptr *C.sc_event_record
	if len(records) > 0 {
		ptr = (*C.sc_event_record)(unsafe.Pointer(&records[0]))
	}
	var a, r C.uint64_t
	var t C.uint32_t
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_apply_parallel(&a, &r, &t, p.c(h), ptr, C.size_t(len(records)), C.uint32_t(threads), e)
	})
	return uint64(a), uint64(r), int(t), err
}

// StageCounts returns the live deals per stage, in stage id order.
func (p *Pipeline) StageCounts() ([]uint64, error) {
	counts := make([]uint64, len(p.machine.stages))
	if len(counts) == 0 {
		return counts, nil
	}
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_stage_counts((*C.uint64_t)(unsafe.Pointer(&counts[0])), C.size_t(len(counts)), p.c(h), e)
	})
	return counts, err
}

// DealsInStage returns the live deals in stage, in index order, in one C
// call (a slice, not a call a deal).
func (p *Pipeline) DealsInStage(stage string) ([]uint32, error) {
	s, err := p.machine.StageID(stage)
	if err != nil {
		return nil, err
	}
	var deals []uint32
	// The count, then the deals, under one lock: no change in between.
	err = p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		var n C.size_t
		if st := C.sc_pipeline_deals_in_stage(nil, 0, &n, p.c(h), C.uint32_t(s), e); st != C.SC_OK || n == 0 {
			deals = []uint32{}
			return st
		}
		deals = make([]uint32, int(n))
		return C.sc_pipeline_deals_in_stage((*C.uint32_t)(unsafe.Pointer(&deals[0])), n, &n, p.c(h), C.uint32_t(s), e)
	})
	return deals, err
}

// column fills one value a slot with fill(first element, slots), the slot
// count read in the same call.
func column[T any](p *Pipeline, fill func(h *C.sc_pipeline_t, out *T, n C.size_t, e **C.char) C.sc_status) ([]T, error) {
	var out []T
	err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		var n C.uint64_t
		if st := C.sc_pipeline_slot_count(&n, p.c(h), e); st != C.SC_OK || n == 0 {
			out = []T{}
			return st
		}
		out = make([]T, int(n))
		return fill(p.c(h), &out[0], C.size_t(n), e)
	})
	return out, err
}

// StageColumn returns every slot's stage id, indexed by deal (NoID for a
// removed slot).
func (p *Pipeline) StageColumn() ([]uint32, error) {
	return column(p, func(h *C.sc_pipeline_t, out *uint32, n C.size_t, e **C.char) C.sc_status {
		return C.sc_pipeline_stage_column((*C.uint32_t)(unsafe.Pointer(out)), n, h, e)
	})
}

// EnteredAtColumn returns the time every deal entered its stage, indexed by
// deal (0 for a removed slot).
func (p *Pipeline) EnteredAtColumn() ([]int64, error) {
	return column(p, func(h *C.sc_pipeline_t, out *int64, n C.size_t, e **C.char) C.sc_status {
		return C.sc_pipeline_entered_at_column((*C.int64_t)(unsafe.Pointer(out)), n, h, e)
	})
}

// IDColumn returns every deal's external id and whether it has one, indexed
// by deal.
func (p *Pipeline) IDColumn() (ids []uint64, hasID []bool, err error) {
	var has []uint8
	ids, err = column(p, func(h *C.sc_pipeline_t, out *uint64, n C.size_t, e **C.char) C.sc_status {
		has = make([]uint8, int(n))
		return C.sc_pipeline_id_column((*C.uint64_t)(unsafe.Pointer(out)),
			(*C.uint8_t)(unsafe.Pointer(&has[0])), n, h, e)
	})
	hasID = make([]bool, len(has))
	for i, b := range has {
		hasID[i] = b != 0
	}
	return ids, hasID, err
}

// Save returns the pipeline as a snapshot.
func (p *Pipeline) Save() ([]byte, error) {
	var data *C.uint8_t
	var n C.size_t
	if err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_save(&data, &n, p.c(h), e)
	}); err != nil {
		return nil, err
	}
	return takeBytes(unsafe.Pointer(data), n), nil
}

// SaveFile writes a snapshot to a temporary file and renames it over path:
// a failed save leaves the previous file intact.
func (p *Pipeline) SaveFile(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return p.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.sc_pipeline_save_file(p.c(h), cp, e) })
}

// FunnelFormat is the form of a funnel report.
type FunnelFormat int32

const (
	FunnelTable FunnelFormat = 0 // a readable table
	FunnelJSON  FunnelFormat = 1 // salescycle.v1.FunnelReport as JSON
	FunnelCSV   FunnelFormat = 2 // a row a stage (and cohort)
	FunnelSVG   FunnelFormat = 3 // the funnel chart
	FunnelProto FunnelFormat = 4 // salescycle.v1.FunnelReport, serialized
	// The table with its reached and to-next columns in order.
	FunnelTableInOrder FunnelFormat = 5
)

// FunnelOptions says what a funnel report or state covers (funnel.h's
// FunnelOptions). Times are Unix seconds; nil leaves one unset. The
// windows' bounds must start periods of the pipeline's cohort kind.
type FunnelOptions struct {
	Value       string // the deal value attribute; "" for none
	By          string // break the live deals down by this attribute
	Now         *int64 // when stalled deals are judged (default: the latest event)
	ClosedFrom  *int64 // the closes of [ClosedFrom, ClosedTo)
	ClosedTo    *int64
	CreatedFrom *int64 // the deals added in [CreatedFrom, CreatedTo)
	CreatedTo   *int64
}

// cOptions is o as sc_funnel_options; free releases its strings.
func (o FunnelOptions) cOptions() (opts C.sc_funnel_options, free func()) {
	opts.struct_size = C.size_t(unsafe.Sizeof(opts))
	var strs []*C.char
	if o.Value != "" {
		opts.value_attribute = C.CString(o.Value)
		strs = append(strs, opts.value_attribute)
	}
	if o.By != "" {
		opts.breakdown_attribute = C.CString(o.By)
		strs = append(strs, opts.breakdown_attribute)
	}
	set := func(t *int64, has *C.uint8_t, at *C.int64_t) {
		if t != nil {
			*has, *at = 1, C.int64_t(*t)
		}
	}
	set(o.Now, &opts.has_now, &opts.now)
	set(o.ClosedFrom, &opts.has_closed_from, &opts.closed_from)
	set(o.ClosedTo, &opts.has_closed_to, &opts.closed_to)
	set(o.CreatedFrom, &opts.has_created_from, &opts.created_from)
	set(o.CreatedTo, &opts.has_created_to, &opts.created_to)
	return opts, func() {
		for _, s := range strs {
			C.free(unsafe.Pointer(s))
		}
	}
}

// FunnelWith reports the funnel with every option (see Funnel).
func (p *Pipeline) FunnelWith(format FunnelFormat, o FunnelOptions) ([]byte, error) {
	opts, free := o.cOptions()
	defer free()
	var data *C.uint8_t
	var n C.size_t
	if err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_pipeline_funnel_with(&data, &n, p.c(h), C.int32_t(format), &opts, e)
	}); err != nil {
		return nil, err
	}
	return takeBytes(unsafe.Pointer(data), n), nil
}

// Funnel reports the funnel (include/salescycle/funnel.h defines every
// figure). value names the deal value attribute ("" for none); now, when
// not nil, is when stalled deals are judged (default: the latest event).
// A pipeline with neither analytics nor history is a FailedPrecondition
// *Error.
func (p *Pipeline) Funnel(format FunnelFormat, value string, now *int64) ([]byte, error) {
	return p.FunnelWith(format, FunnelOptions{Value: value, Now: now})
}

// ChangeKind says what a Change is.
type ChangeKind int32

const (
	ChangeAdd    ChangeKind = C.SC_CHANGE_ADD
	ChangeRemove ChangeKind = C.SC_CHANGE_REMOVE
	ChangeSet    ChangeKind = C.SC_CHANGE_SET
)

// Change is a change of a pipeline that is not a step: an add (ID: the
// stage the deal was added in, Time: when), a removal (ID: NoID), or an
// attribute set (ID: the attribute; read the value with Get).
type Change struct {
	Kind ChangeKind
	Deal uint32
	ID   uint32
	Time int64
}

// NoID is a Change's ID when there is none (a removal).
const NoID = uint32(C.SC_NONE)

// AddChangeObserver calls onChange after every add, removal and attribute
// set, on the goroutine that made it, so that a host can keep its own log or
// index. It may read the pipeline, not change it; a panic does not undo the
// change: the call returns a *CallbackError. RemoveObserver removes it by
// the token returned.
func (p *Pipeline) AddChangeObserver(onChange func(Change)) (uint64, error) {
	defer p.lock()()
	if onChange == nil {
		return 0, &Error{Code: InvalidArgument, Message: "AddChangeObserver: onChange is nil"}
	}
	h := cgo.NewHandle(&changeObserver{fn: onChange, state: &p.state})
	var token C.uint64_t
	err := p.doLocked(func(ptr unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_add_change_observer(&token, p.c(ptr), C.uintptr_t(h), e)
	})
	if err != nil {
		h.Delete()
		return 0, err
	}
	if p.observers == nil {
		p.observers = map[uint64]cgo.Handle{}
	}
	p.observers[uint64(token)] = h
	return uint64(token), nil
}
