package metrics

import (
	"bufio"
	"compress/gzip"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// recorded reads testdata/latencies.txt.gz: 20,000 latencies of real
// requests through a gateway to a backend with a tail, as its clients saw
// them (recorded by core/dataplane's TestRecordLatencies).
func recorded(t *testing.T) []time.Duration {
	t.Helper()
	f, err := os.Open("testdata/latencies.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		n, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Duration(n))
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		t.Fatalf("read %d latencies: %v", len(out), err)
	}
	return out
}

// exact is the q-quantile of latencies: the one at rank q*(n-1), sorted.
func exact(latencies []time.Duration, q float64) time.Duration {
	s := slices.Clone(latencies)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

var quantiles = []float64{0.5, 0.9, 0.95, 0.99, 0.999}

func within1pct(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
		t.Errorf("%s: %v, exactly %v: %.2f%% off, over 1%%", what, got, want, 100*rel)
	}
}

// The windows' p50, p95 and p99 are within 1% of the recorded latencies'
// own: whole, over a window (the difference of two totals), and summed
// over agents, each counting its share.
func TestSketchQuantilesOfRecordedLatencies(t *testing.T) {
	lat := recorded(t)
	one := NewRegistry().Route("g", "r", HTTP)
	for _, d := range lat {
		one.Observe(200, d)
	}
	whole := one.Totals()
	for _, q := range quantiles {
		within1pct(t, "whole p"+strconv.FormatFloat(100*q, 'f', -1, 64), whole.Quantile(q), exact(lat, q))
	}

	// A window: what came after the first 5,000.
	w := NewRegistry().Route("g", "r", HTTP)
	for _, d := range lat[:5000] {
		w.Observe(200, d)
	}
	before := w.Totals()
	for _, d := range lat[5000:] {
		w.Observe(200, d)
	}
	window := w.Totals().Sub(before)
	for _, q := range quantiles {
		within1pct(t, "window p"+strconv.FormatFloat(100*q, 'f', -1, 64), window.Quantile(q), exact(lat[5000:], q))
	}

	// Three agents, each with every third request, summed.
	var sum Totals
	for a := range 3 {
		m := NewRegistry().Route("g", "r", HTTP)
		for i := a; i < len(lat); i += 3 {
			m.Observe(200, lat[i])
		}
		sum = sum.Add(m.Totals())
	}
	for _, q := range quantiles {
		within1pct(t, "3 agents p"+strconv.FormatFloat(100*q, 'f', -1, 64), sum.Quantile(q), exact(lat, q))
	}

	// What the histogram's buckets alone answered, for the record.
	hist := whole
	hist.Latency = nil
	for _, q := range []float64{0.5, 0.99} {
		got, want := hist.Quantile(q), exact(lat, q)
		t.Logf("p%g: sketch %v, histogram %v (%.1f%% off), exactly %v", 100*q, whole.Quantile(q), got, 100*math.Abs(float64(got-want))/float64(want), want)
	}
}

// Out-of-range latencies are counted at the bounds, and a sketch's bins
// survive the round trips the cluster makes (Sub of equal totals is empty).
func TestSketchBoundsAndEmptyWindow(t *testing.T) {
	m := NewRegistry().Route("g", "r", TCP)
	m.ObserveConn(true, 0)
	m.ObserveConn(true, 10*time.Hour)
	tot := m.Totals()
	if lo, hi := tot.Quantile(0), tot.Quantile(1); lo > 2*time.Microsecond || hi < 3500*time.Second || hi > 3700*time.Second {
		t.Errorf("bounds: %v and %v, want about 1us and 1h", lo, hi)
	}
	if w := tot.Sub(tot); len(w.Latency) != 0 || w.Quantile(0.99) != 0 {
		t.Errorf("an empty window: %+v", w.Latency)
	}
}

func BenchmarkSketchObserve(b *testing.B) {
	var s sketch
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.observe(float64(1+i%5000) * 1e-5)
	}
}
