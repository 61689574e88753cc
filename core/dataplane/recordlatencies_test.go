package dataplane_test

import (
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// TestRecordLatencies records the latencies of real requests through a
// gateway, as its clients see them, for core/metrics' sketch accuracy test
// (core/metrics/testdata/latencies.txt.gz, one latency per line in
// nanoseconds). The backend works an exponentially distributed time (mean
// 2 ms) and one request in a hundred 40 to 200 ms, a service with a tail;
// four clients send TURNOUT_RECORD_LATENCIES_N requests (default 20000).
// A recording, not a test: it runs only with TURNOUT_RECORD_LATENCIES set
// to the file to write.
//
//	TURNOUT_RECORD_LATENCIES=$PWD/core/metrics/testdata/latencies.txt.gz go test -run '^TestRecordLatencies$' -count 1 ./core/dataplane/
func TestRecordLatencies(t *testing.T) {
	out := os.Getenv("TURNOUT_RECORD_LATENCIES")
	if out == "" {
		t.Skip("a recording: set TURNOUT_RECORD_LATENCIES to the file to write")
	}
	n := 20000
	if s := os.Getenv("TURNOUT_RECORD_LATENCIES_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	be := testnet.HandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d := time.Duration(rand.ExpFloat64() * float64(2*time.Millisecond))
		if rand.IntN(100) == 0 {
			d = 40*time.Millisecond + rand.N(160*time.Millisecond)
		}
		time.Sleep(d) // the backend's work: what the recording is of
		w.Write([]byte("ok"))
	}))
	g := startGateway(t, simpleGateway("rec", be, ""), dataplane.Options{}, engine.Options{})
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for c := range 4 {
		wg.Go(func() {
			for i := c; i < n; i += 4 {
				start := time.Now()
				resp, err := client.Get("http://" + g.addr + "/")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	z := gzip.NewWriter(f)
	for _, d := range lat {
		fmt.Fprintln(z, d.Nanoseconds())
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
