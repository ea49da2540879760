package kafkaconf_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/kafkaconf"
)

// TestLoggerWarnFloor: the client's INFO lines show only when the
// service logs at DEBUG; its warnings always show.
func TestLoggerWarnFloor(t *testing.T) {
	for _, tc := range []struct {
		level    slog.Level
		wantInfo bool
	}{
		{level: slog.LevelInfo, wantInfo: false},
		{level: slog.LevelDebug, wantInfo: true},
	} {
		var out bytes.Buffer
		log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tc.level}))
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kafkaconf.Logger(log))
		if err != nil {
			t.Fatal(err)
		}
		l := cl.OptValue(kgo.WithLogger).(kgo.Logger)
		cl.Close()
		out.Reset()
		l.Log(kgo.LogLevelInfo, "per-transaction chatter")
		l.Log(kgo.LogLevelWarn, "a real problem")
		if got := strings.Contains(out.String(), "chatter"); got != tc.wantInfo {
			t.Errorf("service at %v: INFO shown %v, want %v", tc.level, got, tc.wantInfo)
		}
		if !strings.Contains(out.String(), "a real problem") {
			t.Errorf("service at %v: WARN dropped", tc.level)
		}
	}
}
