package topics_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// TestSignErasure: a signed erasure verifies under any key of the file
// that has the signing key, and under no other; a change to anything the
// record says (partition, key, reason, a header) or a second signature
// breaks it.
func TestSignErasure(t *testing.T) {
	old, current := shred.NewKEKLine("e1"), shred.NewKEKLine("e2")
	signer, err := shred.ParseSigner([]byte(current + old))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := shred.ParseSigner([]byte("# rotated\n" + old + current))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := shred.ParseSigner([]byte(shred.NewKEKLine("e2")))
	if err != nil {
		t.Fatal(err)
	}
	signed := func() *kgo.Record {
		r := topics.EraseRecords(aggregate.Meta{ID: "e-1", Tenant: "clinic-1", Stream: "v-1", Initiator: "dpo", Time: time.Now()}, "asked", 3)[1]
		r.Topic = topics.Commands
		topics.SignErasure(r, signer)
		return r
	}
	if r := signed(); !topics.ErasureSigned(r, signer) || !topics.ErasureSigned(r, verifier) {
		t.Fatal("a signed erasure does not verify")
	}
	for name, change := range map[string]func(r *kgo.Record){
		"another key":    func(*kgo.Record) {},
		"partition":      func(r *kgo.Record) { r.Partition = 2 },
		"subject":        func(r *kgo.Record) { r.Key = []byte("clinic-1/v-2") },
		"reason":         func(r *kgo.Record) { r.Value = []byte(`{"reason":"other"}`) },
		"a header":       func(r *kgo.Record) { r.Headers[0].Value = append([]byte("x"), r.Headers[0].Value...) },
		"two signatures": func(r *kgo.Record) { topics.SignErasure(r, signer) },
		"no signature":   func(r *kgo.Record) { r.Headers = r.Headers[:len(r.Headers)-1] },
		"a garbled one":  func(r *kgo.Record) { r.Headers[len(r.Headers)-1].Value = []byte("e2:!!") },
	} {
		r := signed()
		change(r)
		v := verifier
		if name == "another key" {
			v = stranger
		}
		if topics.ErasureSigned(r, v) {
			t.Errorf("%s: still verifies", name)
		}
	}
	if topics.ErasureSigned(signed(), nil) {
		t.Error("verifies without keys")
	}
}
