package cluster

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/policy"
	"github.com/turnout/turnout/internal/testnet"
)

// counting is an agent of the windows tests: its election, its registry,
// and its published counters.
type counting struct {
	e   *Election
	w   *Windows
	reg *metrics.Registry
}

var shopRoutes = []string{"stable", "canary"}

const testLateAfter = 2 * time.Second

func countingAgent(t *testing.T, server, id string, limit int) *counting {
	t.Helper()
	e := candidate(t, server, id)
	reg := metrics.NewRegistry()
	// No Run: the tests publish when they mean to.
	w := e.Windows(WindowsConfig{Metrics: reg, LateAfter: testLateAfter, Limit: limit,
		Gateways: func() map[string][]string { return map[string][]string{"shop": shopRoutes} }})
	return &counting{e: e, w: w, reg: reg}
}

func (c *counting) serve(route string, status, n int) {
	m := c.reg.Route("shop", route, metrics.HTTP)
	for range n {
		m.Observe(status, 3*time.Millisecond)
	}
}

// publish publishes once the agent has its election znode.
func (c *counting) publish(t *testing.T) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, c.e.cfg.Info.ID+" to publish", func() bool { return c.w.Publish() == nil })
}

// window is what a test expects of one route's window.
type window struct{ ok, failed, count uint64 }

func take(t *testing.T, w *policy.Window) policy.Taken {
	t.Helper()
	got, err := w.Take(context.Background(), shopRoutes)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func expect(t *testing.T, step string, got policy.Taken, agents int, want map[string]window) {
	t.Helper()
	for _, r := range shopRoutes {
		tot := got.Routes[r]
		g := window{tot.Classes[metrics.Class2xx], tot.Classes[metrics.Class5xx], tot.Count}
		if g != want[r] {
			t.Errorf("%s: %s: 2xx/5xx/count %v, want %v", step, r, g, want[r])
		}
		// Every request in its histogram bucket: 3ms is in (2.5ms, 5ms].
		if n := len(tot.Buckets); n > 0 && (tot.Buckets[n-1] != tot.Count || tot.Buckets[4] != tot.Count || tot.Buckets[3] != 0) {
			t.Errorf("%s: %s: histogram %v for %d requests", step, r, tot.Buckets, tot.Count)
		}
		// And in its latency sketch, the other agents' read from their
		// znodes: every request, at 3ms within the sketch's accuracy.
		var inSketch uint64
		for _, b := range tot.Latency {
			inSketch += b.Count
		}
		if inSketch != tot.Count {
			t.Errorf("%s: %s: %d requests in the latency sketch, want %d", step, r, inSketch, tot.Count)
		} else if p99 := tot.Quantile(0.99); tot.Count > 0 && math.Abs(float64(p99-3*time.Millisecond)) > metrics.SketchAccuracy*float64(3*time.Millisecond) {
			t.Errorf("%s: %s: p99 %v, want 3ms within %g", step, r, p99, metrics.SketchAccuracy)
		}
	}
	if got.Agents != agents {
		t.Errorf("%s: %d agents summed, want %d", step, got.Agents, agents)
	}
}

// The leader's window is the sum of every agent's traffic: its own read
// from its registry, the others' from their znodes. Agents that join count
// from their start, agents that leave stop counting, a restarted agent's
// counters (back at zero) count as a new incarnation's, and an agent whose
// counters are late, missing or too big is reported, its last published
// counters still summed and nothing it counted lost.
func TestWindowsSumEveryAgent(t *testing.T) {
	srv := startZK(t)
	a := countingAgent(t, srv.Addr(), "a", 0)
	testnet.Eventually(t, 10*time.Second, "a to lead", func() bool { l, _ := a.e.Leading(); return l })
	b := countingAgent(t, srv.Addr(), "b", 0)
	c := countingAgent(t, srv.Addr(), "c", 0)
	b.publish(t)
	c.publish(t)

	w := policy.NewWindow(a.w, "shop")
	// Traffic before the window starts is not the window's.
	b.serve("canary", 200, 50)
	b.publish(t)
	if err := w.Start(context.Background(), shopRoutes); err != nil {
		t.Fatal(err)
	}

	// The leader's own traffic counts without its publishing it.
	a.serve("stable", 200, 3)
	b.serve("canary", 200, 8)
	b.serve("canary", 500, 2)
	c.serve("canary", 200, 5)
	b.publish(t)
	c.publish(t)
	got := take(t, w)
	expect(t, "three agents", got, 3, map[string]window{"stable": {3, 0, 3}, "canary": {13, 2, 15}})
	if len(got.Late) != 0 {
		t.Errorf("late: %+v", got.Late)
	}
	expect(t, "no traffic since", take(t, w), 3, map[string]window{})

	// d joins after the last window began: all it counted is this window's.
	d := countingAgent(t, srv.Addr(), "d", 0)
	d.serve("canary", 200, 4)
	d.publish(t)
	expect(t, "d joined", take(t, w), 4, map[string]window{"canary": {4, 0, 4}})

	// c leaves: what it counted since its last take is gone with it.
	c.serve("canary", 500, 7)
	c.publish(t)
	c.e.Close()
	b.serve("canary", 200, 1)
	b.publish(t)
	expect(t, "c left", take(t, w), 3, map[string]window{"canary": {1, 0, 1}})

	// b restarts under the same id: its counters start again at zero
	// (fewer than it had published), and count in full.
	b.e.Close()
	b2 := countingAgent(t, srv.Addr(), "b", 0)
	b2.serve("canary", 500, 2)
	b2.publish(t)
	expect(t, "b restarted", take(t, w), 3, map[string]window{"canary": {0, 2, 2}})

	// d stops publishing, e stands for election but never publishes, f's
	// counters are over its znode limit: each is reported, the window
	// made of the others' (and d's last published counters).
	e := candidate(t, srv.Addr(), "e")
	f := countingAgent(t, srv.Addr(), "f", 100)
	f.serve("canary", 200, 9)
	f.publish(t)
	d.serve("canary", 200, 6) // not published yet
	a.serve("stable", 200, 1)
	var late policy.Taken
	sum := map[string]uint64{}
	testnet.Eventually(t, 10*time.Second, "d, e and f reported late", func() bool {
		b2.publish(t) // in time
		late = take(t, w)
		for r, tot := range late.Routes {
			sum[r] += tot.Count
		}
		return len(late.Late) == 3
	})
	if sum["stable"] != 1 || sum["canary"] != 0 {
		t.Errorf("windows while d, e and f were late: %v, want stable 1, canary 0", sum)
	}
	details := map[string]string{}
	for _, l := range late.Late {
		details[l.Agent] = l.Detail
	}
	if !strings.HasPrefix(details["d"], "last published ") || details["e"] != "has published no traffic counters" || !strings.Contains(details["f"], "over the znode limit of 100") {
		t.Errorf("late agents: %+v", late.Late)
	}
	if late.Agents != 3 { // a, b2, and d's old counters
		t.Errorf("%d agents summed while late, want 3", late.Agents)
	}
	// d catches up: the 6 it counted meanwhile are in the next window.
	d.publish(t)
	b2.publish(t)
	got = take(t, w)
	expect(t, "d caught up", got, 3, map[string]window{"canary": {6, 0, 6}})
	if len(got.Late) != 2 {
		t.Errorf("late after d caught up: %+v", got.Late)
	}
	e.Close()
}

// Run publishes on its own, every period, and withdraws the counters when
// it ends (the agent's shutdown), while the election still stands.
func TestWindowsRunPublishesAndWithdraws(t *testing.T) {
	srv := startZK(t)
	a := countingAgent(t, srv.Addr(), "a", 0)
	a.w.cfg.Period = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.w.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	a.serve("canary", 200, 7)
	var node string
	testnet.Eventually(t, 10*time.Second, "the counters of 7 requests published", func() bool {
		a.w.mu.Lock()
		node = a.w.published
		a.w.mu.Unlock()
		if node == "" {
			return false
		}
		data, _, err := a.e.conn.Get(node)
		return err == nil && strings.Contains(string(data), `"canary":[0,7,`)
	})
	cancel()
	<-done
	if ok, _, err := a.e.conn.Exists(node); err != nil || ok {
		t.Fatalf("%s after Run ended: exists %v, err %v", node, ok, err)
	}
	if l, _ := a.e.Leading(); !l {
		t.Error("the election ended with the windows")
	}
}
