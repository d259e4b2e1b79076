package salescycle

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// tests/data/tiny.textproto, with its budget guard as the named guard "big".
var tiny = func() string {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny.textproto"))
	if err != nil {
		panic(err)
	}
	return strings.Replace(string(data),
		`guard { compare { attribute: "budget" op: GE value { int64_value: 1000 } } }`,
		`guard { named: "big" }`, 1)
}()

func big(deal DealView) (bool, error) {
	budget, err := deal.Int64("budget")
	return budget >= 1000, err
}

func mustMachine(t *testing.T, opts ...MachineOption) *Machine {
	t.Helper()
	m, err := MachineFromText(tiny, append([]MachineOption{WithNamedGuard("big", big)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// roundTrip saves p and loads the snapshot onto m, failing the test on error.
func roundTrip(t *testing.T, m *Machine, p *Pipeline) ([]byte, *Pipeline) {
	t.Helper()
	data, err := p.Save()
	if err != nil {
		t.Fatal(err)
	}
	q, err := LoadPipeline(m, data)
	if err != nil {
		t.Fatal(err)
	}
	return data, q
}

func wantCode(t *testing.T, err error, code Code, part string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, part) {
		t.Fatalf("got %v, want %s containing %q", err, code, part)
	}
}

func TestLayoutAndVersion(t *testing.T) {
	if unsafe.Sizeof(EventRecord{}) != 16 || unsafe.Offsetof(EventRecord{}.Event) != 4 ||
		unsafe.Offsetof(EventRecord{}.Time) != 8 {
		t.Fatal("EventRecord is not sc_event_record's layout")
	}
	if VersionNumber() != HeaderVersionNumber || Version() == "" {
		t.Fatalf("library %d, header %d", VersionNumber(), HeaderVersionNumber)
	}
	if InvalidArgument.String() != "INVALID_ARGUMENT" {
		t.Fatal(InvalidArgument.String())
	}
}

func TestMachines(t *testing.T) {
	m := mustMachine(t)
	if m.Name() != "tiny" || m.Version() != 3 || m.Fingerprint() == 0 {
		t.Fatal(m.Name(), m.Version())
	}
	if !reflect.DeepEqual(m.Stages(), []string{"a", "b", "c"}) {
		t.Fatal(m.Stages())
	}
	if typ, _ := m.AttributeType("source"); typ != StringAttribute {
		t.Fatal(typ)
	}
	_, err := m.EventID("presnt")
	wantCode(t, err, NotFound, `"presnt"`)

	_, err = MachineFromText(strings.Replace(tiny, `event: "win"`, `event: "wn"`, 1),
		WithNamedGuard("big", big), WithSourceName("tiny.textproto"))
	wantCode(t, err, InvalidArgument, `tiny.textproto: transitions[2]`)
	_, err = MachineFromText(tiny)
	wantCode(t, err, InvalidArgument, `named guard "big" is not registered`)
	_, err = MachineFromFile("/no/such/file.textproto")
	wantCode(t, err, NotFound, "/no/such/file.textproto")
	if !errors.Is(err, &Error{Code: NotFound}) {
		t.Fatal("errors.Is does not match on the code")
	}
	b2b, err := MachineFromFile(filepath.Join("testdata", "b2b.textproto"))
	if err != nil || len(b2b.Stages()) != 10 {
		t.Fatal(err)
	}
	b2b.Close()
	json, err := MachineFromJSON(`{"name": "j", "initialStage": "a", "stages": [{"id": "a"}], "events": [{"id": "go"}]}`)
	if err != nil || json.Name() != "j" {
		t.Fatal(err)
	}
}

func TestPipeline(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m, HistoryLimit(2), ExpectedDeals(10))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, _ := p.AddWithKey("acme", 10)
	b, _ := p.AddWithID(77, 10)
	if a != 0 || b != 1 || p.Len() != 2 {
		t.Fatal(a, b, p.Len())
	}
	_, err = p.AddWithID(77, 10)
	wantCode(t, err, AlreadyExists, "77")
	if d, err := p.FindByKey("acme"); err != nil || d != a {
		t.Fatal(d, err)
	}
	if d, err := p.FindByID(77); err != nil || d != b {
		t.Fatal(d, err)
	}
	_, err = p.FindByKey("nobody")
	wantCode(t, err, NotFound, "nobody")

	if v, _ := p.Get(a, "source"); v != "web" {
		t.Fatal(v)
	}
	for name, value := range map[string]interface{}{"source": "référence", "budget": int64(-5), "value": 2.5, "hot": true} {
		if err := p.Set(a, name, value); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Get(a, name); err != nil || got != value {
			t.Fatalf("%s: %v %v", name, got, err)
		}
	}
	if err := p.Set(a, "budget", 7); err != nil { // an int is an int64
		t.Fatal(err)
	}
	wantCode(t, p.Set(a, "budget", "lots"), InvalidArgument, `"budget" takes int64, not string`)
	wantCode(t, p.Set(9, "budget", int64(1)), NotFound, "deal 9")
	if set, _ := p.IsSet(b, "budget"); set {
		t.Fatal("unset attribute reads as set")
	}

	if o, _ := p.Fire(a, "back", 1); o != NoTransition {
		t.Fatal(o)
	}
	if o, _ := p.Fire(a, "go", 2); o != Moved {
		t.Fatal(o)
	}
	if o, _ := p.Fire(a, "win", 3); o != GuardFailed {
		t.Fatal(o)
	}
	p.Set(a, "budget", int64(1000))
	if o, _ := p.FireID(a, 2, 4); o != Moved {
		t.Fatal(o)
	}
	_, err = p.FireID(a, 70000, 5)
	wantCode(t, err, InvalidArgument, "event 70000 is out of range")
	if s, at, _ := p.Stage(a); s != 2 || at != 4 {
		t.Fatal(s, at)
	}
	if fired, _ := p.AdvanceTo(110); fired != 1 { // deal b's stall limit
		t.Fatal(fired)
	}
	if counts, _ := p.StageCounts(); !reflect.DeepEqual(counts, []uint64{0, 1, 1}) {
		t.Fatal(counts)
	}
	if err := p.Remove(a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.Remove(a), NotFound, "deal 0 is not in the pipeline")
}

func TestApply(t *testing.T) {
	m := mustMachine(t)
	one, _ := NewPipeline(m)
	batch, _ := NewPipeline(m)
	defer one.Close()
	defer batch.Close()
	records := make([]EventRecord, 0, 3000)
	seed := uint32(7)
	for i := 0; i < 3000; i++ {
		seed = seed*1664525 + 1013904223
		records = append(records, EventRecord{Deal: (seed >> 8) % 20, Event: (seed >> 20) % 3, Time: int64(i)})
	}
	for _, p := range []*Pipeline{one, batch} {
		for d := uint32(0); d < 20; d++ {
			p.Add(0)
			p.Set(d, "budget", int64(d*100))
		}
	}
	var accepted uint64
	for _, r := range records {
		if o, err := one.FireID(r.Deal, r.Event, r.Time); err != nil {
			t.Fatal(err)
		} else if o == Moved {
			accepted++
		}
	}
	acc, rej, err := batch.Apply(records)
	if err != nil || acc != accepted || acc+rej != 3000 {
		t.Fatal(acc, rej, accepted, err)
	}
	c1, _ := one.StageCounts()
	c2, _ := batch.StageCounts()
	if !reflect.DeepEqual(c1, c2) {
		t.Fatal(c1, c2)
	}
	before, _ := batch.StageCounts()
	_, _, err = batch.Apply([]EventRecord{{Deal: 0, Event: 0, Time: 1}, {Deal: 99, Event: 0, Time: 2}})
	wantCode(t, err, InvalidArgument, "99")
	if after, _ := batch.StageCounts(); !reflect.DeepEqual(before, after) {
		t.Fatal("a failed batch changed the pipeline")
	}
	if a, r, err := batch.Apply(nil); a != 0 || r != 0 || err != nil {
		t.Fatal(a, r, err)
	}
}

// ApplyParallel gives Apply's result and says how many threads ran: one on
// a machine with a named guard (the host's code), more on one without.
func TestApplyParallel(t *testing.T) {
	// tiny with its compare guard: slow cells, so more threads pay.
	plain, err := MachineFromText(strings.Replace(tiny, `guard { named: "big" }`,
		`guard { compare { attribute: "budget" op: GE value { int64_value: 1000 } } }`, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	const deals = 20000
	records := make([]EventRecord, 0, 200000)
	seed := uint32(12)
	for i := 0; i < cap(records); i++ {
		seed = seed*1664525 + 1013904223
		records = append(records, EventRecord{Deal: (seed >> 4) % deals, Event: (seed >> 24) % 3, Time: int64(i)})
	}
	for _, c := range []struct {
		m    *Machine
		want int
	}{{mustMachine(t), 1}, {plain, 3}} {
		one, _ := NewPipeline(c.m)
		par, _ := NewPipeline(c.m)
		for _, p := range []*Pipeline{one, par} {
			for d := uint32(0); d < deals; d++ {
				p.Add(0)
				p.Set(d, "budget", int64(d%3000))
			}
		}
		acc, rej, err := one.Apply(records)
		if err != nil {
			t.Fatal(err)
		}
		pacc, prej, ran, err := par.ApplyParallel(records, 3)
		if err != nil || pacc != acc || prej != rej || ran != c.want {
			t.Fatal(pacc, prej, ran, err, "want", acc, rej, c.want)
		}
		c1, _ := one.StageCounts()
		c2, _ := par.StageCounts()
		if !reflect.DeepEqual(c1, c2) {
			t.Fatal(c1, c2)
		}
		_, _, _, err = par.ApplyParallel(records, 0)
		wantCode(t, err, InvalidArgument, "threads is 0")
		one.Close()
		par.Close()
	}
}

func TestSpecJSON(t *testing.T) {
	m := mustMachine(t)
	data, err := m.SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Stages []struct {
			ID             string `json:"id"`
			Kind           string `json:"kind"`
			WinProbability int    `json:"win_probability"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Stages) != 3 || spec.Stages[2].ID != "c" || spec.Stages[2].Kind != "WON" ||
		spec.Stages[2].WinProbability != 100 || spec.Stages[0].Kind != "OPEN" {
		t.Fatalf("%+v", spec)
	}
	m.Close()
	if _, err := m.SpecJSON(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

func TestMachineStages(t *testing.T) {
	m := mustMachine(t)
	if m.InitialStage() != "a" {
		t.Fatal(m.InitialStage())
	}
	for name, want := range map[string]StageKind{"a": Open, "c": Won} {
		if k, err := m.StageKind(name); k != want || err != nil {
			t.Fatal(name, k, err)
		}
	}
	_, err := m.StageKind("nowhere")
	wantCode(t, err, NotFound, "nowhere")
}

// Keys and string attributes are bytes: Latin-1 and every byte value come
// back from a snapshot as they went in (issue 12).
func TestKeysAndStringsAreBytes(t *testing.T) {
	m := mustMachine(t)
	p, _ := NewPipeline(m)
	defer p.Close()
	latin1 := "Jos\xe9 M\xfcller"
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	a, err := p.AddWithKey(latin1, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.AddWithKey(string(every), 1)
	if err := p.Set(a, "source", string(every)); err != nil {
		t.Fatal(err)
	}
	_, q := roundTrip(t, m, p)
	defer q.Close()
	if d, err := q.FindByKey(latin1); d != a || err != nil {
		t.Fatal(d, err)
	}
	if d, err := q.FindByKey(string(every)); d != b || err != nil {
		t.Fatal(d, err)
	}
	if v, err := q.Get(a, "source"); v != string(every) || err != nil {
		t.Fatalf("%q %v", v, err)
	}
	j, _ := NewJourney(m, 0)
	defer j.Close()
	j.Set("source", latin1)
	jdata, _ := j.Save()
	k, err := LoadJourney(m, jdata)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if v, _ := k.Get("source"); v != latin1 {
		t.Fatalf("%q", v)
	}
}

func TestObservers(t *testing.T) {
	m := mustMachine(t)
	p, _ := NewPipeline(m)
	defer p.Close()
	var moves, rejections []Step
	token, err := p.AddObserver(func(s Step) { moves = append(moves, s) },
		func(s Step) { rejections = append(rejections, s) })
	if err != nil {
		t.Fatal(err)
	}
	d, _ := p.Add(0)
	p.Fire(d, "go", 5)
	p.Fire(d, "go", 6)
	if !reflect.DeepEqual(moves, []Step{{Deal: d, From: 0, To: 1, Event: 0, Time: 5, Outcome: Moved}}) ||
		!reflect.DeepEqual(rejections, []Step{{Deal: d, From: 1, To: 1, Event: 0, Time: 6, Outcome: NoTransition}}) {
		t.Fatal(moves, rejections)
	}
	if err := p.RemoveObserver(token); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.RemoveObserver(token), NotFound, "no observer is registered")

	p.AddObserver(func(s Step) { panic("observer broke") }, nil)
	_, err = p.Fire(d, "back", 7)
	var cb *CallbackError
	if !errors.As(err, &cb) || cb.Cause != "observer broke" || cb.Err.Code != Aborted {
		t.Fatalf("got %v", err)
	}
	if s, _, _ := p.Stage(d); s != 0 {
		t.Fatal("the step did not stand")
	}
}

func TestNamedGuardFailures(t *testing.T) {
	calls := 0
	m, err := MachineFromText(tiny, WithNamedGuard("big", func(deal DealView) (bool, error) {
		calls++
		if hot, err := deal.Bool("hot"); err != nil || hot {
			panic("guard broke")
		}
		if _, err := deal.Float64("budget"); err == nil {
			t.Error("a read of the wrong type succeeded")
		}
		_, err := deal.Int64("no_such_attribute")
		return false, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := NewJourney(m, 0)
	defer j.Close()
	j.Fire("go", 1)
	_, err = j.Fire("win", 2)
	var cb *CallbackError
	if !errors.As(err, &cb) || !strings.Contains(cb.Err.Message, `named guard "big"`) {
		t.Fatalf("got %v", err)
	}
	wantCode(t, cb.Cause.(error), NotFound, "no_such_attribute")
	j.Set("hot", true)
	_, err = j.Fire("win", 3)
	if !errors.As(err, &cb) || cb.Cause != "guard broke" {
		t.Fatalf("got %v", err)
	}
	if s, _, _ := j.Stage(); s != 1 || calls != 2 {
		t.Fatal(s, calls)
	}
}

func TestSnapshots(t *testing.T) {
	m := mustMachine(t)
	p, _ := NewPipeline(m)
	defer p.Close()
	for i := 0; i < 30; i++ {
		d, _ := p.AddWithID(uint64(1000+i), int64(i))
		p.Set(d, "source", "s"+string(rune('a'+i%26)))
	}
	p.Apply([]EventRecord{{0, 0, 50}, {2, 0, 51}})
	data, q := roundTrip(t, m, p)
	defer q.Close()
	c1, _ := p.StageCounts()
	c2, _ := q.StageCounts()
	if !reflect.DeepEqual(c1, c2) {
		t.Fatal(c1, c2)
	}
	if d, _ := q.FindByID(1029); d != 29 {
		t.Fatal(d)
	}
	damaged := append([]byte(nil), data...)
	damaged[len(damaged)/2] ^= 1
	_, err := LoadPipeline(m, damaged)
	wantCode(t, err, DataLoss, "checksum mismatch")
	_, err = LoadPipeline(m, data[:len(data)-1])
	wantCode(t, err, DataLoss, "")
	_, err = LoadPipeline(m, nil)
	wantCode(t, err, DataLoss, "")

	path := filepath.Join(t.TempDir(), "p.scp")
	if err := p.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	r, err := LoadPipelineFile(m, path)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	_, err = LoadPipelineFile(m, path+".missing")
	wantCode(t, err, NotFound, ".missing")
}

func TestJourney(t *testing.T) {
	m := mustMachine(t)
	j, err := NewJourney(m, 1000, HistoryLimit(4))
	if err != nil {
		t.Fatal(err)
	}
	var steps []Step
	j.AddObserver(func(s Step) { steps = append(steps, s) }, nil)
	if o, _ := j.Fire("go", 2000); o != Moved || len(steps) != 1 || steps[0].Deal != None {
		t.Fatal(o, steps)
	}
	j.Set("value", 48000.5)
	c, _ := j.Clone()
	c.Fire("back", 3000)
	if len(steps) != 1 {
		t.Fatal("the clone called the original's observer")
	}
	data, _ := c.Save()
	r, err := LoadJourney(m, data)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := r.Stage(); s != 0 {
		t.Fatal(s)
	}
	if v, _ := r.Get("value"); v != 48000.5 {
		t.Fatal(v)
	}
	_, err = LoadJourney(m, append([]byte{0xff}, data...))
	wantCode(t, err, DataLoss, "")
	c.Close()
	r.Close()
	j.Close()
}

func TestClosedHandles(t *testing.T) {
	m := mustMachine(t)
	p, _ := NewPipeline(m)
	j, _ := NewJourney(m, 0)
	m.Close()
	m.Close()
	if _, err := NewPipeline(m); err != ErrClosed {
		t.Fatal(err)
	}
	// The pipeline keeps what it needs of the machine, guards included.
	d, _ := p.Add(0)
	p.Fire(d, "go", 1)
	p.Set(d, "budget", int64(5000))
	if o, err := p.Fire(d, "win", 2); o != Moved || err != nil {
		t.Fatal(o, err)
	}
	p.Close()
	p.Close()
	j.Close()
	if _, err := p.Add(0); err != ErrClosed {
		t.Fatal(err)
	}
	if _, _, err := p.Apply([]EventRecord{{0, 0, 0}}); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := p.Save(); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := j.Fire("go", 1); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := p.AddObserver(func(Step) {}, nil); err != ErrClosed {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Fatal(p.Len())
	}
}

func TestFunnel(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m, Analytics(MonthCohort))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for d := uint32(0); d < 4; d++ {
		p.Add(1767225600 + int64(d))
		p.Set(d, "value", float64(100*(d+1)))
	}
	p.Fire(0, "go", 1767225700)
	p.Set(0, "budget", int64(5000))
	p.Fire(0, "win", 1767225800)
	data, err := p.Funnel(FunnelJSON, "value", nil)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Total struct {
			Deals, Won       uint64
			AverageDealValue float64 `json:"average_deal_value"`
			Stages           []struct{ Entered uint64 }
		}
		Cohorts []struct{ Label string }
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if report.Total.Deals != 4 || report.Total.Won != 1 || report.Total.AverageDealValue != 100 ||
		report.Total.Stages[1].Entered != 1 || report.Cohorts[0].Label != "2026-01" {
		t.Fatalf("%+v", report)
	}
	svg, err := p.Funnel(FunnelSVG, "", nil)
	if err != nil || !strings.HasPrefix(string(svg), "<svg ") {
		t.Fatal(err)
	}
	later := int64(1767225600 + 1000000)
	table, _ := p.Funnel(FunnelTable, "", &later)
	if !strings.Contains(string(table), "tiny v3 funnel") {
		t.Fatal(string(table))
	}
	_, err = p.Funnel(FunnelJSON, "nope", nil)
	wantCode(t, err, NotFound, "nope")
	_, err = p.Funnel(9, "", nil)
	wantCode(t, err, InvalidArgument, "format 9")
	plain, _ := NewPipeline(m)
	defer plain.Close()
	_, err = plain.Funnel(FunnelTable, "", nil)
	wantCode(t, err, FailedPrecondition, "analytics")

	quarterly, err := NewPipeline(m, Analytics(QuarterCohort))
	if err != nil {
		t.Fatal(err)
	}
	defer quarterly.Close()
	quarterly.Add(1775001599) // 2026-03-31T23:59:59Z
	quarterly.Add(1775001600) // 2026-04-01T00:00:00Z
	csv, err := quarterly.Funnel(FunnelCSV, "", nil)
	if err != nil || !strings.Contains(string(csv), "\r\n2026-Q1,") ||
		!strings.Contains(string(csv), "\r\n2026-Q2,") {
		t.Fatalf("%v\n%s", err, csv)
	}
}

func TestFunnelSlices(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m, Analytics(MonthCohort))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	jan, feb, mar := int64(1767225600), int64(1769904000), int64(1772323200)
	// Deal 0 added in January, won in February; deals 1 and 2 added in
	// February, 2 with a source.
	for _, added := range []int64{jan, feb, feb + 5} {
		p.Add(added)
	}
	p.Set(2, "source", "web")
	p.Fire(0, "go", feb+10)
	p.Set(0, "budget", int64(5000))
	p.Fire(0, "win", feb+20)
	data, err := p.FunnelWith(FunnelJSON, FunnelOptions{ClosedFrom: &feb, ClosedTo: &mar})
	if err != nil {
		t.Fatal(err)
	}
	var closes struct {
		Closes []struct {
			Label string
			Won   uint64
		}
		CloseWindow bool `json:"close_window"`
	}
	if err := json.Unmarshal(data, &closes); err != nil {
		t.Fatal(err)
	}
	if len(closes.Closes) != 1 || closes.Closes[0].Label != "2026-02" || closes.Closes[0].Won != 1 ||
		!closes.CloseWindow {
		t.Fatalf("%+v", closes)
	}
	state, err := p.FunnelStateWith(FunnelOptions{CreatedFrom: &feb, By: "source"})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	table, err := state.Report(FunnelTableInOrder)
	if err != nil || !strings.Contains(string(table), "2 deals added from 2026-02-01") ||
		!strings.Contains(string(table), "reached*") {
		t.Fatalf("%v\n%s", err, table)
	}
	notAMonth := feb + 1
	_, err = p.FunnelWith(FunnelJSON, FunnelOptions{ClosedFrom: &notAMonth})
	wantCode(t, err, InvalidArgument, "does not start a month")
	plain, _ := NewPipeline(m, Analytics(NoCohort))
	defer plain.Close()
	_, err = plain.FunnelWith(FunnelJSON, FunnelOptions{CreatedTo: &mar})
	wantCode(t, err, FailedPrecondition, "needs cohorts")
}

func TestFunnelStatesOfShardsMergeIntoTheWhole(t *testing.T) {
	m := mustMachine(t)
	shard := func(deals []uint32) *Pipeline {
		p, err := NewPipeline(m, Analytics(MonthCohort))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deals {
			deal, _ := p.Add(1767225600 + int64(d))
			p.Set(deal, "value", 100.5*float64(d+1))
			if d%2 == 0 {
				p.Fire(deal, "go", 1767225700+int64(d))
			}
		}
		return p
	}
	whole, even, odd := shard([]uint32{0, 1, 2, 3, 4, 5}), shard([]uint32{0, 2, 4}), shard([]uint32{1, 3, 5})
	defer whole.Close()
	defer even.Close()
	defer odd.Close()
	now := int64(1767225600 + 1000000)
	capture := func(p *Pipeline, at int64) *FunnelState {
		s, err := p.FunnelState("value", "", &at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	expected, _ := capture(whole, now).Report(FunnelJSON)
	state, other := capture(even, now), capture(odd, now)
	data, err := state.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	merged, err := ParseFunnelState(data, m) // m uses a named guard
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	_, err = ParseFunnelState(data, nil)
	wantCode(t, err, InvalidArgument, "named guard")
	merged, err = ParseFunnelState(data, m)
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	if err := merged.Merge(other); err != nil {
		t.Fatal(err)
	}
	got, err := merged.Report(FunnelJSON)
	if err != nil || string(got) != string(expected) {
		t.Fatalf("%v\n%s\n%s", err, got, expected)
	}
	direct, _ := whole.Funnel(FunnelJSON, "value", &now)
	if string(direct) != string(expected) {
		t.Fatal("the state's report is not the pipeline's")
	}
	wantCode(t, merged.Merge(capture(odd, now+1)), FailedPrecondition, "different moments")
	wantCode(t, merged.Merge(merged), FailedPrecondition, "cannot merge itself")
	_, err = merged.Report(9)
	wantCode(t, err, InvalidArgument, "format 9")
	_, err = whole.FunnelState("", "region", nil)
	wantCode(t, err, NotFound, "region")
	_, err = ParseFunnelState([]byte("SCFSTATE\x00\x00\x00\x00\x00\x00\x00\x00"), nil)
	wantCode(t, err, DataLoss, "funnel state")
	other.Close()
	if err := merged.Merge(other); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := other.Serialize(); err != ErrClosed {
		t.Fatal(err)
	}
}

func TestLimits(t *testing.T) {
	d := DefaultLimits()
	if d.Stages != 1024 || d.GuardDepth != 32 || d.SnapshotDeals != 1<<28 || d.HistoryEntries != 1<<26 ||
		d.HistoryLength != 1<<16 {
		t.Fatalf("defaults: %+v", d)
	}
	small := DefaultLimits()
	small.Stages = 2
	_, err := MachineFromText(tiny, WithNamedGuard("big", big), WithLimits(small))
	wantCode(t, err, InvalidArgument, "declares 3 stages, past Limits::max_stages (2)")
	small = DefaultLimits()
	small.SpecBytes = 10
	_, err = MachineFromFile(filepath.Join("testdata", "tiny.textproto"),
		WithNamedGuard("big", big), WithLimits(small))
	wantCode(t, err, InvalidArgument, "past Limits::max_spec_bytes (10)")

	m := mustMachine(t, WithLimits(DefaultLimits()))
	p, err := NewPipeline(m, HistoryLimit(50))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.AddWithKey("xxxxxxxxxx", 0)
	data, _ := p.Save()
	short := DefaultLimits()
	short.StringLength = 9
	_, err = LoadPipeline(m, data, LoadLimits(short))
	wantCode(t, err, InvalidArgument, "keys[0] is 10 bytes, past Limits::max_string_length (9)")
	shallow := DefaultLimits()
	shallow.HistoryLength = 49
	path := filepath.Join(t.TempDir(), "p.scp")
	if err := p.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPipelineFile(m, path, LoadLimits(shallow))
	wantCode(t, err, InvalidArgument, "history_limit is 50, past Limits::max_history_length (49)")
	q, err := LoadPipeline(m, data, LoadLimits(DefaultLimits()))
	if err != nil {
		t.Fatal(err)
	}
	q.Close()

	j, _ := NewJourney(m, 0, HistoryLimit(50))
	defer j.Close()
	jdata, _ := j.Save()
	_, err = LoadJourney(m, jdata, LoadLimits(shallow))
	wantCode(t, err, InvalidArgument, "journey snapshot: history_limit is 50")
	k, err := LoadJourney(m, jdata)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
}

func TestObserversMayReadButNotChangeTheirPipeline(t *testing.T) {
	m := mustMachine(t)
	p, _ := NewPipeline(m)
	defer p.Close()
	d, _ := p.Add(0)
	var errs []error
	var sizes []int
	second := 0
	p.AddObserver(func(s Step) {
		sizes = append(sizes, p.Len()) // reading is fine
		_, err := p.AddObserver(func(Step) {}, nil)
		errs = append(errs, err)
		_, err = p.Add(1)
		errs = append(errs, err)
		_, err = p.Fire(d, "go", 2)
		errs = append(errs, err)
		errs = append(errs, p.Set(d, "budget", int64(1)))
		errs = append(errs, p.Close())
	}, nil)
	p.AddObserver(func(Step) { second++ }, nil)
	if o, err := p.Fire(d, "go", 1); err != nil || o != Moved {
		t.Fatal(o, err)
	}
	if len(errs) != 5 || second != 1 || !reflect.DeepEqual(sizes, []int{1}) {
		t.Fatal(errs, second, sizes)
	}
	for _, err := range errs {
		wantCode(t, err, FailedPrecondition, "")
	}
	if p.Len() != 1 {
		t.Fatal("the pipeline should be open and unchanged")
	}
}

// tests/data/crm.textproto: entry stages, moves by stage, activities, loss
// reasons, reopening and repeat purchases.
func crmMachine(t *testing.T) *Machine {
	t.Helper()
	m, err := MachineFromFile(filepath.Join("testdata", "crm.textproto"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func wantOutcome(t *testing.T, got Outcome, err error, want Outcome) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

func TestSalesModelPipeline(t *testing.T) {
	m := crmMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := p.AddWithKeyInStage("a", "demo", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.AddWithIDInStage(7, "", 0)
	c, _ := p.AddInStage("lead", 0)
	if s, _, _ := p.Stage(a); s != 2 {
		t.Fatalf("created in stage %d, want demo (2)", s)
	}
	_, err = p.AddInStage("won", 0)
	wantCode(t, err, InvalidArgument, `stage "won" is not an entry stage`)
	_, err = p.AddInStage("nowhere", 0)
	wantCode(t, err, NotFound, `has no stage "nowhere"`)
	o, err := p.MoveTo(b, "proposal", 10)
	wantOutcome(t, o, err, Moved)
	o, err = p.MoveToID(b, 3, 20)
	wantOutcome(t, o, err, Activity)
	o, err = p.MoveTo(b, "won", 30)
	wantOutcome(t, o, err, MissingAttribute)
	o, err = p.Fire(a, "call", 40)
	wantOutcome(t, o, err, Activity)
	if l, err := p.Lifecycle(a); err != nil || l != (Lifecycle{40, None, 1}) {
		t.Fatalf("lifecycle %+v, %v", l, err)
	}
	if n, _ := p.AdvanceTo(140); n != 1 { // demo goes cold 100 s after the call
		t.Fatalf("fired %d timeouts, want 1", n)
	}
	if r, err := p.LossReason(a); err != nil || r != "go_cold" {
		t.Fatalf("loss reason %q, %v", r, err)
	}
	o, err = p.Reopen(a, 150)
	wantOutcome(t, o, err, Moved)
	o, err = p.Reopen(a, 160)
	wantOutcome(t, o, err, NotReopenable)
	if err := p.Set(c, "amount", 5.0); err != nil {
		t.Fatal(err)
	}
	p.MoveTo(c, "won", 170)
	o, err = p.Fire(c, "repurchase", 180)
	wantOutcome(t, o, err, Moved)
	if l, _ := p.Lifecycle(c); l.Cycle != 2 {
		t.Fatalf("cycle %d, want 2", l.Cycle)
	}
	acc, rej, err := p.ApplyMoves([]StageRecord{{b, 1, 190}, {b, 1, 200}, {c, 5, 210}})
	if err != nil || acc != 3 || rej != 0 {
		t.Fatalf("ApplyMoves: %d, %d, %v", acc, rej, err)
	}
	_, _, err = p.ApplyMoves([]StageRecord{{b, 99, 220}})
	wantCode(t, err, InvalidArgument, "records[0]: stage id 99 is out of range")
	_, q := roundTrip(t, m, p)
	defer q.Close()
	if l, _ := q.Lifecycle(c); l.Cycle != 2 {
		t.Fatalf("restored cycle %d, want 2", l.Cycle)
	}
}

func TestSalesModelJourney(t *testing.T) {
	m := crmMachine(t)
	j, err := NewJourneyInStage(m, "demo", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	o, err := j.Fire("call", 5)
	wantOutcome(t, o, err, Activity)
	o, err = j.MoveTo("lost", 6)
	wantOutcome(t, o, err, Moved)
	if l, _ := j.Lifecycle(); l != (Lifecycle{5, 2, 1}) {
		t.Fatalf("lifecycle %+v", l)
	}
	if r, _ := j.LossReason(); r != "" {
		t.Fatalf("loss reason %q", r)
	}
	o, err = j.Reopen(7)
	wantOutcome(t, o, err, Moved)
	o, err = j.MoveToID(3, 8)
	wantOutcome(t, o, err, Moved)
	_, err = NewJourneyInStage(m, "proposal", 0)
	wantCode(t, err, InvalidArgument, "is not an entry stage")
}
