package aggregate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
)

// A meter whose Measured event changed shape twice: version 1 had a
// count, version 2 renamed it to amount, version 3 added a unit (the data
// of older versions was in millilitres).

type meter struct{ ML int }

type measuredV1 struct {
	Count int `json:"count"`
}

type measuredV2 struct {
	Amount int `json:"amount"`
}

type measured struct {
	Amount int    `json:"amount"`
	Unit   string `json:"unit"`
}

type measure struct {
	Amount int    `json:"amount"`
	Unit   string `json:"unit"`
}

func meterDef() *aggregate.Definition[meter] {
	d := aggregate.NewDefinition("meter", 1, func() meter { return meter{} })
	aggregate.HandleCommand(d, "Measure", func(_ meter, c measure, _ aggregate.Meta) ([]aggregate.Event, error) {
		return []aggregate.Event{measured(c)}, nil
	})
	aggregate.OnEvent(d, "Measured", func(s meter, e measured, _ *aggregate.Envelope) meter {
		switch e.Unit {
		case "l":
			s.ML += 1000 * e.Amount
		default:
			s.ML += e.Amount
		}
		return s
	})
	aggregate.Upcast(d, "Measured", 1, func(o measuredV1) measuredV2 { return measuredV2{Amount: o.Count} })
	aggregate.Upcast(d, "Measured", 2, func(o measuredV2) measured { return measured{Amount: o.Amount, Unit: "ml"} })
	return d
}

func TestUpcastChain(t *testing.T) {
	d := meterDef()
	k := d.Erase()
	if got := k.EventSchema("Measured"); got != 3 {
		t.Fatalf("schema version %d, want 3", got)
	}
	for _, c := range []struct {
		schema int
		data   string
		want   measured
	}{
		{0, `{"count":5}`, measured{5, "ml"}}, // no version: the first
		{1, `{"count":5}`, measured{5, "ml"}},
		{2, `{"amount":6}`, measured{6, "ml"}},
		{3, `{"amount":2,"unit":"l"}`, measured{2, "l"}},
		{4, `{"amount":2,"unit":"l","newer":true}`, measured{2, "l"}}, // written by newer code
	} {
		e, err := k.DecodeEvent("Measured", c.schema, []byte(c.data))
		if err != nil || e.(measured) != c.want {
			t.Errorf("version %d %s: %+v, %v; want %+v", c.schema, c.data, e, err, c.want)
		}
	}
	if _, err := k.DecodeEvent("Measured", 1, []byte(`{"count":"five"}`)); aggregate.CodeOf(err) != aggregate.CodeInvalidField {
		t.Errorf("bad version-1 data: %v", err)
	}

	// New events are written in the newest version, and the fold of a
	// log mixing all three gives the same state as if it were all new.
	_, evs, err := k.Execute(k.Seed(), 0, "Measure", measure{Amount: 1, Unit: "l"}, aggregate.Meta{Time: time.Now()})
	if err != nil || evs[0].Schema != 3 {
		t.Fatalf("new event: %+v %v", evs, err)
	}
	var s any = k.Seed()
	for i, raw := range []struct {
		schema int
		data   string
	}{{1, `{"count":100}`}, {2, `{"amount":20}`}, {3, `{"amount":1,"unit":"l"}`}} {
		data, err := k.DecodeEvent("Measured", raw.schema, []byte(raw.data))
		if err != nil {
			t.Fatal(err)
		}
		s = k.Apply(s, &aggregate.Envelope{Type: "Measured", Schema: raw.schema, Version: uint64(i + 1), Data: data})
	}
	if s.(meter).ML != 1120 {
		t.Fatalf("fold over three versions: %+v", s)
	}
}

func TestUpcastMistakes(t *testing.T) {
	mustPanic := func(what, want string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), want) {
				t.Errorf("%s: panic %v, want one saying %q", what, r, want)
			}
		}()
		f()
	}
	base := func() *aggregate.Definition[meter] {
		d := aggregate.NewDefinition("meter", 1, func() meter { return meter{} })
		aggregate.OnEvent(d, "Measured", func(s meter, _ measured, _ *aggregate.Envelope) meter { return s })
		return d
	}
	mustPanic("unknown event", "unregistered", func() {
		aggregate.Upcast(base(), "Nope", 1, func(o measuredV1) measured { return measured{} })
	})
	mustPanic("out of order", "the next one is from 1", func() {
		aggregate.Upcast(base(), "Measured", 2, func(o measuredV2) measured { return measured{} })
	})
	mustPanic("broken chain", "takes", func() {
		d := base()
		aggregate.Upcast(d, "Measured", 1, func(o measuredV1) measuredV2 { return measuredV2{} })
		aggregate.Upcast(d, "Measured", 2, func(o measuredV1) measured { return measured{} })
	})
	d := base()
	aggregate.Upcast(d, "Measured", 1, func(o measuredV1) measuredV2 { return measuredV2{} })
	if err := d.Check(); err == nil || !strings.Contains(err.Error(), "end at") {
		t.Fatalf("a chain that stops short: %v", err)
	}
	mustPanic("erase an open chain", "end at", func() { d.Erase() })
}
