package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Summary counts the outcomes of an import.
type Summary struct {
	Accepted, Rejected, Duplicate, Pending, Failed int
}

func (s Summary) String() string {
	return fmt.Sprintf("accepted %d, rejected %d, duplicate %d, pending %d, failed %d",
		s.Accepted, s.Rejected, s.Duplicate, s.Pending, s.Failed)
}

// Import sends NDJSON commands from r to an ingest server at baseURL in
// chunks of chunk lines through POST /v1/commands, and counts outcomes.
// progress, when set, is called after each chunk with the lines done.
// Lines the server could not take (a problem) count as failed.
func Import(ctx context.Context, client *http.Client, baseURL, token string, r io.Reader, chunk int, progress func(done int)) (Summary, error) {
	var sum Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var buf bytes.Buffer
	done, inChunk := 0, 0
	flush := func() error {
		if inChunk == 0 {
			return nil
		}
		if err := importChunk(ctx, client, baseURL, token, &buf, &sum); err != nil {
			return err
		}
		done += inChunk
		buf.Reset()
		inChunk = 0
		if progress != nil {
			progress(done)
		}
		return nil
	}
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		buf.Write(sc.Bytes())
		buf.WriteByte('\n')
		if inChunk++; inChunk == chunk {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("ingest: import: read: %w", err)
	}
	return sum, flush()
}

func importChunk(ctx context.Context, client *http.Client, baseURL, token string, body *bytes.Buffer, sum *Summary) error {
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(baseURL, "/")+"/v1/commands?wait=30s", body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ingest: import: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("ingest: import: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var line struct {
			Status  string          `json:"status"`
			Problem json.RawMessage `json:"problem"`
		}
		if err := dec.Decode(&line); err != nil {
			return fmt.Errorf("ingest: import: answer: %w", err)
		}
		switch {
		case line.Problem != nil:
			sum.Failed++
		case line.Status == "accepted":
			sum.Accepted++
		case line.Status == "rejected":
			sum.Rejected++
		case line.Status == "duplicate":
			sum.Duplicate++
		default:
			sum.Pending++
		}
	}
	return nil
}
