package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testcerts"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/shred"
)

// TestManagedKafkaAndHTTPS runs Rewind as against a managed Kafka:
// devkafka demands TLS with client certificates and SASL/SCRAM-SHA-512
// (SASL_SSL with mTLS), with a CA and certificates made by the test. The
// processor, ingest and query connect with the -kafka-* flags (the
// password from REWIND_KAFKA_PASSWORD), ingest and query serve HTTPS, and
// a command goes end to end under scoped tokens. Then a revoked token
// stops working and a rotated certificate is served, both without a
// restart; and a wrong password or an untrusted broker certificate stops
// each binary within seconds with an error that names the cause.
func TestManagedKafkaAndHTTPS(t *testing.T) {
	dir := t.TempDir()
	logFile := testkit.LogFile(t, dir)
	ca := testcerts.NewCA(t, "rewind-e2e")
	brokerCert, brokerKey, _ := ca.Issue(t, "broker", true)
	clientCert, clientKey, _ := ca.Issue(t, "rewind-services", false)
	httpsCert, httpsKey, _ := ca.Issue(t, "https", true)

	const password = "correct-horse-battery-staple"
	kafka := testkit.FreeAddr(t)
	testkit.StartKafka(t, logFile, kafka, "", "-tls-cert", brokerCert, "-tls-key", brokerKey,
		"-tls-client-ca", ca.File, "-sasl", "scram-sha-512", "-sasl-user", "rewind", "-sasl-password", password)
	// The services take the password from the environment, as a
	// container would from a secret; the other settings are flags.
	t.Setenv("REWIND_KAFKA_PASSWORD", password)
	kafkaArgs := []string{"-brokers", kafka, "-kafka-tls-ca", ca.File, "-kafka-tls-cert", clientCert, "-kafka-tls-key", clientKey,
		"-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind"}

	const desk, auditor = "e2e-desk-token", "e2e-auditor-token"
	tokens := filepath.Join(dir, "tokens")
	testkit.WriteFile(t, tokens, api.TokenLine(desk, "clinic-e2e", "desk-1", api.ScopeAll)+api.TokenLine(auditor, "clinic-e2e", "auditor", api.ScopeRead))

	procHTTP, ingestHTTP, queryHTTP := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	testkit.Start(t, "processor", logFile, append(kafkaArgs, "-instance-id", "p0", "-data-dir", filepath.Join(dir, "p0"),
		"-http", procHTTP, "-partitions", "4")...)
	testkit.Start(t, "ingest", logFile, append(kafkaArgs, "-http", ingestHTTP, "-tokens", tokens, "-data-dir", filepath.Join(dir, "ingest"),
		"-tls-cert", httpsCert, "-tls-key", httpsKey)...)
	testkit.Start(t, "query", logFile, append(kafkaArgs, "-http", queryHTTP, "-tokens", tokens, "-data-dir", filepath.Join(dir, "query"),
		"-tls-cert", httpsCert, "-tls-key", httpsKey)...)
	client := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}}
	waitReady(t, procHTTP)
	waitHTTPSReady(t, client, ingestHTTP)
	waitHTTPSReady(t, client, queryHTTP)

	// A command end to end, over HTTPS and through SASL_SSL.
	r := call(t, client, "POST", "https://"+ingestHTTP+"/v1/schedules/visit-1/commands/Reserve?wait=20s", desk, e2eReserve, "Idempotency-Key", "e2e-1")
	if r.status != 200 || r.body["status"] != "accepted" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		r.header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("reserve: %d %v %v", r.status, r.header, r.body)
	}
	r = call(t, client, "POST", "https://"+ingestHTTP+"/v1/schedules/visit-1/commands/CheckIn", desk, `{"channel":"desk"}`, "Idempotency-Key", "e2e-1")
	if r.status != 422 || r.body["code"] != "idempotency_key_reused" {
		t.Fatalf("a reused key: %d %v", r.status, r.body)
	}
	if r := call(t, client, "POST", "https://"+ingestHTTP+"/v1/schedules/visit-1/commands/CheckIn", auditor, `{"channel":"desk"}`); r.status != 403 || r.body["code"] != "insufficient_scope" {
		t.Fatalf("the auditor writes: %d %v", r.status, r.body)
	}
	r = call(t, client, "GET", "https://"+queryHTTP+"/v1/schedules/visit-1?minVersion=1&wait=30s", auditor, "")
	state, _ := r.body["state"].(map[string]any)
	if r.status != 200 || r.body["version"] != 1.0 || state["status"] != "reserved" {
		t.Fatalf("the auditor reads: %d %v", r.status, r.body)
	}

	importOverHTTPS(t, dir, ingestHTTP, ca, desk)

	// The auditor's token is revoked: refused within seconds, no restart.
	testkit.WriteFile(t, tokens, api.TokenLine(desk, "clinic-e2e", "desk-1", api.ScopeAll))
	testkit.Await(t, 60*time.Second, "the revoked token refused by query", func() bool {
		return call(t, client, "GET", "https://"+queryHTTP+"/v1/schedules/visit-1", auditor, "").status == 401
	})
	if r := call(t, client, "GET", "https://"+queryHTTP+"/v1/schedules/visit-1", desk, ""); r.status != 200 {
		t.Fatalf("the desk token after the revocation: %d %v", r.status, r.body)
	}

	// The HTTPS certificate is rotated in place: served without a restart.
	_, _, rotated := ca.Issue(t, "https", true)
	testkit.Await(t, 60*time.Second, "the rotated certificate served by ingest", func() bool { return servedSerial(t, ca, ingestHTTP) == rotated })
	testkit.Await(t, 60*time.Second, "the rotated certificate served by query", func() bool { return servedSerial(t, ca, queryHTTP) == rotated })

	// Failing fast, with the cause named: each binary probes Kafka once at
	// startup, and a TLS or SASL failure ends it instead of a silent retry.
	other := testcerts.NewCA(t, "not-the-brokers-ca")
	wrongKEK := filepath.Join(dir, "wrong-kek")
	testkit.WriteFile(t, wrongKEK, shred.NewKEKLine("test-1"))
	failsFast(t, password, []failFast{
		{"processor", append(kafkaArgs, "-kafka-password", "guessed", "-instance-id", "p9", "-data-dir", filepath.Join(dir, "p9"), "-http", testkit.FreeAddr(t)),
			[]string{"kafka: SASL authentication failed"}},
		{"query", append(kafkaArgs, "-kafka-password", "guessed", "-http", testkit.FreeAddr(t), "-tokens", tokens, "-data-dir", filepath.Join(dir, "q9")),
			[]string{"kafka: SASL authentication failed"}},
		// The KEK: missing, or not the one the keys on the topic were
		// wrapped with (visit-1's visitor has one by now).
		{"processor", append(kafkaArgs, "-kek-file", "", "-instance-id", "p8", "-data-dir", filepath.Join(dir, "p8"), "-http", testkit.FreeAddr(t)),
			[]string{"-kek-file is required"}},
		{"processor", append(kafkaArgs, "-kek-file", wrongKEK, "-instance-id", "p7", "-data-dir", filepath.Join(dir, "p7"), "-http", testkit.FreeAddr(t)),
			[]string{"the KEK file does not open the data keys on schedule-keys"}},
		{"query", append(kafkaArgs, "-kek-file", wrongKEK, "-http", testkit.FreeAddr(t), "-tokens", tokens, "-data-dir", filepath.Join(dir, "q8")),
			[]string{"the KEK file does not open the data keys on schedule-keys"}},
		{"ingest", []string{"-brokers", kafka, "-kafka-tls-ca", other.File, "-kafka-tls-cert", clientCert, "-kafka-tls-key", clientKey,
			"-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-http", testkit.FreeAddr(t), "-tokens", tokens, "-data-dir", filepath.Join(dir, "i8")},
			[]string{"kafka: TLS", "certificate signed by unknown authority"}},
		{"ingest", []string{"-brokers", kafka, "-kafka-tls-ca", ca.File, "-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind",
			"-http", testkit.FreeAddr(t), "-tokens", tokens, "-data-dir", filepath.Join(dir, "i9")},
			[]string{"kafka: TLS", "certificate required"}},
	})
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), password) {
		t.Error("a service logged the Kafka password")
	}
}

// e2eReserve is a reservation's data.
const e2eReserve = `{"visitorId":"v-1",` + e2eSlot + `}`

// importOverHTTPS: `ingest import` over HTTPS works trusting the private
// CA, and fails naming the cause without it.
func importOverHTTPS(t *testing.T, dir, ingestHTTP string, ca *testcerts.CA, token string) {
	t.Helper()
	batch := filepath.Join(dir, "batch.ndjson")
	testkit.WriteFile(t, batch, `{"scheduleId":"visit-2","type":"Reserve","data":`+e2eReserve+`}`+"\n"+
		`{"scheduleId":"visit-3","type":"Reserve","data":`+e2eReserve+`}`+"\n")
	if out, _, err := runBriefly(t, "ingest", "import", "-url", "https://"+ingestHTTP, "-tls-ca", ca.File, "-token", token, batch); err != nil ||
		!strings.Contains(out, "accepted 2,") {
		t.Fatalf("ingest import over HTTPS: %v\n%s", err, out)
	}
	if out, _, err := runBriefly(t, "ingest", "import", "-url", "https://"+ingestHTTP, "-token", token, batch); err == nil ||
		!strings.Contains(out, "certificate signed by unknown authority") {
		t.Fatalf("ingest import without the CA: %v\n%s", err, out)
	}
}

// failFast is a binary started with a wrong setting: it must exit within
// seconds with an output that names the cause.
type failFast struct {
	bin  string
	args []string
	want []string
}

// failsFast runs each case, and checks it exits non-zero within 15 s,
// names its cause, and prints no password.
func failsFast(t *testing.T, password string, cases []failFast) {
	t.Helper()
	for _, tt := range cases {
		out, took, err := runBriefly(t, tt.bin, tt.args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%s %v: %v after %s, want a non-zero exit\n%s", tt.bin, tt.want, err, took, out)
			continue
		}
		t.Logf("%s gives up after %s: %s", tt.bin, took.Round(time.Millisecond), strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]))
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s exited without naming the cause %q:\n%s", tt.bin, w, out)
			}
		}
		if took > 15*time.Second {
			t.Errorf("%s took %s to give up", tt.bin, took)
		}
		if strings.Contains(out, password) {
			t.Errorf("%s printed the password:\n%s", tt.bin, out)
		}
	}
}

// runBriefly runs a binary that must exit by itself, for at most 30 s.
func runBriefly(t *testing.T, name string, args ...string) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(testkit.Binaries(t), name), args...)
	cmd.Env = append(os.Environ(), "REWIND_KEK_FILE="+testkit.KEKFile(t))
	out, err := cmd.CombinedOutput()
	return string(out), time.Since(start), err
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, client *http.Client, method, url, token, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return answer{resp.StatusCode, resp.Header, m}
}

func waitHTTPSReady(t *testing.T, client *http.Client, addr string) {
	t.Helper()
	testkit.Await(t, 60*time.Second, addr+" ready over HTTPS", func() bool {
		resp, err := client.Get("https://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// servedSerial is the serial number of the certificate addr presents on
// a new connection.
func servedSerial(t *testing.T, ca *testcerts.CA, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, ca.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}
