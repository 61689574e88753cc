package pluginhost

import (
	"bytes"
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// pluginLogger is the hclog.Logger go-plugin wants, forwarding every line a
// plugin logs (go-plugin parses the plugin's stderr) into Turnout's slog
// logger, which names the plugin.
func pluginLogger(log *slog.Logger) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard, Level: hclog.Debug})
	l.RegisterSink(&sink{log: log})
	return l
}

// lineLogger logs what a plugin writes to os.Stderr after go-plugin took
// it over (plain prints rather than log records), one record per line.
type lineLogger struct {
	log *slog.Logger
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log.Info("plugin output", "line", string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

type sink struct{ log *slog.Logger }

func (s *sink) Accept(_ string, level hclog.Level, msg string, args ...any) {
	// Our logger names the plugin under "plugin" already; go-plugin puts
	// the executable's path there too, and a JSON line with a key twice is
	// one that log pipelines (Elasticsearch) reject.
	kv := make([]any, len(args))
	copy(kv, args)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "plugin" {
			kv[i] = "plugin_path"
		}
	}
	s.log.Log(context.Background(), slogLevel(level), msg, kv...)
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
