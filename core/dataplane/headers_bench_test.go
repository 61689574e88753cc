package dataplane

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHeaderRewrite is the per-request header work of the proxy on a
// typical browser request and backend response: token check, hop-by-hop
// removal both ways, X-Forwarded-*.
func BenchmarkHeaderRewrite(b *testing.B) {
	const rawReq = "GET /api/orders?id=42 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nCookie: session=abc123; theme=dark\r\n\r\n"
	const rawResp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nDate: Thu, 26 Nov 2026 05:00:00 GMT\r\nServer: backend\r\nCache-Control: no-store\r\n\r\n"
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5555}, nil)
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(rawReq))); err != nil {
		b.Fatal(err)
	}
	var resp fasthttp.ResponseHeader
	if err := resp.Read(bufio.NewReader(strings.NewReader(rawResp))); err != nil {
		b.Fatal(err)
	}
	b.Run("copy only", func(b *testing.B) {
		for b.Loop() {
			req.Header.CopyTo(&ctx.Request.Header)
			resp.CopyTo(&ctx.Response.Header)
		}
	})
	b.Run("copy and rewrite", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rewriteHeaders(b, &ctx, &req, &resp)
		}
	})
}

func rewriteHeaders(b testing.TB, ctx *fasthttp.RequestCtx, req *fasthttp.Request, resp *fasthttp.ResponseHeader) {
	{
		req.Header.CopyTo(&ctx.Request.Header)
		resp.CopyTo(&ctx.Response.Header)
		hs := scanRequest(&ctx.Request.Header)
		if hs&seenBadName != 0 {
			b.Fatal("valid names refused")
		}
		dropHopByHop(&ctx.Request.Header, hs, false)
		addForwarded(ctx, hs)
		dropHopByHop(&ctx.Response.Header, scanResponse(&ctx.Response.Header), false)
	}
}

// The header work on the request path allocates nothing (an interface in
// the wrong place once made the header iterators escape: 6 allocations).
func TestHeaderRewriteDoesNotAllocate(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5555}, nil)
	var req fasthttp.Request
	raw := "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nX-Forwarded-For: 1.2.3.4\r\nTE: trailers\r\n\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.ResponseHeader
	if err := resp.Read(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n"))); err != nil {
		t.Fatal(err)
	}
	rewriteHeaders(t, &ctx, &req, &resp) // warm fasthttp's buffers
	if n := testing.AllocsPerRun(100, func() { rewriteHeaders(t, &ctx, &req, &resp) }); n != 0 {
		t.Fatalf("header rewriting allocates %.1f times per request", n)
	}
}

// BenchmarkScanRequest is the header scan of every request (names checked,
// hop-by-hop headers noted) on a browser's head without cookies, with two,
// and with twenty-two (browserCookies and two more): with cookies it reads
// the raw lines instead of having fasthttp parse every cookie.
func BenchmarkScanRequest(b *testing.B) {
	const head = "GET /api/orders/42?lang=nl HTTP/1.1\r\nHost: shop.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
	for _, c := range []struct{ name, cookie string }{
		{"no cookies", ""},
		{"2 cookies", "Cookie: session=xyzabc123; theme=dark\r\n"},
		{"22 cookies", "Cookie: " + browserCookies + "; session=xyzabc123; theme=dark\r\n"},
	} {
		var src fasthttp.RequestHeader
		if err := src.Read(bufio.NewReader(strings.NewReader(head + c.cookie + "\r\n"))); err != nil {
			b.Fatal(err)
		}
		var h fasthttp.RequestHeader
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src.CopyTo(&h)
				if scanRequest(&h)&seenBadName != 0 {
					b.Fatal("valid names refused")
				}
			}
		})
	}
}
