package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestStalledEventReadersBench measures whether event readers that never
// read slow the data plane: requests per second through a gateway, back
// to back from four keep-alive clients, while the gateway's weights change
// every 50 ms (each change an event), in rounds of TURNOUT_BENCH_EVENTS
// requests alternating between no event reader and 50 readers that opened
// the stream and read nothing; a round's rate is its requests over the
// time they took. A measurement, not a test: it runs only with
// TURNOUT_BENCH_EVENTS set, and asserts nothing about the figures.
//
//	TURNOUT_BENCH_EVENTS=40000 go test -run '^TestStalledEventReadersBench$' -count 1 -v ./cmd/turnout/
func TestStalledEventReadersBench(t *testing.T) {
	per, _ := strconv.ParseInt(os.Getenv("TURNOUT_BENCH_EVENTS"), 10, 64)
	if per <= 0 {
		t.Skip("a measurement: set TURNOUT_BENCH_EVENTS (requests per round)")
	}
	if raceEnabled {
		t.Log("built with -race: the rates measured are the race detector's too")
	}
	port := testnet.FreePort(t)
	gw := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(gw, []byte(seed(port, "50%", "50%")), 0o644); err != nil {
		t.Fatal(err)
	}
	tt := run(t, append([]string{"--data-dir", t.TempDir()}, seedPins(t)...)...)
	if out, code := tt.cli("gateway", "apply", "-f", gw); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	api := "http://" + tt.admin + "/api/v1/gateways/simpleservice"
	// The changes: a PATCH of the weights every 50 ms, until the end.
	stop := make(chan struct{})
	changed := make(chan int)
	go func() {
		n := 0
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				changed <- n
				return
			case <-tick.C:
			}
			w := 40 + n%20
			body := fmt.Sprintf(`{"routes": {"[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "%d%%"},
  "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "%d%%"}}}`, w, 100-w)
			if code, _, _ := apiCall(t, "PATCH", api, "application/merge-patch+json", body); code == 200 {
				n++
			}
		}
	}()
	stalled := func() []net.Conn {
		var cs []net.Conn
		for range 50 {
			c, err := net.Dial("tcp", tt.admin)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n") // and never a read
			cs = append(cs, c)
		}
		return cs
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	round := func(readers bool) float64 {
		var cs []net.Conn
		if readers {
			cs = stalled()
		}
		l := startLoad(t, url, loadOptions{clients: 4})
		start, target := time.Now(), l.ok.Load()+per
		// A round ends on a count of requests, not after a span of time.
		testnet.Eventually(t, 10*time.Minute, fmt.Sprintf("%d requests", per), func() bool { return l.ok.Load() >= target })
		rps := float64(per) / time.Since(start).Seconds()
		l.stop()
		l.wg.Wait()
		for _, c := range cs {
			c.Close()
		}
		return rps
	}
	var without, with []float64
	for range 3 {
		without = append(without, round(false))
		with = append(with, round(true))
	}
	close(stop)
	n := <-changed
	t.Logf("requests per second, 3 rounds of %d requests each, %d weight changes in all", per, n)
	t.Logf("  no event reader:      %.0f", without)
	t.Logf("  50 stalled readers:   %.0f", with)
}
