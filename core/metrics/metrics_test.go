package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestClassOf(t *testing.T) {
	for status, want := range map[int]int{0: ClassError, 99: ClassError, 101: Class1xx, 200: Class2xx, 302: Class3xx, 404: Class4xx, 503: Class5xx, 600: ClassError} {
		if got := classOf(status); got != want {
			t.Errorf("classOf(%d) = %d, want %d", status, got, want)
		}
	}
}

// An HTTP route counts requests by class and code: an endpoint's 503 is
// class 5xx, the gateway's own 503 (no endpoint answered) class error.
// Retries are not errors, and a TCP route has TCP series only.
func TestRouteSeriesAndForget(t *testing.T) {
	r := NewRegistry()
	a := r.Route("g", "[a:1]", HTTP)
	a.Observe(200, time.Millisecond)
	a.Observe(200, time.Millisecond)
	a.Observe(503, time.Millisecond)
	a.Failed(503, time.Millisecond)
	a.Error(ErrConnect)
	a.Retried()
	b := r.Route("g", "[b:1]", TCP)
	b.ObserveConn(true, time.Second)
	b.ObserveConn(false, time.Second)
	for _, tc := range []struct {
		class, code string
		want        float64
	}{{"2xx", "200", 2}, {"5xx", "503", 1}, {"error", "503", 1}} {
		if got := testutil.ToFloat64(r.requests.WithLabelValues("g", "[a:1]", tc.class, tc.code)); got != tc.want {
			t.Errorf("class %s code %s: %v, want %v", tc.class, tc.code, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(r.requests); n != 3 {
		t.Errorf("%d request series, want 3 (only codes seen, none for the TCP route)", n)
	}
	if got := testutil.ToFloat64(r.retries.WithLabelValues("g", "[a:1]")); got != 1 {
		t.Errorf("retries: %v, want 1", got)
	}
	if n := testutil.CollectAndCount(r.errors, "turnout_errors_total"); n != 2*len(errorKinds) {
		t.Errorf("%d error series, want %d", n, 2*len(errorKinds))
	}
	if got := testutil.ToFloat64(r.tcpConns.WithLabelValues("g", "[b:1]", "ok")); got != 1 {
		t.Errorf("tcp ok: %v, want 1", got)
	}
	if n := testutil.CollectAndCount(r.duration); n != 1 {
		t.Errorf("%d HTTP duration series, want the HTTP route's only", n)
	}
	ta, tb := r.Totals("g", "[a:1]"), r.Totals("g", "[b:1]")
	if ta.Classes[Class2xx] != 2 || ta.Classes[Class5xx] != 1 || ta.Classes[ClassError] != 1 || ta.Count != 4 {
		t.Errorf("HTTP totals: %+v", ta)
	}
	if tb.Classes[ClassTCP] != 1 || tb.Classes[ClassError] != 1 || tb.Count != 2 {
		t.Errorf("TCP totals: %+v", tb)
	}
	if tn := r.Totals("g", "[none:1]"); tn.Count != 0 {
		t.Errorf("a route never bound has totals %+v", tn)
	}
	r.ForgetRoute("g", "[a:1]")
	if n := testutil.CollectAndCount(r.requests) + testutil.CollectAndCount(r.retries); n != 1 {
		t.Errorf("after ForgetRoute: %d request and retry series, want only b's retries", n)
	}
	r.Forget("g")
	if n := testutil.CollectAndCount(r.tcpConns) + testutil.CollectAndCount(r.errors); n != 0 {
		t.Errorf("%d series of a forgotten gateway remain", n)
	}
}

// Tables rebuilt bind the same route again: the series and the codes
// seen are shared, and a route whose gateway changed protocol loses its
// HTTP series for TCP ones.
func TestRouteBoundOnce(t *testing.T) {
	r := NewRegistry()
	a := r.Route("g", "r", HTTP)
	a.Observe(404, time.Millisecond)
	if r.Route("g", "r", HTTP) != a {
		t.Fatal("a route bound twice got two sets of series")
	}
	r.Route("g", "r", TCP).ObserveConn(true, time.Millisecond)
	if n := testutil.CollectAndCount(r.requests) + testutil.CollectAndCount(r.duration); n != 0 {
		t.Errorf("%d HTTP series remain after the route became TCP", n)
	}
	if got := r.Totals("g", "r"); got.Classes[ClassTCP] != 1 || got.Classes[Class4xx] != 0 {
		t.Errorf("totals after the protocol change: %+v", got)
	}
}

// Requests no route took are the gateway's, by code: no route label.
func TestUnroutedAndBytes(t *testing.T) {
	r := NewRegistry()
	g := r.Gateway("g")
	g.Unrouted(503)
	g.Unrouted(503)
	g.Unrouted(421)
	g.UnroutedConn()
	g.Received.Add(100)
	g.Sent.Add(10)
	if got := testutil.ToFloat64(r.unrouted.WithLabelValues("g", "503")); got != 2 {
		t.Errorf("unrouted 503: %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.unroutedConns.WithLabelValues("g")); got != 1 {
		t.Errorf("unrouted connections: %v, want 1", got)
	}
	if r.Gateway("g") != g {
		t.Error("a gateway bound twice got two sets of series")
	}
	r.Forget("g")
	for name, c := range map[string]int{
		"unrouted": testutil.CollectAndCount(r.unrouted), "unrouted connections": testutil.CollectAndCount(r.unroutedConns),
		"received": testutil.CollectAndCount(r.received), "sent": testutil.CollectAndCount(r.sent),
	} {
		if c != 0 {
			t.Errorf("%d %s series remain after Forget", c, name)
		}
	}
}

func TestEndpointLatency(t *testing.T) {
	r := NewRegistry()
	r.Endpoint("127.0.0.1:1").Observe(0.002)
	if n := testutil.CollectAndCount(r.endpoint); n != 1 {
		t.Fatalf("%d endpoint series, want 1", n)
	}
	r.ForgetEndpoint("127.0.0.1:1")
	if n := testutil.CollectAndCount(r.endpoint); n != 0 {
		t.Errorf("%d endpoint series after ForgetEndpoint", n)
	}
}
