package pluginhost

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// pluginLogger is the hclog.Logger go-plugin wants, forwarding every line a
// plugin logs (go-plugin parses the plugin's stderr) into Turnout's slog
// logger with the plugin's name.
func pluginLogger(log *slog.Logger, id string) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard, Level: hclog.Debug})
	l.RegisterSink(&sink{log: log.With("plugin", id)})
	return l
}

type sink struct{ log *slog.Logger }

func (s *sink) Accept(_ string, level hclog.Level, msg string, args ...any) {
	s.log.Log(context.Background(), slogLevel(level), msg, args...)
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
