package dataplane

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// stuckWriter reports its first Write on entered, then blocks until
// release is closed.
type stuckWriter struct {
	entered, release chan struct{}
	n                int
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	if w.n++; w.n == 1 {
		close(w.entered)
	}
	<-w.release
	return len(p), nil
}

// Lines that find the queue full are dropped and counted, never waited
// for; the queued ones are written by close.
func TestAccessWriterDropsWhenFull(t *testing.T) {
	w := &stuckWriter{entered: make(chan struct{}), release: make(chan struct{})}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	aw := newAccessWriter(slog.New(slog.NewTextHandler(w, nil)), dropped)
	aw.add(accessEntry{uri: "/first"})
	<-w.entered // the writer holds the first line; the queue is empty
	const extra = 5
	for range accessQueue + extra {
		aw.add(accessEntry{uri: "/more"})
	}
	if got := testutil.ToFloat64(dropped); got != extra {
		t.Errorf("dropped %v lines, want %d", got, extra)
	}
	close(w.release)
	aw.close()
	if w.n != 1+accessQueue {
		t.Errorf("%d lines written, want %d", w.n, 1+accessQueue)
	}
}
