package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/testnet"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t *testing.T) (*Engine, *dataplane.DataPlane) {
	t.Helper()
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet(), DrainTimeout: 2 * time.Second})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dp.Shutdown(ctx)
	})
	return New(dp, Options{Logger: quiet()}), dp
}

func decode(t testing.TB, doc string) []*gateway.Gateway {
	t.Helper()
	gws, err := gateway.Decode([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	return gws
}

// TestNoRequestFailsWhileWeightsChange changes the weights 1,000 times
// (and, every 100 changes, the set of routes itself) while clients keep
// sending requests over keep-alive connections. Not one request may fail.
// The changes are paced by the traffic, not by the clock: every 10
// changes wait until as many requests have been answered as changes made,
// so the load overlaps the changes however slow the machine is.
func TestNoRequestFailsWhileWeightsChange(t *testing.T) {
	a, b, c := testnet.Backend(t, "a"), testnet.Backend(t, "b"), testnet.Backend(t, "c")
	port := testnet.FreePort(t)
	eng, dp := newEngine(t)
	doc := func(i int) string {
		wa := (i * 37) % 101
		s := fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: %d%%\n", port, a, wa, b, 100-wa)
		if i%200 >= 100 { // a third route comes and goes: endpoints added and removed
			s = fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: 0%%\n", port, a, wa, b, 100-wa, c)
		}
		return s
	}
	if err := eng.Set(decode(t, doc(0))); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	progress := make(chan struct{}, 1) // a request was answered
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				sent.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	// trafficReached waits until n requests have been answered (or have
	// failed); false when that takes over a minute: the clients stalled.
	trafficReached := func(n int64) bool {
		deadline := time.NewTimer(time.Minute)
		defer deadline.Stop()
		for sent.Load() < n {
			select {
			case <-progress:
			case <-deadline.C:
				return false
			}
		}
		return true
	}
	const changes = 1000
	var applyErr error
	for i := 1; i <= changes; i++ {
		if err := eng.Set(decode(t, doc(i))); err != nil {
			applyErr = fmt.Errorf("change %d: %v", i, err)
			break
		}
		if i%10 == 0 && !trafficReached(int64(i)) {
			applyErr = fmt.Errorf("only %d requests answered after %d changes: the clients stalled", sent.Load(), i)
			break
		}
	}
	close(stop)
	wg.Wait()
	if applyErr != nil {
		t.Fatal(applyErr)
	}
	if got := dp.Table().Generation; got != changes+1 {
		t.Errorf("table generation %d, want %d", got, changes+1)
	}
	t.Logf("%d requests across %d weight changes, %d failed", sent.Load(), changes, failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed; first: %v", failed.Load(), sent.Load(), firstErr.Load())
	}
}

// A set that fails to apply (its port is taken) changes nothing.
func TestFailedApplyKeepsTheOldTable(t *testing.T) {
	a := testnet.Backend(t, "a")
	eng, dp := newEngine(t)
	port := testnet.FreePort(t)
	if err := eng.Set(decode(t, fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\": {}\n", port, a))); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	err = eng.Set(decode(t, fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\": {}\n---\nname: h\nport: %d\n", port, a, busy)))
	if err == nil {
		t.Fatal("a gateway on a taken port was accepted")
	}
	if gen := dp.Table().Generation; gen != 1 {
		t.Fatalf("generation %d after a failed apply, want 1", gen)
	}
	if len(eng.Gateways()) != 1 {
		t.Fatalf("desired gateways changed by a failed apply: %d", len(eng.Gateways()))
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("old gateway answers %d", resp.StatusCode)
	}
}

func TestPortsAreAssignedFromTheRangeAndKept(t *testing.T) {
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet()})
	defer dp.Shutdown(context.Background())
	lo := testnet.FreePorts(t, 2)
	eng := New(dp, Options{Logger: quiet(), PortRange: [2]int{lo, lo + 1}, Reserved: map[int]string{lo: "the admin listener"}})
	if err := eng.Set(decode(t, "name: x\n")); err != nil {
		t.Fatal(err)
	}
	if p := eng.Gateways()[0].Port.Number; p != lo+1 {
		t.Fatalf("assigned port %d, want %d (the first is reserved)", p, lo+1)
	}
	if err := eng.Set(decode(t, "name: y\n---\nname: x\n")); err == nil {
		t.Fatal("range exhausted, want an error")
	}
	if err := eng.Set(decode(t, fmt.Sprintf("name: z\nport: %d\n", lo))); err == nil {
		t.Fatal("a gateway took the reserved admin port")
	}
}

// DNS names are looked up when first seen, again on refresh and after a
// connect failure; a failed lookup keeps the last addresses. No traffic is
// sent here: the test only reads the tables.
func TestDNSNamesAreResolvedAndFollowed(t *testing.T) {
	eng, dp := newEngine(t)
	var mu sync.Mutex
	answer, fail := []string{"10.0.0.1"}, false
	lookups := 0
	eng.res.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		lookups++
		if fail {
			return nil, fmt.Errorf("lookup %s: server misbehaving", host)
		}
		var out []netip.Addr
		for _, a := range answer {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
	set := func(a []string, f bool) {
		mu.Lock()
		answer, fail = a, f
		mu.Unlock()
	}
	port := testnet.FreePort(t)
	if err := eng.Set(decode(t, fmt.Sprintf("name: dns\nport: %d\nroutes:\n  \"[svc.marathon.l4lb.thisdcos.directory:80]\": {}\n", port))); err != nil {
		t.Fatal(err)
	}
	endpoints := func() string {
		var s []string
		for _, e := range dp.Table().Gateway(port).Routes[0].Endpoints {
			s = append(s, e.Addr)
		}
		return fmt.Sprint(s)
	}
	if got := endpoints(); got != "[10.0.0.1:80]" {
		t.Fatalf("first resolution: %s", got)
	}

	set([]string{"10.0.0.3", "10.0.0.2"}, false)
	eng.res.refresh()
	if got := endpoints(); got != "[10.0.0.2:80 10.0.0.3:80]" {
		t.Fatalf("after refresh: %s", got)
	}
	gen := dp.Table().Generation

	set(nil, true)
	eng.res.refresh()
	if got := endpoints(); got != "[10.0.0.2:80 10.0.0.3:80]" || dp.Table().Generation != gen {
		t.Fatalf("a failed lookup changed the table: %s", got)
	}

	// A connect failure asks for a fresh lookup, at most once a second.
	set([]string{"10.0.0.4"}, false)
	dp.Table().Gateway(port).Routes[0].Failed()
	deadline := time.Now().Add(5 * time.Second)
	for endpoints() != "[10.0.0.4:80]" {
		if time.Now().After(deadline) {
			t.Fatalf("failure hook did not re-resolve: %s", endpoints())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	before := lookups
	mu.Unlock()
	for range 100 {
		dp.Table().Gateway(port).Routes[0].Failed()
	}
	mu.Lock()
	after := lookups
	mu.Unlock()
	if after-before > 1 {
		t.Fatalf("100 failures in a burst caused %d lookups, want at most 1", after-before)
	}
}

// A request in flight on an endpoint that a new table removes finishes
// normally; new requests go to the endpoints of the new table.
func TestRemovedEndpointDrainsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	})}
	go slow.Serve(ln)
	t.Cleanup(func() { slow.Close() })
	fast := testnet.Backend(t, "fast")

	eng, dp := newEngine(t)
	port := testnet.FreePort(t)
	doc := func(target string) []*gateway.Gateway {
		return decode(t, fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\": {}\n", port, target))
	}
	if err := eng.Set(doc(ln.Addr().String())); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	inFlight := make(chan string, 1)
	go func() { inFlight <- body(t, url) }()
	<-arrived

	if err := eng.Set(doc(fast)); err != nil { // the slow endpoint is removed
		t.Fatal(err)
	}
	if got := body(t, url); got != "fast" {
		t.Fatalf("new request went to %q, want the new table's endpoint", got)
	}
	if n := dp.Endpoints().Len(); n != 2 {
		t.Fatalf("%d endpoints known, want 2 (the removed one still draining)", n)
	}
	close(release)
	if got := <-inFlight; got != "slow" {
		t.Fatalf("in-flight request got %q, want it to finish on its endpoint", got)
	}
	// The sweeper closes it once drained.
	testnet.Eventually(t, 5*time.Second, "the removed endpoint to close after draining", func() bool { return dp.Endpoints().Len() == 1 })
}

// Changing a gateway's protocol keeps its socket: a client connected to
// the listening port before the change is served after it, by the new
// protocol, and the port is never refused in between.
func TestProtocolChangeKeepsTheSocket(t *testing.T) {
	a := testnet.Backend(t, "a")
	eng, dp := newEngine(t)
	port := testnet.FreePort(t)
	if err := eng.Set(decode(t, fmt.Sprintf("name: g\nport: %d/http\nroutes:\n  \"[%s]\": {}\n", port, a))); err != nil {
		t.Fatal(err)
	}
	before := dp.Addr(port)
	if err := eng.Set(decode(t, fmt.Sprintf("name: g\nport: %d/tcp\nroutes:\n  \"[%s]\": {}\n", port, a))); err != nil {
		t.Fatal(err)
	}
	if after := dp.Addr(port); after != before {
		t.Fatalf("listener replaced: %v then %v", before, after)
	}
	// Through the TCP gateway, an HTTP request still reaches the backend
	// (bytes are relayed untouched), so the backend answers it.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(resp), "\r\n\r\na") || strings.Contains(string(resp), "X-Forwarded-For") {
		t.Fatalf("tcp gateway answer: %q", resp)
	}
}

func body(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestCheckChangesNothing(t *testing.T) {
	eng, dp := newEngine(t)
	port := testnet.FreePort(t)
	if err := eng.Set(decode(t, fmt.Sprintf("name: g\nport: %d\n", port))); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	free := testnet.FreePort(t)
	for _, tc := range []struct {
		name, doc string
		portTaken bool
	}{
		{"the running gateway again", fmt.Sprintf("name: g\nport: %d\n", port), false},
		{"a new gateway on a free port", fmt.Sprintf("name: g\nport: %d\n---\nname: h\nport: %d\n", port, free), false},
		{"a port another process holds", fmt.Sprintf("name: h\nport: %d\n", busy), true},
		{"two gateways on one port", fmt.Sprintf("name: g\nport: %d\n---\nname: h\nport: %d\n", free, free), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gws []*gateway.Gateway
			if tc.name == "two gateways on one port" {
				// Decode refuses this set itself; build it from two documents.
				gws = append(decode(t, fmt.Sprintf("name: g\nport: %d\n", free)), decode(t, fmt.Sprintf("name: h\nport: %d\n", free))...)
			} else {
				gws = decode(t, tc.doc)
			}
			err := eng.Check(gws)
			if got := errors.Is(err, ErrPortTaken); got != tc.portTaken {
				t.Fatalf("Check: %v (port taken: %v, want %v)", err, got, tc.portTaken)
			}
		})
	}
	if gen := dp.Table().Generation; gen != 1 {
		t.Fatalf("Check changed the table: generation %d", gen)
	}
	if len(dp.Ports()) != 1 {
		t.Fatalf("Check left ports open: %v", dp.Ports())
	}
}

// Check gives portless gateways their port, so that what the API stores
// keeps it; a gateway in service keeps its port when it is checked again,
// and a port another process holds is skipped, not reported as taken.
func TestCheckAssignsStablePorts(t *testing.T) {
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet()})
	defer dp.Shutdown(context.Background())
	lo := testnet.FreePort(t)
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lo))
	if err != nil {
		t.Skipf("port %d went: %v", lo, err)
	}
	defer busy.Close()
	eng := New(dp, Options{Logger: quiet(), PortRange: [2]int{lo, lo + 20}})
	b := decode(t, "name: b\n")
	if err := eng.Check(b); err != nil {
		t.Fatal(err)
	}
	p := b[0].Port.Number
	if p == 0 || p == lo {
		t.Fatalf("assigned port %d (the range starts at %d, held by another process)", p, lo)
	}
	if err := eng.Set(b); err != nil {
		t.Fatal(err)
	}
	// "a" sorts first and asks for a port too: b keeps its own.
	set := decode(t, "name: a\n---\nname: b\n")
	if err := eng.Check(set); err != nil {
		t.Fatal(err)
	}
	if set[1].Port.Number != p || set[0].Port.Number == p || set[0].Port.Number == 0 {
		t.Fatalf("ports a=%d b=%d, want b to keep %d", set[0].Port.Number, set[1].Port.Number, p)
	}
}

// A set that cannot be put in service (a port is taken) keeps Ready
// failing, naming the gateway, and Run puts it in service once the port is
// free; Version follows the set that is in service. Meanwhile, as nothing
// served before, the gateway whose port is free serves.
func TestFailedSetIsRetriedUntilReady(t *testing.T) {
	a := testnet.Backend(t, "a")
	dp := dataplane.New(dataplane.Options{Address: "127.0.0.1", Logger: quiet(), DrainTimeout: 2 * time.Second})
	t.Cleanup(func() { dp.Shutdown(context.Background()) })
	eng := New(dp, Options{Logger: quiet(), Retry: 50 * time.Millisecond})
	if err := eng.Ready(); err != nil {
		t.Fatalf("Ready before any set: %v", err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port, free := taken.Addr().(*net.TCPAddr).Port, testnet.FreePort(t)
	err = eng.SetVersion(decode(t, fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\": {}\n---\nname: h\nport: %d\nroutes:\n  \"[%s]\": {}\n", port, a, free, a)), 7)
	if !errors.Is(err, ErrNotServed) {
		t.Fatalf("set on a taken port: %v, want ErrNotServed", err)
	}
	if err := eng.Ready(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("gateway %q: listen on port %d", "g", port)) {
		t.Fatalf("Ready with the port taken: %v", err)
	}
	if v := eng.Version(); v != 0 {
		t.Fatalf("version %d in service, want 0", v)
	}
	if gws := eng.Gateways(); len(gws) != 1 || gws[0].Name != "h" {
		t.Fatalf("in service: %v, want h alone", gws)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	taken.Close()
	testnet.Eventually(t, 5*time.Second, "the set to be put in service", func() bool { return eng.Ready() == nil })
	if v := eng.Version(); v != 7 {
		t.Errorf("version %d in service, want 7", v)
	}
	if len(eng.Gateways()) != 2 {
		t.Errorf("%d gateways in service, want 2", len(eng.Gateways()))
	}
}
