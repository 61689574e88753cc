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

func rewriteHeaders(b *testing.B, ctx *fasthttp.RequestCtx, req *fasthttp.Request, resp *fasthttp.ResponseHeader) {
	{
		req.Header.CopyTo(&ctx.Request.Header)
		resp.CopyTo(&ctx.Response.Header)
		hs := scan(&ctx.Request.Header, true)
		if hs&seenBadName != 0 {
			b.Fatal("valid names refused")
		}
		dropHopByHop(&ctx.Request.Header, hs, false)
		addForwarded(ctx, hs)
		dropHopByHop(&ctx.Response.Header, scan(&ctx.Response.Header, false), false)
	}
}
