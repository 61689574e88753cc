package routing

import "sync/atomic"

// schedule is a precomputed smooth weighted round-robin sequence of route
// indexes. Walking it with one atomic cursor gives every route exactly its
// share over each full cycle, without a lock and without the clumping of a
// plain weighted round robin (nginx's smooth WRR, computed once at build).
type schedule struct {
	seq    []uint16
	cursor *counter
}

// newSchedule builds the sequence for weights (basis points); zero-weight
// entries never appear. The cycle length is sum(weights)/gcd(weights), at
// most 10000.
func newSchedule(weights []int) schedule {
	g := 0
	for _, w := range weights {
		if w > 0 {
			g = gcd(g, w)
		}
	}
	if g == 0 {
		return schedule{cursor: new(counter)}
	}
	total := 0
	reduced := make([]int, len(weights))
	for i, w := range weights {
		if w > 0 {
			reduced[i] = w / g
			total += reduced[i]
		}
	}
	seq := make([]uint16, 0, total)
	current := make([]int, len(weights))
	for range total {
		best := -1
		for i, w := range reduced {
			if w == 0 {
				continue
			}
			current[i] += w
			if best < 0 || current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, uint16(best))
	}
	return schedule{seq: seq, cursor: new(counter)}
}

// empty reports whether no route has weight.
func (s *schedule) empty() bool { return len(s.seq) == 0 }

// next returns the next route index. The cursor is shared by every request
// of the gateway: one atomic add per request.
func (s *schedule) next() int {
	n := s.cursor.Add(1) - 1
	return int(s.seq[n%uint64(len(s.seq))])
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// share decides, exactly, whether the n-th event (0-based) of a stream is
// among the strength/10000 taken: the n-th is taken when the running count
// floor((n+1)*s/10000) steps up. Over any 10000/gcd events exactly the
// share is taken, spread evenly.
func share(n uint64, strength int) bool {
	s := uint64(strength)
	return (n+1)*s/10000 > n*s/10000
}

// counter is an atomic counter alone on its cache line: the hot counters
// (schedule cursors, round-robin and strength counts) are bumped by every
// core on every request, and sharing a line would make them contend.
type counter struct {
	atomic.Uint64
	_ [56]byte
}
