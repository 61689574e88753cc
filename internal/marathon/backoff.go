package marathon

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff with jitter: each wait is drawn
// between half the current step and the whole of it, so plugins that lost
// the same Marathon do not come back in step; the step doubles up to max.
type backoff struct {
	min, max, step time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff {
	lo = min(lo, hi)
	return &backoff{min: lo, max: hi, step: lo}
}

// next is the wait before the next attempt.
func (b *backoff) next() time.Duration {
	d := b.step
	b.step = min(b.step*2, b.max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// reset starts again from the shortest wait.
func (b *backoff) reset() { b.step = b.min }
