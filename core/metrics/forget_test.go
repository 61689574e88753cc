package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// seriesOf counts the series of every per-route and per-gateway vector
// that carry gateway.
func seriesOf(t *testing.T, r *Registry, gateway string) int {
	t.Helper()
	mfs, err := r.Prometheus.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "gateway" && l.GetValue() == gateway {
					n++
				}
			}
		}
	}
	return n
}

// Forgetting deletes exactly the series of the routes and gateways
// removed, the held gauge included, and nothing of the others.
func TestForgetIsExact(t *testing.T) {
	r := NewRegistry()
	bind := func(gw string, routes int) {
		r.Gateway(gw).Connections.Inc()
		for i := range routes {
			route := fmt.Sprintf("[127.0.0.1:%d]", 20000+i)
			m := r.Route(gw, route, HTTP)
			m.Observe(200, time.Millisecond)
			m.Failed(502, time.Millisecond)
			r.RouteHeld.WithLabelValues(gw, route).Set(0)
		}
	}
	bind("a", 3)
	bind("b", 2)
	kept := seriesOf(t, r, "b")
	if kept == 0 {
		t.Fatal("no series for gateway b")
	}
	before := seriesOf(t, r, "a")
	r.ForgetRoute("a", "[127.0.0.1:20001]")
	perRoute := before - seriesOf(t, r, "a")
	// Per route: two codes seen, 4 error kinds, retries, mirror drops,
	// one histogram, the held gauge.
	if want := 2 + len(errorKinds) + 4; perRoute != want {
		t.Errorf("ForgetRoute deleted %d series, want %d", perRoute, want)
	}
	r.Forget("a")
	if n := seriesOf(t, r, "a"); n != 0 {
		t.Errorf("%d series of the forgotten gateway a remain", n)
	}
	if n := seriesOf(t, r, "b"); n != kept {
		t.Errorf("gateway b has %d series after a was forgotten, want %d", n, kept)
	}
	if n := testutil.CollectAndCount(r.RouteHeld); n != 2 {
		t.Errorf("%d held gauges, want b's 2", n)
	}
	// A gateway bound again after Forget is forgotten again in full.
	bind("a", 1)
	r.Forget("a")
	if n := seriesOf(t, r, "a"); n != 0 {
		t.Errorf("%d series of gateway a remain after a second Forget", n)
	}
}
