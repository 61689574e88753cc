// Package metrics holds Turnout's Prometheus collectors. Per-route and
// per-gateway series are resolved once, when a routing table is built, so the
// request path only touches pre-bound counters and histograms (atomic adds,
// no label lookups, no locks).
package metrics

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Status classes a response is counted under. ClassError is a request that
// got no response from any endpoint (the gateway answered 502/503/504).
const (
	Class1xx = iota
	Class2xx
	Class3xx
	Class4xx
	Class5xx
	ClassError
	// ClassTCP is a TCP connection that reached an endpoint.
	ClassTCP
	numClasses
)

var classLabels = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error", "tcp"}

// Registry owns every Turnout collector. One per process; tests make their own.
type Registry struct {
	Prometheus *prometheus.Registry

	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	errors      *prometheus.CounterVec
	connections *prometheus.CounterVec
	open        *prometheus.GaugeVec
	client      *prometheus.CounterVec

	// TableSwaps counts routing tables put in service.
	TableSwaps prometheus.Counter
	// TableFailures counts routing tables that failed to build or apply;
	// the previous table kept serving each time.
	TableFailures prometheus.Counter
	// TableGeneration is the generation of the table in service.
	TableGeneration prometheus.Gauge
	// ConfigReloads counts configuration reloads by result (ok, error).
	ConfigReloads *prometheus.CounterVec
	// PluginStarts and PluginCrashes count plugin processes started and
	// lost (crashed, hung, exited), by plugin ("kind/name"); PluginUp is 1
	// while a plugin runs.
	PluginStarts  *prometheus.CounterVec
	PluginCrashes *prometheus.CounterVec
	PluginUp      *prometheus.GaugeVec
	// TargetStale is 1 for a plugin route target whose endpoints may be
	// out of date (its plugin or its source is down), by target.
	TargetStale *prometheus.GaugeVec
	// RouteHeld is 1 for a route held at weight 0 until its backend is
	// ready, by gateway and route.
	RouteHeld *prometheus.GaugeVec
	// PortConflicts is 1 for a gateway in service on a port Marathon-LB
	// binds for itself or for an app, by gateway, port and Marathon app.
	PortConflicts *prometheus.GaugeVec
	// PolicyLateAgents is, on the agent running a gateway's policy, how
	// many agents' traffic counters its last window lacked or had late.
	PolicyLateAgents *prometheus.GaugeVec
	// HTTPHandoffs counts HTTP connections the event loops handed to the
	// goroutine path: a request with a chunked or big body, an upgrade, or
	// one that was malformed or unroutable.
	HTTPHandoffs prometheus.Counter
	// AccessLogDropped counts access log lines of the event loops dropped
	// because the log's writer fell behind.
	AccessLogDropped prometheus.Counter
	// Rollout is the routes' weights and the policies' phases, steps,
	// decisions and checks.
	Rollout *Rollout

	// bound is every route given series, by gateway, so that forgetting
	// deletes exactly their series: a partial-match delete scans every
	// series of a vector, which made removing N routes cost N x series.
	mu    sync.Mutex
	bound map[string]map[string]struct{}
	// registered are Turnout's own collectors, for Names.
	registered []prometheus.Collector
}

// register registers Turnout's collectors (the Go and process ones too).
func (r *Registry) register(cs ...prometheus.Collector) {
	r.Prometheus.MustRegister(cs...)
	r.registered = append(r.registered, cs...)
}

// Names lists the metric names the registry can export, series or not
// (dashboards and alert rules are checked against it).
func (r *Registry) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range r.registered {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		// A Desc prints as Desc{fqName: "NAME", ...}.
		s := d.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			s = s[i+len(`fqName: "`):]
			names = append(names, s[:strings.IndexByte(s, '"')])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// NewRegistry creates the collectors and registers them, together with the
// Go runtime and process collectors, in a fresh Prometheus registry.
func NewRegistry() *Registry {
	r := &Registry{
		bound:      map[string]map[string]struct{}{},
		Prometheus: prometheus.NewRegistry(),
		Rollout:    newRollout(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_requests_total",
			Help: "Requests (HTTP) or connections (TCP) by gateway, route and response class.",
		}, []string{"gateway", "route", "class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "turnout_request_duration_seconds",
			Help: "Time from a request's arrival to the end of its response headers (HTTP), or a connection's lifetime (TCP).",
			// 250us to 10s: the hop itself costs tens of microseconds, backends milliseconds.
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"gateway", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_errors_total",
			Help: "Failures talking to endpoints, by gateway, route and kind (connect, timeout, upstream, no_endpoint, retried).",
		}, []string{"gateway", "route", "kind"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_connections_total",
			Help: "Client connections accepted by gateway.",
		}, []string{"gateway"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_open_connections",
			Help: "Client connections currently open, by gateway.",
		}, []string{"gateway"}),
		client: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_client_errors_total",
			Help: "Requests the gateway refused itself because of the client, by gateway and kind (head: a head that is malformed, too big or late; body: a body that broke off, stalled or was malformed). They count against no route.",
		}, []string{"gateway", "kind"}),
		TableSwaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnout_table_swaps_total",
			Help: "Routing tables put in service.",
		}),
		TableFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnout_table_failures_total",
			Help: "Routing tables that failed to build or apply; the previous table kept serving.",
		}),
		TableGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "turnout_table_generation",
			Help: "Generation of the routing table in service.",
		}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_config_reloads_total",
			Help: "Configuration file reloads by result.",
		}, []string{"result"}),
		PluginStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_plugin_starts_total",
			Help: "Plugin processes started, by plugin (kind/name).",
		}, []string{"plugin"}),
		PluginCrashes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_plugin_crashes_total",
			Help: "Plugin processes that crashed, hung or exited and were restarted, by plugin.",
		}, []string{"plugin"}),
		PluginUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_plugin_up",
			Help: "1 while a plugin process runs and answers, by plugin.",
		}, []string{"plugin"}),
		TargetStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_target_stale",
			Help: "1 while a plugin route target's endpoints may be out of date (plugin or source down); the last endpoints keep serving.",
		}, []string{"target"}),
		PortConflicts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_port_conflicts",
			Help: "1 for a gateway in service on a port Marathon-LB binds for itself or for an app, by gateway, port and Marathon app (the Marathon-LB app for its own ports). The gateway keeps serving.",
		}, []string{"gateway", "port", "app"}),
		RouteHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_route_held",
			Help: "1 while a route is held at weight 0 until its backend is ready, by gateway and route.",
		}, []string{"gateway", "route"}),
		PolicyLateAgents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_policy_window_late_agents",
			Help: "Agents whose traffic counters the last policy window of a gateway lacked or had late (the decision was made on the others'); set by the agent running the policy.",
		}, []string{"gateway"}),
		HTTPHandoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnout_http_handoffs_total",
			Help: "HTTP connections the event loops handed to the goroutine path (a chunked or big request body, an upgrade, a malformed or unroutable request).",
		}),
		AccessLogDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnout_access_log_dropped_total",
			Help: "Access log lines of the event loops dropped because the log's writer fell behind (--access-log).",
		}),
	}
	r.register(r.requests, r.duration, r.errors, r.connections, r.open, r.client,
		r.TableSwaps, r.TableFailures, r.TableGeneration, r.ConfigReloads,
		r.PluginStarts, r.PluginCrashes, r.PluginUp, r.TargetStale, r.RouteHeld, r.PortConflicts, r.PolicyLateAgents, r.HTTPHandoffs, r.AccessLogDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.register(r.Rollout.collectors()...)
	return r
}

// Error kinds for Route.Error.
const (
	ErrConnect    = "connect"
	ErrTimeout    = "timeout"
	ErrUpstream   = "upstream"
	ErrNoEndpoint = "no_endpoint"
	ErrRetried    = "retried"
)

// Route is the set of series of one route, bound once per table build.
type Route struct {
	classes  [numClasses]prometheus.Counter
	duration prometheus.Observer
	errors   map[string]prometheus.Counter
}

// errorKinds are the kinds a route counts errors under.
var errorKinds = [...]string{ErrConnect, ErrTimeout, ErrUpstream, ErrNoEndpoint, ErrRetried}

// Route returns the pre-bound series of a route of a gateway.
func (r *Registry) Route(gateway, route string) *Route {
	r.mu.Lock()
	routes := r.bound[gateway]
	if routes == nil {
		routes = map[string]struct{}{}
		r.bound[gateway] = routes
	}
	routes[route] = struct{}{}
	r.mu.Unlock()
	m := &Route{
		duration: r.duration.WithLabelValues(gateway, route),
		errors:   make(map[string]prometheus.Counter, 5),
	}
	for i, c := range classLabels {
		m.classes[i] = r.requests.WithLabelValues(gateway, route, c)
	}
	for _, k := range errorKinds {
		m.errors[k] = r.errors.WithLabelValues(gateway, route, k)
	}
	return m
}

// Observe counts one finished request with its status code (0 for none)
// and how long it took.
func (m *Route) Observe(status int, took time.Duration) {
	m.classes[classOf(status)].Inc()
	m.duration.Observe(took.Seconds())
}

// ObserveConn counts one finished TCP connection: ok when it reached an
// endpoint, with its lifetime.
func (m *Route) ObserveConn(ok bool, took time.Duration) {
	if ok {
		m.classes[ClassTCP].Inc()
	} else {
		m.classes[ClassError].Inc()
	}
	m.duration.Observe(took.Seconds())
}

// Error counts one failure of the given kind (one of the Err constants).
func (m *Route) Error(kind string) { m.errors[kind].Inc() }

func classOf(status int) int {
	switch {
	case status >= 100 && status < 600:
		return status/100 - 1
	default:
		return ClassError
	}
}

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

// Gateway is the set of per-gateway series.
type Gateway struct {
	Connections prometheus.Counter
	Open        prometheus.Gauge
	// NoRoute counts requests that found no route (no weights, no match,
	// Host not served): answered by the gateway itself.
	NoRoute *Route
	client  [numClientKinds]prometheus.Counter
}

// Gateway returns the pre-bound series of a gateway.
func (r *Registry) Gateway(name string) *Gateway {
	g := &Gateway{
		Connections: r.connections.WithLabelValues(name),
		Open:        r.open.WithLabelValues(name),
		NoRoute:     r.Route(name, ""),
	}
	for i, k := range clientKindLabels {
		g.client[i] = r.client.WithLabelValues(name, k)
	}
	return g
}

// ClientError counts one request refused because of the client (kind is
// ClientHead or ClientBody). Anyone can send those, so they stay
// apart from the routes' series, which policies judge versions by.
func (g *Gateway) ClientError(kind int) { g.client[kind].Inc() }

// Forget deletes every series of a gateway that is no longer configured,
// so removed gateways and routes do not linger on /metrics. It costs the
// gateway's own series, whatever the number of others.
func (r *Registry) Forget(gateway string) {
	r.mu.Lock()
	routes := r.bound[gateway]
	delete(r.bound, gateway)
	r.mu.Unlock()
	for route := range routes {
		r.deleteRoute(gateway, route)
	}
	r.connections.DeleteLabelValues(gateway)
	r.open.DeleteLabelValues(gateway)
	for _, k := range clientKindLabels {
		r.client.DeleteLabelValues(gateway, k)
	}
}

// ForgetRoute deletes the series of one removed route, by their exact
// labels (constant time).
func (r *Registry) ForgetRoute(gateway, route string) {
	r.mu.Lock()
	delete(r.bound[gateway], route)
	r.mu.Unlock()
	r.deleteRoute(gateway, route)
}

func (r *Registry) deleteRoute(gateway, route string) {
	for _, c := range classLabels {
		r.requests.DeleteLabelValues(gateway, route, c)
	}
	r.duration.DeleteLabelValues(gateway, route)
	for _, k := range errorKinds {
		r.errors.DeleteLabelValues(gateway, route, k)
	}
	r.RouteHeld.DeleteLabelValues(gateway, route)
	r.Rollout.forgetRoute(gateway, route)
}

// StoreStaleness exports whether the agent's copy of the desired state may
// be behind the shared store (ZooKeeper lost) and for how long:
// turnout_store_stale (0 or 1) and turnout_store_stale_seconds (0 while in
// sync), read from staleSince at every scrape.
func (r *Registry) StoreStaleness(staleSince func() (time.Time, bool)) {
	r.register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "turnout_store_stale",
			Help: "1 while this agent has lost the shared store (ZooKeeper) and serves the last state it read; 0 in sync.",
		}, func() float64 {
			if _, stale := staleSince(); stale {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "turnout_store_stale_seconds",
			Help: "How long this agent has served a possibly stale state (shared store lost); 0 in sync.",
		}, func() float64 {
			if since, stale := staleSince(); stale {
				return time.Since(since).Seconds()
			}
			return 0
		}))
}
