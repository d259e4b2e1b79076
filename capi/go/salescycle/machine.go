package salescycle

/*
#include <stdint.h>
#include <stdlib.h>
#include "salescycle/c.h"

extern int32_t scGoGuard(void*, sc_deal_view_t*, uint8_t*);

// The guard's user data is a cgo.Handle, converted here so that Go never
// turns an integer into a pointer.
static sc_status sc_go_add_named_guard(sc_compile_options_t* options,
                                       const char* name, size_t name_len,
                                       uintptr_t handle, char** errmsg) {
  return sc_compile_options_add_named_guard(
      options, name, name_len, (sc_guard_fn)scGoGuard, (void*)handle, errmsg);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// AttributeType is an attribute's declared type.
type AttributeType int32

// StageKind is a stage's kind: SC_STAGE_* in c.h.
type StageKind int32

const (
	Open StageKind = C.SC_STAGE_OPEN
	Won  StageKind = C.SC_STAGE_WON
	Lost StageKind = C.SC_STAGE_LOST
)

const (
	Int64Attribute  AttributeType = 0
	DoubleAttribute AttributeType = 1
	StringAttribute AttributeType = 2
	BoolAttribute   AttributeType = 3
)

// Machine is a compiled sales cycle (proto/salescycle/v1/machine.proto):
// immutable, safe for concurrent use. Pipelines and journeys keep what they
// need of it alive, so it may be closed while they are in use.
type Machine struct {
	ptr    *C.sc_machine_t
	guards *guardSet

	name        string
	version     uint32
	fingerprint uint64
	stages      []string
	events      []string
	attributes  []string
	types       []AttributeType
	kinds       []StageKind // by stage id
	initial     uint32
	ids         map[string]map[string]uint32
}

// MachineOption configures how a machine is compiled.
type MachineOption func(*machineOptions)

type machineOptions struct {
	sourceName *string
	guards     map[string]NamedGuard
	limits     *Limits
}

// WithLimits bounds what the spec may ask for (default: DefaultLimits).
func WithLimits(l Limits) MachineOption {
	return func(o *machineOptions) { o.limits = &l }
}

// WithSourceName names the spec in error messages.
func WithSourceName(name string) MachineOption {
	return func(o *machineOptions) { o.sourceName = &name }
}

// WithNamedGuard registers a Go guard that specs refer to as
// `guard { named: "name" }`.
func WithNamedGuard(name string, fn NamedGuard) MachineOption {
	return func(o *machineOptions) {
		if o.guards == nil {
			o.guards = map[string]NamedGuard{}
		}
		o.guards[name] = fn
	}
}

// MachineFromText compiles a MachineSpec in protobuf text format.
func MachineFromText(text string, opts ...MachineOption) (*Machine, error) {
	data, n := cBytes(text)
	defer C.free(unsafe.Pointer(data))
	return loadMachine(opts, func(out **C.sc_machine_t, o *C.sc_compile_options_t, e **C.char) C.sc_status {
		return C.sc_machine_from_text(out, data, n, o, e)
	})
}

// MachineFromJSON compiles a MachineSpec in protobuf JSON.
func MachineFromJSON(json string, opts ...MachineOption) (*Machine, error) {
	data, n := cBytes(json)
	defer C.free(unsafe.Pointer(data))
	return loadMachine(opts, func(out **C.sc_machine_t, o *C.sc_compile_options_t, e **C.char) C.sc_status {
		return C.sc_machine_from_json(out, data, n, o, e)
	})
}

// MachineFromFile compiles a spec file: JSON when its name ends in .json,
// text format otherwise.
func MachineFromFile(path string, opts ...MachineOption) (*Machine, error) {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return loadMachine(opts, func(out **C.sc_machine_t, o *C.sc_compile_options_t, e **C.char) C.sc_status {
		return C.sc_machine_from_file(out, p, o, e)
	})
}

func loadMachine(opts []MachineOption,
	load func(**C.sc_machine_t, *C.sc_compile_options_t, **C.char) C.sc_status) (*Machine, error) {
	var o machineOptions
	for _, opt := range opts {
		opt(&o)
	}
	options := C.sc_compile_options_create()
	if options == nil {
		return nil, &Error{Code: ResourceExhausted, Message: "sc_compile_options_create"}
	}
	defer C.sc_compile_options_destroy(options)
	if err := withLimits(o.limits, func(h *C.sc_limits_t) error {
		return call(func(e **C.char) C.sc_status {
			return C.sc_compile_options_set_limits(options, h, e)
		})
	}); err != nil {
		return nil, err
	}
	m := &Machine{guards: &guardSet{}}
	release := m.guards.release
	if o.sourceName != nil {
		data, n := cBytes(*o.sourceName)
		defer C.free(unsafe.Pointer(data))
		if err := call(func(e **C.char) C.sc_status {
			return C.sc_compile_options_set_source_name(options, data, n, e)
		}); err != nil {
			return nil, err
		}
	}
	for name, fn := range o.guards {
		h := cgo.NewHandle(&guard{fn: fn, machine: m})
		m.guards.handles = append(m.guards.handles, h)
		data, n := cBytes(name)
		err := call(func(e **C.char) C.sc_status {
			return C.sc_go_add_named_guard(options, data, n, C.uintptr_t(h), e)
		})
		C.free(unsafe.Pointer(data))
		if err != nil {
			release()
			return nil, err
		}
	}
	// Into a local: cgo refuses a pointer into m, which holds Go pointers.
	var out *C.sc_machine_t
	if err := call(func(e **C.char) C.sc_status { return load(&out, options, e) }); err != nil {
		release()
		return nil, err
	}
	m.ptr = out
	if err := m.cache(); err != nil {
		C.sc_machine_destroy(m.ptr)
		release()
		return nil, err
	}
	runtime.SetFinalizer(m, (*Machine).Close)
	if len(m.guards.handles) > 0 {
		runtime.SetFinalizer(m.guards, (*guardSet).release)
	}
	return m, nil
}

// guardSet owns the cgo handles of a machine's named guards. The machine
// and every pipeline and journey of it refer to it, so it is released only
// when none of them can run a guard any more.
type guardSet struct {
	handles []cgo.Handle
}

func (g *guardSet) release() {
	for _, h := range g.handles {
		h.Delete()
	}
	g.handles = nil
}

// cache reads the names and types once: lookups are then map accesses, and
// guards can read deals after Close.
func (m *Machine) cache() error {
	var name *C.char
	var version, count C.uint32_t
	var fingerprint C.uint64_t
	if err := call(func(e **C.char) C.sc_status { return C.sc_machine_name(&name, m.ptr, e) }); err != nil {
		return err
	}
	m.name = C.GoString(name)
	if err := call(func(e **C.char) C.sc_status { return C.sc_machine_version(&version, m.ptr, e) }); err != nil {
		return err
	}
	m.version = uint32(version)
	if err := call(func(e **C.char) C.sc_status { return C.sc_machine_fingerprint(&fingerprint, m.ptr, e) }); err != nil {
		return err
	}
	m.fingerprint = uint64(fingerprint)
	m.ids = map[string]map[string]uint32{}
	lists := []struct {
		kind  string
		num   func(*C.uint32_t, **C.char) C.sc_status
		name  func(C.uint32_t, **C.char, **C.char) C.sc_status
		names *[]string
	}{
		{"stage", func(o *C.uint32_t, e **C.char) C.sc_status { return C.sc_machine_num_stages(o, m.ptr, e) },
			func(i C.uint32_t, o **C.char, e **C.char) C.sc_status { return C.sc_machine_stage_name(o, m.ptr, i, e) }, &m.stages},
		{"event", func(o *C.uint32_t, e **C.char) C.sc_status { return C.sc_machine_num_events(o, m.ptr, e) },
			func(i C.uint32_t, o **C.char, e **C.char) C.sc_status { return C.sc_machine_event_name(o, m.ptr, i, e) }, &m.events},
		{"attribute", func(o *C.uint32_t, e **C.char) C.sc_status { return C.sc_machine_num_attributes(o, m.ptr, e) },
			func(i C.uint32_t, o **C.char, e **C.char) C.sc_status {
				return C.sc_machine_attribute_name(o, m.ptr, i, e)
			}, &m.attributes},
	}
	for _, l := range lists {
		if err := call(func(e **C.char) C.sc_status { return l.num(&count, e) }); err != nil {
			return err
		}
		ids := map[string]uint32{}
		for i := C.uint32_t(0); i < count; i++ {
			if err := call(func(e **C.char) C.sc_status { return l.name(i, &name, e) }); err != nil {
				return err
			}
			*l.names = append(*l.names, C.GoString(name))
			ids[C.GoString(name)] = uint32(i)
		}
		m.ids[l.kind] = ids
	}
	var initial C.uint32_t
	if err := call(func(e **C.char) C.sc_status { return C.sc_machine_initial_stage(&initial, m.ptr, e) }); err != nil {
		return err
	}
	m.initial = uint32(initial)
	for i := range m.stages {
		var k C.int32_t
		if err := call(func(e **C.char) C.sc_status {
			return C.sc_machine_stage_kind(&k, m.ptr, C.uint32_t(i), e)
		}); err != nil {
			return err
		}
		m.kinds = append(m.kinds, StageKind(k))
	}
	for i := range m.attributes {
		var t C.int32_t
		if err := call(func(e **C.char) C.sc_status {
			return C.sc_machine_attribute_type(&t, m.ptr, C.uint32_t(i), e)
		}); err != nil {
			return err
		}
		m.types = append(m.types, AttributeType(t))
	}
	return nil
}

// Close destroys the C handle. Pipelines and journeys of the machine go on
// working; the named guards stay registered until they are gone too.
func (m *Machine) Close() error {
	if m.ptr != nil {
		C.sc_machine_destroy(m.ptr)
		m.ptr = nil
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

func (m *Machine) handle() (*C.sc_machine_t, error) {
	if m == nil || m.ptr == nil {
		return nil, ErrClosed
	}
	return m.ptr, nil
}

func (m *Machine) Name() string        { return m.name }
func (m *Machine) Version() uint32     { return m.version }
func (m *Machine) Fingerprint() uint64 { return m.fingerprint }

// SpecJSON is the whole machine as compiled (Machine::SpecJson in C++): the
// JSON of salescycle.v1.MachineSpec, field names as in machine.proto, every
// stage's display_name, kind and win_probability resolved, 64-bit integers
// as strings. Unmarshal it into a struct with the fields you need: a field
// added to machine.proto reaches it with no change to this package.
func (m *Machine) SpecJSON() ([]byte, error) {
	h, err := m.handle()
	if err != nil {
		return nil, err
	}
	var data *C.char
	var n C.size_t
	if err := call(func(e **C.char) C.sc_status { return C.sc_machine_spec_json(&data, &n, h, e) }); err != nil {
		return nil, err
	}
	defer C.sc_free(unsafe.Pointer(data))
	return C.GoBytes(unsafe.Pointer(data), C.int(n)), nil
}

// Stages, Events and Attributes are the names, in id order.
func (m *Machine) Stages() []string     { return append([]string(nil), m.stages...) }
func (m *Machine) Events() []string     { return append([]string(nil), m.events...) }
func (m *Machine) Attributes() []string { return append([]string(nil), m.attributes...) }

func (m *Machine) find(kind, name string) (uint32, error) {
	if id, ok := m.ids[kind][name]; ok {
		return id, nil
	}
	return 0, &Error{Code: NotFound, Message: fmt.Sprintf("machine %q v%d has no %s %q", m.name, m.version, kind, name)}
}

// StageID, EventID and AttributeID look ids up by name; an unknown name is
// a NotFound *Error.
func (m *Machine) StageID(name string) (uint32, error)     { return m.find("stage", name) }
func (m *Machine) EventID(name string) (uint32, error)     { return m.find("event", name) }
func (m *Machine) AttributeID(name string) (uint32, error) { return m.find("attribute", name) }

// InitialStage is the stage new deals start in.
func (m *Machine) InitialStage() string { return m.stages[m.initial] }

// StageKind says whether a stage is open, won or lost.
func (m *Machine) StageKind(name string) (StageKind, error) {
	id, err := m.StageID(name)
	if err != nil {
		return 0, err
	}
	return m.kinds[id], nil
}

// AttributeType is the declared type of an attribute.
func (m *Machine) AttributeType(name string) (AttributeType, error) {
	id, err := m.AttributeID(name)
	if err != nil {
		return 0, err
	}
	return m.types[id], nil
}
