package dataplane

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/routing"
)

// browserCookies is what a browser sends a site with analytics: twenty
// cookies, 640 bytes, before the one the condition reads.
var browserCookies = func() string {
	var sb strings.Builder
	for i := range 20 {
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "_ga_c%02d=GA1.1.%d.%d", i, 1000000+i*7919, 1700000000+i)
	}
	return sb.String()
}()

// BenchmarkDecideOnRequest is core/routing's BenchmarkDecide (the same
// 10-operand condition, which matches) on what the data plane really hands
// the matchers: a browser request with twenty cookies, parsed by fasthttp,
// read through request.
//
//   - parsed: the URI and the query were parsed already, as for every
//     decision after a request's first (cookies are read in place, never
//     parsed: peekCookie);
//   - fresh: each decision starts from a newly copied head, so it also pays
//     for parsing the URI and the query;
//   - copy and URI: the copy and the URI parse alone, to subtract: the loops
//     parse every request's URI to forward it, condition or not.
func BenchmarkDecideOnRequest(b *testing.B) {
	const cond = `host == shop.example.com and user-agent == Firefox and has header X-Canary ` +
		`and header X-Tier has gold and method == GET and path ~ ^/api/ ` +
		`and query lang == nl and cookie session has abc and src == 10.0.0.0/8 and misses cookie optout`
	raw := "GET /api/orders/42?lang=nl HTTP/1.1\r\nHost: shop.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"X-Canary: 1\r\nX-Tier: silver-gold\r\nCookie: " + browserCookies + "; session=xyzabc123; theme=dark\r\n\r\n"
	gws, err := gateway.Decode(fmt.Appendf(nil, "name: g\nport: 9000/http\nroutes:\n"+
		"  \"[10.0.0.1:80]\":\n    weight: 90%%\n"+
		"  \"[10.0.0.2:80]\":\n    weight: 10%%\n    condition: %q\n    condition_strength: 100%%\n", cond), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tbl, err := routing.Build(routing.Input{
		Gateways:  gws,
		Endpoints: routing.NewEndpoints(nil, nil, nil),
		Addrs: func(tg gateway.Target) ([]string, string) {
			return []string{fmt.Sprintf("%s:%d", tg.Host, tg.Port)}, ""
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	g := tbl.Gateway(9000)
	var src fasthttp.Request
	if err := src.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&src, &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5555}, nil)
	r := (*request)(&ctx)
	if d := g.Decide(r, nil); d.Route == nil || d.Route.Name != "[10.0.0.2:80]" {
		b.Fatalf("the benchmark request does not take the conditioned route: %+v", d.Route)
	}

	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g.Decide(r, nil)
		}
	})
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src.CopyTo(&ctx.Request)
			g.Decide(r, nil)
		}
	})
	b.Run("copy and URI", func(b *testing.B) {
		for b.Loop() {
			src.CopyTo(&ctx.Request)
			ctx.Request.URI()
		}
	})
}
