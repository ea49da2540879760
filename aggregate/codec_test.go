package aggregate_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
)

type codecSlot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type codecCommand struct {
	VisitorID  string                    `json:"visitorId"`
	Slot       codecSlot                 `json:"slot"`
	Procedures []string                  `json:"procedures"`
	Photos     aggregate.List[codecSlot] `json:"photos"`
}

// TestDecodeStrict pins what a command's data may be and how each
// refusal reads: the code is the contract, the message names the field.
func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		data, code, message string
	}{
		{data: ``},
		{data: "  \n"},
		{data: `null`},
		{data: `{"visitorId":"v1","slot":{"start":"2026-03-02T10:00:00Z"},"procedures":["botox"]}`},
		// encoding/json's semantics are kept: names fold case, and a
		// duplicate's last value wins.
		{data: `{"VISITORID":"v1"}`},
		{data: `{"visitorId":"a","visitorId":"v1"}`},
		{data: `{"visitorId":"v1","tenant":"evil"}`, code: "unknown_field", message: `unknown field "tenant"`},
		{data: `{"slot":{"room":"b"}}`, code: "unknown_field", message: `unknown field "slot.room"`},
		{data: `{"visitor_id":"v1"}`, code: "unknown_field", message: `unknown field "visitor_id"`},
		{data: `{"visitorId":1}`, code: "invalid_field", message: "field visitorId: expected string, got JSON number"},
		{data: `{"procedures":["a",2]}`, code: "invalid_field", message: "field procedures[1]: expected string, got JSON number"},
		{data: `{"photos":[{"start":5}]}`, code: "invalid_field", message: "field photos"},
		{data: `[]`, code: "invalid_field", message: "field (root): expected aggregate_test.codecCommand, got JSON array"},
		{data: `{"slot":{"end":"tomorrow"}}`, code: "invalid_field", message: `field slot.end: "tomorrow" is not a time; expected RFC 3339`},
		{data: `{"visitorId":"v1"} {}`, code: "malformed", message: "invalid JSON"},
		{data: `{"visitorId":"v1"`, code: "malformed", message: "invalid JSON"},
		{data: `{visitorId:"v1"}`, code: "malformed", message: "invalid JSON"},
	} {
		var c codecCommand
		err := aggregate.DecodeStrict([]byte(tc.data), &c)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.data, err)
			} else if strings.Contains(tc.data, "visitorId") && c.VisitorID != "v1" {
				t.Errorf("%s: visitorId %q", tc.data, c.VisitorID)
			}
			continue
		}
		var r *aggregate.Rejection
		if !errors.As(err, &r) || r.Code != tc.code || !strings.Contains(r.Message, tc.message) {
			t.Errorf("%s: got %v, want %s: …%s…", tc.data, err, tc.code, tc.message)
		}
	}
}

// TestDecodeLenient: events decode with unknown fields ignored, so that
// older code reads what newer code wrote; a wrong type is still refused.
func TestDecodeLenient(t *testing.T) {
	var c codecCommand
	if err := aggregate.DecodeLenient([]byte(`{"visitorId":"v1","addedLater":true}`), &c); err != nil || c.VisitorID != "v1" {
		t.Fatalf("got %+v, %v", c, err)
	}
	var r *aggregate.Rejection
	if err := aggregate.DecodeLenient([]byte(`{"visitorId":true}`), &c); !errors.As(err, &r) || r.Code != "invalid_field" {
		t.Fatalf("got %v", err)
	}
}
