package policy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
)

// readings are counters read from a list, one reading (or error) a read:
// the window arithmetic without a registry or ZooKeeper (cluster's
// TestWindowsSumEveryAgent runs it on real agents).
type readings struct {
	next []any // Reading or error
}

func (r *readings) Read(context.Context, string, []string) (Reading, error) {
	v := r.next[0]
	r.next = r.next[1:]
	if err, ok := v.(error); ok {
		return Reading{}, err
	}
	return v.(Reading), nil
}

func ok(n uint64) metrics.Totals {
	var t metrics.Totals
	t.Classes[metrics.Class2xx] = n
	t.Count = n
	return t
}

func source(started time.Time, n uint64) Source {
	return Source{Started: started, Routes: map[string]metrics.Totals{"r": ok(n)}}
}

func TestWindowArithmetic(t *testing.T) {
	long := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour) // started after any window began
	unreadable := errors.New("zookeeper down")
	for _, c := range []struct {
		name  string
		start any      // Start's reading
		takes []any    // each Take's reading
		want  []uint64 // each Take's 2xx, or 999 for an error
	}{
		{"differences", Reading{Sources: map[string]Source{"a": source(long, 10)}},
			[]any{Reading{Sources: map[string]Source{"a": source(long, 15)}}, Reading{Sources: map[string]Source{"a": source(long, 15)}}},
			[]uint64{5, 0}},
		{"an unreadable take: the next covers both", Reading{Sources: map[string]Source{"a": source(long, 10)}},
			[]any{unreadable, Reading{Sources: map[string]Source{"a": source(long, 17)}}},
			[]uint64{999, 7}},
		{"an unreadable start: a running source counts from the first take", unreadable,
			[]any{Reading{Sources: map[string]Source{"a": source(long, 10)}}, Reading{Sources: map[string]Source{"a": source(long, 12)}}},
			[]uint64{0, 2}},
		{"a source that started since counts in full", Reading{Sources: map[string]Source{"a": source(long, 10)}},
			[]any{Reading{Sources: map[string]Source{"a": source(long, 10), "b": source(future, 4)}}},
			[]uint64{4}},
		{"a source gone stops counting; back, it is new", Reading{Sources: map[string]Source{"a": source(long, 10), "b": source(long, 3)}},
			[]any{Reading{Sources: map[string]Source{"a": source(long, 11)}}, Reading{Sources: map[string]Source{"a": source(long, 11), "b": source(long, 9)}}},
			[]uint64{1, 0}},
		{"a counter reset (a route removed and added) counts from zero", Reading{Sources: map[string]Source{"a": source(long, 10)}},
			[]any{Reading{Sources: map[string]Source{"a": source(long, 2)}}},
			[]uint64{2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := NewWindow(&readings{next: append([]any{c.start}, c.takes...)}, "shop")
			_ = w.Start(context.Background(), []string{"r"})
			for i, want := range c.want {
				got, err := w.Take(context.Background(), []string{"r"})
				if n := got.Routes["r"].Classes[metrics.Class2xx]; (err != nil) != (want == 999) || err == nil && n != want {
					t.Errorf("take %d: %d (err %v), want %d", i, n, err, want)
				}
			}
		})
	}
}

// A decision that fails keeps its window: the next decision is asked with
// the traffic of both, not only what came after the failure.
func TestAFailedDecisionKeepsItsWindow(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	p := &stepper{}
	reg := metrics.NewRegistry()
	r := startRunner(t, st, p, reg)
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })

	for range 7 {
		reg.Route("shop", "t:b", metrics.HTTP).Observe(200, time.Millisecond)
	}
	p.mu.Lock()
	p.fail = errors.New("plugin down")
	p.mu.Unlock()
	dueNow(t, st)
	r.kick("shop")
	testnet.Eventually(t, 5*time.Second, "a failed decision", func() bool { return status(t, r).Errors >= 1 })
	p.mu.Lock()
	p.fail = nil
	p.mu.Unlock()
	// The runner retries a failed decision within a second by itself.
	testnet.Eventually(t, 10*time.Second, "the next decision", func() bool { return status(t, r).Errors == 0 && status(t, r).Decisions == 2 })
	calls := p.calls()
	last := calls[len(calls)-1]
	if b, _ := last.Route("t:b"); b.Requests != 7 {
		t.Fatalf("the decision after the failure saw %d canary requests, want the 7 of the failed window", b.Requests)
	}
}
