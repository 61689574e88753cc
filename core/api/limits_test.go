package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/engine"
)

// limitDoc is a gateway of n routes.
func limitDoc(name string, port, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nport: %d\nroutes:\n", name, port)
	for i := range n {
		w := 0
		if i == 0 {
			w = 100
		}
		fmt.Fprintf(&b, "  \"[10.0.0.1:%d]\": {weight: %d%%}\n", 20000+i, w)
	}
	return b.String()
}

// Every write over a limit answers 422 with the gateway, the count, the
// limit and the flag, and stores nothing. A gateway stored before the
// limits (lowered since) may still be changed without growing.
func TestWritesOverTheLimitsAre422(t *testing.T) {
	f := newFixture(t)
	yaml := []string{"Content-Type", "application/x-yaml"}
	// Before the limits: a's revision 2 has 4 routes, old has 5.
	f.must(201, "PUT", "/api/v1/gateways/a", limitDoc("a", 8001, 1), yaml...)
	f.must(200, "PUT", "/api/v1/gateways/a", limitDoc("a", 8001, 4), yaml...)
	f.must(200, "PUT", "/api/v1/gateways/a", limitDoc("a", 8001, 1), yaml...)
	f.must(201, "PUT", "/api/v1/gateways/old", limitDoc("old", 8009, 5), yaml...)
	f.h = New(Config{Store: f.st, Check: fakeCheck, Logger: slog.New(slog.DiscardHandler),
		Limits: engine.Limits{MaxRoutesPerGateway: 3, MaxGateways: 2}})
	version := f.snapshot().Version

	routes := `gateway "a" has 4 routes, over the limit of 3 routes per gateway (--max-routes-per-gateway): over a configured limit`
	for _, tc := range []struct {
		what, method, path, body, want string
		headers                        []string
	}{
		{"PUT", "PUT", "/api/v1/gateways/a", limitDoc("a", 8001, 4), routes, yaml},
		{"PUT, validate only", "PUT", "/api/v1/gateways/a?validate_only=true", limitDoc("a", 8001, 4), routes, yaml},
		{"PATCH adding routes", "PATCH", "/api/v1/gateways/a",
			`{"routes": {"[10.0.0.1:1]": {"weight": "0%"}, "[10.0.0.1:2]": {"weight": "0%"}, "[10.0.0.1:3]": {"weight": "0%"}}}`,
			routes, []string{"Content-Type", "application/merge-patch+json"}},
		{"rollback to 4 routes", "POST", "/api/v1/gateways/a/rollback?to=2", "", routes, nil},
		{"PUT growing a gateway over the limit before", "PUT", "/api/v1/gateways/old", limitDoc("old", 8009, 6),
			`gateway "old" has 6 routes, over the limit of 3`, yaml},
		{"POST of one more gateway", "POST", "/api/v1/gateways", limitDoc("b", 8002, 1),
			`gateway "b" would make 3 gateways on this agent, over the limit of 2 (--max-gateways): over a configured limit`, yaml},
	} {
		t.Run(tc.what, func(t *testing.T) {
			f.t = t
			rec := f.do(tc.method, tc.path, tc.body, tc.headers...)
			if rec.Code != 422 {
				t.Fatalf("%d %s, want 422", rec.Code, rec.Body)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(body.Message, tc.want) {
				t.Errorf("message %q, want it to start with %q", body.Message, tc.want)
			}
			if v := f.snapshot().Version; v != version {
				t.Errorf("store version %d after a refused write, want %d", v, version)
			}
		})
	}
	f.t = t
	// At the limit, and the gateway over it from before, not growing.
	f.must(200, "PUT", "/api/v1/gateways/a", limitDoc("a", 8001, 3), yaml...)
	f.must(200, "PATCH", "/api/v1/gateways/old", `{"routes": {"[10.0.0.1:20000]": {"weight": "0%"}, "[10.0.0.1:20001]": {"weight": "100%"}}}`,
		"Content-Type", "application/merge-patch+json")
	f.must(200, "PUT", "/api/v1/gateways/old", limitDoc("old", 8009, 4), yaml...)
}
