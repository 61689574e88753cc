package fakeconsul_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/turnout/turnout/internal/fakeconsul"
)

func client(t *testing.T, s *fakeconsul.Server, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr()
	cfg.Scheme = "http"
	cfg.Token = token
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fixture(t *testing.T, opts fakeconsul.Options) *fakeconsul.Server {
	s := fakeconsul.New(t, opts)
	s.Register(fakeconsul.Instance{ID: "web-1", Service: "web", Node: "n1", NodeAddress: "127.0.0.11", Port: 3000, Tags: []string{"1.0.0"}, Meta: map[string]string{"version": "1.0.0"}})
	s.Register(fakeconsul.Instance{ID: "web-2", Service: "web", Node: "n2", NodeAddress: "127.0.0.12", Address: "127.0.0.22", Port: 3001, Tags: []string{"1.1.0", "Canary"}})
	s.Register(fakeconsul.Instance{ID: "web-3", Service: "web", Node: "n3", Port: 3002, Tags: []string{"1.0.0"}})
	s.SetCheck("n3", "web-3", "", fakeconsul.Critical)
	return s
}

// The client decodes the fake's answers into its own types: the shapes
// match what Consul documents and its API package reads.
func TestHealthServiceShape(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	entries, meta, err := client(t, s, "").Health().Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || meta.LastIndex < 1 || !meta.KnownLeader {
		t.Fatalf("entries %d, meta %+v", len(entries), meta)
	}
	e := entries[1]
	if e.Node.Node != "n2" || e.Node.Address != "127.0.0.12" || e.Node.Datacenter != "dc1" || e.Node.ID == "" {
		t.Errorf("node %+v", e.Node)
	}
	if e.Service.ID != "web-2" || e.Service.Service != "web" || e.Service.Address != "127.0.0.22" || e.Service.Port != 3001 || len(e.Service.Tags) != 2 {
		t.Errorf("service %+v", e.Service)
	}
	if len(e.Checks) != 2 || e.Checks[0].CheckID != fakeconsul.SerfHealth || e.Checks[1].ServiceID != "web-2" {
		t.Errorf("checks %+v", e.Checks)
	}
	if got := entries[2].Checks.AggregatedStatus(); got != api.HealthCritical {
		t.Errorf("web-3 status %q", got)
	}
	if entries[0].Service.Meta["version"] != "1.0.0" {
		t.Errorf("meta %v", entries[0].Service.Meta)
	}
}

func TestCatalogServiceShape(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	svcs, meta, err := client(t, s, "").Catalog().Service("web", "1.1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 1 || meta.LastIndex < 1 {
		t.Fatalf("got %d, meta %+v", len(svcs), meta)
	}
	c := svcs[0]
	if c.Node != "n2" || c.Address != "127.0.0.12" || c.ServiceAddress != "127.0.0.22" || c.ServicePort != 3001 || c.ServiceID != "web-2" || c.ServiceName != "web" {
		t.Errorf("%+v", c)
	}
	if s.Requests(fakeconsul.CatalogService) != 1 || s.Requests(fakeconsul.HealthService) != 0 {
		t.Errorf("counts: catalog %d health %d", s.Requests(fakeconsul.CatalogService), s.Requests(fakeconsul.HealthService))
	}
}

func ids(es []*api.ServiceEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Service.ID)
	}
	return strings.Join(out, ",")
}

func TestFilters(t *testing.T) {
	s := fixture(t, fakeconsul.Options{Datacenters: []string{"dc2"}})
	s.Register(fakeconsul.Instance{ID: "web-9", Service: "web", Node: "far", Datacenter: "dc2", Port: 9})
	s.SetCoordinate("agent", 0)
	s.SetCoordinate("n1", 5)
	s.SetCoordinate("n2", 1)
	s.SetCoordinate("n3", 3)
	for _, tc := range []struct {
		name    string
		tags    []string
		passing bool
		opts    api.QueryOptions
		want    string
	}{
		{name: "all", want: "web-1,web-2,web-3"},
		{name: "passing", passing: true, want: "web-1,web-2"},
		{name: "tag", tags: []string{"1.0.0"}, want: "web-1,web-3"},
		{name: "tag case-insensitive", tags: []string{"canary"}, want: "web-2"},
		{name: "two tags", tags: []string{"1.1.0", "canary"}, want: "web-2"},
		{name: "tag and passing", tags: []string{"1.0.0"}, passing: true, want: "web-1"},
		{name: "near agent", opts: api.QueryOptions{Near: "_agent"}, want: "web-2,web-3,web-1"},
		{name: "near node", opts: api.QueryOptions{Near: "n1"}, want: "web-1,web-3,web-2"},
		{name: "other dc", opts: api.QueryOptions{Datacenter: "dc2"}, want: "web-9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, _, err := client(t, s, "").Health().ServiceMultipleTags("web", tc.tags, tc.passing, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(es); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	s := fixture(t, fakeconsul.Options{Token: "secret"})
	for _, tc := range []struct {
		name, path, token string
		code              int
		body              string
	}{
		{name: "bad token", path: "/v1/health/service/web", token: "wrong", code: 403, body: "Permission denied"},
		{name: "bad wait", path: "/v1/health/service/web?index=1&wait=soon", token: "secret", code: 400, body: "Invalid wait time"},
		{name: "bad passing", path: "/v1/health/service/web?passing=maybe", token: "secret", code: 400, body: "Invalid value for ?passing"},
		{name: "unknown dc", path: "/v1/health/service/web?dc=mars", token: "secret", code: 500, body: "No path to datacenter"},
		{name: "anonymous is filtered", path: "/v1/health/service/web", code: 200, body: "[]"},
		{name: "good token", path: "/v1/catalog/service/web", token: "secret", code: 200, body: `"ServiceID":"web-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL()+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("X-Consul-Token", tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tc.code, tc.body)
			}
		})
	}
}

// A query with an index blocks until a write touches the service, and
// returns at once with the new index; one with a short wait returns after
// it with the same index.
func TestBlocking(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	c := client(t, s, "")
	_, meta, err := c.Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := meta.LastIndex

	_, meta, err = c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: start, WaitTime: 50 * time.Millisecond})
	if err != nil || meta.LastIndex != start {
		t.Fatalf("after the wait: %v, index %d, want %d", err, meta.LastIndex, start)
	}
	if got := s.Log(); got[len(got)-1].Index != start || got[len(got)-1].Wait != "50ms" {
		t.Errorf("logged %+v", got[len(got)-1])
	}

	// A write to another service doesn't wake it.
	done := make(chan []*api.ServiceEntry, 1)
	go func() {
		es, _, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: start, WaitTime: time.Minute})
		if err != nil {
			t.Error(err)
		}
		done <- es
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Blocked() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("query never blocked")
		}
		time.Sleep(time.Millisecond)
	}
	s.Register(fakeconsul.Instance{Service: "db", Port: 5432})
	s.Touch("other")
	select {
	case <-done:
		t.Fatal("woken by a write to another service")
	case <-time.After(50 * time.Millisecond):
	}
	s.SetCheck("n3", "web-3", "", fakeconsul.Passing)
	select {
	case es := <-done:
		if ids(es) != "web-1,web-2,web-3" {
			t.Errorf("got %s", ids(es))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by the check passing")
	}
}

// The agent stops (connections cut, port closed) and comes back on the
// same port with its state.
func TestStopStart(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	c := client(t, s, "")
	addr := s.Addr()
	_, meta, err := c.Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: meta.LastIndex})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Blocked() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("query never blocked")
		}
		time.Sleep(time.Millisecond)
	}
	s.Stop()
	if err := <-errc; err == nil {
		t.Error("blocked query survived the stop")
	}
	if _, _, err := c.Health().Service("web", "", true, nil); err == nil {
		t.Error("answered while stopped")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Errorf("restarted on %s, was %s", s.Addr(), addr)
	}
	es, _, err := c.Health().Service("web", "", true, nil)
	if err != nil || len(es) != 2 {
		t.Fatalf("after restart: %v, %d entries", err, len(es))
	}
}

func TestFailAndIndexFaults(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	c := client(t, s, "")
	s.Fail(500, "No cluster leader")
	_, _, err := c.Health().Service("web", "", true, nil)
	var se api.StatusError
	if !errors.As(err, &se) || se.Code != 500 || se.Body != "No cluster leader" {
		t.Fatalf("got %v", err)
	}
	s.Fail(0, "")
	s.SetIndex(3)
	if _, meta, _ := c.Health().Service("web", "", true, nil); meta.LastIndex != 3 {
		t.Errorf("index %d after SetIndex(3)", meta.LastIndex)
	}
	s.ZeroIndex(true)
	if _, meta, _ := c.Health().Service("web", "", true, nil); meta.LastIndex != 0 {
		t.Errorf("index %d with ZeroIndex", meta.LastIndex)
	}
	// A query without an index answers at once even then; the deadline
	// only stops a wrongly blocked one (5m) from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Health().Service("web", "", true, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		t.Error(err)
	}
}

func TestWaitParsing(t *testing.T) {
	s := fixture(t, fakeconsul.Options{})
	for _, tc := range []struct {
		wait string
		want time.Duration
	}{
		{"", 5 * time.Minute},
		{"10s", 10 * time.Second},
		{"5m", 5 * time.Minute},
		{"1500ms", 1500 * time.Millisecond},
		{"20m", 10 * time.Minute},
		{"0s", 5 * time.Minute},
		{"soon", 0},
	} {
		t.Run(tc.wait, func(t *testing.T) {
			resp, err := http.Get(s.URL() + "/v1/health/service/web?wait=" + tc.wait)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			log := s.Log()
			if got := log[len(log)-1].MaxWait; got != tc.want {
				t.Errorf("wait %q: %v, want %v", tc.wait, got, tc.want)
			}
		})
	}
}
