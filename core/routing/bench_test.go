package routing

import (
	"net/netip"
	"testing"
	"time"

	"github.com/turnout/turnout/core/condition"
)

// A condition of ten operands, every kind the DSL has, that a realistic
// request fails late (so most operands are evaluated).
const tenOperands = `host == shop.example.com and user-agent == Firefox and has header X-Canary ` +
	`and header X-Tier has gold and method == GET and path ~ ^/api/ ` +
	`and query lang == nl and cookie session has abc and src == 10.0.0.0/8 and misses cookie optout`

func benchGateway(b testing.TB) (*Gateway, *fakeRequest) {
	g := build(b, `name: g
port: 9000/http
routes:
  "[10.0.0.1:80]":
    weight: 90%
  "[10.0.0.2:80]":
    weight: 10%
    condition: "`+tenOperands+`"
    condition_strength: 50%
`)
	req := &fakeRequest{
		host:   []byte("shop.example.com"),
		path:   []byte("/api/orders/42"),
		method: []byte("GET"),
		headers: [][2][]byte{
			{[]byte("User-Agent"), []byte("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")},
			{[]byte("Accept"), []byte("*/*")},
			{[]byte("X-Canary"), []byte("1")},
			{[]byte("X-Tier"), []byte("silver-gold")},
		},
		cookies: [][2][]byte{{[]byte("session"), []byte("xyzabc123")}},
		query:   [][2][]byte{{[]byte("lang"), []byte("nl")}},
		src:     netip.MustParseAddr("10.1.2.3"),
	}
	return g, req
}

// BenchmarkDecide is one routing decision for a request checked against a
// 10-operand condition (it matches, so every operand runs), then the
// strength share and the weighted schedule. Budget: 100 ns, 0 allocs.
func BenchmarkDecide(b *testing.B) {
	g, req := benchGateway(b)
	if !g.conditioned[0].Match.Match(req) {
		b.Fatal("benchmark request does not match the condition")
	}
	var r condition.Request = req
	b.ReportAllocs()
	for b.Loop() {
		d := g.Decide(r, nil)
		if d.Route == nil {
			b.Fatal("no route")
		}
	}
}

// BenchmarkDecideAndPick adds the endpoint choice, the whole per-request
// routing cost.
func BenchmarkDecideAndPick(b *testing.B) {
	g, req := benchGateway(b)
	var r condition.Request = req
	b.ReportAllocs()
	for b.Loop() {
		if g.Decide(r, nil).Route.Pick(nil) == nil {
			b.Fatal("no endpoint")
		}
	}
}

// BenchmarkDecideParallel shows the shared atomic cursors under contention.
func BenchmarkDecideParallel(b *testing.B) {
	g, req := benchGateway(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var r condition.Request = req
		for pb.Next() {
			g.Decide(r, nil)
		}
	})
}

func TestDecideDoesNotAllocate(t *testing.T) {
	g, req := benchGateway(t)
	var r condition.Request = req
	if n := testing.AllocsPerRun(1000, func() { g.Decide(r, nil).Route.Pick(nil) }); n != 0 {
		t.Fatalf("Decide+Pick allocates %.1f times per request, want 0", n)
	}
}

func nowNano() int64 { return time.Now().UnixNano() }
