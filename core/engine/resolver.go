package engine

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// resolver keeps the addresses of static "[host:port]" targets. IP
// literals resolve to themselves; DNS names (the Minuteman VIP names of
// DC/OS are DNS names) are looked up when first seen, every refresh
// interval, and again soon after an endpoint of theirs fails, so a VIP
// that moves is followed without a restart.
type resolver struct {
	lookup    func(ctx context.Context, host string) ([]netip.Addr, error)
	overrides map[string][]string
	timeout   time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	entries map[string]*dnsEntry // by "host:port"
	// literals holds the addresses of IP literal targets, formatted once:
	// every table build asks for those of every route. used holds the
	// ones asked for since the last forget, which keeps only them.
	literals, used map[netip.AddrPort][]string
	// gen counts the lookups that finished: what a name resolves to, or
	// why it does not, can have changed only when it moved.
	gen     uint64
	changed func()
}

// hostPort is a route target's host and port, a map key that costs no
// formatting.
type hostPort struct {
	host string
	port int
}

type dnsEntry struct {
	host     string
	port     int
	addrs    []string
	resolved time.Time
	kicked   time.Time
	inFlight bool
	err      string // the last lookup's error, "" after a good one
}

func newResolver(overrides map[string][]string, log *slog.Logger) *resolver {
	return &resolver{
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		overrides: overrides,
		timeout:   2 * time.Second,
		log:       log,
		entries:   map[string]*dnsEntry{},
		literals:  map[netip.AddrPort][]string{},
		used:      map[netip.AddrPort][]string{},
	}
}

func key(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// addrs returns the current addresses of host:port, resolving it now if it
// was never resolved.
// The slice returned is shared: callers only read it.
func (r *resolver) addrs(host string, port int) []string {
	if len(r.overrides) > 0 {
		if a, ok := r.overrides[key(host, port)]; ok {
			return a
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return r.literal(netip.AddrPortFrom(ip, uint16(port)))
	}
	k := key(host, port)
	r.mu.Lock()
	e, ok := r.entries[k]
	if !ok {
		e = &dnsEntry{host: host, port: port}
		r.entries[k] = e
	}
	fresh := !e.resolved.IsZero()
	r.mu.Unlock()
	if !fresh {
		r.resolve(k)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.addrs
}

// literal returns the one address of an IP literal target.
func (r *resolver) literal(ap netip.AddrPort) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.used[ap]
	if !ok {
		if a, ok = r.literals[ap]; !ok {
			a = []string{ap.String()}
		}
		r.used[ap] = a
	}
	return a
}

// generation is the number of lookups finished so far.
func (r *resolver) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// why says why host:port has no addresses: its last lookup's error, or
// that the name has none.
func (r *resolver) why(host string, port int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[key(host, port)]; e != nil && e.err != "" {
		return e.err
	}
	return "the name has no addresses"
}

// resolve looks a name up and reports whether its addresses changed. A
// failed lookup keeps the last addresses: a DNS hiccup must not empty a route.
func (r *resolver) resolve(k string) bool {
	r.mu.Lock()
	e := r.entries[k]
	if e == nil || e.inFlight {
		r.mu.Unlock()
		return false
	}
	e.inFlight = true
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	ips, err := r.lookup(ctx, e.host)
	cancel()

	var addrs []string
	for _, ip := range ips {
		addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), uint16(e.port)).String())
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	e.inFlight = false
	e.resolved = time.Now()
	if err != nil {
		e.err = err.Error()
		r.log.Warn("cannot resolve route target; keeping its last addresses", "target", k, "err", err, "addresses", len(e.addrs))
		return false
	}
	e.err = ""
	if slices.Equal(addrs, e.addrs) {
		return false
	}
	r.log.Info("route target resolved", "target", k, "addresses", addrs)
	e.addrs = addrs
	return true
}

// refresh re-resolves every name and calls changed if any moved.
func (r *resolver) refresh() {
	r.mu.Lock()
	keys := make([]string, 0, len(r.entries))
	for k := range r.entries {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	moved := false
	for _, k := range keys {
		if r.resolve(k) {
			moved = true
		}
	}
	if moved && r.changed != nil {
		r.changed()
	}
}

// kick re-resolves a name soon after one of its endpoints failed, at most
// once a second per name. It never blocks the caller (the request path).
func (r *resolver) kick(host string, port int) func() {
	k := key(host, port)
	if _, ok := r.overrides[k]; ok {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	return func() {
		r.mu.Lock()
		e := r.entries[k]
		if e == nil || e.inFlight || time.Since(e.kicked) < time.Second {
			r.mu.Unlock()
			return
		}
		e.kicked = time.Now()
		r.mu.Unlock()
		go func() {
			if r.resolve(k) && r.changed != nil {
				r.changed()
			}
		}()
	}
}

// forget drops names no gateway uses any more, and the IP literals not
// asked for since the last forget.
func (r *resolver) forget(keep map[hostPort]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if !keep[hostPort{e.host, e.port}] {
			delete(r.entries, k)
		}
	}
	r.literals, r.used = r.used, make(map[netip.AddrPort][]string, len(r.used))
}
