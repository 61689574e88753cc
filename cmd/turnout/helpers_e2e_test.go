package main

// Helpers the end-to-end tests share: counting backends, steady load, the
// status API as the tests read it, and running the CLI binary.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// serveHTTP serves h on a free port of 127.0.0.1 until the test ends and
// returns its address.
func serveHTTP(t *testing.T, h http.Handler) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr)
}

// backend is a real HTTP backend on 127.0.0.1 standing for a version of a
// service, or for one task or instance of it: it answers with its name, as
// the body and in X-Backend, counts its requests and remembers when the
// first and the last came. The test can make it fail every Nth request
// with a 500, or answer late.
type backend struct {
	name        string
	addr        string // 127.0.0.1:port
	port        int
	n           atomic.Int64 // requests so far
	first, last atomic.Int64 // UnixNano, 0 before the first request
	failEvery   atomic.Int64 // answer every Nth request with a 500 (0: never)
	delay       atomic.Int64 // nanoseconds to wait before answering
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	addr := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		b.first.CompareAndSwap(0, now)
		b.last.Store(now)
		n := b.n.Add(1)
		if d := b.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		w.Header().Set("X-Backend", name)
		if f := b.failEvery.Load(); f > 0 && n%f == 0 {
			w.WriteHeader(500)
		}
		io.WriteString(w, name)
	}))
	b.addr, b.port = addr.String(), addr.Port
	return b
}

// firstSeen and lastSeen are when the first and the last request came
// (zero before the first).
func (b *backend) firstSeen() time.Time { return unixNano(b.first.Load()) }
func (b *backend) lastSeen() time.Time  { return unixNano(b.last.Load()) }

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// loadOptions shape a steady load.
type loadOptions struct {
	clients int           // keep-alive clients, one connection each
	pace    time.Duration // between one client's requests; 0 sends them back to back
	timeout time.Duration // of one request; 5s if 0
	header  http.Header   // sent with every request
	// backendErrors counts a backend's own error answers (any status with
	// X-Backend) as answers: a request fails only without an answer or
	// with one the gateway made itself. Without it anything but a 200
	// fails.
	backendErrors bool
}

// load is steady traffic to a gateway until stopped: it counts the
// answers by backend and status, the requests that succeeded and those
// that failed, and keeps the first few failures.
type load struct {
	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	ok, failed atomic.Int64
	mu         sync.Mutex
	byKey      map[string]int // "backend status", for every answer a backend made
	errs       []string
}

// steadyLoad is four keep-alive clients sending a request every 4ms each
// (about 1000 requests a second, paced so that the machine keeps time for
// turnout itself), where anything but a 200 fails.
func steadyLoad(t *testing.T, url string) *load {
	return startLoad(t, url, loadOptions{clients: 4, pace: 4 * time.Millisecond})
}

func startLoad(t *testing.T, url string, o loadOptions) *load {
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	l := &load{done: make(chan struct{}), byKey: map[string]int{}}
	for range o.clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: o.timeout}
			var tick <-chan time.Time
			if o.pace > 0 {
				ticker := time.NewTicker(o.pace)
				defer ticker.Stop()
				tick = ticker.C
			}
			for {
				if tick == nil {
					select {
					case <-l.done:
						return
					default:
					}
				} else {
					select {
					case <-l.done:
						return
					case <-tick:
					}
				}
				l.one(c, url, o)
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

// one sends one request and counts its outcome.
func (l *load) one(c *http.Client, url string, o loadOptions) {
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range o.header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		name := resp.Header.Get("X-Backend")
		if name != "" {
			l.mu.Lock()
			l.byKey[fmt.Sprintf("%s %d", name, resp.StatusCode)]++
			l.mu.Unlock()
		}
		switch {
		case o.backendErrors && name == "":
			err = fmt.Errorf("status %s from the gateway itself", resp.Status)
		case !o.backendErrors && resp.StatusCode != 200:
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.errs) < 5 {
			l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		l.mu.Unlock()
		return
	}
	l.ok.Add(1)
}

// stop ends the traffic (once) and waits for the clients.
func (l *load) stop() {
	l.stopOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}

// count is how many answers backend made with status, as "backend status".
func (l *load) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byKey[key]
}

// await waits until n more requests succeeded: traffic went on for a while.
func (l *load) await(t *testing.T, n int64, what string) {
	t.Helper()
	target := l.ok.Load() + n
	testnet.Eventually(t, 15*time.Second, fmt.Sprintf("%d more requests (%s)", n, what), func() bool { return l.ok.Load() >= target })
}

// finish stops the traffic and fails the test if any request failed (or
// none succeeded).
func (l *load) finish(t *testing.T, what string) {
	t.Helper()
	l.stop()
	t.Logf("%s: %d requests, %d failed", what, l.ok.Load()+l.failed.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Fatalf("%s: %d of %d requests failed, first errors: %v", what, l.failed.Load(), l.failed.Load()+l.ok.Load(), l.errs)
	}
}

// getJSON decodes the admin API's answer to GET path, which must be a 200.
func (tt *turnout) getJSON(path string, v any) {
	tt.t.Helper()
	resp, err := http.Get("http://" + tt.admin + path)
	if err != nil {
		tt.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		tt.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tt.t.Fatal(err)
	}
}

// apiCall sends one request to the admin API and returns the status, the
// ETag and the body (status 0 and the error when nothing answered).
func apiCall(t *testing.T, method, url, contentType, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(b)
}

// e2eStatus is what the tests read of GET /api/v1/gateways/NAME/status.
// The tests decode it into their own types, not the server's, so that the
// API's field names are under test too.
type e2eStatus struct {
	Routes []e2eRoute `json:"routes"`
	Policy *struct {
		Phase     string `json:"phase"`
		Decisions int    `json:"decisions"`
		Last      *struct {
			Action string `json:"action"`
			Reason string `json:"reason"`
			Checks []struct {
				Name   string
				Passed bool
				Detail string
			} `json:"checks"`
			Agents int `json:"agents"`
			Late   []struct {
				Agent  string `json:"agent"`
				Detail string `json:"detail"`
			} `json:"late_agents"`
		} `json:"last"`
	} `json:"policy"`
}

type e2eRoute struct {
	Route     string `json:"route"`
	Weight    string `json:"weight"`
	Effective string `json:"effective_weight"`
	Held      string `json:"held"`
	Ready     *bool  `json:"ready"`
	Stale     bool   `json:"stale"`
	Error     string `json:"error"`
	Endpoints []struct {
		Address string            `json:"address"`
		Healthy bool              `json:"healthy"`
		Labels  map[string]string `json:"labels"`
	} `json:"endpoints"`
}

// percent is a weight ("20%") as a number; -1 if it is not one.
func percent(w string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(w, "%"))
	if err != nil || !strings.HasSuffix(w, "%") {
		return -1
	}
	return n
}

// status is a gateway's status now.
func (tt *turnout) status(gateway string) e2eStatus {
	tt.t.Helper()
	var st e2eStatus
	tt.getJSON("/api/v1/gateways/"+gateway+"/status", &st)
	return st
}

// awaitStatus polls a gateway's status until ok holds for it, and returns
// the status that did.
func (tt *turnout) awaitStatus(gateway string, within time.Duration, what string, ok func(e2eStatus) bool) e2eStatus {
	tt.t.Helper()
	var last e2eStatus
	testnet.Eventually(tt.t, within, what, func() bool {
		last = tt.status(gateway)
		return ok(last)
	})
	return last
}

// route is one route of the status (the zero route if there is no such
// route yet).
func (s e2eStatus) route(route string) e2eRoute {
	for _, r := range s.Routes {
		if r.Route == route {
			return r
		}
	}
	return e2eRoute{}
}

// addresses are the route's endpoint addresses, sorted.
func (r e2eRoute) addresses() []string {
	var out []string
	for _, ep := range r.Endpoints {
		out = append(out, ep.Address)
	}
	sort.Strings(out)
	return out
}

// endpointHealth is the route's endpoints as the status lists them,
// "address healthy|unhealthy, ...".
func (r e2eRoute) endpointHealth() string {
	var out []string
	for _, e := range r.Endpoints {
		h := "healthy"
		if !e.Healthy {
			h = "unhealthy"
		}
		out = append(out, e.Address+" "+h)
	}
	return strings.Join(out, ", ")
}

// cliTimeout bounds one run of the CLI: a hung command fails the test
// rather than hanging it.
const cliTimeout = time.Minute

// runTurnout runs the turnout binary with args, env added to its
// environment, writing to stdout and stderr (one writer for both
// interleaves them as CombinedOutput does), and returns its exit code.
func runTurnout(t *testing.T, env []string, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatalf("turnout %s: %v", strings.Join(args, " "), err)
	}
	return 0
}

// turnoutCLI runs the turnout binary with args and returns its output
// (stdout and stderr interleaved) and exit code.
func turnoutCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := runTurnout(t, nil, &out, &out, args...)
	return out.String(), code
}

// cli runs the CLI against tt (--addr) and returns its output and exit code.
func (tt *turnout) cli(args ...string) (string, int) {
	tt.t.Helper()
	return turnoutCLI(tt.t, append(args, "--addr", tt.admin)...)
}

// backendFor is the backend that answers a GET of the gateway on port,
// with the request header name set to value (none when name is ""), or
// "error: ..." when nothing answered.
func backendFor(port int, name, value string) string {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if name != "" {
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	resp.Body.Close()
	return resp.Header.Get("X-Backend")
}

// fileWriter returns a function that writes a file of dir and returns its
// path.
func fileWriter(t *testing.T, dir string) func(name, text string) string {
	return func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
