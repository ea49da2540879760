package query

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/topics"
)

// The access indexes: each replica folds schedule-access, every
// partition, into an index by time, "x<tenant>/<time:12><partition:4>
// <offset:8>", whose entries hold the record as written, and the same
// suffix under the record's subject ("u<tenant>/<subject>/…"), visitor
// ("o…"), schedule ("j…") and action ("k…"), whose entries are empty and
// point at the time index's. The record is stored once: every read of
// patient data writes one, and each replica indexes every replica's, so
// their bytes are what the log costs the read path (Pebble's compactions
// rewrite them). Entries written before, which hold the record too, are
// read the same way. The tail's checkpoints are "d<partition>".
const (
	prefixAccess           = 'x'
	prefixAccessSubject    = 'u'
	prefixAccessVisitor    = 'o'
	prefixAccessSchedule   = 'j'
	prefixAccessAction     = 'k'
	prefixAccessCheckpoint = 'd'
)

// accessKeys are the index keys of r, at offset of partition: the time
// index's first, then those that point at it.
func accessKeys(r *access.Record, partition int32, offset int64) [][]byte {
	suffix := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(appendTime(nil, r.Time), uint32(partition)), uint64(offset))
	keys := [][]byte{append(activityPrefix(prefixAccess, r.Tenant, ""), suffix...),
		append(activityPrefix(prefixAccessSubject, r.Tenant, r.Subject), suffix...),
		append(activityPrefix(prefixAccessAction, r.Tenant, string(r.Action)), suffix...)}
	if r.VisitorID != "" {
		keys = append(keys, append(activityPrefix(prefixAccessVisitor, r.Tenant, r.VisitorID), suffix...))
	}
	if r.ScheduleID != "" {
		keys = append(keys, append(activityPrefix(prefixAccessSchedule, r.Tenant, r.ScheduleID), suffix...))
	}
	return keys
}

// indexable reports whether r's ids can be keys: a record that does not
// keep the id pattern (it was not written by Rewind) is passed over.
func indexable(r *access.Record) bool {
	for _, id := range []string{r.Tenant, r.Subject, string(r.Action)} {
		if !aggregate.ValidID(id) {
			return false
		}
	}
	for _, id := range []string{r.VisitorID, r.ScheduleID} {
		if id != "" && !aggregate.ValidID(id) {
			return false
		}
	}
	return true
}

// runAccess folds schedule-access into the access indexes until ctx ends.
func (v *View) runAccess(ctx context.Context) error {
	cl, err := kgo.NewClient(append(slices.Clone(v.cfg.ClientOpts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(8<<20))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	listed, err := topics.AwaitLastStable(ctx, kadm.NewClient(cl), topics.Access, func(err error) {
		v.log.Info("waiting for topic", "topic", topics.Access, "err", err)
	})
	if err != nil {
		return nil // ctx ended
	}
	offsets := map[int32]kgo.Offset{}
	var ferr error
	listed.Each(func(o kadm.ListedOffset) {
		next, err := kv.GetOffset(v.model.db, prefixAccessCheckpoint, o.Partition)
		ferr = errors.Join(ferr, err)
		offsets[o.Partition] = kgo.NewOffset().At(next)
	})
	if ferr != nil {
		return ferr
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topics.Access: offsets})
	for {
		fs := cl.PollRecords(ctx, v.cfg.MaxPoll)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				v.log.Warn("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		if err := v.foldAccess(fs); err != nil {
			return err
		}
	}
}

// foldAccess writes one poll of access records into the indexes, with
// the checkpoints, in one batch.
func (v *View) foldAccess(fs kgo.Fetches) error {
	if fs.NumRecords() == 0 {
		return nil
	}
	b := v.model.db.NewBatch()
	defer b.Close()
	next := map[int32]int64{}
	var err error
	fs.EachRecord(func(rec *kgo.Record) {
		next[rec.Partition] = rec.Offset + 1
		r, derr := access.Decode(rec.Value)
		if derr == nil && !indexable(&r) {
			derr = errors.New("ids that are not Rewind's")
		}
		if derr != nil {
			v.log.Warn("skipping unreadable access record", "partition", rec.Partition, "offset", rec.Offset, "err", derr)
			return
		}
		keys := accessKeys(&r, rec.Partition, rec.Offset)
		err = errors.Join(err, b.Set(keys[0], rec.Value, nil))
		for _, k := range keys[1:] {
			err = errors.Join(err, b.Set(k, nil, nil))
		}
	})
	for p, n := range next {
		err = errors.Join(err, kv.SetOffset(b, prefixAccessCheckpoint, p, n))
	}
	if err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// accessFilter is what GET /v1/access asks for.
type accessFilter struct {
	from, to                           time.Time
	subject, visitor, schedule, action string
	newestFirst                        bool
}

func (f *accessFilter) match(r *access.Record) bool {
	return (f.subject == "" || r.Subject == f.subject) && (f.visitor == "" || r.VisitorID == f.visitor) &&
		(f.schedule == "" || r.ScheduleID == f.schedule) && (f.action == "" || string(r.Action) == f.action)
}

// index picks the narrowest index the filter names, and how to load a
// record from its entries: nil for the time index, which holds them.
func (f *accessFilter) index(r pebble.Reader, tenant string) ([]byte, func(suffix []byte) ([]byte, error)) {
	records := activityPrefix(prefixAccess, tenant, "")
	load := func(suffix []byte) ([]byte, error) {
		v, closer, err := r.Get(append(records[:len(records):len(records)], suffix...))
		if err != nil {
			// The time index's entry is written in the batch of the one
			// that points at it: one without the other is damage.
			return nil, fmt.Errorf("%w: an access index entry without its record: %w", errCorrupt, err)
		}
		defer closer.Close()
		return slices.Clone(v), nil
	}
	switch {
	case f.visitor != "":
		return activityPrefix(prefixAccessVisitor, tenant, f.visitor), load
	case f.schedule != "":
		return activityPrefix(prefixAccessSchedule, tenant, f.schedule), load
	case f.subject != "":
		return activityPrefix(prefixAccessSubject, tenant, f.subject), load
	case f.action != "":
		return activityPrefix(prefixAccessAction, tenant, f.action), load
	}
	return records, nil
}

// listAccess answers GET /v1/access (scope audit): the tenant's access
// records, newest first unless ?order=oldest. "Who looked at my record"
// is ?visitorId=. Reading the log is itself recorded.
func (v *View) listAccess(w http.ResponseWriter, r *http.Request, who api.Principal, rec *access.Record) {
	if v.cfg.NoAccessIndex {
		api.WriteProblem(w, api.CodeAccessNotIndexed, "this replica does not index the access log (-access-index=false); ask a replica that does")
		return
	}
	q, ok := parseParams(w, r, "from", "to", "subject", "visitorId", "scheduleId", "action", "order", "limit", "cursor", "format")
	if !ok {
		return
	}
	f := &accessFilter{from: q.time("from"), to: q.time("to"), subject: q.optionalID("subject"),
		visitor: q.optionalID("visitorId"), schedule: q.optionalID("scheduleId"), action: q.get("action")}
	if f.action != "" && !slices.Contains(access.Actions, access.Action(f.action)) {
		q.fail("action", "must be one of view, list, export, erase, command")
	}
	f.newestFirst = q.order()
	q.window(f.from, f.to)
	q.format()
	limit := q.limit(defaultLimit)
	if !q.ok(w) {
		return
	}
	snap := v.model.db.NewSnapshot()
	defer snap.Close()
	page := func(cursor string, limit int) ([]access.Record, string, error) {
		pre, load := f.index(snap, who.Tenant)
		return indexPage(snap, pre, load, f.from, f.to, f.newestFirst, cursor, limit, f.match)
	}
	rec.VisitorID, rec.ScheduleID = f.visitor, f.schedule
	if format := exportFormat(r); format != "" {
		export(v, w, r, rec, format, page, accessExporter)
		return
	}
	items, next, err := page(q.get("cursor"), limit)
	rec.Query = r.URL.RawQuery
	writePage(v, w, r, rec, items, next, err)
}
