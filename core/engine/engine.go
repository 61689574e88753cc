// Package engine turns desired gateways into routing tables: it assigns
// ports, resolves static targets, builds a table off to the side and hands
// it to the data plane in one swap. A gateway set that fails anywhere on the
// way changes nothing: the last good table keeps serving.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/routing"
)

// Options configure the engine.
type Options struct {
	// PortRange is where gateways without a port get one (inclusive).
	PortRange [2]int
	// DNSRefresh is how often DNS names of static targets are looked up
	// again (default 30s).
	DNSRefresh time.Duration
	// Resolve pins "host:port" targets to addresses, like curl --resolve:
	// for running the DC/OS examples on a laptop, and for tests.
	Resolve map[string][]string
	// Routing defaults for routes that set no timeout or retries.
	Routing routing.Options
	// Reserved ports no gateway may take, with what holds them (the
	// admin listener's port, say).
	Reserved map[int]string
	// Backends resolves plugin route targets (nil: only "[host:port]").
	Backends Backends
	// PortOwner, if set, says who outside Turnout holds a port (Marathon-LB
	// and the apps it exposes): a gateway is never put on such a port.
	PortOwner func(port int) (owner string, taken bool)
	// Retry is how often Run tries again to put in service a desired set
	// that failed (default 2s): a port another process held may be free.
	Retry  time.Duration
	Logger *slog.Logger
	// Events, if set, is told of routes held and released by readiness
	// and of endpoints added and removed, as tables go into service.
	Events *events.Bus
}

// Engine owns the desired gateways and keeps the data plane's table in
// line with them and with their resolved endpoints.
type Engine struct {
	dp   *dataplane.DataPlane
	opts Options
	log  *slog.Logger
	res  *resolver
	// refs are the gateways the table being built can route through;
	// written and read under applyMu.
	refs gatewayRefs

	// applyMu serialises building and swapping tables (Set, rebuild): a
	// build costs time linear in the routes. Nothing a writer or a reader
	// of the state below needs waits for it: mu is held only to read or
	// replace that state, so API checks, statuses and health answer during
	// a rebuild.
	applyMu sync.Mutex

	mu       sync.Mutex
	gateways []*gateway.Gateway
	statuses map[string][]RouteStatus
	gen      uint64
	lastErr  error
	// version is the store version whose gateways are in service.
	version int64
	// pending is the desired set (of store version pendingVersion) that
	// could not be put in service, and why: Ready fails and Run retries
	// it until it is in service or another set replaces it.
	pending        []*gateway.Gateway
	pendingVersion int64
	pendingErr     error

	// building, if set, is called by apply with the gateways it is about
	// to build a table for, holding applyMu (tests hold a rebuild in
	// progress with it). Set before the engine runs.
	building func([]*gateway.Gateway)

	// compiled is the compiled state of each gateway in service, by name,
	// reused by the next table where nothing it depends on changed. Only
	// apply reads and writes it, under applyMu.
	compiled map[string]compiledGateway
	// compiledCount counts the gateways compiled (not reused); under mu.
	compiledCount int
	// docs decodes the store's snapshots for Follow.
	docs DocCache

	kicks chan struct{}
}

// New creates an engine driving dp.
func New(dp *dataplane.DataPlane, opts Options) *Engine {
	if opts.DNSRefresh == 0 {
		opts.DNSRefresh = 30 * time.Second
	}
	if opts.PortRange == [2]int{} {
		opts.PortRange = [2]int{8000, 9999}
	}
	if opts.Routing.Timeout == 0 {
		opts.Routing.Timeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retry == 0 {
		opts.Retry = 2 * time.Second
	}
	e := &Engine{dp: dp, opts: opts, log: opts.Logger, kicks: make(chan struct{}, 1)}
	e.res = newResolver(opts.Resolve, opts.Logger)
	e.res.changed = e.rebuild
	return e
}

// Set replaces the desired gateways. It returns an error, and changes
// nothing in service, when the set is invalid or its table cannot be put in
// service; then Ready fails with that error and Run tries the set again.
// The one exception is a set that fails when nothing serves yet (at start)
// because a port cannot be bound: its other gateways serve meanwhile.
func (e *Engine) Set(gws []*gateway.Gateway) error { return e.SetVersion(gws, 0) }

// SetVersion is Set for the gateways of store version v: Version reports
// v once they are in service.
func (e *Engine) SetVersion(gws []*gateway.Gateway, v int64) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	err := e.set(gws)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.pending, e.pendingVersion, e.pendingErr = gws, v, err
		return err
	}
	e.pending, e.pendingErr = nil, nil
	e.version = v
	return nil
}

// set puts gws in service. Called with e.applyMu held, not e.mu.
func (e *Engine) set(gws []*gateway.Gateway) error {
	if err := gateway.ValidateSet(gws); err != nil {
		return err
	}
	for _, g := range gws {
		if what, ok := e.opts.Reserved[g.Port.Number]; ok {
			return fmt.Errorf("%w: gateway %q: port %d is reserved for %s", ErrPortTaken, g.Name, g.Port.Number, what)
		}
	}
	e.mu.Lock()
	err := e.assignPorts(gws, nil)
	serving := e.gateways != nil
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := e.apply(gws); err != nil {
		if errors.Is(err, ErrNotServed) && !serving {
			e.serveSome(gws)
		}
		return err
	}
	return nil
}

// serveSome puts in service the gateways of gws whose ports can be bound,
// when nothing serves yet (at start): one port held by another process
// must not keep every other gateway down. The whole set stays pending.
// Called with e.applyMu held, not e.mu.
func (e *Engine) serveSome(gws []*gateway.Gateway) {
	var some []*gateway.Gateway
	for _, g := range gws {
		if e.dp.CanListen(g.Port.Number) == nil {
			some = append(some, g)
		}
	}
	if len(some) == 0 || len(some) == len(gws) {
		return
	}
	if err := e.apply(some); err != nil { // apply records them in service
		e.log.Error("gateways whose ports are free not put in service either", "err", err)
		return
	}
	e.log.Warn("serving some of the desired gateways until the others' ports are free", "serving", len(some), "desired", len(gws))
}

// retry tries the pending set again, if any.
func (e *Engine) retry() {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.mu.Lock()
	pending, failed := e.pending, e.pendingErr != nil
	e.mu.Unlock()
	if !failed {
		return
	}
	err := e.set(pending)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.pendingErr = err
		return
	}
	e.log.Info("desired state in service after a retry", "store_version", e.pendingVersion, "gateways", len(pending))
	e.version = e.pendingVersion
	e.pending, e.pendingErr = nil, nil
}

// ErrNotServed is wrapped by Set when a valid set could not be put in
// service (a port could not be bound): a later retry may succeed.
var ErrNotServed = errors.New("cannot listen")

// Ready fails, saying why, while the desired gateways are not all in
// service: the last set failed (Run retries it) or the table of those in
// service could not be rebuilt.
func (e *Engine) Ready() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pendingErr != nil {
		return fmt.Errorf("desired state not in service (retrying every %s): %w", e.opts.Retry, e.pendingErr)
	}
	if e.lastErr != nil {
		return fmt.Errorf("routing table not rebuilt: %w", e.lastErr)
	}
	return nil
}

// Version is the store version whose gateways are in service.
func (e *Engine) Version() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.version
}

// ErrPortTaken is wrapped by Check and Set when a gateway's port is used by
// another gateway, reserved, or cannot be bound on this host.
var ErrPortTaken = errors.New("port taken")

// Check reports whether Set would accept gws, changing nothing in service: the set is
// valid, no port is reserved, and every port the running gateways do not
// already hold can be bound now (it is bound and released at once, so a
// later Set can still lose a race for it). A port problem wraps
// ErrPortTaken; anything else is invalid input.
//
// A route whose backend plugin exists but will not run (a checksum
// mismatch) makes it return an error wrapping pluginhost.ErrRefused, and
// only once every other check passed: a caller may then serve the set
// with those routes held.
//
// Gateways without a port get one, written into gws: the port they have in
// service, else the lowest of the range that can be bound. A caller that
// stores them keeps the port across restarts, as Vamp kept assigned ports.
func (e *Engine) Check(gws []*gateway.Gateway) error {
	held := e.dp.Ports()
	e.mu.Lock()
	err := e.assignPorts(gws, func(p int) bool { return held[p] || e.dp.CanListen(p) == nil && !e.ownedOutside(p) })
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPortTaken, err)
	}
	if err := gateway.ValidateSet(gws); err != nil {
		if errors.Is(err, gateway.ErrPortInUse) {
			return fmt.Errorf("%w: %w", ErrPortTaken, err)
		}
		return err
	}
	for _, g := range gws {
		if what, ok := e.opts.Reserved[g.Port.Number]; ok {
			return fmt.Errorf("%w: gateway %q: port %d is reserved for %s", ErrPortTaken, g.Name, g.Port.Number, what)
		}
	}
	err, refused := e.checkTargets(gws)
	if err != nil {
		return err
	}
	// A gateway already in service on its port keeps it: a conflict that
	// appeared later (an app newly exposed there) is reported by the
	// caller's port watch, and must not refuse every later change.
	inService := map[string]int{}
	for _, g := range e.Gateways() {
		inService[g.Name] = g.Port.Number
	}
	for _, g := range gws {
		if p, ok := inService[g.Name]; ok && p == g.Port.Number {
			continue
		}
		if owner, ok := e.portOwner(g.Port.Number); ok {
			return fmt.Errorf("%w: gateway %q: port %d is taken by %s", ErrPortTaken, g.Name, g.Port.Number, owner)
		}
	}
	for _, g := range gws {
		if g.Port.Number == 0 || held[g.Port.Number] {
			continue
		}
		if err := e.dp.CanListen(g.Port.Number); err != nil {
			return fmt.Errorf("%w: gateway %q: %w", ErrPortTaken, g.Name, err)
		}
	}
	// Last, so that an error wrapping only pluginhost.ErrRefused means
	// every other check passed.
	return refused
}

func (e *Engine) portOwner(p int) (string, bool) {
	if e.opts.PortOwner == nil || p == 0 {
		return "", false
	}
	return e.opts.PortOwner(p)
}

func (e *Engine) ownedOutside(p int) bool {
	_, ok := e.portOwner(p)
	return ok
}

// Gateways returns the desired gateways in service, with assigned ports.
func (e *Engine) Gateways() []*gateway.Gateway {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gateways
}

// LastError is the error of the last table that failed to build or apply
// after the gateways were accepted (nil when the last one succeeded).
func (e *Engine) LastError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}

// Run re-resolves DNS names, and rebuilds the table when a backend
// plugin's resolution changed (Changed), until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.DNSRefresh)
	defer t.Stop()
	retry := time.NewTicker(e.opts.Retry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			e.retry()
		case <-t.C:
			e.res.refresh()
		case <-e.kicks:
			e.rebuild()
		}
	}
}

// Changed asks for a rebuild: a backend plugin's resolution moved. It
// never blocks; changes that arrive during a rebuild are coalesced into one
// more.
func (e *Engine) Changed() {
	select {
	case e.kicks <- struct{}{}:
	default:
	}
}

// Statuses returns the routes of a gateway in service with why each has
// its weight (nil for an unknown gateway).
func (e *Engine) Statuses(gateway string) []RouteStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.statuses[gateway]
}

// rebuild builds a new table for the same gateways (endpoints moved).
func (e *Engine) rebuild() {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	if err := e.apply(e.Gateways()); err != nil {
		e.log.Error("routing table rebuild failed; the previous table keeps serving", "err", err)
	}
}

// apply builds and swaps in the table for gws, which become the gateways
// in service. Called with e.applyMu held, not e.mu: the build and the swap
// run beside readers and checks, and e.mu is taken only to publish.
func (e *Engine) apply(gws []*gateway.Gateway) error {
	if e.building != nil {
		e.building(gws)
	}
	e.refs = newGatewayRefs(gws, e.dp.Address())
	keep := map[hostPort]bool{}
	for _, g := range gws {
		for _, r := range g.Routes {
			if r.Target.Kind == gateway.Static {
				keep[hostPort{r.Target.Host, r.Target.Port}] = true
			}
		}
	}
	if e.opts.Backends != nil {
		targets := pluginTargets(gws)
		e.opts.Backends.SyncTargets(targets)
		for _, t := range targets {
			if res, ok := e.opts.Backends.Resolve(t); ok {
				for _, ep := range res.Endpoints {
					if h, p, err := net.SplitHostPort(ep.Address); err == nil {
						if port, err := strconv.Atoi(p); err == nil {
							keep[hostPort{h, port}] = true
						}
					}
				}
			}
		}
	}
	e.res.forget(keep)
	resolved := e.res.generation()
	eff := make([]*gateway.Gateway, len(gws))
	statuses := make(map[string][]RouteStatus, len(gws))
	inputs := make(map[*gateway.Gateway]compiledGateway, len(gws))
	for i, g := range gws {
		// A gateway of "[host:port]" routes whose document, port and
		// resolutions did not change is what it was in service: its
		// effective form, statuses and inputs are reused, not recomputed.
		if prev, ok := e.compiled[g.Name]; ok && prev.src == g && prev.port == g.Port.Number && prev.static && prev.resolved == resolved {
			eff[i], statuses[g.Name], inputs[prev.eff] = prev.eff, prev.statuses, prev
			continue
		}
		var st []RouteStatus
		eff[i], st = e.effective(g)
		statuses[g.Name] = st
		c := e.inputsOf(g, eff[i])
		c.eff, c.statuses, c.static, c.resolved = eff[i], st, staticOnly(g), resolved
		inputs[eff[i]] = c
	}
	e.mu.Lock()
	gen := e.gen + 1 // only apply changes gen, under applyMu
	e.mu.Unlock()
	compiled := 0
	t, err := routing.Build(routing.Input{
		Reuse: func(g *gateway.Gateway) *routing.Gateway {
			if prev, ok := e.compiled[g.Name]; ok && prev.same(inputs[g]) {
				return prev.rg
			}
			compiled++
			return nil
		},
		Gateways:   eff,
		Addrs:      e.addrs,
		Failed:     e.failed,
		Endpoints:  e.dp.Endpoints(),
		Metrics:    e.dp.Metrics(),
		Options:    e.opts.Routing,
		Generation: gen,
	})
	if err == nil {
		if err = e.dp.Apply(t); err != nil {
			err = fmt.Errorf("%w: %w", ErrNotServed, err)
		}
	} else {
		e.dp.Metrics().TableFailures.Inc()
	}
	if err == nil {
		next := make(map[string]compiledGateway, len(eff))
		for _, g := range eff {
			c := inputs[g]
			c.rg = t.Gateways[g.Port.Number]
			next[g.Name] = c
		}
		e.compiled = next
	}
	e.mu.Lock()
	prevStatuses := e.statuses
	e.compiledCount += compiled
	e.lastErr = err
	if err == nil {
		e.gen = gen
		e.gateways = gws
		e.statuses = statuses
	}
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("put routing table in service: %w", err)
	}
	e.recordStatuses(prevStatuses, statuses)
	e.publishStatuses(prevStatuses, statuses)
	e.log.Info("routing table in service", "generation", gen, "gateways", len(gws))
	return nil
}

func (e *Engine) addrs(t gateway.Target) ([]string, string) {
	switch t.Kind {
	case gateway.Static:
		return e.res.addrs(t.Host, t.Port), ""
	case gateway.GatewayRef:
		return e.refs.addrs(t.Ref), ""
	}
	return e.pluginAddrs(t)
}

func (e *Engine) failed(t gateway.Target) func() {
	if t.Kind != gateway.Static {
		return nil
	}
	return e.res.kick(t.Host, t.Port)
}

// assignPorts gives every gateway without a port one from the range: the
// port it has in service, else the lowest one that is free (and, with avail,
// available). The gateways are modified in place. Called with e.mu held
// (it reads the gateways in service).
func (e *Engine) assignPorts(gws []*gateway.Gateway, avail func(port int) bool) error {
	used := map[int]bool{}
	for _, g := range gws {
		if g.Port.Number != 0 {
			used[g.Port.Number] = true
		}
	}
	// A gateway keeps the port it has in service, given or assigned.
	inService := make(map[string]int, len(e.gateways))
	for _, g := range e.gateways {
		inService[g.Name] = g.Port.Number
	}
	var missing []*gateway.Gateway
	for _, g := range gws {
		if g.Port.Number != 0 {
			continue
		}
		if p, ok := inService[g.Name]; ok && p != 0 && !used[p] {
			g.Port.Number = p
			used[p] = true
			continue
		}
		missing = append(missing, g)
	}
	next := e.opts.PortRange[0]
	for _, g := range missing {
		for next <= e.opts.PortRange[1] && (used[next] || e.opts.Reserved[next] != "" || (avail != nil && !avail(next))) {
			next++
		}
		if next > e.opts.PortRange[1] {
			return fmt.Errorf("gateway %q: no free port left in the gateway port range %d-%d", g.Name, e.opts.PortRange[0], e.opts.PortRange[1])
		}
		g.Port.Number = next
		used[next] = true
	}
	return nil
}
