package gateway

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Vamp's gateway name pattern.
var namePattern = regexp.MustCompile(`^[^\s\[\]]+$`)

// checkName applies Vamp's name rules; Turnout keeps the "/" segments as
// plain characters (no internal cluster gateways) but keeps the limit.
func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("name must not contain whitespace or square brackets, got %q", name)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 4 {
		return fmt.Errorf("name must have at most 4 \"/\"-separated parts, got %q", name)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("name must not have empty \"/\"-separated parts, got %q", name)
		}
	}
	return nil
}

var portPattern = regexp.MustCompile(`^(\d+)(?:/([A-Za-z]+))?$`)

// parsePort reads 8080, "8080/http" or "8080/tcp". 0 means "assign one".
func parsePort(s string) (Port, error) {
	bad := fmt.Errorf("port must be like 8080, \"8080/http\" or \"8080/tcp\" with a number 1-65535, got %q", s)
	m := portPattern.FindStringSubmatch(s)
	if m == nil {
		return Port{}, bad
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 65535 {
		return Port{}, bad
	}
	p := Port{Number: n, Protocol: HTTP}
	switch strings.ToLower(m[2]) {
	case "", "http":
	case "tcp":
		p.Protocol = TCP
	default:
		return Port{}, bad
	}
	return p, nil
}

func parseSticky(s string) (Sticky, error) {
	switch strings.ToLower(s) {
	case "none":
		return StickyNone, nil
	case "route":
		return StickyRoute, nil
	case "instance":
		return StickyInstance, nil
	}
	return "", fmt.Errorf("sticky must be route, instance or none, got %q", s)
}

// parseVirtualHost lowercases a host name, optionally "*."-prefixed.
func parseVirtualHost(s string) (string, error) {
	h := strings.ToLower(s)
	if !validHostname(strings.TrimPrefix(h, "*.")) {
		return "", fmt.Errorf("virtual host must be a host name like \"example.com\" or \"*.example.com\", got %q", s)
	}
	return h, nil
}

func parseBalance(s string) (Balance, error) {
	switch b := Balance(strings.ToLower(s)); b {
	case BalanceDefault, BalanceRoundRobin, BalanceLeastConn:
		return b, nil
	}
	return "", fmt.Errorf("balance must be default, roundrobin or leastconn, got %q", s)
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("timeout must be a duration like \"5s\", got %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("timeout must be more than 0s, got %q", s)
	}
	return d, nil
}

// maxRetries bounds retries: each one is another endpoint tried while the
// client waits, so a large value only hides an outage.
const maxRetries = 10

func parseRetries(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxRetries {
		return 0, fmt.Errorf("retries must be a whole number from 0 to %d, got %q", maxRetries, s)
	}
	return n, nil
}

// splitRewrite splits Vamp's "NEW if COND". Vamp matched
// `^(?i)(.+) if (.+)$`, which splits at the last " if "; a path has no
// spaces, so Turnout splits at the first one and a condition may contain
// " if " inside a quoted value.
func splitRewrite(s string) (path, cond string, err error) {
	i := strings.Index(strings.ToLower(s), " if ")
	if i >= 0 {
		path, cond = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(" if "):])
	}
	if path == "" || cond == "" {
		return "", "", fmt.Errorf("rewrite path must read \"NEW if CONDITION\", got %q", s)
	}
	return path, cond, nil
}

// assignWeights applies Vamp's weight rules to routes in place; given[i]
// says whether route i had a weight in the document.
//   - all routes weighted: the weights total 0% (only conditions route
//     traffic) or 100%;
//   - none weighted: an even split in whole percents, the remainder to the
//     last route (33/33/34), as Vamp's GatewayActor did;
//   - some weighted: only when those already total 100%; the rest get 0%.
func assignWeights(routes []Route, given []bool) error {
	var total Weight
	var missing []string
	for i, r := range routes {
		if given[i] {
			total += r.Weight
		} else {
			missing = append(missing, strconv.Quote(r.Name))
		}
	}
	switch {
	case len(missing) == 0:
		if total != 0 && total != Full {
			return fmt.Errorf("total route weight must be 0%% or 100%%, got %s", total)
		}
	case len(missing) == len(routes):
		each := Weight(100/len(routes)) * 100
		for i := range routes {
			routes[i].Weight = each
		}
		routes[len(routes)-1].Weight = Full - each*Weight(len(routes)-1)
	case total != Full:
		if len(missing) == 1 {
			return fmt.Errorf("route %s has no weight, so the other weights must total 100%%, got %s", missing[0], total)
		}
		list := strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1]
		return fmt.Errorf("routes %s have no weight, so the other weights must total 100%%, got %s", list, total)
	}
	return nil
}

// Errors of the cross-field rules, kept as values so callers can test them.
var (
	// ErrStickyTCP is Vamp's StickyPortTypeError: the session cookie needs HTTP.
	ErrStickyTCP = errors.New("sticky sessions are not allowed on a tcp port")
	// ErrConditionTCP: conditions read HTTP requests. Vamp only rejected
	// this in blueprints; Turnout rejects it for every gateway.
	ErrConditionTCP = errors.New("conditions need an http port")
	// ErrMirrorTCP: a mirror copies HTTP requests.
	ErrMirrorTCP = errors.New("a mirror needs an http port")
	// ErrRewriteTCP: rewrites change the HTTP request path.
	ErrRewriteTCP = errors.New("rewrites need an http port")
	// ErrVirtualHostTCP: virtual hosts are matched on the Host header.
	ErrVirtualHostTCP = errors.New("virtual hosts need an http port")
	// ErrStrengthWithoutCondition is the warning for a strength on a route
	// without a condition: Vamp accepted it (GatewayReader.scala checks only
	// its range) and it changes nothing.
	ErrStrengthWithoutCondition = errors.New("condition_strength has no effect without a condition")
	// ErrSelectorExternal and ErrSelectorPath are Vamp's
	// RouteSelectorExternalTargetError and RouteSelectorOnlyRouteError: a
	// route with a selector is keyed by a name of its own.
	ErrSelectorExternal = errors.New("a route selector cannot be defined for an external target: key the route by a name, like \"shop\"")
	ErrSelectorPath     = errors.New("if a route selector is defined, the route key must be a name without '/' or a scheme, like \"shop\"")
)

// ValidateSet checks what no single gateway can: names and non-zero ports
// are unique across gws. Errors carry each gateway's Line when known.
// A route referencing a named condition or a stored route must carry what
// it resolved to: the engine never looks them up.
func ValidateSet(gws []*Gateway) error {
	errs := validateSet(gws, "", nil)
	for _, g := range gws {
		var fe *FieldError
		if errors.As(g.UnresolvedRoutes(), &fe) {
			errs = append(errs, fe)
		} else if errors.As(g.UnresolvedConditions(), &fe) {
			errs = append(errs, fe)
		}
	}
	return errs.err()
}

// position returns where a gateway's field is written, for validateSet's
// messages; nil falls back to the gateway's Line.
type position func(g *Gateway, field string) (line, col int)

func validateSet(gws []*Gateway, source string, at position) ErrorList {
	if at == nil {
		at = func(g *Gateway, _ string) (int, int) { return g.Line, 0 }
	}
	var errs ErrorList
	add := func(g *Gateway, field string, err error) {
		line, col := at(g, field)
		errs = append(errs, &FieldError{Source: source, Line: line, Column: col, Gateway: g.Name, Field: field, Err: err})
	}
	names := make(map[string]*Gateway, len(gws))
	ports := make(map[int]*Gateway, len(gws))
	for _, g := range gws {
		if first, ok := names[g.Name]; ok && g.Name != "" {
			msg := fmt.Sprintf("duplicate gateway name %q", g.Name)
			if line, _ := at(first, "name"); line > 0 {
				msg += fmt.Sprintf(" (first at line %d)", line)
			}
			add(g, "name", errors.New(msg))
		} else {
			names[g.Name] = g
		}
		if g.Port.Number == 0 {
			continue
		}
		if first, ok := ports[g.Port.Number]; ok {
			add(g, "port", &PortInUseError{Port: g.Port.Number, First: first.Name, Second: g.Name})
		} else {
			ports[g.Port.Number] = g
		}
	}
	for _, g := range gws {
		if loop := referenceLoop(g, names); loop != nil {
			add(g, "routes", fmt.Errorf("routes through gateways come back to it: %s", strings.Join(loop, " -> ")))
		}
	}
	return errs
}

// referenceLoop finds a chain of gateway references from g back to g (nil
// if there is none): a request would go round it forever. References to
// gateways not in the set lead nowhere; their routes are held instead.
func referenceLoop(g *Gateway, names map[string]*Gateway) []string {
	seen := map[string]bool{}
	var walk func(at *Gateway, path []string) []string
	walk = func(at *Gateway, path []string) []string {
		for _, r := range at.Routes {
			if r.Target.Kind != GatewayRef {
				continue
			}
			next := append(slices.Clone(path), r.Target.Ref)
			if r.Target.Ref == g.Name {
				return next
			}
			to, ok := names[r.Target.Ref]
			if !ok || seen[to.Name] {
				continue
			}
			seen[to.Name] = true
			if loop := walk(to, next); loop != nil {
				return loop
			}
		}
		return nil
	}
	return walk(g, []string{g.Name})
}
