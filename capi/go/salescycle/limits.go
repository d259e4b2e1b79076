package salescycle

/*
#include <stdlib.h>
#include "salescycle/c.h"
*/
import "C"

// Limits bounds what an untrusted spec or snapshot may ask of the library
// (salescycle/limits.h says what each one bounds). Input past a limit is an
// *Error with Code InvalidArgument naming the limit. Start from
// DefaultLimits: a zero field refuses everything it bounds.
type Limits struct {
	SpecBytes      uint64 // bytes of a spec's text or JSON
	Stages         uint64
	Events         uint64
	Attributes     uint64
	Transitions    uint64 // counted once per stage each leaves
	GuardDepth     uint64 // levels of all / any / not
	StringLength   uint64 // bytes of any one string
	HistoryLength  uint64 // a snapshot's history limit
	SnapshotDeals  uint64 // slots a pipeline snapshot may declare
	HistoryEntries uint64 // slots x history length of a pipeline snapshot
}

// The fields in SC_LIMIT_* order.
func (l *Limits) fields() []*uint64 {
	return []*uint64{&l.SpecBytes, &l.Stages, &l.Events, &l.Attributes,
		&l.Transitions, &l.GuardDepth, &l.StringLength, &l.HistoryLength,
		&l.SnapshotDeals, &l.HistoryEntries}
}

// DefaultLimits are the library's defaults.
func DefaultLimits() Limits {
	var l Limits
	// Reading a fresh handle cannot fail; a failure leaves the field zero,
	// which refuses rather than allows.
	_ = withLimits(nil, func(h *C.sc_limits_t) error {
		for i, f := range l.fields() {
			var v C.uint64_t
			if err := call(func(e **C.char) C.sc_status {
				return C.sc_limits_get(&v, h, C.int32_t(i), e)
			}); err != nil {
				return err
			}
			*f = uint64(v)
		}
		return nil
	})
	return l
}

// withLimits runs fn with an sc_limits_t holding l (the defaults when l is
// nil), destroyed afterwards.
func withLimits(l *Limits, fn func(*C.sc_limits_t) error) error {
	h := C.sc_limits_create()
	if h == nil {
		return &Error{Code: ResourceExhausted, Message: "sc_limits_create"}
	}
	defer C.sc_limits_destroy(h)
	if l != nil {
		for i, f := range l.fields() {
			v := *f
			if err := call(func(e **C.char) C.sc_status {
				return C.sc_limits_set(h, C.int32_t(i), C.uint64_t(v), e)
			}); err != nil {
				return err
			}
		}
	}
	return fn(h)
}

// LoadOption configures how a snapshot is loaded.
type LoadOption func(*loadOptions)

type loadOptions struct {
	limits *Limits
}

// LoadLimits bounds what the snapshot may declare (default: DefaultLimits).
func LoadLimits(l Limits) LoadOption {
	return func(o *loadOptions) { o.limits = &l }
}

// loadOnMachine is onMachine for the loads: fn also gets the limits that
// opts ask for (the defaults when none).
func loadOnMachine(m *Machine, opts []LoadOption,
	fn func(mp *C.sc_machine_t, l *C.sc_limits_t, e **C.char) C.sc_status) error {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	return withLimits(o.limits, func(l *C.sc_limits_t) error {
		return onMachine(m, func(mp *C.sc_machine_t, e **C.char) C.sc_status { return fn(mp, l, e) })
	})
}
