// Package salescycle moves deals through sales cycles described as data,
// over libsalescycle_c, the library's stable C API.
//
// A Machine is a compiled cycle, immutable and safe for concurrent use. A
// Pipeline holds many deals of one machine; a Journey is one deal. Each
// takes one call at a time: calls from several goroutines wait their turn
// (a DurablePipeline lets them share its journal's syncs). Every handle has
// Close, which is idempotent; a finalizer closes handles that are dropped
// without it, and using a closed handle returns ErrClosed. Errors are *Error values carrying the C
// library's status code and message.
//
// The package finds libsalescycle_c through pkg-config (salescycle_c.pc,
// which `cmake --install` puts in PREFIX/lib/pkgconfig): after an install
// to /usr/local a program builds and runs with no environment variables;
// for another prefix, PKG_CONFIG_PATH=PREFIX/lib/pkgconfig. Require the
// module (salescycle.dev/salescycle) with a replace directive to this
// directory, as the README shows.
package salescycle

// #cgo pkg-config: salescycle_c
// #include <stdlib.h>
// #include "salescycle/c.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Code is a status code: absl::StatusCode's values, as in c.h.
type Code int32

const (
	OK                 Code = 0
	Cancelled          Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

func (c Code) String() string { return C.GoString(C.sc_status_name(C.sc_status(c))) }

// Error is a failure the C library reported. Its message names the
// function and what was wrong.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("salescycle: %s: %s", e.Code, e.Message) }

// Is makes errors.Is(err, &Error{Code: NotFound}) match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// CallbackError is returned when an observer or named guard panicked or
// returned an error. The steps were applied; Cause is what the callback
// panicked with or returned.
type CallbackError struct {
	Err   *Error
	Cause interface{}
}

func (e *CallbackError) Error() string {
	return fmt.Sprintf("%v (callback: %v)", e.Err, e.Cause)
}

func (e *CallbackError) Unwrap() error { return e.Err }

// ErrClosed is returned by every method of a closed handle.
var ErrClosed = errors.New("salescycle: use of a closed handle")

// Outcome is what a step did; Moved and Activity are accepted, everything
// else is a rejection.
type Outcome int32

const (
	Moved            Outcome = 0
	NoTransition     Outcome = 1
	GuardFailed      Outcome = 2
	MissingAttribute Outcome = 3
	NoDeal           Outcome = 4
	// Activity is accepted without a move: an activity event, or a move by
	// stage to the deal's own stage (an update). It sets the deal's last
	// activity time.
	Activity Outcome = 5
	// NotReopenable: a reopen of a deal not in a reopenable closed stage.
	NotReopenable Outcome = 6
)

func (o Outcome) String() string {
	switch o {
	case Moved:
		return "moved"
	case NoTransition:
		return "no_transition"
	case GuardFailed:
		return "guard_failed"
	case MissingAttribute:
		return "missing_attribute"
	case NoDeal:
		return "no_deal"
	case Activity:
		return "activity"
	case NotReopenable:
		return "not_reopenable"
	}
	return fmt.Sprintf("Outcome(%d)", int32(o))
}

// None stands for "no id": the deal of a journey's step, the event of a
// timeout that entered a stage.
const None = uint32(0xFFFFFFFF)

// EventRecord is sc_event_record: the fixed 16-byte batch layout. A
// []EventRecord is handed to the C library without a copy.
type EventRecord struct {
	Deal  uint32
	Event uint32
	Time  int64
}

var _ [16]byte = [unsafe.Sizeof(EventRecord{})]byte{}

// StageRecord is sc_stage_record: a move by stage ("deal D was in stage S
// from time T"), the same 16-byte layout with a stage id for the event.
type StageRecord struct {
	Deal  uint32
	Stage uint32
	Time  int64
}

var _ [16]byte = [unsafe.Sizeof(StageRecord{})]byte{}

// Lifecycle is what a deal keeps beyond its stage: its last activity time
// (its entry time when the machine keeps none), the open stage it was last
// closed from (None: never, or the machine has no reopenable stage) and its
// cycle (1 for the first; one more for each repeat purchase or new attempt).
type Lifecycle struct {
	LastActivity int64
	ClosedFrom   uint32
	Cycle        uint32
}

// Step is one step, as observers see it.
type Step struct {
	Deal     uint32 // None for a journey
	From, To uint32 // To == From for a rejection
	Event    uint32 // None for a timeout that entered a stage
	Time     int64
	Outcome  Outcome
}

// VersionNumber is the loaded library's version (1.2.3 is 10203).
func VersionNumber() uint32 { return uint32(C.sc_version_number()) }

// Version is the loaded library's version string.
func Version() string { return C.GoString(C.sc_version_string()) }

// HeaderVersionNumber is the version of the c.h this package was built with.
const HeaderVersionNumber = C.SC_VERSION_NUMBER

// call runs one C call that follows the error convention: fn receives the
// errmsg out-parameter and returns the status.
func call(fn func(errmsg **C.char) C.sc_status) error {
	var msg *C.char
	status := fn(&msg)
	if status == C.SC_OK {
		return nil
	}
	e := &Error{Code: Code(status), Message: C.GoString(msg)}
	C.sc_free(unsafe.Pointer(msg))
	return e
}

// onMachine makes something of m through the C API: fn gets m's handle and
// the errmsg slot. A closed machine is ErrClosed.
func onMachine(m *Machine, fn func(mp *C.sc_machine_t, e **C.char) C.sc_status) error {
	mp, err := m.handle()
	if err != nil {
		return err
	}
	return call(func(e **C.char) C.sc_status { return fn(mp, e) })
}

// bytesArg is data as the C API takes bytes: a pointer (nil when empty),
// borrowed for the call, and a length.
func bytesArg(data []byte) (*C.uint8_t, C.size_t) {
	if len(data) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))
}

// cBytes is a C copy of s (with a NUL after it), freed by the caller.
func cBytes(s string) (*C.char, C.size_t) {
	p := (*C.char)(C.CBytes(append([]byte(s), 0)))
	return p, C.size_t(len(s))
}

// takeBytes copies a caller-owned buffer the library returned, and frees it.
func takeBytes(data unsafe.Pointer, n C.size_t) []byte {
	defer C.sc_free(data)
	return C.GoBytes(data, C.int(n))
}
