package ingest

import (
	"cmp"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// Config configures a Server.
type Config struct {
	// Producer writes commands; it must be idempotent with acks=all (the
	// franz-go defaults). The caller owns it.
	Producer *kgo.Client
	Waiter   *Waiter
	Tokens   *api.Tokens
	// Kind decodes commands before they are produced.
	Kind aggregate.Kind
	// Erasures signs erasures (-erase-key-file), which the processors
	// carry out only signed. Without it, erasures answer 503.
	Erasures *shred.Signer
	// Access records each command and erasure before it is sent
	// (docs/audit.md). Required.
	Access *access.Logger
	// DefaultWait is how long a request waits for its outcome. The
	// default value is api.DefaultWait (5s).
	DefaultWait time.Duration
	// MaxWait is the longest ?wait= a request may ask for; a longer one
	// is answered 400 bad_parameter. The default value is api.MaxWait
	// (30s).
	MaxWait time.Duration
	// ProduceTimeout bounds waiting for Kafka's acknowledgement; past it
	// the answer is 503. The default value is 10s.
	ProduceTimeout time.Duration
	// MaxWaiting bounds the requests waiting for outcomes at once (a
	// request with ?wait=0 does not count); past it the answer is 503
	// too_many_waiting with Retry-After, before anything is produced.
	// The default value is api.DefaultMaxWaiting.
	MaxWaiting int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	c.DefaultWait = cmp.Or(c.DefaultWait, api.DefaultWait)
	c.MaxWait = cmp.Or(c.MaxWait, api.MaxWait)
	c.ProduceTimeout = cmp.Or(c.ProduceTimeout, 10*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports every problem with the config.
func (c *Config) Validate() error {
	var errs []error
	for name, missing := range map[string]bool{"producer": c.Producer == nil, "waiter": c.Waiter == nil,
		"tokens": c.Tokens == nil, "kind": c.Kind == nil, "access log": c.Access == nil} {
		if missing {
			errs = append(errs, fmt.Errorf("ingest: %s is required", name))
		}
	}
	if c.DefaultWait < 0 || c.MaxWait < c.DefaultWait {
		errs = append(errs, fmt.Errorf("ingest: the default wait (%s) must be between 0 and the most (%s)", c.DefaultWait, c.MaxWait))
	}
	if c.ProduceTimeout < 0 || c.MaxWaiting < 0 {
		errs = append(errs, errors.New("ingest: the produce timeout and the most waiting must not be negative"))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// OpenAPI is the API's OpenAPI document, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Server is the HTTP command API.
type Server struct {
	cfg     Config
	types   map[string]bool
	metrics *metrics
	waiters *api.Waiters
	kafkaOK atomic.Bool
	nparts  atomic.Int32 // the topics' partition count, once Watch saw it
}

// healthEvery is how often Watch checks Kafka and the topics.
const healthEvery = 2 * time.Second

// Watch checks until ctx ends that Kafka answers and the topics are
// present and sound, for Ready.
func (s *Server) Watch(ctx context.Context) {
	for {
		cctx, cancel := context.WithTimeout(ctx, healthEvery)
		n, err := topics.Verify(cctx, s.cfg.Producer)
		cancel()
		if err == nil {
			s.nparts.Store(n)
		}
		if ok := err == nil; ok != s.kafkaOK.Swap(ok) && ctx.Err() == nil {
			s.cfg.Logger.Info("kafka readiness changed", "ready", ok, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthEvery):
		}
	}
}

// Ready reports whether Kafka answered the last check with the topics in
// place and the waiter is consuming: /readyz.
func (s *Server) Ready() bool { return s.kafkaOK.Load() && s.cfg.Waiter.Ready() }

// New checks the config and builds a server.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	types := map[string]bool{}
	for _, t := range cfg.Kind.CommandTypes() {
		types[t] = true
	}
	waiters := api.NewWaiters(cfg.MaxWaiting)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_ingest_waiting_requests",
			Help: "Requests waiting for outcomes now (bounded by -max-waiting)."},
			func() float64 { return float64(waiters.Waiting()) }))
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rewind_ingest_outcome_history_left",
			Help: "Records of schedule-results the outcome history has still to read after a start (0 once loaded: GET /v1/commands/{id} knows every outcome)."},
			func() float64 { return float64(cfg.Waiter.HistoryLeft()) }))
	}
	return &Server{cfg: cfg, types: types, metrics: newMetrics(cfg.Registerer), waiters: waiters}, nil
}

// Routes adds the API's routes to mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("POST /v1/schedules/{id}/commands/{type}", s.authed(api.ScopeWrite, s.postCommand))
	mux.Handle("GET /v1/commands/{id}", s.authed(api.ScopeWrite, s.getCommand))
	mux.Handle("POST /v1/commands", s.authed(api.ScopeWrite, s.postBatch))
	mux.Handle("DELETE /v1/visitors/{visitorId}/personal-data", s.authed(api.ScopeErase, s.erase))
	mux.Handle("GET /openapi.yaml", api.OpenAPI(OpenAPI))
}

// forbiddenHeaders are headers by which a client might try to choose its
// tenant or initiator; both come from the token alone.
var forbiddenHeaders = []string{"Ce-Tenantid", "Ce-Initiator", "X-Tenant-Id", "X-Initiator"}

// authed resolves the bearer token, which must hold scope (a read-only
// token, such as an auditor's, is answered 403 insufficient_scope), and
// counts the answer.
func (s *Server) authed(scope api.Scope, h func(http.ResponseWriter, *http.Request, api.Principal)) http.Handler {
	return api.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok := s.cfg.Tokens.Require(w, r, scope)
		if !ok {
			return
		}
		for _, name := range forbiddenHeaders {
			if r.Header.Get(name) != "" {
				api.WriteProblem(w, api.CodeForbidden, "the tenant and initiator come from the token; "+name+" is not accepted")
				return
			}
		}
		h(w, r, who)
	}), s.metrics.requests, nil)
}

func (s *Server) postCommand(w http.ResponseWriter, r *http.Request, who api.Principal) {
	stream, typ := r.PathValue("id"), r.PathValue("type")
	if !aggregate.ValidID(stream) {
		api.WriteProblem(w, aggregate.CodeInvalidID, "schedule id must match "+aggregate.IDPattern)
		return
	}
	if !s.types[typ] {
		api.WriteProblem(w, aggregate.CodeUnknownType, s.unknownType(typ))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, topics.MaxCommandBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			api.WriteProblem(w, api.CodeTooLarge, fmt.Sprintf("a command is at most %d bytes", topics.MaxCommandBytes))
			return
		}
		api.WriteProblem(w, aggregate.CodeMalformed, "unreadable body")
		return
	}
	if _, err := s.cfg.Kind.DecodeCommand(typ, body); err != nil {
		api.CommandProblem(aggregate.CodeOf(err), rejectionMessage(err)).Write(w)
		return
	}
	meta, wait, perr := s.meta(r, who, stream)
	release, ok := s.admit(w, wait, perr)
	if !ok {
		return
	}
	defer release()
	rec := s.record(r, who, access.Command)
	rec.ScheduleID, rec.CommandType, rec.CommandID = stream, typ, meta.ID
	if !s.logAction(w, r.Context(), rec) {
		return
	}
	res, done, err := s.send(r.Context(), typ, meta, body, wait)
	if err != nil {
		api.WriteProblem(w, api.CodeKafkaUnavailable, "Kafka did not acknowledge command "+meta.ID+
			" in time; it may or may not land: retry with Idempotency-Key: "+meta.ID)
		return
	}
	if !done {
		w.Header().Set("Location", "/v1/commands/"+url.PathEscape(meta.ID))
		api.WriteJSON(w, http.StatusAccepted, topics.Result{CommandID: meta.ID, TenantID: who.Tenant, ScheduleID: stream, Status: "pending"})
		return
	}
	writeOutcome(w, res)
}

// record is the access record of an action of who through r.
func (s *Server) record(r *http.Request, who api.Principal, action access.Action) *access.Record {
	return access.NewRecord(r, who.Tenant, who.Subject, who.TokenID, r.Pattern, action)
}

// logAction writes rec and reports whether the action may go on. When it
// may not, it has answered: 400 for a bad X-Purpose, 503 when the record
// was not acknowledged. Nothing is sent before its record is written: no
// action goes unrecorded. The 503 is kafka_unavailable, as ingest has
// always answered when Kafka does not acknowledge: clients retry on that
// code, and the access log is on Kafka too.
func (s *Server) logAction(w http.ResponseWriter, ctx context.Context, rec *access.Record) bool {
	if err := rec.CheckPurpose(); err != nil {
		api.WriteProblem(w, api.CodeBadParameter, err.Error())
		return false
	}
	if err := s.cfg.Access.Log(ctx, rec); err != nil {
		w.Header().Set("Retry-After", access.RetryAfter)
		api.WriteProblem(w, api.CodeKafkaUnavailable, "Kafka did not acknowledge the action's access record, and nothing was sent: retry")
		return false
	}
	return true
}

// admit answers perr's problem, or takes one of the waiters' slots for a
// request that will wait (answering 503 when none is free). When ok is
// false the response is written; otherwise the caller MUST call release.
func (s *Server) admit(w http.ResponseWriter, wait time.Duration, perr *aggregate.Rejection) (release func(), ok bool) {
	if perr != nil {
		api.WriteProblem(w, perr.Code, perr.Message)
		return nil, false
	}
	if wait <= 0 {
		return func() {}, true
	}
	return s.waiters.Acquire(w)
}

// wait reads ?wait=: how long to wait for outcomes, at most MaxWait.
func (s *Server) wait(r *http.Request) (time.Duration, *aggregate.Rejection) {
	q := r.URL.Query().Get("wait")
	if q == "" {
		return s.cfg.DefaultWait, nil
	}
	d, err := api.ParseWait(q, s.cfg.MaxWait)
	if err != nil {
		return 0, aggregate.Reject(api.CodeBadParameter, "wait %v", err)
	}
	return d, nil
}

// send produces the command and waits up to wait for its outcome. err is
// Kafka's, when it did not acknowledge the command in time.
func (s *Server) send(ctx context.Context, typ string, m aggregate.Meta, body []byte, wait time.Duration) (res topics.Result, done bool, err error) {
	ticket := s.cfg.Waiter.Register(m.Tenant, m.ID)
	defer ticket.Close()
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()
	if err := s.produce(pctx, topics.CommandRecord(typ, m, body)); err != nil {
		s.cfg.Logger.Warn("produce failed", "tenant", m.Tenant, "command_id", m.ID, "err", err)
		return res, false, err
	}
	if wait == 0 {
		return res, false, nil
	}
	wctx, wcancel := context.WithTimeout(ctx, wait)
	defer wcancel()
	res, done = ticket.Wait(wctx)
	if done {
		s.metrics.wait.Observe(time.Since(start).Seconds())
	}
	return res, done, nil
}

// produce waits for Kafka's acknowledgement, at most until ctx ends: a
// record already sent to a broker that died is not failed by franz-go
// until its retries end, and the client must not wait that long. Such a
// record may still land; the answer (503) carries its command id, and a
// retry with that Idempotency-Key is safe.
func (s *Server) produce(ctx context.Context, r *kgo.Record) error {
	acked := make(chan error, 1)
	s.cfg.Producer.Produce(ctx, r, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err := <-acked:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request, who api.Principal) {
	id := r.PathValue("id")
	// ?wait= as for a POST; without it the answer is at once.
	var wait time.Duration
	if r.URL.Query().Has("wait") {
		d, perr := s.wait(r)
		if perr != nil {
			api.WriteProblem(w, perr.Code, perr.Message)
			return
		}
		wait = d
	}
	res, found, pending := s.cfg.Waiter.Outcome(who.Tenant, id)
	if !found && !s.cfg.Waiter.Loaded() && wait > 0 {
		// Perhaps an outcome the history has still to read: wait for it
		// to be loaded, within ?wait=.
		deadline := time.Now().Add(wait)
		for !s.cfg.Waiter.Loaded() && time.Now().Before(deadline) && r.Context().Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		res, found, pending = s.cfg.Waiter.Outcome(who.Tenant, id)
		wait = time.Until(deadline)
	}
	if !found && wait > 0 {
		release, ok := s.waiters.Acquire(w)
		if !ok {
			return
		}
		defer release()
		// Registered before looking again: an outcome that lands in
		// between is not missed.
		ticket := s.cfg.Waiter.Register(who.Tenant, id)
		defer ticket.Close()
		if res, found, _ = s.cfg.Waiter.Outcome(who.Tenant, id); !found {
			wctx, cancel := context.WithTimeout(r.Context(), wait)
			defer cancel()
			res, found = ticket.Wait(wctx)
		}
	}
	switch {
	case found:
		writeOutcome(w, res)
	case pending:
		api.WriteJSON(w, http.StatusAccepted, topics.Result{CommandID: id, TenantID: who.Tenant, Status: "pending"})
	case !s.cfg.Waiter.Loaded():
		w.Header().Set("Retry-After", "1")
		api.WriteProblem(w, api.CodeOutcomesLoading,
			fmt.Sprintf("this instance is still reading the outcomes on schedule-results (%d records left); retry", s.cfg.Waiter.HistoryLeft()))
	default:
		api.WriteProblem(w, api.CodeUnknownCommand, "no outcome for this command id and tenant on schedule-results (kept 7 days)")
	}
}

// unknownType is the detail of an unknown command type: the kernel's
// message, which lists the known ones.
func (s *Server) unknownType(typ string) string {
	_, err := s.cfg.Kind.DecodeCommand(typ, nil)
	return rejectionMessage(err)
}

// writeOutcome answers with a result: 200 for accepted and duplicate of
// an accepted command (with the first outcome). A rejection, or a
// duplicate of one, is an error like any other: a problem document, 412
// for a version conflict and 409 for any other rule (rejection). An
// Idempotency-Key already used for another command is no outcome of this
// command at all: 422 (the command was not run; the client must not take
// it for done).
func writeOutcome(w http.ResponseWriter, res topics.Result) {
	if p := reusedKey(res); p != nil {
		p.Write(w)
		return
	}
	if res.Status == topics.StatusRejected || res.FirstStatus == topics.StatusRejected {
		writeRejection(w, res)
		return
	}
	w.Header().Set("ETag", `"`+strconv.FormatUint(res.Version, 10)+`"`)
	api.WriteJSON(w, http.StatusOK, res)
}

// Rejection is the problem document of a rejected command: RFC 9457's
// members, and the result's as extension members.
type Rejection struct {
	api.Problem
	CommandID  string               `json:"commandId"`
	TenantID   string               `json:"tenantId,omitempty"`
	ScheduleID string               `json:"scheduleId,omitempty"`
	Version    uint64               `json:"version"`
	Events     []topics.ResultEvent `json:"events,omitempty"`
	// Duplicate is set when this answers a retry with the first outcome.
	Duplicate bool `json:"duplicate,omitempty"`
}

func writeRejection(w http.ResponseWriter, res topics.Result) {
	p := api.RejectionProblem(res.Code, res.Message)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(Rejection{
		Problem:   p,
		CommandID: res.CommandID, TenantID: res.TenantID, ScheduleID: res.ScheduleID,
		Version: res.Version, Events: res.Events, Duplicate: res.Status == topics.StatusDuplicate,
	})
}

// Result is the result a rejection answers with.
func (r Rejection) Result() topics.Result {
	res := topics.Result{CommandID: r.CommandID, TenantID: r.TenantID, ScheduleID: r.ScheduleID,
		Status: topics.StatusRejected, Code: r.Code, Message: r.Detail, Version: r.Version, Events: r.Events}
	if r.Duplicate {
		res.Status, res.FirstStatus = topics.StatusDuplicate, topics.StatusRejected
	}
	return res
}

// reusedKey is the problem answering a result that refuses a reused
// Idempotency-Key (or command id), and nil for any other result.
func reusedKey(res topics.Result) *api.Problem {
	if res.Status != topics.StatusRejected || res.Code != api.CodeIdempotencyKeyReused {
		return nil
	}
	return new(api.NewProblem(api.CodeIdempotencyKeyReused, "Idempotency-Key "+res.CommandID+" was already used for a different command "+
		"(another type, data or expected version); this command was not run. Send it with a new key."))
}

func rejectionMessage(err error) string {
	if r, ok := errors.AsType[*aggregate.Rejection](err); ok {
		return r.Message
	}
	return err.Error()
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
