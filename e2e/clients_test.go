//go:build e2e

package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

// TestThirdPartyClients: the clients of the teams upstream and
// downstream, each with its defaults, against a processor with its own.
// kcat (librdkafka) sends commands with only the partitioner set, as
// docs/using.md says; then kcat, confluent-kafka for Python (librdkafka)
// and kafkajs read every event the processor wrote, gzipped by default,
// and the CloudEvents SDK for JavaScript reads each as a valid
// CloudEvent. make e2e installs kcat and python3-confluent-kafka from
// Debian, kafkajs and cloudevents from npm.
func TestThirdPartyClients(t *testing.T) {
	root := testkit.Root(t)
	npm := filepath.Join(root, ".cache", "npm")
	for _, m := range []string{"kafkajs", "cloudevents"} {
		if _, err := os.Stat(filepath.Join(npm, "node_modules", m)); err != nil {
			t.Fatalf("%s is not installed under %s: run make e2e", m, npm)
		}
	}
	dir := t.TempDir()
	log := testkit.LogFile(t, dir)
	kafka := testkit.FreeAddr(t)
	testkit.StartKafka(t, log, kafka, filepath.Join(dir, "kafka"))
	testkit.Topics(t, kafka, partitions)
	testkit.Start(t, "processor", log, "-brokers", kafka, "-instance-id", "p0", "-data-dir", filepath.Join(dir, "p0"),
		"-http", testkit.FreeAddr(t), "-partitions", fmt.Sprint(partitions))

	commands := [][3]string{
		{"visit-1", "Reserve", `{"visitorId":"v-1",` + e2eSlot + `}`},
		{"visit-2", "Reserve", `{"visitorId":"v-2",` + e2eSlot + `}`},
		{"visit-1", "CheckIn", `{"channel":"desk"}`},
		{"visit-2", "CancelReservation", `{"reason":"sick"}`},
	}
	for i, c := range commands {
		kcatProduce(t, kafka, fmt.Sprintf("tp-%d", i), c[0], c[1], c[2])
	}
	testkit.WaitResults(t, kafka, len(commands), time.Minute, nil)

	// What franz-go reads is what each client must read.
	events := logcheck.ReadAll(t, kafka).Events
	var want []string
	gzipped := 0
	for _, e := range events {
		ev, err := topics.DecodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ev.Type+" "+string(e.Key))
		if e.Attrs.CompressionType() == 1 {
			gzipped++
		}
	}
	if len(want) != len(commands) {
		t.Fatalf("%d events for %d commands, each accepted with one event: %v", len(want), len(commands), want)
	}
	if gzipped == 0 {
		t.Fatal("no event was gzipped: the test would not show that the clients read the default codec")
	}
	slices.Sort(want)
	n := fmt.Sprint(len(want))
	readers := map[string][]string{
		"kcat":                            {"kcat", "-C", "-b", kafka, "-t", topics.Events, "-o", "beginning", "-e", "-q", "-J"},
		"confluent-kafka (Python)":        {"/usr/bin/python3", "-c", pythonReader, kafka, topics.Events, n},
		"kafkajs and the CloudEvents SDK": {"node", writeScript(t, npm, "read-events.mjs", kafkajsReader), kafka, topics.Events, n},
	}
	for name, argv := range readers {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
			continue
		}
		got := readLines(t, name, out)
		if !slices.Equal(got, want) {
			t.Errorf("%s read\n%v\nwant\n%v", name, got, want)
		}
	}
}

// kcatProduce sends one command with kcat: librdkafka's defaults but the
// partitioner, which must be Kafka's (murmur2) for the processor to take
// the command.
func kcatProduce(t *testing.T, kafka, id, stream, typ, data string) {
	t.Helper()
	cmd := exec.Command("kcat", "-P", "-b", kafka, "-t", topics.Commands, "-X", "partitioner=murmur2_random", "-K", "|",
		"-H", "ce_specversion=1.0", "-H", "ce_id="+id, "-H", "ce_type="+typ, "-H", "ce_source=e2e/kcat",
		"-H", "content-type=application/json")
	cmd.Stdin = strings.NewReader("clinic-tp/" + stream + "|" + data + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
}

// readLines turns a reader's output into "<ce_type> <key>" lines, sorted.
// kcat -J prints a JSON object per record; the scripts print the lines.
func readLines(t *testing.T, name string, out []byte) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "{") {
			got = append(got, line)
			continue
		}
		var rec struct {
			Key     string   `json:"key"`
			Payload string   `json:"payload"`
			Headers []string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v: %s", name, err, line)
		}
		if !json.Valid([]byte(rec.Payload)) {
			t.Errorf("%s: the data of %s is not JSON: %q", name, rec.Key, rec.Payload)
		}
		for i := 0; i+1 < len(rec.Headers); i += 2 {
			if rec.Headers[i] == "ce_type" {
				got = append(got, rec.Headers[i+1]+" "+rec.Key)
			}
		}
	}
	slices.Sort(got)
	return got
}

// writeScript writes a script under npm, where node resolves its imports
// from, and returns its path.
func writeScript(t *testing.T, npm, name, text string) string {
	t.Helper()
	path := filepath.Join(npm, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pythonReader reads n events with confluent-kafka's defaults (a group,
// read_committed) and prints "<ce_type> <key>" for each.
const pythonReader = `
import json, sys
from confluent_kafka import Consumer
broker, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": broker, "group.id": "e2e-confluent-kafka", "auto.offset.reset": "earliest"})
c.subscribe([topic])
n = 0
while n < want:
    m = c.poll(30)
    if m is None:
        sys.exit("no event within 30 s after %d" % n)
    if m.error():
        sys.exit(str(m.error()))
    json.loads(m.value())
    print(dict(m.headers())["ce_type"].decode(), m.key().decode())
    n += 1
c.close()
`

// kafkajsReader reads n events with kafkajs' defaults (a group, no codec
// package: gzip is the one it has), makes each a CloudEvent with the
// CloudEvents SDK, which validates it, and prints "<type> <key>".
const kafkajsReader = `
import { Kafka, logLevel } from 'kafkajs';
import { Kafka as CloudEvents } from 'cloudevents';
const [broker, topic, want] = process.argv.slice(2);
const consumer = new Kafka({ clientId: 'e2e-kafkajs', brokers: [broker], logLevel: logLevel.ERROR }).consumer({ groupId: 'e2e-kafkajs' });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let n = 0;
const timer = setTimeout(() => { console.error('no event within 60 s after ' + n); process.exit(1); }, 60000);
await new Promise((resolve, reject) => {
  consumer.run({ eachMessage: async ({ message }) => {
    try {
      const headers = {};
      for (const [k, v] of Object.entries(message.headers || {})) headers[k] = v.toString();
      const event = CloudEvents.toEvent({ key: message.key.toString(), value: message.value.toString(), headers, timestamp: message.timestamp });
      event.validate();
      console.log(event.type + ' ' + message.key.toString());
      if (++n >= Number(want)) resolve();
    } catch (err) { reject(err); }
  }});
});
clearTimeout(timer);
await consumer.disconnect();
`
