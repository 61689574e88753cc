package consul_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakeconsul"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/backend/consul"
	"github.com/turnout/turnout/plugins/sdk"
)

// promptly is how long a change may take to reach a snapshot. Tests that
// use it run with the default 5m wait, so only a blocking query woken by
// the change (or a non-blocking one after an error) can meet it.
const promptly = 5 * time.Second

// clearEnv keeps the machine's Consul variables out of the tests.
func clearEnv(t *testing.T) {
	for _, v := range []string{"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_SSL",
		"CONSUL_CACERT", "CONSUL_CAPATH", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_HTTP_SSL_VERIFY",
		"CONSUL_NAMESPACE", "CONSUL_PARTITION", "CONSUL_TLS_SERVER_NAME", "CONSUL_HTTP_AUTH"} {
		t.Setenv(v, "")
	}
}

// newPlugin configures a plugin for the fake agent: fast retries and a
// short min_interval unless extra says otherwise.
func newPlugin(t *testing.T, fake *fakeconsul.Server, extra map[string]any) *consul.Plugin {
	t.Helper()
	cfg := map[string]any{"address": fake.Addr(), "scheme": "http", "retry_min": "10ms", "retry_max": "100ms", "min_interval": "10ms"}
	maps.Copy(cfg, extra)
	raw, _ := json.Marshal(cfg)
	p := consul.New()
	if err := p.Configure(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// stream is one Watch call, checking that revisions only increase.
type stream struct {
	t      *testing.T
	ch     <-chan sdk.Snapshot
	cancel context.CancelFunc
	rev    uint64
	last   sdk.Snapshot
}

func watch(t *testing.T, p *consul.Plugin, ref string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := p.Watch(ctx, sdk.Target{Scheme: "consul", Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	return &stream{t: t, ch: ch, cancel: cancel}
}

// await reads snapshots until one satisfies ok.
func (s *stream) await(what string, ok func(sdk.Snapshot) bool) sdk.Snapshot {
	s.t.Helper()
	deadline := time.NewTimer(promptly)
	defer deadline.Stop()
	for {
		select {
		case snap, open := <-s.ch:
			if !open {
				s.t.Fatalf("channel closed waiting for %s", what)
			}
			if snap.Revision <= s.rev {
				s.t.Fatalf("revision %d after %d", snap.Revision, s.rev)
			}
			s.rev, s.last = snap.Revision, snap
			if ok(snap) {
				return snap
			}
		case <-deadline.C:
			s.t.Fatalf("no snapshot with %s within %v; last: %+v", what, promptly, s.last)
		}
	}
}

// addrs is "a,b!" : the endpoints in order, unhealthy ones marked "!".
func addrs(s sdk.Snapshot) string {
	var out []string
	for _, ep := range s.Endpoints {
		a := ep.Address
		if !ep.Healthy {
			a += "!"
		}
		out = append(out, a)
	}
	return strings.Join(out, ",")
}

func hasAddrs(want string) func(sdk.Snapshot) bool {
	return func(s sdk.Snapshot) bool { return addrs(s) == want && s.Error == "" }
}

func inst(id, node, ip, tag string) fakeconsul.Instance {
	return fakeconsul.Instance{ID: id, Service: "web", Node: node, NodeAddress: ip, Port: 3000,
		Tags: []string{tag}, Meta: map[string]string{"version": tag}}
}

// healthRequests are the health queries for a service with these tags.
func healthRequests(fake *fakeconsul.Server, service string, tags ...string) []fakeconsul.Request {
	var out []fakeconsul.Request
	for _, r := range fake.Log() {
		if r.Endpoint == fakeconsul.HealthService && r.Service == service && strings.Join(r.Query["tag"], ",") == strings.Join(tags, ",") {
			out = append(out, r)
		}
	}
	return out
}

func TestInfo(t *testing.T) {
	info, err := consul.New().Info(context.Background())
	if err != nil || info.Name != "consul" || info.Kind != sdk.KindBackend || info.Version != "0.1.0" ||
		len(info.Schemes) != 1 || info.Schemes[0] != "consul" {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestBadRefs(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	p := newPlugin(t, fake, nil)
	for _, tc := range []struct{ scheme, ref, want string }{
		{"consul", "", "empty service name"},
		{"consul", "?tag=1.0.0", "empty service name"},
		{"consul", "web?color=red", `unknown query key "color"`},
		{"consul", "web?passing=maybe", `passing must be true or false, not "maybe"`},
		{"consul", "web?tag=", "empty tag"},
		{"consul", "web?dc=a&dc=b", "dc given 2 times"},
		{"consul", "web?near=", "empty near"},
		{"consul", "we/b", `has "/"`},
		{"consul", "web?tag=%zz", "bad query"},
		{"marathon", "web", `scheme "marathon" is not consul`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := p.Watch(context.Background(), sdk.Target{Scheme: tc.scheme, Ref: tc.ref})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "consul: ") {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if n := fake.Requests(fakeconsul.HealthService); n != 0 {
		t.Errorf("%d queries for malformed refs", n)
	}
}

// Two tags of one service are two canary versions: each resolves to its
// own instances, and checks, registrations and deregistrations reach the
// right one at once (the 5m wait proves the blocking query woke).
func TestTagsAndChanges(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	fake.Register(inst("web-a2", "n2", "127.0.0.12", "1.0.0"))
	fake.Register(inst("web-b1", "n3", "127.0.0.13", "1.1.0"))
	p := newPlugin(t, fake, nil)
	v1 := watch(t, p, "web?tag=1.0.0")
	v2 := watch(t, p, "web?tag=1.1.0")

	s := v1.await("the 1.0.0 instances", hasAddrs("127.0.0.11:3000,127.0.0.12:3000"))
	if !s.Ready || s.Reason != "" {
		t.Errorf("1.0.0 not ready: %+v", s)
	}
	want := map[string]string{"service_id": "web-a1", "node": "n1", "dc": "dc1", "status": "passing", "tag:1.0.0": "", "meta:version": "1.0.0"}
	if !maps.Equal(s.Endpoints[0].Labels, want) {
		t.Errorf("labels %v, want %v", s.Endpoints[0].Labels, want)
	}
	v2.await("the 1.1.0 instance", hasAddrs("127.0.0.13:3000"))

	for _, step := range []struct {
		name   string
		change func()
		s      *stream
		want   string
	}{
		{"a check turns critical", func() { fake.SetCheck("n2", "web-a2", "", fakeconsul.Critical) }, v1, "127.0.0.11:3000"},
		{"a new instance", func() { fake.Register(inst("web-b2", "n4", "127.0.0.14", "1.1.0")) }, v2, "127.0.0.13:3000,127.0.0.14:3000"},
		{"a deregistration", func() { fake.Deregister("n3", "web-b1") }, v2, "127.0.0.14:3000"},
		{"the node fails", func() { fake.SetNodeHealth("n1", fakeconsul.Critical) }, v1, ""},
		{"both come back", func() {
			fake.SetNodeHealth("n1", fakeconsul.Passing)
			fake.SetCheck("n2", "web-a2", "", fakeconsul.Passing)
		}, v1, "127.0.0.11:3000,127.0.0.12:3000"},
	} {
		step.change()
		step.s.await(step.name, hasAddrs(step.want))
	}
	if v1.last.Ready != true {
		t.Errorf("1.0.0 not ready again: %+v", v1.last)
	}
	// A handful of changes cost a handful of queries, not a poll loop.
	if n := fake.Requests(fakeconsul.HealthService); n > 20 {
		t.Errorf("%d health queries for 5 changes", n)
	}
}

func TestNotReady(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	fake.Register(inst("web-a2", "n2", "127.0.0.12", "1.0.0"))
	fake.SetCheck("n2", "web-a2", "", fakeconsul.Warning)
	p := newPlugin(t, fake, map[string]any{"min_passing": 2})

	// passing=false lists every instance, Healthy from its checks.
	all := watch(t, p, "web?passing=false")
	s := all.await("both instances", hasAddrs("127.0.0.11:3000,127.0.0.12:3000!"))
	if s.Ready || s.Reason != "1 of 2 instances passing, 2 needed" || s.Endpoints[1].Labels["status"] != "warning" {
		t.Errorf("got %+v", s)
	}
	passing := watch(t, p, "web")
	if s := passing.await("the passing one", hasAddrs("127.0.0.11:3000")); s.Ready {
		t.Errorf("ready with 1 of min_passing 2: %+v", s)
	}
	none := watch(t, p, "nosuch")
	if s := none.await("nothing", hasAddrs("")); s.Ready || s.Reason != "no instances of nosuch" {
		t.Errorf("got %+v", s)
	}
	fake.SetCheck("n2", "web-a2", "", fakeconsul.Passing)
	if s := all.await("both healthy", hasAddrs("127.0.0.11:3000,127.0.0.12:3000")); !s.Ready || s.Reason != "" {
		t.Errorf("not ready with both passing: %+v", s)
	}
	passing.await("both", hasAddrs("127.0.0.11:3000,127.0.0.12:3000"))
}

// The agent going away keeps the last instances, marked stale; coming
// back clears the mark at once, with or without changes meanwhile.
func TestAgentOutage(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	p := newPlugin(t, fake, nil)
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))

	fake.Stop()
	s := w.await("an error", func(s sdk.Snapshot) bool { return s.Error != "" })
	if addrs(s) != "127.0.0.11:3000" || !s.Ready || !strings.HasPrefix(s.Error, "consul: health of web: ") {
		t.Errorf("stale snapshot %+v", s)
	}
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	w.await("the error cleared", hasAddrs("127.0.0.11:3000"))

	fake.Stop()
	w.await("an error", func(s sdk.Snapshot) bool { return s.Error != "" && addrs(s) == "127.0.0.11:3000" })
	fake.Register(inst("web-a2", "n2", "127.0.0.12", "1.0.0"))
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	w.await("the catch-up", hasAddrs("127.0.0.11:3000,127.0.0.12:3000"))
}

// An agent never reached is an empty, not-ready snapshot with the error.
func TestAgentNeverReached(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Stop()
	p := newPlugin(t, fake, nil)
	s := watch(t, p, "web").await("an error", func(s sdk.Snapshot) bool { return s.Error != "" })
	if len(s.Endpoints) != 0 || s.Ready || s.Reason == "" {
		t.Errorf("got %+v", s)
	}
}

// Every Watch of one query shares one blocking query; another query has
// its own; the last cancel stops it.
func TestSharedWatch(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	fake.Register(inst("web-b1", "n2", "127.0.0.12", "1.1.0"))
	p := newPlugin(t, fake, nil)
	blockedWith := func(n int) func() bool { return func() bool { return fake.Blocked() == n } }

	a := watch(t, p, "web?tag=1.0.0")
	a.await("1.0.0", hasAddrs("127.0.0.11:3000"))
	testnet.Eventually(t, promptly, "the watch blocking", blockedWith(1))
	if n := len(healthRequests(fake, "web", "1.0.0")); n != 2 {
		t.Fatalf("%d queries for one watch, want the first and a blocked one", n)
	}

	// Same query, spelt differently: answered from the shared watch.
	b := watch(t, p, "web?passing=true&tag=1.0.0")
	b.await("1.0.0 for the second watcher", hasAddrs("127.0.0.11:3000"))
	if n := len(healthRequests(fake, "web", "1.0.0")); n != 2 || fake.Blocked() != 1 {
		t.Fatalf("second watcher cost queries: %d, blocked %d", n, fake.Blocked())
	}

	c := watch(t, p, "web?tag=1.1.0")
	c.await("1.1.0", hasAddrs("127.0.0.12:3000"))
	testnet.Eventually(t, promptly, "two watches blocking", blockedWith(2))

	fake.Register(inst("web-a2", "n3", "127.0.0.13", "1.0.0"))
	a.await("the new instance, first watcher", hasAddrs("127.0.0.11:3000,127.0.0.13:3000"))
	b.await("the new instance, second watcher", hasAddrs("127.0.0.11:3000,127.0.0.13:3000"))
	testnet.Eventually(t, promptly, "both watches blocking again", blockedWith(2))
	if n := len(healthRequests(fake, "web", "1.0.0")); n != 3 {
		t.Errorf("%d queries for 1.0.0 after one change, want 3", n)
	}

	a.cancel()
	fake.SetCheck("n3", "web-a2", "", fakeconsul.Critical)
	b.await("the check, after the first watcher left", hasAddrs("127.0.0.11:3000"))
	b.cancel()
	testnet.Eventually(t, promptly, "the 1.0.0 watch stopping", blockedWith(1))
	for _, s := range []*stream{a, b} {
		testnet.Eventually(t, promptly, "the channel closing", func() bool {
			select {
			case _, open := <-s.ch:
				return !open
			default:
				return false
			}
		})
	}
	// A write to the service wakes the 1.1.0 watch only. (It may still be
	// answering the check's change, so it is counted as "more", not "+1".)
	before, other := len(healthRequests(fake, "web", "1.0.0")), len(healthRequests(fake, "web", "1.1.0"))
	fake.Touch("web")
	testnet.Eventually(t, promptly, "the 1.1.0 watch querying again", func() bool {
		return len(healthRequests(fake, "web", "1.1.0")) > other && fake.Blocked() == 1
	})
	if n := len(healthRequests(fake, "web", "1.0.0")); n != before {
		t.Errorf("the stopped watch queried: %d, was %d", n, before)
	}
}

// While nothing changes the watch blocks: every query carries the index
// of the last answer and the wait w, and so comes at least w after the
// one before (the agent holds each for w). The queries are counted, not
// timed over a window: the gaps are read from the agent's log.
func TestQuietWindowBlocks(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	const wait, queries = 200 * time.Millisecond, 5
	p := newPlugin(t, fake, map[string]any{"wait": wait.String()})
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))
	testnet.Eventually(t, promptly, "the watch blocking", func() bool { return fake.Blocked() == 1 })

	before := len(fake.Log()) - 1 // the blocked query
	testnet.Eventually(t, promptly+queries*wait, fmt.Sprintf("%d queries in all", queries), func() bool { return len(fake.Log())-before >= queries })
	log := fake.Log()[before:]
	for i, r := range log {
		if r.Index < 1 || r.Wait != "200ms" {
			t.Errorf("query without blocking: index %d, wait %q", r.Index, r.Wait)
		}
		if i > 0 {
			if gap := r.At.Sub(log[i-1].At); gap < wait {
				t.Errorf("query %d came %v after the one before, less than the wait %v: polling", i, gap, wait)
			}
		}
	}
	select {
	case s := <-w.ch:
		t.Errorf("a snapshot without a change: %+v", s)
	default:
	}
}

// rateLimited checks queries against a floor of d between the starts of
// consecutive ones, from the times the agent received them: query k+1
// starts after the answer to k arrived, and query k+2 at least d after
// k+1 started, so any three consecutive queries span more than d. This
// holds however slow the machine is, and a loop that ignores the floor
// breaks it at once.
func rateLimited(t *testing.T, log []fakeconsul.Request, d time.Duration) {
	t.Helper()
	for i := 2; i < len(log); i++ {
		if span := log[i].At.Sub(log[i-2].At); span <= d {
			t.Errorf("queries %d..%d of %d came within %v, want more than %v between three", i-2, i, len(log), span, d)
		}
	}
}

// An index that moves in a burst (idempotent writes, here every 2ms) is
// rate-limited to one query per min_interval. The burst goes on until
// the watch has made 8 queries.
func TestBurstRateLimited(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	const minInterval, queries = 100 * time.Millisecond, 8
	p := newPlugin(t, fake, map[string]any{"min_interval": minInterval.String()})
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))

	before := len(fake.Log())
	deadline := time.Now().Add(promptly + queries*minInterval)
	writes := 0
	for ; len(fake.Log())-before < queries; writes++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d queries for %d writes: the watch stopped following", len(fake.Log())-before, writes)
		}
		fake.Touch("web")
		time.Sleep(2 * time.Millisecond) // the burst's pace
	}
	rateLimited(t, fake.Log()[before:], minInterval)
}

// A Consul with the zero-index bug (X-Consul-Index: 0) can't make the
// watch busy-loop: the rate limit holds it.
func TestZeroIndexNoBusyLoop(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	fake.ZeroIndex(true)
	const minInterval, queries = 50 * time.Millisecond, 8
	p := newPlugin(t, fake, map[string]any{"min_interval": minInterval.String()})
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))
	// Either the watch blocks (on index 1) or it queries again and again;
	// then 8 queries are enough to see whether the rate limit holds.
	testnet.Eventually(t, promptly, "the watch blocking or 8 queries", func() bool {
		return fake.Blocked() == 1 || len(fake.Log()) >= queries
	})
	rateLimited(t, fake.Log(), minInterval)
}

// An index that goes backwards (a restore) resets the loop: one query
// without an index, then blocking on the new, lower index.
func TestIndexBackwardsResets(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	p := newPlugin(t, fake, map[string]any{"wait": "200ms"})
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))
	testnet.Eventually(t, promptly, "the watch blocking", func() bool { return fake.Blocked() == 1 })
	high := fake.Index()

	fake.SetIndex(2)
	fake.Register(inst("web-a2", "n2", "127.0.0.12", "1.0.0")) // index 3
	w.await("the restored state", hasAddrs("127.0.0.11:3000,127.0.0.12:3000"))
	testnet.Eventually(t, promptly, "a query blocking on the new index", func() bool {
		for _, r := range healthRequests(fake, "web") {
			if r.Index == 3 {
				return true
			}
		}
		return false
	})
	var seq []uint64
	for _, r := range healthRequests(fake, "web") {
		seq = append(seq, r.Index)
	}
	// After the last query at the old index comes one without an index
	// (a fresh start), then only blocking ones below the old index.
	j := len(seq) - 1
	for seq[j] < high {
		j--
	}
	if j+2 >= len(seq) || seq[j+1] != 0 {
		t.Fatalf("indexes asked %v: want ..., %d, 0, 3", seq, high)
	}
	for _, idx := range seq[j+2:] {
		if idx < 1 || idx >= high {
			t.Errorf("indexes asked %v: want ..., %d, 0, then the new ones", seq, high)
		}
	}
	fake.SetCheck("n2", "web-a2", "", fakeconsul.Critical)
	w.await("a change after the reset", hasAddrs("127.0.0.11:3000"))
}

// During an outage retries back off: attempt n comes at least the least
// backoff (half of the step, which doubles from retry_min up to
// retry_max) after the one before, not min_interval. The gaps are read
// from the agent's log over 6 attempts, not counted over a window.
func TestErrorsBackOff(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	const lo, hi, attempts = 20 * time.Millisecond, 160 * time.Millisecond, 6
	p := newPlugin(t, fake, map[string]any{"retry_min": lo.String(), "retry_max": hi.String(), "min_interval": "1ms"})
	w := watch(t, p, "web")
	w.await("the instance", hasAddrs("127.0.0.11:3000"))
	testnet.Eventually(t, promptly, "the watch blocking", func() bool { return fake.Blocked() == 1 })

	before := len(fake.Log()) // after the blocked query, whose failure is the first
	fake.Fail(500, "No cluster leader")
	s := w.await("the error", func(s sdk.Snapshot) bool { return s.Error != "" })
	if !strings.Contains(s.Error, "http 500: No cluster leader") || addrs(s) != "127.0.0.11:3000" || !s.Ready {
		t.Errorf("stale snapshot %+v", s)
	}
	testnet.Eventually(t, promptly, fmt.Sprintf("%d retries", attempts), func() bool { return len(fake.Log())-before >= attempts })
	log := fake.Log()[before:]
	// Retry k (from 1) follows failure k: it starts at least the least
	// backoff after failure k's answer, which came after failure k's
	// query arrived.
	step := lo // the step of failure 1
	for k := 1; k < len(log); k++ {
		step = min(2*step, hi) // failure k+1's step
		if gap := log[k].At.Sub(log[k-1].At); gap < step/2 {
			t.Errorf("retry %d came %v after the one before, less than the least backoff %v", k+1, gap, step/2)
		}
	}
	fake.Fail(0, "")
	w.await("recovery", hasAddrs("127.0.0.11:3000"))
}

func TestACL(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{Token: "s3cret"})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	for _, tc := range []struct {
		name, token, env string
		check            func(sdk.Snapshot) bool
		what             string
	}{
		{name: "wrong token", token: "wrong", what: "a 403", check: func(s sdk.Snapshot) bool {
			return strings.Contains(s.Error, "http 403: Permission denied (check the ACL token)") && len(s.Endpoints) == 0 && !s.Ready
		}},
		{name: "right token", token: "s3cret", what: "the instance", check: hasAddrs("127.0.0.11:3000")},
		{name: "token from the environment", env: "s3cret", what: "the instance", check: hasAddrs("127.0.0.11:3000")},
		{name: "config over environment", env: "wrong", token: "s3cret", what: "the instance", check: hasAddrs("127.0.0.11:3000")},
		{name: "no token", what: "results filtered", check: func(s sdk.Snapshot) bool {
			return !s.Ready && s.Error == "" && strings.Contains(s.Reason, "results filtered by ACLs")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONSUL_HTTP_TOKEN", tc.env)
			p := newPlugin(t, fake, map[string]any{"token": tc.token})
			watch(t, p, "web").await(tc.what, tc.check)
		})
	}
}

func TestDatacenterAndNear(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{Datacenters: []string{"dc2"}})
	for i, x := range []float64{9, 1, 5} {
		n := string(rune('1' + i))
		fake.Register(inst("web-"+n, "n"+n, "127.0.0.1"+n, "1.0.0"))
		fake.SetCoordinate("n"+n, x)
	}
	fake.SetCoordinate("agent", 0)
	remote := inst("web-r", "r1", "127.0.0.21", "1.0.0")
	remote.Datacenter = "dc2"
	fake.Register(remote)

	p := newPlugin(t, fake, nil)
	pdc2 := newPlugin(t, fake, map[string]any{"datacenter": "dc2"})
	for _, tc := range []struct {
		name string
		p    *consul.Plugin
		ref  string
		want string
	}{
		{"local, by address", p, "web", "127.0.0.11:3000,127.0.0.12:3000,127.0.0.13:3000"},
		{"near the agent", p, "web?near=_agent", "127.0.0.12:3000,127.0.0.13:3000,127.0.0.11:3000"},
		{"near a node", p, "web?near=n1", "127.0.0.11:3000,127.0.0.13:3000,127.0.0.12:3000"},
		{"dc in the ref", p, "web?dc=dc2", "127.0.0.21:3000"},
		{"dc from the config", pdc2, "web", "127.0.0.21:3000"},
		{"ref over config", pdc2, "web?dc=dc1&tag=1.0.0", "127.0.0.11:3000,127.0.0.12:3000,127.0.0.13:3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			watch(t, tc.p, tc.ref).await(tc.want, hasAddrs(tc.want))
		})
	}
	s := watch(t, p, "web?dc=mars").await("an error", func(s sdk.Snapshot) bool { return s.Error != "" })
	if !strings.Contains(s.Error, "http 500: No path to datacenter") {
		t.Errorf("got %q", s.Error)
	}
}

// The agent address comes from CONSUL_HTTP_ADDR unless the config says.
func TestAddressFromEnvironment(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	dead := fakeconsul.New(t, fakeconsul.Options{})
	dead.Stop()

	t.Setenv("CONSUL_HTTP_ADDR", "http://"+fake.Addr())
	p := consul.New()
	t.Cleanup(func() { p.Close() })
	// No Configure: the first Watch configures from the environment.
	watch(t, p, "web").await("the instance", hasAddrs("127.0.0.11:3000"))

	t.Setenv("CONSUL_HTTP_ADDR", dead.Addr())
	watch(t, newPlugin(t, fake, nil), "web").await("the instance", hasAddrs("127.0.0.11:3000"))
}

func TestConfigErrors(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct{ config, want string }{
		{`{"adress": "127.0.0.1:8500"}`, `unknown field "adress"`},
		{`{"scheme": "ftp"}`, `scheme "ftp" is neither http nor https`},
		{`{"wait": "forever"}`, "wait"},
		{`{"wait": "11m"}`, "over Consul's limit"},
		{`{"wait": "-1s"}`, "not positive"},
		{`{"min_passing": -1}`, "min_passing -1 is negative"},
		{`{"retry_min": "1m", "retry_max": "1s"}`, "retry_max 1s is below retry_min 1m0s"},
		{`{"tls": {"cert_file": "c.pem"}}`, "both cert_file and key_file"},
		{`{"tls": {"ca_file": "` + dir + `/missing.pem"}}`, "consul: client: "},
		{`{} {}`, "trailing data"},
		{`[1]`, "consul: config: "},
	} {
		t.Run(tc.config, func(t *testing.T) {
			err := consul.New().Configure(context.Background(), json.RawMessage(tc.config))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "consul: ") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{``, `{}`, `null`, `{"address": "127.0.0.1:8500", "min_passing": 0, "wait": "10m"}`} {
		if err := consul.New().Configure(context.Background(), json.RawMessage(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// Cancelling a Watch closes its channel and ends its blocked query; Close
// does the same for all of them.
func TestCancelAndClose(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	p := newPlugin(t, fake, nil)
	closed := func(s *stream) func() bool {
		return func() bool {
			select {
			case _, open := <-s.ch:
				return !open
			default:
				return false
			}
		}
	}
	a := watch(t, p, "web")
	a.await("the instance", hasAddrs("127.0.0.11:3000"))
	testnet.Eventually(t, promptly, "the watch blocking", func() bool { return fake.Blocked() == 1 })
	a.cancel()
	testnet.Eventually(t, promptly, "the channel closing", closed(a))
	testnet.Eventually(t, promptly, "the query ending", func() bool { return fake.Blocked() == 0 })

	b, c := watch(t, p, "web"), watch(t, p, "web?passing=false")
	b.await("the instance", hasAddrs("127.0.0.11:3000"))
	c.await("the instance", hasAddrs("127.0.0.11:3000"))
	p.Close()
	for _, s := range []*stream{b, c} {
		testnet.Eventually(t, promptly, "the channel closing", closed(s))
	}
	testnet.Eventually(t, promptly, "the queries ending", func() bool { return fake.Blocked() == 0 })
	if _, err := p.Watch(context.Background(), sdk.Target{Scheme: "consul", Ref: "web"}); err == nil {
		t.Error("Watch after Close")
	}
}

// The namespace reaches the agent as ?ns=, from the config or the
// environment. Each case has its own agent: a plugin's last blocking
// query can reach a shared agent after its Close has returned (the
// request was on the wire), and would then be read as the next case's.
func TestNamespace(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct{ name, env, config, want string }{
		{"config", "", "team-a", "team-a"},
		{"environment", "team-b", "", "team-b"},
		{"config over environment", "team-b", "team-a", "team-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONSUL_NAMESPACE", tc.env)
			fake := fakeconsul.New(t, fakeconsul.Options{})
			fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
			watch(t, newPlugin(t, fake, map[string]any{"namespace": tc.config}), "web").await("the instance", hasAddrs("127.0.0.11:3000"))
			log := fake.Log()
			if len(log) == 0 {
				t.Fatal("a snapshot without a query")
			}
			for _, r := range log {
				if got := r.Query["ns"]; len(got) != 1 || got[0] != tc.want {
					t.Errorf("ns %v, want %s", got, tc.want)
				}
			}
		})
	}
}

// Watchers coming and going at once share and release watches cleanly.
func TestConcurrentWatchers(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	fake.Register(inst("web-b1", "n2", "127.0.0.12", "1.1.0"))
	p := newPlugin(t, fake, nil)
	refs := map[string]string{"web?tag=1.0.0": "127.0.0.11:3000", "web?tag=1.1.0": "127.0.0.12:3000"}
	errs := make(chan error, 40)
	for i := range 40 {
		ref := "web?tag=1.0.0"
		if i%2 == 1 {
			ref = "web?tag=1.1.0"
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), promptly)
			defer cancel()
			ch, err := p.Watch(ctx, sdk.Target{Scheme: "consul", Ref: ref})
			if err != nil {
				errs <- err
				return
			}
			s, ok := <-ch
			if !ok || addrs(s) != refs[ref] {
				errs <- fmt.Errorf("%s: got %+v", ref, s)
				return
			}
			errs <- nil
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	testnet.Eventually(t, promptly, "every watch stopping", func() bool { return fake.Blocked() == 0 })
	if n := fake.Requests(fakeconsul.HealthService); n > 40 {
		t.Errorf("%d queries for 40 watchers of 2 queries", n)
	}
	watch(t, p, "web?tag=1.0.0").await("a watch after all that", hasAddrs("127.0.0.11:3000"))
}
