package marathon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Model is one read of Marathon: every app with its tasks, the deployments
// in flight and Marathon's framework name. A Model is never changed once
// published; the watcher replaces it whole.
type Model struct {
	Apps        map[string]*App
	Deployments []Deployment
	// Framework is Marathon's Mesos framework name ("marathon", or the
	// name of a Marathon-on-Marathon): it is part of VIP DNS names.
	Framework string
	// Fetched is when Marathon last answered.
	Fetched time.Time
}

// NewModel indexes apps by id.
func NewModel(apps []*App, deployments []Deployment, framework string) *Model {
	m := &Model{Apps: make(map[string]*App, len(apps)), Deployments: deployments, Framework: framework}
	if m.Framework == "" {
		m.Framework = "marathon"
	}
	for _, a := range apps {
		m.Apps[a.ID] = a
	}
	return m
}

// App is the app with that id (the leading slash may be left out).
func (m *Model) App(id string) (*App, bool) {
	if m == nil {
		return nil, false
	}
	a, ok := m.Apps[NormalizeID(id)]
	return a, ok
}

// SortedApps are the apps in id order.
func (m *Model) SortedApps() []*App {
	apps := make([]*App, 0, len(m.Apps))
	for _, a := range m.Apps {
		apps = append(apps, a)
	}
	slices.SortFunc(apps, func(a, b *App) int { return strings.Compare(a.ID, b.ID) })
	return apps
}

// Deploying says whether a deployment touching the app is in flight.
func (m *Model) Deploying(a *App) bool {
	if len(a.Deployments) > 0 {
		return true
	}
	for _, d := range m.Deployments {
		if slices.Contains(d.AffectedApps, a.ID) {
			return true
		}
	}
	return false
}

// Readiness says whether the app may take its share of traffic: no
// deployment in flight and as many healthy tasks as instances (at least
// one). The reason says in words what is missing.
func (m *Model) Readiness(a *App) (ready bool, reason string) {
	var why []string
	if m.Deploying(a) {
		why = append(why, "deployment in flight")
	}
	healthy := 0
	for _, t := range a.Tasks {
		if a.Healthy(t) {
			healthy++
		}
	}
	// Tasks beyond the instance count (being killed in a scale-down) do
	// not hold readiness back.
	want := a.Instances
	if want == 0 {
		want = len(a.Tasks)
	}
	switch {
	case want == 0:
		why = append(why, "app is scaled to 0 instances")
	case healthy < want:
		why = append(why, fmt.Sprintf("%d of %d %s healthy", healthy, want, plural(want, "task", "tasks")))
	}
	if len(why) == 0 {
		return true, ""
	}
	return false, strings.Join(why, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// MarathonLB is a Marathon-LB app: the groups it serves and whether it
// binds 80 and 443.
type MarathonLB struct {
	App    *App
	Groups []string
	// BindHTTPHTTPS is false when it runs with --dont-bind-http-https.
	BindHTTPHTTPS bool
	StrictMode    bool
}

// Serves says whether this Marathon-LB exposes a service port in groups
// (marathon-lb's rule: "*" exposes everything, else the sets intersect).
func (lb MarathonLB) Serves(groups []string) bool {
	for _, g := range lb.Groups {
		if g == "*" || slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// MarathonLBs finds the Marathon-LB apps: the image is marathon-lb's, or
// the command runs marathon_lb.py, or the arguments start as the package's
// do ("sse" or "poll" with a --group).
func (m *Model) MarathonLBs() []MarathonLB {
	var lbs []MarathonLB
	for _, a := range m.SortedApps() {
		words := append(strings.Fields(a.Cmd), a.Args...)
		isLB := strings.Contains(a.Image, "marathon-lb") || slices.ContainsFunc(words, func(w string) bool {
			return strings.Contains(w, "marathon_lb")
		})
		if !isLB && len(a.Args) > 0 && (a.Args[0] == "sse" || a.Args[0] == "poll") && slices.Contains(a.Args, "--group") {
			isLB = true
		}
		if !isLB {
			continue
		}
		lb := MarathonLB{App: a, BindHTTPHTTPS: true}
		for i, w := range words {
			switch {
			case w == "--group" && i+1 < len(words):
				lb.Groups = append(lb.Groups, words[i+1])
			case strings.HasPrefix(w, "--group="):
				lb.Groups = append(lb.Groups, strings.TrimPrefix(w, "--group="))
			case w == "--dont-bind-http-https":
				lb.BindHTTPHTTPS = false
			case w == "--strict-mode":
				lb.StrictMode = true
			}
		}
		lbs = append(lbs, lb)
	}
	return lbs
}

// LBPort is one port of an app as Marathon-LB exposes it.
type LBPort struct {
	Index int
	// Port is the frontend port Marathon-LB binds: HAPROXY_{n}_PORT, else
	// the service port. 0 when the app has neither.
	Port int
	// FromLabel is true when HAPROXY_{n}_PORT set it.
	FromLabel bool
	// Groups are HAPROXY_{n}_GROUP, else HAPROXY_GROUP (comma-separated
	// lists, as marathon-lb splits them).
	Groups []string
	// VHosts are HAPROXY_{n}_VHOST, lower-cased.
	VHosts  []string
	Enabled bool
}

// LBPorts are the app's ports as Marathon-LB reads them: one per service
// port, the labels of port n applying to service port n.
func (a *App) LBPorts() []LBPort {
	n := len(a.Ports)
	// A label may name a port index the app has no port for (an app
	// definition with "HAPROXY_0_PORT" and no port of its own): it still
	// binds.
	for k := range a.Labels {
		if i, ok := labelIndex(k); ok && i+1 > n {
			n = i + 1
		}
	}
	ports := make([]LBPort, n)
	for i := range ports {
		p := LBPort{Index: i}
		if i < len(a.Ports) {
			p.Port = a.Ports[i].ServicePort
		}
		if v, ok := a.Labels[fmt.Sprintf("HAPROXY_%d_PORT", i)]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				p.Port, p.FromLabel = n, true
			}
		}
		groups, ok := a.Labels[fmt.Sprintf("HAPROXY_%d_GROUP", i)]
		if !ok {
			groups = a.Labels["HAPROXY_GROUP"]
		}
		p.Groups = splitList(groups)
		for _, h := range splitList(a.Labels[fmt.Sprintf("HAPROXY_%d_VHOST", i)]) {
			p.VHosts = append(p.VHosts, strings.ToLower(h))
		}
		switch strings.ToLower(strings.TrimSpace(a.Labels[fmt.Sprintf("HAPROXY_%d_ENABLED", i)])) {
		case "true", "t", "yes", "y":
			p.Enabled = true
		}
		ports[i] = p
	}
	return ports
}

// labelIndex reads n from HAPROXY_{n}_PORT.
func labelIndex(k string) (int, bool) {
	rest, ok := strings.CutPrefix(k, "HAPROXY_")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "_")
	if !ok || !strings.HasSuffix(k, "_PORT") {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil && i >= 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
