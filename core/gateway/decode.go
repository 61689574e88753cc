package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/condition"
	"github.com/turnout/turnout/core/selector"
)

// Decode reads gateways from YAML or JSON: one gateway (a mapping), a list
// of gateways, or a multi-document YAML stream. JSON goes through the YAML
// parser, as in Vamp, so both get line numbers. source names the input in
// messages ("" for an API body). The error, if any, is an ErrorList of
// every problem found; names and ports must also be unique across the input.
func Decode(data []byte, source string) ([]*Gateway, error) {
	d := newDecoder(data, source)
	gws := d.decode(data)
	if !d.stopped {
		// Once stopped, gateways are partly read: no set to check.
		d.errs = append(d.errs, validateSet(gws, source, d.position)...)
	}
	if err := d.result(); err != nil {
		return nil, err
	}
	return gws, nil
}

// DecodeOne is Decode for inputs that must hold exactly one gateway (an API
// PUT or POST). A one-element list is accepted, as Vamp did.
func DecodeOne(data []byte, source string) (*Gateway, error) {
	d := newDecoder(data, source)
	gws := d.decode(data)
	if err := d.result(); err != nil {
		return nil, err
	}
	switch len(gws) {
	case 1:
		return gws[0], nil
	case 0:
		return nil, ErrorList{{Source: source, Err: errors.New("expected one gateway, got none")}}
	}
	g := gws[1]
	return nil, ErrorList{{Source: source, Line: g.Line, Column: d.nodes[g].column, Gateway: g.Name,
		Err: fmt.Errorf("expected one gateway, got %d", len(gws))}}
}

// decoder walks yaml.Node trees itself (rather than unmarshalling into
// structs) so that every problem carries the line and column of its node,
// duplicate keys are caught, and all problems are reported at once.
type decoder struct {
	source string
	errs   ErrorList
	// gateway is the name of the gateway being decoded, for messages.
	gateway string
	// budget bounds node visits: aliases can make a small document expand
	// into a huge tree, and the walk follows them. Without aliases a node
	// takes at least two bytes, so 4 visits a byte leaves room for honest
	// anchors.
	budget int
	// stopped is set when the budget is spent or there are maxErrors
	// problems; the walk then ends without adding more.
	stopped bool
	// dups counts duplicate keys found so far.
	dups int
	// warnings are the current gateway's.
	warnings []Warning
	// nodes keeps where each decoded gateway's name and port are written,
	// for the cross-gateway messages.
	nodes map[*Gateway]gatewayNodes
}

type gatewayNodes struct {
	column     int
	name, port *yaml.Node
}

func newDecoder(data []byte, source string) *decoder {
	return &decoder{source: source, budget: 4*len(data) + 10000, nodes: map[*Gateway]gatewayNodes{}}
}

func (d *decoder) decode(data []byte) []*Gateway {
	dec := yaml.NewDecoder(bytes.NewReader(unescapeSlashes(data)))
	var gws []*Gateway
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The parser cannot resume after a syntax error.
			d.errs = append(d.errs, syntaxError(d.source, err))
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		gws = append(gws, d.document(doc.Content[0])...)
	}
	return gws
}

// oneMapping reads a document that must be one mapping, a noun (e.g.
// "named condition") of the given shape; nil after recording why not.
func (d *decoder) oneMapping(data []byte, noun, shape string) *yaml.Node {
	what := "a " + noun
	dec := yaml.NewDecoder(bytes.NewReader(unescapeSlashes(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			d.fail(nil, "", fmt.Errorf("expected %s, got nothing", what))
		} else {
			d.errs = append(d.errs, syntaxError(d.source, err))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		d.fail(nil, "", fmt.Errorf("expected one %s, got more than one document", noun))
		return nil
	}
	if len(doc.Content) == 0 {
		d.fail(nil, "", fmt.Errorf("expected %s, got nothing", what))
		return nil
	}
	m := d.deref(doc.Content[0])
	if m == nil {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		d.fail(m, "", fmt.Errorf("expected %s %s, got %s", what, shape, describe(m)))
		return nil
	}
	return m
}

func (d *decoder) document(n *yaml.Node) []*Gateway {
	n = d.deref(n)
	switch {
	case n == nil || isNull(n):
		// An empty document, e.g. after a trailing "---".
		return nil
	case n.Kind == yaml.MappingNode:
		return []*Gateway{d.gateway1(n)}
	case n.Kind == yaml.SequenceNode:
		var gws []*Gateway
		for _, e := range n.Content {
			if e = d.deref(e); e == nil {
				break
			}
			if e.Kind != yaml.MappingNode {
				d.fail(e, "", fmt.Errorf("expected a gateway (a mapping), got %s", describe(e)))
				continue
			}
			gws = append(gws, d.gateway1(e))
		}
		return gws
	}
	d.fail(n, "", fmt.Errorf("expected a gateway (a mapping) or a list of gateways, got %s", describe(n)))
	return nil
}

// position is validateSet's view of the nodes.
func (d *decoder) position(g *Gateway, field string) (int, int) {
	nodes := d.nodes[g]
	n := nodes.name
	if field == "port" {
		n = nodes.port
	}
	if n == nil {
		return g.Line, nodes.column
	}
	return n.Line, n.Column
}

// warn records something accepted that has no effect.
func (d *decoder) warn(field string, err error) {
	d.warnings = append(d.warnings, Warning{Field: field, Message: err.Error()})
}

// maxErrors is where Decode stops: past it, a file is likely not a gateway
// file at all, and the list would only bury the first problems.
const maxErrors = 100

// fail records a problem at node n (nil: position unknown).
func (d *decoder) fail(n *yaml.Node, field string, err error) {
	if d.stopped {
		return
	}
	fe := &FieldError{Source: d.source, Gateway: d.gateway, Field: field, Err: err}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, fe)
	d.stopped = len(d.errs) >= maxErrors
}

// result is the error Decode returns: the problems in document order, at
// most maxErrors of them.
func (d *decoder) result() error {
	err := d.errs.err()
	if len(d.errs) >= maxErrors {
		d.errs = append(d.errs[:maxErrors:maxErrors], &FieldError{Source: d.source,
			Err: fmt.Errorf("too many errors, stopped after %d", maxErrors)})
		return d.errs
	}
	return err
}

// deref follows aliases and spends the visit budget; nil means the walk
// should stop.
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	if d.stopped {
		return nil
	}
	if d.budget--; d.budget < 0 {
		d.fail(n, "", errors.New("document too complex: its aliases expand to too many nodes"))
		d.stopped = true
		return nil
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a node's value for messages: `"50"`, "a list", ...
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	}
	return "an unknown node"
}

// text returns a scalar's text, or records "FIELD must be EXPECT, got ..."
// for anything else.
func (d *decoder) text(n *yaml.Node, path, field, expect string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, fmt.Errorf("%s must be %s, got %s", field, expect, describe(n)))
		return "", false
	}
	return n.Value, true
}

// entry is one key and value of a mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// entries lists a mapping's keys in order. noun ("field", "route") names a
// key in the duplicate message; duplicates are reported and dropped.
func (d *decoder) entries(m *yaml.Node, path, noun string) []entry {
	var out []entry
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := d.deref(m.Content[i]), d.deref(m.Content[i+1])
		if k == nil || v == nil {
			break
		}
		if name, ok := flowRouteKey(k); ok && noun == "route" {
			k = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: k.Line, Column: k.Column}
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, fmt.Errorf("a %s name must be a string, got %s", noun, describe(k)))
			continue
		}
		if k.Tag == "!!merge" {
			d.fail(k, path, errors.New("merge keys (<<) are not supported"))
			continue
		}
		if first, ok := seen[k.Value]; ok {
			d.dups++
			d.fail(k, path, fmt.Errorf("duplicate %s %q (first at line %d)", noun, k.Value, first.Line))
			continue
		}
		seen[k.Value] = k
		out = append(out, entry{k.Value, k, v})
	}
	return out
}

// flowRouteKey reads a route key written without quotes: YAML takes
// `[host:port]:` as a flow sequence of one string, Vamp took it as the text
// "[host:port]" (its own test artefacts are written so, e.g.
// model/src/test/resources/io/vamp/model/reader/gateway/gateway7.yml).
func flowRouteKey(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.SequenceNode || n.Style&yaml.FlowStyle == 0 || len(n.Content) != 1 {
		return "", false
	}
	c := n.Content[0]
	if c.Kind != yaml.ScalarNode || c.Style != 0 || isNull(c) {
		return "", false
	}
	return "[" + c.Value + "]", true
}

// unknownField explains a key no reader takes, with Vamp's renamed and
// unsupported fields called out.
func unknownField(name string, supported []string) error {
	switch name {
	case "filters":
		return fmt.Errorf("unknown field %q: Vamp 0.9 renamed it \"condition\"", name)
	case "filter_strength":
		return fmt.Errorf("unknown field %q: Vamp 0.9 renamed it \"condition_strength\"", name)
	case "selector":
		return fmt.Errorf("unknown field %q: a gateway's selector (Vamp making one route per group of the instances it selects) is not supported by Turnout; a route's selector is", name)
	}
	return fmt.Errorf("unknown field %q (supported: %s)", name, strings.Join(supported, ", "))
}

var (
	gatewayFields = []string{"name", "port", "sticky", "virtual_hosts", "routes", "policy"}
	routeFields   = []string{"weight", "condition", "condition_strength", "rewrites", "balance", "timeout", "retries", "require_ready", "selector", "mirror", "reference"}
	// Fields Vamp's GET wrote (GatewaySerializationFormat.scala), taken and
	// ignored so its output can be PUT back; "warnings" is Turnout's own.
	gatewayOutputFields = []string{"kind", "lookup_name", "internal", "deployed", "service", "metadata", "warnings"}
	routeOutputFields   = []string{"targets", "lookup_name", "name", "kind", "metadata"}
	// A condition or rewrite written as an artefact of its own.
	artefactOutputFields = []string{"name", "kind", "metadata"}
)

// gateway1 decodes one gateway mapping.
func (d *decoder) gateway1(m *yaml.Node) *Gateway {
	g := &Gateway{Line: m.Line, Port: Port{Protocol: HTTP}}
	nodes := gatewayNodes{column: m.Column}
	// Name the gateway in messages from the start, even those about its
	// keys; the name itself is checked below.
	d.gateway, d.warnings = "", nil
	defer func() { d.gateway, d.warnings = "", nil }()
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k, v := m.Content[i], m.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && !isNull(v) {
			d.gateway = v.Value
			break
		}
	}

	fields := d.entries(m, "", "field")
	nameAt, named := m, false
	for _, e := range fields {
		if e.name != "name" {
			continue
		}
		nameAt = e.val
		if isNull(e.val) {
			break
		}
		s, ok := d.text(e.val, "name", "name", "a string")
		if !ok || s == "" {
			named = !ok // the type error is already reported
			break
		}
		named, nodes.name, g.Name = true, e.val, s
		if err := checkName(s); err != nil {
			d.fail(e.val, "name", err)
		}
	}
	if !named {
		d.fail(nameAt, "name", errors.New("name is required"))
	}

	var sticky, vhosts, routesKey *yaml.Node
	var routes []routeNodes
	portOK, weightsOK := true, true
	for _, e := range fields {
		v := e.val
		switch {
		case e.name == "name":
		case isNull(v):
			// null is the same as leaving the field out.
		case e.name == "port":
			s, ok := d.text(v, "port", "port", `a number like 8080 or a string like "8080/http"`)
			if !ok {
				portOK = false
				break
			}
			p, err := parsePort(s)
			if err != nil {
				portOK = false
				d.fail(v, "port", err)
				break
			}
			g.Port, nodes.port, g.PortText = p, v, s
		case e.name == "sticky":
			if s, ok := d.text(v, "sticky", "sticky", "route, instance or none"); ok {
				st, err := parseSticky(s)
				if err != nil {
					d.fail(v, "sticky", err)
				}
				g.Sticky, sticky = st, v
			}
		case e.name == "virtual_hosts":
			g.VirtualHosts, vhosts = d.virtualHosts(v), v
		case e.name == "routes":
			dups := d.dups
			routesKey = e.key
			g.Routes, routes = d.routes(v)
			// A dropped duplicate makes any total meaningless.
			weightsOK = d.dups == dups
		case e.name == "policy":
			g.Policy = d.policy(v)
		case e.name == "kind":
			if s, ok := d.text(v, "kind", "kind", `"gateway"`); ok && s != "gateway" && s != "gateways" {
				d.fail(v, "kind", fmt.Errorf("kind must be \"gateway\" or \"gateways\", got %q", s))
			}
		case slices.Contains(gatewayOutputFields, e.name):
		default:
			d.fail(e.key, "", unknownField(e.name, gatewayFields))
		}
	}

	// A tcp gateway has no HTTP request to look into.
	if portOK && g.Port.Protocol == TCP {
		if g.Sticky != StickyNone {
			d.fail(sticky, "sticky", ErrStickyTCP)
		}
		if len(g.VirtualHosts) > 0 {
			d.fail(vhosts, "virtual_hosts", ErrVirtualHostTCP)
		}
	}
	given := make([]bool, len(routes))
	pending := make([]bool, len(routes))
	for i, r := range routes {
		given[i], pending[i] = r.weight != nil, r.pending
	}
	if slices.Contains(pending, true) {
		// The split waits for the stored routes' weights (ResolveRoutes).
		g.refs = &refState{given: given, pending: pending}
		weightsOK = false
	}
	d.routeRules(g, routes, routesKey, portOK, weightsOK, given)
	d.nodes[g] = nodes
	g.Warnings = d.warnings
	return g
}

// routeRules checks the rules across a gateway's routes and fields, and
// splits the weights (given says which routes' weights were written).
func (d *decoder) routeRules(g *Gateway, routes []routeNodes, routesKey *yaml.Node, portOK, weightsOK bool, given []bool) {
	if portOK && g.Port.Protocol == TCP {
		for i, r := range g.Routes {
			if r.Conditioned() {
				d.fail(routes[i].condition, routePath(r.Name)+".condition", ErrConditionTCP)
			}
			if len(r.Rewrites) > 0 {
				d.fail(routes[i].rewrites, routePath(r.Name)+".rewrites", ErrRewriteTCP)
			}
		}
	}
	for i, r := range g.Routes {
		if r.Mirror == nil {
			continue
		}
		path := routePath(r.Name) + ".mirror"
		switch {
		case portOK && g.Port.Protocol == TCP:
			d.fail(routes[i].mirror, path, ErrMirrorTCP)
		case r.Mirror.Route == r.Name:
			d.fail(routes[i].mirror, path, fmt.Errorf("a route cannot mirror to itself"))
		case !slices.ContainsFunc(g.Routes, func(o Route) bool { return o.Name == r.Mirror.Route }):
			d.fail(routes[i].mirror, path, fmt.Errorf("mirror: no route %q in the gateway (mirrored copies go to another route of it)", r.Mirror.Route))
		}
	}
	if weightsOK && len(g.Routes) > 0 && !slices.ContainsFunc(routes, func(r routeNodes) bool { return r.badWeight }) {
		if err := assignWeights(g.Routes, given); err != nil {
			d.fail(routesKey, "routes", err)
		}
	}
}

func (d *decoder) virtualHosts(v *yaml.Node) []string {
	var items []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{v}
	case yaml.SequenceNode:
		items = v.Content
	default:
		d.fail(v, "virtual_hosts", fmt.Errorf("virtual_hosts must be a host name or a list of host names, got %s", describe(v)))
		return nil
	}
	var hosts []string
	seen := map[string]bool{}
	for i, n := range items {
		if n = d.deref(n); n == nil {
			break
		}
		path := "virtual_hosts"
		if v.Kind == yaml.SequenceNode {
			path = fmt.Sprintf("virtual_hosts[%d]", i)
		}
		s, ok := d.text(n, path, "virtual host", "a host name")
		if !ok {
			continue
		}
		h, err := parseVirtualHost(s)
		switch {
		case err != nil:
			d.fail(n, path, err)
		case seen[h]:
			d.fail(n, path, fmt.Errorf("duplicate virtual host %q", h))
		default:
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// routeNodes keeps where a route's fields are, for the cross-field rules.
type routeNodes struct {
	condition, rewrites, weight, mirror *yaml.Node
	badWeight                           bool
	// pending: the route references a stored route and has no fields yet.
	pending bool
}

func routePath(name string) string { return "routes." + strconv.Quote(name) }

// routes reads Vamp's three forms: a mapping of route key to route, a single
// route key, or a list of route keys (or of one-key mappings).
func (d *decoder) routes(v *yaml.Node) ([]Route, []routeNodes) {
	var es []entry
	switch v.Kind {
	case yaml.MappingNode:
		es = d.entries(v, "routes", "route")
	case yaml.ScalarNode:
		es = []entry{{v.Value, v, nil}}
	case yaml.SequenceNode:
		seen := map[string]*yaml.Node{}
		add := func(e entry) {
			if first, ok := seen[e.name]; ok {
				d.dups++
				d.fail(e.key, "routes", fmt.Errorf("duplicate route %q (first at line %d)", e.name, first.Line))
				return
			}
			seen[e.name] = e.key
			es = append(es, e)
		}
		for i, n := range v.Content {
			if n = d.deref(n); n == nil {
				break
			}
			if name, ok := flowRouteKey(n); ok {
				n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: n.Line, Column: n.Column}
			}
			switch {
			case n.Kind == yaml.ScalarNode && !isNull(n):
				add(entry{n.Value, n, nil})
			case n.Kind == yaml.MappingNode:
				for _, e := range d.entries(n, "routes", "route") {
					add(e)
				}
			default:
				d.fail(n, fmt.Sprintf("routes[%d]", i), fmt.Errorf("a route must be a route key or a mapping of route keys to routes, got %s", describe(n)))
			}
		}
	default:
		d.fail(v, "routes", fmt.Errorf("routes must be a mapping of route keys to routes, got %s", describe(v)))
	}
	var routes []Route
	var nodes []routeNodes
	for _, e := range es {
		r, n := d.route(e)
		routes = append(routes, r)
		nodes = append(nodes, n)
	}
	return routes, nodes
}

// route decodes one route; e.val is nil for the shorthand forms.
func (d *decoder) route(e entry) (Route, routeNodes) {
	path := routePath(e.name)
	r := Route{Name: e.name, Balance: BalanceDefault}
	var nodes routeNodes
	t, err := ParseTarget(e.name)
	if err != nil {
		d.fail(e.key, path, err)
	}
	r.Target = t
	// Only plugin targets have a readiness to wait for.
	r.RequireReady = err == nil && t.Plugin()
	if e.val == nil || isNull(e.val) {
		return r, nodes
	}
	nodes = d.routeBody(&r, e.key, e.val, path)
	return r, nodes
}

// routeBody decodes a route's value into r: its fields, or the name of a
// stored route. path prefixes the fields in messages ("" for a stored
// route's own document, whose r has no name and no target yet).
func (d *decoder) routeBody(r *Route, key, val *yaml.Node, path string) routeNodes {
	var nodes routeNodes
	var err error
	sub := func(field string) string {
		if path == "" {
			return field
		}
		return path + "." + field
	}
	if val.Kind == yaml.ScalarNode {
		// Vamp's `KEY: NAME`: the route is the stored route NAME.
		r.RouteRef = d.routeRef(val, path)
		nodes.pending = r.RouteRef != ""
		return nodes
	}
	if val.Kind != yaml.MappingNode {
		d.fail(val, path, fmt.Errorf("a route must be a mapping of route fields or the name of a stored route, got %s", describe(val)))
		return nodes
	}
	var strength *yaml.Node
	readyGiven, fields := false, 0
	for _, f := range d.entries(val, path, "field") {
		v, fpath := f.val, sub(f.name)
		if !isNull(v) && f.name != "reference" && slices.Contains(routeFields, f.name) {
			fields++
		}
		switch {
		case isNull(v):
		case f.name == "reference":
			r.RouteRef = d.routeRef(v, fpath)
		case f.name == "weight":
			s, ok := d.text(v, fpath, "weight", `a percentage like "50%"`)
			if ok {
				r.Weight, err = parsePercent("weight", s)
				if err != nil {
					d.fail(v, fpath, err)
					ok = false
				}
			}
			nodes.weight, nodes.badWeight = v, !ok
		case f.name == "condition":
			r.Condition, r.Match, r.ConditionRef = d.condition(v, fpath)
			if r.Conditioned() {
				nodes.condition = v
			}
		case f.name == "condition_strength":
			if s, ok := d.text(v, fpath, "condition_strength", `a percentage like "50%"`); ok {
				if r.ConditionStrength, err = parsePercent("condition_strength", s); err != nil {
					d.fail(v, fpath, err)
				} else {
					strength = v
				}
			}
		case f.name == "rewrites":
			r.Rewrites = d.rewrites(v, fpath)
			nodes.rewrites = v
		case f.name == "balance":
			if s, ok := d.text(v, fpath, "balance", "default, roundrobin or leastconn"); ok {
				if b, err := parseBalance(s); err != nil {
					d.fail(v, fpath, err)
				} else {
					r.Balance = b
				}
			}
		case f.name == "timeout":
			if s, ok := d.text(v, fpath, "timeout", `a duration like "5s"`); ok {
				if r.Timeout, err = parseTimeout(s); err != nil {
					d.fail(v, fpath, err)
				}
			}
		case f.name == "retries":
			if s, ok := d.text(v, fpath, "retries", "a whole number from 0 to 10"); ok {
				if n, err := parseRetries(s); err != nil {
					d.fail(v, fpath, err)
				} else {
					r.Retries = &n
				}
			}
		case f.name == "require_ready":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				d.fail(v, fpath, fmt.Errorf("require_ready must be true or false, got %s", describe(v)))
			} else {
				r.RequireReady = v.Value == "true"
				readyGiven = true
			}
		case f.name == "mirror":
			r.Mirror, nodes.mirror = d.mirror(v, fpath), v
		case f.name == "selector":
			if s, ok := d.text(v, fpath, "selector", `a selector like "label(app)(shop)"`); ok {
				d.selector(r, key, v, fpath, s)
				if !readyGiven {
					r.RequireReady = r.Target.Plugin()
				}
			}
		case slices.Contains(routeOutputFields, f.name):
		default:
			d.fail(f.key, path, unknownField(f.name, routeFields))
		}
	}
	// {reference: NAME} alone waits for the stored route's fields; with
	// fields beside it, it is a stored gateway's copy of them.
	nodes.pending = r.RouteRef != "" && fields == 0
	switch {
	case r.Conditioned() && strength == nil:
		r.ConditionStrength = Full
	case !r.Conditioned() && r.ConditionStrength != 0:
		// Vamp accepted it; it does nothing, which the writer should know.
		d.warn(sub("condition_strength"), ErrStrengthWithoutCondition)
	}
	return nodes
}

// routeRef reads the name of a stored route a route references.
func (d *decoder) routeRef(v *yaml.Node, path string) string {
	s, ok := d.text(v, path, "a route", "a mapping of route fields or the name of a stored route")
	if !ok {
		return ""
	}
	if s = strings.TrimSpace(s); s == "" {
		d.fail(v, path, errors.New("a stored route's name is empty"))
	}
	return s
}

// mirror reads `mirror: {route: KEY, share: "N%"}` (or `mirror: KEY`, all
// of the requests); the route it names is checked with the gateway's.
func (d *decoder) mirror(v *yaml.Node, path string) *Mirror {
	m := &Mirror{Share: Full}
	switch v.Kind {
	case yaml.ScalarNode:
		m.Route = strings.TrimSpace(v.Value)
	case yaml.MappingNode:
		for _, f := range d.entries(v, path, "field") {
			switch f.name {
			case "route":
				if s, ok := d.text(f.val, path+".route", "route", "the key of another route of the gateway"); ok {
					m.Route = strings.TrimSpace(s)
				}
			case "share":
				if s, ok := d.text(f.val, path+".share", "share", `a percentage like "10%"`); ok {
					w, err := parsePercent("share", s)
					if err != nil {
						d.fail(f.val, path+".share", err)
					} else {
						m.Share = w
					}
				}
			default:
				d.fail(f.key, path, unknownField(f.name, []string{"route", "share"}))
			}
		}
	default:
		d.fail(v, path, fmt.Errorf("mirror must be a route key or {route: KEY, share: \"N%%\"}, got %s", describe(v)))
		return nil
	}
	if m.Route == "" {
		d.fail(v, path, errors.New("mirror needs the key of the route the copies go to"))
		return nil
	}
	return m
}

// selector reads a route's selector (Vamp's GatewayReader.scala checks):
// the route key is then the route's name, one segment that is neither an
// address nor a path, and the route's target is the selection.
func (d *decoder) selector(r *Route, key, v *yaml.Node, path, text string) {
	text = strings.TrimSpace(text)
	if _, err := selector.Parse(text); err != nil {
		d.fail(v, path, err)
		return
	}
	switch {
	case key == nil:
		// A stored route's: the key is checked in each gateway using it.
	case r.Target.Kind == Static:
		d.fail(key, path, ErrSelectorExternal)
		return
	case r.Target.Kind != GatewayRef || strings.Contains(r.Name, "/"):
		d.fail(key, path, ErrSelectorPath)
		return
	}
	r.Selector = text
	if key != nil {
		r.Target = SelectorTarget(text)
	}
}

// condition reads a condition as a string, in Vamp's output form
// {condition: "..."} (with name, kind and metadata when it was a named
// one), or as Vamp's reference to a named condition {reference: NAME}
// (WeakConditionReader in Vamp's GatewayReader.scala; written back by
// serializeReference in GatewaySerializationFormat.scala). Turnout stores a
// reference with the text it resolved to, {reference: NAME, condition:
// "..."}. The text is compiled; "" is no condition.
func (d *decoder) condition(v *yaml.Node, path string) (text string, m *condition.Matcher, ref string) {
	const expect = `a string, {condition: "..."} or {reference: NAME}`
	at := v
	if v.Kind == yaml.MappingNode {
		at = nil
		for _, f := range d.entries(v, path, "field") {
			switch {
			case f.name == "condition":
				at = f.val
			case f.name == "reference":
				if s, ok := d.text(f.val, path+".reference", "reference", "the name of a condition"); ok {
					if ref = strings.TrimSpace(s); ref == "" {
						d.fail(f.val, path+".reference", errors.New("reference must name a condition, got \"\""))
					}
				}
			case slices.Contains(artefactOutputFields, f.name):
			default:
				d.fail(f.key, path, unknownField(f.name, []string{"condition", "reference"}))
			}
		}
		if at == nil || isNull(at) {
			return "", nil, ref
		}
	}
	s, ok := d.text(at, path, "condition", expect)
	if !ok {
		return "", nil, ref
	}
	text, m = d.compile(at, path, s)
	return text, m, ref
}

// compile compiles condition text; the condition's own position stays in
// the wrapped *condition.SyntaxError.
func (d *decoder) compile(at *yaml.Node, path, s string) (string, *condition.Matcher) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	m, err := condition.Compile(s)
	if err != nil {
		d.fail(at, path, fmt.Errorf("invalid condition %q: %w", s, err))
	}
	return s, m
}

// rewrites reads a list of {path: "NEW if COND"}; a single mapping is taken
// as a list of one, as Vamp did.
func (d *decoder) rewrites(v *yaml.Node, path string) []Rewrite {
	const expect = `a list of {path: "NEW if CONDITION"}`
	items := []*yaml.Node{v}
	switch v.Kind {
	case yaml.SequenceNode:
		items = v.Content
	case yaml.MappingNode:
	default:
		d.fail(v, path, fmt.Errorf("rewrites must be %s, got %s", expect, describe(v)))
		return nil
	}
	var out []Rewrite
	for i, n := range items {
		if n = d.deref(n); n == nil {
			break
		}
		ipath := path
		if v.Kind == yaml.SequenceNode {
			ipath = fmt.Sprintf("%s[%d]", path, i)
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, ipath, fmt.Errorf("a rewrite must be {path: \"NEW if CONDITION\"}, got %s", describe(n)))
			continue
		}
		var def *yaml.Node
		for _, f := range d.entries(n, ipath, "field") {
			switch {
			case f.name == "path":
				def = f.val
			case slices.Contains(artefactOutputFields, f.name):
			default:
				d.fail(f.key, ipath, unknownField(f.name, []string{"path"}))
			}
		}
		if def == nil || isNull(def) {
			d.fail(n, ipath+".path", errors.New(`a rewrite needs path: "NEW if CONDITION"`))
			continue
		}
		s, ok := d.text(def, ipath+".path", "rewrite path", `"NEW if CONDITION"`)
		if !ok {
			continue
		}
		newPath, cond, err := splitRewrite(s)
		if err != nil {
			d.fail(def, ipath+".path", err)
			continue
		}
		cond, m := d.compile(def, ipath+".path", cond)
		out = append(out, Rewrite{Path: newPath, Condition: cond, Match: m})
	}
	return out
}

// unescapeSlashes rewrites JSON's `\/` escape, which YAML's double-quoted
// strings lack, to a plain "/" so that JSON from any encoder parses.
// Columns after it on the same line move left by one.
func unescapeSlashes(data []byte) []byte {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || !bytes.Contains(data, []byte(`\/`)) {
		return data
	}
	out := make([]byte, 0, len(data))
	var quote byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case quote == '"' && c == '\\' && i+1 < len(data):
			if data[i+1] != '/' {
				out = append(out, c)
			}
			out = append(out, data[i+1])
			i++
			continue
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == c:
			quote = 0
		}
		out = append(out, c)
	}
	return out
}
