package engine

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/plugins/sdk"
)

// Backends resolves route targets that name a backend plugin
// ("marathon:/app", "consul:svc"): *pluginhost.Host.
type Backends interface {
	// CheckScheme says whether a plugin resolves targets of scheme.
	CheckScheme(scheme string) error
	// SyncTargets makes the backends watch exactly these targets. It must
	// not call back into the engine synchronously.
	SyncTargets([]sdk.Target)
	// Resolve is the last word of a target's plugin.
	Resolve(sdk.Target) (pluginhost.Resolution, bool)
	// CheckTarget says whether the plugin can watch the target at all
	// (a malformed reference is an error).
	CheckTarget(sdk.Target) error
}

// RouteStatus is why a route has the weight it has in service.
type RouteStatus struct {
	Gateway string
	Route   string
	// Weight is the configured weight; Effective is the one in service
	// (0 while the route is held).
	Weight    gateway.Weight
	Effective gateway.Weight
	// Held says why the route gets no traffic although it has a weight
	// ("" when it is not held).
	Held string
	// Resolution is the backend plugin's word on a plugin target (nil for
	// "[host:port]" targets).
	Resolution *pluginhost.Resolution
}

func sdkTarget(t gateway.Target) sdk.Target {
	return sdk.Target{Scheme: string(t.Kind), Ref: t.Ref}
}

// pluginTargets lists the distinct plugin targets of gws.
func pluginTargets(gws []*gateway.Gateway) []sdk.Target {
	seen := map[gateway.Target]bool{}
	var out []sdk.Target
	for _, g := range gws {
		for _, r := range g.Routes {
			if !r.Target.Plugin() || seen[r.Target] {
				continue
			}
			seen[r.Target] = true
			out = append(out, sdkTarget(r.Target))
		}
	}
	return out
}

// checkTargets refuses plugin targets no plugin resolves. Targets whose
// plugin exists but is refused (pluginhost.ErrRefused) come back apart, in
// refused, so that a caller can serve those gateways degraded.
func (e *Engine) checkTargets(gws []*gateway.Gateway) (err, refused error) {
	var refusals []error
	for _, g := range gws {
		for _, r := range g.Routes {
			if !r.Target.Plugin() {
				continue
			}
			if e.opts.Backends == nil {
				return fmt.Errorf("gateway %q: route %q: no backend plugins are running", g.Name, r.Name), nil
			}
			if err := e.opts.Backends.CheckScheme(string(r.Target.Kind)); err != nil {
				err = fmt.Errorf("gateway %q: route %q: %w", g.Name, r.Name, err)
				if !errors.Is(err, pluginhost.ErrRefused) {
					return err, nil
				}
				refusals = append(refusals, err)
				continue
			}
			if err := e.opts.Backends.CheckTarget(sdkTarget(r.Target)); err != nil {
				return fmt.Errorf("gateway %q: route %q: %w", g.Name, r.Name, err), nil
			}
		}
	}
	return nil, errors.Join(refusals...)
}

// effective returns g as it goes into service: routes held until their
// backend is ready get weight 0 (and no condition share), with the reason
// recorded in the statuses.
func (e *Engine) effective(g *gateway.Gateway) (*gateway.Gateway, []RouteStatus) {
	cp := *g
	cp.Routes = append([]gateway.Route(nil), g.Routes...)
	st := make([]RouteStatus, len(cp.Routes))
	for j := range cp.Routes {
		r := &cp.Routes[j]
		s := RouteStatus{Gateway: g.Name, Route: r.Name, Weight: r.Weight}
		switch r.Target.Kind {
		case gateway.GatewayRef:
			if why := e.refs.held(r.Target.Ref); why != "" {
				s.Held = why
				r.Weight, r.ConditionStrength = 0, 0
			}
		case gateway.Static:
			// A name that never resolved has nothing to send to: say so
			// in the status rather than show the route in service.
			if len(e.res.addrs(r.Target.Host, r.Target.Port)) == 0 {
				s.Held = "not resolved: " + e.res.why(r.Target.Host, r.Target.Port)
				r.Weight, r.ConditionStrength = 0, 0
			}
		default:
			var res pluginhost.Resolution
			var ok bool
			if e.opts.Backends != nil {
				res, ok = e.opts.Backends.Resolve(sdkTarget(r.Target))
			}
			if ok {
				s.Resolution = &res
			}
			why := holdReason(r, res, ok)
			if !ok && e.opts.Backends != nil {
				if err := e.opts.Backends.CheckScheme(string(r.Target.Kind)); err != nil {
					why = err.Error() // its plugin will not run: say why
				}
			}
			if why != "" {
				s.Held = why
				r.Weight, r.ConditionStrength = 0, 0
			}
		}
		s.Effective = r.Weight
		st[j] = s
	}
	return &cp, st
}

// staticOnly reports whether every route of g has a "[host:port]" target:
// then what g is in service depends on its document and the resolver
// alone, not on a backend plugin.
func staticOnly(g *gateway.Gateway) bool {
	for _, r := range g.Routes {
		if r.Target.Kind != gateway.Static {
			return false
		}
	}
	return true
}

// holdReason says why a plugin route must wait ("" if it need not): until
// its target is first ready (a new version still deploying, booting or
// unhealthy), and whenever it has no healthy endpoint, so its share goes to
// the other routes instead of failing. Once a target was ready, a later
// deployment of the same app (a rolling restart, a dead task replaced) does
// not hold it while healthy endpoints remain.
func holdReason(r *gateway.Route, res pluginhost.Resolution, ok bool) string {
	if !r.RequireReady {
		return ""
	}
	switch {
	case !ok:
		return "waiting for the backend plugin"
	case !res.Received && res.Error != "":
		return "not resolved: " + res.Error
	case !res.Received:
		return "waiting for the first resolution"
	case !res.EverReady:
		if res.Reason != "" {
			return "not ready: " + res.Reason
		}
		return "not ready"
	case !slices.ContainsFunc(res.Endpoints, func(e sdk.Endpoint) bool { return e.Healthy }):
		if res.Reason != "" {
			return "no healthy endpoint: " + res.Reason
		}
		return "no healthy endpoint"
	}
	return ""
}

// pluginAddrs turns a plugin's healthy endpoints into addresses, resolving
// DNS names (Minuteman VIPs are names) the way static targets are.
func (e *Engine) pluginAddrs(t gateway.Target) ([]string, string) {
	if e.opts.Backends == nil {
		return nil, ""
	}
	res, ok := e.opts.Backends.Resolve(sdkTarget(t))
	if !ok {
		return nil, ""
	}
	var addrs []string
	host := ""
	for _, ep := range res.Endpoints {
		if !ep.Healthy {
			continue
		}
		h, p, err := net.SplitHostPort(ep.Address)
		port, perr := strconv.Atoi(p)
		if err != nil || perr != nil || port < 1 || port > 65535 {
			e.log.Warn("backend plugin gave a bad endpoint address; skipped", "target", string(t.Kind)+":"+t.Ref, "address", ep.Address)
			continue
		}
		addrs = append(addrs, e.res.addrs(h, port)...)
		if host == "" {
			host = ep.Host
		}
	}
	return addrs, host
}

// recordStatuses exports holds and stale targets as metrics. A route's
// held series is set only when its status is new or changed since prev,
// the statuses of the table before: a change to one gateway among many
// touches the series of that one.
func (e *Engine) recordStatuses(prev, statuses map[string][]RouteStatus) {
	reg := e.dp.Metrics()
	if reg == nil {
		return
	}
	reg.TargetStale.Reset()
	for name, st := range statuses {
		before := prev[name]
		for i, s := range st {
			if s.Resolution != nil {
				stale := 0.0
				if s.Resolution.Stale {
					stale = 1
				}
				reg.TargetStale.WithLabelValues(s.Resolution.Target.String()).Set(stale)
			}
			same := i < len(before) && before[i].Route == s.Route
			if !same || before[i].Weight != s.Weight || before[i].Effective != s.Effective {
				reg.Rollout.Weights(s.Gateway, s.Route, s.Weight.Percent(), s.Effective.Percent())
			}
			if same && (before[i].Held != "") == (s.Held != "") {
				continue
			}
			held := 0.0
			if s.Held != "" {
				held = 1
			}
			reg.RouteHeld.WithLabelValues(s.Gateway, s.Route).Set(held)
		}
	}
}
