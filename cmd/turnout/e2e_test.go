package main

// End-to-end tests: the real turnout binary, built once by TestMain, serving
// real backends on 127.0.0.1. Each test writes a gateway file, starts the
// binary on it and talks to it over real sockets.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

var binary string

func TestMain(m *testing.M) {
	// The test binary started again as a fake Marathon process (the hung
	// member tests stop it with SIGSTOP) serves it and exits here.
	fakemarathon.ServeProcess()
	dir, err := os.MkdirTemp("", "turnout-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "turnout")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build turnout: %v\n%s", err, out)
		os.Exit(1)
	}
	moreInParallel()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// moreInParallel lets twice as many parallel tests run side by side as
// there are CPUs (go test's default is as many): the end-to-end tests
// mostly wait on the processes they start, and the package must stay
// within the suite's time on 2 cores. -parallel given on the command line
// wins.
func moreInParallel() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
}

// tcpBackend accepts connections and writes its name on each, then closes.
func tcpBackend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, name)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

type turnout struct {
	t     *testing.T
	cmd   *exec.Cmd
	admin string
	file  string
	logs  *testnet.Buffer
}

// start runs the binary on a gateway file (and a fresh store) and waits
// until /healthz says ok.
func start(t *testing.T, gateways string, args ...string) *turnout {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	if err := os.WriteFile(file, []byte(gateways), 0o644); err != nil {
		t.Fatal(err)
	}
	tt := run(t, append([]string{"-f", file, "--data-dir", t.TempDir()}, args...)...)
	tt.file = file
	return tt
}

// run runs `turnout serve` with args on an admin port the kernel picks
// (a port found free beforehand can be taken by another test before the
// binary binds it: it was, under stress), stops it when the test ends, and
// waits until /healthz says ok.
func run(t *testing.T, args ...string) *turnout {
	t.Helper()
	return runAt(t, "127.0.0.1:0", args...)
}

// servingAdmin is the admin address in the "turnout serving" log line, in
// text or JSON logs.
var servingAdmin = regexp.MustCompile(`turnout serving.*?"?admin"?[=:]"?(127\.0\.0\.1:[0-9]+)`)

// runAt is run on a given admin address (a restart on the same one); port
// 0 is the kernel's pick, read from the log.
func runAt(t *testing.T, admin string, args ...string) *turnout {
	t.Helper()
	tt := &turnout{t: t, admin: admin, logs: &testnet.Buffer{}}
	tt.cmd = exec.Command(binary, append([]string{"serve", "--admin", admin, "--bind", "127.0.0.1", "--log-level", "debug"}, args...)...)
	tt.cmd.Stdout, tt.cmd.Stderr = tt.logs, tt.logs
	if err := tt.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tt.stop()
		if t.Failed() {
			t.Logf("turnout logs:\n%s", tt.logs.String())
		}
	})
	if strings.HasSuffix(admin, ":0") {
		testnet.Eventually(t, 30*time.Second, "turnout to say where it serves its admin API", func() bool {
			m := servingAdmin.FindStringSubmatch(tt.logs.String())
			if m != nil {
				tt.admin = m[1]
			}
			return m != nil
		})
		admin = tt.admin
	}
	testnet.Eventually(t, 30*time.Second, "turnout to become healthy", func() bool {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return tt
}

// stop sends SIGTERM and waits for the process to exit (once).
func (tt *turnout) stop() {
	if tt.cmd.ProcessState != nil {
		return
	}
	tt.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- tt.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tt.cmd.Process.Kill()
		<-done
		tt.t.Error("turnout did not stop within 10s of SIGTERM")
	}
}

// reload replaces the gateway file atomically and sends SIGHUP.
func (tt *turnout) reload(gateways string) {
	tt.t.Helper()
	tmp := tt.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(gateways), 0o644); err != nil {
		tt.t.Fatal(err)
	}
	if err := os.Rename(tmp, tt.file); err != nil {
		tt.t.Fatal(err)
	}
	tt.cmd.Process.Signal(syscall.SIGHUP)
}

func (tt *turnout) metrics() string {
	resp, err := http.Get("http://" + tt.admin + "/metrics")
	if err != nil {
		tt.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// split sends n requests with concurrency c and counts the X-Backend
// answers. Every request must succeed.
func split(t *testing.T, url string, n, c int, header http.Header) map[string]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 10 * time.Second}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, c)
	per := n / c
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for range per {
				req, _ := http.NewRequest("GET", url, nil)
				for k, v := range header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
				local[resp.Header.Get("X-Backend")]++
			}
			mu.Lock()
			for k, v := range local {
				got[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("request failed: %v", err)
	}
	return got
}

func within(t *testing.T, what string, got, total int, wantPct, tolerancePts float64) {
	t.Helper()
	pct := 100 * float64(got) / float64(total)
	if pct < wantPct-tolerancePts || pct > wantPct+tolerancePts {
		t.Errorf("%s: %.2f%% (%d of %d), want %.0f%% ± %.0f points", what, pct, got, total, wantPct, tolerancePts)
	} else {
		t.Logf("%s: %.2f%% (%d of %d)", what, pct, got, total)
	}
}

// seed is the seed's seven-line gateway, verbatim but for the port, which
// a test cannot assume free.
func seed(port int, w1, w2 string) string {
	return fmt.Sprintf(`name: simpleservice
port: %d/http
routes:
  "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: %s
  "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: %s
`, port, w1, w2)
}

// seedPins points the seed's Minuteman names at two local backends.
func seedPins(t *testing.T) []string {
	v1, v2 := testnet.Backend(t, "1.0.0"), testnet.Backend(t, "1.1.0")
	return []string{
		"--resolve", "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000=" + v1,
		"--resolve", "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000=" + v2,
	}
}

func TestSeedGatewaySplitsByWeight(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	for _, tc := range []struct {
		w1, w2 string
		want1  float64
	}{{"50%", "50%", 50}, {"90%", "10%", 90}} {
		t.Run(tc.w1+"/"+tc.w2, func(t *testing.T) {
			port := testnet.FreePort(t)
			start(t, seed(port, tc.w1, tc.w2), seedPins(t)...)
			got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 10000, 8, nil)
			within(t, "1.0.0", got["1.0.0"], 10000, tc.want1, 2)
			within(t, "1.1.0", got["1.1.0"], 10000, 100-tc.want1, 2)
		})
	}
}

func TestConditionStrengthEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := testnet.Backend(t, "a"), testnet.Backend(t, "b")
	for _, tc := range []struct {
		strength         string
		firefoxToB, rest float64 // percent of each kind of request that reaches b
	}{
		// 100%: every Firefox request goes to b; the rest split 50/50.
		{"100%", 100, 50},
		// 50%: half of the Firefox requests go to b by the condition, the
		// other half follow the weights (half of those to b): 75% in all.
		{"50%", 75, 50},
	} {
		t.Run(tc.strength, func(t *testing.T) {
			port := testnet.FreePort(t)
			start(t, fmt.Sprintf(`name: firefox
port: %d/http
routes:
  "[%s]":
    weight: 50%%
  "[%s]":
    weight: 50%%
    condition: user-agent == Firefox
    condition_strength: %s
`, port, a, b, tc.strength))
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			ff := split(t, url, 4000, 8, http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}})
			within(t, "Firefox to b", ff["b"], 4000, tc.firefoxToB, 2)
			other := split(t, url, 4000, 8, http.Header{"User-Agent": {"curl/8.5.0"}})
			within(t, "others to b", other["b"], 4000, tc.rest, 2)
		})
	}
}

func TestStickyRouteKeepsAClientOnItsRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := testnet.Backend(t, "a"), testnet.Backend(t, "b")
	port := testnet.FreePort(t)
	doc := func(wa, wb string) string {
		return fmt.Sprintf("name: sticky\nport: %d/http\nsticky: route\nroutes:\n  \"[%s]\":\n    weight: %s\n  \"[%s]\":\n    weight: %s\n", port, a, wa, b, wb)
	}
	tt := start(t, doc("50%", "50%"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	clients := make([]*http.Client, 20)
	first := make([]string, len(clients))
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar}
		first[i] = get(t, clients[i], url)
	}
	counts := map[string]int{}
	for _, f := range first {
		counts[f]++
	}
	if counts["a"] == 0 || counts["b"] == 0 {
		t.Fatalf("20 new clients all went to one route: %v", counts)
	}
	check := func(phase string) {
		for i, c := range clients {
			for range 20 {
				if got := get(t, c, url); got != first[i] {
					t.Fatalf("%s: client %d moved from %s to %s", phase, i, first[i], got)
				}
			}
		}
	}
	check("same weights")
	// A route at weight 0 takes nobody, pinned clients included (unlike
	// Vamp's cookie persistence): each is re-pinned by weight, to a, and
	// stays there when the weights change again.
	tt.reload(doc("100%", "0%"))
	testnet.Eventually(t, 5*time.Second, "reload", func() bool {
		// New clients only go to a once two in a row do (50/50 alternates).
		first := get(t, &http.Client{}, url)
		return first == "a" && get(t, &http.Client{}, url) == "a"
	})
	for i := range first {
		first[i] = "a"
	}
	check("after weights 100/0")
	tt.reload(doc("50%", "50%"))
	testnet.Eventually(t, 5*time.Second, "reload", func() bool {
		// 50/50 alternates: one of two new clients goes to b.
		got := map[string]bool{}
		for range 2 {
			got[get(t, &http.Client{}, url)] = true
		}
		return got["b"]
	})
	check("re-pinned, after weights 50/50 again")
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestTCPGatewaySplitsConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	port := testnet.FreePort(t)
	start(t, fmt.Sprintf("name: tcp\nport: %d/tcp\nroutes:\n  \"[%s]\":\n    weight: 70%%\n  \"[%s]\":\n    weight: 30%%\n", port, a, b))
	got := map[string]int{}
	const n = 2000
	for range n {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		name, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[string(name)]++
	}
	within(t, "connections to a", got["a"], n, 70, 2)
	within(t, "connections to b", got["b"], n, 30, 2)
}

func TestBadFileIsRefusedAndOldGatewaysKeepServing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := testnet.Backend(t, "a")
	port := testnet.FreePort(t)
	good := fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n", port, a)
	tt := start(t, good)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get(t, http.DefaultClient, url)

	tt.reload(fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 90%%\n", port, a))
	testnet.Eventually(t, 5*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(tt.logs.String(), "total route weight must be 0% or 100%")
	})
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("after a bad reload: %q", got)
	}
	if m := tt.metrics(); !strings.Contains(m, `turnout_config_reloads_total{result="error"}`) {
		t.Error("the failed reload is not counted in turnout_config_reloads_total")
	}
}

func TestEmptyGatewayAnswers503NamingIt(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	start(t, fmt.Sprintf("name: nothing-yet\nport: %d\n", port))
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"nothing-yet"`) {
		t.Fatalf("got %d %q, want 503 naming the gateway", resp.StatusCode, body)
	}
}

func TestMetricsPerRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := testnet.Backend(t, "a")
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf("name: m\nport: %d/http\nroutes:\n  \"[%s]\": {}\n", port, a))
	for range 5 {
		get(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port))
	}
	m := tt.metrics()
	route := fmt.Sprintf("[%s]", a)
	for _, want := range []string{
		fmt.Sprintf(`turnout_requests_total{class="2xx",code="200",gateway="m",route="%s"} 5`, route),
		fmt.Sprintf(`turnout_request_duration_seconds_count{gateway="m",route="%s"} 5`, route),
		`turnout_open_connections{gateway="m"}`,
		`turnout_table_swaps_total 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestServeRefusesABadFileAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(file, []byte("name: g\nport: 8080/udp\n"), 0o644)
	out, code := turnoutCLI(t, "serve", "-f", file, "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0")
	if code == 0 {
		t.Fatalf("turnout serve accepted a bad file:\n%s", out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if !strings.Contains(last, "bad.yaml:2") || !strings.Contains(last, "port") {
		t.Fatalf("error does not name the file, line and field: %q", last)
	}
}

// Editing the file is enough: no signal needed. The file is replaced the
// way editors and config tools do it (write a temporary file, rename it).
func TestFileChangeIsPickedUpWithoutSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := testnet.Backend(t, "a"), testnet.Backend(t, "b")
	port := testnet.FreePort(t)
	doc := func(target string) string {
		return fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\": {}\n", port, target)
	}
	tt := start(t, doc(a))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("got %q", got)
	}
	tmp := tt.file + ".new"
	if err := os.WriteFile(tmp, []byte(doc(b)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, tt.file); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "the edited file to be served", func() bool {
		return get(t, http.DefaultClient, url) == "b"
	})
	// And an in-place write (truncate and write) too.
	if err := os.WriteFile(tt.file, []byte(doc(a)), 0o644); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "the rewritten file to be served", func() bool {
		return get(t, http.DefaultClient, url) == "a"
	})
}

// The control plane end to end: the seed's gateway created through the
// REST API, its weights changed with a PATCH, rolled back to revision 1,
// and found again after a restart, with real requests checking the split
// at every step.
func TestAPIDrivesTheGatewayAndStateSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	data := t.TempDir()
	pins := seedPins(t)
	port := testnet.FreePort(t)
	tt := run(t, append([]string{"--data-dir", data}, pins...)...)
	api := "http://" + tt.admin + "/api/v1/gateways/simpleservice"
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	call := func(method, url, contentType, body string, want int) string {
		t.Helper()
		code, etag, b := apiCall(t, method, url, contentType, body)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, url, code, b, want)
		}
		return etag
	}
	splitIs := func(what string, want1 float64) {
		t.Helper()
		// The change reaches the data plane asynchronously (store watch):
		// wait until a sample looks right, then measure.
		testnet.Eventually(t, 5*time.Second, what, func() bool {
			n := 0
			for range 100 {
				resp, err := http.Get(url)
				if err != nil {
					return false
				}
				if resp.Header.Get("X-Backend") == "1.0.0" {
					n++
				}
				resp.Body.Close()
			}
			return math.Abs(float64(n)-want1) <= 5
		})
		got := split(t, url, 4000, 8, nil)
		within(t, what+": 1.0.0", got["1.0.0"], 4000, want1, 2)
	}

	if etag := call("PUT", api, "application/x-yaml", seed(port, "50%", "50%"), 201); etag != `"1"` {
		t.Fatalf("ETag after create: %s", etag)
	}
	splitIs("created at 50/50", 50)

	patch := `{"routes": {"[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "90%"},
	  "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "10%"}}}`
	call("PATCH", api, "application/merge-patch+json", patch, 200)
	splitIs("patched to 90/10", 90)

	call("POST", api+"/rollback?to=1", "", "", 200)
	splitIs("rolled back to revision 1", 50)

	tt.stop()
	tt = run(t, append([]string{"--data-dir", data}, pins...)...)
	api = "http://" + tt.admin + "/api/v1/gateways/simpleservice"
	if etag := call("GET", api, "", "", 200); etag != `"3"` {
		t.Fatalf("after restart: ETag %s, want \"3\" (create, patch, rollback)", etag)
	}
	splitIs("after restart", 50)
}
