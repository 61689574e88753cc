package canary

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/policy/internal/policykit"
)

// Defaults of the policy section.
const (
	// DefaultThreshold is Flagger's: the first failed check rolls back.
	DefaultThreshold = 1
	// DefaultMaxWeight is where `step` stops when max_weight is not given.
	DefaultMaxWeight = 50.0
	// DefaultMinRequests is the least canary traffic a window needs to
	// be judged at all.
	DefaultMinRequests = 10
	// DefaultMaxErrorRate (percent) and DefaultMaxP99 match Flagger's
	// usual request-success-rate (min 99) and request-duration (max 500ms).
	DefaultMaxErrorRate = 1.0
	DefaultMaxP99       = 500 * time.Millisecond
	// DefaultWebhookTimeout bounds one webhook call.
	DefaultWebhookTimeout = 10 * time.Second
)

// Webhook types, as Flagger names them.
const (
	HookConfirmRollout         = "confirm-rollout"
	HookPreRollout             = "pre-rollout"
	HookRollout                = "rollout"
	HookConfirmTrafficIncrease = "confirm-traffic-increase"
	HookConfirmPromotion       = "confirm-promotion"
	HookRollback               = "rollback"
	HookPostRollout            = "post-rollout"
	HookEvent                  = "event"
)

var hookTypes = []string{HookConfirmRollout, HookPreRollout, HookRollout, HookConfirmTrafficIncrease,
	HookConfirmPromotion, HookRollback, HookPostRollout, HookEvent}

// config is a parsed policy section.
type config struct {
	stable, canary string
	// steps are the canary's weights in percent, strictly increasing,
	// each above 0 and below 100: 100% comes only with promotion.
	steps []float64
	// pauses are the pauses written in steps, by the number of the weight
	// step they follow (from 1; len(steps): before the promotion).
	pauses map[int]pause
	// iterations, if set, are the passing windows the canary must have on
	// the traffic its route's condition takes, at weight 0, before the
	// first weight step (Flagger's A/B testing).
	iterations   int
	threshold    int
	minRequests  int
	maxErrorRate float64 // percent
	maxP99       time.Duration
	// progressDeadline, if set, rolls back a rollout whose windows have
	// had too little traffic to be judged for that long (0: it holds).
	progressDeadline time.Duration
	webhooks         []webhook
	// metrics are the checks read from outside (Prometheus, HTTP JSON),
	// judged after the built-in ones pass.
	metrics []policykit.MetricCheck
}

// pause is a steps entry that waits: for a duration, or (manual) until an
// operator resumes the policy.
type pause struct {
	duration time.Duration
	manual   bool
}

func (p pause) String() string {
	if p.manual {
		return "pause until resumed"
	}
	return "pause " + p.duration.String()
}

type webhook struct {
	name, typ, url string
	timeout        time.Duration
	metadata       map[string]string
}

// parseConfig reads and checks a policy section. routes, when not nil,
// are the gateway's route names that stable and canary must be among.
func parseConfig(raw json.RawMessage, routes []string) (*config, error) {
	m, err := policykit.Section("canary", raw)
	if err != nil {
		return nil, err
	}
	c := &config{threshold: DefaultThreshold, minRequests: DefaultMinRequests,
		maxErrorRate: DefaultMaxErrorRate, maxP99: DefaultMaxP99}
	var steps []float64
	var step, maxWeight float64
	var hasSteps, hasStep, hasMax bool
	// Sorted, so that the first problem reported does not depend on map
	// order.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		var err error
		switch k {
		case "type", "interval", "max_step":
			// The core's: it checks them itself.
		case "stable":
			c.stable, err = policykit.Text(v)
		case "canary":
			c.canary, err = policykit.Text(v)
		case "steps":
			hasSteps = true
			steps, c.pauses, err = stepList(v)
		case "iterations":
			c.iterations, err = policykit.Whole(v, 1)
		case "checks":
			c.metrics, err = policykit.ParseChecks(v)
		case "step":
			hasStep = true
			step, err = percent(v)
		case "max_weight":
			hasMax = true
			maxWeight, err = percent(v)
		case "threshold":
			c.threshold, err = policykit.Whole(v, 1)
		case "min_requests":
			// 0 would judge a window without a single request, and pass it:
			// a canary that got no traffic would be promoted.
			c.minRequests, err = policykit.Whole(v, 1)
			if err != nil && strings.TrimSpace(string(v)) == "0" {
				err = fmt.Errorf("%w: 0 would judge, and pass, a window in which the canary got no request at all", err)
			}
		case "max_error_rate":
			c.maxErrorRate, err = policykit.ErrorRate(v, "10")
		case "max_p99":
			c.maxP99, err = policykit.Duration(v, `"500ms"`)
		case "progress_deadline":
			c.progressDeadline, err = policykit.Duration(v, `"30m"`)
			if err == nil && c.progressDeadline <= 0 {
				err = fmt.Errorf("must be above 0, got %s", v)
			}
		case "webhooks":
			c.webhooks, err = webhooks(v)
			if err != nil {
				return nil, fmt.Errorf("canary: %w", err)
			}
		default:
			return nil, fmt.Errorf("canary: unknown key %q in the policy section", k)
		}
		if err != nil {
			return nil, fmt.Errorf("canary: %s: %w", k, err)
		}
	}
	if err := policykit.CheckRoutes("canary", c.stableRoute(), c.canaryRoute(), routes); err != nil {
		return nil, err
	}
	switch {
	case hasSteps && hasStep:
		return nil, errors.New("canary: give either steps or step (with max_weight), not both")
	case hasSteps && hasMax:
		return nil, errors.New("canary: max_weight goes with step, not with steps (the last step is the most)")
	case hasSteps:
		if len(steps) == 0 {
			return nil, errors.New("canary: steps: at least one step is needed")
		}
		for i, s := range steps {
			// Weights are basis points: 2.555 and 2.56 are one step.
			s = math.Round(s*100) / 100
			steps[i] = s
			if s <= 0 || s >= 100 {
				return nil, fmt.Errorf("canary: steps: each step must be above 0 and below 100 (100%% comes with promotion), got %s", policykit.Pct(s))
			}
			if i > 0 && s <= steps[i-1] {
				return nil, fmt.Errorf("canary: steps: must be strictly increasing, got %s after %s", policykit.Pct(s), policykit.Pct(steps[i-1]))
			}
		}
		c.steps = steps
	case hasStep:
		if !hasMax {
			maxWeight = DefaultMaxWeight
		}
		if maxWeight <= 0 || maxWeight >= 100 {
			return nil, fmt.Errorf("canary: max_weight: must be above 0 and below 100 (100%% comes with promotion), got %s", policykit.Pct(maxWeight))
		}
		if step <= 0 || step > maxWeight {
			return nil, fmt.Errorf("canary: step: must be above 0 and at most max_weight (%s), got %s", policykit.Pct(maxWeight), policykit.Pct(step))
		}
		// As Flagger: step by step, the last one capped at max_weight.
		for i := 1; ; i++ {
			w := math.Round(float64(i)*step*100) / 100 // basis points
			if w >= maxWeight-1e-9 {
				c.steps = append(c.steps, maxWeight)
				break
			}
			c.steps = append(c.steps, w)
		}
	case hasMax:
		return nil, errors.New("canary: max_weight needs step")
	default:
		return nil, errors.New("canary: steps (a list of percentages) or step (with max_weight) is required")
	}
	if c.maxP99 <= 0 {
		return nil, fmt.Errorf("canary: max_p99: must be above 0, got %s", c.maxP99)
	}
	return c, nil
}

// stableRoute and canaryRoute are the two routes, as the policy section
// names them.
func (c *config) stableRoute() policykit.Route {
	return policykit.Route{Key: "stable", Name: c.stable, Role: "the route that has the traffic now"}
}

func (c *config) canaryRoute() policykit.Route {
	return policykit.Route{Key: "canary", Name: c.canary, Role: "the route of the new version"}
}

func webhooks(raw json.RawMessage) ([]webhook, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("webhooks: must be a list of mappings")
	}
	out := make([]webhook, 0, len(list))
	seen := map[string]bool{}
	for i, m := range list {
		h := webhook{timeout: DefaultWebhookTimeout}
		where := fmt.Sprintf("webhooks[%d]", i)
		if v, ok := m["name"]; ok {
			n, err := policykit.Text(v)
			if err != nil {
				return nil, fmt.Errorf("%s: name: %w", where, err)
			}
			h.name = n
		}
		if h.name == "" {
			return nil, fmt.Errorf("%s: name is required", where)
		}
		if seen[h.name] {
			return nil, fmt.Errorf("%s: the name %q is used twice", where, h.name)
		}
		seen[h.name] = true
		where = fmt.Sprintf("webhooks[%d] (%s)", i, h.name)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			var err error
			switch k {
			case "name":
			case "type":
				h.typ, err = policykit.Text(v)
			case "url":
				h.url, err = policykit.Text(v)
			case "timeout":
				h.timeout, err = policykit.Duration(v, `"5s"`)
				if err == nil && h.timeout <= 0 {
					err = fmt.Errorf("must be above 0, got %s", h.timeout)
				}
			case "metadata":
				h.metadata, err = metadata(v)
			default:
				return nil, fmt.Errorf("%s: unknown key %q", where, k)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", where, k, err)
			}
		}
		if !slices.Contains(hookTypes, h.typ) {
			return nil, fmt.Errorf("%s: type %q is not one of %s", where, h.typ, strings.Join(hookTypes, ", "))
		}
		u, err := url.Parse(h.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: url %q is not an absolute http(s) URL", where, h.url)
		}
		out = append(out, h)
	}
	return out, nil
}

// metadata reads a mapping of scalars; numbers and booleans become text,
// since webhook receivers (Flagger's load tester among them) expect
// strings.
func metadata(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("must be a mapping of names to values")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, fmt.Errorf("the value of %q must be a string, number or boolean", k)
		}
	}
	return out, nil
}

// percent reads 10, 2.5, "10" or "10%".
func percent(raw json.RawMessage) (float64, error) { return policykit.Percent(raw, "10") }

// stepList reads steps: percentages, and pauses after them as Argo
// Rollouts writes them, {pause: {duration: 10m}} (or {pause: 10m}) and
// {pause: {}} until an operator resumes.
func stepList(raw json.RawMessage) ([]float64, map[int]pause, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, nil, fmt.Errorf("want a list of percentages like [1, 5, 10], got %s", raw)
	}
	var weights []float64
	pauses := map[int]pause{}
	for i, v := range list {
		if t := strings.TrimSpace(string(v)); strings.HasPrefix(t, "{") {
			p, err := pauseStep(v)
			if err != nil {
				return nil, nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if len(weights) == 0 {
				return nil, nil, fmt.Errorf("[%d]: a pause needs a weight step before it (the first step is taken at once)", i)
			}
			if _, twice := pauses[len(weights)]; twice {
				return nil, nil, fmt.Errorf("[%d]: two pauses in a row", i)
			}
			pauses[len(weights)] = p
			continue
		}
		f, err := percent(v)
		if err != nil {
			return nil, nil, fmt.Errorf("[%d]: %w", i, err)
		}
		weights = append(weights, f)
	}
	return weights, pauses, nil
}

func pauseStep(raw json.RawMessage) (pause, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 || m["pause"] == nil {
		return pause{}, fmt.Errorf(`want a percentage, {pause: {duration: 10m}} or {pause: {}}, got %s`, raw)
	}
	v := m["pause"]
	var d map[string]json.RawMessage
	if json.Unmarshal(v, &d) == nil {
		for k := range d {
			if k != "duration" {
				return pause{}, fmt.Errorf("pause: unknown key %q (duration, or none for a pause until resumed)", k)
			}
		}
		if d["duration"] == nil {
			return pause{manual: true}, nil
		}
		v = d["duration"]
	}
	dur, err := policykit.Duration(v, `"10m"`)
	if err == nil && dur <= 0 {
		err = fmt.Errorf("must be above 0, got %s", v)
	}
	if err != nil {
		return pause{}, fmt.Errorf("pause: duration: %w", err)
	}
	return pause{duration: dur}, nil
}
