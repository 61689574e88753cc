package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// TestClusterConvergenceBench measures how fast a change reaches traffic
// across agents: three agents on one real ZooKeeper; TURNOUT_BENCH_CHANGES
// changes through agent A's API, each flipping a gateway between two
// backends; for each, the time from A's 2xx answer to the first request
// on B, and on C, answered by the new backend (each polled in a tight
// loop on a keep-alive connection from that 2xx on). A measurement, not
// a test: it runs only with TURNOUT_BENCH_CHANGES set (bench/cluster.sh,
// `make bench-cluster`), and writes its results to TURNOUT_BENCH_OUT as
// KEY=VALUE lines.
//
//	TURNOUT_BENCH_CHANGES=200 go test -run '^TestClusterConvergenceBench$' -count 1 -v ./cmd/turnout/
func TestClusterConvergenceBench(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TURNOUT_BENCH_CHANGES"))
	if n <= 0 {
		t.Skip("a measurement: set TURNOUT_BENCH_CHANGES (make bench-cluster)")
	}
	if raceEnabled {
		t.Log("built with -race: the delays measured are the race detector's too")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/bench/turnout"
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	port := testnet.FreePort(t)
	agents := zkAgents(t, url, 3)
	api := "http://" + agents[0].admin + "/api/v1/gateways/shop"
	if code, _, body := putIfMatch(t, api, "", onlyTo("shop", port, v1, v2)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	for i := range agents {
		answers(t, gatewayURL(i, port), "v1", fmt.Sprintf("agent %d to serve", i))
	}
	// One keep-alive client per follower, as a steady client of it.
	pollers := make([]*http.Client, len(agents))
	for i := range pollers {
		pollers[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	}
	// firstAnswer polls agent i until want answers, and returns when.
	firstAnswer := func(i int, want string) (time.Time, error) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := pollers[i].Get(gatewayURL(i, port))
			if err != nil {
				return time.Time{}, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return time.Time{}, fmt.Errorf("agent %d answered %s", i, resp.Status)
			}
			if resp.Header.Get("X-Backend") == want {
				return time.Now(), nil
			}
		}
		return time.Time{}, fmt.Errorf("agent %d: not %s within 30s", i, want)
	}
	var accept, local, followers []time.Duration
	byAgent := map[int][]time.Duration{}
	start := time.Now()
	for c := range n {
		to, other := v2, v1
		if c%2 == 1 {
			to, other = v1, v2
		}
		sent := time.Now()
		code, _, body := putIfMatch(t, api, "", onlyTo("shop", port, to, other))
		acked := time.Now()
		if code != 200 {
			t.Fatalf("change %d: %d %s", c, code, body)
		}
		accept = append(accept, acked.Sub(sent))
		type seen struct {
			i   int
			at  time.Time
			err error
		}
		ch := make(chan seen, len(agents))
		for i := range agents {
			go func() {
				at, err := firstAnswer(i, to.name)
				ch <- seen{i, at, err}
			}()
		}
		for range agents {
			s := <-ch
			if s.err != nil {
				t.Fatalf("change %d: %v", c, s.err)
			}
			d := max(s.at.Sub(acked), 0)
			if s.i == 0 {
				local = append(local, d)
				continue
			}
			followers = append(followers, d)
			byAgent[s.i] = append(byAgent[s.i], d)
		}
	}
	elapsed := time.Since(start)

	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	pct := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		// Nearest rank: the smallest value with at least p of them at or below it.
		k := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(k, 0), len(s)-1)]
	}
	stats := func(prefix string, ds []time.Duration) []string {
		return []string{
			prefix + "_p50_ms=" + ms(pct(ds, 0.50)),
			prefix + "_p99_ms=" + ms(pct(ds, 0.99)),
			prefix + "_max_ms=" + ms(pct(ds, 1)),
		}
	}
	lines := []string{
		"agents=3",
		"changes=" + strconv.Itoa(n),
		"samples=" + strconv.Itoa(len(followers)),
		"seconds=" + strconv.FormatFloat(elapsed.Seconds(), 'f', 1, 64),
		"race=" + strconv.FormatBool(raceEnabled),
	}
	lines = append(lines, stats("followers", followers)...)
	lines = append(lines, stats("b", byAgent[1])...)
	lines = append(lines, stats("c", byAgent[2])...)
	lines = append(lines, stats("local", local)...)
	lines = append(lines, stats("accept", accept)...)
	out := strings.Join(lines, "\n") + "\n"
	t.Logf("convergence over %d changes:\n%s", n, out)
	if f := os.Getenv("TURNOUT_BENCH_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
