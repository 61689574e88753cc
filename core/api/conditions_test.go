package api

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// Named conditions, Vamp's /api/v1/conditions: the artefact is
// {name, kind: conditions, metadata, condition} (ConditionSerializer,
// model/src/main/scala/io/vamp/model/serialization/GatewaySerializationFormat.scala)
// and a route references one as {reference: NAME} (WeakConditionReader,
// model/src/main/scala/io/vamp/model/reader/GatewayReader.scala), resolved
// when the gateway is written (ArtifactExpansion.expandRoute,
// persistence/src/main/scala/io/vamp/persistence/ArtifactExpansion.scala;
// an unknown name was Vamp's ArtifactNotFound).

const (
	firefoxCond = `{"name": "firefox", "kind": "conditions", "metadata": {}, "condition": "user-agent = Firefox"}`
	// Two gateways reference "firefox"; "other" does not.
	refA = `name: a
port: 8101
routes:
  "[a-1:80]": {weight: 100%}
  "[a-2:80]":
    weight: 0%
    condition: {reference: firefox}
`
	refB = `{"name": "b", "port": "8102", "routes": {
  "[b-1:80]": {"weight": "100%"},
  "[b-2:80]": {"weight": "0%", "condition": {"reference": "firefox"}, "condition_strength": "50%"}}}`
	other = `name: other
port: 8103
routes:
  "[o-1:80]": {weight: 100%}
`
)

// storedGateway decodes a gateway as the engine would: from the store,
// with no lookup.
func (f *fixture) storedGateway(name string) (store.Entry, *gateway.Gateway) {
	f.t.Helper()
	e, err := f.st.Get(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	g, err := gateway.DecodeOne(e.Doc, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return e, g
}

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
)

func TestNamedConditions(t *testing.T) {
	f := newFixture(t)
	// Unknown reference: 400 naming the gateway, route and reference.
	rec := f.must(400, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	if want := `gateway \"a\": routes.\"[a-2:80]\".condition.reference: no such named condition \"firefox\" (create it with PUT /api/v1/conditions/firefox)`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("unknown reference: %s", rec.Body)
	}
	rec = f.must(400, "POST", "/api/v1/gateways", refB, ct, jsn)
	if !strings.Contains(rec.Body.String(), `no such named condition \"firefox\"`) {
		t.Fatalf("unknown reference in a POST: %s", rec.Body)
	}

	// Create the condition; read it back in Vamp's form.
	rec = f.must(201, "POST", "/api/v1/conditions", firefoxCond, ct, jsn)
	if rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/api/v1/conditions/firefox" {
		t.Fatalf("create headers: %v", rec.Header())
	}
	f.must(409, "POST", "/api/v1/conditions", firefoxCond, ct, jsn)
	rec = f.must(200, "GET", "/api/v1/conditions/firefox", "")
	if got := strings.TrimSpace(rec.Body.String()); got != `{"name":"firefox","kind":"conditions","metadata":{},"condition":"user-agent = Firefox"}` {
		t.Fatalf("GET: %s", got)
	}
	rec = f.must(200, "GET", "/api/v1/conditions/firefox", "", "Accept", yml)
	if !strings.Contains(rec.Body.String(), "condition: user-agent = Firefox") {
		t.Fatalf("GET as YAML: %s", rec.Body)
	}

	// Gateways referencing it store the reference and the text.
	f.must(201, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	f.must(201, "POST", "/api/v1/gateways", refB, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/other", other, ct, yml)
	for _, name := range []string{"a", "b"} {
		e, g := f.storedGateway(name)
		r := g.Routes[1]
		if e.Revision != 1 || r.ConditionRef != "firefox" || r.Condition != "user-agent = Firefox" || !r.Match.Match(ua(firefoxUA)) || r.Match.Match(ua(chromeUA)) {
			t.Fatalf("stored %s: rev %d %+v\n%s", name, e.Revision, r, e.Doc)
		}
	}
	rec = f.must(200, "GET", "/api/v1/gateways/a", "")
	if !strings.Contains(rec.Body.String(), `"condition":{"reference":"firefox","condition":"user-agent = Firefox"}`) {
		t.Fatalf("GET gateway: %s", rec.Body)
	}

	// A bad condition is a 400 with its position; nothing changes.
	rec = f.must(400, "PUT", "/api/v1/conditions/firefox", "name: firefox\ncondition: user-agent ==\n", ct, yml)
	if !strings.Contains(rec.Body.String(), `line 2:12: condition: invalid condition \"user-agent ==\"`) {
		t.Fatalf("bad condition: %s", rec.Body)
	}
	rec = f.must(400, "PUT", "/api/v1/conditions/firefox", `{"name": "chrome", "condition": "user-agent = Chrome"}`, ct, jsn)
	if !strings.Contains(rec.Body.String(), `inconsistent name: given 'firefox' but found 'chrome'`) {
		t.Fatalf("name mismatch: %s", rec.Body)
	}
	rec = f.must(400, "POST", "/api/v1/conditions", "", ct, jsn)
	if !strings.Contains(rec.Body.String(), "request body is empty: expected a named condition") {
		t.Fatalf("empty body: %s", rec.Body)
	}
	f.must(415, "POST", "/api/v1/conditions", "name: x", ct, "text/plain")
	// validate_only on POST checks and stores nothing.
	f.must(200, "POST", "/api/v1/conditions?validate_only=true", "name: other\ncondition: has cookie beta\n", ct, yml)
	f.must(404, "GET", "/api/v1/conditions/other", "")
	// validate_only stores nothing.
	f.must(200, "PUT", "/api/v1/conditions/firefox?validate_only=true", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	if e, _ := f.storedGateway("a"); e.Revision != 1 {
		t.Fatalf("validate_only wrote gateway a: revision %d", e.Revision)
	}

	// A stale If-Match: 412, nothing written.
	before := f.snapshot().Version
	f.must(412, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn, "If-Match", `"7"`)
	if f.snapshot().Version != before {
		t.Fatal("a refused condition write changed the store")
	}

	// Changing the condition: a new revision of it and of each gateway
	// referencing it, in one batch (one store version), with a reason.
	rec = f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn, "If-Match", `"1"`)
	if rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("ETag %q", rec.Header().Get("ETag"))
	}
	snap := f.snapshot()
	if snap.Version != before+1 {
		t.Fatalf("store version %d, want %d: the rewrite was not one batch", snap.Version, before+1)
	}
	for _, name := range []string{"a", "b"} {
		e, g := f.storedGateway(name)
		r := g.Routes[1]
		if e.Revision != 2 || r.Condition != "user-agent = Chrome" || r.Match.Match(ua(firefoxUA)) || !r.Match.Match(ua(chromeUA)) {
			t.Fatalf("gateway %s after the change: rev %d %+v", name, e.Revision, r)
		}
		if want := `named condition "firefox" changed: "user-agent = Firefox" -> "user-agent = Chrome"`; e.Reason != want {
			t.Fatalf("gateway %s reason %q, want %q", name, e.Reason, want)
		}
	}
	if e, _ := f.storedGateway("b"); !strings.Contains(string(e.Doc), `"condition_strength":"50%"`) {
		t.Fatalf("gateway b lost its strength: %s", e.Doc)
	}
	if e, _ := f.storedGateway("other"); e.Revision != 1 {
		t.Fatalf("gateway other rewritten: revision %d", e.Revision)
	}
	// The revisions endpoint shows why.
	rec = f.must(200, "GET", "/api/v1/gateways/a/revisions", "")
	if !strings.Contains(rec.Body.String(), `named condition \"firefox\" changed`) {
		t.Fatalf("revisions: %s", rec.Body)
	}
	// The same text again: no new revision anywhere.
	f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	if f.snapshot().Version != snap.Version {
		t.Fatal("an unchanged condition made new revisions")
	}

	// Deleting the gateway leaves the condition; deleting a condition in
	// use is a 409 naming the gateways that use it.
	rec = f.must(409, "DELETE", "/api/v1/conditions/firefox", "")
	if !strings.Contains(rec.Body.String(), `condition \"firefox\" is referenced by the routes of gateways \"a\", \"b\"`) {
		t.Fatalf("delete in use: %s", rec.Body)
	}
	f.must(204, "DELETE", "/api/v1/gateways/a", "")
	f.must(200, "GET", "/api/v1/conditions/firefox", "")
	f.must(409, "DELETE", "/api/v1/conditions/firefox", "")
	f.must(200, "PUT", "/api/v1/gateways/b", strings.Replace(refB, `"condition": {"reference": "firefox"}, `, "", 1), ct, jsn)
	f.must(412, "DELETE", "/api/v1/conditions/firefox", "", "If-Match", `"1"`)
	f.must(204, "DELETE", "/api/v1/conditions/firefox", "", "If-Match", `"2"`)
	f.must(404, "GET", "/api/v1/conditions/firefox", "")
	f.must(204, "DELETE", "/api/v1/conditions/firefox", "")
	f.must(404, "DELETE", "/api/v1/conditions/firefox", "", "If-Match", "*")

	// Re-created, its numbering goes on.
	rec = f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	if rec.Header().Get("ETag") != `"4"` {
		t.Fatalf("re-created with ETag %q, want \"4\"", rec.Header().Get("ETag"))
	}
	rec = f.must(200, "GET", "/api/v1/conditions", "")
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 || list[0]["name"] != "firefox" || rec.Header().Get("X-Total-Count") != "1" {
		t.Fatalf("list: %s %v", rec.Body, err)
	}
}

// A gateway write (PUT, PATCH, rollback) takes the condition's current
// text: a rollback to a revision written under the old text serves the
// new one.
func TestRollbackResolvesCurrentCondition(t *testing.T) {
	f := newFixture(t)
	f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	f.must(200, "PUT", "/api/v1/gateways/a", strings.Replace(refA, "8101", "8111", 1), ct, yml)
	f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	f.must(200, "POST", "/api/v1/gateways/a/rollback?to=1", "")
	e, g := f.storedGateway("a")
	if e.Revision != 4 || g.Port.Number != 8101 || g.Routes[1].Condition != "user-agent = Chrome" {
		t.Fatalf("after rollback: rev %d %+v", e.Revision, g)
	}
}

// ua is a request with only a user agent.
type ua string

func (r ua) Host() []byte { return []byte("example.com") }
func (r ua) Header(name []byte) ([]byte, bool) {
	if strings.EqualFold(string(name), "user-agent") {
		return []byte(r), true
	}
	return nil, false
}
func (r ua) Cookie([]byte) ([]byte, bool) { return nil, false }
func (r ua) Path() []byte                 { return []byte("/") }
func (r ua) Method() []byte               { return []byte("GET") }
func (r ua) Query([]byte) ([]byte, bool)  { return nil, false }
func (r ua) Source() netip.Addr           { return netip.MustParseAddr("10.0.0.1") }

// overtaking is a store where another writer (a policy step, another
// agent) commits a change to gateway "a" just before the first condition
// write's batch.
type overtaking struct {
	*store.Memory
	once sync.Once
}

func (s *overtaking) Apply(ctx context.Context, cs []store.Change) ([]store.Entry, error) {
	if len(cs) > 1 && cs[0].Kind == store.KindCondition {
		s.once.Do(func() {
			e, err := s.Memory.Get(ctx, "a")
			if err != nil {
				panic(err)
			}
			doc := strings.Replace(string(e.Doc), `"[a-1:80]":{"weight":"100%"}`, `"[a-1:80]":{"weight":"100%","timeout":"7s"}`, 1)
			if doc == string(e.Doc) {
				panic("the overtaking change changed nothing: " + doc)
			}
			if _, err := s.Memory.Apply(ctx, []store.Change{{Name: "a", Doc: []byte(doc), Match: e.Revision}}); err != nil {
				panic(err)
			}
		})
	}
	return s.Memory.Apply(ctx, cs)
}

// A gateway changed by another writer between the condition write's read
// and its commit fails the batch's compare-and-set; the write decides again
// on the new state, keeping the other writer's change.
func TestConditionWriteOvertaken(t *testing.T) {
	st := &overtaking{Memory: store.NewMemory()}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st.Memory, h: NewGatewayAPI(st, fakeCheck, nil)}
	f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	f.must(200, "PUT", "/api/v1/conditions/firefox", `{"name": "firefox", "condition": "user-agent = Chrome"}`, ct, jsn)
	e, g := f.storedGateway("a")
	if e.Revision != 3 || g.Routes[0].Timeout != 7*time.Second || g.Routes[1].Condition != "user-agent = Chrome" {
		t.Fatalf("gateway a: revision %d %+v", e.Revision, g.Routes)
	}
}

// racing is a store where another agent changes condition "firefox" just
// before the first gateway write that references it commits.
type racing struct {
	*store.Memory
	once sync.Once
	text string // the condition's new text
}

func (s *racing) Apply(ctx context.Context, cs []store.Change) ([]store.Entry, error) {
	if len(cs) > 1 && cs[0].Kind == store.KindGateway && cs[len(cs)-1].Kind == store.KindCondition {
		s.once.Do(func() {
			if _, err := s.Memory.Apply(ctx, []store.Change{{Kind: store.KindCondition, Name: "firefox", Match: store.Any,
				Doc: []byte(`{"name":"firefox","kind":"conditions","metadata":{},"condition":"` + s.text + `"}`)}}); err != nil {
				panic(err)
			}
		})
	}
	return s.Memory.Apply(ctx, cs)
}

// A gateway write carries a guard on each condition it resolved: if
// another agent changed the condition in between, nothing is written
// (the gateway would otherwise keep the old text), and the client is told
// to try again; the retry takes the new text.
func TestGatewayWriteGuardsItsConditions(t *testing.T) {
	st := &racing{Memory: store.NewMemory(), text: "user-agent = Chrome"}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st.Memory, h: NewGatewayAPI(st, fakeCheck, nil)}
	f.must(201, "PUT", "/api/v1/conditions/firefox", firefoxCond, ct, jsn)
	rec := f.must(409, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	if !strings.Contains(rec.Body.String(), `condition \"firefox\" changed while the gateway was written`) {
		t.Fatalf("409: %s", rec.Body)
	}
	if len(f.snapshot().Entries) != 0 {
		t.Fatal("the gateway was written")
	}
	f.must(201, "PUT", "/api/v1/gateways/a", refA, ct, yml)
	if _, g := f.storedGateway("a"); g.Routes[1].Condition != "user-agent = Chrome" {
		t.Fatalf("after the retry: %+v", g.Routes[1])
	}
	// A POST is guarded the same way.
	st.once, st.text = sync.Once{}, "user-agent = Safari"
	f.must(409, "POST", "/api/v1/gateways", refB, ct, jsn)
	rec = f.must(201, "POST", "/api/v1/gateways", refB, ct, jsn)
	if rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/api/v1/gateways/b" {
		t.Fatalf("POST headers: %v", rec.Header())
	}
	if _, g := f.storedGateway("b"); g.Routes[1].Condition != "user-agent = Safari" {
		t.Fatalf("b: %+v", g.Routes[1])
	}
}
