package policy

import (
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/plugins/sdk"
)

// windows turns the data plane's cumulative per-route counters into the
// metrics of the last window, by difference with the previous reading.
type windows struct {
	reg     *metrics.Registry
	gateway string
	last    time.Time
	base    map[string]metrics.Totals
}

func (w *windows) start(g *gateway.Gateway) {
	if w.reg == nil {
		return
	}
	for _, r := range g.Routes {
		w.base[r.Name] = w.reg.Route(w.gateway, r.Name).Totals()
	}
}

// take reads every route's window and starts the next one.
func (w *windows) take(g *gateway.Gateway, ready map[string]bool) []sdk.RouteMetrics {
	out := make([]sdk.RouteMetrics, len(g.Routes))
	for i, r := range g.Routes {
		m := sdk.RouteMetrics{Route: r.Name, Weight: int(r.Weight), Ready: true}
		if ready != nil {
			if ok, known := ready[r.Name]; known {
				m.Ready = ok
			}
		}
		if w.reg != nil {
			now := w.reg.Route(w.gateway, r.Name).Totals()
			win := now.Sub(w.base[r.Name])
			w.base[r.Name] = now
			fill(&m, win)
		}
		out[i] = m
	}
	return out
}

func fill(m *sdk.RouteMetrics, t metrics.Totals) {
	for c := metrics.Class1xx; c <= metrics.Class5xx; c++ {
		m.Responses[c] = t.Classes[c]
		m.Requests += t.Classes[c]
	}
	// Requests that got no answer: timeouts, and the rest failed to connect.
	noAnswer := t.Classes[metrics.ClassError]
	m.Requests += noAnswer + t.Classes[metrics.ClassTCP]
	m.Timeouts = min(t.Timeouts, noAnswer)
	m.ConnectErrors = noAnswer - m.Timeouts
	m.P50, m.P90, m.P99 = t.Quantile(0.5), t.Quantile(0.9), t.Quantile(0.99)
}
