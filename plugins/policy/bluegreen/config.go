package bluegreen

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/policy/internal/policykit"
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
	// metrics are the checks read from outside (Prometheus, HTTP JSON),
	// judged after the built-in ones pass.
	metrics []policykit.MetricCheck
	// postPromotion, if set, is how many passing windows the preview
	// must have with all the traffic before the promotion ends the
	// rollout.
	postPromotion int
}

// parseConfig reads and checks a policy section. routes, when not nil,
// are the gateway's route names that active and preview must be among.
func parseConfig(raw json.RawMessage, routes []string) (*config, error) {
	m, err := policykit.Section("bluegreen", raw)
	if err != nil {
		return nil, err
	}
	c := &config{passes: DefaultPasses, threshold: DefaultThreshold, minRequests: DefaultMinRequests,
		maxErrorRate: DefaultMaxErrorRate, maxP99: DefaultMaxP99}
	// Sorted, so that the first problem reported does not depend on map
	// order.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		var err error
		switch k {
		case "type", "interval", "max_step":
			// The core's: it checks them itself.
		case "active":
			c.active, err = policykit.Text(v)
		case "preview":
			c.preview, err = policykit.Text(v)
		case "auto_promote":
			if json.Unmarshal(v, &c.autoPromote) != nil {
				err = fmt.Errorf("must be true or false, got %s", v)
			}
		case "passes":
			c.passes, err = policykit.Whole(v, 1)
		case "checks":
			c.metrics, err = policykit.ParseChecks(v)
		case "post_promotion":
			c.postPromotion, err = policykit.Whole(v, 1)
		case "threshold":
			c.threshold, err = policykit.Whole(v, 1)
		case "min_requests":
			// 0 would judge a window without a single request, and pass it:
			// a preview that got no traffic would be promoted.
			c.minRequests, err = policykit.Whole(v, 1)
			if err != nil && strings.TrimSpace(string(v)) == "0" {
				err = fmt.Errorf("%w: 0 would judge, and pass, a window in which the preview got no request at all", err)
			}
		case "max_error_rate":
			c.maxErrorRate, err = policykit.ErrorRate(v, "1")
		case "max_p99":
			c.maxP99, err = policykit.Duration(v, `"500ms"`)
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
	if err := policykit.CheckRoutes("bluegreen", c.activeRoute(), c.previewRoute(), routes); err != nil {
		return nil, err
	}
	return c, nil
}

// activeRoute and previewRoute are the two routes, as the policy section
// names them.
func (c *config) activeRoute() policykit.Route {
	return policykit.Route{Key: "active", Name: c.active, Role: "the route that has all the traffic now"}
}

func (c *config) previewRoute() policykit.Route {
	return policykit.Route{Key: "preview", Name: c.preview, Role: "the route of the new version"}
}
