package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Vamp's stored route: {name, kind: routes, metadata, lookup_name,
// selector, weight, balance, condition, condition_strength, rewrites}, as
// its RouteSerializer writes it (model/src/main/scala/io/vamp/model/
// serialization/GatewaySerializationFormat.scala, serializeRoute), read by
// RouteReader (model/src/main/scala/io/vamp/model/reader/GatewayReader.scala).
func TestDecodeRoute(t *testing.T) {
	tests := []struct {
		name, doc  string
		wantName   string
		check      func(*testing.T, *NamedRoute)
		wantErrors []string
	}{
		{"vamp's full form", `{"name": "conservative", "kind": "routes", "metadata": {}, "lookup_name": "a1b2",
			"selector": null, "weight": "10%", "balance": "default", "condition": "user-agent = Firefox",
			"condition_strength": "50%", "rewrites": []}`, "conservative", func(t *testing.T, nr *NamedRoute) {
			if nr.Route.Weight != 1000 || !nr.weightGiven || nr.Route.Condition != "user-agent = Firefox" || nr.Route.ConditionStrength != 5000 {
				t.Fatalf("got %+v", nr.Route)
			}
		}, nil},
		{"vamp's unset weight", `{"name": "r", "kind": "routes", "weight": null, "condition": null, "condition_strength": null}`,
			"r", func(t *testing.T, nr *NamedRoute) {
				if nr.weightGiven || nr.Route.Conditioned() {
					t.Fatalf("got %+v given %v", nr.Route, nr.weightGiven)
				}
			}, nil},
		{"turnout's fields and a named condition", "name: slow\ntimeout: 2s\nretries: 1\nrequire_ready: false\ncondition: {reference: ff}\n",
			"slow", func(t *testing.T, nr *NamedRoute) {
				if nr.Route.ConditionRef != "ff" || nr.Route.Retries == nil || !nr.readyGiven || nr.Route.RequireReady {
					t.Fatalf("got %+v", nr.Route)
				}
			}, nil},
		{"a selector waits for the gateway's key", "name: shop\nselector: label(app)(shop)\n", "shop", func(t *testing.T, nr *NamedRoute) {
			if nr.Route.Selector != "label(app)(shop)" {
				t.Fatalf("got %+v", nr.Route)
			}
		}, nil},
		{"bad weight names its line", "name: r\nweight: 150%\n", "", nil, []string{"line 2:9: weight:"}},
		{"no name", "weight: 10%\n", "", nil, []string{"name: a stored route needs a name"}},
		{"wrong kind", "name: r\nkind: conditions\n", "", nil, []string{`line 2:7: kind: kind must be "routes", got "conditions"`}},
		{"a reference to another", "name: r\nreference: s\n", "", nil, []string{"a stored route cannot reference another one"}},
		{"unknown field", "name: r\nfilters: x\n", "", nil, []string{`unknown field "filters": Vamp 0.9 renamed it "condition"`}},
		{"duplicate field once", "name: r\nweight: 1%\nweight: 2%\n", "", nil, []string{`line 3:1: duplicate field "weight"`}},
		{"a list", "- name: r\n", "", nil, []string{"expected a stored route {name, weight, condition, ...}, got a list"}},
		{"nothing", "", "", nil, []string{"expected a stored route, got nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nr, err := DecodeRoute([]byte(tt.doc), "")
			if tt.wantErrors == nil {
				if err != nil {
					t.Fatal(err)
				}
				if nr.Name != tt.wantName {
					t.Fatalf("name %q", nr.Name)
				}
				tt.check(t, nr)
				// What is stored reads back the same.
				j, err := nr.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodeRoute(j, "stored")
				if err != nil {
					t.Fatalf("%s: %v", j, err)
				}
				tt.check(t, back)
				if j2, _ := back.MarshalJSON(); string(j2) != string(j) {
					t.Fatalf("written again differently:\n%s\n%s", j, j2)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", nr)
			}
			for _, want := range tt.wantErrors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.wantErrors) {
				t.Errorf("%d errors, want %d: %v", n, len(tt.wantErrors), err)
			}
		})
	}
}

func mustRoute(t *testing.T, doc string) *NamedRoute {
	t.Helper()
	nr, err := DecodeRoute([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	return nr
}

// A gateway's route names a stored route as Vamp's blueprint11.yml does
// (`nocturnal-viper: conservative`, read as RouteReference("conservative")
// in model/src/test/scala/io/vamp/model/reader/BlueprintReaderSpec.scala,
// "read the reference route"), or as {reference: NAME}; the stored route's
// fields are taken under the gateway's key when the API resolves it.
func TestResolveRoutes(t *testing.T) {
	stored := map[string]*NamedRoute{
		"conservative": mustRoute(t, "name: conservative\ncondition: user-agent = Firefox\ncondition_strength: 50%\n"),
		"tenth":        mustRoute(t, "name: tenth\nweight: 10%\n"),
		"thirty":       mustRoute(t, "name: thirty\nweight: 30%\n"),
		"shop":         mustRoute(t, "name: shop\nselector: label(app)(shop)\n"),
		"ff":           mustRoute(t, "name: ff\ncondition: {reference: firefox}\n"),
		"mirrors":      mustRoute(t, "name: mirrors\nmirror: {route: \"[127.0.0.1:2]\", share: 5%}\n"),
	}
	lookup := func(n string) (*NamedRoute, bool) { nr, ok := stored[n]; return nr, ok }
	tests := []struct {
		name, doc string
		weights   []Weight // per route, after resolution
		check     func(*testing.T, *Gateway)
		wantErr   string
	}{
		{"vamp's reference takes the stored fields, even split", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": conservative\n  \"[127.0.0.1:2]\": {}\n",
			[]Weight{5000, 5000}, func(t *testing.T, g *Gateway) {
				r := g.Routes[0]
				if r.RouteRef != "conservative" || r.Condition != "user-agent = Firefox" || r.ConditionStrength != 5000 || r.Target.Kind != Static || r.Match == nil {
					t.Fatalf("route %+v", r)
				}
			}, ""},
		{"the stored weight", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {reference: tenth}\n  \"[127.0.0.1:2]\": {weight: 90%}\n",
			[]Weight{1000, 9000}, nil, ""},
		{"the gateway's weight stays when the stored route has none", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {reference: conservative, weight: 30%, condition: host = old}\n  \"[127.0.0.1:2]\": {weight: 70%}\n",
			[]Weight{3000, 7000}, func(t *testing.T, g *Gateway) {
				if g.Routes[0].Condition != "user-agent = Firefox" {
					t.Fatalf("the copy's condition won: %+v", g.Routes[0])
				}
			}, ""},
		{"a copy without a weight beside a waiting reference: the split", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {reference: conservative, condition: host = old}\n  \"[127.0.0.1:2]\": conservative\n",
			[]Weight{5000, 5000}, nil, ""},
		{"the stored weight wins over the copy's, and must still add up", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {reference: tenth, weight: 30%}\n  \"[127.0.0.1:2]\": {weight: 70%}\n",
			nil, nil, `gateway "a": routes: total route weight must be 0% or 100%, got 80%`},
		{"weights checked after", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": thirty\n  \"[127.0.0.1:2]\": {weight: 50%}\n",
			nil, nil, `gateway "a": routes: total route weight must be 0% or 100%, got 80%`},
		{"unknown", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": nope\n",
			nil, nil, `gateway "a": routes."[127.0.0.1:1]".reference: no such stored route "nope" (create it with PUT /api/v1/routes/nope)`},
		{"tcp refuses the stored condition", "name: a\nport: 9000/tcp\nroutes:\n  \"[127.0.0.1:1]\": conservative\n",
			nil, nil, `routes."[127.0.0.1:1]".condition: `},
		{"a selector needs a name key", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": shop\n",
			nil, nil, ErrSelectorExternal.Error()},
		{"a selector under a name key", "name: a\nport: 9000\nroutes:\n  shop: shop\n",
			[]Weight{10000}, func(t *testing.T, g *Gateway) {
				if g.Routes[0].Target != SelectorTarget("label(app)(shop)") || !g.Routes[0].RequireReady {
					t.Fatalf("route %+v", g.Routes[0])
				}
			}, ""},
		{"a named condition waits for ResolveConditions", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": ff\n",
			[]Weight{10000}, func(t *testing.T, g *Gateway) {
				if g.Routes[0].ConditionRef != "firefox" || g.Routes[0].Condition != "" {
					t.Fatalf("route %+v", g.Routes[0])
				}
				if _, err := g.ResolveConditions(func(string) (string, bool) { return "user-agent = Firefox", true }); err != nil || g.Routes[0].Match == nil {
					t.Fatalf("resolve conditions: %v", err)
				}
			}, ""},
		{"a mirror checked in the gateway", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": mirrors\n  \"[127.0.0.1:2]\": {}\n",
			[]Weight{5000, 5000}, nil, ""},
		{"a mirror to a route the gateway lacks", "name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": mirrors\n",
			nil, nil, `mirror: no route "[127.0.0.1:2]" in the gateway`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := DecodeOne([]byte(tt.doc), "")
			if err != nil {
				t.Fatal(err)
			}
			err = g.ResolveRoutes(lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if errors.Is(err, ErrUnknownRoute) != strings.Contains(tt.wantErr, "no such stored route") {
					t.Fatalf("errors.Is(ErrUnknownRoute) wrong for %v", err)
				}
				if g.UnresolvedRoutes() == nil && g.refs != nil {
					t.Fatal("a failed resolution reads as resolved")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.weights {
				if g.Routes[i].Weight != w {
					t.Errorf("route %s weight %v, want %v", g.Routes[i].Name, g.Routes[i].Weight, w)
				}
			}
			if tt.check != nil {
				tt.check(t, g)
			}
			if err := g.UnresolvedRoutes(); err != nil {
				t.Fatalf("resolved gateway: %v", err)
			}
			// The stored form keeps the reference with the fields, and reads
			// back as the same gateway without a lookup.
			doc, err := g.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeOne(doc, "stored")
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if err := back.UnresolvedRoutes(); err != nil {
				t.Fatalf("stored form reads as unresolved: %v", err)
			}
			again, _ := back.MarshalJSON()
			if string(again) != string(doc) {
				t.Fatalf("stored form changed on reading:\n%s\n%s", doc, again)
			}
		})
	}
}

// A gateway PUT again with its policy unchanged keeps the weights its
// policy set, also on a route that waits for a stored route's fields.
func TestKeptPolicyWeightsSurviveResolution(t *testing.T) {
	doc := "name: a\nport: 9000\npolicy: {type: canary}\nroutes:\n  \"[127.0.0.1:1]\": {weight: 100%}\n  \"[127.0.0.1:2]\": canary\n"
	stored, err := DecodeOne([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	stored.Routes[0].Weight, stored.Routes[1].Weight = 7000, 3000
	g, err := DecodeOne([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if !g.KeepPolicyWeights(stored) {
		t.Fatal("weights not kept")
	}
	if err := g.ResolveRoutes(func(string) (*NamedRoute, bool) { return mustRoute(t, "name: canary\ntimeout: 2s\n"), true }); err != nil {
		t.Fatal(err)
	}
	if g.Routes[0].Weight != 7000 || g.Routes[1].Weight != 3000 || g.Routes[1].Timeout != 2*time.Second {
		t.Fatalf("routes %+v", g.Routes)
	}
}

// Until the API resolves it, a gateway with a reference cannot serve, and
// says which route waits; a stored gateway's copy serves as it is.
func TestUnresolvedRoutes(t *testing.T) {
	g, err := DecodeOne([]byte("name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {weight: 50%}\n  \"[127.0.0.1:2]\": {reference: canary}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := `gateway "a": routes."[127.0.0.1:2]".reference: references the stored route "canary"`
	if err := ValidateSet([]*Gateway{g}); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ValidateSet: %v", err)
	}
	if g.RouteRefs()[0] != "canary" || len(g.RouteRefs()) != 1 {
		t.Fatalf("refs %v", g.RouteRefs())
	}
	// Written again (as `gateway apply` sends what it read), it still
	// waits: the reference alone, and no weight where none was given.
	g, err = DecodeOne([]byte("name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {}\n  \"[127.0.0.1:2]\": canary\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := g.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `"routes":{"[127.0.0.1:1]":{},"[127.0.0.1:2]":{"reference":"canary"}}`; !strings.Contains(string(doc), want) {
		t.Fatalf("written as %s, want %s", doc, want)
	}
	back, err := DecodeOne(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := back.ResolveRoutes(func(string) (*NamedRoute, bool) { return mustRoute(t, "name: canary\n"), true }); err != nil || back.Routes[0].Weight != 5000 || back.Routes[1].Weight != 5000 {
		t.Fatalf("resolved after the round trip: %v %+v", err, back.Routes)
	}
	for _, doc := range []string{
		"name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": \"\"\n",
		"name: a\nport: 9000\nroutes:\n  \"[127.0.0.1:1]\": {reference: \" \"}\n",
	} {
		if _, err := DecodeOne([]byte(doc), ""); err == nil || !strings.Contains(err.Error(), "a stored route's name is empty") {
			t.Errorf("%q: %v", doc, err)
		}
	}
}
