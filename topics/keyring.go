package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/shred"
)

// ErrKEKMismatch is VerifyKeyring's answer when the keyring opens none of
// the data keys it read: a setting to fix, not a broker to wait for. It
// wraps the keyring's own error for the first key (shred.ErrWrongKEK, or
// a KEK id the file does not have).
var ErrKEKMismatch = errors.New("the KEK file does not open the data keys")

// VerifyKeyring checks at start that ring opens the data keys on the key
// topic, so that a wrong KEK file fails with a clear error instead of as
// personal values that do not open. It reads each partition from its
// start to its first live key record and unwraps it: one that opens is
// enough (a forged record must not stop a service), none that does is a
// wrong keyring. A topic with no live key yet passes: there is nothing to
// be wrong about. opts connect to Kafka (TLS, SASL), and must not consume.
func VerifyKeyring(ctx context.Context, opts []kgo.Opt, ring shred.Keyring) error {
	adm, err := kadm.NewOptClient(opts...)
	if err != nil {
		return err
	}
	defer adm.Close()
	ends, err := LastStable(ctx, adm, Keys)
	if err != nil {
		return err
	}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			offsets[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(offsets) == 0 {
		return nil
	}
	rd, err := kgo.NewClient(append(slices.Clone(opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{Keys: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer rd.Close()
	var failed error
	for len(offsets) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("topics: verify the KEK against %s: %w", Keys, err)
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("topics: verify the KEK against %s: %w", Keys, err)
		}
		for _, rec := range fs.Records() {
			if _, open := offsets[rec.Partition]; !open {
				continue
			}
			end, _ := ends.Lookup(Keys, rec.Partition)
			r, err := shred.DecodeRecord(rec.Key, rec.Value, rec.Partition)
			switch {
			case err != nil || r.Destroyed != nil:
				if rec.Offset+1 >= end.Offset {
					delete(offsets, rec.Partition)
				}
				continue
			}
			if _, err := r.Key(ring); err == nil {
				return nil
			} else if failed == nil {
				failed = err
			}
			delete(offsets, rec.Partition)
		}
	}
	if failed != nil {
		return fmt.Errorf("topics: %w on %s: %w; start with the KEK file their keys were wrapped with", ErrKEKMismatch, Keys, failed)
	}
	return nil
}
