package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// The demo stands in for the two Marathon apps of the README's example
// gateway: two tiny HTTP backends on 127.0.0.1, and --resolve pins that
// pin the example's Minuteman VIP names to them.
var demoApps = []struct{ name, vip string }{
	{"simple-service-1.0.0", "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000"},
	{"simple-service-1.1.0", "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000"},
}

// startDemo starts one backend per demo app on consecutive ports from
// base and returns the resolve pins for their VIP names.
func startDemo(ctx context.Context, base int, log *slog.Logger) (map[string][]string, error) {
	pins := map[string][]string{}
	for i, app := range demoApps {
		addr := fmt.Sprintf("127.0.0.1:%d", base+i)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("demo backend %s: %w", app.name, err)
		}
		name := app.name
		srv := &http.Server{
			ReadHeaderTimeout: 5 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Backend", name)
				fmt.Fprintf(w, "hello from %s (%s %s)\n", name, r.Method, r.URL.Path)
			}),
		}
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
		pins[app.vip] = []string{addr}
		log.Info("demo backend started", "app", name, "addr", addr, "serves", app.vip)
	}
	return pins, nil
}
