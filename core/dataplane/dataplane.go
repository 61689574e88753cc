package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/turnout/turnout/core/dataplane/eventloop"
	"github.com/turnout/turnout/core/dataplane/pump"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// Options tune the data plane. Zero values take the defaults below.
type Options struct {
	// Address is the interface gateway ports bind to ("" = all).
	Address string
	// ConnectTimeout bounds dialing an endpoint (default 2s).
	ConnectTimeout time.Duration
	// ReadTimeout bounds reading a client's request (default 30s): the
	// slow-client (slowloris) guard.
	ReadTimeout time.Duration
	// IdleTimeout closes idle client keep-alive connections (default 90s).
	IdleTimeout time.Duration
	// WriteTimeout bounds writing a response to a client (default none, so
	// long downloads work).
	WriteTimeout time.Duration
	// MaxHeaderBytes is the largest request or response header accepted
	// (default 16 KiB); a bigger request gets 431.
	MaxHeaderBytes int
	// EjectFor is how long a failed endpoint is kept out at first
	// (default 2s, doubling on repeated failures up to 16x).
	EjectFor time.Duration
	// DrainTimeout is how long removed ports and endpoints wait for
	// their requests to finish before they are closed (default 30s).
	DrainTimeout time.Duration
	// UpstreamIdle closes idle keep-alive connections to endpoints
	// (default 10s).
	UpstreamIdle time.Duration
	Logger       *slog.Logger
	Metrics      *metrics.Registry
	// AccessLog, if set, gets one line per HTTP request and per TCP
	// connection; the event loops' lines are written from a queue
	// (accessWriter). Off by default: the request path then does no
	// logging work.
	AccessLog *slog.Logger
	// GoroutineHTTP serves every HTTP connection with a goroutine of its
	// own (fasthttp's server), never on the event loops. A write timeout
	// does too.
	GoroutineHTTP bool
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, 2*time.Second)
	def(&o.ReadTimeout, 30*time.Second)
	def(&o.IdleTimeout, 90*time.Second)
	def(&o.EjectFor, 2*time.Second)
	def(&o.DrainTimeout, 30*time.Second)
	def(&o.UpstreamIdle, 10*time.Second)
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 16 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewRegistry()
	}
}

// DataPlane serves every gateway port from the table in service.
type DataPlane struct {
	opts Options
	log  *slog.Logger

	table     atomic.Pointer[routing.Table]
	endpoints *routing.Endpoints
	pump      *pump.Pump // moves the bytes of TCP gateways
	nloops    int        // HTTP event loops (started on first use)
	loopsOnce sync.Once
	loops     *loopHTTP // nil: HTTP served by goroutines only

	mu        sync.Mutex // serialises Apply and Shutdown
	listeners map[int]*portListener
	closed    bool
	stop      chan struct{}
	sweeper   sync.WaitGroup
	mirrors   mirrors
}

// New creates a data plane serving an empty table.
func New(opts Options) *DataPlane {
	opts.defaults()
	d := &DataPlane{opts: opts, log: opts.Logger, listeners: map[int]*portListener{}, stop: make(chan struct{}), pump: pump.New(0), nloops: eventloop.Procs()}
	d.endpoints = routing.NewEndpoints(d.newTransport, closeTransport, opts.Metrics)
	d.table.Store(&routing.Table{Gateways: map[int]*routing.Gateway{}})
	d.sweeper.Add(1)
	go d.sweep()
	d.startMirrors()
	return d
}

// Endpoints is the registry tables must be built with, so endpoints (and
// their connection pools) are shared across generations.
func (d *DataPlane) Endpoints() *routing.Endpoints { return d.endpoints }

// Metrics is the registry the data plane reports to.
func (d *DataPlane) Metrics() *metrics.Registry { return d.opts.Metrics }

// Table returns the table in service.
func (d *DataPlane) Table() *routing.Table { return d.table.Load() }

// Apply puts t in service. New ports are bound first; if one cannot be
// bound, Apply closes the ones it opened and returns an error with the old
// table still serving. Ports whose gateway is gone are closed after the
// swap, once their connections drain.
func (d *DataPlane) Apply(t *routing.Table) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("data plane is shut down")
	}
	opened := map[int]*portListener{}
	var errs []error
	for _, port := range sortedPorts(t) {
		if _, ok := d.listeners[port]; ok {
			continue
		}
		p, err := listen(d.opts.Address, port, d.log)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway %q: listen on port %d: %w", t.Gateways[port].Name, port, err))
			continue
		}
		opened[port] = p
	}
	if len(errs) > 0 {
		for _, p := range opened {
			p.ln.Close()
		}
		d.opts.Metrics.TableFailures.Inc()
		return errors.Join(errs...)
	}
	for port, p := range opened {
		d.listeners[port] = p
		go p.run()
	}

	// Servers before the swap, so a connection accepted a moment after
	// the swap already finds the new table's protocol.
	var retired []server
	for port, g := range t.Gateways {
		p := d.listeners[port]
		cur := p.server.Load()
		if cur != nil && (*cur).protocol() == string(g.Protocol) {
			continue
		}
		var s server
		if g.Protocol == gateway.TCP {
			s = &tcpServer{dp: d, port: port}
		} else {
			s = newHTTPServer(d, p)
		}
		p.server.Store(&s)
		if cur != nil {
			retired = append(retired, *cur)
		}
	}
	old := d.table.Swap(t)
	d.opts.Metrics.TableSwaps.Inc()
	d.opts.Metrics.TableGeneration.Set(float64(t.Generation))

	var gone []*portListener
	for port, p := range d.listeners {
		if _, ok := t.Gateways[port]; !ok {
			gone = append(gone, p)
			delete(d.listeners, port)
		}
	}
	d.endpoints.Retire(t, time.Now())
	d.forgetMetrics(old, t)
	deadline := time.Now().Add(d.opts.DrainTimeout)
	for _, p := range gone {
		p.close()
		if s := p.server.Load(); s != nil {
			retired = append(retired, *s)
		}
	}
	for _, s := range retired {
		go s.shutdown(deadline)
	}
	return nil
}

// forgetMetrics drops the series of gateways and routes t no longer has.
// A gateway t shares with old (compiled once, reused) has the same routes:
// only the others are looked at, so one change among many costs one.
func (d *DataPlane) forgetMetrics(old, t *routing.Table) {
	byName := make(map[string]*routing.Gateway, len(t.Gateways))
	for _, g := range t.Gateways {
		byName[g.Name] = g
	}
	for port, g := range old.Gateways {
		if t.Gateways[port] == g {
			continue
		}
		ng, ok := byName[g.Name]
		if !ok {
			d.opts.Metrics.Forget(g.Name)
			continue
		}
		kept := make(map[string]bool, len(ng.Routes))
		for _, r := range ng.Routes {
			kept[r.Name] = true
		}
		for _, r := range g.Routes {
			if !kept[r.Name] {
				d.opts.Metrics.ForgetRoute(g.Name, r.Name)
			}
		}
	}
}

// Ports returns the ports the data plane is listening on.
func (d *DataPlane) Ports() map[int]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ports := make(map[int]bool, len(d.listeners))
	for p := range d.listeners {
		ports[p] = true
	}
	return ports
}

// Address is where a connection to one of this process's gateway ports
// goes: the bound interface, or loopback when ports bind to every one.
func (d *DataPlane) Address() string {
	if a, err := netip.ParseAddr(d.opts.Address); err == nil && !a.IsUnspecified() {
		return a.String()
	}
	if d.opts.Address != "" && net.ParseIP(d.opts.Address) == nil {
		return d.opts.Address // a host name
	}
	return "127.0.0.1"
}

// CanListen reports whether port can be bound on the gateway address now,
// by binding it and letting it go; a port the data plane itself listens on
// can. It holds the data plane's lock, so that its test bind never races
// an Apply binding the same port (which would fail the Apply), and a port
// an Apply just opened is seen as held, not as taken.
func (d *DataPlane) CanListen(port int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.listeners[port]; ok {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(d.opts.Address, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	return ln.Close()
}

// Addr returns the bound address of a gateway port, or nil.
func (d *DataPlane) Addr(port int) net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.listeners[port]; ok {
		return p.ln.Addr()
	}
	return nil
}

// Shutdown closes every port, lets requests in flight finish until ctx
// ends, then closes what is left.
func (d *DataPlane) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.stop)
	listeners := d.listeners
	d.listeners = map[int]*portListener{}
	d.mu.Unlock()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(d.opts.DrainTimeout)
	}
	var wg sync.WaitGroup
	for _, p := range listeners {
		p.close()
		if s := p.server.Load(); s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); (*s).shutdown(deadline) }()
		}
	}
	wg.Wait()
	d.pump.Close()
	d.loopsOnce.Do(func() {}) // no loops start after this
	d.loops.close()
	d.sweeper.Wait()
	d.mirrors.wg.Wait()
	d.endpoints.Sweep(time.Now(), 0)
	return ctx.Err()
}

// sweep closes drained endpoints once a second.
func (d *DataPlane) sweep() {
	defer d.sweeper.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-tick.C:
			d.endpoints.Sweep(now, d.opts.DrainTimeout)
		}
	}
}

// track wraps a new client connection so the gateway's connection metrics
// and the server's connection set follow it.
func (d *DataPlane) track(c net.Conn, port int, set *connSet) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	var m *metrics.Gateway
	if g := d.table.Load().Gateway(port); g != nil {
		m = g.Metrics
	}
	if m != nil {
		m.Connections.Inc()
		m.Open.Inc()
	}
	w := &trackedConn{countedConn: countedConn{TCPConn: tc}, closed: make(chan struct{})}
	if m != nil {
		w.bytes = clientBytes{received: m.Received, sent: m.Sent}
	}
	set.add(w)
	w.onClose = func() {
		if m != nil {
			m.Open.Dec()
		}
		set.remove(w)
	}
	return w
}

func sortedPorts(t *routing.Table) []int {
	ports := make([]int, 0, len(t.Gateways))
	for p := range t.Gateways {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	return ports
}

// fasthttpLogger sends fasthttp's own messages (malformed requests and
// the like) to slog at debug level: they are per-client noise.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	// Clients choose how often this runs: format only when it is shown.
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "http")
	}
}
