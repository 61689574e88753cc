package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/testnet"
)

// scaleDoc is a gateway with n "[127.0.0.1:port]" routes (no plugins),
// every route its own endpoint, the first route taking all the traffic.
func scaleDoc(port, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: big\nport: %d/http\nroutes:\n", port)
	for i := range n {
		w := 0
		if i == 0 {
			w = 100
		}
		fmt.Fprintf(&b, "  \"[127.0.0.1:%d]\":\n    weight: %d%%\n", 20000+i, w)
	}
	return b.String()
}

// BenchmarkRouteScale measures the engine putting a gateway of N routes in
// service (create: from one route to N) and taking N-1 of them out again
// (remove: from N routes to one), with the real data plane and metrics
// registry: table build, endpoint registry, port listeners, metric series.
// Both must grow linearly with N.
func BenchmarkRouteScale(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		for _, op := range []string{"create", "remove"} {
			b.Run(fmt.Sprintf("routes=%d/op=%s", n, op), func(b *testing.B) {
				quiet := slog.New(slog.DiscardHandler)
				dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet})
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					dp.Shutdown(ctx)
				}()
				eng := New(dp, Options{Logger: quiet})
				port := testnet.FreePort(b)
				big, small := decode(b, scaleDoc(port, n)), decode(b, scaleDoc(port, 1))
				from, to := small, big
				if op == "remove" {
					from, to = big, small
				}
				b.ReportAllocs()
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					if err := eng.Set(cloneSet(from)); err != nil {
						b.Fatal(err)
					}
					// The setup's garbage is not the measured change's.
					runtime.GC()
					b.StartTimer()
					c0 := cpuTime(b)
					if err := eng.Set(cloneSet(to)); err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime(b) - c0
				}
				// The process's CPU time (GC included) varies less than
				// the wall clock on a shared machine.
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// cloneSet copies the gateways Set keeps, so every iteration starts from
// the same documents.
func cloneSet(gws []*gateway.Gateway) []*gateway.Gateway {
	out := make([]*gateway.Gateway, len(gws))
	for i, g := range gws {
		cp := *g
		out[i] = &cp
	}
	return out
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
