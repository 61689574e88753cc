package api

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// Stored routes, Vamp's /api/v1/routes: the artefact is {name, kind:
// routes, metadata, lookup_name, selector, weight, balance, condition,
// condition_strength, rewrites} (serializeRoute,
// model/src/main/scala/io/vamp/model/serialization/GatewaySerializationFormat.scala),
// and a gateway's route references one as `KEY: NAME` or {reference: NAME}
// (RouteReader.readReferenceOrAnonymous,
// model/src/main/scala/io/vamp/model/reader/GatewayReader.scala), expanded
// when the gateway is written (ArtifactExpansion.expandRoutes,
// persistence/src/main/scala/io/vamp/persistence/ArtifactExpansion.scala).

const (
	canaryRoute = `{"name": "canary", "kind": "routes", "metadata": {}, "lookup_name": "x", "selector": null, "weight": null,
  "balance": "default", "condition": "user-agent = Firefox", "condition_strength": "50%", "rewrites": []}`
	// Vamp's `KEY: NAME`; the stored route has no weight, so the route
	// takes what the other weights leave (0%).
	srA = `name: a
port: 8101
routes:
  "[a-1:80]": {weight: 100%}
  "[a-2:80]": canary
`
	srB = `{"name": "b", "port": "8102", "routes": {
  "[b-1:80]": {"weight": "90%"},
  "[b-2:80]": {"reference": "canary", "weight": "10%"}}}`
)

func TestStoredRoutes(t *testing.T) {
	f := newFixture(t)
	rec := f.must(400, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	if want := `gateway \"a\": routes.\"[a-2:80]\".reference: no such stored route \"canary\" (create it with PUT /api/v1/routes/canary)`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("unknown reference: %s", rec.Body)
	}

	// Create it; read it back in Vamp's form, its unset weight null.
	rec = f.must(201, "POST", "/api/v1/routes", canaryRoute, ct, jsn)
	if rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/api/v1/routes/canary" {
		t.Fatalf("create headers: %v", rec.Header())
	}
	f.must(409, "POST", "/api/v1/routes", canaryRoute, ct, jsn)
	rec = f.must(200, "GET", "/api/v1/routes/canary", "")
	if got := strings.TrimSpace(rec.Body.String()); got != `{"name":"canary","kind":"routes","metadata":{},"weight":null,"condition":"user-agent = Firefox","condition_strength":"50%"}` {
		t.Fatalf("GET: %s", got)
	}

	// Gateways referencing it store the reference with the fields.
	f.must(201, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	f.must(201, "POST", "/api/v1/gateways", srB, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/other", other, ct, yml)
	for name, weight := range map[string]gateway.Weight{"a": 0, "b": 1000} {
		e, g := f.storedGateway(name)
		r := g.Routes[1]
		if e.Revision != 1 || r.RouteRef != "canary" || r.Condition != "user-agent = Firefox" || r.ConditionStrength != 5000 || r.Weight != weight || !r.Match.Match(ua(firefoxUA)) {
			t.Fatalf("stored %s: rev %d %+v\n%s", name, e.Revision, r, e.Doc)
		}
	}
	rec = f.must(200, "GET", "/api/v1/gateways/a", "")
	if !strings.Contains(rec.Body.String(), `"[a-2:80]":{"reference":"canary","weight":"0%","condition":"user-agent = Firefox","condition_strength":"50%"}`) {
		t.Fatalf("GET gateway: %s", rec.Body)
	}

	// Bad documents: 400 with the position; nothing changes.
	rec = f.must(400, "PUT", "/api/v1/routes/canary", "name: canary\nweight: 150%\n", ct, yml)
	if !strings.Contains(rec.Body.String(), `line 2:9: weight:`) {
		t.Fatalf("bad route: %s", rec.Body)
	}
	rec = f.must(400, "PUT", "/api/v1/routes/canary", `{"name": "other"}`, ct, jsn)
	if !strings.Contains(rec.Body.String(), `inconsistent name: given 'canary' but found 'other'`) {
		t.Fatalf("name mismatch: %s", rec.Body)
	}
	rec = f.must(400, "POST", "/api/v1/routes", "", ct, jsn)
	if !strings.Contains(rec.Body.String(), "request body is empty: expected a stored route") {
		t.Fatalf("empty body: %s", rec.Body)
	}
	rec = f.must(400, "PUT", "/api/v1/routes/canary", `{"name": "canary", "condition": {"reference": "nope"}}`, ct, jsn)
	if !strings.Contains(rec.Body.String(), `condition.reference: no such named condition \"nope\"`) {
		t.Fatalf("unknown condition: %s", rec.Body)
	}
	// A weight that breaks a gateway's total is refused, naming it.
	rec = f.must(400, "PUT", "/api/v1/routes/canary", `{"name": "canary", "weight": "30%"}`, ct, jsn)
	if !strings.Contains(rec.Body.String(), `gateway \"a\": routes: total route weight must be 0% or 100%, got 130%`) {
		t.Fatalf("weights: %s", rec.Body)
	}
	f.must(200, "PUT", "/api/v1/routes/canary?validate_only=true", `{"name": "canary", "timeout": "3s"}`, ct, jsn)
	if e, _ := f.storedGateway("a"); e.Revision != 1 {
		t.Fatalf("a refused or validate_only write rewrote gateway a: revision %d", e.Revision)
	}

	// A change rewrites every gateway using it, in one batch with the
	// route; the gateways keep their weights; others are untouched.
	snap := f.snapshot()
	f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	rec = f.must(200, "PUT", "/api/v1/routes/canary", "name: canary\ntimeout: 3s\ncondition: {reference: firefox}\n", ct, yml)
	if rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("ETag %q", rec.Header().Get("ETag"))
	}
	if v := f.snapshot().Version; v != snap.Version+2 {
		t.Fatalf("store version %d, want %d: the rewrite was not one batch", v, snap.Version+2)
	}
	for name, weight := range map[string]gateway.Weight{"a": 0, "b": 1000} {
		e, g := f.storedGateway(name)
		r := g.Routes[1]
		if e.Revision != 2 || r.Timeout != 3*time.Second || r.ConditionRef != "firefox" || r.Condition != "user-agent = Firefox" || r.ConditionStrength != gateway.Full || r.Weight != weight {
			t.Fatalf("gateway %s after the change: rev %d %+v", name, e.Revision, r)
		}
		if want := `stored route "canary" changed`; e.Reason != want {
			t.Fatalf("gateway %s reason %q, want %q", name, e.Reason, want)
		}
	}
	if e, _ := f.storedGateway("other"); e.Revision != 1 {
		t.Fatalf("gateway other rewritten: revision %d", e.Revision)
	}
	// The condition the stored route references reaches the gateways too.
	f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	if _, g := f.storedGateway("a"); g.Routes[1].Condition != "user-agent = Chrome" || g.Routes[1].Timeout != 3*time.Second {
		t.Fatalf("gateway a after the condition changed: %+v", g.Routes[1])
	}

	// In use, neither can go: 409 naming what uses it.
	rec = f.must(409, "DELETE", "/api/v1/routes/canary", "")
	if !strings.Contains(rec.Body.String(), `stored route \"canary\" is referenced by the routes of gateways \"a\", \"b\"`) {
		t.Fatalf("delete in use: %s", rec.Body)
	}
	f.must(204, "DELETE", "/api/v1/gateways/a", "")
	f.must(204, "DELETE", "/api/v1/gateways/b", "")
	rec = f.must(409, "DELETE", "/api/v1/conditions/firefox", "")
	if !strings.Contains(rec.Body.String(), `condition \"firefox\" is referenced by stored route \"canary\"`) {
		t.Fatalf("delete of a condition a stored route uses: %s", rec.Body)
	}
	f.must(204, "DELETE", "/api/v1/routes/canary", "", "If-Match", `"2"`)
	f.must(204, "DELETE", "/api/v1/conditions/firefox", "")
	f.must(404, "GET", "/api/v1/routes/canary", "")
	f.must(204, "DELETE", "/api/v1/routes/canary", "")
	f.must(404, "DELETE", "/api/v1/routes/canary", "", "If-Match", "*")
	rec = f.must(201, "PUT", "/api/v1/routes/canary", canaryRoute, ct, jsn)
	if rec.Header().Get("ETag") != `"4"` {
		t.Fatalf("re-created with ETag %q, want \"4\"", rec.Header().Get("ETag"))
	}
	rec = f.must(200, "GET", "/api/v1/routes", "")
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 || list[0]["name"] != "canary" || rec.Header().Get("X-Total-Count") != "1" {
		t.Fatalf("list: %s %v", rec.Body, err)
	}
}

// interloper is a store where another agent commits change just before
// the first batch that when picks.
type interloper struct {
	*store.Memory
	once   sync.Once
	when   func([]store.Change) bool
	change store.Change
}

func (s *interloper) Apply(ctx context.Context, cs []store.Change) ([]store.Entry, error) {
	if s.when(cs) {
		s.once.Do(func() {
			if _, err := s.Memory.Apply(ctx, []store.Change{s.change}); err != nil {
				panic(err)
			}
		})
	}
	return s.Memory.Apply(ctx, cs)
}

// changeRoute is another agent's write of stored route "canary".
func changeRoute(doc string) store.Change {
	return store.Change{Kind: store.KindRoute, Name: "canary", Match: store.Any, Doc: []byte(doc)}
}

// A gateway write guards the stored routes it resolved, as it does its
// conditions: a change by another agent in between writes nothing, and the
// retry takes the new fields.
func TestGatewayWriteGuardsItsStoredRoutes(t *testing.T) {
	// Before the first gateway write that guards the route.
	st := &interloper{Memory: store.NewMemory(),
		when: func(cs []store.Change) bool {
			return len(cs) > 1 && cs[0].Kind == store.KindGateway && cs[len(cs)-1].Kind == store.KindRoute
		},
		change: changeRoute(`{"name":"canary","kind":"routes","metadata":{},"weight":null,"timeout":"9s"}`)}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st.Memory, h: NewGatewayAPI(st, fakeCheck, nil)}
	f.must(201, "PUT", "/api/v1/routes/canary", canaryRoute, ct, jsn)
	rec := f.must(409, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	if !strings.Contains(rec.Body.String(), `stored route \"canary\" changed while the gateway was written`) {
		t.Fatalf("409: %s", rec.Body)
	}
	f.must(201, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	if _, g := f.storedGateway("a"); g.Routes[1].Timeout != 9*time.Second || g.Routes[1].Conditioned() {
		t.Fatalf("after the retry: %+v", g.Routes[1])
	}
}

// A rollback to a revision written under the stored route's old fields
// takes its current ones, as for a named condition.
func TestRollbackResolvesCurrentStoredRoute(t *testing.T) {
	f := newFixture(t)
	f.must(201, "PUT", "/api/v1/routes/canary", canaryRoute, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	f.must(200, "PUT", "/api/v1/gateways/a", strings.Replace(srA, "8101", "8111", 1), ct, yml)
	f.must(200, "PUT", "/api/v1/routes/canary", `{"name": "canary", "timeout": "4s"}`, ct, jsn)
	f.must(200, "POST", "/api/v1/gateways/a/rollback?to=1", "")
	e, g := f.storedGateway("a")
	if e.Revision != 4 || g.Port.Number != 8101 || g.Routes[1].Timeout != 4*time.Second || g.Routes[1].Conditioned() {
		t.Fatalf("after rollback: rev %d %+v", e.Revision, g.Routes[1])
	}
}

// A condition write that rewrites gateways guards the stored routes they
// resolved: another agent's change of one in between writes nothing, and
// the retry takes both.
func TestConditionWriteGuardsStoredRoutes(t *testing.T) {
	// Before the first condition write that rewrites a gateway.
	st := &interloper{Memory: store.NewMemory(),
		when:   func(cs []store.Change) bool { return len(cs) > 1 && cs[0].Kind == store.KindCondition },
		change: changeRoute(`{"name":"canary","kind":"routes","metadata":{},"weight":null,"timeout":"9s","condition":{"reference":"firefox"}}`)}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st.Memory, h: NewGatewayAPI(st, fakeCheck, nil)}
	f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	f.must(201, "PUT", "/api/v1/routes/canary", `{"name": "canary", "condition": {"reference": "firefox"}}`, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/a", srA, ct, yml)
	rec := f.must(409, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	if !strings.Contains(rec.Body.String(), `stored route \"canary\" changed while the gateway was written`) {
		t.Fatalf("409: %s", rec.Body)
	}
	if _, g := f.storedGateway("a"); g.Routes[1].Condition != "user-agent = Firefox" {
		t.Fatalf("a refused write changed the gateway: %+v", g.Routes[1])
	}
	f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	if _, g := f.storedGateway("a"); g.Routes[1].Condition != "user-agent = Chrome" || g.Routes[1].Timeout != 9*time.Second {
		t.Fatalf("after the retry: %+v", g.Routes[1])
	}
}
