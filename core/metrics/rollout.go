package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Rollout holds the series a dashboard draws a rollout from and an alert
// fires on: each route's configured and effective weight, and each
// policy's phase, step, decisions and checks. It is registered by
// NewRegistry; the engine and the policy runner set it.
type Rollout struct {
	weight    *prometheus.GaugeVec
	phase     *prometheus.GaugeVec
	step      *prometheus.GaugeVec
	decisions *prometheus.CounterVec
	check     *prometheus.GaugeVec
	limit     *prometheus.GaugeVec

	mu sync.Mutex
	// phases is each gateway's phase series, so that a new phase replaces
	// the old one's (one series at 1 per gateway).
	phases map[string][2]string // gateway -> policy, phase
	// checks are each gateway's check series, deleted when a decision no
	// longer has them.
	checks map[string][][2]string // gateway -> check, route
}

func newRollout() *Rollout {
	return &Rollout{
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_route_weight",
			Help: "A route's weight in percent, by gateway, route and kind: configured (the artefact's) or effective (what it takes: 0 while held).",
		}, []string{"gateway", "route", "kind"}),
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_policy_phase",
			Help: "1 for the phase a gateway's rollout is in (progressing, paused, promoted, rolled-back, ...), by gateway, policy and phase; set by the agent running the policy.",
		}, []string{"gateway", "policy", "phase"}),
		step: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_policy_step",
			Help: "How many decisions a gateway's rollout has taken, by gateway and policy.",
		}, []string{"gateway", "policy"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnout_policy_decisions_total",
			Help: "Policy decisions taken, by gateway, policy and result (step, hold, promote, rollback, pause, ...).",
		}, []string{"gateway", "policy", "result"}),
		check: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_policy_check_value",
			Help: "The value a policy's check measured at its last decision, by gateway, check and route.",
		}, []string{"gateway", "check", "route"}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "turnout_policy_check_limit",
			Help: "The threshold a policy's check compared its value with at its last decision, by gateway, check and route.",
		}, []string{"gateway", "check", "route"}),
		phases: map[string][2]string{},
		checks: map[string][][2]string{},
	}
}

func (r *Rollout) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.weight, r.phase, r.step, r.decisions, r.check, r.limit}
}

// Weights records a route's configured and effective weight, in percent.
func (r *Rollout) Weights(gateway, route string, configured, effective float64) {
	r.weight.WithLabelValues(gateway, route, "configured").Set(configured)
	r.weight.WithLabelValues(gateway, route, "effective").Set(effective)
}

func (r *Rollout) forgetRoute(gateway, route string) {
	r.weight.DeleteLabelValues(gateway, route, "configured")
	r.weight.DeleteLabelValues(gateway, route, "effective")
}

// Check is one check of a decision, for Decision.
type Check struct {
	Name, Route  string
	Value, Limit float64
}

// Decision records a policy decision: its result, the rollout's phase and
// step after it, and its checks.
func (r *Rollout) Decision(gateway, policy, result, phase string, step int, checks []Check) {
	r.decisions.WithLabelValues(gateway, policy, result).Inc()
	r.step.WithLabelValues(gateway, policy).Set(float64(step))
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.phases[gateway]; ok && prev != [2]string{policy, phase} {
		r.phase.DeleteLabelValues(gateway, prev[0], prev[1])
	}
	r.phases[gateway] = [2]string{policy, phase}
	r.phase.WithLabelValues(gateway, policy, phase).Set(1)
	for _, c := range r.checks[gateway] {
		r.check.DeleteLabelValues(gateway, c[0], c[1])
		r.limit.DeleteLabelValues(gateway, c[0], c[1])
	}
	keys := make([][2]string, 0, len(checks))
	for _, c := range checks {
		r.check.WithLabelValues(gateway, c.Name, c.Route).Set(c.Value)
		r.limit.WithLabelValues(gateway, c.Name, c.Route).Set(c.Limit)
		keys = append(keys, [2]string{c.Name, c.Route})
	}
	r.checks[gateway] = keys
}

// ForgetPolicy deletes a gateway's policy phase, step and checks (its
// policy stopped here: the gateway is gone, its policy removed, or another
// agent leads). The decisions counter stays: an alert on its increase
// must still see a rollback that ended the policy.
func (r *Rollout) ForgetPolicy(gateway string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.phases[gateway]; ok {
		r.phase.DeleteLabelValues(gateway, prev[0], prev[1])
		r.step.DeleteLabelValues(gateway, prev[0])
	}
	for _, c := range r.checks[gateway] {
		r.check.DeleteLabelValues(gateway, c[0], c[1])
		r.limit.DeleteLabelValues(gateway, c[0], c[1])
	}
	delete(r.phases, gateway)
	delete(r.checks, gateway)
}
