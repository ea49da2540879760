package cli_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/reload"
	"github.com/rewind/rewind/internal/testing/testcerts"
	"github.com/rewind/rewind/internal/testing/testkit"
)

// service runs cli.Server with one authenticated route, GET /v1/who,
// that needs the read scope, and re-reads its files as a main does.
type service struct {
	addr string
	stop func()
}

func startService(t *testing.T, tokens *api.Tokens, kp *reload.KeyPair) *service {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/who", func(w http.ResponseWriter, r *http.Request) {
		who, ok := tokens.Require(w, r, api.ScopeRead)
		if ok {
			fmt.Fprintln(w, who.Subject)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- cli.Server{Addr: "127.0.0.1:0", Registry: prometheus.NewRegistry(), Ready: func() bool { return true },
			Mux: mux, TLS: kp, Listening: func(a net.Addr) { addr <- a }}.Run(ctx)
	}()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		cli.WatchFiles(ctx, nil, kp, reload.File{Name: "tokens", Reload: tokens.Reload})
	}()
	s := &service{stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		<-watched
	}}
	select {
	case a := <-addr:
		s.addr = a.String()
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func get(t *testing.T, client *http.Client, url, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(b))
}

// TestRevokedTokenStopsWorking: a token removed from the file is refused
// within the poll interval, without a restart; a token added works.
func TestRevokedTokenStopsWorking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("alice")+" clinic-a alice read\n"+api.HashToken("bob")+" clinic-a bob\n")
	s := startService(t, tokens, nil)
	url := "http://" + s.addr + "/v1/who"
	if code, _, body := get(t, http.DefaultClient, url, "bob"); code != 200 || body != "bob" {
		t.Fatalf("bob before: %d %s", code, body)
	}
	testkit.WriteFile(t, path, api.HashToken("alice")+" clinic-a alice read\n"+api.HashToken("carol")+" clinic-a carol read\n")
	testkit.Await(t, 10*time.Second, "bob's revoked token refused", func() bool {
		code, _, _ := get(t, http.DefaultClient, url, "bob")
		return code == http.StatusUnauthorized
	})
	if code, _, body := get(t, http.DefaultClient, url, "carol"); code != 200 || body != "carol" {
		t.Fatalf("carol's new token: %d %s", code, body)
	}
	if code, _, body := get(t, http.DefaultClient, url, "alice"); code != 200 || body != "alice" {
		t.Fatalf("alice's unchanged token: %d %s", code, body)
	}
}

// TestSIGHUPReloads: a change the poll cannot see (same size, same
// modification time) is read on SIGHUP.
func TestSIGHUPReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("dave")+" clinic-a dave read\n")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := startService(t, tokens, nil)
	url := "http://" + s.addr + "/v1/who"
	testkit.WriteFile(t, path, api.HashToken("erin")+" clinic-a erin read\n")
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	// What the poll does every second sees no change: only SIGHUP can.
	if changed, err := tokens.Reload(false); changed || err != nil {
		t.Fatalf("the poll saw a change of neither size nor time (%v, %v); the test proves nothing", changed, err)
	}
	if code, _, _ := get(t, http.DefaultClient, url, "dave"); code != 200 {
		t.Fatalf("dave before SIGHUP: %d", code)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Await(t, 10*time.Second, "erin's token after SIGHUP", func() bool {
		code, _, _ := get(t, http.DefaultClient, url, "erin")
		return code == 200
	})
	if code, _, _ := get(t, http.DefaultClient, url, "dave"); code != http.StatusUnauthorized {
		t.Fatalf("dave after SIGHUP: %d", code)
	}
}

// TestHTTPSRotation: the server speaks HTTPS with the given pair, serves
// a rotated certificate without a restart, and sends the security
// headers on every answer, errors and ops endpoints included.
func TestHTTPSRotation(t *testing.T) {
	ca := testcerts.NewCA(t, "rewind-test")
	certFile, keyFile, first := ca.Issue(t, "server", true)
	kp, err := reload.LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("alice")+" clinic-a alice\n")
	s := startService(t, tokens, kp)
	served := func() int64 {
		// A new connection each time: the certificate is chosen per
		// handshake.
		conn, err := tls.Dial("tcp", s.addr, ca.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := served(); got != first {
		t.Fatalf("served serial %d, want %d", got, first)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}}
	for _, tt := range []struct{ path, token string }{{"/v1/who", "alice"}, {"/v1/who", ""}, {"/metrics", ""}, {"/nope", ""}} {
		code, h, _ := get(t, client, "https://"+s.addr+tt.path, tt.token)
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s (%d): headers %v", tt.path, code, h)
		}
	}
	if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the HTTPS port: %d", resp.StatusCode)
		}
	}
	if _, err := (&http.Client{}).Get("https://" + s.addr + "/healthz"); err == nil {
		t.Error("a client that does not trust the CA connected")
	}
	if code := cli.Healthcheck([]string{"https://" + s.addr + "/healthz"}); code != 0 {
		t.Errorf("healthcheck over loopback HTTPS exits %d", code)
	}

	_, _, second := ca.Issue(t, "server", true)
	testkit.Await(t, 10*time.Second, "the rotated certificate served", func() bool { return served() == second })
}

// TestHeaderLimit: a request whose headers exceed MaxHeaderBytes is
// refused before any handler runs.
func TestHeaderLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("alice")+" clinic-a alice\n")
	s := startService(t, tokens, nil)
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/who HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2*cli.MaxHeaderBytes))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %d", resp.StatusCode)
	}
	if cli.WriteTimeout <= 40*time.Second || cli.ReadHeaderTimeout == 0 || cli.IdleTimeout == 0 {
		t.Fatal("the write timeout must exceed the longest wait (30 s) and Kafka's acknowledgement (10 s)")
	}
}

// TestNoProfilesOnAPIPort: an API server (ingest's, query's) serves no
// /debug/pprof/: profiles are unauthenticated, and a CPU profile costs
// the service as long as the caller asks.
func TestNoProfilesOnAPIPort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("alice")+" clinic-a alice\n")
	s := startService(t, tokens, nil)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		resp, err := http.Get("http://" + s.addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on an API port: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestUnroutedAnswersAreProblems: the mux's own 404 and 405 are problem
// documents with stable codes, like every other error; 405 keeps Allow.
func TestUnroutedAnswersAreProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	tokens := testkit.Tokens(t, path, api.HashToken("alice")+" clinic-a alice\n")
	s := startService(t, tokens, nil)
	for _, tt := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/nowhere", http.StatusNotFound, api.CodeNotFound, ""},
		{"DELETE", "/v1/who", http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tt.method, "http://"+s.addr+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.status || p.Status != tt.status || p.Code != tt.code ||
			resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d %+v %v (Allow %q), want %d %s", tt.method, tt.path, resp.StatusCode, p, err, resp.Header.Get("Allow"), tt.status, tt.code)
		}
	}
	// A route's own answers pass untouched.
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/v1/who", nil)
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/who: %d", resp.StatusCode)
	}
}

// TestCertPool: a CA file gives a pool that verifies what the CA issued;
// a file without a PEM certificate is an error that names it, not an
// empty pool that would refuse every peer.
func TestCertPool(t *testing.T) {
	ca := testcerts.NewCA(t, "rewind-test")
	pool, err := cli.CertPool(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(ca.Pool) {
		t.Fatal("the pool read is not the CA's")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	testkit.WriteFile(t, junk, "not a certificate\n")
	if _, err := cli.CertPool(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Fatalf("a file without a certificate: %v", err)
	}
	if _, err := cli.CertPool(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("a missing file gave a pool")
	}
}
