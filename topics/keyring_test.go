package topics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// TestVerifyKeyring: the KEK the data keys were wrapped with passes, another
// is ErrKEKMismatch, and a broker that is gone is another error, one a
// service waits out instead of exiting for a setting it cannot fix.
func TestVerifyKeyring(t *testing.T) {
	c, brokers := testkit.Cluster(t)
	testkit.Topics(t, brokers, 2)
	ring := testkit.Keyring(t)
	rec, _, err := shred.NewRecord(ring, "clinic-1", "v-1", 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), topics.KeyRecord(shred.RecordKey("clinic-1", "v-1"), rec.Value(), 1)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers)}
	if err := topics.VerifyKeyring(t.Context(), opts, ring); err != nil {
		t.Errorf("the keys' own KEK: %v", err)
	}
	other, err := shred.ParseKeyring([]byte(shred.NewKEKLine("other")))
	if err != nil {
		t.Fatal(err)
	}
	err = topics.VerifyKeyring(t.Context(), opts, other)
	if !errors.Is(err, topics.ErrKEKMismatch) || !strings.Contains(err.Error(), "does not open the data keys on schedule-keys") {
		t.Errorf("another KEK: %v, want ErrKEKMismatch", err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := topics.VerifyKeyring(ctx, opts, other); err == nil || errors.Is(err, topics.ErrKEKMismatch) {
		t.Errorf("the broker gone: %v, want an error other than ErrKEKMismatch", err)
	}
}
