package dataplane_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
)

// BenchmarkMirror is one keep-alive request through a route to a local
// fasthttp backend, on the goroutine path (where mirrored routes are
// served): without a mirror, with every request copied to a second
// backend, and copied to a mirror that never answers. The primary's
// ns/op with a hanging mirror should match the others' within noise:
// copies wait in a bounded queue (or are dropped), never the request.
//
//	go test -run '^$' -bench BenchmarkMirror -benchmem ./core/dataplane/
func BenchmarkMirror(b *testing.B) {
	backend := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Shutdown() })
		return ln.Addr().String()
	}
	hanging := func() string {
		return serveEach(b, func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
	}
	primary := backend()
	for _, bc := range []struct {
		name, mirror string
	}{{"none", ""}, {"to a backend", backend()}, {"to a hanging mirror", hanging()}} {
		b.Run(bc.name, func(b *testing.B) {
			pl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			port := pl.Addr().(*net.TCPAddr).Port
			pl.Close()
			dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet, GoroutineHTTP: true})
			b.Cleanup(func() { dp.Shutdown(context.Background()) })
			doc := fmt.Sprintf("name: bench\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 100%%\n", port, primary)
			if bc.mirror != "" {
				doc = fmt.Sprintf("name: bench\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 100%%\n    mirror: \"[%s]\"\n  \"[%s]\":\n    weight: 0%%\n    timeout: 1s\n",
					port, primary, bc.mirror, bc.mirror)
			}
			gws, err := gateway.Decode([]byte(doc), "")
			if err != nil {
				b.Fatal(err)
			}
			if err := engine.New(dp, engine.Options{Logger: quiet}).Set(gws); err != nil {
				b.Fatal(err)
			}
			benchRequests(b, port)
		})
	}
}
