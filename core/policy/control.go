package policy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/plugins/sdk"
)

// Check accepts gateways whose policies a plugin can run with their
// configuration: the plugin exists, and its ValidateConfig says yes. A
// plugin that exists but is refused (pluginhost.ErrRefused) is reported
// last, joined, once every other gateway passed.
//
// A write checks the whole set it leaves, but a policy its plugin accepted
// before (the same type, section and routes under the same gateway name)
// is not asked again: a write to one gateway must not fail because another
// gateway's plugin is restarting, and it costs no call per gateway.
func (r *Runner) Check(ctx context.Context, gws []*gateway.Gateway) error {
	var refused []error
	for _, g := range gws {
		if g.Policy == nil {
			continue
		}
		if err := r.o.Plugins.CheckPolicy(g.Policy.Type); err != nil {
			err = fmt.Errorf("gateway %q: policy: %w", g.Name, err)
			if errors.Is(err, pluginhost.ErrRefused) {
				refused = append(refused, err)
				continue
			}
			return err
		}
		routes := make([]string, len(g.Routes))
		for i, rt := range g.Routes {
			routes[i] = rt.Name
		}
		key := acceptedKey(g.Policy, routes)
		r.mu.Lock()
		known := r.accepted[g.Name] == key
		r.mu.Unlock()
		if known {
			continue
		}
		impl, err := r.waitPolicy(ctx, g.Policy.Type)
		if err != nil {
			return fmt.Errorf("gateway %q: policy: %w", g.Name, err)
		}
		if err := impl.ValidateConfig(ctx, g.Policy.PluginConfig(), routes); err != nil {
			return fmt.Errorf("gateway %q: policy: %w", g.Name, err)
		}
		r.mu.Lock()
		r.accepted[g.Name] = key
		r.mu.Unlock()
	}
	return errors.Join(refused...)
}

// acceptedKey is what a policy plugin's ValidateConfig judged.
func acceptedKey(p *gateway.Policy, routes []string) string {
	return p.Type + "\x00" + string(p.PluginConfig()) + "\x00" + strings.Join(routes, "\x00")
}

// waitPolicy waits (10s at most) for a policy plugin to run: the first
// gateway naming it starts it.
func (r *Runner) waitPolicy(ctx context.Context, name string) (sdk.Policy, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		p, err := r.o.Plugins.Policy(name)
		if err != nil || p != nil {
			return p, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the %s policy plugin did not start; see `turnout plugin describe policy/%s`", name, name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CommandRetry restarts a rolled-back rollout from its first step. It is
// Turnout's own: the policy only sees a new rollout start.
const CommandRetry sdk.Command = "retry"

// ErrRefused is a command that would change nothing, with why (a
// *RefusedError): the rollout ended, or a retry of one not rolled back.
var ErrRefused = errors.New("the command would change nothing")

// RefusedError says why a command was refused; errors.Is(err, ErrRefused).
type RefusedError struct{ msg string }

func (e *RefusedError) Error() string        { return e.msg }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// answerWait bounds how long Command waits for the policy's answer to a
// command after the rollout ended (a decision is quick: the loop is idle).
const answerWait = 5 * time.Second

// Command hands an operator's promote, pause, resume or abort to a
// gateway's policy, which acts on it at once; or retries a rolled-back
// rollout (CommandRetry). After the rollout ended, pause and resume are
// refused, and promote and abort wait for the policy's answer: one it
// declines (it holds) is refused with an *RefusedError, so that the
// operator is not told "requested" for a command that did nothing.
func (r *Runner) Command(ctx context.Context, name string, cmd sdk.Command) error {
	if cmd == CommandRetry {
		return r.retry(ctx, name)
	}
	if !slices.Contains([]sdk.Command{sdk.CommandPromote, sdk.CommandPause, sdk.CommandResume, sdk.CommandAbort}, cmd) {
		return fmt.Errorf("unknown command %q", cmd)
	}
	for range 5 { // a concurrent decision may win the compare-and-set
		g, st, prev, err := r.rollout(ctx, name)
		if err != nil {
			return err
		}
		ended := st.Done
		if ended && (cmd == sdk.CommandPause || cmd == sdk.CommandResume) {
			return refusedAfterEnd(name, st, cmd)
		}
		op := operatorOf(ctx)
		st.Command, st.Declined = cmd, nil
		st.CommandBy, st.CommandWhy = op.author, op.reason
		doc, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = r.o.Store.Apply(ctx, []store.Change{{Kind: store.KindPolicy, Name: name, Doc: doc, Match: prev,
			Reason: op.note(fmt.Sprintf("policy %s: %s requested by an operator", g.Policy.Type, cmd)), Author: op.author}})
		if err == nil {
			r.kick(name)
			if ended {
				return r.awaitAnswer(ctx, name, cmd)
			}
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("gateway %q: the policy state kept changing; try again", name)
}

// awaitAnswer waits for the policy to take a command given after the
// rollout ended and refuses it if the policy declined it. Without an
// answer in answerWait (a plugin down), the command stays taken.
func (r *Runner) awaitAnswer(ctx context.Context, name string, cmd sdk.Command) error {
	ctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	for {
		if st, _, err := r.load(ctx, name); err == nil && st.Command == sdk.CommandNone {
			if st.Declined != nil && st.Declined.Command == cmd {
				return refusedAfterEnd(name, st, cmd)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// promoted says whether an ended rollout ended with a promotion (states
// written before Ended was kept say it by their phase).
func promoted(st State) bool {
	return st.Ended == sdk.Promote || st.Ended == "" && st.Phase == PhasePromoted
}

// refusedAfterEnd is the refusal of a command that an ended rollout has
// nothing to do for, naming what the operator can do instead.
func refusedAfterEnd(name string, st State, cmd sdk.Command) error {
	at := ""
	if st.EndedRevision > 0 {
		at = fmt.Sprintf(" at revision %d", st.EndedRevision)
	}
	if promoted(st) {
		msg := fmt.Sprintf("nothing to %s: the rollout of gateway %s was promoted%s", cmd, name, at)
		if cmd == sdk.CommandAbort {
			if st.EndedRevision > 1 {
				msg += fmt.Sprintf("; use `turnout gateway rollback %s --to %d` or `turnout gateway update %s --weights`", name, st.EndedRevision-1, name)
			} else {
				msg += fmt.Sprintf("; use `turnout gateway update %s --weights`", name)
			}
		}
		return &RefusedError{msg}
	}
	how := "rolled back"
	if st.Phase != "" && st.Phase != PhaseRolledBack {
		how += " (" + st.Phase + ")"
	}
	return &RefusedError{fmt.Sprintf("nothing to %s: the rollout of gateway %s was %s%s; `turnout gateway retry %s` starts it again",
		cmd, name, how, at, name)}
}

// rollout is what an operator's command acts on: the gateway, its
// policy's persisted state (fresh when the policy section changed since)
// and that state's revision, for the compare-and-set.
func (r *Runner) rollout(ctx context.Context, name string) (*gateway.Gateway, State, int64, error) {
	g, _ := r.current(ctx, name)
	if g == nil {
		return nil, State{}, 0, fmt.Errorf("gateway %q: %w", name, store.ErrNotFound)
	}
	if g.Policy == nil {
		return nil, State{}, 0, fmt.Errorf("gateway %q: %w", name, ErrNoPolicy)
	}
	st, prev, err := r.load(ctx, name)
	if err != nil {
		return nil, State{}, 0, err
	}
	if st.ConfigHash != configHash(g.Policy) {
		st = State{ConfigHash: configHash(g.Policy), Type: g.Policy.Type, Phase: PhaseStarting}
	}
	return g, st, prev, nil
}

// retry starts a rolled-back rollout again from the first step: a fresh
// state, as if its policy section had just been applied, and a reason in
// the history. A rollout still going, or promoted, is refused.
func (r *Runner) retry(ctx context.Context, name string) error {
	for range 5 { // a concurrent decision may win the compare-and-set
		g, st, prev, err := r.rollout(ctx, name)
		if err != nil {
			return err
		}
		switch {
		case st.Done && promoted(st):
			at := ""
			if st.EndedRevision > 0 {
				at = fmt.Sprintf(" at revision %d", st.EndedRevision)
			}
			return &RefusedError{fmt.Sprintf("nothing to retry: the rollout of gateway %s was promoted%s; a changed policy section starts another", name, at)}
		case !st.Done && (!Terminal(st.Phase) || st.Phase == PhasePromoted):
			// Terminal but not done: a plugin that gave up without
			// rolling back (bluegreen's failed) can be retried.
			return &RefusedError{fmt.Sprintf("nothing to retry: the rollout of gateway %s is still going (%s); `turnout gateway abort %s` rolls it back", name, st.Phase, name)}
		}
		n := st.Retries + 1
		fresh := State{ConfigHash: st.ConfigHash, Type: g.Policy.Type, Phase: PhaseStarting, Retries: n,
			RetryNote: fmt.Sprintf("retry %d by an operator after %s", n, st.Phase)}
		doc, err := json.Marshal(fresh)
		if err != nil {
			return err
		}
		op := operatorOf(ctx)
		reason := op.note(fmt.Sprintf("policy %s: retry %d requested by an operator: the rollout starts again from the first step (it was %s)", g.Policy.Type, n, st.Phase))
		var changes []store.Change
		// The conditions the rollback turned off capture requests again,
		// as when the rollout first started.
		if cur, grev := r.current(ctx, name); cur != nil && cur.Policy != nil && configHash(cur.Policy) == st.ConfigHash {
			if changed, note := restore(cur, st); changed {
				gdoc, err := cur.MarshalJSON()
				if err != nil {
					return err
				}
				changes = append(changes, store.Change{Name: name, Doc: gdoc, Match: grev, Reason: reason + "; " + note, Author: op.author})
			}
		}
		changes = append(changes, store.Change{Kind: store.KindPolicy, Name: name, Doc: doc, Match: prev, Reason: reason, Author: op.author})
		_, err = r.o.Store.Apply(ctx, changes)
		if err == nil {
			r.kick(name)
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("gateway %q: the policy state kept changing; try again", name)
}

// Status is a gateway's policy state (false if the gateway has no policy).
func (r *Runner) Status(ctx context.Context, name string) (any, bool, error) {
	g, _ := r.current(ctx, name)
	if g == nil || g.Policy == nil {
		return nil, false, nil
	}
	st, _, err := r.load(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if st.ConfigHash != configHash(g.Policy) {
		st = State{ConfigHash: configHash(g.Policy), Type: g.Policy.Type, Phase: PhaseStarting}
	}
	return Status{State: st, Interval: g.Policy.Interval.String()}, true, nil
}

// Status is what GET /gateways/{name}/status shows of the policy.
type Status struct {
	State
	Interval string `json:"interval"`
}

// Drives says whether a gateway's policy owns its weights now: a rollout
// going and not paused. Then a manual weight change would be overwritten
// at the next step, or would steer the rollout from under the policy, so
// the API refuses it. phase is the rollout's phase.
func (r *Runner) Drives(ctx context.Context, name string) (drives bool, phase string, err error) {
	g, _ := r.current(ctx, name)
	if g == nil || g.Policy == nil {
		return false, "", nil
	}
	st, _, err := r.load(ctx, name)
	if err != nil {
		return false, "", err
	}
	if st.ConfigHash != configHash(g.Policy) {
		return true, PhaseStarting, nil
	}
	// A pause requested is taken before any further step.
	paused := st.Paused || st.Command == sdk.CommandPause
	return !st.Done && !paused && !Terminal(st.Phase), st.Phase, nil
}

// operator is who gave a command and why, carried by its context.
type operator struct{ author, reason string }

type operatorKey struct{}

// WithOperator marks ctx as an operator's command: the revisions it makes
// carry the author and, after the command's own words, the reason.
func WithOperator(ctx context.Context, author, reason string) context.Context {
	return context.WithValue(ctx, operatorKey{}, operator{author, reason})
}

func operatorOf(ctx context.Context) operator {
	op, _ := ctx.Value(operatorKey{}).(operator)
	return op
}

// byNote says who gave a command and why, for the decision's revision.
func byNote(cmd sdk.Command, by, why string) string {
	s := fmt.Sprintf("%s by %s", cmd, cmp.Or(by, "an operator"))
	if why != "" {
		s += ": " + why
	}
	return s
}

// note is what a revision says: the command's words, then the reason.
func (op operator) note(what string) string {
	if op.reason == "" {
		return what
	}
	return what + ": " + op.reason
}
