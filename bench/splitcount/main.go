// Command splitcount sends N GET requests to a URL and prints how they were
// distributed over the backends, read from the X-Backend response header.
//
// By default it reuses keep-alive connections (-c of them); with -newconn every
// request goes over a new TCP connection, which is what a per-connection (TCP)
// balancer needs in order to show its split.
//
// Output, one line, for scripts:
//
//	total=2000 errors=0 b1=1000 b2=1000 b1_pct=50.0
//
// (one name=count pair per backend seen, sorted; b1_pct is the share of the
// backend named by -first among the answered requests).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:19101/", "URL to send the requests to")
	n := flag.Int("n", 2000, "number of requests")
	c := flag.Int("c", 4, "concurrency")
	newConn := flag.Bool("newconn", false, "one TCP connection per request (for per-connection balancers)")
	first := flag.String("first", "b1", "backend whose share is printed as <first>_pct")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	flag.Parse()
	if *n <= 0 || *c <= 0 {
		fmt.Fprintln(os.Stderr, "splitcount: -n and -c must be positive")
		os.Exit(2)
	}

	tr := &http.Transport{
		MaxIdleConns:        *c,
		MaxIdleConnsPerHost: *c,
		DisableKeepAlives:   *newConn,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	var (
		mu     sync.Mutex
		counts = map[string]int{}
		errs   int
		wg     sync.WaitGroup
		next   = make(chan struct{})
	)
	for i := 0; i < *c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				name, err := get(client, *url)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					counts[name]++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *n; i++ {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()

	names := make([]string, 0, len(counts))
	answered := 0
	for k, v := range counts {
		names = append(names, k)
		answered += v
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "total=%d errors=%d", *n, errs)
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, counts[k])
	}
	pct := 0.0
	if answered > 0 {
		pct = 100 * float64(counts[*first]) / float64(answered)
	}
	fmt.Fprintf(&b, " %s_pct=%.1f", *first, pct)
	fmt.Println(b.String())
	if answered == 0 {
		os.Exit(1)
	}
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	name := resp.Header.Get("X-Backend")
	if name == "" {
		name = "unknown"
	}
	return name, nil
}
