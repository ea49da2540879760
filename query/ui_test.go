package query_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromium finds Debian's Chromium; `make test` installs it when missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found: `make test` installs Debian's chromium (as root); elsewhere apt-get install chromium")
	return ""
}

// TestUIStepsBack drives /ui/ in headless Chromium: list a day, pick a
// schedule, see its timeline, and step back to an earlier state.
func TestUIStepsBack(t *testing.T) {
	browser := chromium(t)
	w := newWorld(t)
	var recs []*kgo.Record
	at := t0.Add(time.Hour)
	recs = append(recs, w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0.Add(2*time.Hour), time.Hour), at)...)
	recs = append(recs, w.exec("clinic-a", "visit-2", "Reserve", reserve("v-2", t0.Add(3*time.Hour), time.Hour), at)...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CheckIn", `{"channel":"kiosk"}`, at.Add(time.Hour))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "StartConsultation", `{"counselorId":"dr-kim"}`, at.Add(70*time.Minute))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CompleteConsultation", `{"procedures":["laser"]}`, at.Add(80*time.Minute))...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	// The first Run starts the browser and must not carry a timeout;
	// each later step gets one.
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/ui/")); err != nil {
		t.Fatalf("open /ui/: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	// Without a token the page says what to do, not empty tables.
	do("see how to sign in", chromedp.WaitVisible(css("#sign-in")), chromedp.WaitNotVisible(css("#day-panel")))
	if signIn := text("#sign-in"); !strings.Contains(signIn, "data/dev-token") || !strings.Contains(signIn, "read") {
		t.Errorf("the sign-in help does not say where a token is: %q", signIn)
	}
	do("sign in and list the day",
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), tokenA),
		chromedp.Click(css("#auth button[type=submit]")),
		chromedp.SetValue(css("#day"), "2026-03-02"),
		chromedp.Click(css("#day-form button[type=submit]")),
		chromedp.WaitVisible(css(`#day-list tr[data-id="visit-2"]`)))
	rows := text("#day-list tbody")
	do("pick a schedule",
		chromedp.Click(css(`#day-list tr[data-id="visit-1"]`)),
		chromedp.WaitVisible(css("#travel")),
		chromedp.WaitVisible(css(`#timeline li.current[data-version="4"]`)))
	version, status, timeline := text("#version"), text(`#summary dd[data-key="status"]`), text("#timeline")
	// Step back three times: from after CompleteConsultation to after Reserve.
	do("step back",
		chromedp.Click(css("#back")),
		chromedp.WaitVisible(css(`#timeline li.current[data-version="3"]`)),
		chromedp.Click(css("#back")),
		chromedp.WaitVisible(css(`#timeline li.current[data-version="2"]`)),
		chromedp.Click(css("#back")),
		chromedp.WaitVisible(css(`#timeline li.current[data-version="1"]`)))
	earlierVersion, earlierStatus, stateJSON := text("#version"), text(`#summary dd[data-key="status"]`), text("#state")
	if !strings.Contains(rows, "visit-1") || !strings.Contains(rows, "visit-2") || strings.Index(rows, "visit-1") > strings.Index(rows, "visit-2") {
		t.Errorf("day list, in start order, should show visit-1 then visit-2: %q", rows)
	}
	if version != "4" || status != "checked_in" {
		t.Errorf("opened at version %q with status %q, want 4 and checked_in", version, status)
	}
	// In the clinic's words, with the raw record one click away.
	for _, want := range []string{"Reserved for v-1", "Checked in at the kiosk", "Consultation started with dr-kim",
		"Consultation completed, planning laser", "by desk-1", "Status: reserved → checked_in", "Consultation 1: counselor",
		"Reserved", "CheckedIn", "/status", "as recorded"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q: %q", want, timeline)
		}
	}
	if strings.Contains(timeline, "∅") || strings.Contains(timeline, "Z →") {
		t.Errorf("timeline shows raw values: %q", timeline)
	}
	if path := os.Getenv("REWIND_UI_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if earlierVersion != "1" || earlierStatus != "reserved" || strings.Contains(stateJSON, "consultations") {
		t.Errorf("after stepping back: version %q status %q state %s; want version 1, reserved, no consultations", earlierVersion, earlierStatus, stateJSON)
	}
}
