package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// openAPIPaths reads the served document: path → method → statuses.
func openAPIPaths(t *testing.T) map[string]map[string][]int {
	t.Helper()
	f := newFixture(t)
	rec := f.must(200, "GET", "/api/v1/openapi.json", "")
	if rec.Header().Get("Content-Type") != typeJSON {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("openapi %q servers %+v", doc.OpenAPI, doc.Servers)
	}
	out := map[string]map[string][]int{}
	for path, item := range doc.Paths {
		out[path] = map[string][]int{}
		for key, raw := range item {
			if key == "parameters" || key == "summary" || key == "description" {
				continue
			}
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			var codes []int
			for code := range op.Responses {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s %s: response %q is not a status", key, path, code)
				}
				codes = append(codes, n)
			}
			slices.Sort(codes)
			out[path][strings.ToUpper(key)] = codes
		}
	}
	return out
}

// TestOpenAPIMatchesRoutes: every served route and method is documented
// with exactly the statuses its handler can answer, and nothing else is.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openAPIPaths(t)
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.path] = true
		ops, ok := doc[rt.path]
		if !ok {
			t.Errorf("route %s is not in openapi.json", rt.path)
			continue
		}
		for m, ep := range rt.methods {
			got, ok := ops[m]
			if !ok {
				t.Errorf("%s %s is served but not documented", m, rt.path)
				continue
			}
			want := slices.Sorted(slices.Values(ep.statuses))
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: documented statuses %v, handler answers %v", m, rt.path, got, want)
			}
		}
		for m := range ops {
			if _, ok := rt.methods[m]; !ok {
				t.Errorf("%s %s is documented but not served", m, rt.path)
			}
		}
	}
	for path := range doc {
		if !served[path] {
			t.Errorf("path %s is documented but not routed", path)
		}
	}
}

// TestOpenAPIPathsAreServed sends a request to every documented path and
// method (names with "/" in them) and checks that the router takes it to
// that route: no 405, no "no such path".
func TestOpenAPIPathsAreServed(t *testing.T) {
	doc := openAPIPaths(t)
	f := seeded(t)
	for path, ops := range doc {
		for m := range ops {
			for _, name := range []string{"shop/web", "simpleservice", "a/b/c/d"} {
				concrete := "/api/v1" + strings.NewReplacer("{name}", name, "{revision}", "1", "{command}", "pause", "{kind}", "backend").Replace(path)
				if i, _, ok := matchRoute(concrete); !ok || routes[i].path != path {
					t.Errorf("%s is not routed to %s", concrete, path)
					continue
				}
				if m == http.MethodPost && strings.HasSuffix(path, "/rollback") {
					concrete += "?to=1"
				}
				req := httptest.NewRequest(m, concrete, strings.NewReader(""))
				if m == http.MethodPatch {
					req.Header.Set("Content-Type", typeMergePatch)
				}
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, req)
				if rec.Code == http.StatusMethodNotAllowed || strings.Contains(rec.Body.String(), "no such path") {
					t.Errorf("%s %s: %d %s", m, concrete, rec.Code, rec.Body)
				}
				if !slices.Contains(ops[m], rec.Code) {
					t.Errorf("%s %s answered %d, not documented (%v)", m, concrete, rec.Code, ops[m])
				}
			}
		}
	}
}
