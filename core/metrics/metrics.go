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

// Registry owns every Turnout collector. One per process; tests make their own.
type Registry struct {
	Prometheus *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	tcpConns      *prometheus.CounterVec
	tcpDuration   *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	retries       *prometheus.CounterVec
	unrouted      *prometheus.CounterVec
	unroutedConns *prometheus.CounterVec
	connections   *prometheus.CounterVec
	open          *prometheus.GaugeVec
	received      *prometheus.CounterVec
	sent          *prometheus.CounterVec
	client        *prometheus.CounterVec
	endpoint      *prometheus.HistogramVec
	mirrored      *prometheus.CounterVec
	mirrorDropped *prometheus.CounterVec

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
	// Notifications counts rollout notifications by format and result
	// (ok, error, dropped).
	Notifications *prometheus.CounterVec
	// Rollout is the routes' weights and the policies' phases, steps,
	// decisions and checks.
	Rollout *Rollout

	// bound is every gateway and route given series, so that forgetting
	// deletes exactly their series (a partial-match delete scans every
	// series of a vector, which made removing N routes cost N x series)
	// and tables rebuilt share them.
	mu    sync.Mutex
	bound map[string]*bound
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

// latencyBuckets, 250us to 10s: the hop itself costs tens of
// microseconds, backends milliseconds.
var latencyBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewRegistry creates the collectors and registers them, together with the
// Go runtime and process collectors, in a fresh Prometheus registry.
func NewRegistry() *Registry {
	r := &Registry{
		bound:      map[string]*bound{},
		Prometheus: prometheus.NewRegistry(),
		Rollout:    newRollout(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_requests_total",
			Help: "HTTP requests by gateway, route, class (1xx to 5xx: the endpoint's answer; error: no endpoint answered) and status code (for error, the gateway's own answer).",
		}, []string{"gateway", "route", "class", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnout_request_duration_seconds",
			Help:    "Time from an HTTP request's arrival to the end of its response headers, by gateway and route.",
			Buckets: latencyBuckets,
		}, []string{"gateway", "route"}),
		tcpConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_tcp_connections_total",
			Help: "TCP connections by gateway, route and result (ok: it reached an endpoint; error: none could be reached).",
		}, []string{"gateway", "route", "result"}),
		tcpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnout_tcp_connection_duration_seconds",
			Help:    "Lifetime of TCP connections, by gateway and route.",
			Buckets: latencyBuckets,
		}, []string{"gateway", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_errors_total",
			Help: "Failed attempts to talk to endpoints, by gateway, route and kind (connect, timeout, upstream, no_endpoint). A request retried on another endpoint counts its failed attempt here and its outcome in turnout_requests_total.",
		}, []string{"gateway", "route", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_retries_total",
			Help: "Attempts retried on another endpoint after a failed one, by gateway and route.",
		}, []string{"gateway", "route"}),
		unrouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_unrouted_requests_total",
			Help: "HTTP requests no route took (no weights, no matching condition, Host not served), answered by the gateway, by gateway and status code.",
		}, []string{"gateway", "code"}),
		unroutedConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_unrouted_connections_total",
			Help: "TCP connections no route took (every weight is 0), closed by the gateway, by gateway.",
		}, []string{"gateway"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_connections_total",
			Help: "Client connections accepted by gateway.",
		}, []string{"gateway"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_open_connections",
			Help: "Client connections currently open, by gateway.",
		}, []string{"gateway"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_received_bytes_total",
			Help: "Bytes read from clients (heads included), by gateway.",
		}, []string{"gateway"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_sent_bytes_total",
			Help: "Bytes written to clients (heads included), by gateway.",
		}, []string{"gateway"}),
		endpoint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnout_endpoint_response_seconds",
			Help:    "Time an endpoint took to answer, by endpoint address: from the request sent (connect included) to its response headers (HTTP), or to connect (TCP).",
			Buckets: latencyBuckets,
		}, []string{"endpoint"}),
		mirrored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_mirrored_requests_total",
			Help: "Copies of other routes' requests a route answered (mirror), by gateway, route (the one the copies went to), class and code; apart from turnout_requests_total, with the same classes.",
		}, []string{"gateway", "route", "class", "code"}),
		mirrorDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_mirror_dropped_total",
			Help: "Copies of a route's requests not sent to its mirror: the mirror's queue was full (a slow mirror never delays the route's own requests), or the body was streamed or too big, by gateway and route.",
		}, []string{"gateway", "route"}),
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
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_notifications_total",
			Help: "Rollout notifications sent (serve --notify, a policy's notify), by format and result: ok, error (not delivered after retries), dropped (the receiver's queue was full).",
		}, []string{"format", "result"}),
		AccessLogDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnout_access_log_dropped_total",
			Help: "Access log lines of the event loops dropped because the log's writer fell behind (--access-log).",
		}),
	}
	r.register(r.requests, r.duration, r.tcpConns, r.tcpDuration, r.errors, r.retries, r.unrouted, r.unroutedConns,
		r.connections, r.open, r.received, r.sent, r.client, r.endpoint, r.mirrored, r.mirrorDropped,
		r.TableSwaps, r.TableFailures, r.TableGeneration, r.ConfigReloads,
		r.PluginStarts, r.PluginCrashes, r.PluginUp, r.TargetStale, r.RouteHeld, r.PortConflicts, r.PolicyLateAgents, r.HTTPHandoffs, r.AccessLogDropped, r.Notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.register(r.Rollout.collectors()...)
	return r
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
