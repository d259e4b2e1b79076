package salescycle

// #include <stdlib.h>
// #include "salescycle/c.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Journey is one deal or buyer moving through a machine. Not safe for
// concurrent use.
type Journey struct {
	stepper
}

func adoptJourney(ptr *C.sc_journey_t, m *Machine) *Journey {
	j := &Journey{stepper{ptr: unsafe.Pointer(ptr), journey: 1, machine: m}}
	runtime.SetFinalizer(j, (*Journey).Close)
	return j
}

// NewJourney starts a journey in m's initial stage at start. Only
// HistoryLimit applies.
func NewJourney(m *Machine, start int64, opts ...Option) (*Journey, error) {
	return newJourney(m, opts, func(mp *C.sc_machine_t, o *C.sc_options_t, out **C.sc_journey_t, e **C.char) C.sc_status {
		return C.sc_journey_create(out, mp, C.int64_t(start), o, e)
	})
}

// NewJourneyInStage starts a journey at start in stage, one of m's entry
// stages.
func NewJourneyInStage(m *Machine, stage string, start int64, opts ...Option) (*Journey, error) {
	id, err := m.StageID(stage)
	if err != nil {
		return nil, err
	}
	return newJourney(m, opts, func(mp *C.sc_machine_t, o *C.sc_options_t, out **C.sc_journey_t, e **C.char) C.sc_status {
		return C.sc_journey_create_in_stage(out, mp, C.uint32_t(id), C.int64_t(start), o, e)
	})
}

func newJourney(m *Machine, opts []Option,
	create func(*C.sc_machine_t, *C.sc_options_t, **C.sc_journey_t, **C.char) C.sc_status) (*Journey, error) {
	options, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	defer C.sc_options_destroy(options)
	var out *C.sc_journey_t
	if err := onMachine(m, func(mp *C.sc_machine_t, e **C.char) C.sc_status {
		return create(mp, options, &out, e)
	}); err != nil {
		return nil, err
	}
	return adoptJourney(out, m), nil
}

// LoadJourney restores a journey snapshot onto m.
func LoadJourney(m *Machine, data []byte, opts ...LoadOption) (*Journey, error) {
	ptr, n := bytesArg(data)
	var out *C.sc_journey_t
	if err := loadOnMachine(m, opts, func(mp *C.sc_machine_t, l *C.sc_limits_t, e **C.char) C.sc_status {
		return C.sc_journey_load_with_limits(&out, mp, ptr, n, l, e)
	}); err != nil {
		return nil, err
	}
	return adoptJourney(out, m), nil
}

// Close destroys the journey. Idempotent. From one of the journey's own
// observers it returns a FailedPrecondition *Error and leaves it open.
func (j *Journey) Close() error {
	// Waits for a call under way on another goroutine (an observer's
	// Close, inside the call, is refused by closable).
	defer j.lock()()
	if err := j.closable(); err != nil {
		return err
	}
	if j.ptr != nil {
		C.sc_journey_destroy((*C.sc_journey_t)(j.ptr))
		j.release()
		runtime.SetFinalizer(j, nil)
	}
	return nil
}

// Clone is an independent copy of the state, without observers.
func (j *Journey) Clone() (*Journey, error) {
	var out *C.sc_journey_t
	if err := j.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_journey_clone(&out, (*C.sc_journey_t)(h), e)
	}); err != nil {
		return nil, err
	}
	return adoptJourney(out, j.machine), nil
}

// Stage returns the current stage and the time the journey entered it.
func (j *Journey) Stage() (stage uint32, enteredAt int64, err error) {
	var s C.uint32_t
	var t C.int64_t
	err = j.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_journey_stage(&s, &t, (*C.sc_journey_t)(h), e)
	})
	return uint32(s), int64(t), err
}

// Fire fires an event by name. A rejection is an Outcome, not an error.
func (j *Journey) Fire(event string, time int64) (Outcome, error) { return j.fire(0, event, time) }

// FireID fires an event by id.
func (j *Journey) FireID(event uint32, time int64) (Outcome, error) {
	return j.fireID(0, event, time)
}

// MoveTo, MoveToID, Reopen, Lifecycle and LossReason work as Pipeline's,
// for this one deal.
func (j *Journey) MoveTo(stage string, time int64) (Outcome, error) { return j.moveTo(0, stage, time) }
func (j *Journey) MoveToID(stage uint32, time int64) (Outcome, error) {
	return j.moveToID(0, stage, time)
}
func (j *Journey) Reopen(time int64) (Outcome, error) { return j.reopen(0, time) }
func (j *Journey) Lifecycle() (Lifecycle, error)      { return j.lifecycle(0) }
func (j *Journey) LossReason() (string, error)        { return j.lossReason(0) }

// Set, Get and IsSet work as Pipeline's, for this one deal.
func (j *Journey) Set(attribute string, value interface{}) error { return j.set(0, attribute, value) }
func (j *Journey) Get(attribute string) (interface{}, error)     { return j.get(0, attribute) }
func (j *Journey) IsSet(attribute string) (bool, error)          { return j.isSet(0, attribute) }

// Save returns the journey as a snapshot.
func (j *Journey) Save() ([]byte, error) {
	var data *C.uint8_t
	var n C.size_t
	if err := j.do(func(h unsafe.Pointer, e **C.char) C.sc_status {
		return C.sc_journey_save(&data, &n, (*C.sc_journey_t)(h), e)
	}); err != nil {
		return nil, err
	}
	return takeBytes(unsafe.Pointer(data), n), nil
}
