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

func TestRouteSeriesAndForget(t *testing.T) {
	r := NewRegistry()
	a := r.Route("g", "[a:1]")
	a.Observe(200, time.Millisecond)
	a.Observe(503, time.Millisecond)
	a.ObserveConn(true, time.Second)
	a.Error(ErrConnect)
	b := r.Route("g", "[b:1]")
	b.Observe(200, time.Millisecond)
	for _, tc := range []struct {
		class string
		want  float64
	}{{"2xx", 1}, {"5xx", 1}, {"tcp", 1}, {"4xx", 0}} {
		if got := testutil.ToFloat64(r.requests.WithLabelValues("g", "[a:1]", tc.class)); got != tc.want {
			t.Errorf("class %s: %v, want %v", tc.class, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(r.errors.WithLabelValues("g", "[a:1]", ErrConnect)); got != 1 {
		t.Errorf("connect errors: %v", got)
	}
	r.ForgetRoute("g", "[a:1]")
	if n := testutil.CollectAndCount(r.requests); n != len(classLabels) {
		t.Errorf("after ForgetRoute: %d request series, want only b's %d", n, len(classLabels))
	}
	r.Forget("g")
	if n := testutil.CollectAndCount(r.requests) + testutil.CollectAndCount(r.errors); n != 0 {
		t.Errorf("%d series of a forgotten gateway remain", n)
	}
}
