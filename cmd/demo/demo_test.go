package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestDemo runs `make demo` with no services up: it starts them, drives a
// clinic day, prints the audit trail, a past state and the day list, and
// stops them again.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	addrs := []string{"-ingest", "http://" + testkit.FreeAddr(t), "-query", "http://" + testkit.FreeAddr(t),
		"-kafka-addr", testkit.FreeAddr(t), "-processor-addr", testkit.FreeAddr(t)}
	demo := func(args ...string) string {
		out := filepath.Join(t.TempDir(), "demo.out")
		p := testkit.Start(t, "demo", out, append([]string{"-bin", testkit.Binaries(t), "-data-dir", data}, append(addrs, args...)...)...)
		err, exited := p.Wait(3 * time.Minute)
		b, _ := os.ReadFile(out)
		if !exited || err != nil {
			t.Fatalf("demo: exited %v, %v\n%s", exited, err, b)
		}
		return string(b)
	}
	text := demo("-visits", "120", "-seed", "42")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`rejected by the rules [1-9]\d* \(`),
		regexp.MustCompile(`Audit trail of visit-\S+`),
		regexp.MustCompile(`v1 .* front-desk +Reserved`),
		regexp.MustCompile(`Rescheduled`),
		regexp.MustCompile(`dr-(kim|lee|park) +ProcedureStarted`),
		regexp.MustCompile(`CheckedOut`),
		regexp.MustCompile(`as it was at .*: version 3, status checked_in`),
		regexp.MustCompile(`The schedule of .*canceled \d+, .*no_show \d+`),
		regexp.MustCompile(`stopping the services the demo started`),
	} {
		if !want.MatchString(text) {
			t.Errorf("demo output lacks %s", want)
		}
	}
	if strings.Contains(text, "demo:") {
		t.Errorf("demo reported an error:\n%s", text)
	}
	// The events follow the story's clock (Ce-Time): booked days ahead,
	// then minutes apart in the clinic, never all in one instant.
	trail := regexp.MustCompile(`(?m)^  v\d+ +(\w{3} +\d+ \w{3} \d\d:\d\d) `).FindAllStringSubmatch(text, -1)
	times := map[string]bool{}
	for _, m := range trail {
		times[m[1]] = true
	}
	if len(trail) < 8 || len(times) != len(trail) {
		t.Errorf("the audit trail's %d events have %d distinct times (to the minute):\n%s", len(trail), len(times), text)
	}
	// A second run drives the day before, instead of double-booking the
	// first run's visitors.
	day := regexp.MustCompile(`Driving the clinic day of (\w{3} \d+ \w{3} \d{4})`)
	first, second := day.FindStringSubmatch(text), day.FindStringSubmatch(demo("-visits", "20", "-seed", "43"))
	if first == nil || second == nil {
		t.Fatalf("no day in the demo's output")
	}
	d1, _ := time.Parse("Mon 2 Jan 2006", first[1])
	d2, _ := time.Parse("Mon 2 Jan 2006", second[1])
	if !d2.Equal(d1.Add(-24*time.Hour)) || !d1.Equal(time.Now().UTC().Add(-24*time.Hour).Truncate(24*time.Hour)) {
		t.Errorf("the runs drove %s and %s; want yesterday, then the day before", first[1], second[1])
	}
}
