// Package bluegreen is Turnout's built-in blue/green policy, after Argo
// Rollouts': the active route keeps all the traffic while the preview
// route (reached through a condition) is checked on its own traffic; a
// promotion switches everything to it at once, and abort switches back
// at once, before or after the promotion.
package bluegreen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/turnout/turnout/plugins/policy/internal/policykit"
	"github.com/turnout/turnout/plugins/sdk"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Phases of a rollout, as Decision.Phase and in the state.
const (
	// PhasePreviewing: the active route has the traffic; the preview's
	// is checked.
	PhasePreviewing = "previewing"
	// PhaseFailed: threshold checks failed; the active route keeps the
	// traffic and nothing is promoted unless an operator says so.
	PhaseFailed = "failed"
	// PhaseVerifying: with post_promotion, all traffic is on the preview
	// and it is judged again before the promotion ends the rollout (Argo
	// Rollouts' post-promotion analysis); failing, traffic goes back.
	PhaseVerifying = "verifying"
	PhasePromoted  = "promoted"
	// PhaseAborted: an operator switched back to the active route.
	PhaseAborted = "aborted"
)

// state is what Turnout keeps between decisions (Decision.State).
type state struct {
	Phase string `json:"phase"`
	// Passes counts consecutive passing windows (a window without enough
	// data neither adds nor resets).
	Passes int `json:"passes"`
	// FailedChecks counts failed windows in this rollout.
	FailedChecks int `json:"failed_checks"`
	// Verified counts the passing windows after the switch.
	Verified int `json:"verified,omitempty"`
}

type policy struct{}

var _ sdk.Policy = policy{}

// New returns the blue/green policy. It keeps nothing itself: a
// rollout's progress is in the Decision's State.
func New() sdk.Policy { return policy{} }

// Info describes the plugin.
func (policy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "bluegreen",
		Kind:        sdk.KindPolicy,
		Version:     Version,
		Description: "blue/green: check the preview route on its own traffic, switch all traffic at once on promote, back at once on abort",
	}, nil
}

// Configure takes the plugin's own settings: it has none.
func (policy) Configure(_ context.Context, raw json.RawMessage) error {
	return policykit.NoSettings("bluegreen", raw)
}

// ValidateConfig checks a gateway's policy section.
func (policy) ValidateConfig(_ context.Context, raw json.RawMessage, routes []string) error {
	if routes == nil {
		routes = []string{}
	}
	_, err := parseConfig(raw, routes)
	return err
}

// Decide makes one decision of a rollout.
func (policy) Decide(ctx context.Context, in sdk.Input) (sdk.Decision, error) {
	c, err := parseConfig(in.Config, nil)
	if err != nil {
		return sdk.Decision{}, err
	}
	st := state{Phase: PhasePreviewing}
	if err := policykit.LoadState("bluegreen", in.State, &st); err != nil {
		return sdk.Decision{}, err
	}
	r := &rollout{c: c, in: in, st: st}
	d, err := r.decide(ctx)
	if err != nil {
		return sdk.Decision{}, err
	}
	if d.State, err = json.Marshal(r.st); err != nil {
		return sdk.Decision{}, fmt.Errorf("bluegreen: state: %w", err)
	}
	d.Phase, d.Checks = r.st.Phase, r.checks
	return d, nil
}

type rollout struct {
	c  *config
	in sdk.Input
	st state

	active, preview sdk.RouteMetrics
	// share is what active and preview split: 100% less the weights of
	// the gateway's other routes, which are left alone.
	share  int
	checks []sdk.Check
}

func (r *rollout) decide(ctx context.Context) (sdk.Decision, error) {
	var err error
	if r.active, r.preview, r.share, err = policykit.Split("bluegreen", r.in, r.c.activeRoute(), r.c.previewRoute()); err != nil {
		return sdk.Decision{}, err
	}

	switch r.in.Command {
	case sdk.CommandNone:
	case sdk.CommandPause, sdk.CommandResume:
		return hold(fmt.Sprintf("%s is Turnout's to handle; holding", r.in.Command)), nil
	case sdk.CommandPromote:
		switch r.st.Phase {
		case PhasePromoted, PhaseAborted:
			return r.over(), nil
		}
		if r.st.Phase == PhaseVerifying {
			return r.promote("promoted by an operator during the verification after the switch"), nil
		}
		return r.promote("promoted by an operator (checks skipped)"), nil
	case sdk.CommandAbort:
		switch r.st.Phase {
		case PhaseAborted:
			return r.over(), nil
		case PhasePromoted:
			return r.abort(fmt.Sprintf("aborted by an operator after the promotion: all traffic back to %q", r.c.active)), nil
		case PhaseVerifying:
			return r.abort(fmt.Sprintf("aborted by an operator after the switch: all traffic back to %q", r.c.active)), nil
		}
		return r.abort(fmt.Sprintf("aborted by an operator: all traffic stays on %q", r.c.active)), nil
	default:
		return sdk.Decision{}, fmt.Errorf("bluegreen: unknown command %q", r.in.Command)
	}

	switch r.st.Phase {
	case PhasePromoted, PhaseAborted:
		return r.over(), nil
	case PhaseFailed:
		return hold(fmt.Sprintf("gave up after %d/%d failed checks; %q keeps the traffic until an operator promotes or aborts",
			r.st.FailedChecks, r.c.threshold, r.c.active)), nil
	}
	if r.st.Phase == PhaseVerifying && r.preview.Weight < r.share {
		return r.toPreview("the switch goes on"), nil // max_step cut it short
	}
	if !r.preview.Ready {
		return hold(fmt.Sprintf("preview not ready (route %q)", r.c.preview)), nil
	}
	a := policykit.Analyse("preview", r.preview, r.c.minRequests, r.c.maxErrorRate, r.c.maxP99)
	r.checks = append(r.checks, a.Checks...)
	if a.Enough && a.Passed && len(r.c.metrics) > 0 {
		o := policykit.RunChecks(ctx, http.DefaultClient, r.c.metrics, policykit.Vars{Gateway: r.in.Gateway, Route: r.c.preview, Interval: r.in.Window})
		r.checks = append(r.checks, o.Checks...)
		switch {
		case o.Failures != "":
			a.Passed, a.Failures = false, "preview "+o.Failures
		case o.Hold != "":
			return hold(a.Summary + "; " + o.Hold), nil
		default:
			a.Summary += "; " + o.Summary
		}
	}
	if r.st.Phase == PhaseVerifying {
		return r.verify(a), nil
	}
	switch {
	case !a.Enough:
		return hold(a.Summary), nil
	case !a.Passed:
		r.st.Passes = 0
		r.st.FailedChecks++
		if r.st.FailedChecks >= r.c.threshold {
			r.st.Phase = PhaseFailed
			return hold(fmt.Sprintf("gave up after %d/%d failed checks: %s; %q keeps the traffic",
				r.st.FailedChecks, r.c.threshold, a.Failures, r.c.active)), nil
		}
		return hold(fmt.Sprintf("check failed (%d/%d): %s", r.st.FailedChecks, r.c.threshold, a.Failures)), nil
	}
	r.st.Passes++
	switch {
	case !r.c.autoPromote:
		return hold(fmt.Sprintf("checks passed: %s; waiting for the promote command", a.Summary)), nil
	case r.st.Passes < r.c.passes:
		return hold(fmt.Sprintf("checks passed (%d/%d): %s", r.st.Passes, r.c.passes, a.Summary)), nil
	}
	return r.promote(fmt.Sprintf("promoted after %d/%d passing checks: %s", r.st.Passes, r.c.passes, a.Summary)), nil
}

func hold(why string) sdk.Decision { return sdk.Decision{Action: sdk.Hold, Reason: why} }

// over answers a call after the rollout ended: nothing changes.
func (r *rollout) over() sdk.Decision {
	why := fmt.Sprintf("the rollout is over (%s); a changed policy section starts another", r.st.Phase)
	if r.st.Phase == PhasePromoted {
		why += fmt.Sprintf("; abort switches back to %q", r.c.active)
	}
	return hold(why)
}

// verify judges a window after the switch: enough passing ones end the
// rollout promoted, threshold failed ones switch back.
func (r *rollout) verify(a policykit.Analysis) sdk.Decision {
	switch {
	case !a.Enough:
		return hold(a.Summary + " (after the switch)")
	case !a.Passed:
		r.st.FailedChecks++
		if r.st.FailedChecks >= r.c.threshold {
			return r.abort(fmt.Sprintf("rolled back after the switch: %d/%d failed checks: %s; all traffic back to %q",
				r.st.FailedChecks, r.c.threshold, a.Failures, r.c.active))
		}
		return hold(fmt.Sprintf("check failed after the switch (%d/%d): %s", r.st.FailedChecks, r.c.threshold, a.Failures))
	}
	r.st.Verified++
	if r.st.Verified < r.c.postPromotion {
		return hold(fmt.Sprintf("checks passed after the switch (%d/%d): %s", r.st.Verified, r.c.postPromotion, a.Summary))
	}
	return r.promote(fmt.Sprintf("promoted: %d/%d windows passed after the switch: %s", r.st.Verified, r.c.postPromotion, a.Summary))
}

// toPreview switches all traffic to the preview and verifies it there
// before the promotion ends the rollout (post_promotion).
func (r *rollout) toPreview(why string) sdk.Decision {
	r.st.Phase = PhaseVerifying
	return sdk.Decision{Action: sdk.Step, Reason: why,
		Weights: map[string]int{r.c.preview: r.share, r.c.active: 0}}
}

func (r *rollout) promote(why string) sdk.Decision {
	if r.c.postPromotion > 0 && r.st.Phase != PhaseVerifying {
		return r.toPreview(why + fmt.Sprintf("; switched, verifying %d windows before the promotion", r.c.postPromotion))
	}
	r.st.Phase = PhasePromoted
	return sdk.Decision{Action: sdk.Promote, Reason: why,
		Weights: map[string]int{r.c.preview: r.share, r.c.active: 0}}
}

func (r *rollout) abort(why string) sdk.Decision {
	r.st.Phase = PhaseAborted
	return sdk.Decision{Action: sdk.Rollback, Reason: why,
		Weights: map[string]int{r.c.active: r.share, r.c.preview: 0}}
}
