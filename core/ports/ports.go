// Package ports knows who owns which port on a DC/OS public agent: Turnout's
// gateways (from their configured range), Marathon-LB (80 and 443 when it
// binds them, 9090, 9091, and its service port range) and the apps
// Marathon-LB exposes (their HAPROXY_{n}_PORT labels or service ports).
// It lists every conflict with both owners named, and answers Owner(port)
// for the engine before it accepts a gateway.
package ports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/internal/marathon"
)

// Range is an inclusive port range.
type Range struct {
	First, Last int
}

// ParseRange reads "FIRST-LAST" (or one port).
func ParseRange(s string) (Range, error) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		b = a
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return Range{}, fmt.Errorf("port range %q: want FIRST-LAST within 1-65535, e.g. 8000-9999", s)
	}
	return Range{first, last}, nil
}

func (r Range) Contains(p int) bool { return p >= r.First && p <= r.Last }

func (r Range) String() string {
	if r.First == r.Last {
		return strconv.Itoa(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Overlaps says whether two ranges share a port.
func (r Range) Overlaps(o Range) bool { return r.First <= o.Last && o.First <= r.Last }

// Config are the port ranges of a DC/OS cluster.
type Config struct {
	// Gateways is where Turnout assigns gateway ports (default 8000-9999).
	Gateways Range
	// MarathonLB is Marathon-LB's service port range (default
	// 10000-10100, the ports its Universe package reserves).
	MarathonLB Range
}

// DefaultConfig is the design's defaults.
func DefaultConfig() Config {
	return Config{Gateways: Range{8000, 9999}, MarathonLB: Range{10000, 10100}}
}

// Validate refuses ranges that overlap: every port of Marathon-LB's range
// would be a conflict.
func (c Config) Validate() error {
	if c.Gateways.Overlaps(c.MarathonLB) {
		return fmt.Errorf("the gateway port range %s overlaps Marathon-LB's service port range %s", c.Gateways, c.MarathonLB)
	}
	return nil
}

// Owner kinds.
const (
	KindGateway      = "gateway"
	KindGatewayRange = "gateway-range"
	KindMarathonLB   = "marathon-lb"
	KindApp          = "app"
)

// Owner is who holds a port.
type Owner struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

func (o Owner) String() string {
	switch o.Kind {
	case KindGateway:
		return fmt.Sprintf("gateway %q", o.Name)
	case KindGatewayRange:
		return "Turnout's gateway port range " + o.Name
	case KindMarathonLB:
		return fmt.Sprintf("Marathon-LB %s (%s)", o.Name, o.Detail)
	}
	return fmt.Sprintf("app %s (%s)", o.Name, o.Detail)
}

// Gateway is one of Turnout's gateways.
type Gateway struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// Conflict is a port with two owners.
type Conflict struct {
	Port   int     `json:"port"`
	Owners []Owner `json:"owners"`
}

func (c Conflict) String() string {
	return fmt.Sprintf("port %d: %s and %s", c.Port, c.Owners[0], c.Owners[1])
}

// Table is who owns each port on the Marathon side.
type Table struct {
	cfg    Config
	owners map[int][]Owner
	// lbRanges are the service port ranges of the Marathon-LBs found.
	lbRanges []Owner
	LBs      []marathon.MarathonLB
}

// NewTable reads the owners from a Marathon model (nil: none).
func NewTable(cfg Config, m *marathon.Model) *Table {
	t := &Table{cfg: cfg, owners: map[int][]Owner{}}
	if m == nil {
		return t
	}
	t.LBs = m.MarathonLBs()
	isLB := map[string]bool{}
	for _, lb := range t.LBs {
		isLB[lb.App.ID] = true
		fixed := map[int]string{9090: "stats and admin port", 9091: "X-Marathon-App-Id frontend"}
		if lb.BindHTTPHTTPS {
			fixed[80], fixed[443] = "HTTP virtual host frontend", "HTTPS virtual host frontend"
		}
		// Ports the Marathon-LB app declares beyond those and its range
		// are reserved for it too.
		for _, p := range lb.App.Ports {
			if _, ok := fixed[p.ServicePort]; !ok && p.ServicePort > 0 && !cfg.MarathonLB.Contains(p.ServicePort) {
				fixed[p.ServicePort] = "port of its app"
			}
		}
		for p, d := range fixed {
			t.add(p, Owner{Kind: KindMarathonLB, Name: lb.App.ID, Detail: d})
		}
		t.lbRanges = append(t.lbRanges, Owner{Kind: KindMarathonLB, Name: lb.App.ID, Detail: "service port range " + cfg.MarathonLB.String()})
	}
	for _, a := range m.SortedApps() {
		if isLB[a.ID] {
			continue
		}
		for _, p := range a.LBPorts() {
			if p.Port == 0 {
				continue
			}
			for _, lb := range t.LBs {
				if !lb.Serves(p.Groups) || (lb.StrictMode && !p.Enabled) {
					continue
				}
				how := "service port"
				if p.FromLabel {
					how = fmt.Sprintf("HAPROXY_%d_PORT", p.Index)
				}
				t.add(p.Port, Owner{Kind: KindApp, Name: a.ID, Detail: fmt.Sprintf("%s, Marathon-LB %s group %s", how, lb.App.ID, strings.Join(p.Groups, ","))})
			}
		}
	}
	return t
}

func (t *Table) add(port int, o Owner) {
	if !slices.Contains(t.owners[port], o) {
		t.owners[port] = append(t.owners[port], o)
	}
}

// Owners are the Marathon-side owners of a port: Marathon-LB's own ports
// and the apps it exposes there, else the Marathon-LB whose service port
// range holds it.
func (t *Table) Owners(port int) []Owner {
	if o := t.owners[port]; len(o) > 0 {
		return o
	}
	if t.cfg.MarathonLB.Contains(port) {
		return t.lbRanges
	}
	return nil
}

// Owner is who on the Marathon side holds port, in words, for the engine
// to refuse a gateway on it with: "port 9090 is taken by Marathon-LB
// /marathon-lb (stats and admin port)".
func (t *Table) Owner(port int) (string, bool) {
	o := t.Owners(port)
	if len(o) == 0 {
		return "", false
	}
	return o[0].String(), true
}

// Check lists every conflict: a gateway on a port something on the
// Marathon side holds, and a port Marathon-LB binds for an app inside the
// gateway range (Turnout would hand it to a gateway). Conflicts come in
// port order.
func (t *Table) Check(gateways []Gateway) []Conflict {
	var out []Conflict
	taken := map[int]bool{}
	for _, g := range gateways {
		taken[g.Port] = true
		for _, o := range t.Owners(g.Port) {
			out = append(out, Conflict{Port: g.Port, Owners: []Owner{{Kind: KindGateway, Name: g.Name}, o}})
		}
	}
	for port, owners := range t.owners {
		if taken[port] || !t.cfg.Gateways.Contains(port) {
			continue
		}
		for _, o := range owners {
			if o.Kind == KindApp {
				out = append(out, Conflict{Port: port, Owners: []Owner{{Kind: KindGatewayRange, Name: t.cfg.Gateways.String()}, o}})
			}
		}
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(a.Owners[0].String(), b.Owners[0].String()),
			strings.Compare(a.Owners[1].String(), b.Owners[1].String()))
	})
	return out
}

// Check is NewTable(cfg, m).Check(gateways).
func Check(cfg Config, m *marathon.Model, gateways []Gateway) []Conflict {
	return NewTable(cfg, m).Check(gateways)
}
