package candidate

import (
	"fmt"

	"github.com/rewind/rewind/aggregate/schedule"
)

// The candidate builds of the walk through a logic change.
var (
	// PhotoCountBug is the released build: its handler multiplies photo
	// counts by ten, one logic version before this code, which is its fix.
	PhotoCountBug = []Edit{
		{File: "aggregate/schedule/photos.go", Old: "Count: e.Count, At: env.Time", New: "Count: e.Count * 10, At: env.Time"},
		{File: "aggregate/schedule/doc.go", Old: fmt.Sprintf("const LogicVersion = %d", schedule.LogicVersion),
			New: fmt.Sprintf("const LogicVersion = %d", schedule.LogicVersion-1)},
	}
	// WrongUpcaster records every cancellation written before anyone was
	// asked who canceled as canceled by the patient.
	WrongUpcaster = []Edit{
		{File: "aggregate/schedule/reservation.go", Old: "ReservationCanceled{By: CanceledByUnrecorded, Reason: e.Reason}",
			New: "ReservationCanceled{By: CanceledByPatient, Reason: e.Reason}"},
	}
)
