package main

import (
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestJunkRequestsDoNotRollBackAHealthyCanary: a stranger sends requests
// the gateway must refuse itself (broken chunked bodies, malformed Host,
// header names that are not tokens) beside real traffic to a healthy
// canary. Those are the client's errors: the canary is promoted, and
// /metrics counts them under turnout_client_errors_total, not the routes'.
func TestJunkRequestsDoNotRollBackAHealthyCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	tt, url := startCanary(t, stable, canary, `  interval: 700ms
  steps: [20, 50]
  threshold: 1
  min_requests: 5
  max_error_rate: 1
`)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	junk := []string{
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nshort",
		"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n", // no Host: valid, answered by a version
	}
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(c, junk[i%len(junk)])
				if tc, ok := c.(*net.TCPConn); ok {
					tc.CloseWrite() // the short body ends here
				}
				io.Copy(io.Discard, c)
				c.Close()
				sent.Add(1)
			}
		}()
	}
	l := startPolicyLoad(t, url, 4, 5*time.Millisecond)
	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "60s")
	close(stop)
	wg.Wait()
	l.stop()
	if code != 0 || !strings.Contains(out, "promoted") {
		t.Fatalf("status --wait: exit %d, want 0 (promoted) with %d junk requests sent\n%s\n%s", code, sent.Load(), out, tt.history())
	}
	if l.failed.Load() != 0 {
		t.Errorf("%d real requests failed", l.failed.Load())
	}
	m := tt.metrics()
	head, body := counter(m, `turnout_client_errors_total{gateway="shop",kind="head"}`), counter(m, `turnout_client_errors_total{gateway="shop",kind="body"}`)
	t.Logf("%d junk requests sent; client errors: head %d, body %d", sent.Load(), head, body)
	if head == 0 || body == 0 {
		t.Errorf("client errors not counted (head %d, body %d):\n%s", head, body, grepLines(m, "turnout_client_errors_total"))
	}
	for _, line := range strings.Split(grepLines(m, `turnout_requests_total{`), "\n") {
		if !strings.Contains(line, `gateway="shop"`) {
			continue
		}
		if strings.Contains(line, `class="error"`) || strings.Contains(line, `class="5xx"`) || strings.Contains(line, `class="4xx"`) {
			if !strings.HasSuffix(line, " 0") {
				t.Errorf("a route counted the client's errors: %s", line)
			}
		}
	}
}

// counter is the value of one series in a /metrics text (0 if absent).
func counter(metrics, series string) int64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return int64(f)
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
