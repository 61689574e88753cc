package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// A route whose DNS name never resolved has nothing to send to. Its status
// says so (held, with the lookup's error, at an effective 0%), its share
// goes to the other routes, and when no route is left the 503 names the
// routes without endpoints instead of claiming there is no route.
func TestUnresolvedRouteIsHeldWithItsReason(t *testing.T) {
	eng, _ := newEngine(t)
	var resolves atomic.Bool
	eng.res.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		if resolves.Load() {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	backend := testnet.Backend(t, "1.0.0")
	port := testnet.FreePort(t)
	doc := func(routes string) string { return fmt.Sprintf("name: shop\nport: %d\nroutes:\n%s", port, routes) }
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get := func() (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if err := eng.Set(decode(t, doc("  \"[shop-1.1.invalid:3000]\":\n    weight: 100%\n"))); err != nil {
		t.Fatal(err)
	}
	st := eng.Statuses("shop")
	if len(st) != 1 || st[0].Effective != 0 || !strings.Contains(st[0].Held, "not resolved: lookup shop-1.1.invalid: no such host") {
		t.Fatalf("status %+v, want the route held at 0%% with the lookup error", st)
	}
	if code, body := get(); code != 503 || !strings.Contains(body, "no endpoints for [shop-1.1.invalid:3000]") {
		t.Fatalf("got %d %q, want a 503 naming the route without endpoints", code, body)
	}

	// Beside a route that resolves, the held one's share goes there.
	if err := eng.Set(decode(t, doc(fmt.Sprintf("  \"[%s]\":\n    weight: 50%%\n  \"[shop-1.1.invalid:3000]\":\n    weight: 50%%\n", backend)))); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if code, body := get(); code != 200 || body != "1.0.0" {
			t.Fatalf("got %d %q, want every request on the route that resolves", code, body)
		}
	}
	if st := eng.Statuses("shop"); st[0].Held != "" || st[1].Held == "" {
		t.Fatalf("statuses %+v, want only the unresolved route held", st)
	}

	// Once the name resolves, the route is in service again.
	resolves.Store(true)
	eng.res.refresh()
	testnet.Eventually(t, 10*time.Second, "the route to be in service once its name resolves", func() bool {
		st := eng.Statuses("shop")
		return len(st) == 2 && st[1].Held == "" && st[1].Effective != 0
	})
}
