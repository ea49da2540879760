package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/topics"
)

// maxEraseReason bounds an erasure's reason, in bytes.
const maxEraseReason = 500

// Erasure is the answer to DELETE /v1/visitors/{visitorId}/personal-data.
type Erasure struct {
	VisitorID string `json:"visitorId"`
	// Schedules counts the visitor's schedules, over every partition.
	Schedules int       `json:"schedules"`
	ErasedAt  time.Time `json:"erasedAt"`
	// ErasureID is the command id of the erasure (Idempotency-Key, or a
	// new one): its records are "<id>.p<partition>".
	ErasureID string `json:"erasureId"`
}

// erase destroys a visitor's keys on every partition (topics.TypeErase)
// and answers once every partition's processor has committed the
// destruction (docs/privacy.md). It is idempotent: a second erasure, or
// one of a visitor nobody knows, answers 200 as well; so is a retry after
// a 503, with or without the same Idempotency-Key.
func (s *Server) erase(w http.ResponseWriter, r *http.Request, who api.Principal) {
	visitor := r.PathValue("visitorId")
	if !aggregate.ValidID(visitor) {
		api.WriteProblem(w, aggregate.CodeInvalidID, "visitor id must match "+aggregate.IDPattern)
		return
	}
	if s.cfg.Erasures == nil {
		api.WriteProblem(w, api.CodeErasureUnavailable, "this ingest has no -erase-key-file to sign erasures with (docs/privacy.md#who-may-erase)")
		return
	}
	reason, perr := eraseReason(w, r)
	if perr != nil {
		api.WriteProblem(w, perr.Code, perr.Message)
		return
	}
	meta, wait, perr := s.meta(r, who, visitor)
	if perr == nil && meta.HasExpectedVersion {
		perr = aggregate.Reject(api.CodeBadParameter, "an erasure has no version: If-Match does not apply")
	}
	// Erasing waits for every partition, whatever ?wait= says.
	wait = max(wait, s.cfg.MaxWait)
	release, ok := s.admit(w, wait, perr)
	if !ok {
		return
	}
	defer release()
	n, err := s.partitions(r.Context())
	if err != nil {
		api.WriteProblem(w, api.CodeKafkaUnavailable, "Kafka did not answer with its partitions: retry")
		return
	}
	rec := s.record(r, who, access.Erase)
	rec.VisitorID, rec.CommandID = visitor, meta.ID
	if rec.Purpose == "" {
		rec.Purpose = oneLine(reason, access.MaxPurpose) // the erasure's own words say why
	}
	if !s.logAction(w, r.Context(), rec) {
		return
	}
	schedules, err := s.sendErasure(r.Context(), meta, reason, n, wait)
	if errors.Is(err, errUnsigned) {
		api.WriteProblem(w, api.CodeErasureUnavailable, "the processors refused the erasure's signature: give them the -erase-key-file ingest has; nothing was destroyed")
		return
	}
	if err != nil {
		api.WriteProblem(w, api.CodeKafkaUnavailable, fmt.Sprintf("the erasure %s did not complete (%v); nothing is undone by a retry: "+
			"retry with Idempotency-Key: %s", meta.ID, err, meta.ID))
		return
	}
	s.cfg.Logger.Info("personal data erased", "tenant", who.Tenant, "subject", who.Subject, "command_id", meta.ID, "schedules", schedules)
	api.WriteJSON(w, http.StatusOK, Erasure{VisitorID: visitor, Schedules: schedules, ErasedAt: meta.Time, ErasureID: meta.ID})
}

// eraseReason reads the optional body {"reason": "..."}.
func eraseReason(w http.ResponseWriter, r *http.Request) (string, *aggregate.Rejection) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		return "", aggregate.Reject(aggregate.CodeMalformed, "the body is at most 4096 bytes: {\"reason\": \"...\"}")
	}
	if len(body) == 0 {
		return "", nil
	}
	var b struct {
		Reason string `json:"reason"`
	}
	if err := aggregate.DecodeStrict(body, &b); err != nil {
		var rej *aggregate.Rejection
		if errors.As(err, &rej) {
			return "", rej
		}
		return "", aggregate.Reject(aggregate.CodeMalformed, "the body must be {\"reason\": \"...\"}")
	}
	if len(b.Reason) > maxEraseReason {
		return "", aggregate.Reject(aggregate.CodeInvalidField, "reason is longer than %d bytes", maxEraseReason)
	}
	return b.Reason, nil
}

// errUnsigned is sendErasure's error when a processor refused the
// signature: it holds other erasure keys, or none.
var errUnsigned = errors.New("ingest: the processors refused the erasure's signature")

// sendErasure produces the erasure's records, one per partition, and
// waits for every result; it returns the visitor's schedules they count.
func (s *Server) sendErasure(ctx context.Context, m aggregate.Meta, reason string, n int32, wait time.Duration) (int, error) {
	recs := topics.EraseRecords(m, reason, n)
	for _, rec := range recs {
		topics.SignErasure(rec, s.cfg.Erasures)
	}
	tickets := make([]*Ticket, len(recs))
	for i := range recs {
		tickets[i] = s.cfg.Waiter.Register(m.Tenant, topics.EraseID(m.ID, int32(i)))
		defer tickets[i].Close()
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	for _, rec := range recs {
		if err := s.produce(pctx, rec); err != nil {
			return 0, err
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, wait)
	defer wcancel()
	schedules := 0
	for _, t := range tickets {
		res, done := t.Wait(wctx)
		if !done {
			return 0, errors.New("a partition's processor did not answer in time")
		}
		if res.Status == topics.StatusRejected && res.Code == topics.CodeErasureUnsigned {
			return 0, errUnsigned
		}
		if res.Status == topics.StatusRejected {
			return 0, fmt.Errorf("a partition refused it: %s", res.Code)
		}
		schedules += res.Schedules
	}
	return schedules, nil
}

// partitions is the partition count of the topics, as Watch last saw
// it, or asked now.
func (s *Server) partitions(ctx context.Context) (int32, error) {
	if n := s.nparts.Load(); n > 0 {
		return n, nil
	}
	n, err := topics.Verify(ctx, s.cfg.Producer)
	if err == nil {
		s.nparts.Store(n)
	}
	return n, err
}

// oneLine is s with every character that is not printable made a space,
// cut to at most n bytes on a rune boundary.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
