// Package apiclient is Rewind's HTTP API as a Go caller uses it: the one
// client of the demo, the bench, the importer (ingest import) and the
// end-to-end tests.
//
// Its answers are the servers' own types: topics.Result for a command's
// outcome, ingest.BatchAnswer for a line of a batch, query.StateResponse,
// query.Page and query.TimelineEntry for reads. A change to a contract
// therefore changes its callers with it, instead of leaving a copy of the
// old shape to fail at run time.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/topics"
)

// Client calls ingest and query with one bearer token.
type Client struct {
	// Ingest and Query are the services' base URLs, like
	// "http://127.0.0.1:8080"; a client may have only one of them.
	Ingest, Query string
	Token         string
	// HTTP is the client requests go through; nil is
	// http.DefaultClient.
	HTTP *http.Client
}

// As returns a copy of c that acts with another token.
func (c *Client) As(token string) *Client {
	d := *c
	d.Token = token
	return &d
}

// Error is an answer other than the success a call expects: its HTTP
// status and, when the server sent one, its problem document.
type Error struct {
	Method, URL string
	StatusCode  int
	// Problem is the answer's problem document; its Code is the stable
	// code to act on. Body is the answer when it was not one.
	Problem *api.Problem
	Body    string
	// Header is the answer's header: Retry-After on a 503, for one.
	Header http.Header
}

func (e *Error) Error() string {
	if e.Problem != nil {
		return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, e.Problem.Code, e.Problem.Detail)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, strings.TrimSpace(e.Body))
}

// Code is the problem code of err when it is or wraps an *Error with a
// problem document, and "" otherwise.
func Code(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Problem != nil {
		return e.Problem.Code
	}
	return ""
}

// Command is one command to send.
type Command struct {
	Schedule, Type string
	// Data is the command's JSON body; nil sends none.
	Data []byte
	// IdempotencyKey makes a retry safe: ingest answers it with the
	// first outcome. Empty lets ingest pick a key.
	IdempotencyKey string
	// ExpectedVersion, when set, is sent as If-Match: the command is
	// rejected (version_conflict) unless the schedule is at it.
	ExpectedVersion *uint64
	// Wait is how long ingest waits for the outcome; 0 is ingest's
	// default.
	Wait time.Duration
	// Time, when set, is when the command happened (Ce-Time); zero is
	// ingest's clock.
	Time time.Time
}

// Send sends a command to ingest and returns its outcome: accepted,
// rejected, duplicate (of either) or pending (not decided within the
// wait). A rejection is an outcome, not an error; an error is an answer
// without a result (an *Error: bad input, authentication, a refused key,
// Kafka unavailable) or a failed request.
func (c *Client) Send(ctx context.Context, cmd Command) (topics.Result, error) {
	u := c.Ingest + "/v1/schedules/" + url.PathEscape(cmd.Schedule) + "/commands/" + url.PathEscape(cmd.Type)
	if cmd.Wait > 0 {
		u += "?wait=" + cmd.Wait.String()
	}
	var body io.Reader
	if cmd.Data != nil {
		body = bytes.NewReader(cmd.Data)
	}
	req, err := c.request(ctx, http.MethodPost, u, body)
	if err != nil {
		return topics.Result{}, err
	}
	if cmd.Data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cmd.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", cmd.IdempotencyKey)
	}
	if !cmd.Time.IsZero() {
		req.Header.Set("Ce-Time", cmd.Time.UTC().Format(time.RFC3339Nano))
	}
	if cmd.ExpectedVersion != nil {
		req.Header.Set("If-Match", `"`+strconv.FormatUint(*cmd.ExpectedVersion, 10)+`"`)
	}
	resp, err := c.do(req)
	if err != nil {
		return topics.Result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return topics.Result{}, err
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		var res topics.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return res, fmt.Errorf("POST %s: answer: %w", u, err)
		}
		return res, nil
	}
	// A rejection is a problem document with the result's members; any
	// other problem has no commandId.
	var rej ingest.Rejection
	if json.Unmarshal(b, &rej) == nil && rej.CommandID != "" {
		return rej.Result(), nil
	}
	return topics.Result{}, answerError(req, resp, b)
}

// Batch posts NDJSON commands (lines of ingest.BatchCommand) to ingest's
// POST /v1/commands and calls each with every answer line as it arrives,
// in the order of the lines.
func (c *Client) Batch(ctx context.Context, ndjson io.Reader, wait time.Duration, each func(ingest.BatchAnswer) error) error {
	u := c.Ingest + "/v1/commands"
	if wait > 0 {
		u += "?wait=" + wait.String()
	}
	req, err := c.request(ctx, http.MethodPost, u, ndjson)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.doOK(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var line ingest.BatchAnswer
		if err := dec.Decode(&line); err != nil {
			return fmt.Errorf("POST %s: answer: %w", u, err)
		}
		if err := each(line); err != nil {
			return err
		}
	}
	return nil
}

// Get reads path (with its query) from the query service into out, which
// is decoded from the JSON answer; a nil out discards the answer.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	req, err := c.request(ctx, http.MethodGet, c.Query+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.doOK(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: answer: %w", req.URL, err)
	}
	return nil
}

// State is GET /v1/schedules/{id} with the parameters in params
// (version, at, minVersion, wait); nil asks for the newest state.
func (c *Client) State(ctx context.Context, schedule string, params url.Values) (query.StateResponse, error) {
	var s query.StateResponse
	err := c.Get(ctx, "/v1/schedules/"+url.PathEscape(schedule)+encode(params), &s)
	return s, err
}

// Timeline is one page of GET /v1/schedules/{id}/timeline with the
// parameters in params (after, limit, minVersion, wait).
func (c *Client) Timeline(ctx context.Context, schedule string, params url.Values) (query.Page[query.TimelineEntry], error) {
	var p query.Page[query.TimelineEntry]
	err := c.Get(ctx, "/v1/schedules/"+url.PathEscape(schedule)+"/timeline"+encode(params), &p)
	return p, err
}

func encode(params url.Values) string {
	if len(params) == 0 {
		return ""
	}
	return "?" + params.Encode()
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	h := c.HTTP
	if h == nil {
		h = http.DefaultClient
	}
	return h.Do(req)
}

// doOK sends req and returns the answer if it is 200 OK, and an *Error
// otherwise.
func (c *Client) doOK(req *http.Request) (*http.Response, error) {
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, answerError(req, resp, b)
	}
	return resp, nil
}

func answerError(req *http.Request, resp *http.Response, body []byte) error {
	e := &Error{Method: req.Method, URL: req.URL.String(), StatusCode: resp.StatusCode, Body: string(body), Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p api.Problem
		if json.Unmarshal(body, &p) == nil && p.Code != "" {
			e.Problem = &p
		}
	}
	return e
}
