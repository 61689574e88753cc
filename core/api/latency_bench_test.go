package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
)

// BenchmarkAPIUpdateToTraffic measures how long a weight change takes to
// reach traffic, with the real pieces in one process: the REST API, the
// bbolt store (fsync included), the engine following the store, the data
// plane, and two backends. Each iteration flips a gateway from 100/0 to
// 0/100 (and back) with a PATCH, then sends requests until one is answered
// by the newly weighted backend. Reported: accepted-ms (PATCH sent to its
// answer: validation and the durable write) and to-traffic-ms (PATCH
// answered to the first request on the new route).
func BenchmarkAPIUpdateToTraffic(b *testing.B) {
	quiet := slog.New(slog.DiscardHandler)
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet})
	defer dp.Shutdown(context.Background())
	eng := engine.New(dp, engine.Options{Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Follow(ctx, st, 0, nil)
	srv := httptest.NewServer(api.NewGatewayAPI(st, eng.Check, quiet))
	defer srv.Close()

	a, c := testnet.Backend(b, "a"), testnet.Backend(b, "c")
	port := testnet.FreePort(b)
	doc := fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 100%%\n  \"[%s]\":\n    weight: 0%%\n", port, a, c)
	send(b, "PUT", srv.URL+"/api/v1/gateways/g", "application/x-yaml", doc, 201)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	waitFor := func(want string) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := client.Get(url)
			if err == nil {
				got := resp.Header.Get("X-Backend")
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got == want {
					return
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("traffic did not move to %s within 5s", want)
			}
		}
	}
	waitFor("a")
	weights := func(wa, wc int) string {
		return fmt.Sprintf(`{"routes": {"[%s]": {"weight": "%d%%"}, "[%s]": {"weight": "%d%%"}}}`, a, wa, c, wc)
	}
	var accepted, toTraffic time.Duration
	b.ResetTimer()
	for i := range b.N {
		next, wa, wc := "c", 0, 100
		if i%2 == 1 {
			next, wa, wc = "a", 100, 0
		}
		t0 := time.Now()
		send(b, "PATCH", srv.URL+"/api/v1/gateways/g", "application/merge-patch+json", weights(wa, wc), 200)
		t1 := time.Now()
		waitFor(next)
		accepted += t1.Sub(t0)
		toTraffic += time.Since(t1)
	}
	b.ReportMetric(float64(accepted.Microseconds())/1000/float64(b.N), "accepted-ms")
	b.ReportMetric(float64(toTraffic.Microseconds())/1000/float64(b.N), "to-traffic-ms")
}

func send(b *testing.B, method, url, ct, body string, want int) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, msg)
	}
}
