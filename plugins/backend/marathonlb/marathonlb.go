// Package marathonlb is Turnout's Marathon-LB backend: it resolves
// "marathon-lb:/app-id[:port-index]" route targets to the Marathon-LB
// instances that expose the app (the tasks of the Marathon-LB app serving
// the configured group), at the port Marathon-LB binds for it
// (HAPROXY_{n}_PORT, else the service port), or at port 80 with the Host
// header set when the app has a virtual host (HAPROXY_{n}_VHOST). See
// README.md.
package marathonlb

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugin is the marathon-lb backend. It implements sdk.Backend.
type Plugin struct{ *marathon.Backend }

var _ sdk.Backend = (*Plugin)(nil)

// New returns the plugin; Configure (or the first Watch, with the
// defaults) sets it up. Close stops its Marathon watcher.
func New() *Plugin {
	return &Plugin{marathon.NewBackend("marathon-lb",
		"the Marathon-LB instances exposing a Marathon app, at its service port or its virtual host", target)}
}

var target = marathon.AppTarget("marathon-lb", nil, resolve)

// Frontend is where Marathon-LB serves one port of an app: its port, and
// the virtual host when it is reached through port 80.
type Frontend struct {
	Port  int
	VHost string
}

// FrontendOf is where an LB exposes the app's port p: port 80 with the
// first virtual host when the app has one and the LB binds 80, else the
// port Marathon-LB binds for it.
func FrontendOf(lb marathon.MarathonLB, p marathon.LBPort) Frontend {
	if len(p.VHosts) > 0 && lb.BindHTTPHTTPS {
		return Frontend{Port: 80, VHost: p.VHosts[0]}
	}
	return Frontend{Port: p.Port}
}

func resolve(cfg marathon.Config, m *marathon.Model, a *marathon.App, r marathon.Ref) marathon.Resolution {
	group := cfg.MarathonLBGroup
	ports := a.LBPorts()
	if r.N >= len(ports) {
		return marathon.Resolution{Reason: fmt.Sprintf("app %s has no port index %d", a.ID, r.N)}
	}
	p := ports[r.N]
	var lbs []marathon.MarathonLB
	for _, lb := range m.MarathonLBs() {
		if slices.Contains(lb.Groups, group) || slices.Contains(lb.Groups, "*") {
			lbs = append(lbs, lb)
		}
	}
	var why []string
	switch {
	case len(lbs) == 0:
		why = append(why, fmt.Sprintf("no Marathon-LB app of group %s in Marathon", group))
	case len(p.Groups) == 0 && !slices.ContainsFunc(lbs, func(lb marathon.MarathonLB) bool { return slices.Contains(lb.Groups, "*") }):
		why = append(why, fmt.Sprintf("app %s has no HAPROXY_GROUP or HAPROXY_%d_GROUP label", a.ID, r.N))
	case !slices.ContainsFunc(lbs, func(lb marathon.MarathonLB) bool { return lb.Serves(p.Groups) }):
		why = append(why, fmt.Sprintf("app %s port index %d is in Marathon-LB group %s, not %s", a.ID, r.N, strings.Join(p.Groups, ","), group))
	case p.Port == 0:
		why = append(why, fmt.Sprintf("app %s port index %d has no service port", a.ID, r.N))
	}
	if len(why) > 0 {
		return marathon.Resolution{Reason: strings.Join(why, "; ")}
	}
	var eps []sdk.Endpoint
	healthy := 0
	for _, lb := range lbs {
		if !lb.Serves(p.Groups) && !slices.Contains(lb.Groups, "*") {
			continue
		}
		if lb.StrictMode && !p.Enabled {
			why = append(why, fmt.Sprintf("Marathon-LB %s runs in strict mode and HAPROXY_%d_ENABLED is not true", lb.App.ID, r.N))
			continue
		}
		fe := FrontendOf(lb, p)
		for _, t := range lb.App.Tasks {
			if t.State != marathon.TaskRunning || t.Host == "" {
				continue
			}
			ok := lb.App.Healthy(t)
			if ok {
				healthy++
			}
			labels := map[string]string{"marathon_lb": lb.App.ID, "task": t.ID, "port": strconv.Itoa(fe.Port)}
			if fe.VHost != "" {
				labels["vhost"] = fe.VHost
			}
			eps = append(eps, sdk.Endpoint{Address: net.JoinHostPort(t.Host, strconv.Itoa(fe.Port)), Healthy: ok, Host: fe.VHost, Labels: labels})
		}
	}
	slices.SortFunc(eps, func(x, y sdk.Endpoint) int { return strings.Compare(x.Address, y.Address) })
	ready, reason := m.Readiness(a)
	if reason != "" {
		why = append(why, reason)
	}
	if healthy == 0 {
		why = append(why, "no healthy Marathon-LB instance")
	}
	return marathon.Resolution{Endpoints: eps, Ready: ready && healthy > 0 && len(why) == 0, Reason: strings.Join(why, "; ")}
}
