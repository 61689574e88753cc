package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status classes a response is counted under. ClassError is a request that
// got no response from any endpoint (the gateway answered 502/503/504
// itself); ClassTCP is a TCP connection that reached an endpoint (a TCP
// connection that reached none counts as ClassError). Totals are indexed
// by them.
const (
	Class1xx = iota
	Class2xx
	Class3xx
	Class4xx
	Class5xx
	ClassError
	ClassTCP
	numClasses
)

// classLabels are the HTTP classes' label values (TCP has its own metric).
var classLabels = [ClassError + 1]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

func classOf(status int) int {
	switch {
	case status >= 100 && status < 600:
		return status/100 - 1
	default:
		return ClassError
	}
}

// Kind is what a route carries: HTTP requests or TCP connections. Each
// has its own series, so that neither shows up empty on the other.
type Kind uint8

const (
	HTTP Kind = iota
	TCP
)

// Error kinds for Route.Error.
const (
	ErrConnect    = "connect"
	ErrTimeout    = "timeout"
	ErrUpstream   = "upstream"
	ErrNoEndpoint = "no_endpoint"
)

// errorKinds are the kinds a route counts errors under.
var errorKinds = [...]string{ErrConnect, ErrTimeout, ErrUpstream, ErrNoEndpoint}

// codeCounter is the series of one status code.
type codeCounter struct {
	code  int
	class int
	c     prometheus.Counter
}

// codeSeries are a vector's counters by status code, bound at the first
// request with that code: a lookup in a short copy-on-write list, so
// counting takes no lock once a code has been seen.
type codeSeries struct {
	mu   sync.Mutex
	set  atomic.Pointer[[]codeCounter]
	bind func(code, class int) prometheus.Counter
}

func (s *codeSeries) inc(code int) {
	if set := s.set.Load(); set != nil {
		for i := range *set {
			if (*set)[i].code == code {
				(*set)[i].c.Inc()
				return
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var set []codeCounter
	if p := s.set.Load(); p != nil {
		for _, cc := range *p {
			if cc.code == code { // bound meanwhile
				cc.c.Inc()
				return
			}
		}
		set = append(set, *p...)
	}
	class := classOf(code)
	cc := codeCounter{code: code, class: class, c: s.bind(code, class)}
	set = append(set, cc)
	s.set.Store(&set)
	cc.c.Inc()
}

// each calls f for every code bound.
func (s *codeSeries) each(f func(codeCounter)) {
	if p := s.set.Load(); p != nil {
		for _, cc := range *p {
			f(cc)
		}
	}
}

// codeLabel is a status code's label value; a gateway that answered
// nothing at all (the client went away) is "0".
func codeLabel(code int) string { return strconv.Itoa(code) }

// Route is the set of series of one route, bound once and kept for as
// long as the route is configured (tables rebuilt meanwhile share it).
type Route struct {
	gateway, name string
	kind          Kind

	// HTTP
	codes    codeSeries
	duration prometheus.Observer
	// TCP
	tcpOK, tcpFailed prometheus.Counter
	tcpDuration      prometheus.Observer
	// both
	errors  map[string]prometheus.Counter
	retries prometheus.Counter
	// latency is what policies judge latency by: exact enough at any
	// quantile, where the histogram's buckets are not.
	latency sketch
	// mirrored counts the copies of other routes' requests this route
	// answered (HTTP), apart from its users' requests; mirrorDropped the
	// copies of this route's requests dropped for a full queue.
	mirrored      codeSeries
	mirrorDropped prometheus.Counter
}

// ObserveMirrored counts one mirrored copy this route's endpoint answered
// (status), or that none answered (0). Policies judge them with the rest
// of the route's traffic; /metrics keeps them apart.
func (m *Route) ObserveMirrored(status int, took time.Duration) {
	if status == 0 {
		status = -502 // no answer: class error
	}
	m.mirrored.inc(status)
	m.latency.observe(took.Seconds())
}

// MirrorDropped counts one copy of this route's requests not sent: the
// mirror's queue was full.
func (m *Route) MirrorDropped() { m.mirrorDropped.Inc() }

// Observe counts one HTTP request an endpoint answered, with its status
// code, and how long it took.
func (m *Route) Observe(status int, took time.Duration) {
	m.codes.inc(status)
	m.observe(m.duration, took)
}

func (m *Route) observe(h prometheus.Observer, took time.Duration) {
	s := took.Seconds()
	h.Observe(s)
	m.latency.observe(s)
}

// Failed counts one HTTP request no endpoint answered (class "error"),
// with the status the gateway answered itself (502, 503, 504), and how
// long it took.
func (m *Route) Failed(answered int, took time.Duration) {
	m.codes.inc(-answered) // negative: the gateway's own answer, class error
	m.observe(m.duration, took)
}

// ObserveConn counts one finished TCP connection: ok when it reached an
// endpoint, with its lifetime.
func (m *Route) ObserveConn(ok bool, took time.Duration) {
	if ok {
		m.tcpOK.Inc()
	} else {
		m.tcpFailed.Inc()
	}
	m.observe(m.tcpDuration, took)
}

// Error counts one failure talking to an endpoint, of the given kind (one
// of the Err constants). A request retried on another endpoint counts its
// failed attempts here, and the retry in Retried, not as an error of the
// request: its class is what the last attempt got.
func (m *Route) Error(kind string) { m.errors[kind].Inc() }

// Retried counts one more attempt on another endpoint.
func (m *Route) Retried() { m.retries.Inc() }

// Gateway is the set of per-gateway series.
type Gateway struct {
	Connections prometheus.Counter
	Open        prometheus.Gauge
	// Received and Sent count the bytes read from and written to the
	// gateway's clients, heads included (HAProxy's frontend bytes in/out).
	Received prometheus.Counter
	Sent     prometheus.Counter
	client   [numClientKinds]prometheus.Counter
	unrouted codeSeries
	// unroutedConns counts TCP connections no route took.
	unroutedConns prometheus.Counter
}

// Unrouted counts one HTTP request that found no route (no weights, no
// match, Host not served), answered by the gateway with status.
func (g *Gateway) Unrouted(status int) { g.unrouted.inc(status) }

// UnroutedConn counts one TCP connection that found no route.
func (g *Gateway) UnroutedConn() { g.unroutedConns.Inc() }

// Kinds of client errors, for Gateway.ClientError: where the request
// failed.
const (
	// ClientHead is a request refused for its head: malformed (a header
	// name that is not a token, a bad Host, a line that is not HTTP), too
	// big, or not sent in time.
	ClientHead = iota
	// ClientBody is a request whose body broke off, stalled past the read
	// timeout or had malformed chunks.
	ClientBody
	numClientKinds
)

var clientKindLabels = [numClientKinds]string{"head", "body"}

// ClientError counts one request refused because of the client (kind is
// ClientHead or ClientBody). Anyone can send those, so they stay
// apart from the routes' series, which policies judge versions by.
func (g *Gateway) ClientError(kind int) { g.client[kind].Inc() }

// bound is a gateway's series and its routes'.
type bound struct {
	g      *Gateway
	routes map[string]*Route
}

// Gateway returns the series of a gateway, bound at the first call.
func (r *Registry) Gateway(name string) *Gateway {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gatewayLocked(name).g
}

func (r *Registry) gatewayLocked(name string) *bound {
	b := r.bound[name]
	if b != nil {
		return b
	}
	g := &Gateway{
		Connections:   r.connections.WithLabelValues(name),
		Open:          r.open.WithLabelValues(name),
		Received:      r.received.WithLabelValues(name),
		Sent:          r.sent.WithLabelValues(name),
		unroutedConns: r.unroutedConns.WithLabelValues(name),
	}
	g.unrouted.bind = func(code, _ int) prometheus.Counter {
		return r.unrouted.WithLabelValues(name, codeLabel(code))
	}
	for i, k := range clientKindLabels {
		g.client[i] = r.client.WithLabelValues(name, k)
	}
	b = &bound{g: g, routes: map[string]*Route{}}
	r.bound[name] = b
	return b
}

// Route returns the series of a route of a gateway, bound at the first
// call; a route whose kind changed (the gateway's protocol did) gets new
// series and loses the others.
func (r *Registry) Route(gateway, route string, kind Kind) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.gatewayLocked(gateway)
	if m := b.routes[route]; m != nil {
		if m.kind == kind {
			return m
		}
		r.deleteRoute(m)
	}
	m := &Route{gateway: gateway, name: route, kind: kind,
		errors:  make(map[string]prometheus.Counter, len(errorKinds)),
		retries: r.retries.WithLabelValues(gateway, route),
	}
	for _, k := range errorKinds {
		m.errors[k] = r.errors.WithLabelValues(gateway, route, k)
	}
	switch kind {
	case TCP:
		m.tcpOK = r.tcpConns.WithLabelValues(gateway, route, "ok")
		m.tcpFailed = r.tcpConns.WithLabelValues(gateway, route, "error")
		m.tcpDuration = r.tcpDuration.WithLabelValues(gateway, route)
	default:
		m.duration = r.duration.WithLabelValues(gateway, route)
		m.codes.bind = func(code, class int) prometheus.Counter {
			if code < 0 { // the gateway's own answer
				code = -code
				class = ClassError
			}
			return r.requests.WithLabelValues(gateway, route, classLabels[class], codeLabel(code))
		}
		m.mirrored.bind = func(code, class int) prometheus.Counter {
			if code < 0 {
				code = -code
				class = ClassError
			}
			return r.mirrored.WithLabelValues(gateway, route, classLabels[class], codeLabel(code))
		}
		m.mirrorDropped = r.mirrorDropped.WithLabelValues(gateway, route)
	}
	b.routes[route] = m
	return m
}

// Totals reads a route's counts; zero for a route never bound.
func (r *Registry) Totals(gateway, route string) Totals {
	r.mu.Lock()
	var m *Route
	if b := r.bound[gateway]; b != nil {
		m = b.routes[route]
	}
	r.mu.Unlock()
	if m == nil {
		return Totals{}
	}
	return m.Totals()
}

// Forget deletes every series of a gateway that is no longer configured,
// so removed gateways and routes do not linger on /metrics. It costs the
// gateway's own series, whatever the number of others.
func (r *Registry) Forget(gateway string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bound[gateway]
	if b == nil {
		return
	}
	delete(r.bound, gateway)
	for _, m := range b.routes {
		r.deleteRoute(m)
	}
	r.connections.DeleteLabelValues(gateway)
	r.open.DeleteLabelValues(gateway)
	r.received.DeleteLabelValues(gateway)
	r.sent.DeleteLabelValues(gateway)
	r.unroutedConns.DeleteLabelValues(gateway)
	b.g.unrouted.each(func(cc codeCounter) { r.unrouted.DeleteLabelValues(gateway, codeLabel(cc.code)) })
	for _, k := range clientKindLabels {
		r.client.DeleteLabelValues(gateway, k)
	}
}

// ForgetRoute deletes the series of one removed route, by their exact
// labels (constant time).
func (r *Registry) ForgetRoute(gateway, route string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.bound[gateway]; b != nil {
		if m := b.routes[route]; m != nil {
			delete(b.routes, route)
			r.deleteRoute(m)
		}
	}
}

// deleteRoute deletes a route's series; r.mu is held.
func (r *Registry) deleteRoute(m *Route) {
	gw, route := m.gateway, m.name
	m.codes.each(func(cc codeCounter) {
		class, code := cc.class, cc.code
		if code < 0 {
			class, code = ClassError, -code
		}
		r.requests.DeleteLabelValues(gw, route, classLabels[class], codeLabel(code))
	})
	m.mirrored.each(func(cc codeCounter) {
		class, code := cc.class, cc.code
		if code < 0 {
			class, code = ClassError, -code
		}
		r.mirrored.DeleteLabelValues(gw, route, classLabels[class], codeLabel(code))
	})
	r.mirrorDropped.DeleteLabelValues(gw, route)
	r.duration.DeleteLabelValues(gw, route)
	r.tcpConns.DeleteLabelValues(gw, route, "ok")
	r.tcpConns.DeleteLabelValues(gw, route, "error")
	r.tcpDuration.DeleteLabelValues(gw, route)
	for _, k := range errorKinds {
		r.errors.DeleteLabelValues(gw, route, k)
	}
	r.retries.DeleteLabelValues(gw, route)
	r.RouteHeld.DeleteLabelValues(gw, route)
	r.Rollout.forgetRoute(gw, route)
}

// Endpoint returns the response-time histogram of an endpoint address.
func (r *Registry) Endpoint(addr string) prometheus.Observer {
	return r.endpoint.WithLabelValues(addr)
}

// ForgetEndpoint deletes an endpoint's series once it is gone.
func (r *Registry) ForgetEndpoint(addr string) { r.endpoint.DeleteLabelValues(addr) }
