package bluegreen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults of the policy section.
const (
	DefaultPasses       = 1
	DefaultThreshold    = 1
	DefaultMinRequests  = 10
	DefaultMaxErrorRate = 1.0 // percent
	DefaultMaxP99       = 500 * time.Millisecond
)

// config is a parsed policy section.
type config struct {
	active, preview string
	autoPromote     bool
	passes          int
	threshold       int
	minRequests     int
	maxErrorRate    float64 // percent
	maxP99          time.Duration
}

// parseConfig reads and checks a policy section. routes, when not nil,
// are the gateway's route names that active and preview must be among.
func parseConfig(raw json.RawMessage, routes []string) (*config, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("bluegreen: the policy section must be a mapping: %w", err)
	}
	if m == nil {
		return nil, errors.New("bluegreen: the policy section must be a mapping, got null")
	}
	c := &config{passes: DefaultPasses, threshold: DefaultThreshold, minRequests: DefaultMinRequests,
		maxErrorRate: DefaultMaxErrorRate, maxP99: DefaultMaxP99}
	// Sorted, so that the first problem reported does not depend on map
	// order.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "type", "interval", "max_step":
			// The core's: it checks them itself.
		case "active":
			c.active, err = text(v)
		case "preview":
			c.preview, err = text(v)
		case "auto_promote":
			if json.Unmarshal(v, &c.autoPromote) != nil {
				err = fmt.Errorf("must be true or false, got %s", v)
			}
		case "passes":
			c.passes, err = whole(v, 1)
		case "threshold":
			c.threshold, err = whole(v, 1)
		case "min_requests":
			c.minRequests, err = whole(v, 0)
		case "max_error_rate":
			c.maxErrorRate, err = percent(v)
			if err == nil && (c.maxErrorRate < 0 || c.maxErrorRate > 100) {
				err = fmt.Errorf("must be a percentage from 0 to 100, got %s", pct(c.maxErrorRate))
			}
		case "max_p99":
			c.maxP99, err = duration(v, `"500ms"`)
			if err == nil && c.maxP99 <= 0 {
				err = fmt.Errorf("must be above 0, got %s", c.maxP99)
			}
		default:
			return nil, fmt.Errorf("bluegreen: unknown key %q in the policy section", k)
		}
		if err != nil {
			return nil, fmt.Errorf("bluegreen: %s: %w", k, err)
		}
	}
	if c.active == "" {
		return nil, errors.New("bluegreen: active is required: the route that has all the traffic now")
	}
	if c.preview == "" {
		return nil, errors.New("bluegreen: preview is required: the route of the new version")
	}
	if c.active == c.preview {
		return nil, fmt.Errorf("bluegreen: active and preview are the same route %q", c.active)
	}
	if routes != nil {
		for _, r := range []struct{ key, route string }{{"active", c.active}, {"preview", c.preview}} {
			if !slices.Contains(routes, r.route) {
				return nil, fmt.Errorf("bluegreen: %s: %q is not a route of the gateway (its routes: %s)", r.key, r.route, quoteAll(routes))
			}
		}
	}
	return c, nil
}

func text(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("must be a string, got %s", raw)
	}
	return s, nil
}

// percent reads 1, 0.5, "1" or "1%".
func percent(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf(`want a percentage like 1 or "1%%", got %s`, raw)
}

func whole(raw json.RawMessage, least int) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < float64(least) || f > math.MaxInt32 {
		return 0, fmt.Errorf("must be a whole number of at least %d, got %s", least, raw)
	}
	return int(f), nil
}

func duration(raw json.RawMessage, example string) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	}
	return 0, fmt.Errorf("want a duration like %s, got %s", example, raw)
}

// pct writes a percentage without trailing zeros: 1%, 2.5%.
func pct(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) + "%" }

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
