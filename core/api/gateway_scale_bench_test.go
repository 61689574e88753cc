package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/store"
)

// BenchmarkGatewayScale measures one change among N gateways of two routes
// each, from the API request to the engine putting the store version it
// made in service, with the real pieces in one process: REST API, bbolt
// store (fsync included), engine following the store, data plane with a
// listener per gateway. op=apply PUTs a whole gateway document that moves
// a route to another target; op=weight PATCHes one gateway's weights.
// Both should cost about the same at 10, 100 and 1,000 gateways.
// Reported: p50-ms and p99-ms of the change's latency, and the process's
// CPU time per change.
func BenchmarkGatewayScale(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, op := range []string{"apply", "weight"} {
			b.Run(fmt.Sprintf("gateways=%d/op=%s", n, op), func(b *testing.B) {
				benchGatewayScale(b, n, op)
			})
		}
	}
}

func benchGatewayScale(b *testing.B, n int, op string) {
	quiet := slog.New(slog.DiscardHandler)
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dp.Shutdown(ctx)
	}()
	// Gateways get ports from a range below the ephemeral ports (32768 and
	// up on Linux), which other sockets of a busy machine may take at any
	// time, and away from the usual ones.
	eng := engine.New(dp, engine.Options{Logger: quiet, PortRange: [2]int{24000, 26999}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	applied := make(chan int64, 16)
	go eng.Follow(ctx, st, 0, func(v int64, err error) {
		if err != nil {
			b.Errorf("store version %d not put in service: %v", v, err)
		}
		applied <- v
	})
	srv := httptest.NewServer(api.NewGatewayAPI(st, eng.Check, quiet))
	defer srv.Close()

	// The gateways arrive in one POST: one store version.
	var docs []string
	for i := range n {
		docs = append(docs, scaleGateway(i, 0))
	}
	send(b, "POST", srv.URL+"/api/v1/gateways", "application/x-yaml", strings.Join(docs, "---\n"), 201)
	await(b, applied, 1)
	// The first write after the POST decodes the whole stored set into the
	// API's cache (its check had an empty store): a one-time cost, as after
	// a restart, not the steady state measured here.
	send(b, "PATCH", srv.URL+"/api/v1/gateways/gw-0", "application/merge-patch+json", `{"routes": {"[127.0.0.1:21001]": {"weight": "50%"}, "[127.0.0.1:21002]": {"weight": "50%"}}}`, 200)
	await(b, applied, 2)

	var took []time.Duration
	var cpu time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g := i * 7919 % n           // a different gateway each time, spread over the set
		wa := 100 * ((i/n + 1) % 2) // every visit to a gateway flips it
		t0, c0 := time.Now(), processCPU(b)
		if op == "apply" {
			send(b, "PUT", fmt.Sprintf("%s/api/v1/gateways/gw-%d", srv.URL, g), "application/x-yaml", scaleGateway(g, wa), 200)
		} else {
			send(b, "PATCH", fmt.Sprintf("%s/api/v1/gateways/gw-%d", srv.URL, g), "application/merge-patch+json",
				fmt.Sprintf(`{"routes": {"[127.0.0.1:21001]": {"weight": "%d%%"}, "[127.0.0.1:21002]": {"weight": "%d%%"}}}`, 100-wa, wa), 200)
		}
		await(b, applied, int64(i+3))
		took = append(took, time.Since(t0))
		cpu += processCPU(b) - c0
		i++
	}
	slices.Sort(took)
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[(len(took)*99)/100]), "p99-ms")
	// The process's CPU time (GC included) varies less than the wall clock
	// on a shared machine.
	b.ReportMetric(ms(cpu)/float64(len(took)), "cpu-ms/op")
}

// scaleGateway is gateway gw-i with two routes, the second one taking w2
// percent of the traffic.
func scaleGateway(i, w2 int) string {
	return fmt.Sprintf("name: gw-%d\nroutes:\n  \"[127.0.0.1:21001]\":\n    weight: %d%%\n  \"[127.0.0.1:21002]\":\n    weight: %d%%\n",
		i, 100-w2, w2)
}

// await waits until the engine reports store version v in service.
func await(b *testing.B, applied <-chan int64, v int64) {
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-applied:
			if got >= v {
				return
			}
		case <-deadline:
			b.Fatalf("store version %d not in service within 30s", v)
		}
	}
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
