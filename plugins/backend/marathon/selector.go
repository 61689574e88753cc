package marathon

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/core/selector"
	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// selectorPrefix starts the references of routes with a Vamp selector
// (core/gateway.SelectorTarget): "selector:label(app)(shop)".
const selectorPrefix = "selector:"

// selectTarget resolves a selector reference to the running tasks' ports
// it selects, over every app, as Vamp's RouteSelectionProcessor.scala
// does over its Marathon driver's routing groups (MarathonDriverActor.scala):
// an app's name is its id's last segment and its namespace the segments
// before it, its kind "app", its image the Docker image, its labels the
// app's; each task's port is one candidate, with the task's address as ip
// and the app's port number and index as port and port_index.
func selectTarget(ref string) (marathon.Resolve, error) {
	s, err := selector.Parse(strings.TrimPrefix(ref, selectorPrefix))
	if err != nil {
		return nil, fmt.Errorf("marathon: %w", err)
	}
	return func(m *marathon.Model) marathon.Resolution {
		var eps []sdk.Endpoint
		seen := map[string]bool{}
		var waiting []string
		for _, a := range m.SortedApps() {
			if !selectApp(s, a, seen, &eps) {
				continue
			}
			if ready, reason := m.Readiness(a); !ready {
				waiting = append(waiting, a.ID+": "+reason)
			}
		}
		slices.SortFunc(eps, func(x, y sdk.Endpoint) int { return strings.Compare(x.Address, y.Address) })
		switch {
		case len(eps) == 0:
			return marathon.Resolution{Reason: fmt.Sprintf("selector '%s' selects no running task", s)}
		case len(waiting) > 0:
			return marathon.Resolution{Endpoints: eps, Reason: strings.Join(waiting, "; ")}
		}
		return marathon.Resolution{Endpoints: eps, Ready: true}
	}, nil
}

// selectApp adds the endpoints of a's running tasks that s selects, once
// per address, and reports whether it added any.
func selectApp(s *selector.Selector, a *marathon.App, seen map[string]bool, eps *[]sdk.Endpoint) bool {
	namespace, name := "", strings.TrimPrefix(a.ID, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		namespace, name = name[:i], name[i+1:]
	}
	in := selector.Instance{Name: name, Namespace: namespace, Kind: "app", Labels: a.Labels, Image: a.Image}
	picked := false
	for _, t := range a.Tasks {
		if t.State != marathon.TaskRunning {
			continue
		}
		for i := range max(len(a.Ports), len(t.Ports)) {
			host, port, ok := a.Address(t, i)
			if !ok {
				continue
			}
			in.IP, in.Port, in.Index = host, appPort(a, i), i
			in.Addr = net.JoinHostPort(host, strconv.Itoa(port))
			if seen[in.Addr] || !s.Matches(&in) {
				continue
			}
			seen[in.Addr], picked = true, true
			*eps = append(*eps, sdk.Endpoint{
				Address: in.Addr,
				Healthy: a.Healthy(t),
				Labels:  map[string]string{"app": a.ID, "task": t.ID, "agent": t.Host, "version": t.Version, "port_index": strconv.Itoa(i)},
			})
		}
	}
	return picked
}

// appPort is the number port(N) compares: the port mapping's container
// port, as in Vamp, or for an app without port mappings (host networking)
// its port definition's port, where Vamp selected nothing.
func appPort(a *marathon.App, i int) int {
	if i >= len(a.Ports) {
		return 0
	}
	if p := a.Ports[i]; p.ContainerPort != 0 {
		return p.ContainerPort
	}
	return a.Ports[i].ServicePort
}
