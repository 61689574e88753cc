package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// Logger returns a logger for plugin code. Its lines reach Turnout's log
// with the plugin's name, at their level. Standard output is reserved for
// the go-plugin handshake: never write there.
func Logger() *slog.Logger { return newLogger(stderr) }

// stderr is the process's standard error as it was at start: go-plugin's
// Serve later points os.Stderr at a pipe, whose lines the host would not
// parse as log records.
var stderr = os.Stderr

// newLogger writes JSON lines in hclog's field names, which go-plugin's
// host side parses into level, message and attributes.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}
