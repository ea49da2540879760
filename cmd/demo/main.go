// Command demo walks one clinic visit through the Schedule domain and
// travels back in time through its events. It uses the pure domain only:
// no Kafka, no services.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	d := schedule.Definition
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	steps := []struct{ who, typ, data string }{
		{"web", "Reserve", `{"visitorId":"v-42","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:30:00Z","procedures":["botox"],"channel":"web"}`},
		{"kiosk", "CheckIn", `{"channel":"kiosk"}`},
		{"counselor-1", "StartConsultation", `{"counselorId":"counselor-1"}`},
		{"counselor-1", "CompleteConsultation", `{"procedures":["laser"]}`},
		{"nurse-3", "TakePhotos", `{"kind":"before","count":4}`},
		{"dr-kim", "StartProcedure", `{"procedureId":"botox","doctorId":"dr-kim"}`},
		{"dr-lee", "StartProcedure", `{"procedureId":"laser","doctorId":"dr-lee"}`},
		{"dr-kim", "CompleteProcedure", `{"procedureId":"botox"}`},
		{"dr-lee", "StartProcedure", `{"procedureId":"laser","doctorId":"dr-lee"}`},
		{"dr-lee", "CompleteProcedure", `{"procedureId":"laser"}`},
		{"nurse-3", "StartAftercare", `{}`},
		{"nurse-3", "CompleteAftercare", `{}`},
		{"desk", "CheckOut", `{}`},
		{"desk", "CheckIn", `{"channel":"desk"}`},
	}
	state, version := d.Seed(), uint64(0)
	var log []aggregate.Envelope
	fmt.Println("A visit, command by command:")
	for i, s := range steps {
		at := start.Add(time.Duration(i) * 12 * time.Minute)
		cmd, err := d.DecodeCommand(s.typ, []byte(s.data))
		if err != nil {
			return err
		}
		meta := aggregate.Meta{ID: fmt.Sprint("cmd-", i+1), Tenant: "clinic-1", Stream: "visit-1", Initiator: s.who, Time: at}
		next, events, err := d.Execute(state, version, s.typ, cmd, meta)
		if err != nil {
			fmt.Printf("  %s  %-12s %-21s rejected: %v\n", at.Format("15:04"), s.who, s.typ, err)
			continue
		}
		state, version = next, version+uint64(len(events))
		log = append(log, events...)
		fmt.Printf("  %s  %-12s %-21s → v%d %s\n", at.Format("15:04"), s.who, s.typ, version, events[0].Type)
	}
	fmt.Printf("\nNow (v%d): %s, %d procedures, %d photo sessions\n", version, state.Status, len(state.Procedures), len(state.Photos))
	for _, v := range []uint64{2, 6} {
		then, _ := d.RehydrateVersion(log, v)
		fmt.Printf("Back at v%d: status %s, activity %q, planned %v\n", v, then.Status, then.Activity, then.Planned)
	}
	at := start.Add(100 * time.Minute)
	then, v := d.RehydrateAt(log, at)
	fmt.Printf("As it was at %s: v%d, status %s, activity %q\n", at.Format("15:04"), v, then.Status, then.Activity)
	return nil
}
