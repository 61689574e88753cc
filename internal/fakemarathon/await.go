package fakemarathon

import (
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// Watch is a backend's snapshot stream under test: it remembers the last
// snapshot and checks that revisions only increase.
type Watch struct {
	t    testing.TB
	ch   <-chan sdk.Snapshot
	Last sdk.Snapshot
}

// NewWatch wraps a Watch channel.
func NewWatch(t testing.TB, ch <-chan sdk.Snapshot) *Watch { return &Watch{t: t, ch: ch} }

// Await reads snapshots until one satisfies ok, failing the test after
// 10s (a poll with a deadline: no sleeping).
func (w *Watch) Await(what string, ok func(sdk.Snapshot) bool) sdk.Snapshot {
	w.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case s, open := <-w.ch:
			if !open {
				w.t.Fatalf("waiting for %s: the stream closed; last snapshot %+v", what, w.Last)
			}
			if s.Revision <= w.Last.Revision {
				w.t.Fatalf("revision %d after %d", s.Revision, w.Last.Revision)
			}
			w.Last = s
			if ok(s) {
				return s
			}
		case <-deadline.C:
			w.t.Fatalf("timed out after 10s waiting for %s; last snapshot %+v", what, w.Last)
		}
	}
}
