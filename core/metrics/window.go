package metrics

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Totals are a route's cumulative counts since its series were created.
// Policies look at windows: the difference of two Totals taken an interval
// apart (Sub). Reading them costs the request path nothing: the counters
// are the ones /metrics exports.
type Totals struct {
	// Classes counts requests by class (Class1xx ... ClassTCP).
	Classes [numClasses]uint64
	// Timeouts counts requests whose endpoint timed out.
	Timeouts uint64
	// Buckets are the latency histogram's cumulative counts, one per
	// upper bound in Bounds (seconds); Count is every observation.
	Buckets []uint64
	Bounds  []float64
	Count   uint64
	// Latency is the latency sketch's non-empty buckets, in order: what
	// Quantile answers from when there are any (the histogram's buckets
	// are too coarse to judge a p99 against a threshold between them).
	Latency []Bin
}

// Totals reads the route's series.
func (m *Route) Totals() Totals {
	var t Totals
	var d dto.Metric
	read := func(c prometheus.Counter) uint64 {
		d.Reset()
		if c.Write(&d) != nil {
			return 0
		}
		return uint64(d.GetCounter().GetValue())
	}
	m.codes.each(func(cc codeCounter) { t.Classes[cc.class] += read(cc.c) })
	m.mirrored.each(func(cc codeCounter) { t.Classes[cc.class] += read(cc.c) })
	if m.kind == TCP {
		t.Classes[ClassTCP] = read(m.tcpOK)
		t.Classes[ClassError] += read(m.tcpFailed)
	}
	t.Timeouts = read(m.errors[ErrTimeout])
	t.Latency = m.latency.bins()
	duration := m.duration
	if m.kind == TCP {
		duration = m.tcpDuration
	}
	d.Reset()
	if h, ok := duration.(prometheus.Metric); ok && h.Write(&d) == nil {
		hist := d.GetHistogram()
		t.Count = hist.GetSampleCount()
		for _, b := range hist.GetBucket() {
			t.Bounds = append(t.Bounds, b.GetUpperBound())
			t.Buckets = append(t.Buckets, b.GetCumulativeCount())
		}
	}
	return t
}

// Sub is what happened between prev and t (series only grow; a series
// created anew after prev counts from zero).
func (t Totals) Sub(prev Totals) Totals {
	out := Totals{Bounds: t.Bounds, Buckets: make([]uint64, len(t.Buckets)), Latency: subBins(t.Latency, prev.Latency)}
	for i := range t.Classes {
		out.Classes[i] = sub(t.Classes[i], prev.Classes[i])
	}
	out.Timeouts = sub(t.Timeouts, prev.Timeouts)
	out.Count = sub(t.Count, prev.Count)
	for i := range t.Buckets {
		var p uint64
		if i < len(prev.Buckets) {
			p = prev.Buckets[i]
		}
		out.Buckets[i] = sub(t.Buckets[i], p)
	}
	return out
}

// Add is t and o together: two agents' windows of one route summed. The
// histograms must have the same bounds (every agent uses the same ones);
// with no bounds of its own, t takes o's.
func (t Totals) Add(o Totals) Totals {
	out := Totals{Bounds: t.Bounds, Count: t.Count + o.Count, Timeouts: t.Timeouts + o.Timeouts, Latency: addBins(t.Latency, o.Latency)}
	if out.Bounds == nil {
		out.Bounds = o.Bounds
	}
	for i := range t.Classes {
		out.Classes[i] = t.Classes[i] + o.Classes[i]
	}
	out.Buckets = make([]uint64, max(len(t.Buckets), len(o.Buckets)))
	for i := range out.Buckets {
		if i < len(t.Buckets) {
			out.Buckets[i] += t.Buckets[i]
		}
		if i < len(o.Buckets) {
			out.Buckets[i] += o.Buckets[i]
		}
	}
	return out
}

func sub(a, b uint64) uint64 {
	if b > a {
		return a
	}
	return a - b
}

// Quantile is the q-quantile (0.99 for p99) of the latencies: from the
// sketch, within SketchAccuracy of the latency of the request at that
// rank; without one (an agent of an older version), by linear
// interpolation inside the histogram bucket it falls in, as Prometheus'
// histogram_quantile does, and above the last bound the last bound. 0
// without observations.
func (t Totals) Quantile(q float64) time.Duration {
	if s, ok := sketchQuantile(t.Latency, q); ok {
		return time.Duration(math.Round(s * float64(time.Second)))
	}
	if t.Count == 0 || len(t.Buckets) == 0 {
		return 0
	}
	rank := q * float64(t.Count)
	lower, below := 0.0, uint64(0)
	for i, c := range t.Buckets {
		if float64(c) >= rank {
			in := c - below
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / float64(in)
			}
			v := lower + (t.Bounds[i]-lower)*frac
			return time.Duration(math.Round(v * float64(time.Second)))
		}
		lower, below = t.Bounds[i], c
	}
	return time.Duration(t.Bounds[len(t.Bounds)-1] * float64(time.Second))
}
