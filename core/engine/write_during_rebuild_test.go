package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
)

// bigDoc is a gateway of n "[127.0.0.1:port]" routes, the first taking
// all the traffic, in YAML's flow style (under the API's 1 MiB).
func bigDoc(name string, port, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nport: %d/http\nroutes:\n", name, port)
	for i := range n {
		w := 0
		if i == 0 {
			w = 100
		}
		fmt.Fprintf(&b, "  \"[127.0.0.1:%d]\": {weight: %d%%}\n", 20000+i, w)
	}
	return b.String()
}

type applied struct {
	version int64
	err     error
}

// TestAPIWriteDoesNotWaitForARebuild holds the engine in the middle of
// building a 10,000-route table and makes small API writes to another
// gateway meanwhile (a weight change, a rollback) and reads the engine's
// state (health, statuses): each must answer while the build is still
// held. Ordering decides, not time: the build goes on only once the writes
// have returned, so a write that waited for it would never return (and
// the test would fail at its deadline).
func TestAPIWriteDoesNotWaitForARebuild(t *testing.T) {
	const routes = 10000
	quiet := slog.New(slog.DiscardHandler)
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet, DrainTimeout: time.Second})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dp.Shutdown(ctx)
	})
	eng := engine.New(dp, engine.Options{Logger: quiet})
	started, release := make(chan struct{}), make(chan struct{})
	var hold sync.Once
	eng.SetBuildingHook(func(gws []*gateway.Gateway) {
		for _, g := range gws {
			if g.Name == "big" && len(g.Routes) == routes {
				hold.Do(func() { close(started); <-release })
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan applied, 64)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		eng.Follow(ctx, st, 0, func(v int64, err error) { done <- applied{v, err} })
	}()
	t.Cleanup(func() { cancel(); <-followed })
	srv := httptest.NewServer(api.New(api.Config{Store: st, Check: eng.Check, Logger: quiet, Routes: eng.Statuses}))
	t.Cleanup(srv.Close)
	// Released by the test, or at its end when it failed first.
	letBuild := sync.OnceFunc(func() { close(release) })
	t.Cleanup(letBuild)
	call := func(method, path, ct, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1"+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	version := func() int64 {
		snap, err := st.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return snap.Version
	}
	// awaitApplied waits for the engine to put version v (or a later one)
	// in service.
	awaitApplied := func(v int64) {
		t.Helper()
		for a := range done {
			if a.err != nil {
				t.Fatalf("store version %d not applied: %v", a.version, a.err)
			}
			if a.version >= v {
				return
			}
		}
	}

	small := fmt.Sprintf("name: small\nport: %d/http\nroutes:\n  \"[127.0.0.1:1]\": {weight: 100%%}\n  \"[127.0.0.1:2]\": {weight: 0%%}\n", testnet.FreePort(t))
	if code, body := call("PUT", "/gateways/small", "application/x-yaml", small); code != 201 {
		t.Fatalf("PUT small: %d %s", code, body)
	}
	awaitApplied(version())
	if code, body := call("PUT", "/gateways/big", "application/x-yaml", bigDoc("big", testnet.FreePort(t), routes)); code != 201 {
		t.Fatalf("PUT big: %d %s", code, body)
	}
	bigVersion := version()
	<-started // the engine is building the big table, and stays there

	type result struct {
		what string
		code int
		body string
	}
	wrote := make(chan []result, 1)
	go func() {
		var rs []result
		code, body := call("PATCH", "/gateways/small", "application/merge-patch+json", `{"routes": {"[127.0.0.1:1]": {"weight": "10%"}, "[127.0.0.1:2]": {"weight": "90%"}}}`)
		rs = append(rs, result{"PATCH small (weights)", code, body})
		code, body = call("POST", "/gateways/small/rollback?to=1", "", "")
		rs = append(rs, result{"POST small/rollback?to=1", code, body})
		code, body = call("GET", "/gateways/small/status", "", "")
		rs = append(rs, result{"GET small/status", code, body})
		if err := eng.LastError(); err != nil {
			rs = append(rs, result{"LastError", 0, err.Error()})
		}
		wrote <- rs
	}()
	var rs []result
	select {
	case rs = <-wrote:
	case a := <-done:
		t.Fatalf("store version %d was applied before the writes returned, with the big table's build held", a.version)
	case <-deadline(t):
		t.Fatal("the writes did not return while the big table's build was held: they wait for the rebuild")
	}
	for _, r := range rs {
		if r.code != 200 {
			t.Errorf("%s during the rebuild: %d %s", r.what, r.code, r.body)
		}
	}
	select {
	case a := <-done:
		t.Fatalf("store version %d applied while the build was held", a.version)
	default:
	}
	letBuild()
	awaitApplied(bigVersion)
	// The writes made meanwhile follow (coalesced: the latest wins).
	awaitApplied(version())
	got := map[string]int{}
	for _, g := range eng.Gateways() {
		got[g.Name] = len(g.Routes)
	}
	if got["big"] != routes || got["small"] != 2 {
		t.Fatalf("gateways in service: %v, want big with %d routes and small with 2", got, routes)
	}
	var weights []gateway.Weight
	for _, s := range eng.Statuses("small") {
		weights = append(weights, s.Weight)
	}
	if fmt.Sprint(weights) != "[100% 0%]" {
		t.Fatalf("small's weights in service after the rollback to revision 1: %v, want [100%% 0%%]", weights)
	}

	// Removing the routes again: down to one route.
	bigPort := 0
	for _, g := range eng.Gateways() {
		if g.Name == "big" {
			bigPort = g.Port.Number
		}
	}
	if code, body := call("PUT", "/gateways/big", "application/x-yaml", bigDoc("big", bigPort, 1)); code != 200 {
		t.Fatalf("PUT big with one route: %d %s", code, body)
	}
	awaitApplied(version())
	for _, g := range eng.Gateways() {
		if g.Name == "big" && len(g.Routes) != 1 {
			t.Fatalf("big has %d routes in service, want 1", len(g.Routes))
		}
	}
}

// deadline fires shortly before the test binary's -timeout, so that a
// write stuck behind the rebuild fails with a message rather than a
// panic; it measures nothing (nil without a deadline: wait forever).
func deadline(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	return time.After(time.Until(d) * 9 / 10)
}
