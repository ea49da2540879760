package aggregate_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
)

// A second, tiny aggregate: proves the kernel is generic and tests its
// behaviour without the Schedule domain.

type counter struct{ N int }

type add struct {
	By int `json:"by"`
}

func (a add) Validate() error {
	if a.By == 0 {
		return aggregate.Reject(aggregate.CodeMissingField, "by is required")
	}
	return nil
}

type added struct {
	By int `json:"by"`
}

type explode struct{}

var counterDef = func() *aggregate.Definition[counter] {
	d := aggregate.NewDefinition("counter", 3, func() counter { return counter{} })
	aggregate.HandleCommand(d, "Add", func(s counter, c add, _ aggregate.Meta) ([]aggregate.Event, error) {
		if s.N+c.By > 10 {
			return nil, aggregate.Reject("too_big", "would exceed 10")
		}
		return []aggregate.Event{added(c)}, nil
	})
	aggregate.HandleCommand(d, "Explode", func(s counter, _ explode, _ aggregate.Meta) ([]aggregate.Event, error) {
		var m map[string]int
		//lint:ignore SA5000 the executor must panic: the kernel turns that into executor_panic
		m["boom"] = 1
		return nil, nil
	})
	aggregate.OnEvent(d, "Added", func(s counter, e added, _ *aggregate.Envelope) counter {
		s.N += e.By
		return s
	})
	return d
}()

func TestExecuteAndRehydrate(t *testing.T) {
	k := counterDef.Erase()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var state any = k.Seed()
	var log []aggregate.Envelope
	for i, by := range []string{`{"by":2}`, `{"by":3}`, `{"by":4}`} {
		cmd, err := k.DecodeCommand("Add", []byte(by))
		if err != nil {
			t.Fatal(err)
		}
		m := aggregate.Meta{ID: "c", Tenant: "t", Stream: "s", Time: base.Add(time.Duration(i) * time.Hour)}
		next, events, err := k.Execute(state, uint64(len(log)), "Add", cmd, m)
		if err != nil {
			t.Fatal(err)
		}
		state = next
		log = append(log, events...)
	}
	if state.(counter).N != 9 || log[2].Version != 3 || log[2].ID() != "t/s/3" {
		t.Fatalf("state %v, last event %+v", state, log[2])
	}
	for _, tt := range []struct {
		got  counter
		want int
	}{
		{first(counterDef.Rehydrate(log)), 9},
		{first(counterDef.RehydrateVersion(log, 2)), 5},
		{first(counterDef.RehydrateVersion(log, 0)), 0},
		{first(counterDef.RehydrateAt(log, base.Add(90*time.Minute))), 5},
		{first(counterDef.RehydrateAt(log, base.Add(-time.Second))), 0},
	} {
		if tt.got.N != tt.want {
			t.Errorf("got %d, want %d", tt.got.N, tt.want)
		}
	}
}

func first[A, B any](a A, _ B) A { return a }

func TestRejections(t *testing.T) {
	k := counterDef.Erase()
	tests := []struct {
		typ, data, code string
		state           counter
	}{
		{"Add", `{"by":20}`, "too_big", counter{}},
		{"Add", `{}`, aggregate.CodeMissingField, counter{}},
		{"Add", `{"by":"x"}`, aggregate.CodeInvalidField, counter{}},
		{"Add", `{"by":1,"extra":1}`, aggregate.CodeUnknownField, counter{}},
		{"Add", `{"by":1`, aggregate.CodeMalformed, counter{}},
		{"Add", `[1]`, aggregate.CodeInvalidField, counter{}},
		{"Add", `{"by":1}x`, aggregate.CodeMalformed, counter{}},
		{"Sub", `{}`, aggregate.CodeUnknownType, counter{}},
		{"Explode", `{}`, aggregate.CodeExecutorPanic, counter{}},
	}
	for _, tt := range tests {
		cmd, err := k.DecodeCommand(tt.typ, []byte(tt.data))
		if err == nil {
			_, _, err = k.Execute(tt.state, 0, tt.typ, cmd, aggregate.Meta{})
		}
		if got := aggregate.CodeOf(err); got != tt.code {
			t.Errorf("%s %s: got code %q (%v), want %q", tt.typ, tt.data, got, err, tt.code)
		}
		var r *aggregate.Rejection
		if !errors.As(err, &r) || r.Message == "" {
			t.Errorf("%s %s: want a *Rejection with a message, got %#v", tt.typ, tt.data, err)
		}
	}
}

func TestExpectedVersionConflict(t *testing.T) {
	cmd, _ := counterDef.DecodeCommand("Add", []byte(`{"by":1}`))
	m := aggregate.Meta{HasExpectedVersion: true, ExpectedVersion: 4}
	_, _, err := counterDef.Execute(counter{}, 5, "Add", cmd, m)
	if aggregate.CodeOf(err) != aggregate.CodeVersionConflict {
		t.Fatalf("want version_conflict, got %v", err)
	}
	if !errors.Is(err, &aggregate.Rejection{Code: aggregate.CodeVersionConflict}) {
		t.Fatal("errors.Is by code does not match")
	}
}

func TestStateRoundTrip(t *testing.T) {
	k := counterDef.Erase()
	data, err := k.AppendState(nil, counter{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.DecodeState(data)
	if err != nil || !reflect.DeepEqual(s, counter{N: 7}) {
		t.Fatalf("round trip: %v %v", s, err)
	}
	e, err := k.DecodeEvent("Added", 1, []byte(`{"by":2,"addedLater":true}`))
	if err != nil || e.(added).By != 2 {
		t.Fatalf("lenient event decode: %v %v", e, err)
	}
	if _, err := k.DecodeEvent("Nope", 1, nil); aggregate.CodeOf(err) != aggregate.CodeUnknownType {
		t.Fatalf("unknown event: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "Clinic-7:room_2.b": true, "": false, "..": false, ".a": false, "a/b": false,
		"-a": false, "a b": false, "é": false, string(make([]byte, 65)): false,
		"a123456789012345678901234567890123456789012345678901234567890123":  true,
		"a1234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if got := aggregate.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestBadTimeNamesItsField: encoding/json reports a time's parse error
// without the field and with Go's layout string; the rejection names the
// field and the form expected instead.
func TestBadTimeNamesItsField(t *testing.T) {
	var v struct {
		Slot struct {
			Start time.Time `json:"start"`
		} `json:"slot"`
	}
	err := aggregate.DecodeStrict([]byte(`{"slot":{"start":"2026-13-01T10:00"}}`), &v)
	var r *aggregate.Rejection
	if !errors.As(err, &r) || r.Code != aggregate.CodeInvalidField {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(r.Message, "field slot.start") || !strings.Contains(r.Message, "RFC 3339") ||
		!strings.Contains(r.Message, `"2026-13-01T10:00"`) || strings.Contains(r.Message, "2006-01-02") {
		t.Fatalf("message %q", r.Message)
	}
}
