// Package demo is `make demo`: it drives a realistic clinic day through
// Rewind's HTTP APIs: a few hundred visits by several staff, with
// walk-ins, reschedules, cancellations, no-shows, consultations and
// procedures by three doctors, and some commands the rules reject. Each
// command carries the time of the story (Ce-Time): bookings days ahead, a
// clinic day of minutes between steps. The day is yesterday, or the day
// before the earliest an earlier run drove, so runs never double-book. It
// then prints, from the query service, the audit trail of one visit, that
// visit as it was at an earlier instant, and the day's schedule from the
// range query.
//
// With `make run` up it uses those services; otherwise it starts them on
// the data directory itself and stops them at the end.
package demo

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/devstack"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/topics"
)

// Run is the command demo: args are its flags.
func Run(ctx context.Context, args []string) error {
	d := devstack.Defaults()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	ingestURL := fs.String("ingest", "http://"+d.Ingest, "ingest's URL")
	queryURL := fs.String("query", "http://"+d.Query, "query's URL")
	fs.StringVar(&d.Data, "data-dir", d.Data, "data directory with the dev tokens (and the services' data when the demo starts them)")
	fs.StringVar(&d.Bin, "bin", d.Bin, "directory with the binaries, when the demo starts the services")
	fs.StringVar(&d.Kafka, "kafka-addr", d.Kafka, "devkafka's address, when the demo starts the services")
	fs.StringVar(&d.Processor, "processor-addr", d.Processor, "the processor's address, when the demo starts the services")
	visits := fs.Int("visits", 250, "visits of the day (a tenth are walk-ins)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the day's plan")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *visits < 1 || *visits > visitorPool {
		return fmt.Errorf("-visits must be 1 to %d: each visit of the day has a visitor of its own", visitorPool)
	}
	if !up(*ingestURL) {
		fmt.Println("no Rewind at", *ingestURL, "- starting one on", d.Data, "(as `make run` would)…")
		d.Ingest, d.Query = hostOf(*ingestURL), hostOf(*queryURL)
		s, err := devstack.Start(ctx, d)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Println("\nstopping the services the demo started…")
			if err := s.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "demo: stop:", err)
			}
		}()
		*ingestURL, *queryURL = "http://"+s.Ingest, "http://"+s.Query
	}
	_, tokens, err := devstack.EnsureTokens(d.Data)
	if err != nil {
		return err
	}
	c := &client{tokens: tokens, api: &apiclient.Client{Ingest: *ingestURL, Query: *queryURL, Token: tokens["dev-user"],
		HTTP: &http.Client{Timeout: 30 * time.Second}}}
	// A whole day in the past, so every step of its story has happened
	// (ingest refuses command times ahead of its clock): yesterday, or
	// the day before the earliest one an earlier run drove.
	day, err := c.freeDay(ctx, time.Now().UTC().Add(-24*time.Hour).Truncate(24*time.Hour))
	if err != nil {
		return err
	}
	tag := fmt.Sprintf("%04x", *seed%0x10000)
	plan := planDay(rand.New(rand.NewPCG(*seed, 7)), day, tag, *visits)
	return c.drive(ctx, day, plan)
}

// freeDay returns day, or the latest day before it with no booked slot:
// a second run of the demo drives another day instead of double-booking
// the visitors of the first.
func (c *client) freeDay(ctx context.Context, day time.Time) (time.Time, error) {
	for {
		var page query.Page[query.Summary]
		if err := c.api.Get(ctx, dayQuery(day, 1), &page); err != nil {
			return day, err
		}
		if len(page.Items) == 0 {
			return day, nil
		}
		day = day.Add(-24 * time.Hour)
	}
}

// dayQuery is the range query of day's slots, limit at a time.
func dayQuery(day time.Time, limit int) string {
	return fmt.Sprintf("/v1/schedules?limit=%d&from=%s&to=%s", limit,
		url.QueryEscape(day.Format(time.RFC3339)), url.QueryEscape(day.Add(24*time.Hour).Format(time.RFC3339)))
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

func up(base string) bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// step is one command of a visit, sent with the token of who does it, at
// the time of the story (Ce-Time).
type step struct {
	who, typ, body string
	at             time.Time
}

// visit is the commands of one schedule, in order.
type visit struct {
	id, visitor string
	steps       []step
	full        bool // went through the whole flow, with a reschedule
}

var (
	procedures = []string{"botox", "laser-toning", "chemical-peel", "filler", "hydrafacial"}
	doctors    = []string{"dr-kim", "dr-lee", "dr-park"}
	reasons    = []string{"patient called in sick", "schedule conflict", "moved to another clinic", "weather"}
	channels   = []string{"web", "phone", "app"}
)

// planner writes the stories of one day's visits. Each visit has a clock
// that only moves forward: bookings days ahead, a check-in near the
// slot, then minutes between the steps in the clinic.
type planner struct {
	r   *rand.Rand
	day time.Time
	v   *visit
	now time.Time // the visit's clock
}

func (p *planner) pick(xs []string) string { return xs[p.r.IntN(len(xs))] }

// slot is a random slot of the day, between 8:00 and 18:00.
func (p *planner) slot() (time.Time, time.Time) {
	start := p.day.Add(8*time.Hour + time.Duration(p.r.IntN(38))*15*time.Minute)
	return start, start.Add(time.Duration(2+p.r.IntN(5)) * 15 * time.Minute)
}

// after moves the visit's clock to at least at, plus lo to hi minutes.
func (p *planner) after(at time.Time, lo, hi int) {
	if at.After(p.now) {
		p.now = at
	}
	p.now = p.now.Add(time.Duration(lo*60+p.r.IntN((hi-lo)*60+1)) * time.Second)
}

// add appends a step at the visit's clock, then moves it lo to hi
// minutes on.
func (p *planner) add(who, typ, body string, lo, hi int) {
	p.v.steps = append(p.v.steps, step{who, typ, body, p.now})
	p.after(p.now, lo, hi)
}

func slotBody(start, end time.Time) string {
	return fmt.Sprintf(`"start":%q,"end":%q`, start.Format(time.RFC3339), end.Format(time.RFC3339))
}

// visitorPool is how many visitors the demo's clinic has: the ids
// v-0000 to v-4999, returning across days.
const visitorPool = 5000

// planDay plans n visits of day, a tenth of them walk-ins, each by a
// different visitor.
func planDay(r *rand.Rand, day time.Time, tag string, n int) []visit {
	visitors := r.Perm(visitorPool)
	out := make([]visit, n)
	for i := range n {
		out[i] = visit{id: fmt.Sprintf("visit-%s-%03d", tag, i), visitor: fmt.Sprintf("v-%04d", visitors[i])}
		p := &planner{r: r, day: day, v: &out[i]}
		planned, walkIn := []string{p.pick(procedures)}, i >= n-n/10
		if r.IntN(3) == 0 {
			if x := p.pick(procedures); x != planned[0] {
				planned = append(planned, x)
			}
		}
		if walkIn {
			p.after(day.Add(9*time.Hour), 0, 8*60)
			p.add("front-desk", "CheckIn", fmt.Sprintf(`{"channel":"desk","visitorId":%q}`, p.v.visitor), 3, 15)
			planned = nil // decided in the consultation
		} else if !p.booking(planned) {
			continue
		}
		p.care(planned)
	}
	return out
}

// booking plans a reservation, from days before the slot to the
// check-in. It reports whether the visit goes on into the clinic.
func (p *planner) booking(planned []string) bool {
	r, v := p.r, p.v
	start, end := p.slot()
	p.after(p.day.Add(-time.Duration(3+r.IntN(12))*24*time.Hour+9*time.Hour), 0, 8*60) // office hours, days ahead
	p.add("front-desk", "Reserve", fmt.Sprintf(`{"visitorId":%q,%s,"procedures":%s,"channel":%q}`,
		v.visitor, slotBody(start, end), jsonList(planned), p.pick(channels)), 60, 20*60)
	rescheduled := false
	for r.IntN(7) == 0 {
		start, end = p.slot()
		p.add("front-desk", "Reschedule", "{"+slotBody(start, end)+"}", 60, 20*60)
		rescheduled = true
	}
	if r.IntN(30) == 0 { // a double booking: rejected, already_reserved
		p.add("front-desk", "Reserve", fmt.Sprintf(`{"visitorId":%q,%s}`, v.visitor, slotBody(start, end)), 1, 5)
	}
	switch x := r.IntN(100); {
	case x < 9:
		p.add("front-desk", "CancelReservation", fmt.Sprintf(`{"reason":%q}`, p.pick(reasons)), 0, 0)
		if r.IntN(3) == 0 { // arrives anyway: rejected, closed
			p.after(start.Add(-10*time.Minute), 0, 10)
			p.add("kiosk", "CheckIn", `{"channel":"kiosk"}`, 0, 0)
		}
		return false
	case x < 16:
		p.after(start.Add(30*time.Minute), 0, 30)
		p.add("front-desk", "MarkNoShow", `{}`, 0, 0)
		return false
	}
	p.after(start.Add(-15*time.Minute), 0, 20)
	if r.IntN(2) == 0 {
		p.add("kiosk", "CheckIn", `{"channel":"kiosk"}`, 2, 15)
	} else {
		p.add("front-desk", "CheckIn", fmt.Sprintf(`{"channel":%q}`, p.pick([]string{"desk", "app"})), 2, 15)
	}
	if r.IntN(25) == 0 { // too late to move it: rejected, already_checked_in
		start, end := p.slot()
		p.add("front-desk", "Reschedule", "{"+slotBody(start, end)+"}", 1, 5)
	}
	v.full = rescheduled
	return true
}

// care plans a visit in the clinic, from the consultation to the
// check-out, with the procedures planned and those the consultation
// adds.
func (p *planner) care(planned []string) {
	r, v := p.r, p.v
	p.add("counselor-choi", "StartConsultation", `{"counselorId":"counselor-choi"}`, 10, 25)
	if r.IntN(12) == 0 { // still in consultation at the end of the day
		v.full = false
		return
	}
	added := []string{}
	if len(planned) == 0 || r.IntN(4) == 0 {
		added = append(added, p.pick(procedures))
	}
	p.add("counselor-choi", "CompleteConsultation", fmt.Sprintf(`{"procedures":%s}`, jsonList(added)), 2, 6)
	for _, x := range added {
		if !slices.Contains(planned, x) {
			planned = append(planned, x)
		}
	}
	p.add("nurse-han", "TakePhotos", fmt.Sprintf(`{"kind":"before","count":%d}`, 2+r.IntN(6)), 3, 8)
	if r.IntN(20) == 0 { // not what was planned: rejected, procedure_not_planned
		p.add("dr-lee", "StartProcedure", `{"procedureId":"tattoo-removal","doctorId":"dr-lee"}`, 1, 3)
	}
	for j, x := range planned {
		doc := p.pick(doctors)
		p.add(doc, "StartProcedure", fmt.Sprintf(`{"procedureId":%q,"doctorId":%q}`, x, doc), 15, 40)
		if j == 0 && r.IntN(20) == 0 { // leaving mid-procedure: rejected, procedure_in_progress
			p.add("front-desk", "CheckOut", `{}`, 1, 5)
		}
		p.add(doc, "CompleteProcedure", fmt.Sprintf(`{"procedureId":%q}`, x), 3, 8)
	}
	p.add("nurse-han", "TakePhotos", fmt.Sprintf(`{"kind":"after","count":%d}`, 2+r.IntN(6)), 3, 8)
	if r.IntN(3) > 0 {
		p.add("nurse-han", "StartAftercare", `{}`, 15, 30)
		p.add("nurse-han", "CompleteAftercare", `{}`, 2, 8)
	}
	if r.IntN(15) == 0 { // still in the clinic
		v.full = false
		return
	}
	p.add("front-desk", "CheckOut", `{}`, 0, 0)
}

func jsonList(xs []string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

// client is the demo's API client, with every subject's token.
type client struct {
	api    *apiclient.Client
	tokens map[string]string
}

func (c *client) send(ctx context.Context, v *visit, s step, n int) (topics.Result, error) {
	res, err := c.api.As(c.tokens[s.who]).Send(ctx, apiclient.Command{Schedule: v.id, Type: s.typ, Data: []byte(s.body),
		IdempotencyKey: fmt.Sprintf("%s-%d", v.id, n), // a retry of the demo is safe
		Wait:           10 * time.Second, Time: s.at})
	if err != nil {
		return res, fmt.Errorf("%s %s: %w", v.id, s.typ, err)
	}
	return res, nil
}

func (c *client) drive(ctx context.Context, day time.Time, plan []visit) error {
	total := 0
	for _, v := range plan {
		total += len(v.steps)
	}
	walkIns := 0
	for _, v := range plan {
		if v.steps[0].typ == "CheckIn" {
			walkIns++
		}
	}
	fmt.Printf("Driving the clinic day of %s through ingest: %d visits (%d walk-ins), %d commands by %d staff…\n",
		day.Format("Mon 2 Jan 2006"), len(plan), walkIns, total, len(devstack.Staff))
	var mu sync.Mutex
	counts := map[string]int{}
	versions := map[string]uint64{}
	var firstErr error
	work := make(chan *visit)
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range work {
				for n, s := range v.steps {
					o, err := c.send(ctx, v, s, n)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					key := o.Status
					if o.Status == "rejected" {
						key += " " + o.Code
					}
					counts[key]++
					versions[v.id] = max(versions[v.id], o.Version)
					mu.Unlock()
					if err != nil {
						break
					}
				}
			}
		}()
	}
	for i := range plan {
		work <- &plan[i]
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	took := time.Since(start)
	fmt.Printf("  %d commands in %.1f s (%.0f/s): accepted %d", total, took.Seconds(), float64(total)/took.Seconds(), counts["accepted"])
	var rejected []string
	for k, n := range counts {
		if code, ok := strings.CutPrefix(k, "rejected "); ok {
			rejected = append(rejected, fmt.Sprintf("%s %d", code, n))
		}
	}
	sort.Strings(rejected)
	fmt.Printf(", rejected by the rules %d (%s)\n", total-counts["accepted"]-counts["duplicate"], strings.Join(rejected, ", "))

	// The visit to show: rescheduled, then the whole way to check-out.
	shown := &plan[0]
	for i := range plan {
		if plan[i].full {
			shown = &plan[i]
			break
		}
	}
	return c.report(ctx, day, shown, versions[shown.id])
}

func (c *client) report(ctx context.Context, day time.Time, v *visit, version uint64) error {
	// minVersion: read our own writes, whatever the view's lag.
	tl, err := c.api.Timeline(ctx, v.id, url.Values{"limit": {"100"}, "minVersion": {fmt.Sprint(version)}, "wait": {"30s"}})
	if err != nil {
		return err
	}
	fmt.Printf("\nAudit trail of %s (visitor %s), from the query service's timeline:\n", v.id, v.visitor)
	for _, e := range tl.Items {
		fmt.Printf("  v%-3d %s  %-15s %-22s %s\n", e.Version, e.Time.Format("Mon _2 Jan 15:04"), e.Initiator, e.Type, changes(e))
	}
	if len(tl.Items) < 3 {
		return nil
	}
	// Between the third and the fourth event.
	a, b := tl.Items[2].Time, tl.Items[3].Time
	at := a.Add(b.Sub(a) / 2)
	then, err := c.api.State(ctx, v.id, url.Values{"at": {at.Format(time.RFC3339Nano)}})
	if err != nil {
		return err
	}
	var state schedule.State
	if err := json.Unmarshal(then.State, &state); err != nil {
		return err
	}
	fmt.Printf("\nThe same visit as it was at %s (time travel, ?at=): version %d, status %s",
		at.Format("Mon 2 Jan 15:04"), then.Version, state.Status)
	if state.Activity != schedule.ActivityNone {
		fmt.Printf(", %s in progress", state.Activity)
	}
	if !state.Reservation.Start.IsZero() {
		fmt.Printf(", slot %s–%s", state.Reservation.Start.Format("15:04"), state.Reservation.End.Format("15:04"))
	}
	fmt.Printf(", %d procedure(s) done\n", state.Procedures.Len())

	// The day's schedule, from the range index, page by page.
	var all []query.Summary
	next := dayQuery(day, 200)
	for next != "" {
		var page query.Page[query.Summary]
		if err := c.api.Get(ctx, next, &page); err != nil {
			return err
		}
		all, next = append(all, page.Items...), page.Next
	}
	byStatus := map[schedule.Status]int{}
	for _, s := range all {
		byStatus[s.Status]++
	}
	var counts []string
	for st, n := range byStatus {
		counts = append(counts, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(counts)
	fmt.Printf("\nThe schedule of %s (range query, by start; %d visits, walk-ins by their stay): %s\n",
		day.Format("Mon 2 Jan 2006"), len(all), strings.Join(counts, ", "))
	for i, s := range all {
		if i == 15 {
			fmt.Printf("  … and %d more\n", len(all)-15)
			break
		}
		fmt.Printf("  %s–%s  %-18s %-8s %s\n", s.Start.Format("15:04"), s.End.Format("15:04"), s.ScheduleID, s.VisitorID, s.Status)
	}
	return nil
}

// changes summarizes what an event changed, at most three fields.
func changes(e query.TimelineEntry) string {
	var parts []string
	for _, c := range e.Changes {
		path := strings.TrimPrefix(c.Path, "/")
		if strings.HasSuffix(path, "At") && c.Before == nil { // timestamps of the step itself say little
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s→%s", path, short(c.Before), short(c.After)))
	}
	if len(parts) > 3 {
		parts = append(parts[:3], "…")
	}
	return strings.Join(parts, "; ")
}

func short(v any) string {
	if v == nil {
		return "∅"
	}
	s := fmt.Sprint(v)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format("15:04")
	}
	if len(s) > 24 {
		return s[:23] + "…"
	}
	return s
}
