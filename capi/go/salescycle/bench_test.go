package salescycle

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The Go package on a cycle9 stream written by gen_workload.py
// (SCWL0001), named by $SC_WORKLOAD:
//
//	SC_WORKLOAD=build/tests/workloads/cycle9_e1000000_j100000_s42.scwl \
//	  go test -run '^$' -bench . -count 5
//
// BenchmarkApply replays the whole stream through Pipeline.Apply on a fresh
// pipeline per iteration (accepted must equal the generator's figure);
// BenchmarkFire is one Pipeline.FireID per event (ns/op is per call).

func readWorkload(b *testing.B) (uint32, []EventRecord) {
	path := os.Getenv("SC_WORKLOAD")
	if path == "" {
		b.Skip("SC_WORKLOAD is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 32 || string(data[:8]) != "SCWL0001" {
		b.Fatalf("%s: not an SCWL0001 workload (%v)", path, err)
	}
	n := binary.LittleEndian.Uint64(data[8:])
	journeys := binary.LittleEndian.Uint32(data[16:])
	records := make([]EventRecord, n)
	for i := range records {
		r := data[32+8*i:]
		records[i] = EventRecord{Deal: binary.LittleEndian.Uint32(r),
			Event: binary.LittleEndian.Uint32(r[4:]), Time: int64(i)}
	}
	return journeys, records
}

func freshPipeline(b *testing.B, journeys uint32) (*Machine, *Pipeline) {
	m, err := MachineFromFile(filepath.Join("testdata", "cycle9.textproto"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPipeline(m, ExpectedDeals(uint64(journeys)))
	if err != nil {
		b.Fatal(err)
	}
	for j := uint32(0); j < journeys; j++ {
		if _, err := p.Add(0); err != nil {
			b.Fatal(err)
		}
	}
	return m, p
}

var sink int64

func BenchmarkApply(b *testing.B) {
	journeys, records := readWorkload(b)
	var accepted uint64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		m, p := freshPipeline(b, journeys)
		// Read the batch once, as a caller that has just built it would
		// have it in cache (the C and C++ benchmarks reuse theirs hot).
		var touch int64
		for i := range records {
			touch += records[i].Time
		}
		sink = touch
		b.StartTimer()
		start := time.Now()
		a, _, err := p.Apply(records)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		accepted = a
		b.StopTimer()
		p.Close()
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(records))*float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(accepted), "accepted")
}

func BenchmarkFire(b *testing.B) {
	journeys, records := readWorkload(b)
	m, p := freshPipeline(b, journeys)
	defer m.Close()
	defer p.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := records[i%len(records)]
		if _, err := p.FireID(r.Deal, r.Event, r.Time); err != nil {
			b.Fatal(err)
		}
	}
}
