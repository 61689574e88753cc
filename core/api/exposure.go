package api

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Lookup resolves a host name to its addresses (net.Resolver.LookupNetIP
// with network "ip").
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// LoopbackOnly reports whether a listener on addr (host:port, as
// net.Listen takes it) can be reached from this machine only: its host is
// in 127.0.0.0/8 or ::1, or is a name every address of which is. An empty
// host, 0.0.0.0 and :: listen on every interface. A name counts only if
// all its addresses are loopback because net.Listen binds whichever of
// them it picks. A name that does not resolve is not loopback, and the
// error says why. lookup nil is the system's resolver.
func LoopbackOnly(ctx context.Context, addr string, lookup Lookup) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback(), nil // IPv4-mapped ::ffff:127.0.0.1 too
	}
	if lookup == nil {
		lookup = defaultLookup
	}
	ips, err := lookup(ctx, host)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return false, fmt.Errorf("resolve %s: no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return true, nil
}

// IsLoopbackAddr reports whether a bound address is a loopback address:
// the check after net.Listen, which settles what a name resolved to.
func IsLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ok && ip.IsLoopback()
}
