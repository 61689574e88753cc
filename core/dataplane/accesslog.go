package dataplane

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// accessEntry is the access log line of one HTTP request.
type accessEntry struct {
	gateway, route, endpoint string
	client, method, uri      string
	host, userAgent          string // as the client sent them
	requestID                string
	status                   int   // 0: the client left before a response head came
	bytesIn                  int64 // request body bytes from the client
	bytesOut                 int64 // response body bytes to the client; -1: not known when logged
	duration                 time.Duration
	end                      time.Time // the line's time: when the request ended, not when it is written
}

// logAccess writes e: one format for both HTTP paths. The duration is in
// milliseconds, named so, a number a log pipeline can sum.
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
		slog.String("host", e.host),
		slog.String("uri", e.uri),
		slog.String("user_agent", e.userAgent),
		slog.String("request_id", e.requestID),
		slog.Int("status", e.status),
		slog.Int64("bytes_in", e.bytesIn),
	)
	if e.bytesOut >= 0 {
		r.AddAttrs(slog.Int64("bytes_out", e.bytesOut))
	}
	r.AddAttrs(slog.Float64("duration_ms", float64(e.duration.Microseconds())/1000))
	l.Handler().Handle(ctx, r)
}

var headerRequestID = []byte("X-Request-Id")

// maxRequestID bounds a client's X-Request-Id that is passed on; a longer
// one is replaced.
const maxRequestID = 200

// requestID is the request's X-Request-Id, which it gets when it has none
// (or an unusable one), so that the endpoint's logs and the access log
// name the request alike. Only with an access log.
func requestID(h *fasthttp.RequestHeader) string {
	if v := h.PeekBytes(headerRequestID); len(v) > 0 && len(v) <= maxRequestID && isPrintable(v) {
		return string(v)
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var id [32]byte
	hex.Encode(id[:], raw[:])
	h.SetCanonical(headerRequestID, id[:])
	return string(id[:])
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
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
