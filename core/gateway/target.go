package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The backend plugins' schemes (docs/gateways.md): a route key
// "scheme:ref" is resolved by the plugin of that name.
const (
	Minuteman  TargetKind = "minuteman"
	MarathonLB TargetKind = "marathon-lb"
	Marathon   TargetKind = "marathon"
	Consul     TargetKind = "consul"
)

// errUnsupportedTarget names every form Turnout takes.
var errUnsupportedTarget = errors.New(`use "[host:port]", a gateway's name, "minuteman:/app:port", "marathon-lb:/app", "marathon:/app" or "consul:service"`)

// ReferenceScheme is the backend plugin that resolves Vamp's 4-part route
// keys, deployment/cluster/service/port: the instances of a service, which
// on DC/OS are the tasks of the Marathon app /deployment/cluster/service,
// on its port of that name. Set once at start (serve --reference-scheme),
// before any artefact is read; "" refuses such keys.
var ReferenceScheme = string(Marathon)

// errInstanceReference refuses 4-part keys when no scheme resolves them.
var errInstanceReference = errors.New(`deployment/cluster/service/port references need a reference scheme (serve --reference-scheme), ` +
	`or route to the service's Marathon app ("marathon:/deployment/cluster/service:port")`)

// SelectorScheme is the backend plugin that resolves route selectors: the
// Marathon backend, by the apps' labels, names, images and ports.
const SelectorScheme = "marathon"

// SelectorTarget is the target of a route with a selector: the Marathon
// backend's "selector:" reference.
func SelectorTarget(selector string) Target {
	return Target{Kind: SelectorScheme, Ref: "selector:" + selector}
}

// ParseTarget reads a route key: "[host:port]" (IPv6 as "[[::1]:80]"),
// "scheme:ref", a scheme being a backend plugin's name (lower case letters,
// digits and dashes, starting with a letter), or, as in Vamp, a gateway's
// name of 1 to 3 "/"-separated parts. Whether a plugin resolves the scheme,
// or a gateway of that name exists, is the engine's question, not the
// artefact's.
func ParseTarget(key string) (Target, error) {
	if strings.HasPrefix(key, "[") && strings.HasSuffix(key, "]") {
		return parseStatic(key)
	}
	if scheme, ref, ok := strings.Cut(key, ":"); ok && validScheme(scheme) {
		if strings.TrimSpace(ref) == "" {
			return Target{}, fmt.Errorf("route target %q needs a reference after %q", key, scheme+":")
		}
		return Target{Kind: TargetKind(scheme), Ref: ref}, nil
	}
	// A ":" is a forgotten bracket ("10.0.0.1:80") or scheme, never a
	// gateway someone meant.
	if checkName(key) == nil && !strings.Contains(key, ":") {
		// Vamp's GatewayPath: 1 to 3 parts name a gateway, 4 the instances
		// of a deployment's service.
		if i := strings.LastIndexByte(key, '/'); strings.Count(key, "/") == 3 {
			if ReferenceScheme == "" {
				return Target{}, fmt.Errorf("unsupported route target %q: %w", key, errInstanceReference)
			}
			return Target{Kind: TargetKind(ReferenceScheme), Ref: "/" + key[:i] + ":" + key[i+1:]}, nil
		}
		return Target{Kind: GatewayRef, Ref: key}, nil
	}
	return Target{}, fmt.Errorf("unsupported route target %q: %w", key, errUnsupportedTarget)
}

func parseStatic(key string) (Target, error) {
	inner := key[1 : len(key)-1]
	host, port, err := net.SplitHostPort(inner)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && ae.Err == "too many colons in address" {
			return Target{}, fmt.Errorf("route target %q: write an IPv6 address in brackets, like \"[[::1]:80]\"", key)
		}
		return Target{}, fmt.Errorf("route target %q needs a port, like \"[host:port]\"", key)
	}
	if host == "" {
		return Target{}, fmt.Errorf("route target %q needs a host, like \"[host:port]\"", key)
	}
	bracketed := strings.HasPrefix(inner, "[")
	if a, err := netip.ParseAddr(host); err == nil {
		if bracketed != a.Is6() {
			return Target{}, fmt.Errorf("route target %q: only IPv6 addresses go in brackets", key)
		}
	} else if bracketed || !validHostname(host) {
		return Target{}, fmt.Errorf("route target %q: invalid host %q", key, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("route target %q: port must be 1-65535, got %q", key, port)
	}
	return Target{Kind: Static, Host: host, Port: n}, nil
}

// validHostname accepts DNS names (one trailing dot allowed). Underscores are
// allowed because DC/OS and Consul service names use them.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validScheme is a backend plugin's name: [a-z][a-z0-9-]*.
func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
