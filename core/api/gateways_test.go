package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
)

// fakeCheck is engine.Check without an engine: the set rules, plus port
// 9999 standing for a port this host cannot bind.
func fakeCheck(gws []*gateway.Gateway) error {
	if err := gateway.ValidateSet(gws); err != nil {
		if errors.Is(err, gateway.ErrPortInUse) {
			return fmt.Errorf("%w: %w", engine.ErrPortTaken, err)
		}
		return err
	}
	for _, g := range gws {
		if g.Port.Number == 9999 {
			return fmt.Errorf("%w: gateway %q: port 9999 is reserved for tests", engine.ErrPortTaken, g.Name)
		}
	}
	return nil
}

type fixture struct {
	t  *testing.T
	st *store.Memory
	h  http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, h: NewGatewayAPI(st, fakeCheck, slog.New(slog.DiscardHandler))}
}

// do sends a request; headers come in pairs. Every answer's status must be
// one its route declares (and so, by openapi_test, one the document lists).
func (f *fixture) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if i, _, ok := matchRoute(req.URL.Path); ok {
		if ep, ok := routes[i].methods[method]; ok && !slices.Contains(ep.statuses, rec.Code) {
			f.t.Errorf("%s %s answered %d, not declared for %s (%v)", method, path, rec.Code, routes[i].path, ep.statuses)
		}
	}
	return rec
}

// must is do that fails the test on an unexpected status.
func (f *fixture) must(want int, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	rec := f.do(method, path, body, headers...)
	if rec.Code != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	return rec
}

func (f *fixture) snapshot() store.Snapshot {
	f.t.Helper()
	s, err := f.st.Snapshot(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) history(name string) []store.Entry {
	f.t.Helper()
	h, err := f.st.History(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

const (
	seedJSON = `{"name": "simpleservice", "port": "8080/http", "routes": {
  "[a.example:3000]": {"weight": "50%"},
  "[b.example:3000]": {"weight": "50%"}}}`
	shopYAML = `name: shop/web
port: 8081
routes:
  "[web-1:80]":
    weight: 100%
  "[web-2:80]":
    weight: 0%
    condition: user-agent == Firefox
`
	ct  = "Content-Type"
	jsn = "application/json"
	yml = "application/x-yaml"
)

// seeded has simpleservice (port 8080, revision 1) and shop/web (port
// 8081, revisions 1 and 2).
func seeded(t *testing.T) *fixture {
	f := newFixture(t)
	f.must(201, "POST", "/api/v1/gateways", seedJSON, ct, jsn)
	f.must(201, "PUT", "/api/v1/gateways/shop/web", shopYAML, ct, yml)
	f.must(200, "PUT", "/api/v1/gateways/shop/web", strings.Replace(shopYAML, "8081", "8082", 1), ct, yml)
	return f
}

func TestBadRequests(t *testing.T) {
	big := "name: big\nport: 8100\n#" + strings.Repeat("x", maxBody) + "\n"
	cases := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		msg          string
	}{
		{"malformed yaml", "POST", "/api/v1/gateways", "name: x\nport: [8090\n", []string{ct, yml}, 400, "syntax error"},
		{"malformed json", "POST", "/api/v1/gateways", `{"name": "x", "port": 8090`, []string{ct, jsn}, 400, "line 1:27: malformed JSON: unexpected end of JSON input"},
		{"json that only YAML reads", "POST", "/api/v1/gateways", `{"name": "x", "port": }`, []string{ct, jsn}, 400, "line 1:23: malformed JSON: invalid character '}' looking for beginning of value"},
		{"unknown field", "PUT", "/api/v1/gateways/simpleservice", "name: simpleservice\nport: 8080\ncolour: red\n", nil, 400, `line 3:1: gateway "simpleservice": unknown field "colour"`},
		{"unknown route field", "POST", "/api/v1/gateways", "name: x\nport: 8090\nroutes:\n  \"[a:1]\":\n    weight: 100%\n    wieght: 1\n", nil, 400, `line 6:5: gateway "x": routes."[a:1]": unknown field "wieght"`},
		{"weights total 90%", "POST", "/api/v1/gateways", "name: x\nroutes:\n  \"[a:1]\": {weight: 40%}\n  \"[b:1]\": {weight: 50%}\n", nil, 400, "total route weight must be 0% or 100%, got 90%"},
		{"port taken", "POST", "/api/v1/gateways", `{"name": "x", "port": 9999}`, []string{ct, jsn}, 409, "port 9999 is reserved"},
		{"port of another gateway", "PUT", "/api/v1/gateways/x", `{"name": "x", "port": 8080}`, []string{ct, jsn}, 409, `port taken: line 1: gateway "x": port: port 8080 is used by gateways simpleservice and x`},
		{"two gateways on one port", "POST", "/api/v1/gateways", "- name: x\n  port: 8090\n- name: y\n  port: 8090\n", []string{ct, "text/yaml; charset=utf-8"}, 409, `line 4:9: gateway "y": port: port 8090 is used by gateways x and y`},
		{"bad condition", "POST", "/api/v1/gateways", "name: x\nroutes:\n  \"[a:1]\":\n    condition: user-agent ==\n", nil, 400, `line 4:16: gateway "x": routes."[a:1]".condition:`},
		{"wrong content type", "POST", "/api/v1/gateways", seedJSON, []string{ct, "text/plain"}, 415, `unsupported content type "text/plain"`},
		{"body too large", "POST", "/api/v1/gateways", big, []string{ct, yml}, 413, "request body is larger than 1048576 bytes"},
		{"get unknown", "GET", "/api/v1/gateways/nope", "", nil, 404, `gateway "nope" not found`},
		{"put unknown with if-match", "PUT", "/api/v1/gateways/nope", `{"name": "nope"}`, []string{"If-Match", `"1"`}, 404, `gateway "nope" not found`},
		{"put unknown with if-match *", "PUT", "/api/v1/gateways/nope", `{"name": "nope"}`, []string{"If-Match", `*`}, 404, `gateway "nope" not found`},
		{"patch unknown", "PATCH", "/api/v1/gateways/nope", `{"port": 8090}`, []string{ct, typeMergePatch}, 404, `gateway "nope" not found`},
		{"rollback unknown gateway", "POST", "/api/v1/gateways/nope/rollback?to=1", "", nil, 404, `gateway "nope" not found`},
		{"name mismatch", "PUT", "/api/v1/gateways/shop/web", seedJSON, nil, 400, "inconsistent name: given 'shop/web' but found 'simpleservice'"},
		{"stale if-match", "PUT", "/api/v1/gateways/shop/web", shopYAML, []string{"If-Match", `"1"`}, 412, `gateway "shop/web": revision conflict: expected revision 1, but the current revision is 2`},
		{"malformed if-match", "PUT", "/api/v1/gateways/shop/web", shopYAML, []string{"If-Match", `2`}, 400, "malformed If-Match"},
		{"weak if-match", "DELETE", "/api/v1/gateways/shop/web", "", []string{"If-Match", `W/"2"`}, 400, "malformed If-Match"},
		{"post existing", "POST", "/api/v1/gateways", seedJSON, nil, 409, `gateway "simpleservice" already exists (revision 1)`},
		{"post existing in a list", "POST", "/api/v1/gateways", "- name: new\n- name: simpleservice\n", nil, 409, `gateway "simpleservice" already exists`},
		{"rollback to unknown revision", "POST", "/api/v1/gateways/shop/web/rollback?to=99", "", nil, 404, `gateway "shop/web" has no revision 99`},
		{"rollback without to", "POST", "/api/v1/gateways/shop/web/rollback", "", nil, 400, "rollback needs ?to=REVISION"},
		{"bad page", "GET", "/api/v1/gateways?page=0", "", nil, 400, `page must be a whole number from 1, got "0"`},
		{"bad per_page", "GET", "/api/v1/gateways?per_page=x", "", nil, 400, `per_page must be a whole number from 1, got "x"`},
		{"patch as json", "PATCH", "/api/v1/gateways/shop/web", `{"port": 8090}`, []string{ct, jsn}, 415, "PATCH takes application/merge-patch+json"},
		{"patch without content type", "PATCH", "/api/v1/gateways/shop/web", `{"port": 8090}`, nil, 415, "missing content type: PATCH takes application/merge-patch+json"},
		{"patch to invalid", "PATCH", "/api/v1/gateways/shop/web", `{"routes": {"[web-2:80]": {"weight": "20%"}}}`, []string{ct, typeMergePatch}, 400, `gateway "shop/web": routes: total route weight must be 0% or 100%, got 120%`},
		{"patch malformed", "PATCH", "/api/v1/gateways/shop/web", `{"routes": `, []string{ct, typeMergePatch}, 400, "malformed merge patch"},
		{"patch renames", "PATCH", "/api/v1/gateways/shop/web", `{"name": "shop/api"}`, []string{ct, typeMergePatch}, 400, "inconsistent name: given 'shop/web' but found 'shop/api'"},
		{"patch stale", "PATCH", "/api/v1/gateways/shop/web", `{"port": 8090}`, []string{ct, typeMergePatch, "If-Match", `"1"`}, 412, "the current revision is 2"},
		{"patch taken port", "PATCH", "/api/v1/gateways/shop/web", `{"port": 8080}`, []string{ct, typeMergePatch}, 409, `port taken: gateway "shop/web": port: port 8080 is used by gateways simpleservice and shop/web`},
		{"method not allowed", "POST", "/api/v1/gateways/simpleservice", seedJSON, nil, 405, "method POST is not allowed on /gateways/{name} (allowed: DELETE, GET, PATCH, PUT)"},
		{"method not allowed on collection", "DELETE", "/api/v1/gateways", "", nil, 405, "allowed: GET, POST"},
		{"empty body", "PUT", "/api/v1/gateways/x", " \n", []string{ct, yml}, 400, "request body is empty"},
		{"list to put", "PUT", "/api/v1/gateways/x", "- name: x\n- name: y\n", nil, 400, "expected one gateway, got 2"},
		{"validate_only invalid", "POST", "/api/v1/gateways?validate_only=true", "name: x\nsticky: always\n", nil, 400, `sticky must be route, instance or none, got "always"`},
		{"validate_only not a bool", "POST", "/api/v1/gateways?validate_only=maybe", "name: x\n", nil, 400, `validate_only must be true or false, got "maybe"`},
		{"name with a space", "PUT", "/api/v1/gateways/a%20b", `{"name": "a b"}`, nil, 400, `name must not contain whitespace or square brackets, got "a b"`},
		{"reserved name", "POST", "/api/v1/gateways", "name: shop/rollback\n", nil, 400, `gateway name "shop/rollback" is reserved`},
		{"delete stale", "DELETE", "/api/v1/gateways/shop/web", "", []string{"If-Match", `"1"`}, 412, "the current revision is 2"},
		{"delete absent with if-match", "DELETE", "/api/v1/gateways/nope", "", []string{"If-Match", `"1"`}, 404, `gateway "nope" not found`},
		{"bad revision", "GET", "/api/v1/gateways/shop/web/revisions/abc", "", nil, 400, `revision must be a whole number from 1, got "abc"`},
		{"bad revision query", "GET", "/api/v1/gateways/shop/web/revisions?revision=-1", "", nil, 400, `revision must be a whole number from 1, got "-1"`},
		{"unknown revision", "GET", "/api/v1/gateways/shop/web/revisions/3", "", nil, 404, `gateway "shop/web" has no revision 3`},
		{"revisions of unknown", "GET", "/api/v1/gateways/nope/revisions", "", nil, 404, `gateway "nope" not found`},
		{"unknown path", "GET", "/api/v1/things", "", nil, 404, `no such path "/api/v1/things"`},
		{"tcp with sticky", "POST", "/api/v1/gateways", "name: x\nport: 8090/tcp\nsticky: route\n", nil, 400, "sticky sessions are not allowed on a tcp port"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := seeded(t)
			before := f.snapshot()
			hist := f.history("shop/web")
			rec := f.do(c.method, c.path, c.body, c.headers...)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("body %q is not {\"message\": ...}: %v", rec.Body, err)
			}
			t.Logf("%d %s", rec.Code, e.Message)
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q does not contain %q", e.Message, c.msg)
			}
			if got := rec.Header().Get("Content-Type"); got != typeJSON {
				t.Errorf("content type %q", got)
			}
			if after := f.snapshot(); !reflect.DeepEqual(before, after) {
				t.Errorf("store changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if got := f.history("shop/web"); !reflect.DeepEqual(hist, got) {
				t.Errorf("history changed")
			}
			if c.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestErrorAsYAML(t *testing.T) {
	f := newFixture(t)
	rec := f.must(404, "GET", "/api/v1/gateways/nope", "", "Accept", "application/yaml")
	if rec.Header().Get("Content-Type") != yml || rec.Body.String() != "message: gateway \"nope\" not found\n" {
		t.Errorf("%s %q", rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestCreateGetPutBack(t *testing.T) {
	f := newFixture(t)
	rec := f.must(201, "POST", "/api/v1/gateways", seedJSON, ct, jsn)
	if rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/api/v1/gateways/simpleservice" {
		t.Errorf("headers %v", rec.Header())
	}
	var created []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || len(created) != 1 {
		t.Fatalf("POST answer %s: %v", rec.Body, err)
	}

	for _, format := range []string{jsn, yml} {
		rec = f.must(200, "GET", "/api/v1/gateways/simpleservice", "", "Accept", format)
		if rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Content-Type") != format {
			t.Errorf("%s: headers %v", format, rec.Header())
		}
		body := rec.Body.String()
		// Unchanged output PUT back: accepted, and no new revision.
		rec = f.must(200, "PUT", "/api/v1/gateways/simpleservice", body, ct, format, "If-Match", `"1"`, "Accept", format)
		if rec.Header().Get("ETag") != `"1"` || rec.Body.String() != body {
			t.Errorf("%s: put back: etag %s, body %s", format, rec.Header().Get("ETag"), rec.Body)
		}
		if h := f.history("simpleservice"); len(h) != 1 {
			t.Errorf("%s: put back made revisions: %+v", format, h)
		}
	}
	rec = f.must(200, "GET", "/api/v1/gateways/simpleservice", "")
	want := `{"name":"simpleservice","port":"8080/http","sticky":null,"virtual_hosts":[],"routes":{"[a.example:3000]":{"weight":"50%"},"[b.example:3000]":{"weight":"50%"}}}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("GET\n%s\nwant\n%s", rec.Body, want)
	}
}

func TestUpdateWithIfMatch(t *testing.T) {
	f := seeded(t)
	body := strings.Replace(strings.Replace(seedJSON, `"50%"`, `"90%"`, 1), `"50%"`, `"10%"`, 1)
	rec := f.must(200, "PUT", "/api/v1/gateways/simpleservice", body, "If-Match", `"1"`)
	if rec.Header().Get("ETag") != `"2"` || !strings.Contains(rec.Body.String(), `"90%"`) {
		t.Errorf("etag %s body %s", rec.Header().Get("ETag"), rec.Body)
	}
	rec = f.must(200, "PUT", "/api/v1/gateways/simpleservice", seedJSON, "If-Match", `*`)
	if rec.Header().Get("ETag") != `"3"` {
		t.Errorf("etag %s", rec.Header().Get("ETag"))
	}
	// Create by PUT.
	rec = f.must(201, "PUT", "/api/v1/gateways/a/b/c/d", `{"name": "a/b/c/d", "port": 8095}`)
	if rec.Header().Get("ETag") != `"1"` {
		t.Errorf("etag %s", rec.Header().Get("ETag"))
	}
	f.must(200, "GET", "/api/v1/gateways/a/b/c/d", "")
	f.must(200, "GET", "/api/v1/gateways/a%2Fb%2Fc%2Fd", "")
}

func TestConcurrentPutsWithSameIfMatch(t *testing.T) {
	f := seeded(t)
	bodies := []string{
		strings.Replace(seedJSON, "8080", "8090", 1),
		strings.Replace(seedJSON, "8080", "8091", 1),
	}
	codes := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Go(func() {
			req := httptest.NewRequest("PUT", "/api/v1/gateways/simpleservice", strings.NewReader(b))
			req.Header.Set("If-Match", `"1"`)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if !slices.Equal(codes, []int{200, 412}) {
		t.Errorf("codes %v, want one 200 and one 412", codes)
	}
	if h := f.history("simpleservice"); len(h) != 2 {
		t.Errorf("%d revisions, want 2", len(h))
	}
}

func TestPatchWeights(t *testing.T) {
	f := seeded(t)
	patch := `{"routes": {"[b.example:3000]": {"weight": "30%"}, "[a.example:3000]": {"weight": "70%"}}}`
	rec := f.must(200, "PATCH", "/api/v1/gateways/simpleservice", patch, ct, typeMergePatch+"; charset=utf-8", "If-Match", `"1"`)
	if rec.Header().Get("ETag") != `"2"` {
		t.Errorf("etag %s", rec.Header().Get("ETag"))
	}
	// The routes keep their order; only the weights change.
	want := `"routes":{"[a.example:3000]":{"weight":"70%"},"[b.example:3000]":{"weight":"30%"}}`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("patched %s", rec.Body)
	}
	// null removes: the condition goes, the weights stay valid.
	rec = f.must(200, "PATCH", "/api/v1/gateways/shop/web", `{"routes": {"[web-2:80]": {"condition": null, "condition_strength": null}}, "virtual_hosts": ["shop.example"]}`, ct, typeMergePatch)
	if strings.Contains(rec.Body.String(), "condition") || !strings.Contains(rec.Body.String(), `"virtual_hosts":["shop.example"]`) {
		t.Errorf("patched %s", rec.Body)
	}
	// validate_only stores nothing.
	before := f.snapshot()
	f.must(200, "PATCH", "/api/v1/gateways/shop/web?validate_only=true", `{"port": 8099}`, ct, typeMergePatch)
	if !reflect.DeepEqual(before, f.snapshot()) {
		t.Error("validate_only patch changed the store")
	}
	// A POST with validate_only checks a change to an existing gateway as
	// the replacement it would be (its own port is no conflict), and
	// refuses an invalid one; without validate_only it is still a 409.
	f.must(200, "POST", "/api/v1/gateways?validate_only=true", strings.Replace(shopYAML, "8081", "8082", 1), ct, yml)
	f.must(400, "POST", "/api/v1/gateways?validate_only=true", strings.Replace(shopYAML, "8081", "8082", 1)+"sticky: always\n", ct, yml)
	f.must(409, "POST", "/api/v1/gateways", strings.Replace(shopYAML, "8081", "8082", 1), ct, yml)
	if !reflect.DeepEqual(before, f.snapshot()) {
		t.Error("validate_only post changed the store")
	}
}

func TestRevisionsAndRollback(t *testing.T) {
	f := seeded(t)
	rec := f.must(200, "GET", "/api/v1/gateways/shop/web/revisions", "")
	var revs []revisionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &revs); err != nil || len(revs) != 2 || revs[0].Revision != 1 || revs[1].Revision != 2 || revs[1].Deleted {
		t.Fatalf("revisions %s: %v", rec.Body, err)
	}
	rec = f.must(200, "GET", "/api/v1/gateways/shop/web/revisions/1", "")
	if !strings.Contains(rec.Body.String(), `"port":"8081"`) {
		t.Errorf("revision 1: %s", rec.Body)
	}
	rec2 := f.must(200, "GET", "/api/v1/gateways/shop/web/revisions?revision=1", "")
	if rec2.Body.String() != rec.Body.String() {
		t.Errorf("?revision=1 gave %s", rec2.Body)
	}
	rec = f.must(200, "POST", "/api/v1/gateways/shop/web/rollback?to=1", "", "If-Match", `"2"`)
	if rec.Header().Get("ETag") != `"3"` || !strings.Contains(rec.Body.String(), `"port":"8081"`) {
		t.Errorf("rollback: %s %s", rec.Header().Get("ETag"), rec.Body)
	}
	h := f.history("shop/web")
	if len(h) != 3 || string(h[2].Doc) != string(h[0].Doc) {
		t.Errorf("history after rollback %+v", h)
	}
	// Stale after the rollback.
	f.must(412, "POST", "/api/v1/gateways/shop/web/rollback?to=2", "", "If-Match", `"2"`)

	f.must(204, "DELETE", "/api/v1/gateways/shop/web", "", "If-Match", `"3"`)
	rec = f.must(200, "GET", "/api/v1/gateways/shop/web/revisions", "", "Accept", "text/yaml")
	if err := yaml.Unmarshal(rec.Body.Bytes(), &revs); err != nil || len(revs) != 4 || !revs[3].Deleted {
		t.Fatalf("revisions %s: %v", rec.Body, err)
	}
	f.must(404, "GET", "/api/v1/gateways/shop/web/revisions/4", "")
	// Rolling back a deleted gateway brings it back.
	rec = f.must(201, "POST", "/api/v1/gateways/shop/web/rollback?to=2", "")
	if rec.Header().Get("ETag") != `"5"` {
		t.Errorf("etag %s", rec.Header().Get("ETag"))
	}
}

func TestDeleteIdempotent(t *testing.T) {
	f := seeded(t)
	f.must(204, "DELETE", "/api/v1/gateways/simpleservice", "")
	f.must(204, "DELETE", "/api/v1/gateways/simpleservice", "")
	f.must(404, "GET", "/api/v1/gateways/simpleservice", "")
	f.must(204, "DELETE", "/api/v1/gateways/never", "")
	if h := f.history("simpleservice"); len(h) != 2 || !h[1].Deleted {
		t.Errorf("history %+v", h)
	}
	// Re-created, it continues the numbering.
	rec := f.must(201, "POST", "/api/v1/gateways", seedJSON)
	if rec.Header().Get("ETag") != `"3"` {
		t.Errorf("etag %s", rec.Header().Get("ETag"))
	}
}

func TestPagination(t *testing.T) {
	f := newFixture(t)
	var docs []string
	for i := range 5 {
		docs = append(docs, fmt.Sprintf("name: g%d\nport: %d\n", i, 8100+i))
	}
	f.must(201, "POST", "/api/v1/gateways", strings.Join(docs, "---\n"))

	names := func(rec *httptest.ResponseRecorder) []string {
		var gws []struct{ Name string }
		if err := json.Unmarshal(rec.Body.Bytes(), &gws); err != nil {
			t.Fatalf("%s: %v", rec.Body, err)
		}
		var out []string
		for _, g := range gws {
			out = append(out, g.Name)
		}
		return out
	}
	rec := f.must(200, "GET", "/api/v1/gateways?page=2&per_page=2", "")
	if got := names(rec); !slices.Equal(got, []string{"g2", "g3"}) {
		t.Errorf("page 2: %v", got)
	}
	if rec.Header().Get("X-Total-Count") != "5" {
		t.Errorf("X-Total-Count %q", rec.Header().Get("X-Total-Count"))
	}
	wantLink := `</api/v1/gateways?page=1&per_page=2>; rel="first", </api/v1/gateways?page=1&per_page=2>; rel="prev", ` +
		`</api/v1/gateways?page=3&per_page=2>; rel="next", </api/v1/gateways?page=3&per_page=2>; rel="last"`
	if got := rec.Header().Get("Link"); got != wantLink {
		t.Errorf("Link\n%s\nwant\n%s", got, wantLink)
	}
	rec = f.must(200, "GET", "/api/v1/gateways?page=3&per_page=2", "")
	if got := names(rec); !slices.Equal(got, []string{"g4"}) || strings.Contains(rec.Header().Get("Link"), "next") {
		t.Errorf("page 3: %v, %s", got, rec.Header().Get("Link"))
	}
	rec = f.must(200, "GET", "/api/v1/gateways?page=9&per_page=2", "")
	if rec.Body.String() != "[]\n" {
		t.Errorf("page 9: %s", rec.Body)
	}
	rec = f.must(200, "GET", "/api/v1/gateways?per_page=1000", "")
	if got := names(rec); len(got) != 5 || !strings.Contains(rec.Header().Get("Link"), "per_page=100>") {
		t.Errorf("per_page clamp: %v %s", got, rec.Header().Get("Link"))
	}
	rec = f.must(200, "GET", "/api/v1/gateways", "", "Accept", "application/x-yaml")
	var gws []map[string]any
	if err := yaml.Unmarshal(rec.Body.Bytes(), &gws); err != nil || len(gws) != 5 || gws[0]["name"] != "g0" {
		t.Errorf("yaml list %s: %v", rec.Body, err)
	}
}

func TestYAMLBothWays(t *testing.T) {
	f := newFixture(t)
	body := "name: y1\nport: 8200\n---\nname: y2\nport: 8201/tcp\nroutes:\n  \"[t:9000]\": {}\n"
	rec := f.must(201, "POST", "/api/v1/gateways", body, ct, "application/yaml", "Accept", "application/json;q=0.5, application/x-yaml")
	if rec.Header().Get("Content-Type") != yml {
		t.Errorf("content type %s", rec.Header().Get("Content-Type"))
	}
	var gws []map[string]any
	if err := yaml.Unmarshal(rec.Body.Bytes(), &gws); err != nil || len(gws) != 2 || gws[1]["port"] != "8201/tcp" {
		t.Errorf("answer %s: %v", rec.Body, err)
	}
	if rec.Header().Get("Location") != "" {
		t.Error("Location for two gateways")
	}
	// JSON preferred by q.
	rec = f.must(200, "GET", "/api/v1/gateways/y2", "", "Accept", "application/x-yaml;q=0.1, application/json")
	if rec.Header().Get("Content-Type") != jsn {
		t.Errorf("content type %s", rec.Header().Get("Content-Type"))
	}
}

func TestValidateOnlyStoresNothing(t *testing.T) {
	f := seeded(t)
	before := f.snapshot()
	rec := f.must(200, "POST", "/api/v1/gateways?validate_only=true", "name: v\nport: 8300\n")
	if !strings.Contains(rec.Body.String(), `"name":"v"`) {
		t.Errorf("answer %s", rec.Body)
	}
	f.must(200, "PUT", "/api/v1/gateways/simpleservice?validate_only=true", strings.Replace(seedJSON, "8080", "8301", 1))
	f.must(200, "POST", "/api/v1/gateways/shop/web/rollback?to=1&validate_only=1", "")
	if !reflect.DeepEqual(before, f.snapshot()) {
		t.Error("validate_only changed the store")
	}
	f.must(404, "GET", "/api/v1/gateways/v", "")
}

func TestAdminMountsAPI(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: metrics.NewRegistry().Prometheus,
		Logger: slog.New(slog.DiscardHandler), API: NewGatewayAPI(st, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	resp, err := http.Post(base+"/api/v1/gateways", "application/x-yaml", strings.NewReader("name: m/n\nport: 8400\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	for path, want := range map[string]int{"/api/v1/gateways/m/n": 200, "/api/v1/openapi.json": 200, "/healthz": 200, "/metrics": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
