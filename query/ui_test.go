package query_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/testing/testkit"
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
	// A walk-in with an id as long as the demo's, checked out: the widest
	// row of a day.
	recs = append(recs, w.exec("clinic-a", "visit-7c1e-249", "CheckIn", `{"channel":"desk","visitorId":"v-4821"}`, t0.Add(5*time.Hour))...)
	recs = append(recs, w.exec("clinic-a", "visit-7c1e-249", "CheckOut", `{}`, t0.Add(6*time.Hour))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CheckIn", `{"channel":"kiosk"}`, at.Add(time.Hour))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "StartConsultation", `{"counselorId":"dr-kim"}`, at.Add(70*time.Minute))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CompleteConsultation", `{"procedures":["laser"]}`, at.Add(80*time.Minute))...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())

	ctx, do, text := openUI(t, browser, s.url)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
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
	dayTableFits(t, ctx, do)
	if !strings.Contains(rows, "walk-in") || !strings.Contains(rows, "checked out") {
		t.Errorf("the day list does not show the walk-in: %q", rows)
	}
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
	// Statuses in staff's words, not the API's snake_case.
	if version != "4" || status != "checked in" {
		t.Errorf("opened at version %q with status %q, want 4 and checked in", version, status)
	}
	// In the clinic's words, with the raw record one click away.
	for _, want := range []string{"Reserved for v-1", "Checked in at the kiosk", "Consultation started with dr-kim",
		"Consultation completed, planning laser", "by desk-1", "Status: reserved → checked in", "Consultation 1: counselor",
		"Reserved", "CheckedIn", "/status", "as recorded"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q: %q", want, timeline)
		}
	}
	if strings.Contains(timeline, "∅") || strings.Contains(timeline, "Z →") {
		t.Errorf("timeline shows raw values: %q", timeline)
	}
	screenshot(t, ctx)
	if earlierVersion != "1" || earlierStatus != "reserved" || strings.Contains(stateJSON, "consultations") {
		t.Errorf("after stepping back: version %q status %q state %s; want version 1, reserved, no consultations", earlierVersion, earlierStatus, stateJSON)
	}
}

// screenshot saves a screenshot to $REWIND_UI_SCREENSHOT, when set: how
// to look at the page the test drove.
func screenshot(t *testing.T, ctx context.Context) {
	path := os.Getenv("REWIND_UI_SCREENSHOT")
	if path == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dayTableFits: the day table fits its panel at the common widths, and
// never cuts a column off.
func dayTableFits(t *testing.T, ctx context.Context, do func(string, ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	for _, width := range []int64{1280, 1400, 1920} {
		do(fmt.Sprint("resize to ", width, " px"), chromedp.EmulateViewport(width, 1000))
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const s = document.querySelector("#day-panel .scroll");
			return s.scrollWidth <= s.clientWidth && s.getBoundingClientRect().right <= document.querySelector("#day-panel").getBoundingClientRect().right })()`))
		if err != nil || !fits {
			t.Errorf("at %d px the day table overflows its panel (%v)", width, err)
		}
	}
}

// openUI opens /ui/ of the service at url in a headless Chromium, and
// returns a context with a minute to run in, do (steps, failing the test
// on error) and text (an element's text).
func openUI(t *testing.T, browser, url string) (ctx context.Context, do func(string, ...chromedp.Action[chromedp.Void]), text func(string) string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The first Run starts the browser and must not carry a timeout;
	// each later step gets one.
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx, chromedp.Navigate(url+"/ui/")); err != nil {
		t.Fatalf("open /ui/: %v", err)
	}
	ctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancel)
	do = func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text = func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	return ctx, do, text
}

// TestUIAudit drives the audit pages: a patient's access history shows
// who read their schedule, a staff member's day their events by type and
// the procedure they left open, and the monthly review the reads per
// staff member.
func TestUIAudit(t *testing.T) {
	browser := chromium(t)
	w := newWorld(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(10 * time.Hour)
	var recs []*kgo.Record
	recs = append(recs, w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", day, time.Hour), day)...)
	w.as = "dr-kim"
	recs = append(recs, w.exec("clinic-a", "visit-1", "CheckIn", `{"channel":"desk"}`, day.Add(time.Minute))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "StartConsultation", `{"counselorId":"dr-kim"}`, day.Add(2*time.Minute))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CompleteConsultation", `{"procedures":["laser"]}`, day.Add(3*time.Minute))...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "StartProcedure", `{"procedureId":"laser","doctorId":"dr-kim"}`, day.Add(4*time.Minute))...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())
	if code, pc := s.get(tokenA, "/v1/schedules/visit-1", nil); code != 200 { // desk-1 reads v-1's schedule
		t.Fatalf("read: %d %s", code, pc)
	}
	if !testkit.Eventually(10*time.Second, func() bool {
		return len(pages[access.Record](s, tokenAuditA, "/v1/access?visitorId=v-1&subject=desk-1", 0)) > 0
	}) {
		t.Fatal("the read is not in the access index")
	}
	_, do, text := openUI(t, browser, s.url)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	do("sign in as the auditor",
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), tokenAuditA),
		chromedp.Click(css("#auth button[type=submit]")),
		chromedp.WaitVisible(css("#audit-panel")))
	do("a patient's access history",
		chromedp.Click(css(`.tabs button[data-view="patient"]`)),
		chromedp.SendKeys(css("#patient-id"), "v-1"),
		chromedp.Click(css("#patient-form button[type=submit]")),
		chromedp.WaitVisible(css("#patient-out table")))
	if got := text("#patient-out"); !strings.Contains(got, "desk-1") || !strings.Contains(got, "GET /v1/schedules/{id}") || !strings.Contains(got, "visit-1") {
		t.Errorf("v-1's access history: %q", got)
	}
	do("a staff member's day",
		chromedp.Click(css(`.tabs button[data-view="staff-day"]`)),
		chromedp.SendKeys(css("#staff"), "dr-kim"),
		chromedp.SetValue(css("#staff-date"), day.Local().Format("2006-01-02")),
		chromedp.Click(css("#staff-form button[type=submit]")),
		chromedp.WaitVisible(css("#staff-out table")))
	if got := text("#staff-out"); !strings.Contains(got, "dr-kim recorded 4 events on 1 visits") || !strings.Contains(got, "ProcedureStarted") ||
		!strings.Contains(got, "visit-1v-110") {
		t.Errorf("dr-kim's day: %q", got)
	}
	do("the monthly review",
		chromedp.Click(css(`.tabs button[data-view="review"]`)),
		chromedp.Click(css("#review-form button[type=submit]")),
		chromedp.WaitVisible(css("#review-out table")))
	if got := text("#review-out"); !strings.Contains(got, "Accesses per staff member") || !strings.Contains(got, "desk-1") || !strings.Contains(got, "auditor") {
		t.Errorf("the monthly review: %q", got)
	}
}
