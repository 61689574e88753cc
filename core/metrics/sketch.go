package metrics

import (
	"slices"
	"sync/atomic"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// SketchAccuracy is the relative accuracy of the routes' latency
// sketches: a quantile they answer is within 0.5% of the latency of the
// request at that rank (DDSketch's guarantee, Masson et al., VLDB 2019).
const SketchAccuracy = 0.005

// Latencies outside [sketchMin, sketchMax] seconds are counted at the
// bound: a microsecond is below any hop, an hour above any timeout.
const (
	sketchMin = 1e-6
	sketchMax = 3600
)

// sketchMapping maps a latency to its bucket: DDSketch's logarithmic
// buckets of relative width 2*SketchAccuracy, from sketches-go, its
// cubically interpolated mapping computing the logarithm without math.Log.
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewCubicallyInterpolatedMapping(SketchAccuracy)
	if err != nil {
		panic(err) // a constant accuracy in (0, 1)
	}
	return m
}()

var (
	sketchFirst = sketchMapping.Index(sketchMin)
	sketchLast  = sketchMapping.Index(sketchMax)
)

// A sketch's buckets come in pages, each allocated when a latency first
// falls in it: a route's latencies span a few pages of the 2,223
// buckets, and an idle route holds only the page pointers.
const pageBits = 7

type page [1 << pageBits]atomic.Uint64

// sketch is a route's latency distribution with bounded relative error,
// counted lock-free: observing a latency is an index computation and an
// atomic add (and, once per page, an allocation).
type sketch struct {
	pages [(sketchLastOffset >> pageBits) + 1]atomic.Pointer[page]
}

// sketchLastOffset is the last bucket's offset from the first one. It is
// a constant so that the page array has a fixed size; init checks it.
const sketchLastOffset = 2222

func init() {
	if sketchLast-sketchFirst > sketchLastOffset {
		panic("metrics: the sketch's buckets outgrew sketchLastOffset")
	}
}

func (s *sketch) observe(seconds float64) {
	seconds = min(max(seconds, sketchMin), sketchMax)
	off := sketchMapping.Index(seconds) - sketchFirst
	slot := &s.pages[off>>pageBits]
	p := slot.Load()
	if p == nil {
		p = new(page)
		if !slot.CompareAndSwap(nil, p) {
			p = slot.Load()
		}
	}
	p[off&(1<<pageBits-1)].Add(1)
}

// Bin is one non-empty bucket of a latency sketch.
type Bin struct {
	// Index is the bucket's offset among the sketch's buckets.
	Index int
	Count uint64
}

// bins reads the sketch's non-empty buckets, in order.
func (s *sketch) bins() []Bin {
	var out []Bin
	for i := range s.pages {
		p := s.pages[i].Load()
		if p == nil {
			continue
		}
		for j := range p {
			if n := p[j].Load(); n > 0 {
				out = append(out, Bin{Index: i<<pageBits | j, Count: n})
			}
		}
	}
	return out
}

// subBins is a - b, bucket by bucket (counts only grow; a bucket gone
// from a counts as what a has).
func subBins(a, b []Bin) []Bin {
	out := make([]Bin, 0, len(a))
	j := 0
	for _, x := range a {
		for j < len(b) && b[j].Index < x.Index {
			j++
		}
		if j < len(b) && b[j].Index == x.Index {
			x.Count = sub(x.Count, b[j].Count)
		}
		if x.Count > 0 {
			out = append(out, x)
		}
	}
	return out
}

// addBins is a + b, bucket by bucket.
func addBins(a, b []Bin) []Bin {
	out := make([]Bin, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Index < b[j].Index:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Index < a[i].Index:
			out = append(out, b[j])
			j++
		default:
			out = append(out, Bin{Index: a[i].Index, Count: a[i].Count + b[j].Count})
			i, j = i+1, j+1
		}
	}
	return out
}

// sketchQuantile is the q-quantile of the bins: the latency of the request
// at rank q*(n-1) among n, sorted, within SketchAccuracy of it.
func sketchQuantile(bins []Bin, q float64) (seconds float64, ok bool) {
	var n uint64
	for _, b := range bins {
		n += b.Count
	}
	if n == 0 || !slices.IsSortedFunc(bins, func(a, b Bin) int { return a.Index - b.Index }) {
		return 0, false
	}
	rank := q * float64(n-1)
	var below uint64
	for _, b := range bins {
		below += b.Count
		if float64(below) > rank {
			return sketchMapping.Value(b.Index + sketchFirst), true
		}
	}
	return sketchMapping.Value(bins[len(bins)-1].Index + sketchFirst), true
}
