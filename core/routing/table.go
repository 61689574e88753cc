package routing

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/turnout/turnout/core/condition"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
)

// Table is one immutable generation of routing state for every gateway.
type Table struct {
	Generation uint64
	Built      time.Time
	// Gateways by listening port.
	Gateways map[int]*Gateway
}

// Gateway is the routing state of one gateway in one Table.
type Gateway struct {
	Name     string
	Port     int
	Protocol gateway.Protocol
	Sticky   gateway.Sticky
	// CookieName is the affinity cookie of a sticky gateway; CookieKey is
	// the same as bytes, so reading it costs no conversion per request.
	CookieName string
	CookieKey  []byte
	Routes     []*Route
	Metrics    *metrics.Gateway
	// NoRouteBody is the 503 body answered when nothing can take a request.
	NoRouteBody []byte

	virtualHosts []string // lower case; "*.example.com" wildcards
	conditioned  []*Route
	weights      schedule
}

// Route is the routing state of one route in one Table.
type Route struct {
	Name   string
	Index  int
	Weight gateway.Weight
	// CookieValue identifies the route in a sticky cookie; stable across
	// tables because it is derived from the route's name only.
	CookieValue string
	Match       *condition.Matcher
	Strength    gateway.Weight
	Rewrites    []Rewrite
	LeastConn   bool
	Timeout     time.Duration
	Retries     int
	Endpoints   []*Endpoint
	// Host, if set, replaces the Host header of requests to the route's
	// endpoints (Marathon-LB virtual hosts).
	Host    []byte
	Metrics *metrics.Route
	// Failed is called when an endpoint of the route cannot be reached, so
	// the resolver behind the route can look again (DNS re-resolution).
	Failed func()
	// Mirror, if set, is where copies of a share of this route's requests
	// go; nil for none.
	Mirror *Mirror

	strengthCount *counter
	rr            *counter
}

// Options are the engine-wide defaults a Table is built with.
type Options struct {
	Timeout time.Duration // per request, when a route sets none
	Retries int           // when a route sets none
}

// Input is what Build needs besides the gateways.
type Input struct {
	Gateways []*gateway.Gateway
	// Addrs returns the resolved addresses of a route target, and the Host
	// header its endpoints expect ("" to keep the client's).
	Addrs func(gateway.Target) ([]string, string)
	// Failed, if set, returns the hook a route calls on connect failures.
	Failed     func(gateway.Target) func()
	Endpoints  *Endpoints
	Metrics    *metrics.Registry
	Options    Options
	Generation uint64
	// Reuse, if set, may return the compiled gateway of an earlier table
	// for a gateway whose document and inputs did not change since: Build
	// then puts that one in the new table as is, with its metrics and
	// counters, instead of compiling the gateway again. Compiled gateways
	// are never modified after Build, so tables can share them.
	Reuse func(*gateway.Gateway) *Gateway
}

// Build compiles a Table. It changes nothing that is in service: the
// registries it touches only gain entries.
func Build(in Input) (*Table, error) {
	t := &Table{Generation: in.Generation, Built: time.Now(), Gateways: make(map[int]*Gateway, len(in.Gateways))}
	for _, g := range in.Gateways {
		if g.Port.Number <= 0 {
			return nil, fmt.Errorf("gateway %q: no port assigned", g.Name)
		}
		if other, ok := t.Gateways[g.Port.Number]; ok {
			return nil, fmt.Errorf("gateway %q: port %d is already used by gateway %q", g.Name, g.Port.Number, other.Name)
		}
		if in.Reuse != nil {
			if rg := in.Reuse(g); rg != nil {
				t.Gateways[g.Port.Number] = rg
				continue
			}
		}
		t.Gateways[g.Port.Number] = buildGateway(g, in)
	}
	return t, nil
}

func buildGateway(g *gateway.Gateway, in Input) *Gateway {
	rg := &Gateway{
		Name:        g.Name,
		Port:        g.Port.Number,
		Protocol:    g.Port.Protocol,
		Sticky:      g.Sticky,
		CookieName:  cookieName(g.Name),
		CookieKey:   []byte(cookieName(g.Name)),
		NoRouteBody: []byte(fmt.Sprintf("turnout: gateway %q has no route for this request\n", g.Name)),
	}
	if in.Metrics != nil {
		rg.Metrics = in.Metrics.Gateway(g.Name)
	}
	for _, vh := range g.VirtualHosts {
		rg.virtualHosts = append(rg.virtualHosts, strings.ToLower(vh))
	}
	weights := make([]int, len(g.Routes))
	var empty []string
	for i := range g.Routes {
		r := buildRoute(g, &g.Routes[i], i, in)
		rg.Routes = append(rg.Routes, r)
		if r.Match != nil {
			rg.conditioned = append(rg.conditioned, r)
		}
		weights[i] = int(r.Weight)
		if len(r.Endpoints) == 0 && in.Addrs != nil {
			empty = append(empty, r.Name)
		}
	}
	for i := range g.Routes {
		if m := g.Routes[i].Mirror; m != nil {
			for _, to := range rg.Routes {
				if to.Name == m.Route && to != rg.Routes[i] {
					rg.Routes[i].Mirror = &Mirror{To: to, Share: int(m.Share), count: new(counter)}
				}
			}
		}
	}
	rg.weights = newSchedule(weights)
	if len(empty) > 0 {
		// Say why: "no route" alone sends people looking for a typo in a
		// condition when the route is there and its target is not.
		rg.NoRouteBody = []byte(fmt.Sprintf("turnout: gateway %q has no route for this request: no endpoints for %s\n", g.Name, strings.Join(empty, ", ")))
	}
	return rg
}

func buildRoute(g *gateway.Gateway, gr *gateway.Route, i int, in Input) *Route {
	r := &Route{
		Name:          gr.Name,
		Index:         i,
		Weight:        gr.Weight,
		CookieValue:   shortID(gr.Name),
		Match:         gr.Match,
		Strength:      gr.ConditionStrength,
		Timeout:       in.Options.Timeout,
		Retries:       in.Options.Retries,
		strengthCount: new(counter),
		rr:            new(counter),
	}
	switch gr.Balance {
	case gateway.BalanceLeastConn:
		r.LeastConn = true
	case gateway.BalanceRoundRobin:
	default:
		r.LeastConn = g.Port.Protocol == gateway.TCP
	}
	if gr.Timeout > 0 {
		r.Timeout = gr.Timeout
	}
	if gr.Retries != nil {
		r.Retries = *gr.Retries
	}
	for _, rw := range gr.Rewrites {
		r.Rewrites = append(r.Rewrites, compileRewrite(rw))
	}
	if in.Addrs != nil && in.Endpoints != nil {
		addrs, host := in.Addrs(gr.Target)
		for _, a := range addrs {
			r.Endpoints = append(r.Endpoints, in.Endpoints.Get(a))
		}
		if host != "" {
			r.Host = []byte(host)
		}
	}
	if in.Failed != nil {
		r.Failed = in.Failed(gr.Target)
	}
	if in.Metrics != nil {
		kind := metrics.HTTP
		if g.Port.Protocol == gateway.TCP {
			kind = metrics.TCP
		}
		r.Metrics = in.Metrics.Route(g.Name, gr.Name, kind)
	}
	return r
}

// addrs is the set of endpoint addresses the table uses.
func (t *Table) addrs() map[string]struct{} {
	m := make(map[string]struct{}, 2*len(t.Gateways)) // routes have an endpoint or two, typically
	for _, g := range t.Gateways {
		for _, r := range g.Routes {
			for _, e := range r.Endpoints {
				m[e.Addr] = struct{}{}
			}
		}
	}
	return m
}

// cookieName makes a cookie-token-safe name from a gateway name.
func cookieName(gw string) string {
	b := []byte("turnout_")
	for i := 0; i < len(gw); i++ {
		c := gw[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

func shortID(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// Mirror is a route's mirror in a table: the route the copies go to.
type Mirror struct {
	To *Route
	// Share of the requests copied, in basis points.
	Share int
	count *counter
}

// Take says whether this request is one of the share copied: exactly
// Share of them, spread evenly, as condition_strength.
func (m *Mirror) Take() bool { return share(m.count.Add(1)-1, m.Share) }
