package routing

import (
	"bytes"
	"time"

	"github.com/turnout/turnout/core/condition"
	"github.com/turnout/turnout/core/gateway"
)

// Gateway returns the gateway listening on port, or nil.
func (t *Table) Gateway(port int) *Gateway { return t.Gateways[port] }

// ServesHost reports whether a request with this Host header belongs to
// the gateway: always when it has no virtual_hosts, else when the host
// (port ignored, case-insensitive) equals one of them or matches a
// "*.domain" wildcard.
func (g *Gateway) ServesHost(host []byte) bool {
	if len(g.virtualHosts) == 0 {
		return true
	}
	host = stripPort(host)
	for _, vh := range g.virtualHosts {
		if len(vh) > 2 && vh[0] == '*' && vh[1] == '.' {
			suffix := vh[1:]
			if len(host) > len(suffix) && bytes.EqualFold(host[len(host)-len(suffix):], []byte(suffix)) {
				return true
			}
			continue
		}
		if len(host) == len(vh) && bytes.EqualFold(host, []byte(vh)) {
			return true
		}
	}
	return false
}

func stripPort(host []byte) []byte {
	if len(host) > 0 && host[0] == '[' { // [v6]:port
		if i := bytes.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[:i], ':') < 0 {
		return host[:i]
	}
	return host
}

// Decision is the outcome of routing one request.
type Decision struct {
	Route *Route
	// Endpoint is set when a sticky: instance cookie pins a live endpoint.
	Endpoint *Endpoint
	// SetCookie is true when a sticky gateway must (re)issue its cookie.
	SetCookie bool
}

// Decide routes one request. cookie is the value of the gateway's
// affinity cookie (nil when absent or the gateway is not sticky). It
// returns a nil Route when no route can take the request (no weights and
// no matching condition, or no route has endpoints). It does not allocate.
func (g *Gateway) Decide(req condition.Request, cookie []byte) Decision {
	if g.Sticky != gateway.StickyNone && len(cookie) > 0 {
		if d, ok := g.fromCookie(cookie); ok {
			return d
		}
	}
	d := Decision{Route: g.pick(req), SetCookie: g.Sticky != gateway.StickyNone}
	return d
}

func (g *Gateway) pick(req condition.Request) *Route {
	for _, r := range g.conditioned {
		if !r.Match.Match(req) {
			continue
		}
		// The first matching route decides: it takes its share of the
		// matching requests, the rest go back to the weighted bucket.
		if share(r.strengthCount.Add(1)-1, int(r.Strength)) && len(r.Endpoints) > 0 {
			return r
		}
		break
	}
	return g.Weighted()
}

// Weighted picks a route by weight alone (TCP connections, and requests
// no condition took). Routes without endpoints are skipped so their share
// goes to the others; nil when no weighted route has endpoints.
func (g *Gateway) Weighted() *Route {
	if g.weights.empty() {
		return nil
	}
	r := g.Routes[g.weights.next()]
	if len(r.Endpoints) > 0 {
		return r
	}
	for range g.Routes {
		if r = g.Routes[g.weights.next()]; len(r.Endpoints) > 0 {
			return r
		}
	}
	return nil
}

// fromCookie honours an affinity cookie "<route>" or "<route>.<endpoint>".
// A cookie naming a route that takes no new requests (weight 0 and no
// condition strength: a rollback, an abort or a promotion moved everyone
// off it), or a route or endpoint that is gone, is ignored and replaced:
// unlike Vamp's HAProxy cookie persistence, weight 0 means nobody, so that
// a rollback reaches the pinned clients too.
func (g *Gateway) fromCookie(c []byte) (Decision, bool) {
	routeID, epID := c, []byte(nil)
	if i := bytes.IndexByte(c, '.'); i >= 0 {
		routeID, epID = c[:i], c[i+1:]
	}
	for _, r := range g.Routes {
		if string(routeID) != r.CookieValue || len(r.Endpoints) == 0 || !r.takesRequests() {
			continue
		}
		d := Decision{Route: r}
		if g.Sticky == gateway.StickyInstance {
			now := time.Now().UnixNano()
			for _, e := range r.Endpoints {
				if string(epID) == e.ID && !e.Ejected(now) {
					d.Endpoint = e
					return d, true
				}
			}
			d.SetCookie = true // pinned endpoint gone: keep the route, re-pin
		}
		return d, true
	}
	return Decision{}, false
}

// takesRequests says whether new requests can reach the route: by weight,
// or by a condition with a strength.
func (r *Route) takesRequests() bool {
	return r.Weight > 0 || r.Match != nil && r.Strength > 0
}

// Cookie appends the affinity cookie value for a route and endpoint.
func (g *Gateway) Cookie(dst []byte, r *Route, e *Endpoint) []byte {
	dst = append(dst, r.CookieValue...)
	if g.Sticky == gateway.StickyInstance && e != nil {
		dst = append(dst, '.')
		dst = append(dst, e.ID...)
	}
	return dst
}

// Pick chooses an endpoint of the route by its balance, avoiding ejected
// endpoints and the one to avoid (a failed attempt); nil if none is left.
// When every endpoint is ejected it still returns one: trying a suspect
// endpoint beats failing the request outright.
func (r *Route) Pick(avoid *Endpoint) *Endpoint {
	n := len(r.Endpoints)
	switch n {
	case 0:
		return nil
	case 1:
		if e := r.Endpoints[0]; e != avoid {
			return e
		}
		return nil
	}
	now := time.Now().UnixNano()
	if r.LeastConn {
		var best, fallback *Endpoint
		start := int(r.rr.Add(1) % uint64(n)) // rotate ties
		for i := range n {
			e := r.Endpoints[(start+i)%n]
			if e == avoid {
				continue
			}
			if e.Ejected(now) {
				if fallback == nil {
					fallback = e
				}
				continue
			}
			if best == nil || e.Active() < best.Active() {
				best = e
			}
		}
		if best == nil {
			return fallback
		}
		return best
	}
	start := r.rr.Add(1) - 1
	var fallback *Endpoint
	for i := range uint64(n) {
		e := r.Endpoints[(start+i)%uint64(n)]
		if e == avoid {
			continue
		}
		if !e.Ejected(now) {
			return e
		}
		if fallback == nil {
			fallback = e
		}
	}
	return fallback
}
