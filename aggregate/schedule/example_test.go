package schedule_test

import (
	"fmt"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
)

// A visit from reservation to check-out, then a trip back in time to the
// moment the first procedure was running.
func Example() {
	d := schedule.Definition
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	visit := []struct{ typ, data string }{
		{"Reserve", `{"visitorId":"v-42","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:30:00Z","procedures":["botox"]}`},
		{"CheckIn", `{"channel":"kiosk"}`},
		{"StartConsultation", `{"counselorId":"counselor-1"}`},
		{"CompleteConsultation", `{"procedures":["laser"]}`},
		{"StartProcedure", `{"procedureId":"botox","doctorId":"dr-kim"}`},
		{"StartProcedure", `{"procedureId":"laser","doctorId":"dr-lee"}`}, // rejected
		{"CompleteProcedure", `{"procedureId":"botox"}`},
		{"CheckOut", `{}`},
	}
	state, version := d.Seed(), uint64(0)
	var log []aggregate.Envelope
	for i, step := range visit {
		cmd, err := d.DecodeCommand(step.typ, []byte(step.data))
		if err != nil {
			fmt.Println(err)
			continue
		}
		meta := aggregate.Meta{ID: fmt.Sprint("cmd-", i), Tenant: "clinic-1", Stream: "visit-1",
			Initiator: "desk", Time: start.Add(time.Duration(i) * 10 * time.Minute)}
		next, events, err := d.Execute(state, version, step.typ, cmd, meta)
		if err != nil {
			fmt.Printf("%-20s rejected: %s\n", step.typ, aggregate.CodeOf(err))
			continue
		}
		state, version = next, version+uint64(len(events))
		log = append(log, events...)
		fmt.Printf("%-20s → v%d %s\n", step.typ, version, events[0].Type)
	}
	fmt.Println("now:", state.Status, "procedures:", state.Procedures.Len())

	then, v := d.RehydrateVersion(log, 5)
	fmt.Println("at v5:", then.Status, "activity:", then.Activity, "planned:", then.Planned)
	at, v := d.RehydrateAt(log, start.Add(15*time.Minute))
	fmt.Printf("at 09:15: v%d %s\n", v, at.Status)
	// Output:
	// Reserve              → v1 Reserved
	// CheckIn              → v2 CheckedIn
	// StartConsultation    → v3 ConsultationStarted
	// CompleteConsultation → v4 ConsultationCompleted
	// StartProcedure       → v5 ProcedureStarted
	// StartProcedure       rejected: procedure_in_progress
	// CompleteProcedure    → v6 ProcedureCompleted
	// CheckOut             → v7 CheckedOut
	// now: checked_out procedures: 1
	// at v5: checked_in activity: procedure planned: [botox laser]
	// at 09:15: v2 checked_in
}
