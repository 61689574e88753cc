package main

// End-to-end tests of the consul backend (issue 8): the real turnout
// binary, running its built-in consul plugin as a real subprocess, in
// front of real backends on 127.0.0.1 that are registered in Consul.
//
// No Consul server can run here (the Consul server's Go modules are
// refused by the module proxy and Debian ships no consul package), so
// "Consul" is internal/fakeconsul: a fake agent on 127.0.0.1 that serves
// Consul's documented HTTP API (/v1/health/service/:service with
// blocking queries, tags and ?passing, as the plugin uses it). The test
// drives it (registrations, check changes, the agent going away and
// coming back) and turnout sees it only over HTTP, exactly as it would
// see a Consul agent.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakeconsul"
	"github.com/turnout/turnout/internal/testnet"
)

// consulPromptly is what issue 8 asks of a change in Consul: an instance
// turning critical, or a new one registering, reaches traffic within one
// second.
const consulPromptly = time.Second

// consulEnv keeps the machine's Consul variables out of turnout and of
// the plugin it starts (both inherit the test's environment).
func consulEnv(t *testing.T) {
	for _, v := range []string{"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_SSL",
		"CONSUL_CACERT", "CONSUL_CAPATH", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_HTTP_SSL_VERIFY",
		"CONSUL_NAMESPACE", "CONSUL_PARTITION", "CONSUL_TLS_SERVER_NAME", "CONSUL_HTTP_AUTH"} {
		t.Setenv(v, "")
	}
}

// consulArgs are serve's flags pointing the consul plugin at the fake
// agent, with fast retries so that tests of outages stay short.
func consulArgs(fc *fakeconsul.Server) []string {
	return []string{"--plugin-config", fmt.Sprintf(
		`consul={"address": %q, "scheme": "http", "min_interval": "10ms", "retry_min": "50ms", "retry_max": "200ms"}`, fc.Addr())}
}

// svcInstance is a real backend registered in Consul under its service
// ID.
type svcInstance struct {
	*backend
	id string
}

func newSvcInstance(t *testing.T, id, name string) *svcInstance {
	t.Helper()
	return &svcInstance{backend: newBackend(t, name), id: id}
}

// register registers the instance in the fake agent as service svc with
// one tag (and one passing check, "service:ID").
func (in *svcInstance) register(fc *fakeconsul.Server, tag string) {
	fc.Register(fakeconsul.Instance{ID: in.id, Service: "svc", Node: "node1", Address: "127.0.0.1", Port: in.port, Tags: []string{tag}})
}

// waitServing waits until a consul route is ready, not held, at its
// weight, and resolved to exactly these instances.
func (tt *turnout) waitServing(gateway, route, effective string, ins ...*svcInstance) {
	tt.t.Helper()
	want := strings.Join(sortedAddrs(ins...), " ")
	tt.awaitStatus(gateway, 15*time.Second, route+" to serve "+want, func(st e2eStatus) bool {
		r := st.route(route)
		return r.Ready != nil && *r.Ready && r.Held == "" && !r.Stale && r.Effective == effective &&
			strings.Join(r.addresses(), " ") == want
	})
}

// staleMetric is turnout_target_stale for a target ("" if absent).
func (tt *turnout) staleMetric(target string) string {
	m := regexp.MustCompile(`(?m)^turnout_target_stale\{target="` + regexp.QuoteMeta(target) + `"\} (\S+)$`).FindStringSubmatch(tt.metrics())
	if m == nil {
		return ""
	}
	return m[1]
}

// consulGateway is a gateway whose routes are consul targets of service
// svc, one per tag, splitting the weight evenly.
func consulGateway(port int, tags ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: shop\nport: %d/http\nroutes:\n", port)
	for _, tag := range tags {
		fmt.Fprintf(&b, "  \"consul:svc?tag=%s\":\n    weight: %d%%\n", tag, 100/len(tags))
	}
	return b.String()
}

const consul100 = "consul:svc?tag=1.0.0"

func TestConsulGatewaySplits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	consulEnv(t)
	fc := fakeconsul.New(t, fakeconsul.Options{})
	// Two instances of 1.0.0 and one of 1.1.0: the split is between the
	// versions (routes), whatever the number of instances of each.
	a1, a2 := newSvcInstance(t, "svc-a1", "1.0.0"), newSvcInstance(t, "svc-a2", "1.0.0")
	b := newSvcInstance(t, "svc-b", "1.1.0")
	a1.register(fc, "1.0.0")
	a2.register(fc, "1.0.0")
	b.register(fc, "1.1.0")
	// A 1.1.0 instance that is not passing must not be used.
	bad := newSvcInstance(t, "svc-bad", "bad")
	bad.register(fc, "1.1.0")
	fc.SetCheck("node1", "svc-bad", "", fakeconsul.Critical)

	port := testnet.FreePort(t)
	tt := start(t, consulGateway(port, "1.0.0", "1.1.0"), consulArgs(fc)...)
	tt.waitServing("shop", "consul:svc?tag=1.0.0", "50%", a1, a2)
	tt.waitServing("shop", "consul:svc?tag=1.1.0", "50%", b)

	const n = 2000
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), n, 4, nil)
	within(t, "1.0.0 through consul:", got["1.0.0"], n, 50, 1)
	within(t, "1.1.0 through consul:", got["1.1.0"], n, 50, 1)
	t.Logf("1.0.0 instances: %d and %d requests", a1.n.Load(), a2.n.Load())
	if a1.n.Load() == 0 || a2.n.Load() == 0 {
		t.Errorf("an instance of 1.0.0 got no traffic: %d and %d", a1.n.Load(), a2.n.Load())
	}
	if bad.n.Load() != 0 {
		t.Errorf("the critical 1.1.0 instance got %d requests", bad.n.Load())
	}
	if fc.Requests(fakeconsul.HealthService) == 0 {
		t.Error("the fake agent's health endpoint was never asked")
	}
}

// consulLoadSetup registers instances of 1.0.0, starts turnout on a
// gateway sending everything to consul:svc?tag=1.0.0, waits until it
// serves them, and starts steady traffic that reaches every one of them.
func consulLoadSetup(t *testing.T, ins ...*svcInstance) (*fakeconsul.Server, *turnout, *load) {
	t.Helper()
	consulEnv(t)
	fc := fakeconsul.New(t, fakeconsul.Options{})
	for _, in := range ins {
		in.register(fc, "1.0.0")
	}
	port := testnet.FreePort(t)
	tt := start(t, consulGateway(port, "1.0.0"), consulArgs(fc)...)
	tt.waitServing("shop", consul100, "100%", ins...)
	l := steadyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	testnet.Eventually(t, 10*time.Second, "every instance to get traffic", func() bool {
		for _, in := range ins {
			if in.n.Load() < 20 {
				return false
			}
		}
		return true
	})
	return fc, tt, l
}

func TestConsulCriticalInstanceStopsGettingTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newSvcInstance(t, "svc-a", "a"), newSvcInstance(t, "svc-b", "b")
	fc, tt, l := consulLoadSetup(t, a, b)

	t0 := time.Now()
	fc.SetCheck("node1", "svc-b", "", fakeconsul.Critical)
	// b has stopped getting traffic once it has seen nothing for a while
	// that a, under the same load, kept getting requests.
	const quiet = 300 * time.Millisecond
	var aAtQuiet int64
	testnet.Eventually(t, consulPromptly+5*time.Second, "b to stop getting traffic", func() bool {
		since := b.lastSeen()
		if since.Before(t0) {
			since = t0
		}
		aAtQuiet = a.n.Load()
		return time.Since(since) > quiet && time.Since(a.lastSeen()) < 50*time.Millisecond
	})
	took := max(b.lastSeen().Sub(t0), 0)
	t.Logf("critical check to b's last request: %v (%d requests to b in all)", took, b.n.Load())
	if took > consulPromptly {
		t.Errorf("b got traffic for %v after its check turned critical, want at most %v", took, consulPromptly)
	}
	// And it stays that way: 200 more requests, none to b.
	bAfter := b.n.Load()
	testnet.Eventually(t, 10*time.Second, "200 more requests to a", func() bool { return a.n.Load() >= aAtQuiet+200 })
	if n := b.n.Load() - bAfter; n != 0 {
		t.Errorf("b got %d more requests after it had stopped", n)
	}
	if r := tt.status("shop").route(consul100); strings.Join(r.addresses(), " ") != a.addr {
		t.Errorf("route endpoints %v, want only a (%s)", r.addresses(), a.addr)
	}
	l.finish(t, "steady load")
}

func TestConsulNewInstanceGetsTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newSvcInstance(t, "svc-a", "a"), newSvcInstance(t, "svc-b", "b")
	fc, tt, l := consulLoadSetup(t, a)

	t0 := time.Now()
	b.register(fc, "1.0.0")
	testnet.Eventually(t, consulPromptly+5*time.Second, "the new instance to get traffic", func() bool { return b.n.Load() > 0 })
	took := b.firstSeen().Sub(t0)
	t.Logf("registration to b's first request: %v", took)
	if took > consulPromptly {
		t.Errorf("the new instance got its first request %v after it registered, want at most %v", took, consulPromptly)
	}
	// It gets its share from then on, beside a.
	aAt, bAt := a.n.Load(), b.n.Load()
	testnet.Eventually(t, 10*time.Second, "both instances to keep getting traffic", func() bool {
		return a.n.Load() >= aAt+50 && b.n.Load() >= bAt+50
	})
	tt.waitServing("shop", consul100, "100%", a, b)
	l.finish(t, "steady load")
}

func TestConsulAgentGoneKeepsTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newSvcInstance(t, "svc-a", "a"), newSvcInstance(t, "svc-b", "b")
	fc, tt, l := consulLoadSetup(t, a, b)
	if m := tt.staleMetric(consul100); m != "0" {
		t.Errorf("before the outage: turnout_target_stale{target=%q} = %q, want 0", consul100, m)
	}

	t0 := time.Now()
	fc.Stop()
	var r e2eRoute
	testnet.Eventually(t, 10*time.Second, "the route to be marked stale", func() bool {
		r = tt.status("shop").route(consul100)
		return r.Stale && tt.staleMetric(consul100) == "1"
	})
	t.Logf("agent stopped to stale (status and metric): %v; error: %s", time.Since(t0), r.Error)
	if r.Error == "" {
		t.Error("a stale route says no error")
	}
	if r.Ready == nil || !*r.Ready || r.Held != "" || r.Effective != "100%" {
		t.Errorf("a stale route lost its weight: ready %v, held %q, effective %s", r.Ready, r.Held, r.Effective)
	}
	if got, want := strings.Join(r.addresses(), " "), strings.Join(sortedAddrs(a, b), " "); got != want {
		t.Errorf("stale route endpoints %s, want the last ones, %s", got, want)
	}
	// Traffic keeps flowing to the last instances while the agent is gone.
	aAt, bAt := a.n.Load(), b.n.Load()
	testnet.Eventually(t, 10*time.Second, "both instances to keep getting traffic without the agent", func() bool {
		return a.n.Load() >= aAt+100 && b.n.Load() >= bAt+100
	})
	if r := tt.status("shop").route(consul100); !r.Stale {
		t.Error("the stale mark cleared while the agent was still gone")
	}

	t1 := time.Now()
	if err := fc.Start(); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, "the stale mark to clear", func() bool {
		r = tt.status("shop").route(consul100)
		return !r.Stale && r.Error == "" && tt.staleMetric(consul100) == "0"
	})
	t.Logf("agent back to stale cleared (status and metric): %v", time.Since(t1))
	tt.waitServing("shop", consul100, "100%", a, b)
	l.finish(t, "steady load")
}

func sortedAddrs(ins ...*svcInstance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.addr)
	}
	sort.Strings(out)
	return out
}
