// Package minuteman is Turnout's DC/OS layer-4 VIP backend: it resolves
// "minuteman:/app-id:port" route targets to the app's named VIP,
// NAME.marathon.l4lb.thisdcos.directory:PORT, after checking in Marathon
// that the app carries that VIP, and says the target is ready when the
// app's tasks run and pass their health checks and no deployment is in
// flight. The VIP's DNS name follows dcos-net's rules exactly (see Name).
// See README.md.
package minuteman

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugin is the minuteman backend. It implements sdk.Backend.
type Plugin struct{ *marathon.Backend }

var _ sdk.Backend = (*Plugin)(nil)

// New returns the plugin; Configure (or the first Watch, with the
// defaults) sets it up. Close stops its Marathon watcher.
func New() *Plugin {
	return &Plugin{marathon.NewBackend("minuteman",
		"a Marathon app's DC/OS layer-4 VIP (NAME.marathon.l4lb.thisdcos.directory), ready when its tasks are healthy", target)}
}

// Zone is the DNS zone of named VIPs.
const Zone = "l4lb.thisdcos.directory"

// VIP is one VIP label of an app port.
type VIP struct {
	PortIndex int
	Key       string // VIP_0
	Value     string // /my-service:5555
	Name      string // /my-service (or an IP address)
	Port      int
	IP        bool
}

// VIPs are the VIP labels on the app's ports: any label key starting with
// VIP or vip, its value NAME:PORT split at the last colon (dcos-net's
// rules). Malformed values are skipped, as dcos-net skips them.
func VIPs(a *marathon.App) []VIP {
	var out []VIP
	for i, p := range a.Ports {
		keys := make([]string, 0, len(p.Labels))
		for k := range p.Labels {
			if strings.HasPrefix(k, "VIP") || strings.HasPrefix(k, "vip") {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if v, ok := ParseVIP(p.Labels[k]); ok {
				v.PortIndex, v.Key = i, k
				out = append(out, v)
			}
		}
	}
	return out
}

// ParseVIP reads a VIP label value, NAME:PORT or IP:PORT.
func ParseVIP(value string) (VIP, bool) {
	i := strings.LastIndexByte(value, ':')
	if i < 0 {
		return VIP{}, false
	}
	name, ps := value[:i], value[i+1:]
	port, err := strconv.Atoi(ps)
	if err != nil || port <= 0 || port > 65535 || name == "" {
		return VIP{}, false
	}
	_, ipErr := netip.ParseAddr(strings.Trim(name, "[]"))
	return VIP{Value: value, Name: name, Port: port, IP: ipErr == nil}, true
}

// Name is the DNS name of a named VIP for a framework ("marathon"):
// LABEL.FRAMEWORK.l4lb.thisdcos.directory, each part made a DNS label by
// dcos-net's mesos_state:domain_frag.
func Name(vip, framework string) string {
	return joinNonEmpty(DomainFrag(vip), DomainFrag(framework), Zone)
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// DomainFrag is dcos-net's mesos_state:domain_frag/1: the name split at
// dots (empty parts dropped), each part made a host name label, joined
// with dots again.
func DomainFrag(name string) string {
	var labels []string
	for _, part := range strings.Split(name, ".") {
		if part != "" {
			labels = append(labels, Label(part))
		}
	}
	return strings.Join(labels, ".")
}

// Label is mesos_state:label/1, a port of its state machine: upper case is
// lowered; characters before the first letter or digit are dropped; then
// "-", "_" and "." become "-" and every other character outside [a-z0-9]
// is dropped; at 63 characters trailing dashes are stripped and only
// letters and digits fill up to 63; trailing dashes are stripped at the end.
func Label(s string) string {
	const (
		start = iota
		middle
		terminate
	)
	state := start
	var acc []byte
	allowed := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case state == start && allowed(c):
			state = middle
		case state == middle && len(acc) > 62:
			acc = []byte(strings.TrimRight(string(acc), "-"))
			state = terminate
		case state == middle && (c == '-' || c == '_' || c == '.'):
			acc = append(acc, '-')
			i++
		case state == terminate && len(acc) == 63:
			i = len(s)
		case allowed(c):
			acc = append(acc, c)
			i++
		default:
			i++
		}
	}
	return strings.TrimRight(string(acc), "-")
}

// Address is where clients reach a VIP: the IP itself for an IP VIP, else
// the named VIP's DNS name.
func (v VIP) Address(framework string) string {
	if v.IP {
		return net.JoinHostPort(strings.Trim(v.Name, "[]"), strconv.Itoa(v.Port))
	}
	return net.JoinHostPort(Name(v.Name, framework), strconv.Itoa(v.Port))
}

// target reads "/app-id:VIP-PORT".
var target = marathon.AppTarget("minuteman", check, resolve)

// check refuses a reference without a VIP port.
func check(ref string, r marathon.Ref) error {
	if !r.HasN || r.N == 0 {
		return fmt.Errorf("minuteman: target %q: want minuteman:/app-id:VIP-PORT", ref)
	}
	return nil
}

func resolve(_ marathon.Config, m *marathon.Model, a *marathon.App, r marathon.Ref) marathon.Resolution {
	all := VIPs(a)
	var match []VIP
	for _, v := range all {
		if v.Port == r.N {
			match = append(match, v)
		}
	}
	if len(match) == 0 {
		if len(all) == 0 {
			return marathon.Resolution{Reason: fmt.Sprintf("app %s has no VIP label", a.ID)}
		}
		var have []string
		for _, v := range all {
			have = append(have, v.Value)
		}
		return marathon.Resolution{Reason: fmt.Sprintf("app %s has no VIP on port %d (its VIPs: %s)", a.ID, r.N, strings.Join(have, ", "))}
	}
	// Several VIPs on that port: the one named like the app.
	v := match[0]
	for _, c := range match {
		if !c.IP && DomainFrag(c.Name) == DomainFrag(a.ID) {
			v = c
			break
		}
	}
	healthy := 0
	for _, t := range a.Tasks {
		if a.Healthy(t) {
			healthy++
		}
	}
	ready, reason := m.Readiness(a)
	return marathon.Resolution{
		Endpoints: []sdk.Endpoint{{
			Address: v.Address(m.Framework),
			// The VIP balances over the app's healthy tasks: it takes
			// traffic while at least one is.
			Healthy: healthy > 0,
			Labels: map[string]string{"app": a.ID, "vip": v.Value, "vip_label": v.Key,
				"port_index": strconv.Itoa(v.PortIndex), "healthy_tasks": strconv.Itoa(healthy)},
		}},
		Ready:  ready,
		Reason: reason,
	}
}
