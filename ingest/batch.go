package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/topics"
)

// maxBatchLines bounds one NDJSON request, so its tickets stay bounded.
const maxBatchLines = 100000

// BatchCommand is one line of POST /v1/commands.
type BatchCommand struct {
	ScheduleID      string          `json:"scheduleId"`
	Type            string          `json:"type"`
	Data            json.RawMessage `json:"data,omitempty"`
	IdempotencyKey  string          `json:"idempotencyKey,omitempty"`
	ExpectedVersion *uint64         `json:"expectedVersion,omitempty"`
	// Time is when the command happened, as Ce-Time is on a single
	// command; empty is ingest's clock.
	Time string `json:"time,omitempty"`
}

// BatchAnswer is one answer line: the outcome, or a problem (with its
// HTTP status and code, as a single request would have been answered) for
// a line that was never produced or whose idempotencyKey was reused.
type BatchAnswer struct {
	Line int `json:"line"`
	*topics.Result
	Problem *api.Problem `json:"problem,omitempty"`
}

// pendingLine is a line on its way: produced (or refused) and waiting.
type pendingLine struct {
	meta     aggregate.Meta
	typ      string
	data     []byte
	ticket   *Ticket
	produced chan error
	problem  *api.Problem
}

// postBatch takes NDJSON commands and streams NDJSON outcomes, in input
// order. Every line is produced at once; answers then come as outcomes
// arrive, each waiting at most ?wait= from the request's start.
func (s *Server) postBatch(w http.ResponseWriter, r *http.Request, who api.Principal) {
	wait, perr := s.wait(r)
	release, ok := s.admit(w, wait, perr)
	if !ok {
		return
	}
	defer release()
	deadline := time.Now().Add(wait)
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 0, 64<<10), topics.MaxCommandBytes+1024)
	var lines []*pendingLine
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if len(lines) == maxBatchLines {
			api.WriteProblem(w, api.CodeTooLarge, fmt.Sprintf("at most %d commands per request", maxBatchLines))
			s.closeAll(lines)
			return
		}
		lines = append(lines, s.parseLine(who, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		lines = append(lines, &pendingLine{problem: new(api.NewProblem(api.CodeTooLarge, "a line is over 64 KiB"))})
	}
	defer s.closeAll(lines)
	if err := s.record(r, who, access.Command).CheckPurpose(); err != nil {
		api.WriteProblem(w, api.CodeBadParameter, err.Error())
		return
	}
	s.recordLines(r, who, lines)
	for _, l := range lines {
		s.produceLine(r.Context(), l)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	// Each answer is sent as soon as it is written: the next may wait
	// for its outcome up to ?wait=, and a client streams them. The
	// controller reaches the connection through wrappers that Unwrap
	// (a type assertion on w would find the metrics recorder, no
	// Flusher, and never flush).
	rc := http.NewResponseController(w)
	for i, l := range lines {
		_ = enc.Encode(s.finishLine(r.Context(), i+1, l, deadline))
		_ = rc.Flush()
	}
}

// parseLine validates one line.
func (s *Server) parseLine(who api.Principal, raw []byte) *pendingLine {
	var c BatchCommand
	if err := aggregate.DecodeStrict(raw, &c); err != nil {
		return &pendingLine{problem: commandProblem(err)}
	}
	if !aggregate.ValidID(c.ScheduleID) {
		return &pendingLine{problem: new(api.NewProblem(aggregate.CodeInvalidID, "scheduleId must match "+aggregate.IDPattern))}
	}
	if !s.types[c.Type] {
		return &pendingLine{problem: new(api.NewProblem(aggregate.CodeUnknownType, s.unknownType(c.Type)))}
	}
	if _, err := s.cfg.Kind.DecodeCommand(c.Type, c.Data); err != nil {
		return &pendingLine{problem: commandProblem(err)}
	}
	m := aggregate.Meta{ID: c.IdempotencyKey, Tenant: who.Tenant, Stream: c.ScheduleID, Initiator: who.Subject}
	var terr *aggregate.Rejection
	if m.Time, terr = commandTime(c.Time, "time"); terr != nil {
		return &pendingLine{problem: new(api.NewProblem(terr.Code, terr.Message))}
	}
	if m.ID == "" {
		m.ID = newID()
	} else if len(m.ID) > 256 {
		return &pendingLine{problem: new(api.NewProblem(api.CodeBadParameter, "idempotencyKey is at most 256 bytes"))}
	}
	if c.ExpectedVersion != nil {
		m.ExpectedVersion, m.HasExpectedVersion = *c.ExpectedVersion, true
	}
	return &pendingLine{meta: m, typ: c.Type, data: c.Data, ticket: s.cfg.Waiter.Register(m.Tenant, m.ID), produced: make(chan error, 1)}
}

// recordChunk is how many of a batch's records are written at once. A
// record's timeout is the sign that Kafka is gone; a hundred thousand
// records queued at once behind one producer would wait past it for
// each other, and take the access log down with them.
const recordChunk = 500

// recordLines writes the access record of every valid line, a chunk at a
// time. A line whose record was not acknowledged is answered
// kafka_unavailable, and not sent.
func (s *Server) recordLines(r *http.Request, who api.Principal, lines []*pendingLine) {
	errs := make([]error, len(lines))
	for start := 0; start < len(lines); start += recordChunk {
		var wg sync.WaitGroup
		for i := start; i < min(start+recordChunk, len(lines)); i++ {
			l := lines[i]
			if l.problem != nil {
				continue
			}
			rec := s.record(r, who, access.Command)
			rec.ScheduleID, rec.CommandType, rec.CommandID = l.meta.Stream, l.typ, l.meta.ID
			wg.Go(func() { errs[i] = s.cfg.Access.Log(r.Context(), rec) })
		}
		wg.Wait()
	}
	for i, l := range lines {
		if errs[i] != nil {
			l.problem = new(api.NewProblem(api.CodeKafkaUnavailable, "Kafka did not acknowledge the command's access record, and it was not sent: retry"))
		}
	}
}

// produceLine produces a recorded line asynchronously. Lines are produced
// in input order, so one schedule's commands keep theirs.
func (s *Server) produceLine(ctx context.Context, l *pendingLine) {
	if l.problem != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	s.cfg.Producer.Produce(pctx, topics.CommandRecord(l.typ, l.meta, l.data), func(_ *kgo.Record, err error) {
		cancel()
		l.produced <- err
	})
}

// finishLine waits for a line's acknowledgement and outcome.
func (s *Server) finishLine(ctx context.Context, n int, l *pendingLine, deadline time.Time) BatchAnswer {
	if l.problem != nil {
		return BatchAnswer{Line: n, Problem: l.problem}
	}
	var err error
	select {
	case err = <-l.produced:
	case <-time.After(time.Until(deadline)):
		err = context.DeadlineExceeded
	}
	if err != nil {
		return BatchAnswer{Line: n, Problem: new(api.NewProblem(api.CodeKafkaUnavailable, "Kafka did not acknowledge command "+l.meta.ID+" in time; retry with that idempotencyKey"))}
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	res, ok := l.ticket.Wait(wctx)
	if !ok {
		res = topics.Result{CommandID: l.meta.ID, TenantID: l.meta.Tenant, ScheduleID: l.meta.Stream, Status: "pending"}
	}
	return outcomeLine(n, res)
}

// outcomeLine is the answer line of an outcome: the result, or for a
// reused idempotencyKey the problem a single request gets (422).
func outcomeLine(n int, res topics.Result) BatchAnswer {
	if p := reusedKey(res); p != nil {
		return BatchAnswer{Line: n, Problem: p}
	}
	return BatchAnswer{Line: n, Result: &res}
}

func (s *Server) closeAll(lines []*pendingLine) {
	for _, l := range lines {
		if l.ticket != nil {
			l.ticket.Close()
		}
	}
}

// commandProblem is a line's problem for a command its own data refused.
func commandProblem(err error) *api.Problem {
	return new(api.CommandProblem(aggregate.CodeOf(err), rejectionMessage(err)))
}
