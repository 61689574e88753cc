package policy

import (
	"context"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/plugins/sdk"
)

// Counters are where a runner reads the cumulative per-route counters
// its windows are differences of: the local registry on one agent, every
// agent's published counters in a cluster (cluster.Windows). The runner
// does not know which it has.
type Counters interface {
	// Read reads the cumulative totals of a gateway's routes, by source.
	Read(ctx context.Context, gateway string, routes []string) (Reading, error)
}

// Reading is one look at every source's cumulative counters.
type Reading struct {
	// Sources are the counters by source id: an agent's incarnation (a
	// restarted agent is a new source, its counters back at zero).
	Sources map[string]Source
	// Agents, if not 0, is how many agents the reading covers (a
	// cluster); Late are the agents whose counters are late or missing.
	Agents int
	Late   []LateAgent
}

// Source is one source's cumulative totals.
type Source struct {
	Agent string
	// Started is when the source began counting: one first seen after a
	// window began counts in full if it started after that, else from the
	// next window (its earlier traffic is not this window's).
	Started time.Time
	Routes  map[string]metrics.Totals
}

// LateAgent is an agent whose counters a window lacks or has old.
type LateAgent struct {
	Agent  string `json:"agent"`
	Detail string `json:"detail"`
}

// LocalCounters reads this agent's own registry: one source (nil: none).
func LocalCounters(reg *metrics.Registry) Counters { return localCounters{reg} }

type localCounters struct{ reg *metrics.Registry }

func (l localCounters) Read(_ context.Context, gw string, routes []string) (Reading, error) {
	if l.reg == nil {
		return Reading{}, nil
	}
	src := Source{Routes: make(map[string]metrics.Totals, len(routes))}
	for _, r := range routes {
		src.Routes[r] = l.reg.Totals(gw, r)
	}
	return Reading{Sources: map[string]Source{"local": src}}, nil
}

// Window turns a gateway's cumulative counters into the traffic of the
// last window: for each source, the difference with what it counted at the
// previous take, summed over the sources. A source gone since (an agent
// that left) no longer counts.
type Window struct {
	counters Counters
	gateway  string
	last     time.Time
	base     map[string]map[string]metrics.Totals // by source, by route
	// prevLast and prevBase are the window before the last Take, for Keep.
	prevLast time.Time
	prevBase map[string]map[string]metrics.Totals
}

// Taken is one window: every route's traffic summed over the sources.
type Taken struct {
	Routes map[string]metrics.Totals
	Span   time.Duration
	Agents int
	Late   []LateAgent
}

// NewWindow measures a gateway's windows from counters.
func NewWindow(c Counters, gateway string) *Window {
	return &Window{counters: c, gateway: gateway, last: time.Now(), base: map[string]map[string]metrics.Totals{}}
}

// Start begins the first window now. Without a reading (an error), the
// sources are taken as first seen at the first Take.
func (w *Window) Start(ctx context.Context, routes []string) error {
	w.last = time.Now()
	rd, err := w.counters.Read(ctx, w.gateway, routes)
	if err != nil {
		return err
	}
	for id, src := range rd.Sources {
		w.base[id] = src.Routes
	}
	return nil
}

// Take reads the window since the previous take (or Start) and begins the
// next. On an error the window goes on: the next take covers both.
func (w *Window) Take(ctx context.Context, routes []string) (Taken, error) {
	rd, err := w.counters.Read(ctx, w.gateway, routes)
	if err != nil {
		return Taken{}, err
	}
	now := time.Now()
	out := Taken{Routes: make(map[string]metrics.Totals, len(routes)), Span: now.Sub(w.last), Agents: rd.Agents, Late: rd.Late}
	next := make(map[string]map[string]metrics.Totals, len(rd.Sources))
	for id, src := range rd.Sources {
		prev, known := w.base[id]
		if !known && src.Started.Before(w.last) {
			prev = src.Routes // counted from the next window on
		}
		for r, t := range src.Routes {
			out.Routes[r] = out.Routes[r].Add(t.Sub(prev[r]))
		}
		next[id] = src.Routes
	}
	w.prevBase, w.prevLast = w.base, w.last
	w.base, w.last = next, now
	return out, nil
}

// Keep undoes the last Take: the window it read goes on, and the next
// Take covers it too. A decision that failed keeps its traffic for the
// next one rather than throwing it away.
func (w *Window) Keep() {
	if w.prevBase != nil {
		w.base, w.last = w.prevBase, w.prevLast
		w.prevBase = nil
	}
}

// routeNames are a gateway's route names.
func routeNames(g *gateway.Gateway) []string {
	out := make([]string, len(g.Routes))
	for i, r := range g.Routes {
		out[i] = r.Name
	}
	return out
}

// metricsOf turns a window into the routes' metrics for the policy plugin.
func metricsOf(g *gateway.Gateway, win map[string]metrics.Totals, ready map[string]bool) []sdk.RouteMetrics {
	out := make([]sdk.RouteMetrics, len(g.Routes))
	for i, r := range g.Routes {
		m := sdk.RouteMetrics{Route: r.Name, Weight: int(r.Weight), Ready: true}
		if ready != nil {
			if ok, known := ready[r.Name]; known {
				m.Ready = ok
			}
		}
		fill(&m, win[r.Name])
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
