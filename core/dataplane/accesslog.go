package dataplane

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// accessEntry is the access log line of one HTTP request.
type accessEntry struct {
	gateway, route, endpoint string
	client, method, uri      string
	status                   int // 0: the client left before a response head came
	duration                 time.Duration
	end                      time.Time // the line's time: when the request ended, not when it is written
}

// logAccess writes e: one format for both HTTP paths.
func logAccess(l *slog.Logger, e accessEntry) {
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(e.end, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("gateway", e.gateway),
		slog.String("route", e.route),
		slog.String("endpoint", e.endpoint),
		slog.String("client", e.client),
		slog.String("method", e.method),
		slog.String("uri", e.uri),
		slog.Int("status", e.status),
		slog.Duration("duration", e.duration),
	)
	l.Handler().Handle(ctx, r)
}

// accessQueue is how many lines may wait for the access log's writer.
const accessQueue = 8192

// accessWriter writes the event loops' access log lines from a goroutine
// of its own, so that a loop never waits for the log: a log collector
// that stops reading would otherwise stop every connection on the loop.
// A line that finds the queue full is dropped and counted.
type accessWriter struct {
	log     *slog.Logger
	queue   chan accessEntry
	dropped prometheus.Counter
	done    chan struct{}
}

func newAccessWriter(l *slog.Logger, dropped prometheus.Counter) *accessWriter {
	w := &accessWriter{log: l, queue: make(chan accessEntry, accessQueue), dropped: dropped, done: make(chan struct{})}
	go w.run()
	return w
}

func (w *accessWriter) add(e accessEntry) {
	select {
	case w.queue <- e:
	default:
		w.dropped.Inc()
	}
}

func (w *accessWriter) run() {
	defer close(w.done)
	for e := range w.queue {
		logAccess(w.log, e)
	}
}

// close writes what is queued and stops; nothing may be added after it.
func (w *accessWriter) close() {
	close(w.queue)
	<-w.done
}
