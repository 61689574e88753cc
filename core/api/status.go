package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/policy"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/plugins/sdk"
)

// PolicyControl is the policy runner as the API sees it.
type PolicyControl interface {
	// Status is the policy state of a gateway (false if it has no policy).
	Status(ctx context.Context, gateway string) (any, bool, error)
	// Command hands an operator's command to a gateway's policy.
	Command(ctx context.Context, gateway string, cmd sdk.Command) error
	// Drives says whether a gateway's policy owns its weights now (a
	// rollout going, not paused), and the rollout's phase.
	Drives(ctx context.Context, gateway string) (bool, string, error)
}

// GatewayStatus is GET /gateways/{name}/status.
type GatewayStatus struct {
	Gateway  string        `json:"gateway" yaml:"gateway"`
	Revision int64         `json:"revision" yaml:"revision"`
	Routes   []RouteStatus `json:"routes" yaml:"routes"`
	Policy   any           `json:"policy" yaml:"policy"`
}

// RouteStatus is one route in service: its weights, why it is held, and
// what its backend plugin said.
type RouteStatus struct {
	Route     string     `json:"route" yaml:"route"`
	Weight    string     `json:"weight" yaml:"weight"`
	Effective string     `json:"effective_weight" yaml:"effective_weight"`
	Held      string     `json:"held,omitempty" yaml:"held,omitempty"`
	Ready     *bool      `json:"ready,omitempty" yaml:"ready,omitempty"`
	Stale     bool       `json:"stale,omitempty" yaml:"stale,omitempty"`
	Error     string     `json:"error,omitempty" yaml:"error,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty" yaml:"endpoints,omitempty"`
	Updated   time.Time  `json:"updated,omitzero" yaml:"updated,omitempty"`
	// Traffic is the route's counters on this agent since it started: a
	// client takes rates from two readings (gateway status --watch).
	Traffic *Traffic `json:"traffic,omitempty" yaml:"traffic,omitempty"`
}

// Traffic is a route's requests, errors and latency histogram, counted by
// the data plane since the agent started.
type Traffic struct {
	Requests uint64 `json:"requests" yaml:"requests"`
	// Errors are 5xx answers and requests no endpoint answered.
	Errors uint64 `json:"errors" yaml:"errors"`
	// LatencyBuckets are cumulative counts of requests that took at most
	// the LatencyBounds (seconds) of the same index.
	LatencyBounds  []float64 `json:"latency_bounds" yaml:"latency_bounds"`
	LatencyBuckets []uint64  `json:"latency_buckets" yaml:"latency_buckets"`
}

// Totals is t as the metrics package reads it (for Quantile and Sub).
func (t *Traffic) Totals() metrics.Totals {
	var m metrics.Totals
	m.Classes[metrics.Class2xx] = t.Requests - t.Errors
	m.Classes[metrics.Class5xx] = t.Errors
	m.Bounds, m.Buckets = t.LatencyBounds, t.LatencyBuckets
	if n := len(t.LatencyBuckets); n > 0 {
		m.Count = t.LatencyBuckets[n-1]
	}
	return m
}

func toTraffic(t metrics.Totals) *Traffic {
	var n uint64
	for _, c := range t.Classes {
		n += c
	}
	return &Traffic{Requests: n, Errors: t.Classes[metrics.Class5xx] + t.Classes[metrics.ClassError],
		LatencyBounds: t.Bounds, LatencyBuckets: t.Buckets}
}

// Endpoint is one endpoint a backend plugin reported.
type Endpoint struct {
	Address string            `json:"address" yaml:"address"`
	Healthy bool              `json:"healthy" yaml:"healthy"`
	Host    string            `json:"host,omitempty" yaml:"host,omitempty"`
	Labels  map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// GET /gateways/{name}/status
func (a *gatewayAPI) status(w http.ResponseWriter, r *http.Request, p params) error {
	e, err := a.st.Get(r.Context(), p.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(p.name)
	}
	if err != nil {
		return err
	}
	out := GatewayStatus{Gateway: p.name, Revision: e.Revision, Routes: []RouteStatus{}}
	if a.routes != nil {
		for _, s := range a.routes(p.name) {
			rs := toRouteStatus(s)
			if a.traffic != nil {
				rs.Traffic = toTraffic(a.traffic(p.name, s.Route))
			}
			out.Routes = append(out.Routes, rs)
		}
	}
	if a.policy != nil {
		st, ok, err := a.policy.Status(r.Context(), p.name)
		if err != nil {
			return err
		}
		if ok {
			out.Policy = st
		}
	}
	render(w, r, http.StatusOK, out)
	return nil
}

func toRouteStatus(s engine.RouteStatus) RouteStatus {
	out := RouteStatus{Route: s.Route, Weight: s.Weight.String(), Effective: s.Effective.String(), Held: s.Held}
	if res := s.Resolution; res != nil {
		ready := res.Received && res.Ready
		out.Ready, out.Stale, out.Error, out.Updated = &ready, res.Stale, res.Error, res.Updated
		for _, ep := range res.Endpoints {
			out.Endpoints = append(out.Endpoints, Endpoint{Address: ep.Address, Healthy: ep.Healthy, Host: ep.Host, Labels: ep.Labels})
		}
	}
	return out
}

// POST /gateways/{name}/{promote|pause|resume|abort|retry}
func (a *gatewayAPI) command(w http.ResponseWriter, r *http.Request, p params) error {
	if a.policy == nil {
		return errorf(http.StatusConflict, "gateway %q: no policies run in this turnout", p.name)
	}
	err := a.policy.Command(policy.WithOperator(r.Context(), author(r), reason(r)), p.name, sdk.Command(p.command))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(p.name)
	case errors.Is(err, policy.ErrNoPolicy):
		return errorf(http.StatusConflict, "gateway %q has no policy to %s", p.name, p.command)
	case errors.Is(err, policy.ErrRefused):
		return errorf(http.StatusConflict, "%s", err.Error())
	case err != nil:
		return err
	}
	// The command's revision is of the policy state, which the store's
	// gateway events do not follow: the agent that took it says so.
	a.bus.Publish(events.Event{Type: events.PolicyCommand, Gateway: p.name, Reason: reason(r), Author: author(r),
		Data: map[string]string{"command": p.command}})
	render(w, r, http.StatusAccepted, map[string]string{"gateway": p.name, "command": p.command})
	return nil
}
