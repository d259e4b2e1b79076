package salescycle

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Input positions (Pipeline::ApplyAt): a batch at offsets applied before is
// skipped; positions travel in snapshots and in a durable pipeline's journal.
func TestPositionsMakeAReplayExactlyOnce(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	goID, _ := m.EventID("go")
	var batch []EventRecord
	for i := 0; i < 4; i++ {
		d, err := p.Add(1)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, EventRecord{Deal: d, Event: goID, Time: 10 + int64(i)})
	}
	if got, err := p.ApplyAt("export.csv", 0, batch[:2], false); err != nil || got != (BatchAt{2, 0, 0}) {
		t.Fatalf("ApplyAt = %+v, %v", got, err)
	}
	snapshot, err := p.Save()
	if err != nil {
		t.Fatal(err)
	}
	q, err := LoadPipeline(m, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if got, err := q.ApplyAt("export.csv", 0, batch, true); err != nil || got != (BatchAt{2, 0, 2}) {
		t.Errorf("the replay = %+v, %v; want 2 applied, 2 skipped", got, err)
	}
	bStage, _ := m.StageID("b")
	if got, err := q.ApplyMovesAt("moves", 5, []StageRecord{{Deal: 0, Stage: bStage, Time: 50}}, false); err != nil || got.Skipped != 0 {
		t.Errorf("ApplyMovesAt = %+v, %v", got, err)
	}
	if pos, err := q.Position("export.csv"); err != nil || pos != 4 {
		t.Errorf("Position = %d, %v", pos, err)
	}
	if all, err := q.Positions(); err != nil || !reflect.DeepEqual(all, map[string]uint64{"export.csv": 4, "moves": 6}) {
		t.Errorf("Positions = %v, %v", all, err)
	}
	if _, err := q.ApplyAt("", 0, batch, false); err == nil || !strings.Contains(err.Error(), "named by 1 to 1024 bytes") {
		t.Errorf("an empty source: %v", err)
	}
	if _, err := q.ApplyAt("bad\xff", 0, batch, false); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("a source that is not UTF-8: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "db")
	d, err := OpenDurable(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	for range batch {
		if _, err := d.Add("", 1); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := d.ApplyAt("in", 0, batch, false); err != nil || got != (BatchAt{4, 0, 0}) {
		t.Fatalf("durable ApplyAt = %+v, %v", got, err)
	}
	d.Close()
	d, err = OpenDurable(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.ApplyMovesAt("in", 3, []StageRecord{{Deal: 0, Stage: bStage, Time: 60}}, false); err != nil || got.Skipped != 1 {
		t.Errorf("after a reopen: %+v, %v; want the record skipped", got, err)
	}
}
