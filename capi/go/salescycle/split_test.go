package salescycle

import (
	"errors"
	"fmt"
	"sort"
	"testing"
)

// 8 groups from 3 owners to 2, as partition_test.cc computes by hand.
func TestRescalePlan(t *testing.T) {
	g, err := NewKeyGroups(8)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := g.RescalePlan(3, 2)
	want := []RescalePart{{0, 0, 0, 3, true}, {1, 0, 3, 4, true}, {1, 1, 4, 6, false}, {2, 1, 6, 8, true}}
	if err != nil || fmt.Sprint(plan) != fmt.Sprint(want) {
		t.Errorf("RescalePlan(3, 2) = %v, %v; want %v", plan, err, want)
	}
	if _, err := g.RescalePlan(0, 2); err == nil {
		t.Error("RescalePlan(0, 2) did not fail")
	}
}

// A pipeline split by key groups into two parts, one with the counters,
// joins back into the same funnel; bad parts are named.
func TestSplitAndJoin(t *testing.T) {
	m := mustMachine(t)
	p, err := NewPipeline(m, Analytics(NoCohort))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	keys := make([]string, 30)
	times := make([]int64, 30)
	for i := range keys {
		keys[i], times[i] = fmt.Sprintf("deal-%d", i), int64(i)
	}
	if _, _, err := p.AddKeys(keys, times); err != nil {
		t.Fatal(err)
	}
	low, err := p.DealsInKeyGroups(8, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	high, err := p.DealsInKeyGroups(8, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]uint32{}, low...), high...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) != 30 || all[0] != 0 || all[29] != 29 {
		t.Fatalf("the groups' deals = %v", all)
	}
	a, err := p.SavePart(low, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.SavePart(high, false)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := LoadParts(m, [][]byte{a, b})
	if err != nil {
		t.Fatal(err)
	}
	defer joined.Close()
	want, _ := p.Funnel(FunnelJSON, "", nil)
	got, _ := joined.Funnel(FunnelJSON, "", nil)
	if joined.Len() != 30 || string(got) != string(want) {
		t.Errorf("joined: %d deals, funnel %q, want %q", joined.Len(), got, want)
	}
	var e *Error
	if _, err := LoadParts(m, [][]byte{a, a}); !errors.As(err, &e) || e.Code != DataLoss {
		t.Errorf("a part twice: %v", err)
	}
	if _, err := LoadParts(m, nil); !errors.As(err, &e) || e.Code != InvalidArgument {
		t.Errorf("no parts: %v", err)
	}
	if _, err := p.SavePart([]uint32{2, 2}, false); !errors.As(err, &e) || e.Code != InvalidArgument {
		t.Errorf("a deal twice: %v", err)
	}
}
