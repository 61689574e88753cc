package routing

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/condition"
	"github.com/turnout/turnout/core/gateway"
)

// fakeRequest is a condition.Request over fixed values; its methods do not
// allocate, so benchmarks measure the routing decision alone.
type fakeRequest struct {
	host, path, method []byte
	headers            [][2][]byte
	cookies            [][2][]byte
	query              [][2][]byte
	src                netip.Addr
}

func (r *fakeRequest) Host() []byte   { return r.host }
func (r *fakeRequest) Path() []byte   { return r.path }
func (r *fakeRequest) Method() []byte { return r.method }

// Header compares exactly: headers are stored, and asked for, in
// canonical form, as in fasthttp.
func (r *fakeRequest) Header(n []byte) ([]byte, bool) { return find(r.headers, n) }
func (r *fakeRequest) Cookie(n []byte) ([]byte, bool) { return find(r.cookies, n) }
func (r *fakeRequest) Query(n []byte) ([]byte, bool)  { return find(r.query, n) }
func (r *fakeRequest) Source() netip.Addr             { return r.src }

func find(kvs [][2][]byte, n []byte) ([]byte, bool) {
	for _, kv := range kvs {
		if bytes.Equal(kv[0], n) {
			return kv[1], true
		}
	}
	return nil, false
}

func ua(s string) *fakeRequest {
	return &fakeRequest{host: []byte("shop.example.com"), path: []byte("/"), method: []byte("GET"),
		headers: [][2][]byte{{[]byte("User-Agent"), []byte(s)}}, src: netip.MustParseAddr("127.0.0.1")}
}

// build decodes a gateway document and builds its table; every route
// target resolves to one endpoint named after it.
func build(t testing.TB, doc string) *Gateway {
	t.Helper()
	gws, err := gateway.Decode([]byte(doc), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eps := NewEndpoints(nil, nil, nil)
	tbl, err := Build(Input{
		Gateways:  gws,
		Endpoints: eps,
		Addrs: func(tg gateway.Target) ([]string, string) {
			return []string{fmt.Sprintf("%s:%d", tg.Host, tg.Port)}, ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tbl.Gateway(gws[0].Port.Number)
}

func count(g *Gateway, n int, req func(i int) condition.Request) map[string]int {
	got := map[string]int{}
	for i := range n {
		d := g.Decide(req(i), nil)
		if d.Route == nil {
			got["<none>"]++
			continue
		}
		got[d.Route.Name]++
	}
	return got
}

func TestWeightsAreExactOverEveryCycle(t *testing.T) {
	tests := []struct {
		weights []string
		cycle   int
	}{
		{[]string{"50%", "50%"}, 2},
		{[]string{"90%", "10%"}, 10},
		{[]string{"33%", "33%", "34%"}, 100},
		{[]string{"99.5%", "0.5%"}, 200},
		{[]string{"100%", "0%"}, 1},
		{[]string{"0%", "70%", "30%"}, 10},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.weights), func(t *testing.T) {
			doc := "name: g\nport: 9000/http\nroutes:\n"
			for i, w := range tc.weights {
				doc += fmt.Sprintf("  \"[10.0.0.%d:80]\":\n    weight: %s\n", i+1, w)
			}
			g := build(t, doc)
			if len(g.weights.seq) != tc.cycle {
				t.Fatalf("cycle length %d, want %d", len(g.weights.seq), tc.cycle)
			}
			// Three full cycles starting at an arbitrary offset: every
			// window of cycle length holds each route exactly its share.
			g.Decide(ua("x"), nil)
			got := count(g, 3*tc.cycle, func(int) condition.Request { return ua("x") })
			for i, r := range g.Routes {
				want := 3 * tc.cycle * int(r.Weight) / 10000
				if got[r.Name] != want {
					t.Errorf("route %d (%s): %d of %d, want %d", i, tc.weights[i], got[r.Name], 3*tc.cycle, want)
				}
			}
		})
	}
}

func TestSmoothScheduleInterleaves(t *testing.T) {
	s := newSchedule([]int{8000, 2000})
	got := fmt.Sprint(s.seq)
	// nginx's smooth WRR: the light route is spread out, not bunched.
	if want := "[0 0 1 0 0]"; got != want {
		t.Fatalf("sequence %s, want %s", got, want)
	}
}

func TestConditionStrength(t *testing.T) {
	const doc = `name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    weight: 80%
  "[10.0.0.2:80]":
    weight: 20%
    condition: user-agent == Firefox
    condition_strength: STRENGTH
`
	const a, b = "[10.0.0.1:80]", "[10.0.0.2:80]"
	tests := []struct {
		strength      string
		firefoxToB    int // of 1000 Firefox requests
		othersToB     int // of 1000 other requests
		firefoxWithin int // tolerance: the bucket follows 80/20
	}{
		// 100%: every Firefox request to B; the others by weight (20% to B).
		{"100%", 1000, 200, 0},
		// 50%: half of Firefox to B by strength, the other half by
		// weight (20% of 500 = 100 more), Vamp's docs example.
		{"50%", 600, 200, 10},
		// 0% is not "no condition": nothing taken by the condition.
		{"0%", 200, 200, 10},
	}
	for _, tc := range tests {
		t.Run(tc.strength, func(t *testing.T) {
			g := build(t, strings.Replace(doc, "STRENGTH", tc.strength, 1))
			ff := count(g, 1000, func(int) condition.Request { return ua("Mozilla/5.0 (X11) Gecko/20100101 Firefox/121.0") })
			other := count(g, 1000, func(int) condition.Request { return ua("curl/8.0") })
			if d := ff[b] - tc.firefoxToB; d < -tc.firefoxWithin || d > tc.firefoxWithin {
				t.Errorf("Firefox to B: %d, want %d±%d (%v)", ff[b], tc.firefoxToB, tc.firefoxWithin, ff)
			}
			if other[b] != tc.othersToB || other[a] != 1000-tc.othersToB {
				t.Errorf("others: %v, want B=%d", other, tc.othersToB)
			}
		})
	}
}

func TestFirstMatchingConditionDecides(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    weight: 100%
  "[10.0.0.2:80]":
    condition: has header X-Beta
    condition_strength: 100%
  "[10.0.0.3:80]":
    condition: user-agent == Chrome
`)
	beta := ua("Chrome/120")
	beta.headers = append(beta.headers, [2][]byte{[]byte("X-Beta"), []byte("1")})
	for _, tc := range []struct {
		req  *fakeRequest
		want string
	}{
		{beta, "[10.0.0.2:80]"},             // matches both; the first in order wins
		{ua("Chrome/120"), "[10.0.0.3:80]"}, // matches only the third
		{ua("Firefox/121"), "[10.0.0.1:80]"},
	} {
		if got := g.Decide(tc.req, nil).Route.Name; got != tc.want {
			t.Errorf("%q: routed to %s, want %s", tc.req.headers, got, tc.want)
		}
	}
}

func TestNoWeightsAndNoMatchGivesNoRoute(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    weight: 0%
    condition: has cookie beta
  "[10.0.0.2:80]":
    weight: 0%
`)
	if r := g.Decide(ua("x"), nil).Route; r != nil {
		t.Fatalf("routed to %s, want no route", r.Name)
	}
	empty := build(t, "name: g\nport: 9000/http\n")
	if r := empty.Decide(ua("x"), nil).Route; r != nil {
		t.Fatalf("gateway without routes routed to %s", r.Name)
	}
}

// A cookie names the client's route only while that route takes new
// requests: at weight 0 with no condition strength (a rollback, an abort,
// a promotion) its clients are re-pinned by weight, so that "everyone
// back to stable" includes them.
func TestStickyCookieHonouredOnlyWhileTheRouteTakesRequests(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
sticky: route
routes:
  "[10.0.0.1:80]":
    weight: 90%
  "[10.0.0.2:80]":
    weight: 10%
  "[10.0.0.3:80]":
    weight: 0%
  "[10.0.0.4:80]":
    weight: 0%
    condition: has cookie beta
  "[10.0.0.5:80]":
    weight: 0%
    condition: has cookie gamma
    condition_strength: 0%
`)
	for _, tc := range []struct {
		route   int
		kept    bool
		because string
	}{
		{1, true, "weight 10%"},
		{2, false, "weight 0, no condition"},
		{3, true, "weight 0 but a condition at 100%"},
		{4, false, "weight 0 and its condition at strength 0"},
	} {
		r := g.Routes[tc.route]
		d := g.Decide(ua("x"), []byte(r.CookieValue))
		if tc.kept && (d.Route != r || d.SetCookie) {
			t.Errorf("%s (%s): routed to %s, set cookie %v; want the cookie honoured", r.Name, tc.because, d.Route.Name, d.SetCookie)
		}
		if !tc.kept && (d.Route == r || !d.SetCookie) {
			t.Errorf("%s (%s): routed to %s, set cookie %v; want a route by weight and a new cookie", r.Name, tc.because, d.Route.Name, d.SetCookie)
		}
	}
	d := g.Decide(ua("x"), []byte("deadbeef"))
	if d.Route == nil || !d.SetCookie {
		t.Fatalf("unknown cookie: routed to %v, set cookie %v; want a weighted route and a new cookie", d.Route, d.SetCookie)
	}
	if got := string(g.Cookie(nil, g.Routes[0], g.Routes[0].Endpoints[0])); got != g.Routes[0].CookieValue {
		t.Fatalf("sticky: route cookie %q names an endpoint", got)
	}
}

func TestStickyInstancePinsTheEndpoint(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
sticky: instance
routes:
  "[10.0.0.1:80]": {}
`)
	r := g.Routes[0]
	e := r.Endpoints[0]
	c := g.Cookie(nil, r, e)
	d := g.Decide(ua("x"), c)
	if d.Endpoint != e || d.SetCookie {
		t.Fatalf("cookie %s: endpoint %v, set cookie %v", c, d.Endpoint, d.SetCookie)
	}
	d = g.Decide(ua("x"), []byte(r.CookieValue+".00000000"))
	if d.Route != r || d.Endpoint != nil || !d.SetCookie {
		t.Fatalf("gone endpoint: want the route kept and a new cookie, got %+v", d)
	}
}

func TestPickBalances(t *testing.T) {
	eps := []*Endpoint{{Addr: "a"}, {Addr: "b"}, {Addr: "c"}}
	r := &Route{Endpoints: eps, rr: new(counter)}
	seen := map[string]int{}
	for range 300 {
		seen[r.Pick(nil).Addr]++
	}
	if seen["a"] != 100 || seen["b"] != 100 || seen["c"] != 100 {
		t.Fatalf("round robin: %v", seen)
	}
	eps[1].Failed(nowNano(), 1e12)
	for range 10 {
		if e := r.Pick(nil); e == eps[1] {
			t.Fatal("picked an ejected endpoint while others were healthy")
		}
	}
	if e := r.Pick(eps[0]); e == eps[0] {
		t.Fatal("picked the endpoint to avoid")
	}
	r.LeastConn = true
	eps[0].Begin()
	eps[0].Begin()
	if e := r.Pick(nil); e != eps[2] {
		t.Fatalf("least connections picked %s, want c", e.Addr)
	}
	// Everything ejected: still answer with one rather than fail.
	eps[0].Failed(nowNano(), 1e12)
	eps[2].Failed(nowNano(), 1e12)
	if r.Pick(nil) == nil {
		t.Fatal("all endpoints ejected: want one anyway")
	}
}

func TestRoutesWithoutEndpointsGiveTheirShareAway(t *testing.T) {
	gws, err := gateway.Decode([]byte(`name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    weight: 50%
  "[unresolved.example:80]":
    weight: 50%
`), "")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Build(Input{Gateways: gws, Endpoints: NewEndpoints(nil, nil, nil), Addrs: func(tg gateway.Target) ([]string, string) {
		if tg.Host == "10.0.0.1" {
			return []string{"10.0.0.1:80"}, ""
		}
		return nil, ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := count(tbl.Gateway(9000), 100, func(int) condition.Request { return ua("x") })
	if got["[10.0.0.1:80]"] != 100 {
		t.Fatalf("split %v: want everything on the route that has endpoints", got)
	}
}

func TestVirtualHosts(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
virtual_hosts: [shop.example.com, "*.beta.example.com"]
`)
	for host, want := range map[string]bool{
		"shop.example.com":      true,
		"SHOP.Example.com:9000": true,
		"a.beta.example.com":    true,
		"beta.example.com":      false,
		"other.example.com":     false,
		"":                      false,
	} {
		if got := g.ServesHost([]byte(host)); got != want {
			t.Errorf("ServesHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRewrites(t *testing.T) {
	g := build(t, `name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    rewrites:
      - path: /v2%[path] if path ~ ^/api
`)
	r := g.Routes[0]
	req := ua("x")
	req.path = []byte("/api/users")
	if got, ok := r.RewritePath(nil, req, req.path); !ok || string(got) != "/v2/api/users" {
		t.Fatalf("rewrite: %q %v", got, ok)
	}
	req.path = []byte("/static/x")
	if _, ok := r.RewritePath(nil, req, req.path); ok {
		t.Fatal("rewrite applied to a path its condition does not match")
	}
}

func TestShare(t *testing.T) {
	for _, s := range []int{0, 1, 50, 3333, 5000, 9999, 10000} {
		taken := 0
		for n := range uint64(10000) {
			if share(n, s) {
				taken++
			}
		}
		if taken != s {
			t.Errorf("strength %d: took %d of 10000", s, taken)
		}
	}
}
