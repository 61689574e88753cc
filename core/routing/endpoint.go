package routing

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnout/turnout/core/metrics"
)

// Endpoint is one address a route sends traffic to. Endpoints outlive
// tables: the Endpoints registry hands the same *Endpoint to every table
// that names the address, so connection pools, in-flight counts and
// passive-health ejections survive a configuration change.
type Endpoint struct {
	// Addr is "ip:port" (or "host:port" when resolution is left to the dialer).
	Addr string
	// ID is a short stable hash of Addr, used in sticky: instance cookies.
	ID string
	// Transport is the data plane's per-endpoint client (e.g. a connection
	// pool), created by the registry's factory.
	Transport any
	// Latency observes how long the endpoint took to answer (never nil).
	Latency prometheus.Observer

	active       atomic.Int64
	ejectedUntil atomic.Int64 // unix nanoseconds
	failures     atomic.Int32 // consecutive connect failures, for backoff

	// guarded by Endpoints.mu
	removedAt time.Time
}

// Begin and End bracket one request or connection on the endpoint.
func (e *Endpoint) Begin() { e.active.Add(1) }

// End marks the end of a request or connection started with Begin.
func (e *Endpoint) End() { e.active.Add(-1) }

// Active is the number of requests or connections in flight.
func (e *Endpoint) Active() int64 { return e.active.Load() }

// Ejected reports whether passive health has taken the endpoint out.
func (e *Endpoint) Ejected(now int64) bool { return e.ejectedUntil.Load() > now }

// Failed records a connection failure and ejects the endpoint for base,
// doubling with each consecutive failure up to 16x.
func (e *Endpoint) Failed(now int64, base time.Duration) {
	n := min(e.failures.Add(1), 5)
	e.ejectedUntil.Store(now + int64(base)<<(n-1))
}

// Succeeded clears the consecutive failure count after a good exchange.
func (e *Endpoint) Succeeded() {
	if e.failures.Load() != 0 {
		e.failures.Store(0)
		e.ejectedUntil.Store(0)
	}
}

// Endpoints is the registry of live endpoints, keyed by address.
type Endpoints struct {
	newTransport   func(addr string) any
	closeTransport func(any)
	metrics        *metrics.Registry

	mu sync.Mutex
	m  map[string]*Endpoint
}

// NewEndpoints creates a registry. newTransport builds the data plane's
// client for an address; closeTransport releases it once the endpoint is
// removed and drained; reg gives each endpoint its latency series. Any may
// be nil.
func NewEndpoints(newTransport func(addr string) any, closeTransport func(any), reg *metrics.Registry) *Endpoints {
	return &Endpoints{newTransport: newTransport, closeTransport: closeTransport, metrics: reg, m: map[string]*Endpoint{}}
}

// discard is the latency observer of endpoints without metrics.
var discard = prometheus.ObserverFunc(func(float64) {})

// Get returns the endpoint for addr, creating it if needed, and revives it
// if it was draining.
func (r *Endpoints) Get(addr string) *Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[addr]; ok {
		e.removedAt = time.Time{}
		return e
	}
	e := &Endpoint{Addr: addr, ID: shortID(addr), Latency: discard}
	if r.metrics != nil {
		e.Latency = r.metrics.Endpoint(addr)
	}
	if r.newTransport != nil {
		e.Transport = r.newTransport(addr)
	}
	r.m[addr] = e
	return e
}

// Retire marks every endpoint that t does not use as removed: no table
// in service picks it any more, requests already on it finish. Call it
// after t is in service.
func (r *Endpoints) Retire(t *Table, now time.Time) {
	used := t.addrs()
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, e := range r.m {
		if _, ok := used[addr]; ok {
			e.removedAt = time.Time{}
		} else if e.removedAt.IsZero() {
			e.removedAt = now
		}
	}
}

// Sweep closes and forgets removed endpoints that have drained (nothing
// in flight) or whose drain deadline passed. It returns how many remain
// draining.
func (r *Endpoints) Sweep(now time.Time, drain time.Duration) int {
	r.mu.Lock()
	var closing []*Endpoint
	draining := 0
	for addr, e := range r.m {
		if e.removedAt.IsZero() {
			continue
		}
		if e.Active() == 0 || now.Sub(e.removedAt) >= drain {
			closing = append(closing, e)
			delete(r.m, addr)
		} else {
			draining++
		}
	}
	r.mu.Unlock()
	if r.metrics != nil {
		for _, e := range closing {
			r.metrics.ForgetEndpoint(e.Addr)
		}
	}
	if r.closeTransport != nil {
		for _, e := range closing {
			if e.Transport != nil {
				r.closeTransport(e.Transport)
			}
		}
	}
	return draining
}

// Len is the number of endpoints known, draining ones included.
func (r *Endpoints) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
