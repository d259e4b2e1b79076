package salescycle

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// DurablePipeline (issue 15): changes survive a close and a reopen, reads
// through a lent view, many goroutines at once, misuse refused.

func TestDurableChangesSurviveAReopen(t *testing.T) {
	m := mustMachine(t)
	dir := filepath.Join(t.TempDir(), "db")
	d, err := OpenDurable(m, dir, WithPipeline(Analytics(NoCohort)))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := d.Recovery(); err != nil || !reflect.DeepEqual(r, Recovery{}) {
		t.Fatalf("a new directory's recovery: %+v, %v", r, err)
	}
	acme, err := d.AddWithKey("acme", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddWithID(42, "", 1); err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		name  string
		value interface{}
	}{{"budget", int64(5000)}, {"source", "referral"}, {"value", 12.5}, {"hot", true}} {
		if err := d.Set(acme, set.name, set.value); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := d.Fire(acme, "go", 10); err != nil || o != Moved {
		t.Fatalf("Fire: %v, %v", o, err)
	}
	if a, r, err := d.Apply([]EventRecord{{Deal: acme, Event: 2, Time: 11}, {Deal: 1, Event: 1, Time: 12}}, true); err != nil || a != 1 || r != 1 {
		t.Fatalf("Apply: %d, %d, %v", a, r, err)
	}
	if _, err := d.MoveTo(acme, "b", 13); err != nil {
		t.Fatal(err)
	}
	if fired, err := d.AdvanceTo(1000); err != nil || fired != 1 {
		t.Fatalf("AdvanceTo: %d, %v", fired, err) // deal 1 times out of a
	}
	var before []byte
	if err := d.Read(func(p *Pipeline) (err error) { before, err = p.Save(); return }); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add("", 0); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
	d, err = OpenDurable(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := d.Recovery()
	if err != nil || r.Changes != 10 || r.TornTail {
		t.Fatalf("recovery: %+v, %v", r, err)
	}
	var after []byte
	var source interface{}
	if err := d.Read(func(p *Pipeline) (err error) {
		if after, err = p.Save(); err != nil {
			return err
		}
		source, err = p.Get(acme, "source")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) || source != "referral" {
		t.Fatalf("the state after a reopen differs (source %v)", source)
	}
	if err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot-2")); err != nil {
		t.Fatal(err)
	}
}

func TestDurableMisuseIsAnError(t *testing.T) {
	m := mustMachine(t)
	dir := filepath.Join(t.TempDir(), "db")
	d, err := OpenDurable(m, dir, Sync(SyncNone, 0))
	if err != nil {
		t.Fatal(err)
	}
	deal, _ := d.Add("", 0)
	_, err = OpenDurable(m, dir)
	wantCode(t, err, FailedPrecondition, "open elsewhere")
	wantCode(t, d.Set(deal, "budget", true), InvalidArgument, "takes int64, not bool")
	var kept *Pipeline
	err = d.Read(func(p *Pipeline) error {
		kept = p
		_, err := p.Fire(deal, "go", 1)
		wantCode(t, err, FailedPrecondition, "")
		_, err = d.Add("", 1)
		wantCode(t, err, FailedPrecondition, "from inside its own Read")
		wantCode(t, p.Close(), FailedPrecondition, "ends with the read")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.StageCounts(); err != ErrClosed {
		t.Fatalf("the view after the read: %v", err)
	}
	var ce *CallbackError
	if err := d.Read(func(p *Pipeline) error { panic("boom") }); !asCallbackError(err, &ce) || ce.Cause != "boom" {
		t.Fatalf("a panicking read: %v", err)
	}
	d.Close()
	_, err = OpenDurable(m, dir, Sync(SyncInterval, 0))
	wantCode(t, err, InvalidArgument, "interval_ms is 0")
	journal := filepath.Join(dir, "journal-1")
	data, _ := os.ReadFile(journal)
	data[20] ^= 0xFF
	os.WriteFile(journal, data, 0o644)
	_, err = OpenDurable(m, dir)
	wantCode(t, err, DataLoss, "at offset 16 (record 1;")
	d, err = OpenDurable(m, dir, Salvage())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Recovery(); !r.Salvaged || r.Changes != 0 {
		t.Fatalf("salvaged: %+v", r)
	}
	d.Close()
}

func asCallbackError(err error, out **CallbackError) bool {
	ce, ok := err.(*CallbackError)
	*out = ce
	return ok
}

func TestDurableFromManyGoroutinesAndACloseUnderWay(t *testing.T) {
	m := mustMachine(t)
	dir := filepath.Join(t.TempDir(), "db")
	d, err := OpenDurable(m, dir, Sync(SyncInterval, 1))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				if _, err := d.AddWithKey(string(rune('a'+g))+string(rune('0'+k%10))+string(rune('A'+k/10)), "", int64(k)); err != nil {
					if err != ErrClosed {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
					return
				}
			}
		}(g)
	}
	d.Close() // while the goroutines write: they get ErrClosed, never a crash
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	d, err = OpenDurable(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, _ := d.Recovery()
	var n int
	d.Read(func(p *Pipeline) error { n = p.Len(); return nil })
	if uint64(n) != r.Changes {
		t.Fatalf("%d deals from %d journaled adds", n, r.Changes)
	}
}

// issue 15: two goroutines on one Pipeline crashed the process, and a Close
// from another goroutine freed it under a call. Calls now take turns, Close
// waits for the one under way, and an observer may still read its pipeline
// from inside the call that runs it.
func TestPipelineFromManyGoroutinesAndACloseUnderWay(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	if _, err := p.AddObserver(func(Step) {
		if n := p.Len(); n > 0 { // a read of its own pipeline: goes through
			seen++
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 2000; k++ {
				deal, err := p.Add(int64(k))
				if err == nil {
					_, err = p.Fire(deal, "go", int64(k+1))
				}
				if err != nil {
					if err != ErrClosed {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	if n := p.Len(); n != 8000 {
		t.Fatalf("%d deals from 8000 adds on 4 goroutines", n)
	}
	if seen != 8000 {
		t.Fatalf("the observer read its pipeline %d times, not 8000", seen)
	}
	// A Close from another goroutine while others call: never a crash.
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := p.Add(0); err != nil {
					if err != ErrClosed {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(failures)
	}
}

// issue 15: observers saw only steps; a host could not keep its own log.
func TestChangeObserversSeeAddsRemovalsAndSets(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var changes []Change
	token, err := p.AddChangeObserver(func(c Change) { changes = append(changes, c) })
	if err != nil {
		t.Fatal(err)
	}
	acme, _ := p.AddWithKey("acme", 10)
	if err := p.Set(acme, "budget", int64(5000)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddWithKey("acme", 11); err == nil {
		t.Fatal("a key in use was added")
	}
	if err := p.Remove(acme); err != nil {
		t.Fatal(err)
	}
	budget, _ := m.AttributeID("budget")
	want := []Change{{ChangeAdd, 0, 0, 10}, {ChangeSet, 0, budget, 0}, {ChangeRemove, 0, NoID, 0}}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes %+v, want %+v", changes, want)
	}
	if err := p.RemoveObserver(token); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddChangeObserver(func(Change) { panic("index full") }); err != nil {
		t.Fatal(err)
	}
	var ce *CallbackError
	if _, err := p.Add(12); !asCallbackError(err, &ce) || ce.Cause != "index full" {
		t.Fatalf("a panicking change observer: %v", err)
	}
	if p.Len() != 1 {
		t.Fatalf("the add does not stand: %d deals", p.Len())
	}
}

// issue 16: the deals in a stage and the columns, whole, in one call each.
func TestColumnsComeOutWhole(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, _ := p.AddWithID(7, 10)
	b, _ := p.Add(11)
	c, _ := p.AddWithID(9, 12)
	if _, err := p.Fire(b, "go", 20); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(c); err != nil {
		t.Fatal(err)
	}
	if got, err := p.DealsInStage("a"); err != nil || !reflect.DeepEqual(got, []uint32{a}) {
		t.Fatalf("DealsInStage(a) = %v, %v", got, err)
	}
	if got, _ := p.DealsInStage("c"); len(got) != 0 {
		t.Fatalf("DealsInStage(c) = %v", got)
	}
	stageA, _ := m.StageID("a")
	stageB, _ := m.StageID("b")
	if got, err := p.StageColumn(); err != nil || !reflect.DeepEqual(got, []uint32{stageA, stageB, NoID}) {
		t.Fatalf("StageColumn = %v, %v", got, err)
	}
	if got, err := p.EnteredAtColumn(); err != nil || !reflect.DeepEqual(got, []int64{10, 20, 0}) {
		t.Fatalf("EnteredAtColumn = %v, %v", got, err)
	}
	ids, has, err := p.IDColumn()
	if err != nil || !reflect.DeepEqual(ids, []uint64{7, 0, 0}) || !reflect.DeepEqual(has, []bool{true, false, false}) {
		t.Fatalf("IDColumn = %v, %v, %v", ids, has, err)
	}
}
