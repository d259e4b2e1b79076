package salescycle

// #include <stdlib.h>
// #include "salescycle/c.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// FunnelState is a pipeline's funnel as of a moment (see
// include/salescycle/funnel_state.h), as a value: the states of shards
// (pipelines that each saw some of the deals, captured with the same now,
// value and breakdown) merge into exactly the report of all their deals,
// and a state travels as bytes. Not safe for concurrent use.
type FunnelState struct {
	ptr *C.sc_funnel_state_t
}

func adoptFunnelState(ptr *C.sc_funnel_state_t) *FunnelState {
	s := &FunnelState{ptr: ptr}
	runtime.SetFinalizer(s, (*FunnelState).Close)
	return s
}

// FunnelState captures the pipeline's funnel state. value names the deal
// value attribute and by the attribute to break the live deals down by
// ("" for none); now, when not nil, is when stalled deals are judged
// (default: the latest event).
func (p *Pipeline) FunnelState(value, by string, now *int64) (*FunnelState, error) {
	return p.FunnelStateWith(FunnelOptions{Value: value, By: by, Now: now})
}

// FunnelStateWith captures the pipeline's funnel state with every option;
// the options are part of the state (states captured differently do not
// merge).
func (p *Pipeline) FunnelStateWith(o FunnelOptions) (*FunnelState, error) {
	opts, free := o.cOptions()
	defer free()
	var out *C.sc_funnel_state_t
	if err := p.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_funnel_state_capture_with(&out, p.c(h), &opts, e)
	}); err != nil {
		return nil, err
	}
	return adoptFunnelState(out), nil
}

// ParseFunnelState reads Serialize's bytes onto m, the machine the state
// was captured from (needed when it uses named guards), or, with m nil,
// onto the machine the state carries. Bytes that are not a state are a
// DataLoss *Error naming what is wrong.
func ParseFunnelState(data []byte, m *Machine) (*FunnelState, error) {
	ptr, n := bytesArg(data)
	var mp *C.sc_machine_t
	if m != nil {
		h, err := m.handle()
		if err != nil {
			return nil, err
		}
		mp = h
	}
	var out *C.sc_funnel_state_t
	if err := call(func(e **C.char) C.sc_status {
		return C.sc_funnel_state_parse(&out, mp, ptr, n, e)
	}); err != nil {
		return nil, err
	}
	runtime.KeepAlive(data)
	runtime.KeepAlive(m)
	return adoptFunnelState(out), nil
}

// Merge adds other's deals. States of another machine, or captured as of
// another moment or with other cohorts, value or breakdown, are a
// FailedPrecondition *Error, and nothing changes.
func (s *FunnelState) Merge(other *FunnelState) error {
	if s.ptr == nil || other == nil || other.ptr == nil {
		return ErrClosed
	}
	err := call(func(e **C.char) C.sc_status { return C.sc_funnel_state_merge(s.ptr, other.ptr, e) })
	runtime.KeepAlive(s)
	runtime.KeepAlive(other)
	return err
}

// Serialize returns the state's bytes.
func (s *FunnelState) Serialize() ([]byte, error) {
	return s.bytes(func(data **C.uint8_t, n *C.size_t, e **C.char) C.sc_status {
		return C.sc_funnel_state_serialize(data, n, s.ptr, e)
	})
}

// Report returns the state's funnel report, as Pipeline.Funnel does.
func (s *FunnelState) Report(format FunnelFormat) ([]byte, error) {
	return s.bytes(func(data **C.uint8_t, n *C.size_t, e **C.char) C.sc_status {
		return C.sc_funnel_state_report(data, n, s.ptr, C.int32_t(format), e)
	})
}

func (s *FunnelState) bytes(fn func(data **C.uint8_t, n *C.size_t, e **C.char) C.sc_status) ([]byte, error) {
	if s.ptr == nil {
		return nil, ErrClosed
	}
	var data *C.uint8_t
	var n C.size_t
	err := call(func(e **C.char) C.sc_status { return fn(&data, &n, e) })
	runtime.KeepAlive(s)
	if err != nil {
		return nil, err
	}
	return takeBytes(unsafe.Pointer(data), n), nil
}

// Close destroys the state. Idempotent.
func (s *FunnelState) Close() error {
	if s.ptr != nil {
		C.sc_funnel_state_destroy(s.ptr)
		s.ptr = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}
