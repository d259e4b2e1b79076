package salescycle

/*
#include <stdint.h>
#include <stdlib.h>
#include "salescycle/c.h"

extern int32_t scGoObserver(void*, uint32_t, uint32_t, uint32_t, uint32_t,
                            int64_t, int32_t);

// One Go implementation serves pipelines and journeys: these pick the C
// function by kind (j: 0 for a pipeline, whose calls take a deal index, 1
// for a journey, whose calls do not).
static sc_status go_set_int64(int j, void* h, uint32_t d, uint32_t a,
                              int64_t v, char** e) {
  return j ? sc_journey_set_int64(h, a, v, e) : sc_pipeline_set_int64(h, d, a, v, e);
}
static sc_status go_set_double(int j, void* h, uint32_t d, uint32_t a,
                               double v, char** e) {
  return j ? sc_journey_set_double(h, a, v, e) : sc_pipeline_set_double(h, d, a, v, e);
}
static sc_status go_set_bool(int j, void* h, uint32_t d, uint32_t a,
                             uint8_t v, char** e) {
  return j ? sc_journey_set_bool(h, a, v, e) : sc_pipeline_set_bool(h, d, a, v, e);
}
static sc_status go_set_string(int j, void* h, uint32_t d, uint32_t a,
                               const char* v, size_t n, char** e) {
  return j ? sc_journey_set_string(h, a, v, n, e)
           : sc_pipeline_set_string(h, d, a, v, n, e);
}
static sc_status go_get_int64(int j, int64_t* o, void* h, uint32_t d,
                              uint32_t a, char** e) {
  return j ? sc_journey_get_int64(o, h, a, e) : sc_pipeline_get_int64(o, h, d, a, e);
}
static sc_status go_get_double(int j, double* o, void* h, uint32_t d,
                               uint32_t a, char** e) {
  return j ? sc_journey_get_double(o, h, a, e) : sc_pipeline_get_double(o, h, d, a, e);
}
static sc_status go_get_bool(int j, uint8_t* o, void* h, uint32_t d,
                             uint32_t a, char** e) {
  return j ? sc_journey_get_bool(o, h, a, e) : sc_pipeline_get_bool(o, h, d, a, e);
}
static sc_status go_get_string(int j, char** o, size_t* n, void* h,
                               uint32_t d, uint32_t a, char** e) {
  return j ? sc_journey_get_string(o, n, h, a, e)
           : sc_pipeline_get_string(o, n, h, d, a, e);
}
static sc_status go_is_set(int j, uint8_t* o, void* h, uint32_t d, uint32_t a,
                           char** e) {
  return j ? sc_journey_is_set(o, h, a, e) : sc_pipeline_is_set(o, h, d, a, e);
}
static sc_status go_fire(int j, int32_t* o, void* h, uint32_t d, uint32_t ev,
                         int64_t t, char** e) {
  return j ? sc_journey_fire(o, h, ev, t, e) : sc_pipeline_fire(o, h, d, ev, t, e);
}
static sc_status go_move_to(int j, int32_t* o, void* h, uint32_t d, uint32_t s,
                            int64_t t, char** e) {
  return j ? sc_journey_move_to(o, h, s, t, e) : sc_pipeline_move_to(o, h, d, s, t, e);
}
static sc_status go_move_to_by_name(int j, int32_t* o, void* h, uint32_t d,
                                    const char* s, size_t n, int64_t t, char** e) {
  return j ? sc_journey_move_to_by_name(o, h, s, n, t, e)
           : sc_pipeline_move_to_by_name(o, h, d, s, n, t, e);
}
static sc_status go_reopen(int j, int32_t* o, void* h, uint32_t d, int64_t t,
                           char** e) {
  return j ? sc_journey_reopen(o, h, t, e) : sc_pipeline_reopen(o, h, d, t, e);
}
static sc_status go_lifecycle(int j, int64_t* last, uint32_t* closed_from,
                              uint32_t* cycle, void* h, uint32_t d, char** e) {
  return j ? sc_journey_lifecycle(last, closed_from, cycle, h, e)
           : sc_pipeline_deal_lifecycle(last, closed_from, cycle, h, d, e);
}
static sc_status go_loss_reason(int j, char** o, size_t* n, void* h, uint32_t d,
                                char** e) {
  return j ? sc_journey_loss_reason(o, n, h, e) : sc_pipeline_loss_reason(o, n, h, d, e);
}
static sc_status go_advance_to(int j, uint64_t* o, void* h, int64_t now,
                               char** e) {
  return j ? sc_journey_advance_to(o, h, now, e) : sc_pipeline_advance_to(o, h, now, e);
}
// The observer's user data is a cgo.Handle, converted here so that Go never
// turns an integer into a pointer.
static sc_status go_add_observer(int j, uint64_t* token, void* h, int on_move,
                                 int on_reject, uintptr_t handle, char** e) {
  sc_observer_fn move = on_move ? (sc_observer_fn)scGoObserver : NULL;
  sc_observer_fn reject = on_reject ? (sc_observer_fn)scGoObserver : NULL;
  return j ? sc_journey_add_observer(token, h, move, reject, (void*)handle, e)
           : sc_pipeline_add_observer(token, h, move, reject, (void*)handle, e);
}
static sc_status go_remove_observer(int j, void* h, uint64_t token, char** e) {
  return j ? sc_journey_remove_observer(h, token, e)
           : sc_pipeline_remove_observer(h, token, e);
}
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync"
	"syscall"
	"unsafe"
)

// stepper is what Pipeline and Journey share.
type stepper struct {
	ptr       unsafe.Pointer // *C.sc_pipeline_t or *C.sc_journey_t; nil once closed
	journey   C.int
	machine   *Machine // keeps the named guards alive
	state     callbackState
	observers map[uint64]cgo.Handle
	lent      bool // a DurablePipeline's view: the library's to destroy
	mu        sync.Mutex
}

// lock takes the handle for one call and returns what releases it. A
// pipeline or journey is one writer at a time in C, and two goroutines
// calling one at once crashed the process, or a Close from another
// goroutine freed it under a call (issue 15): calls from other goroutines
// now wait their turn. A call from one of the handle's own observers runs
// inside the call that holds the lock, on its OS thread (a cgo callback and
// the calls it makes stay on the thread of the C call): it goes through, and
// the library lets it read and refuses changes. Uncontended, a TryLock.
func (s *stepper) lock() func() {
	if s.mu.TryLock() {
		return s.mu.Unlock
	}
	if s.state.running.Load() > 0 && s.state.thread.Load() == int64(syscall.Gettid()) {
		return func() {}
	}
	s.mu.Lock()
	return s.mu.Unlock
}

// do runs a call on the handle, turning a failed callback into a
// *CallbackError that carries what the callback panicked with or returned.
func (s *stepper) do(fn func(h unsafe.Pointer, e **C.char) C.sc_status) error {
	defer s.lock()()
	return s.doLocked(fn)
}

// doLocked is do, for a caller that holds the lock.
func (s *stepper) doLocked(fn func(h unsafe.Pointer, e **C.char) C.sc_status) error {
	if s.ptr == nil {
		return ErrClosed
	}
	s.state.cause = nil
	err := call(func(e **C.char) C.sc_status { return fn(s.ptr, e) })
	cause := s.state.cause
	s.state.cause = nil
	if cause == nil && s.machine.guards != nil {
		cause = s.machine.takeCause()
	}
	if e, ok := err.(*Error); ok && e.Code == Aborted && cause != nil {
		return &CallbackError{Err: e, Cause: cause}
	}
	return err
}

func (s *stepper) attribute(name string) (C.uint32_t, AttributeType, error) {
	id, err := s.machine.AttributeID(name)
	if err != nil {
		return 0, 0, err
	}
	return C.uint32_t(id), s.machine.types[id], nil
}

// attributeValue is a Go value checked against its attribute's type, in the
// form the C setters take.
type attributeValue struct {
	t AttributeType
	i int64
	f float64
	b C.uint8_t
	s string
}

func checkValue(name string, t AttributeType, value interface{}) (attributeValue, error) {
	v := attributeValue{t: t}
	wrong := &Error{Code: InvalidArgument, Message: fmt.Sprintf("attribute %q takes %s, not %T", name, [...]string{"int64", "float64", "string", "bool"}[t], value)}
	switch x := value.(type) {
	case int64, int, int32:
		if t != Int64Attribute {
			return v, wrong
		}
		v.i = toInt64(x)
	case float64, float32:
		if t != DoubleAttribute {
			return v, wrong
		}
		v.f = toFloat64(x)
	case bool:
		if t != BoolAttribute {
			return v, wrong
		}
		if x {
			v.b = 1
		}
	case string:
		if t != StringAttribute {
			return v, wrong
		}
		v.s = x
	default:
		return v, wrong
	}
	return v, nil
}

func (s *stepper) set(deal uint32, name string, value interface{}) error {
	a, t, err := s.attribute(name)
	if err != nil {
		return err
	}
	v, err := checkValue(name, t, value)
	if err != nil {
		return err
	}
	d := C.uint32_t(deal)
	switch t {
	case Int64Attribute:
		return s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
			return C.go_set_int64(s.journey, h, d, a, C.int64_t(v.i), e)
		})
	case DoubleAttribute:
		return s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
			return C.go_set_double(s.journey, h, d, a, C.double(v.f), e)
		})
	case BoolAttribute:
		return s.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.go_set_bool(s.journey, h, d, a, v.b, e) })
	}
	data, n := cBytes(v.s)
	defer C.free(unsafe.Pointer(data))
	return s.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.go_set_string(s.journey, h, d, a, data, n, e) })
}

func toInt64(v interface{}) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v.(int64)
}

func toFloat64(v interface{}) float64 {
	if x, ok := v.(float32); ok {
		return float64(x)
	}
	return v.(float64)
}

// get returns an int64, float64, bool or string, by the attribute's type.
func (s *stepper) get(deal uint32, name string) (interface{}, error) {
	a, t, err := s.attribute(name)
	if err != nil {
		return nil, err
	}
	d := C.uint32_t(deal)
	switch t {
	case Int64Attribute:
		var out C.int64_t
		err = s.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.go_get_int64(s.journey, &out, h, d, a, e) })
		return int64(out), err
	case DoubleAttribute:
		var out C.double
		err = s.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.go_get_double(s.journey, &out, h, d, a, e) })
		return float64(out), err
	case BoolAttribute:
		var out C.uint8_t
		err = s.do(func(h unsafe.Pointer, e **C.char) C.sc_status { return C.go_get_bool(s.journey, &out, h, d, a, e) })
		return out != 0, err
	}
	var data *C.char
	var n C.size_t
	if err = s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_get_string(s.journey, &data, &n, h, d, a, e)
	}); err != nil {
		return nil, err
	}
	return string(takeBytes(unsafe.Pointer(data), n)), nil
}

func (s *stepper) isSet(deal uint32, name string) (bool, error) {
	a, _, err := s.attribute(name)
	if err != nil {
		return false, err
	}
	var out C.uint8_t
	err = s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_is_set(s.journey, &out, h, C.uint32_t(deal), a, e)
	})
	return out != 0, err
}

func (s *stepper) fire(deal uint32, event string, time int64) (Outcome, error) {
	ev, err := s.machine.EventID(event)
	if err != nil {
		return 0, err
	}
	return s.fireID(deal, ev, time)
}

func (s *stepper) fireID(deal, event uint32, time int64) (Outcome, error) {
	var out C.int32_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_fire(s.journey, &out, h, C.uint32_t(deal), C.uint32_t(event), C.int64_t(time), e)
	})
	return Outcome(out), err
}

// moveTo moves by stage, by name (a stage id would be a second entry point
// for one thing: StageID gives it).
func (s *stepper) moveTo(deal uint32, stage string, time int64) (Outcome, error) {
	data, n := cBytes(stage)
	defer C.free(unsafe.Pointer(data))
	var out C.int32_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_move_to_by_name(s.journey, &out, h, C.uint32_t(deal), data, n, C.int64_t(time), e)
	})
	return Outcome(out), err
}

func (s *stepper) moveToID(deal, stage uint32, time int64) (Outcome, error) {
	var out C.int32_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_move_to(s.journey, &out, h, C.uint32_t(deal), C.uint32_t(stage), C.int64_t(time), e)
	})
	return Outcome(out), err
}

func (s *stepper) reopen(deal uint32, time int64) (Outcome, error) {
	var out C.int32_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_reopen(s.journey, &out, h, C.uint32_t(deal), C.int64_t(time), e)
	})
	return Outcome(out), err
}

func (s *stepper) lifecycle(deal uint32) (Lifecycle, error) {
	var last C.int64_t
	var closedFrom, cycle C.uint32_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_lifecycle(s.journey, &last, &closedFrom, &cycle, h, C.uint32_t(deal), e)
	})
	return Lifecycle{LastActivity: int64(last), ClosedFrom: uint32(closedFrom), Cycle: uint32(cycle)}, err
}

func (s *stepper) lossReason(deal uint32) (string, error) {
	var data *C.char
	var n C.size_t
	if err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_loss_reason(s.journey, &data, &n, h, C.uint32_t(deal), e)
	}); err != nil {
		return "", err
	}
	return string(takeBytes(unsafe.Pointer(data), n)), nil
}

// AdvanceTo fires every timeout due at or before now, in due order, and
// returns how many fired.
func (s *stepper) AdvanceTo(now int64) (uint64, error) {
	var out C.uint64_t
	err := s.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_advance_to(s.journey, &out, h, C.int64_t(now), e)
	})
	return uint64(out), err
}

// AddObserver calls onTransition after every accepted step (a move, or an
// activity: Outcome Activity, To == From) and onRejection after every
// rejection (either may be nil), on the goroutine that applies the event. A panicking observer does not undo the step: the call returns a
// *CallbackError. It returns a token for RemoveObserver.
func (s *stepper) AddObserver(onTransition, onRejection func(Step)) (uint64, error) {
	defer s.lock()()
	if s.ptr == nil {
		return 0, ErrClosed
	}
	h := cgo.NewHandle(&observer{onTransition: onTransition, onRejection: onRejection, state: &s.state})
	var token C.uint64_t
	move, reject := C.int(0), C.int(0)
	if onTransition != nil {
		move = 1
	}
	if onRejection != nil {
		reject = 1
	}
	err := s.doLocked(func(p unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_add_observer(s.journey, &token, p, move, reject, C.uintptr_t(h), e)
	})
	if err != nil {
		h.Delete()
		return 0, err
	}
	if s.observers == nil {
		s.observers = map[uint64]cgo.Handle{}
	}
	s.observers[uint64(token)] = h
	return uint64(token), nil
}

// RemoveObserver unregisters an observer; a token that is not registered
// is a NotFound *Error.
func (s *stepper) RemoveObserver(token uint64) error {
	defer s.lock()()
	err := s.doLocked(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.go_remove_observer(s.journey, h, C.uint64_t(token), e)
	})
	if err == nil {
		s.observers[token].Delete()
		delete(s.observers, token)
	}
	return err
}

// closable says whether the handle may be destroyed now: not from one of its
// own observers, whose call still uses it (the library refuses every other
// change from there too).
func (s *stepper) closable() error {
	if s.state.running.Load() > 0 {
		return &Error{Code: FailedPrecondition,
			Message: "Close from an observer of the same handle; close it after the call that runs the observer returns"}
	}
	return nil
}

// release runs after the C handle is destroyed: nothing can call the
// observers any more.
func (s *stepper) release() {
	s.ptr = nil
	for _, h := range s.observers {
		h.Delete()
	}
	s.observers = nil
}
