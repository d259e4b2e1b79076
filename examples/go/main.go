// Five deals through the B2B template with the Go package, then the stage
// counts: the same moves and lines as examples/c/b2b.c.
//
//	go run . ../machines/b2b.textproto
//
// (pkg-config finds the library: after `cmake --install` to /usr/local with
// nothing set, to another prefix with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig).
package main

import (
	"fmt"
	"log"
	"os"

	"salescycle.dev/salescycle"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: b2b MACHINE.textproto")
	}
	machine, err := salescycle.MachineFromFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer machine.Close()
	pipeline, err := salescycle.NewPipeline(machine)
	if err != nil {
		log.Fatal(err)
	}
	defer pipeline.Close()

	now := int64(1767225600) // 2026-01-01
	deals := map[string]uint32{}
	for _, name := range []string{"acme", "globex", "initech", "umbrella", "hooli"} {
		if deals[name], err = pipeline.AddWithKey(name, now); err != nil {
			log.Fatal(err)
		}
	}
	fire := func(name, event string) {
		now += 86400
		outcome, err := pipeline.Fire(deals[name], event, now)
		if err != nil {
			log.Fatal(err)
		}
		if outcome != salescycle.Moved {
			fmt.Printf("%s: %s rejected (%s)\n", name, event, outcome)
		}
	}
	set := func(attribute string, value interface{}) {
		if err := pipeline.Set(deals["acme"], attribute, value); err != nil {
			log.Fatal(err)
		}
	}

	// acme: qualified on BANT, presented, negotiated, closed, won.
	fire("acme", "contact")
	fire("acme", "qualify")
	set("budget", int64(50000))
	set("authority", true)
	set("need", true)
	set("timeline_days", int64(90))
	fire("acme", "present")
	set("deal_value", 48000.0)
	fire("acme", "negotiate")
	set("decision_maker", "CFO")
	fire("acme", "close")
	fire("acme", "win")
	// globex: no BANT yet, so the presentation is refused.
	fire("globex", "contact")
	fire("globex", "qualify")
	fire("globex", "present")
	fire("initech", "contact")
	fire("umbrella", "disqualify")

	counts, err := pipeline.StageCounts()
	if err != nil {
		log.Fatal(err)
	}
	for s, stage := range machine.Stages() {
		fmt.Printf("%s: %d\n", stage, counts[s])
	}
}
