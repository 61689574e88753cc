package gateway

import (
	"errors"
	"strings"
	"testing"
)

// Vamp's named condition artefact: {name, kind: conditions, metadata,
// condition} (ConditionSerializer, model/src/main/scala/io/vamp/model/
// serialization/GatewaySerializationFormat.scala), read by ConditionReader
// (model/src/main/scala/io/vamp/model/reader/GatewayReader.scala), whose
// "condition" is required (<<![String]("condition")).
func TestDecodeCondition(t *testing.T) {
	tests := []struct {
		name, doc  string
		wantName   string
		wantText   string
		wantErrors []string
	}{
		{"vamp's full form", `{"name": "firefox", "kind": "conditions", "metadata": {}, "condition": "user-agent = Firefox"}`,
			"firefox", "user-agent = Firefox", nil},
		{"yaml, kind omitted", "name: ff\ncondition: user-agent == Firefox && host = example.com\n",
			"ff", "user-agent == Firefox && host = example.com", nil},
		{"bad condition names its line and position", "name: ff\ncondition: user-agent ==\n",
			"", "", []string{`line 2:12: condition: invalid condition "user-agent =="`}},
		{"no condition", "name: ff\n", "", "", []string{`condition: a named condition needs condition: "..."`}},
		{"no name", "condition: user-agent = Firefox\n", "", "", []string{"name: a named condition needs a name"}},
		{"wrong kind", "name: ff\nkind: gateways\ncondition: user-agent = Firefox\n", "", "",
			[]string{`line 2:7: kind: kind must be "conditions", got "gateways"`}},
		{"unknown field", "name: ff\ncondition: x = y\nfilters: z\n", "", "", []string{`unknown field "filters": Vamp 0.9 renamed it "condition"`}},
		{"name with a space", "name: f f\ncondition: x = y\n", "", "", []string{"name must not contain whitespace"}},
		{"two documents", "name: a\ncondition: x = y\n---\nname: b\ncondition: x = y\n", "", "", []string{"expected one named condition"}},
		{"a list", "- name: a\n", "", "", []string{"expected a named condition {name, condition}, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeCondition([]byte(tt.doc), "")
			if tt.wantErrors == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Name != tt.wantName || c.Condition != tt.wantText || c.Match == nil {
					t.Fatalf("got %+v", c)
				}
				// What is stored reads back the same.
				j, err := c.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodeCondition(j, "stored")
				if err != nil || back.Name != c.Name || back.Condition != c.Condition {
					t.Fatalf("round trip of %s: %+v %v", j, back, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			for _, want := range tt.wantErrors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// The stored form writes && as it is, not as \u0026.
func TestNamedConditionJSON(t *testing.T) {
	c := &NamedCondition{Name: "ff", Condition: "user-agent = Firefox && host = a"}
	j, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"ff","kind":"conditions","metadata":{},"condition":"user-agent = Firefox && host = a"}`; string(j) != want {
		t.Fatalf("got %s, want %s", j, want)
	}
}

// A reference resolves as Vamp's ArtifactExpansion.expandRoute expanded a
// ConditionReference to the DefaultCondition it names
// (persistence/src/main/scala/io/vamp/persistence/ArtifactExpansion.scala):
// the route takes the named condition's text; an unknown name is an error
// naming the route and the reference (Vamp: ArtifactNotFound).
func TestResolveConditions(t *testing.T) {
	doc := `
name: sava
port: 9050/http
routes:
  "[10.0.0.1:3000]": {weight: 100%}
  "[10.0.0.2:3000]":
    weight: 0%
    condition: {reference: firefox}
  "[10.0.0.3:3000]":
    weight: 0%
    condition: {reference: chrome}
`
	g, err := DecodeOne([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if refs := g.ConditionRefs(); strings.Join(refs, ",") != "chrome,firefox" {
		t.Fatalf("refs %v", refs)
	}
	// Unresolved, the gateway cannot serve: the set check refuses it.
	if err := ValidateSet([]*Gateway{g}); err == nil || !strings.Contains(err.Error(), `routes."[10.0.0.2:3000]".condition.reference: references the named condition "firefox", and named conditions live in the API's store`) {
		t.Fatalf("ValidateSet of an unresolved gateway: %v", err)
	}
	if r := g.Routes[1]; r.ConditionStrength != Full {
		t.Fatalf("a referenced condition defaults to strength 100%%, got %v", r.ConditionStrength)
	}
	conds := map[string]string{"firefox": "user-agent = Firefox"}
	lookup := func(n string) (string, bool) { s, ok := conds[n]; return s, ok }
	_, err = g.ResolveConditions(lookup)
	if !errors.Is(err, ErrUnknownCondition) || err.Error() != `gateway "sava": routes."[10.0.0.3:3000]".condition.reference: no such named condition "chrome" (create it with PUT /api/v1/conditions/chrome)` {
		t.Fatalf("unknown reference: %v", err)
	}
	conds["chrome"] = "user-agent = Chrome"
	if changed, err := g.ResolveConditions(lookup); err != nil || !changed {
		t.Fatalf("resolve: %v %v", changed, err)
	}
	if r := g.Routes[1]; r.Condition != "user-agent = Firefox" || r.Match == nil || r.ConditionRef != "firefox" {
		t.Fatalf("resolved route: %+v", r)
	}
	if err := ValidateSet([]*Gateway{g}); err != nil {
		t.Fatal(err)
	}
	// Resolving again against the same text changes nothing.
	if changed, err := g.ResolveConditions(lookup); err != nil || changed {
		t.Fatalf("second resolve: %v %v", changed, err)
	}
	conds["firefox"] = "user-agent = Safari"
	if changed, err := g.ResolveConditions(lookup); err != nil || !changed || g.Routes[1].Condition != "user-agent = Safari" {
		t.Fatalf("after a change: %v %v %+v", changed, err, g.Routes[1])
	}
	// The stored form keeps both and decodes without a lookup.
	j, err := g.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeOne(j, "")
	if err != nil || back.Routes[1].ConditionRef != "firefox" || back.Routes[1].Condition != "user-agent = Safari" || back.Routes[1].Match == nil {
		t.Fatalf("stored form read back: %+v %v\n%s", back, err, j)
	}
}

// A tcp gateway has no request to match: a reference is refused there as
// an inline condition is.
func TestConditionReferenceOnTCP(t *testing.T) {
	_, err := DecodeOne([]byte("name: t\nport: 9000/tcp\nroutes:\n  \"[a:1]\":\n    condition: {reference: ff}\n"), "")
	if !errors.Is(err, ErrConditionTCP) {
		t.Fatalf("got %v", err)
	}
	_, err = DecodeOne([]byte("name: t\nroutes:\n  \"[a:1]\":\n    condition: {reference: \"\"}\n"), "")
	if err == nil || !strings.Contains(err.Error(), `condition.reference: reference must name a condition`) {
		t.Fatalf("empty reference: %v", err)
	}
}
