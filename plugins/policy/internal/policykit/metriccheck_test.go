package policykit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeServer answers with body, and records the last request's URL.
func fakeServer(t *testing.T, status int, body string, got *string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = r.URL.String()
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func parse(t *testing.T, doc string) []MetricCheck {
	t.Helper()
	cs, err := ParseChecks(json.RawMessage(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Prometheus' query answers (the shapes of its HTTP API, /api/v1/query)
// judged against min and max, the templates filled, and the failures
// named; an HTTP JSON document's number by path.
func TestMetricChecks(t *testing.T) {
	vars := Vars{Gateway: "shop", Route: `[10.0.0.1:80]`, Interval: 30 * time.Second}
	for _, tc := range []struct {
		name, answer, check string
		status              int
		passed              bool
		detail, failures    string
		hold                string
	}{
		{"vector within max", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1765135412.1,"0.004"]}]}}`,
			`"max": 0.01`, 200, true, "errors 0.004 within max 0.01", "", ""},
		{"scalar under min", `{"status":"success","data":{"resultType":"scalar","result":[1765135412.1,"12"]}}`,
			`"min": 50`, 200, false, "errors 12 outside min 50", "errors 12 outside min 50", ""},
		{"no series", `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			`"max": 1`, 200, false, "errors: no data: the query returned no series", "errors: no data: the query returned no series", ""},
		{"no series, hold", `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			`"max": 1, "on_error": "hold"`, 200, false, "errors: no data: the query returned no series", "", "errors: no data: the query returned no series"},
		{"no series, skip", `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			`"max": 1, "on_error": "skip"`, 200, true, "errors: no data: the query returned no series (skipped: on_error skip)", "", ""},
		{"NaN", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1765135412.1,"NaN"]}]}}`,
			`"max": 1`, 200, false, "errors: no data: the value is NaN (no requests in the window?)", "errors: no data: the value is NaN (no requests in the window?)", ""},
		{"two series", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}`,
			`"max": 1`, 200, false, "errors: the query returned 2 series; aggregate them to one (sum, avg, ...)", "errors: the query returned 2 series; aggregate them to one (sum, avg, ...)", ""},
		{"bad query", `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error: unexpected \"}\""}`,
			`"max": 1`, 400, false, `errors: HTTP 400: {"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error: unexpected \"}\""}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			u := fakeServer(t, tc.status, tc.answer, &got)
			cs := parse(t, `[{"name": "errors", "prometheus": "`+u+`", "query": "sum(rate(x{gateway=\"{{gateway}}\",route=\"{{route}}\"}[{{interval}}]))", `+tc.check+`}]`)
			o := RunChecks(context.Background(), http.DefaultClient, cs, vars)
			if want := `/api/v1/query?query=sum%28rate%28x%7Bgateway%3D%22shop%22%2Croute%3D%22%5B10.0.0.1%3A80%5D%22%7D%5B30s%5D%29%29`; got != want {
				t.Errorf("asked %s\nwant %s", got, want)
			}
			c := o.Checks[0]
			if c.Passed != tc.passed || c.Detail != tc.detail || c.Route != vars.Route {
				t.Errorf("check %+v", c)
			}
			if tc.failures != "" && o.Failures != tc.failures || o.Hold != tc.hold {
				t.Errorf("failures %q hold %q", o.Failures, o.Hold)
			}
		})
	}

	var got string
	u := fakeServer(t, 200, `{"data": {"series": [{"value": "0.97"}]}}`, &got)
	cs := parse(t, `[{"name": "conversion", "http": "`+u+`/stats?route={{route}}", "json_path": "$.data.series[0].value", "min": 0.95}]`)
	if o := RunChecks(context.Background(), http.DefaultClient, cs, vars); !o.Checks[0].Passed || o.Summary != "conversion 0.97 within min 0.95" {
		t.Errorf("http check %+v", o)
	}
	if want := "/stats?route=%5B10.0.0.1%3A80%5D"; got != want {
		t.Errorf("asked %s, want %s", got, want)
	}
}

func TestParseChecksErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{}`: "must be a list of mappings",
		`[{"prometheus": "http://p:9090", "query": "up", "max": 1}]`:                                   "[0]: name is required",
		`[{"name": "a", "query": "up", "max": 1}]`:                                                     "[0] (a): give prometheus (with query) or http (with json_path)",
		`[{"name": "a", "prometheus": "http://p:9090", "max": 1}]`:                                     "[0] (a): prometheus needs a query",
		`[{"name": "a", "prometheus": "http://p:9090", "query": "up"}]`:                                "[0] (a): give min, max or both",
		`[{"name": "a", "prometheus": "p:9090", "query": "up", "max": 1}]`:                             `[0] (a): "p:9090" is not an absolute http(s) URL`,
		`[{"name": "a", "http": "http://h/", "json_path": "$.a[x]", "max": 1}]`:                        `[0] (a): json_path: "$.a[x]": [x] is not an index`,
		`[{"name": "a", "prometheus": "http://p:9090", "query": "up", "max": 1, "on_error": "retry"}]`: `[0]: on_error: want fail, hold or skip, got "retry"`,
		`[{"name": "a", "prometheus": "http://p:9090", "query": "up", "max": "1"}]`:                    `[0]: max: want a number, got "1"`,
		`[{"name": "a", "prometheus": "http://p:9090", "query": "up", "max": 1, "step": 1}]`:           `[0]: step: unknown key`,
	} {
		if _, err := ParseChecks(json.RawMessage(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}
