package candidate

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// The candidate builds of the walk through a logic change.
const (
	// PhotoCountBug is the released build: its handler multiplies photo
	// counts by ten, one logic version before this code, which is its fix.
	PhotoCountBug Tag = "rewind_candidate_photobug"
	// WrongUpcaster records every cancellation written before anyone was
	// asked who canceled as canceled by the patient.
	WrongUpcaster Tag = "rewind_candidate_wrongupcast"
)

// PhotoVisit is the visit of the walk that shows the bug: a walk-in
// photographed in two sessions (3 before, 2 after) and checked out, a
// minute apart from at, with ids stream-0 to stream-3.
func PhotoVisit(tenant, stream string, at time.Time) []*kgo.Record {
	steps := [][2]string{
		{"CheckIn", `{"channel":"desk","visitorId":"p-` + stream + `"}`},
		{"TakePhotos", `{"kind":"before","count":3}`},
		{"TakePhotos", `{"kind":"after","count":2}`},
		{"CheckOut", `{}`},
	}
	recs := make([]*kgo.Record, len(steps))
	for i, s := range steps {
		m := aggregate.Meta{ID: fmt.Sprintf("%s-%d", stream, i), Tenant: tenant, Stream: stream, Initiator: "front-desk",
			Time: at.Add(time.Duration(i) * time.Minute)}
		recs[i] = topics.CommandRecord(s[0], m, []byte(s[1]))
	}
	return recs
}
