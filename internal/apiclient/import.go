package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/topics"
)

// Summary counts the outcomes of an import.
type Summary struct {
	Accepted, Rejected, Duplicate, Pending, Failed int
}

func (s Summary) String() string {
	return fmt.Sprintf("accepted %d, rejected %d, duplicate %d, pending %d, failed %d",
		s.Accepted, s.Rejected, s.Duplicate, s.Pending, s.Failed)
}

// Import sends NDJSON commands from r to ingest in chunks of chunk lines
// through POST /v1/commands, and counts outcomes. progress, when set, is
// called after each chunk with the lines done. Lines the server could not
// take (a problem) count as failed.
func (c *Client) Import(ctx context.Context, r io.Reader, chunk int, progress func(done int)) (Summary, error) {
	var sum Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var buf bytes.Buffer
	done, inChunk := 0, 0
	flush := func() error {
		if inChunk == 0 {
			return nil
		}
		if err := c.Batch(ctx, &buf, 30*time.Second, sum.count); err != nil {
			return fmt.Errorf("import: %w", err)
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
		return sum, fmt.Errorf("import: read: %w", err)
	}
	return sum, flush()
}

func (s *Summary) count(line ingest.BatchAnswer) error {
	switch {
	case line.Problem != nil || line.Result == nil:
		s.Failed++
	case line.Status == topics.StatusAccepted:
		s.Accepted++
	case line.Status == topics.StatusRejected:
		s.Rejected++
	case line.Status == topics.StatusDuplicate:
		s.Duplicate++
	default:
		s.Pending++
	}
	return nil
}
