package policykit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// Errors carry the policy's name, and the readers' errors its example.
func TestMessages(t *testing.T) {
	stable := Route{Key: "stable", Name: "a", Role: "the route that has the traffic now"}
	canary := Route{Key: "canary", Name: "b", Role: "the route of the new version"}
	_, rateErr := ErrorRate(json.RawMessage(`"low"`), "1")
	_, rangeErr := ErrorRate(json.RawMessage(`"120%"`), "10")
	_, sectionErr := Section("bluegreen", json.RawMessage(`null`))
	for _, tc := range []struct {
		err  error
		want string
	}{
		{rateErr, `want a percentage like 1 or "1%", got "low"`},
		{rangeErr, "must be a percentage from 0 to 100, got 120%"},
		{sectionErr, "bluegreen: the policy section must be a mapping, got null"},
		{NoSettings("canary", json.RawMessage(`{"x": 1}`)), `canary: the plugin has no settings ("x" given); it is set in each gateway's policy section`},
		{LoadState("canary", json.RawMessage(`[]`), &struct{}{}), "canary: state: json: cannot unmarshal array into Go value of type struct {}"},
		{CheckRoutes("canary", Route{Key: "stable", Role: stable.Role}, canary, nil), "canary: stable is required: the route that has the traffic now"},
		{CheckRoutes("canary", stable, Route{Key: "canary", Name: "a"}, nil), `canary: stable and canary are the same route "a"`},
		{CheckRoutes("canary", stable, canary, []string{"a", "c"}), `canary: canary: "b" is not a route of the gateway (its routes: "a", "c")`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("error %v, want %s", tc.err, tc.want)
		}
	}
	for _, raw := range []string{``, ` null `, `{}`} {
		if err := NoSettings("canary", json.RawMessage(raw)); err != nil {
			t.Errorf("%q: %v", raw, err)
		}
	}
	if err := CheckRoutes("canary", stable, canary, []string{"a", "b"}); err != nil {
		t.Error(err)
	}
}

// The two routes split what the gateway's other routes leave.
func TestSplit(t *testing.T) {
	in := sdk.Input{Routes: []sdk.RouteMetrics{{Route: "a", Weight: 6000}, {Route: "other", Weight: 2500}, {Route: "b", Weight: 1500}}}
	a, b, share, err := Split("canary", in, Route{Key: "stable", Name: "a"}, Route{Key: "canary", Name: "b"})
	if err != nil || a.Weight != 6000 || b.Weight != 1500 || share != 7500 {
		t.Errorf("%v %v %d %v", a, b, share, err)
	}
	_, _, _, err = Split("canary", in, Route{Key: "stable", Name: "a"}, Route{Key: "canary", Name: "x"})
	if err == nil || err.Error() != `canary: canary route "x" is not among the gateway's routes` {
		t.Errorf("missing route: %v", err)
	}
}

func TestAnalyse(t *testing.T) {
	m := sdk.RouteMetrics{Route: "b", Requests: 100, P99: 1500 * time.Microsecond}
	m.Responses[1], m.Responses[4] = 98, 2
	a := Analyse("canary", m, 10, 1, time.Second)
	if !a.Enough || a.Passed || len(a.Checks) != 3 ||
		a.Summary != "canary error rate 2.00% > 1%, p99 1.5ms ≤ 1s, 100 requests" ||
		a.Failures != "canary error rate 2.00% > 1% (100 requests)" {
		t.Errorf("%+v", a)
	}
	if a := Analyse("preview", m, 200, 1, time.Second); a.Enough || a.Summary != "not enough data: 100 preview requests < 200 needed" {
		t.Errorf("%+v", a)
	}
}
