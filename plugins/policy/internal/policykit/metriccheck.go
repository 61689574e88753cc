package policykit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// MetricCheck is one `checks:` entry: a value read from outside Turnout,
// a Prometheus query or a number in an HTTP JSON document, judged against
// min and max (Flagger's metric templates, Argo Rollouts' Prometheus and
// Web providers).
type MetricCheck struct {
	Name string
	// Prometheus is the server's base URL, Query the PromQL; or HTTP is
	// the URL of a JSON document and JSONPath where the number is in it.
	Prometheus, Query string
	HTTP, JSONPath    string
	Min, Max          *float64
	// OnError is what a query that fails or finds no value counts as:
	// "fail" (a failed check, the default, as Flagger counts it), "hold"
	// (not enough data: nothing is counted) or "skip" (the check is left
	// out of this window).
	OnError string
	Timeout time.Duration
}

// DefaultCheckTimeout bounds one check's request.
const DefaultCheckTimeout = 5 * time.Second

// ParseChecks reads a `checks:` list; the policy prefixes its errors.
func ParseChecks(raw json.RawMessage) ([]MetricCheck, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("must be a list of mappings")
	}
	var out []MetricCheck
	seen := map[string]bool{}
	for i, m := range list {
		c := MetricCheck{OnError: "fail", Timeout: DefaultCheckTimeout}
		where := fmt.Sprintf("[%d]", i)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			var err error
			switch k {
			case "name":
				c.Name, err = Text(v)
			case "prometheus":
				c.Prometheus, err = Text(v)
			case "query":
				c.Query, err = Text(v)
			case "http":
				c.HTTP, err = Text(v)
			case "json_path":
				c.JSONPath, err = Text(v)
			case "min", "max":
				var f float64
				if json.Unmarshal(v, &f) != nil {
					err = fmt.Errorf("want a number, got %s", v)
				} else if k == "min" {
					c.Min = &f
				} else {
					c.Max = &f
				}
			case "on_error":
				c.OnError, err = Text(v)
				if err == nil && !slices.Contains([]string{"fail", "hold", "skip"}, c.OnError) {
					err = fmt.Errorf("want fail, hold or skip, got %q", c.OnError)
				}
			case "timeout":
				c.Timeout, err = Duration(v, `"5s"`)
				if err == nil && c.Timeout <= 0 {
					err = fmt.Errorf("must be above 0, got %s", v)
				}
			default:
				err = fmt.Errorf("unknown key (name, prometheus, query, http, json_path, min, max, on_error, timeout)")
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", where, k, err)
			}
		}
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case seen[c.Name]:
			return nil, fmt.Errorf("%s: the name %q is used twice", where, c.Name)
		case (c.Prometheus == "") == (c.HTTP == ""):
			return nil, fmt.Errorf("%s (%s): give prometheus (with query) or http (with json_path)", where, c.Name)
		case c.Prometheus != "" && c.Query == "":
			return nil, fmt.Errorf("%s (%s): prometheus needs a query", where, c.Name)
		case c.HTTP != "" && c.JSONPath == "":
			return nil, fmt.Errorf("%s (%s): http needs a json_path", where, c.Name)
		case c.Min == nil && c.Max == nil:
			return nil, fmt.Errorf("%s (%s): give min, max or both", where, c.Name)
		}
		for _, u := range []string{c.Prometheus, c.HTTP} {
			if u == "" {
				continue
			}
			p, err := url.Parse(strings.ReplaceAll(u, "{{", "x"))
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return nil, fmt.Errorf("%s (%s): %q is not an absolute http(s) URL", where, c.Name, u)
			}
		}
		if c.JSONPath != "" {
			if _, err := parsePath(c.JSONPath); err != nil {
				return nil, fmt.Errorf("%s (%s): json_path: %w", where, c.Name, err)
			}
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}

// Vars fill a check's templates: {{gateway}}, {{route}} (the route judged)
// and {{interval}} (the window, like "30s").
type Vars struct {
	Gateway, Route string
	Interval       time.Duration
}

func (v Vars) fill(s string, escape func(string) string) string {
	iv := int(math.Ceil(v.Interval.Seconds()))
	return strings.NewReplacer("{{gateway}}", escape(v.Gateway), "{{route}}", escape(v.Route),
		"{{interval}}", strconv.Itoa(max(iv, 1))+"s").Replace(s)
}

// promString escapes a value for a PromQL double-quoted string.
func promString(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }

// Outside is the verdict of the metric checks on one window.
type Outside struct {
	Checks []sdk.Check
	// Failures are the failed checks in words; Hold says why the window
	// cannot be judged (a check with on_error: hold that had no value).
	Failures, Hold string
	Summary        string
}

// RunChecks reads and judges every check.
func RunChecks(ctx context.Context, client *http.Client, checks []MetricCheck, v Vars) Outside {
	var o Outside
	var bad, ok, hold []string
	for _, c := range checks {
		val, err := c.read(ctx, client, v)
		ch := sdk.Check{Name: c.Name, Route: v.Route, Value: val}
		if err != nil {
			ch.Detail = fmt.Sprintf("%s: %v", c.Name, err)
			switch c.OnError {
			case "skip":
				ch.Passed = true
				ch.Detail += " (skipped: on_error skip)"
			case "hold":
				hold = append(hold, ch.Detail)
			default:
				bad = append(bad, ch.Detail)
			}
			o.Checks = append(o.Checks, ch)
			continue
		}
		ch.Passed = true
		var limits []string
		if c.Min != nil {
			ch.Limit = *c.Min
			if val < *c.Min {
				ch.Passed = false
			}
			limits = append(limits, fmt.Sprintf("min %g", *c.Min))
		}
		if c.Max != nil {
			ch.Limit = *c.Max
			if val > *c.Max {
				ch.Passed = false
			}
			limits = append(limits, fmt.Sprintf("max %g", *c.Max))
		}
		verdict := "within"
		if !ch.Passed {
			verdict = "outside"
		}
		ch.Detail = fmt.Sprintf("%s %g %s %s", c.Name, val, verdict, strings.Join(limits, ", "))
		if ch.Passed {
			ok = append(ok, ch.Detail)
		} else {
			bad = append(bad, ch.Detail)
		}
		o.Checks = append(o.Checks, ch)
	}
	o.Failures, o.Hold, o.Summary = strings.Join(bad, ", "), strings.Join(hold, ", "), strings.Join(ok, ", ")
	return o
}

func (c MetricCheck) read(ctx context.Context, client *http.Client, v Vars) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if c.Prometheus != "" {
		return c.prometheus(ctx, client, v)
	}
	body, err := get(ctx, client, v.fill(c.HTTP, url.QueryEscape))
	if err != nil {
		return 0, err
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, fmt.Errorf("the answer is no JSON: %w", err)
	}
	path, _ := parsePath(c.JSONPath)
	return number(walk(doc, path))
}

func (c MetricCheck) prometheus(ctx context.Context, client *http.Client, v Vars) (float64, error) {
	q := v.fill(c.Query, promString)
	body, err := get(ctx, client, strings.TrimSuffix(c.Prometheus, "/")+"/api/v1/query?query="+url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("not Prometheus' answer: %w", err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("prometheus: %s", r.Error)
	}
	var sample []any
	switch r.Data.ResultType {
	case "scalar":
		_ = json.Unmarshal(r.Data.Result, &sample)
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		_ = json.Unmarshal(r.Data.Result, &vec)
		switch len(vec) {
		case 0:
			return 0, errors.New("no data: the query returned no series")
		case 1:
			sample = vec[0].Value
		default:
			return 0, fmt.Errorf("the query returned %d series; aggregate them to one (sum, avg, ...)", len(vec))
		}
	default:
		return 0, fmt.Errorf("the query returned a %s; want a scalar or a vector of one series", r.Data.ResultType)
	}
	if len(sample) != 2 {
		return 0, errors.New("no data")
	}
	f, err := number(sample[1])
	if err != nil || math.IsNaN(f) {
		return 0, errors.New("no data: the value is NaN (no requests in the window?)")
	}
	return f, nil
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.Join(strings.Fields(string(body)), " ")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	return body, nil
}

// parsePath reads the JSONPath subset people use for one value:
// $.a.b[0].c (the $ and the first dot optional).
func parsePath(p string) ([]any, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(p), "$"), ".")
	var out []any
	for s != "" {
		switch {
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("%q: an unclosed [", p)
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q: [%s] is not an index", p, s[1:end])
			}
			out = append(out, n)
			s = strings.TrimPrefix(s[end+1:], ".")
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return nil, fmt.Errorf("%q: an empty name", p)
			}
			out = append(out, s[:end])
			s = strings.TrimPrefix(s[end:], ".")
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: no path", p)
	}
	return out, nil
}

func walk(doc any, path []any) any {
	for _, step := range path {
		switch k := step.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				return nil
			}
			doc = m[k]
		case int:
			l, ok := doc.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			doc = l[k]
		}
	}
	return doc
}

// number reads a JSON number, or a string holding one (Prometheus writes
// its values as strings).
func number(v any) (float64, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	case nil:
		return 0, errors.New("no data: nothing at the path")
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
