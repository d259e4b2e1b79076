package salescycle

import (
	"strings"
	"testing"
)

// Bulk calls (issue 17): keys found and added, attribute columns, records
// as columns, each in one C call.
func TestBulk(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	acme, err := p.AddWithKey("acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	deals, added, err := p.AddKeys([]string{"globex", "acme", "initech", "globex"}, []int64{5, 6, 7, 8})
	if err != nil || added != 2 || deals[1] != acme || deals[0] != deals[3] {
		t.Fatalf("AddKeys = %v, %d, %v", deals, added, err)
	}
	found, err := p.FindKeys([]string{"initech", "nobody", "acme"})
	if err != nil || found[0] != deals[2] || found[1] != None || found[2] != acme {
		t.Errorf("FindKeys = %v, %v", found, err)
	}
	three := []uint32{acme, deals[0], deals[2]}
	if err := p.SetInt64Column("budget", three, []int64{1000, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetDoubleColumn("value", three, []float64{1.5, 2.5, 3.5}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetBoolColumn("hot", three, []bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetStringColumn("source", three, []string{"web", "event", "referral"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(deals[2], "source"); v != "referral" {
		t.Errorf("source = %v", v)
	}
	if v, _ := p.Get(acme, "budget"); v != int64(1000) {
		t.Errorf("budget = %v", v)
	}
	if err := p.SetInt64Column("budget", []uint32{acme, 99}, []int64{5, 6}); err == nil ||
		!strings.Contains(err.Error(), "deals[1]: deal 99 is not live") {
		t.Errorf("a deal not live: %v", err)
	}
	if v, _ := p.Get(acme, "budget"); v != int64(1000) {
		t.Errorf("a failed column set something: budget = %v", v)
	}
	if err := p.SetInt64Column("budget", three, []int64{1}); err == nil {
		t.Error("3 deals and 1 value were set")
	}
	goID, _ := m.EventID("go")
	winID, _ := m.EventID("win")
	a, r, err := p.ApplyColumns([]uint32{acme, acme, deals[0]}, []uint32{goID, winID, winID}, []int64{10, 11, 12})
	if err != nil || a != 2 || r != 1 {
		t.Errorf("ApplyColumns = %d, %d, %v", a, r, err)
	}
	if _, _, err := p.ApplyColumns([]uint32{acme}, nil, nil); err == nil {
		t.Error("columns of different lengths were applied")
	}
}

func TestIngest(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	text := []byte("deal,time,event\nacme,100,go\nglobex,101,nope\nacme,102,win\n")
	got, err := p.Ingest(text, RowsAuto, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != 3 || got.BadRows != 1 || got.Accepted != 1 || got.Rejected != 1 || got.Added != 1 ||
		got.LastTime != 102 || !strings.HasPrefix(got.FirstBad, "3: ") {
		t.Errorf("Ingest = %+v", got)
	}
	q, _ := NewPipeline(m)
	defer q.Close()
	if _, err := q.Ingest(text, RowsCSV, true); err == nil || !strings.Contains(err.Error(), "line 3: ") {
		t.Errorf("strict: %v", err)
	}
	if _, err := q.Ingest(text, RowFormat(9), false); err == nil {
		t.Error("format 9 was read")
	}
}
