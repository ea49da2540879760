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
	out := filepath.Join(t.TempDir(), "demo.out")
	ingest, query := testkit.FreeAddr(t), testkit.FreeAddr(t)
	p := testkit.Start(t, "demo", out, "-bin", testkit.Binaries(t), "-data-dir", t.TempDir(), "-visits", "120", "-seed", "42",
		"-ingest", "http://"+ingest, "-query", "http://"+query,
		"-kafka-addr", testkit.FreeAddr(t), "-processor-addr", testkit.FreeAddr(t))
	err, exited := p.Wait(3 * time.Minute)
	b, _ := os.ReadFile(out)
	text := string(b)
	if !exited || err != nil {
		t.Fatalf("demo: exited %v, %v\n%s", exited, err, text)
	}
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
}
