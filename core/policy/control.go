package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
		impl, err := r.waitPolicy(ctx, g.Policy.Type)
		if err != nil {
			return fmt.Errorf("gateway %q: policy: %w", g.Name, err)
		}
		routes := make([]string, len(g.Routes))
		for i, rt := range g.Routes {
			routes[i] = rt.Name
		}
		if err := impl.ValidateConfig(ctx, g.Policy.Config, routes); err != nil {
			return fmt.Errorf("gateway %q: policy: %w", g.Name, err)
		}
	}
	return errors.Join(refused...)
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

// Command hands an operator's promote, pause, resume or abort to a
// gateway's policy, which acts on it at once.
func (r *Runner) Command(ctx context.Context, name string, cmd sdk.Command) error {
	if !slices.Contains([]sdk.Command{sdk.CommandPromote, sdk.CommandPause, sdk.CommandResume, sdk.CommandAbort}, cmd) {
		return fmt.Errorf("unknown command %q", cmd)
	}
	for range 5 { // a concurrent decision may win the compare-and-set
		g, _ := r.current(ctx, name)
		if g == nil {
			return fmt.Errorf("gateway %q: %w", name, store.ErrNotFound)
		}
		if g.Policy == nil {
			return fmt.Errorf("gateway %q: %w", name, ErrNoPolicy)
		}
		st, prev, err := r.load(ctx, name)
		if err != nil {
			return err
		}
		if st.ConfigHash != configHash(g.Policy) {
			st = State{ConfigHash: configHash(g.Policy), Type: g.Policy.Type, Phase: PhaseStarting}
		}
		st.Command = cmd
		doc, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = r.o.Store.Apply(ctx, []store.Change{{Kind: store.KindPolicy, Name: name, Doc: doc, Match: prev,
			Reason: fmt.Sprintf("policy %s: %s requested by an operator", g.Policy.Type, cmd)}})
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
