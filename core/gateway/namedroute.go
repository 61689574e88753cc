package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// NamedRoute is Vamp's route artefact (kind "routes", its /api/v1/routes):
// route fields with a name and no target. A gateway's route takes them as
// `KEY: NAME` or `KEY: {reference: NAME}`, its key saying where requests
// go (RouteReader and RouteReference in Vamp's GatewayReader.scala and
// Gateway.scala; ArtifactExpansion.scala expands the reference when the
// gateway is written, as ResolveRoutes does).
type NamedRoute struct {
	Name string
	// Route is the fields as decoded, for display: no Name, no Target.
	Route Route
	// fields is the document as read, which ResolveRoutes decodes again
	// under each gateway's route key (the key decides the target, the
	// selector's rules and the readiness default).
	fields *yaml.Node
	// weightGiven and readyGiven say whether the document set them: without
	// a weight the route takes Vamp's even split (or keeps the weight the
	// gateway gives it), and require_ready defaults by target.
	weightGiven, readyGiven bool
}

// RouteKind is Vamp's kind of a stored route (Route.kind in Vamp's
// model/artifact/Gateway.scala).
const RouteKind = "routes"

// ErrUnknownRoute: a gateway's route references a stored route that does
// not exist.
var ErrUnknownRoute = errors.New("no such stored route")

// DecodeRoute reads one stored route, YAML or JSON, in Vamp's form {name,
// kind: routes, metadata, weight, condition, condition_strength, rewrites,
// balance, selector} with Turnout's route fields beside them (timeout,
// retries, require_ready, mirror); metadata is accepted and not kept. Each
// field is checked as in a gateway's route. source names the input in
// messages ("" for an API body).
func DecodeRoute(data []byte, source string) (*NamedRoute, error) {
	d := newDecoder(data, source)
	nr := d.namedRoute(data)
	if err := d.result(); err != nil {
		return nil, err
	}
	return nr, nil
}

func (d *decoder) namedRoute(data []byte) *NamedRoute {
	m := d.oneMapping(data, "stored route", "{name, weight, condition, ...}")
	if m == nil {
		return nil
	}
	nr := &NamedRoute{fields: m}
	// The route's fields as a gateway's route reads them (which takes name,
	// kind and metadata as Vamp's output fields and reports duplicates).
	nr.weightGiven = d.routeBody(&nr.Route, nil, m, "").weight != nil
	named := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(v) {
			continue
		}
		switch k.Value {
		case "name":
			if s, ok := d.text(v, "name", "name", "a string"); ok {
				if err := checkName(s); err != nil {
					d.fail(v, "name", err)
				}
				nr.Name, named = s, true
			}
		case "kind":
			if s, ok := d.text(v, "kind", "kind", `"routes"`); ok && s != RouteKind && s != "route" {
				d.fail(v, "kind", fmt.Errorf("kind must be %q, got %q", RouteKind, s))
			}
		case "reference":
			d.fail(k, "reference", errors.New("a stored route cannot reference another one: write its fields"))
		case "require_ready":
			nr.readyGiven = true
		}
	}
	if !named && !slices.ContainsFunc(d.errs, func(e *FieldError) bool { return e.Field == "name" }) {
		d.fail(m, "name", errors.New("a stored route needs a name"))
	}
	return nr
}

// MarshalJSON writes Vamp's form, {name, kind, metadata, weight, ...}: the
// route's fields as a gateway writes them, with weight null when the
// stored route leaves it to the gateway (as Vamp wrote an unset weight).
func (nr *NamedRoute) MarshalJSON() ([]byte, error) {
	m := mapping()
	add(m, "name", str(nr.Name))
	add(m, "kind", str(RouteKind))
	add(m, "metadata", mapping())
	fields := nr.Route.node()
	for i := 0; i+1 < len(fields.Content); i += 2 {
		switch fields.Content[i].Value {
		case "weight":
			if !nr.weightGiven {
				fields.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
			}
		case "require_ready":
			continue // written below, only when the document set it
		}
		m.Content = append(m.Content, fields.Content[i], fields.Content[i+1])
	}
	if nr.readyGiven {
		add(m, "require_ready", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(nr.Route.RequireReady)})
	}
	var b bytes.Buffer
	err := writeJSON(&b, m)
	return b.Bytes(), err
}

// refState is what a gateway decoded with references to stored routes not
// resolved yet keeps for ResolveRoutes: which routes' weights the document
// gave, and which routes wait for a stored route's fields.
type refState struct {
	given, pending []bool
}

// written is route i's node as a gateway not resolved yet writes it: a
// route waiting for a stored route's fields as {reference: NAME} alone,
// and no weight where the document gave none, so that the API splits the
// weights once the stored routes' are in (`gateway apply` sends what it
// read this way).
func (rs *refState) written(i int, n *yaml.Node) *yaml.Node {
	if rs == nil {
		return n
	}
	if rs.pending[i] {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: n.Content[:2]}
	}
	if !rs.given[i] {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "weight" {
				n.Content = append(n.Content[:j:j], n.Content[j+2:]...)
				break
			}
		}
	}
	return n
}

// RouteRefs lists the stored routes the gateway's routes reference,
// sorted, each once.
func (g *Gateway) RouteRefs() []string {
	return g.refNames(func(r *Route) string { return r.RouteRef })
}

// refNames lists the names ref gives the routes ("" for none), sorted,
// each once.
func (g *Gateway) refNames(ref func(*Route) string) []string {
	var out []string
	for i := range g.Routes {
		if n := ref(&g.Routes[i]); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ResolveRoutes gives every route that references a stored route the
// stored route's current fields, read under the route's own key, as Vamp's
// ArtifactExpansion expanded a RouteReference when the gateway was
// written; the key keeps deciding the target. A stored route without a
// weight leaves the route the weight the gateway gave it (the gateway's
// document, a policy's step), or Vamp's even split when it has none yet.
// The rules across routes (weights summing to 100%, mirrors, tcp) are
// checked again after. lookup returns a stored route; a missing one is an
// error naming the route and the reference (wrapping ErrUnknownRoute).
// Conditions the stored routes reference are left to ResolveConditions.
func (g *Gateway) ResolveRoutes(lookup func(name string) (*NamedRoute, bool)) error {
	if !slices.ContainsFunc(g.Routes, func(r Route) bool { return r.RouteRef != "" }) {
		return nil
	}
	d := newDecoder(nil, "")
	d.gateway = g.Name
	nodes := make([]routeNodes, len(g.Routes))
	given := make([]bool, len(g.Routes))
	for i := range g.Routes {
		r := &g.Routes[i]
		// A stored gateway wrote every weight.
		given[i] = g.refs == nil || g.refs.given[i]
		if r.RouteRef == "" {
			continue
		}
		nr, ok := lookup(r.RouteRef)
		if !ok {
			d.fail(nil, routePath(r.Name)+".reference",
				fmt.Errorf("%w %q (create it with PUT /api/v1/routes/%s)", ErrUnknownRoute, r.RouteRef, r.RouteRef))
			continue
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r.Name}
		next, n := d.route(entry{r.Name, key, nr.fields})
		next.RouteRef = r.RouteRef
		// The stored route's weight, else the one the gateway gave.
		if !nr.weightGiven && given[i] {
			next.Weight = r.Weight
		} else {
			given[i] = nr.weightGiven
		}
		*r, nodes[i] = next, n
	}
	if len(d.errs) == 0 {
		d.routeRules(g, nodes, nil, true, true, given)
	}
	if len(d.errs) == 0 {
		g.refs = nil
	}
	for _, w := range d.warnings {
		if !slices.Contains(g.Warnings, w) {
			g.Warnings = append(g.Warnings, w)
		}
	}
	// Positions in a stored route's document mean nothing to the writer
	// of the gateway.
	for _, fe := range d.errs {
		fe.Line, fe.Column = 0, 0
	}
	return d.errs.err()
}

// UnresolvedRoutes returns an error naming the first route that waits for
// a stored route's fields: such a gateway cannot serve until the API
// resolves it (stored routes live in the API's store).
func (g *Gateway) UnresolvedRoutes() error {
	for i, r := range g.Routes {
		if g.refs != nil && g.refs.pending[i] {
			return routeReferenceError(g, r.Name, r.RouteRef)
		}
	}
	return nil
}

// RouteReferences returns an error naming the first route that references
// a stored route at all, resolved or not: a gateway file's routes cannot,
// since stored routes live in the API's store and a file's gateway would
// not follow a change of one.
func (g *Gateway) RouteReferences() error {
	for _, r := range g.Routes {
		if r.RouteRef != "" {
			return routeReferenceError(g, r.Name, r.RouteRef)
		}
	}
	return nil
}

func routeReferenceError(g *Gateway, route, ref string) error {
	return &FieldError{Gateway: g.Name, Line: g.Line, Field: routePath(route) + ".reference",
		Err: fmt.Errorf("references the stored route %q, and stored routes live in the API's store (PUT /api/v1/routes/%s, then apply this gateway through the API); a gateway file takes the route's fields instead", ref, ref)}
}
