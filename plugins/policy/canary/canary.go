// Package canary is Turnout's built-in canary policy: Flagger's analysis
// on a gateway's own per-route metrics. The canary route's weight goes up
// step by step while its error rate, p99 latency and request count pass;
// failed checks up to a threshold roll it back; webhooks gate the start,
// the first shift and the promotion, and can ask for a rollback.
package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/policy/internal/policykit"
	"github.com/turnout/turnout/plugins/sdk"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Phases of a rollout, as Decision.Phase and in the state.
const (
	// PhaseInitializing: before the first traffic shift (the canary is
	// not ready yet, or a pre-rollout webhook failed).
	PhaseInitializing = "initializing"
	// PhaseWaiting: a confirm-rollout webhook has not said yes yet.
	PhaseWaiting = "waiting"
	// PhaseProgressing: the canary has traffic and the steps go on.
	PhaseProgressing = "progressing"
	// PhaseWaitingPromotion: the last step passed; a confirm-promotion
	// webhook has not said yes yet.
	PhaseWaitingPromotion = "waiting-promotion"
	PhasePromoted         = "promoted"
	PhaseRolledBack       = "rolled-back"
	// PhasePaused: a pause step waits for an operator to resume.
	PhasePaused = "paused"
)

// state is what Turnout keeps between decisions (Decision.State): all
// the progress, so that a restart resumes where the rollout was.
type state struct {
	Phase string `json:"phase"`
	// Step is how many steps the canary has reached: 0 before the first
	// shift, len(steps) at the last one.
	Step int `json:"step"`
	// FailedChecks counts failed checks in this rollout (as Flagger, a
	// passing check does not reset it).
	FailedChecks int `json:"failed_checks"`
	// RolloutConfirmed: every confirm-rollout webhook said yes.
	RolloutConfirmed bool `json:"rollout_confirmed"`
	// PreRolloutDone: every pre-rollout webhook said yes.
	PreRolloutDone bool `json:"pre_rollout_done"`
	// Failures are the reasons of the last few failed checks: the
	// rollback's reason repeats them, since the holds that counted them
	// changed no weights and so left no revision in the history.
	Failures []string `json:"failures,omitempty"`
	// Progress is when the rollout last made progress: a step, or a
	// window with enough traffic to be judged (progress_deadline).
	Progress time.Time `json:"progress,omitzero"`
	// ABPassed counts the passing windows of the A/B testing before the
	// first weight step (iterations).
	ABPassed int `json:"ab_passed,omitempty"`
	// PauseDone is the last weight step whose pause is over, PauseUntil
	// when the timed pause after Step ends.
	PauseDone  int       `json:"pause_done,omitempty"`
	PauseUntil time.Time `json:"pause_until,omitzero"`
	// Approval is the weight step whose pause asked Turnout to pause the
	// policy: Turnout asks again only once an operator resumed it, so the
	// next decision goes on.
	Approval int `json:"approval,omitempty"`
}

// keptFailures bounds state.Failures.
const keptFailures = 5

type policy struct {
	client *http.Client
}

var _ sdk.Policy = (*policy)(nil)

// New returns the canary policy. One value serves every gateway: all a
// rollout's progress is in the Decision's State.
func New() sdk.Policy {
	return &policy{client: &http.Client{}}
}

// Info describes the plugin.
func (p *policy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "canary",
		Kind:        sdk.KindPolicy,
		Version:     Version,
		Description: "Flagger-style canary analysis: step the canary's weight while its error rate, p99 and traffic pass; roll back after threshold failed checks",
	}, nil
}

// Configure takes the plugin's own settings: it has none.
func (p *policy) Configure(_ context.Context, raw json.RawMessage) error {
	return policykit.NoSettings("canary", raw)
}

// ValidateConfig checks a gateway's policy section.
func (p *policy) ValidateConfig(_ context.Context, raw json.RawMessage, routes []string) error {
	if routes == nil {
		routes = []string{}
	}
	_, err := parseConfig(raw, routes)
	return err
}

// Decide makes one decision of a rollout.
func (p *policy) Decide(ctx context.Context, in sdk.Input) (sdk.Decision, error) {
	c, err := parseConfig(in.Config, nil)
	if err != nil {
		return sdk.Decision{}, err
	}
	st := state{Phase: PhaseInitializing}
	if err := policykit.LoadState("canary", in.State, &st); err != nil {
		return sdk.Decision{}, err
	}
	st.Step = max(0, min(st.Step, len(c.steps)))
	r := &rollout{p: p, c: c, in: in, st: st}
	d, err := r.decide(ctx)
	if err != nil {
		return sdk.Decision{}, err
	}
	if d.Action != sdk.Hold {
		r.event(ctx, d)
	}
	if d.State, err = marshal(r.st); err != nil {
		return sdk.Decision{}, fmt.Errorf("canary: state: %w", err)
	}
	d.Phase, d.Checks = r.st.Phase, r.checks
	return d, nil
}

// rollout is one decision's work.
type rollout struct {
	p  *policy
	c  *config
	in sdk.Input
	st state

	stable, canary sdk.RouteMetrics
	// share is what stable and canary split between them: 100% less the
	// weights of the gateway's other routes, which are left alone.
	share  int
	checks []sdk.Check
}

func (r *rollout) decide(ctx context.Context) (sdk.Decision, error) {
	if r.st.Phase == PhasePromoted || r.st.Phase == PhaseRolledBack {
		// The core stops asking after a promotion or rollback; if it
		// asks anyway, nothing changes.
		return r.hold(fmt.Sprintf("the rollout is over (%s); a changed policy section starts another", r.st.Phase)), nil
	}
	var err error
	if r.stable, r.canary, r.share, err = policykit.Split("canary", r.in, r.c.stableRoute(), r.c.canaryRoute()); err != nil {
		return sdk.Decision{}, err
	}

	switch r.in.Command {
	case sdk.CommandNone:
	case sdk.CommandPause, sdk.CommandResume:
		return r.hold(fmt.Sprintf("%s is Turnout's to handle; holding at %s", r.in.Command, bp(r.canary.Weight))), nil
	case sdk.CommandPromote:
		return r.promote(ctx, "promoted by an operator (checks and gates skipped)"), nil
	case sdk.CommandAbort:
		return r.rollback(ctx, "aborted by an operator"), nil
	default:
		return sdk.Decision{}, fmt.Errorf("canary: unknown command %q", r.in.Command)
	}

	// A rollback webhook is a manual trigger: its yes ends the rollout
	// whatever the checks say.
	for _, h := range r.hooks(HookRollback) {
		if res := r.call(ctx, h, r.canary.Weight); res.ok {
			return r.rollback(ctx, "rollback requested: "+res.text), nil
		}
	}
	if !r.canary.Ready {
		return r.hold(fmt.Sprintf("canary not ready (route %q); holding at %s", r.c.canary, bp(r.canary.Weight))), nil
	}
	if !r.st.RolloutConfirmed {
		if why, ok := r.gate(ctx, HookConfirmRollout); !ok {
			r.st.Phase = PhaseWaiting
			return r.hold("waiting for confirm-rollout: " + why), nil
		}
		r.st.RolloutConfirmed = true
		r.st.Phase = PhaseInitializing
	}
	if r.st.Step == 0 && !r.st.PreRolloutDone {
		res, ok := r.gate(ctx, HookPreRollout)
		if !ok {
			return r.fail(ctx, res), nil
		}
		r.st.PreRolloutDone = true
		if r.c.iterations == 0 {
			why := "the rollout starts"
			if res != "" {
				why += ": " + res
			}
			return r.increase(ctx, why, "the rollout starts"), nil
		}
	}
	if r.st.Step == 0 && r.c.iterations == 0 {
		return r.increase(ctx, "the rollout starts", "the rollout starts"), nil
	}

	// Each window: the rollout webhooks, then the canary's figures.
	for _, h := range r.hooks(HookRollout) {
		if res := r.call(ctx, h, r.canary.Weight); !res.ok {
			return r.fail(ctx, res.text), nil
		}
	}
	a := policykit.Analyse("canary", r.canary, r.c.minRequests, r.c.maxErrorRate, r.c.maxP99)
	r.checks = append(r.checks, a.Checks...)
	if a.Enough && a.Passed && len(r.c.metrics) > 0 {
		o := policykit.RunChecks(ctx, r.p.client, r.c.metrics, policykit.Vars{Gateway: r.in.Gateway, Route: r.c.canary, Interval: r.in.Window})
		r.checks = append(r.checks, o.Checks...)
		switch {
		case o.Failures != "":
			a.Passed, a.Failures = false, "canary "+o.Failures
		case o.Hold != "":
			return r.hold(fmt.Sprintf("%s; %s; holding at %s", a.Summary, o.Hold, bp(r.canary.Weight))), nil
		default:
			a.Summary += "; " + o.Summary
		}
	}
	if a.Enough || r.st.Progress.IsZero() {
		r.st.Progress = r.in.Now
	}
	switch {
	case !a.Enough && r.c.progressDeadline > 0 && r.in.Now.Sub(r.st.Progress) >= r.c.progressDeadline:
		return r.rollback(ctx, fmt.Sprintf("rolled back: no progress for progress_deadline %s: %s since %s",
			r.c.progressDeadline, a.Summary, r.st.Progress.UTC().Format(time.RFC3339))), nil
	case !a.Enough:
		return r.hold(fmt.Sprintf("%s; holding at %s", a.Summary, bp(r.canary.Weight))), nil
	case !a.Passed:
		return r.fail(ctx, a.Failures), nil
	case r.st.Step == 0:
		// A/B testing: the canary takes only what its condition matches
		// (counted up to iterations: past them a gate holds the step).
		r.st.ABPassed = min(r.st.ABPassed+1, r.c.iterations)
		if r.st.ABPassed < r.c.iterations {
			return r.hold(fmt.Sprintf("A/B testing, iteration %d/%d passed: %s", r.st.ABPassed, r.c.iterations, a.Summary)), nil
		}
		why := fmt.Sprintf("A/B testing passed (%d iterations): %s", r.c.iterations, a.Summary)
		return r.increase(ctx, why, why), nil
	case r.canary.Weight < r.weight(r.st.Step):
		// The last step was cut short by max_step: finish it before the
		// next.
		return r.step(a.Summary, true), nil
	}
	if d, waiting := r.pauseAfter(a.Summary); waiting {
		return d, nil
	}
	if r.st.Step < len(r.c.steps) {
		return r.increase(ctx, a.Summary, a.Summary), nil
	}
	n := len(r.c.steps)
	if why, ok := r.gate(ctx, HookConfirmPromotion); !ok {
		r.st.Phase = PhaseWaitingPromotion
		return r.hold(fmt.Sprintf("last step %d/%d (%s) passed: %s; waiting for confirm-promotion: %s",
			n, n, bp(r.canary.Weight), a.Summary, why)), nil
	}
	return r.promote(ctx, fmt.Sprintf("promoted after step %d/%d (%s): %s", n, n, bp(r.canary.Weight), a.Summary)), nil
}

// increase takes the next step, once the confirm-traffic-increase
// webhooks say yes; passed says what passed, for the hold's reason.
func (r *rollout) increase(ctx context.Context, why, passed string) sdk.Decision {
	if res, ok := r.gate(ctx, HookConfirmTrafficIncrease); !ok {
		return r.hold(fmt.Sprintf("%s; waiting for confirm-traffic-increase: %s; holding at %s", passed, res, bp(r.canary.Weight)))
	}
	r.st.Step++
	return r.step(why, false)
}

// pauseAfter keeps the rollout at the current step while the pause
// written after it lasts: a timed one until its end, one until resumed
// by asking Turnout to pause the policy (the decision after the operator
// resumes it goes on). waiting is false once the pause is over, or when
// there is none.
func (r *rollout) pauseAfter(passed string) (d sdk.Decision, waiting bool) {
	p, ok := r.c.pauses[r.st.Step]
	if !ok || r.st.PauseDone >= r.st.Step {
		return sdk.Decision{}, false
	}
	at := fmt.Sprintf("step %d/%d (%s) passed: %s", r.st.Step, len(r.c.steps), bp(r.canary.Weight), passed)
	switch {
	case p.manual && r.st.Approval != r.st.Step:
		r.st.Approval, r.st.Phase = r.st.Step, PhasePaused
		return sdk.Decision{Action: sdk.Pause, Reason: at + fmt.Sprintf("; paused until an operator resumes (turnout gateway resume %s)", r.in.Gateway)}, true
	case !p.manual && r.st.PauseUntil.IsZero():
		r.st.PauseUntil = r.in.Now.Add(p.duration)
		return r.hold(fmt.Sprintf("%s; %s, until %s", at, p, r.st.PauseUntil.UTC().Format(time.RFC3339))), true
	case !p.manual && r.in.Now.Before(r.st.PauseUntil):
		return r.hold(fmt.Sprintf("%s; %s, until %s", at, p, r.st.PauseUntil.UTC().Format(time.RFC3339))), true
	}
	r.st.PauseDone, r.st.PauseUntil, r.st.Approval = r.st.Step, time.Time{}, 0
	return sdk.Decision{}, false
}

// event tells the event webhooks of a decision that changes something;
// what they answer changes nothing.
func (r *rollout) event(ctx context.Context, d sdk.Decision) {
	kind := "Normal"
	if d.Action == sdk.Rollback {
		kind = "Warning"
	}
	for _, h := range r.hooks(HookEvent) {
		res := r.p.call(ctx, h, payload{Name: r.in.Gateway, Phase: r.st.Phase, Canary: r.c.canary, Weight: float64(r.canary.Weight) / 100,
			Metadata: map[string]string{"eventMessage": d.Reason, "eventType": kind}})
		r.checks = append(r.checks, res.check)
	}
}

// weight is the canary's weight at step i (from 1), in basis points.
func (r *rollout) weight(i int) int { return min(sdk.Percent(r.c.steps[i-1]), r.share) }

// step moves the canary to the weight of the current step. catchUp
// says the step was taken before but not reached.
func (r *rollout) step(why string, catchUp bool) sdk.Decision {
	r.st.Phase = PhaseProgressing
	r.st.Progress = r.in.Now
	w := r.weight(r.st.Step)
	head := fmt.Sprintf("step %d/%d → %s", r.st.Step, len(r.c.steps), bp(w))
	if catchUp {
		head += fmt.Sprintf(" (still at %s)", bp(r.canary.Weight))
	}
	return sdk.Decision{Action: sdk.Step, Reason: head + ": " + why,
		Weights: map[string]int{r.c.canary: w, r.c.stable: r.share - w}}
}

// fail counts a failed check and rolls back at the threshold.
func (r *rollout) fail(ctx context.Context, why string) sdk.Decision {
	r.st.FailedChecks++
	this := fmt.Sprintf("check failed (%d/%d): %s", r.st.FailedChecks, r.c.threshold, why)
	r.st.Failures = append(r.st.Failures, this)
	if n := len(r.st.Failures); n > keptFailures {
		r.st.Failures = slices.Clone(r.st.Failures[n-keptFailures:])
	}
	if r.st.FailedChecks < r.c.threshold {
		return r.hold(this)
	}
	all := strings.Join(r.st.Failures, "; ")
	if r.st.FailedChecks > len(r.st.Failures) {
		all = "...; " + all
	}
	return r.rollback(ctx, "rolled back: "+all)
}

func (r *rollout) hold(why string) sdk.Decision {
	return sdk.Decision{Action: sdk.Hold, Reason: why}
}

func (r *rollout) promote(ctx context.Context, why string) sdk.Decision {
	r.st.Phase = PhasePromoted
	return sdk.Decision{Action: sdk.Promote, Reason: why + r.postRollout(ctx, r.share),
		Weights: map[string]int{r.c.canary: r.share, r.c.stable: 0}}
}

func (r *rollout) rollback(ctx context.Context, why string) sdk.Decision {
	r.st.Phase = PhaseRolledBack
	return sdk.Decision{Action: sdk.Rollback, Reason: why + r.postRollout(ctx, 0),
		Weights: map[string]int{r.c.canary: 0, r.c.stable: r.share}}
}

// postRollout calls the post-rollout webhooks; they change nothing, but
// what they answered goes into the reason and the checks.
func (r *rollout) postRollout(ctx context.Context, weight int) string {
	var out []string
	for _, h := range r.hooks(HookPostRollout) {
		out = append(out, r.call(ctx, h, weight).text)
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// gate calls the webhooks of a type in turn until one says no. It
// reports what they answered and whether all said yes (true when there
// are none).
func (r *rollout) gate(ctx context.Context, typ string) (string, bool) {
	var out []string
	for _, h := range r.hooks(typ) {
		res := r.call(ctx, h, r.canary.Weight)
		if !res.ok {
			return res.text, false
		}
		out = append(out, res.text)
	}
	return strings.Join(out, "; "), true
}

func (r *rollout) hooks(typ string) []webhook {
	var out []webhook
	for _, h := range r.c.webhooks {
		if h.typ == typ {
			out = append(out, h)
		}
	}
	return out
}

// call calls a webhook and records its check.
func (r *rollout) call(ctx context.Context, h webhook, weight int) hookResult {
	res := r.p.call(ctx, h, payload{Name: r.in.Gateway, Phase: r.st.Phase, Canary: r.c.canary,
		Weight: float64(weight) / 100})
	r.checks = append(r.checks, res.check)
	return res
}

// marshal writes the state as JSON that people can read in the store:
// "p99 300ms > 200ms", not "\u003e".
func marshal(st state) (json.RawMessage, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
}

// bp writes basis points as a percentage: 1250 is "12.5%".
func bp(w int) string { return policykit.Pct(float64(w) / 100) }
