package main

// End-to-end tests of "the end of a rollout means everyone" (issue 23):
// after a rollback or an abort no request reaches the canary, neither from
// a client pinned there by its sticky cookie nor from one its condition
// captures (the README's beta testers); after a promotion nobody reaches
// the old stable route.

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// stickyCanaryGateway is a sticky gateway from stable to canary whose
// canary also takes every request with a "beta" cookie, driven by a
// canary policy with these settings.
func stickyCanaryGateway(port int, stable, canary *backend, settings string) string {
	return fmt.Sprintf(`name: shop
port: %d/http
sticky: route
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: has cookie beta
    condition_strength: 100%%
policy:
  type: canary
  stable: "[%s]"
  canary: "[%s]"
%s`, port, stable.addr, canary.addr, stable.addr, canary.addr, settings)
}

// browser is a client with a cookie jar, as a browser is; beta sends the
// beta testers' cookie with every request.
type browser struct {
	c    *http.Client
	url  string
	beta bool
}

func newBrowser(url string, beta bool) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{Jar: jar, Timeout: 10 * time.Second}, url: url, beta: beta}
}

// visit sends n requests, one after the other, and counts the answers by
// the backend that made them (a 500 of the canary counts as the canary's).
func (b *browser) visit(t *testing.T, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		req, _ := http.NewRequest("GET", b.url, nil)
		if b.beta {
			req.AddCookie(&http.Cookie{Name: "beta", Value: "1"})
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		name := resp.Header.Get("X-Backend")
		if name == "" {
			name = fmt.Sprintf("turnout %d", resp.StatusCode)
		}
		got[name]++
	}
	return got
}

// pinnedTo is a browser pinned to the backend called want by its sticky
// cookie: new browsers are tried until the weights send one there.
func pinnedTo(t *testing.T, url, want string) *browser {
	t.Helper()
	for range 200 {
		b := newBrowser(url, false)
		if b.visit(t, 1)[want] == 1 {
			return b
		}
	}
	t.Fatalf("no new client was routed to %s in 200 tries", want)
	return nil
}

// onCanary pins a sticky client and a beta tester to the canary, and
// checks that both keep reaching it.
func onCanary(t *testing.T, url string) (sticky, beta *browser) {
	t.Helper()
	sticky, beta = pinnedTo(t, url, "1.1.0"), newBrowser(url, true)
	if got := sticky.visit(t, 5); got["1.1.0"] != 5 {
		t.Fatalf("the sticky client left the canary before the rollback: %v", got)
	}
	if got := beta.visit(t, 5); got["1.1.0"] != 5 {
		t.Fatalf("the beta tester is not on the canary before the rollback: %v", got)
	}
	return sticky, beta
}

// noneTo checks that none of the browsers' next requests reach the
// backend called gone.
func noneTo(t *testing.T, gone, when string, bs ...*browser) {
	t.Helper()
	for i, b := range bs {
		if got := b.visit(t, 100); got[gone] != 0 {
			t.Errorf("%s: client %d (beta %v) still reached %s: %v", when, i, b.beta, gone, got)
		}
	}
}

func TestRollbackMovesStickyAndConditionClientsOffTheCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	canary.failEvery.Store(1) // the bad canary: every request a 500
	port := testnet.FreePort(t)
	// min_requests 30: the few requests that pin the clients are not
	// enough data, so the canary holds at its first step until the load.
	tt := start(t, stickyCanaryGateway(port, stable, canary, `  interval: 1s
  steps: [20, 50]
  threshold: 2
  min_requests: 30
  max_error_rate: 5
`))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt.awaitStatus("shop", 10*time.Second, "the first step", func(st e2eStatus) bool { return st.Routes[1].Effective == "20%" })
	sticky, beta := onCanary(t, url)

	l := startPolicyLoad(t, url, 4, 5*time.Millisecond)
	tt.awaitStatus("shop", 30*time.Second, "the rollback in service", func(st e2eStatus) bool {
		return st.Policy.Phase == "rolled-back" && st.Routes[1].Effective == "0%"
	})
	noneTo(t, "1.1.0", "after the rollback", sticky, beta, newBrowser(url, false))
	l.stop()
	h := tt.history()
	if !strings.Contains(h, "policy canary: rollback:") || !strings.Contains(h, fmt.Sprintf("[%s]'s condition off (strength 100%% → 0%%)", canary.addr)) {
		t.Errorf("the rollback's revision does not say the condition was turned off:\n%s", h)
	}
}

func TestAbortMovesStickyAndConditionClientsOffTheCanaryAndRetryRestores(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	canary.failEvery.Store(1)
	port := testnet.FreePort(t)
	tt := start(t, stickyCanaryGateway(port, stable, canary, "  interval: 1h\n  steps: [20, 50]\n"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt.awaitStatus("shop", 10*time.Second, "the first step", func(st e2eStatus) bool { return st.Routes[1].Effective == "20%" })
	sticky, beta := onCanary(t, url)

	tt.expectCLI(0, "shop: abort requested\n", "gateway", "abort", "shop")
	tt.awaitStatus("shop", 10*time.Second, "the abort in service", func(st e2eStatus) bool {
		return st.Policy.Phase == "rolled-back" && st.Routes[1].Effective == "0%"
	})
	noneTo(t, "1.1.0", "after the abort", sticky, beta)

	// A retry starts the rollout as it was first applied: new beta testers
	// are the canary's again (the one re-pinned to stable stays there: a
	// cookie for a route that takes requests comes before conditions).
	tt.expectCLI(0, "shop: retry requested\n", "gateway", "retry", "shop")
	tt.awaitStatus("shop", 10*time.Second, "the first step again", func(st e2eStatus) bool { return st.Routes[1].Effective == "20%" })
	if got := newBrowser(url, true).visit(t, 5); got["1.1.0"] != 5 {
		t.Errorf("after the retry the beta tester is not on the canary: %v", got)
	}
	if h := tt.history(); !strings.Contains(h, fmt.Sprintf("[%s]'s condition back to strength 100%%", canary.addr)) {
		t.Errorf("the retry's revision does not say the condition is back:\n%s", h)
	}
}

func TestPromotionMovesStickyClientsOffTheOldStable(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	tt := start(t, stickyCanaryGateway(port, stable, canary, "  interval: 1h\n  steps: [20, 50]\n"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt.awaitStatus("shop", 10*time.Second, "the first step", func(st e2eStatus) bool { return st.Routes[1].Effective == "20%" })
	onStable := []*browser{pinnedTo(t, url, "1.0.0"), pinnedTo(t, url, "1.0.0")}
	for _, b := range onStable {
		if got := b.visit(t, 5); got["1.0.0"] != 5 {
			t.Fatalf("a client pinned to stable left it before the promotion: %v", got)
		}
	}
	tt.expectCLI(0, "shop: promote requested\n", "gateway", "promote", "shop")
	tt.awaitStatus("shop", 10*time.Second, "the promotion in service", func(st e2eStatus) bool {
		return st.Policy.Phase == "promoted" && st.Routes[0].Effective == "0%"
	})
	noneTo(t, "1.0.0", "after the promotion", append(onStable, newBrowser(url, true), newBrowser(url, false))...)
}
