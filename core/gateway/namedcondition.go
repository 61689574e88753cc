package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/condition"
)

// NamedCondition is Vamp's condition artefact (kind "conditions", its
// /api/v1/conditions): a condition with a name, which routes reference as
// `condition: {reference: NAME}`. Vamp wrote it as {name, kind, metadata,
// condition} (ConditionSerializer in GatewaySerializationFormat.scala) and
// read it with ConditionReader (GatewayReader.scala).
type NamedCondition struct {
	Name      string
	Condition string
	Match     *condition.Matcher
}

// ConditionKind is Vamp's kind of a named condition (Condition.kind in
// Vamp's model/artifact/Gateway.scala).
const ConditionKind = "conditions"

// ErrUnknownCondition: a route references a named condition that does not
// exist.
var ErrUnknownCondition = errors.New("no such named condition")

// conditionFields are the fields of a named condition document.
var conditionFields = []string{"name", "kind", "metadata", "condition"}

// DecodeCondition reads one named condition, YAML or JSON, in Vamp's form
// {name, kind: conditions, metadata, condition}; metadata is accepted and
// not kept. The condition text is compiled, so a bad one fails with its
// position. source names the input in messages ("" for an API body).
func DecodeCondition(data []byte, source string) (*NamedCondition, error) {
	d := newDecoder(data, source)
	c := d.namedCondition(data)
	if err := d.result(); err != nil {
		return nil, err
	}
	return c, nil
}

func (d *decoder) namedCondition(data []byte) *NamedCondition {
	m := d.oneMapping(data, "named condition", "{name, condition}")
	if m == nil {
		return nil
	}
	c := &NamedCondition{}
	var text *yaml.Node
	for _, f := range d.entries(m, "", "field") {
		switch f.name {
		case "name":
			if s, ok := d.text(f.val, "name", "name", "a string"); ok {
				if err := checkName(s); err != nil {
					d.fail(f.val, "name", err)
				}
				c.Name = s
			}
		case "kind":
			if s, ok := d.text(f.val, "kind", "kind", `"conditions"`); ok && s != ConditionKind && s != "condition" {
				d.fail(f.val, "kind", fmt.Errorf("kind must be %q, got %q", ConditionKind, s))
			}
		case "metadata":
		case "condition":
			text = f.val
		default:
			d.fail(f.key, "", unknownField(f.name, conditionFields))
		}
	}
	if c.Name == "" && !slices.ContainsFunc(d.errs, func(e *FieldError) bool { return e.Field == "name" }) {
		d.fail(m, "name", errors.New("a named condition needs a name"))
	}
	if text == nil || isNull(text) {
		d.fail(m, "condition", errors.New(`a named condition needs condition: "..." (e.g. "user-agent = Firefox")`))
		return c
	}
	if s, ok := d.text(text, "condition", "condition", "a string"); ok {
		if c.Condition, c.Match = d.compile(text, "condition", s); c.Condition == "" && c.Match == nil {
			d.fail(text, "condition", errors.New("condition is empty"))
		}
	}
	return c
}

// MarshalJSON writes Vamp's form, {name, kind, metadata, condition}, with
// conditions read as written ("&&", not "\u0026\u0026").
func (c *NamedCondition) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Name      string         `json:"name"`
		Kind      string         `json:"kind"`
		Metadata  map[string]any `json:"metadata"`
		Condition string         `json:"condition"`
	}{c.Name, ConditionKind, map[string]any{}, c.Condition})
	return bytes.TrimRight(b.Bytes(), "\n"), err
}

// ConditionRefs lists the named conditions the gateway's routes reference,
// sorted, each once.
func (g *Gateway) ConditionRefs() []string {
	return g.refNames(func(r *Route) string { return r.ConditionRef })
}

// ResolveConditions gives every route that references a named condition
// the condition's current text, compiled, as Vamp's ArtifactExpansion
// expanded a ConditionReference when the gateway was written. lookup
// returns a condition's text; a missing one is an error naming the route
// and the reference (wrapping ErrUnknownCondition). It reports whether any
// route's text changed.
func (g *Gateway) ResolveConditions(lookup func(name string) (string, bool)) (changed bool, err error) {
	var errs ErrorList
	for i := range g.Routes {
		r := &g.Routes[i]
		if r.ConditionRef == "" {
			continue
		}
		field := routePath(r.Name) + ".condition.reference"
		text, ok := lookup(r.ConditionRef)
		if !ok {
			errs = append(errs, &FieldError{Gateway: g.Name, Field: field,
				Err: fmt.Errorf("%w %q (create it with PUT /api/v1/conditions/%s)", ErrUnknownCondition, r.ConditionRef, r.ConditionRef)})
			continue
		}
		if g.Port.Protocol == TCP {
			errs = append(errs, &FieldError{Gateway: g.Name, Field: field, Err: ErrConditionTCP})
			continue
		}
		text = strings.TrimSpace(text)
		if text == r.Condition && r.Match != nil {
			continue
		}
		m, err := condition.Compile(text)
		if err != nil {
			errs = append(errs, &FieldError{Gateway: g.Name, Field: field,
				Err: fmt.Errorf("condition %q: invalid condition %q: %w", r.ConditionRef, text, err)})
			continue
		}
		changed = changed || text != r.Condition
		r.Condition, r.Match = text, m
	}
	return changed, errs.err()
}

// UnresolvedConditions returns an error naming the first route that
// references a named condition without its text: such a gateway cannot
// serve until the API resolves it (named conditions live in the API's
// store, not in a gateway file).
func (g *Gateway) UnresolvedConditions() error {
	return g.referenceError(func(r *Route) bool { return r.Condition == "" })
}

// ConditionReferences returns an error naming the first route that
// references a named condition at all, resolved or not: a gateway file's
// routes cannot, since named conditions live in the API's store and a
// file's gateway would not follow a change of one.
func (g *Gateway) ConditionReferences() error {
	return g.referenceError(func(*Route) bool { return true })
}

func (g *Gateway) referenceError(refused func(*Route) bool) error {
	for i := range g.Routes {
		if r := &g.Routes[i]; r.ConditionRef != "" && refused(r) {
			return &FieldError{Gateway: g.Name, Line: g.Line, Field: routePath(r.Name) + ".condition.reference",
				Err: fmt.Errorf("references the named condition %q, and named conditions live in the API's store (PUT /api/v1/conditions/%s, then apply this gateway through the API); a gateway file takes the condition's text instead", r.ConditionRef, r.ConditionRef)}
		}
	}
	return nil
}
