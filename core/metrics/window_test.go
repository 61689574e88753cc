package metrics

import (
	"fmt"
	"testing"
	"time"
)

func TestWindowFromTotals(t *testing.T) {
	r := NewRegistry()
	m := r.Route("shop", "canary", HTTP)
	for range 10 {
		m.Observe(200, time.Millisecond)
	}
	before := m.Totals()
	// The window: 90 fast successes, 8 slow 500s, 2 requests without answer.
	for range 90 {
		m.Observe(200, 2*time.Millisecond)
	}
	for range 8 {
		m.Observe(500, 300*time.Millisecond)
	}
	for range 2 {
		m.Error(ErrTimeout)
		m.Failed(504, 400*time.Millisecond)
	}
	w := m.Totals().Sub(before)
	if w.Classes[Class2xx] != 90 || w.Classes[Class5xx] != 8 || w.Classes[ClassError] != 2 || w.Timeouts != 2 || w.Count != 100 {
		t.Fatalf("window %+v", w)
	}
	for _, c := range []struct {
		q        float64
		min, max time.Duration
	}{
		{0.5, time.Millisecond, 2500 * time.Microsecond}, // in the (1ms, 2.5ms] bucket
		{0.9, time.Millisecond, 2500 * time.Microsecond},
		{0.99, 250 * time.Millisecond, 500 * time.Millisecond}, // the slow tenth is in (250ms, 500ms]
	} {
		if got := w.Quantile(c.q); got < c.min || got > c.max {
			t.Errorf("q%.2f = %v, want in [%v, %v]", c.q, got, c.min, c.max)
		}
	}
	if got := (Totals{}).Quantile(0.99); got != 0 {
		t.Errorf("empty window p99 = %v", got)
	}
}

// Two agents' windows added are the window of one agent that served all of
// their traffic: classes, timeouts and every histogram bucket.
func TestWindowsAdd(t *testing.T) {
	one, a, b := NewRegistry().Route("g", "r", HTTP), NewRegistry().Route("g", "r", HTTP), NewRegistry().Route("g", "r", HTTP)
	requests := []struct {
		status int
		took   time.Duration
	}{{200, time.Millisecond}, {500, 300 * time.Millisecond}, {0, 2 * time.Second}, {200, 40 * time.Millisecond}, {404, time.Microsecond}}
	for i, r := range requests {
		one.Observe(r.status, r.took)
		if i%2 == 0 {
			a.Observe(r.status, r.took)
		} else {
			b.Observe(r.status, r.took)
		}
	}
	one.Error(ErrTimeout)
	a.Error(ErrTimeout)
	want := one.Totals()
	got := a.Totals().Add(b.Totals())
	if got.Classes != want.Classes || got.Timeouts != want.Timeouts || got.Count != want.Count || fmt.Sprint(got.Buckets) != fmt.Sprint(want.Buckets) || fmt.Sprint(got.Bounds) != fmt.Sprint(want.Bounds) {
		t.Fatalf("a+b = %+v\nwant %+v", got, want)
	}
	if z := (Totals{}).Add(a.Totals()); fmt.Sprint(z) != fmt.Sprint(a.Totals()) {
		t.Errorf("0+a = %+v, want a", z)
	}
}

// BenchmarkObserve is the request path's cost of a route's metrics, which
// policy windows read without adding anything to it.
func BenchmarkObserve(b *testing.B) {
	m := NewRegistry().Route("shop", "canary", HTTP)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(200, time.Millisecond)
	}
}

// BenchmarkTotals is what reading one route's window costs a policy
// decision (once per route per interval, off the request path).
func BenchmarkTotals(b *testing.B) {
	m := NewRegistry().Route("shop", "canary", HTTP)
	for range 1000 {
		m.Observe(200, time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Totals()
	}
}
