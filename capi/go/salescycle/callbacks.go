package salescycle

// The Go functions the C library calls back. (A file with //export may only
// declare in its preamble, so registering them happens in stepping.go.)

// #include "salescycle/c.h"
import "C"

import (
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// callbackState holds what an observer of one handle panicked with, until
// the call that ran it returns.
type callbackState struct {
	cause interface{}
	// Observers of the handle running now, and the OS thread they run on
	// (the thread of the call that runs them): stepper.lock lets a call
	// from there through. Atomic: other goroutines read them.
	running atomic.Int32
	thread  atomic.Int64
}

type observer struct {
	onTransition, onRejection func(Step)
	state                     *callbackState
}

//export scGoObserver
func scGoObserver(userData unsafe.Pointer, deal, from, to, event C.uint32_t,
	time C.int64_t, outcome C.int32_t) C.int32_t {
	o := cgo.Handle(uintptr(userData)).Value().(*observer)
	fn := o.onTransition
	if outcome != C.SC_OUTCOME_MOVED {
		fn = o.onRejection
	}
	return o.state.run(func() {
		fn(Step{Deal: uint32(deal), From: uint32(from), To: uint32(to),
			Event: uint32(event), Time: int64(time), Outcome: Outcome(outcome)})
	})
}

// run calls an observer of the handle: marked running on this OS thread (so
// that its reads of the handle go through stepper.lock), and a panic kept
// for the call that ran it, the library told by a non-zero return.
func (s *callbackState) run(fn func()) (rc C.int32_t) {
	s.thread.Store(int64(syscall.Gettid()))
	s.running.Add(1)
	defer func() {
		s.running.Add(-1)
		if r := recover(); r != nil {
			if s.cause == nil {
				s.cause = r
			}
			rc = 1
		}
	}()
	fn()
	return 0
}

// NamedGuard decides whether a transition may fire for a deal. It may be
// called from several goroutines at once. A guard that returns an error or
// panics counts as not holding, and the call that stepped the deal returns a
// *CallbackError.
type NamedGuard func(deal DealView) (bool, error)

type guard struct {
	fn      NamedGuard
	machine *Machine // set once the machine is compiled
	mu      sync.Mutex
	cause   interface{}
}

// DealView is what a named guard reads of the deal it decides on; valid
// only during the guard call. Unset attributes read as their defaults.
type DealView struct {
	view    *C.sc_deal_view_t
	machine *Machine
}

//export scGoGuard
func scGoGuard(userData unsafe.Pointer, view *C.sc_deal_view_t, out *C.uint8_t) (rc C.int32_t) {
	g := cgo.Handle(uintptr(userData)).Value().(*guard)
	fail := func(cause interface{}) {
		g.mu.Lock()
		if g.cause == nil {
			g.cause = cause
		}
		g.mu.Unlock()
		rc = 1
	}
	defer func() {
		if r := recover(); r != nil {
			fail(r)
		}
	}()
	holds, err := g.fn(DealView{view: view, machine: g.machine})
	if err != nil {
		fail(err)
		return rc
	}
	*out = 0
	if holds {
		*out = 1
	}
	return 0
}

// takeCause returns and clears what a guard of m failed with, if any.
func (m *Machine) takeCause() interface{} {
	for _, h := range m.guards.handles {
		g := h.Value().(*guard)
		g.mu.Lock()
		cause := g.cause
		g.cause = nil
		g.mu.Unlock()
		if cause != nil {
			return cause
		}
	}
	return nil
}

// read makes one sc_deal_view_* call with the attribute's id.
func (v DealView) read(name string, get func(a C.uint32_t, e **C.char) C.sc_status) error {
	id, err := v.machine.AttributeID(name)
	if err != nil {
		return err
	}
	return call(func(e **C.char) C.sc_status { return get(C.uint32_t(id), e) })
}

// IsSet reports whether the attribute was ever set.
func (v DealView) IsSet(name string) (bool, error) {
	var out C.uint8_t
	err := v.read(name, func(a C.uint32_t, e **C.char) C.sc_status { return C.sc_deal_view_is_set(&out, v.view, a, e) })
	return out != 0, err
}

// Int64 reads an int64 attribute.
func (v DealView) Int64(name string) (int64, error) {
	var out C.int64_t
	err := v.read(name, func(a C.uint32_t, e **C.char) C.sc_status { return C.sc_deal_view_get_int64(&out, v.view, a, e) })
	return int64(out), err
}

// Float64 reads a double attribute.
func (v DealView) Float64(name string) (float64, error) {
	var out C.double
	err := v.read(name, func(a C.uint32_t, e **C.char) C.sc_status { return C.sc_deal_view_get_double(&out, v.view, a, e) })
	return float64(out), err
}

// Bool reads a bool attribute.
func (v DealView) Bool(name string) (bool, error) {
	var out C.uint8_t
	err := v.read(name, func(a C.uint32_t, e **C.char) C.sc_status { return C.sc_deal_view_get_bool(&out, v.view, a, e) })
	return out != 0, err
}

// String reads a string attribute.
func (v DealView) String(name string) (string, error) {
	var data *C.char
	var n C.size_t
	err := v.read(name, func(a C.uint32_t, e **C.char) C.sc_status {
		return C.sc_deal_view_get_string(&data, &n, v.view, a, e)
	})
	if err != nil {
		return "", err
	}
	return C.GoStringN(data, C.int(n)), nil
}

// readState is what one DurablePipeline.Read hands its C callback: the
// function to call with the lent view, and what it returned or panicked.
type readState struct {
	fn      func(*Pipeline) error
	machine *Machine
	err     error
	cause   interface{}
}

//export scGoRead
func scGoRead(view *C.sc_pipeline_t, userData unsafe.Pointer) {
	r := cgo.Handle(uintptr(userData)).Value().(*readState)
	// The view is the library's, lent for this call: never destroyed here
	// (no finalizer; lent marks it), and closed when the call returns.
	p := &Pipeline{stepper{ptr: unsafe.Pointer(view), machine: r.machine, lent: true}}
	defer func() {
		p.ptr = nil
		if c := recover(); c != nil {
			r.cause = c
		}
	}()
	r.err = r.fn(p)
}

type changeObserver struct {
	fn    func(Change)
	state *callbackState
}

//export scGoChange
func scGoChange(userData unsafe.Pointer, kind C.int32_t, deal, id C.uint32_t, time C.int64_t) C.int32_t {
	o := cgo.Handle(uintptr(userData)).Value().(*changeObserver)
	return o.state.run(func() {
		o.fn(Change{Kind: ChangeKind(kind), Deal: uint32(deal), ID: uint32(id), Time: int64(time)})
	})
}
