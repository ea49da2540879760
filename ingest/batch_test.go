package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rewind/rewind/internal/apiclient"
)

// TestBatch sends 10k commands as NDJSON and reads one outcome per line,
// in order, with bad lines answered in place.
func TestBatch(t *testing.T) { batchLines(t, setup(t), 2000) }

// batchLines sends visits of five commands on streams schedules.
func batchLines(t *testing.T, e *env, streams int) {
	steps := []string{
		`"type":"Reserve","data":{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`,
		`"type":"CheckIn","data":{"channel":"kiosk"}`,
		`"type":"StartConsultation","data":{"counselorId":"c1"}`,
		`"type":"CompleteConsultation","data":{}`,
		`"type":"CheckOut"`,
	}
	var body strings.Builder
	n := 0
	for i := range streams {
		for _, step := range steps {
			fmt.Fprintf(&body, `{"scheduleId":"b%d",%s}`+"\n", i, step)
			n++
		}
	}
	body.WriteString(`{"scheduleId":"b1","type":"Teleport"}` + "\n")
	body.WriteString(`{"scheduleId":"../x","type":"CheckOut"}` + "\n")
	body.WriteString(`not json` + "\n")
	body.WriteString(`{"scheduleId":"b1","type":"Reserve","data":{"visitorId":"v1","start":"2026-03-02T11:00:00Z","end":"2026-03-02T10:00:00Z"}}` + "\n")
	req, _ := http.NewRequest("POST", e.url+"/v1/commands?wait=30s", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("batch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := ndjsonLines(t, resp.Body)
	if len(got) != n+4 {
		t.Fatalf("want %d lines, got %d", n+4, len(got))
	}
	for i, line := range got[:n] {
		if line["line"] != float64(i+1) || line["status"] != "accepted" || line["version"] != float64(i%5+1) {
			t.Fatalf("line %d: %v", i+1, line)
		}
	}
	for i, want := range []struct {
		code   string
		status float64
	}{{"unknown_type", 404}, {"invalid_id", 400}, {"malformed", 400}, {"invalid_time_range", 400}} {
		p, _ := got[n+i]["problem"].(map[string]any)
		if p == nil || p["code"] != want.code || p["status"] != want.status || p["type"] != "https://rewind.dev/problems/"+want.code {
			t.Errorf("bad line %d: want %s (%v), got %v", n+i+1, want.code, want.status, got[n+i])
		}
	}
}

// TestImport sends a file through Import and checks the summary.
func TestImport(t *testing.T) {
	e := setup(t)
	var file strings.Builder
	for i := range 300 {
		fmt.Fprintf(&file, `{"scheduleId":"imp%d","type":"Reserve","idempotencyKey":"r%d","data":{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}}`+"\n", i, i)
	}
	fmt.Fprintf(&file, `{"scheduleId":"imp0","type":"Reserve","idempotencyKey":"r0","data":{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}}`+"\n")
	fmt.Fprintf(&file, `{"scheduleId":"imp1","type":"CheckOut"}`+"\n")
	fmt.Fprintf(&file, `{"scheduleId":"imp1","type":"Nope"}`+"\n")
	var calls []int
	c := &apiclient.Client{Ingest: e.url, Token: tokenA}
	sum, err := c.Import(context.Background(), strings.NewReader(file.String()), 100, func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	want := apiclient.Summary{Accepted: 300, Rejected: 1, Duplicate: 1, Failed: 1}
	if sum != want {
		t.Fatalf("summary %v, want %v", sum, want)
	}
	if len(calls) != 4 || calls[3] != 303 {
		t.Fatalf("progress calls %v", calls)
	}
	if _, err := c.As("wrong").Import(context.Background(), strings.NewReader(file.String()), 100, nil); err == nil {
		t.Fatal("import with a bad token must fail")
	}
}

// ndjsonLines decodes a batch's answer, one JSON object per line.
func ndjsonLines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(r)
	var lines []map[string]any
	for dec.More() {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	return lines
}
