package reload_test

import (
	"context"
	"crypto/x509"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/reload"
	"github.com/rewind/rewind/internal/testing/testcerts"
	"github.com/rewind/rewind/internal/testing/testkit"
)

func serialOf(t *testing.T, k *reload.KeyPair) int64 {
	t.Helper()
	c, err := x509.ParseCertificate(k.Certificate().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Int64()
}

// TestKeyPairRotation: a rotated pair is picked up by Reload; an
// unchanged one is not re-read; a broken one keeps the previous pair.
func TestKeyPairRotation(t *testing.T) {
	ca := testcerts.NewCA(t, "test")
	certFile, keyFile, first := ca.Issue(t, "server", true)
	k, err := reload.LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, k); got != first {
		t.Fatalf("serial %d, want %d", got, first)
	}
	if changed, err := k.Reload(false); changed || err != nil {
		t.Fatalf("unchanged files reloaded: %v %v", changed, err)
	}
	_, _, second := ca.Issue(t, "server", true)
	if changed, err := k.Reload(false); !changed || err != nil {
		t.Fatalf("rotated files not reloaded: %v %v", changed, err)
	}
	if got := serialOf(t, k); got != second {
		t.Fatalf("serial %d after rotation, want %d", got, second)
	}
	// Through the client hook too: it re-reads on each handshake.
	_, _, third := ca.Issue(t, "server", true)
	c, err := k.GetClientCertificate(nil)
	if err != nil || c != k.Certificate() || serialOf(t, k) != third {
		t.Fatalf("client hook did not present the rotated pair: %v", err)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(false); err == nil {
		t.Fatal("a broken certificate file reloaded without an error")
	}
	if got := serialOf(t, k); got != third {
		t.Fatalf("a failed reload replaced the pair: serial %d", got)
	}
	if _, err := reload.LoadKeyPair(certFile, ""); err == nil {
		t.Fatal("a pair without a key file loaded")
	}
}

// TestWatch: files are polled every interval, and re-read forced on the
// trigger (SIGHUP) even when their stamp did not change.
func TestWatch(t *testing.T) {
	var polled, forced atomic.Int32
	f := reload.File{Name: "counter", Reload: func(force bool) (bool, error) {
		if force {
			forced.Add(1)
		} else {
			polled.Add(1)
		}
		return true, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trigger := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { defer close(done); reload.Watch(ctx, nil, time.Hour, trigger, f) }()
	trigger <- syscall.SIGHUP
	waitFor(t, func() bool { return forced.Load() == 1 })
	if polled.Load() != 0 {
		t.Fatalf("polled %d times within an hour's interval", polled.Load())
	}
	cancel()
	<-done

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go reload.Watch(ctx, nil, 10*time.Millisecond, nil, f)
	waitFor(t, func() bool { return polled.Load() >= 2 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if !testkit.Eventually(10*time.Second, cond) {
		t.Fatal("condition not met within 10s")
	}
}
