package dataplane_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
)

// BenchmarkProxyHTTP is one keep-alive request through a gateway with a
// 50/50 split to two local fasthttp backends (64-byte bodies), client,
// proxy and backends in this process. It is for allocation and regression
// tracking; throughput beside HAProxy and nginx comes from `make bench`.
func BenchmarkProxyHTTP(b *testing.B) {
	body := make([]byte, 64)
	var backends []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) }}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Shutdown() })
		backends = append(backends, ln.Addr().String())
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := pl.Addr().(*net.TCPAddr).Port
	pl.Close()
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet})
	b.Cleanup(func() { dp.Shutdown(context.Background()) })
	gws, err := gateway.Decode(fmt.Appendf(nil, "name: bench\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 50%%\n  \"[%s]\":\n    weight: 50%%\n", port, backends[0], backends[1]), "")
	if err != nil {
		b.Fatal(err)
	}
	if err := engine.New(dp, engine.Options{Logger: quiet}).Set(gws); err != nil {
		b.Fatal(err)
	}
	benchRequests(b, port)
}

// benchRequests sends keep-alive GETs to the gateway on port from
// parallel clients, b.N in all, each answer a 200 or the benchmark fails.
func benchRequests(b *testing.B, port int) {
	client := &fasthttp.HostClient{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxConns: 64}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(fmt.Sprintf("http://127.0.0.1:%d/", port))
		for pb.Next() {
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("request failed: %v %d", err, resp.StatusCode())
			}
		}
	})
}
