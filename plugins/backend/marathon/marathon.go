// Package marathon is Turnout's Marathon task backend: it resolves
// "marathon:/app-id[:port-index]" route targets to the app's task
// endpoints themselves, and routes with a Vamp selector to the tasks it
// selects ("marathon:selector:..."), (host ports, or task IPs with container ports on
// IP-per-task networks), from Marathon's event stream. Running tasks are
// listed, healthy when they pass their health checks; a task being killed
// leaves at once. See README.md.
package marathon

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugin is the marathon backend. It implements sdk.Backend.
type Plugin struct{ *marathon.Backend }

var _ sdk.Backend = (*Plugin)(nil)

// New returns the plugin; Configure (or the first Watch, with the
// defaults) sets it up. Close stops its Marathon watcher.
func New() *Plugin {
	return &Plugin{marathon.NewBackend("marathon",
		"a Marathon app's healthy task endpoints, followed through Marathon's event stream", target)}
}

var appTarget = marathon.AppTarget("marathon", nil, resolve)

// target reads "/app-id[:port]" references to one app, and "selector:..."
// ones to the tasks a Vamp route selector selects.
func target(cfg marathon.Config, ref string) (marathon.Resolve, error) {
	if strings.HasPrefix(ref, selectorPrefix) {
		return selectTarget(ref)
	}
	return appTarget(cfg, ref)
}

func resolve(_ marathon.Config, m *marathon.Model, a *marathon.App, r marathon.Ref) marathon.Resolution {
	if n := max(len(a.Ports), maxTaskPorts(a)); r.N >= n {
		return marathon.Resolution{Reason: fmt.Sprintf("app %s has no port index %d (it has %d %s)", a.ID, r.N, n, plural(n))}
	}
	var eps []sdk.Endpoint
	for _, t := range a.Tasks {
		// Only running tasks: staging ones have no port yet, and a task
		// being killed (TASK_KILLING) takes no new requests.
		if t.State != marathon.TaskRunning {
			continue
		}
		host, port, ok := a.Address(t, r.N)
		if !ok {
			continue
		}
		eps = append(eps, sdk.Endpoint{
			Address: net.JoinHostPort(host, strconv.Itoa(port)),
			Healthy: a.Healthy(t),
			Labels:  map[string]string{"task": t.ID, "agent": t.Host, "version": t.Version},
		})
	}
	slices.SortFunc(eps, func(x, y sdk.Endpoint) int { return strings.Compare(x.Address, y.Address) })
	ready, reason := m.Readiness(a)
	return marathon.Resolution{Endpoints: eps, Ready: ready, Reason: reason}
}

func maxTaskPorts(a *marathon.App) int {
	n := 0
	for _, t := range a.Tasks {
		n = max(n, len(t.Ports))
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return "port"
	}
	return "ports"
}
