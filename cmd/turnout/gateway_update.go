package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/gateway"
)

type updateFlags struct {
	weights   string
	route     string
	condition string
	strength  string
	force     bool
}

func newGatewayUpdateCommand(o *gatewayOptions) *cobra.Command {
	var f updateFlags
	cmd := &cobra.Command{
		Use:   "update NAME (--weights R@W,... | --route R [--condition C] [--strength S])",
		Short: "Change a gateway's weights, or one route's condition",
		Long: `Change a gateway's route weights, or one route's condition and its
strength, as Vamp's update-gateway did:

  turnout gateway update simpleservice --weights 1.0.0@90%,1.1.0@10%
  turnout gateway update simpleservice --route 1.1.0 --condition "user-agent == Firefox" --strength 100%
  turnout gateway update simpleservice --route 1.1.0 --condition null

A route is named by its key or any part of it that only one route has;
ROUTE=WEIGHT works as well as ROUTE@WEIGHT. Routes not named keep their
weight; the weights must still total 100%. Weights and a condition cannot be
changed in one call. While a policy drives the gateway's weights (a rollout
going, not paused), --weights is refused: pause the policy first, or give
--force, which pauses it and then sets the weights. The gateway is read and written back with If-Match, so a
change made by someone else in between is refused rather than overwritten.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			edit, err := f.edit(fl.Changed("weights"), fl.Changed("route"), fl.Changed("condition"), fl.Changed("strength"))
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if fl.Changed("weights") {
				return updateWeights(cmd.Context(), c, o, cmd, args[0], edit, f.force)
			}
			if f.force {
				return usageErrorf("--force goes with --weights only")
			}
			return update(cmd.Context(), c, o, cmd, args[0], edit)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.weights, "weights", "", "new weights, ROUTE@WEIGHT or ROUTE=WEIGHT, comma-separated (e.g. 1.0.0@90%,1.1.0@10%)")
	fl.StringVar(&f.route, "route", "", "the route whose condition changes")
	fl.StringVar(&f.condition, "condition", "", `the route's new condition, or null to clear it`)
	fl.StringVar(&f.strength, "strength", "", "share of matching requests the route takes (e.g. 100%)")
	fl.BoolVar(&f.force, "force", false, "with --weights: pause the gateway's policy if it drives the weights, then set them")
	return cmd
}

// edit checks the flags' combination and syntax (no server needed) and
// returns the change to make to the gateway.
func (f *updateFlags) edit(weights, route, cond, strength bool) (func(*gateway.Gateway) error, error) {
	switch {
	case weights && (route || cond || strength):
		// Vamp refused this too: one change at a time reads clearly in
		// the history and rolls back cleanly.
		return nil, usageErrorf("--weights cannot be combined with --route, --condition or --strength: change weights and a condition in separate calls")
	case weights:
		specs, err := parseWeights(f.weights)
		if err != nil {
			return nil, err
		}
		return func(g *gateway.Gateway) error { return setWeights(g, specs) }, nil
	case !route:
		return nil, usageErrorf("give --weights, or --route with --condition and/or --strength")
	case !cond && !strength:
		return nil, usageErrorf("--route %s: give --condition and/or --strength", f.route)
	}
	clear := cond && f.condition == "null"
	if cond && strings.TrimSpace(f.condition) == "" {
		return nil, usageErrorf("--condition is empty: give a condition, or null to clear it")
	}
	if clear && strength {
		return nil, usageErrorf("--strength has no meaning with --condition null")
	}
	var s gateway.Weight
	if strength {
		var err error
		if s, err = gateway.ParseWeight(f.strength); err != nil {
			return nil, usageErrorf("--strength: %v", strings.Replace(err.Error(), "weight must", "strength must", 1))
		}
	}
	return func(g *gateway.Gateway) error {
		i, err := findRoute(g, f.route)
		if err != nil {
			return err
		}
		r := &g.Routes[i]
		switch {
		case clear:
			r.Condition, r.Match, r.ConditionStrength, r.ConditionRef = "", nil, 0, ""
			return nil
		case cond:
			if r.Condition == "" {
				// A new condition takes all matching requests unless told
				// otherwise, as the decoder's default.
				r.ConditionStrength = gateway.Full
			}
			// Text of its own replaces a reference to a named condition.
			r.Condition, r.Match, r.ConditionRef = f.condition, nil, ""
		case r.Condition == "":
			return usageErrorf("route %s has no condition: give --condition with --strength", r.Name)
		}
		if strength {
			r.ConditionStrength = s
		}
		return nil
	}, nil
}

// weightSpec is one ROUTE@WEIGHT of --weights.
type weightSpec struct {
	route  string
	weight gateway.Weight
}

// parseWeights reads --weights: Vamp's r1@70%,r2@30%, or r1=70%,r2=30%.
func parseWeights(s string) ([]weightSpec, error) {
	var specs []weightSpec
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		// The last separator: a percent never holds one, a route key might.
		i := strings.LastIndexAny(item, "@=")
		if i <= 0 {
			return nil, usageErrorf("--weights %q: want ROUTE@WEIGHT or ROUTE=WEIGHT, comma-separated (e.g. 1.0.0@90%%,1.1.0@10%%)", item)
		}
		w, err := gateway.ParseWeight(item[i+1:])
		if err != nil {
			return nil, usageErrorf("--weights %q: %v", item, err)
		}
		specs = append(specs, weightSpec{route: strings.TrimSpace(item[:i]), weight: w})
	}
	return specs, nil
}

// setWeights sets the named routes' weights; the others keep theirs and
// the server checks the total.
func setWeights(g *gateway.Gateway, specs []weightSpec) error {
	seen := map[int]string{}
	for _, s := range specs {
		i, err := findRoute(g, s.route)
		if err != nil {
			return err
		}
		if prev, ok := seen[i]; ok {
			return usageErrorf("--weights names route %s twice (as %q and %q)", g.Routes[i].Name, prev, s.route)
		}
		seen[i] = s.route
		g.Routes[i].Weight = s.weight
	}
	return nil
}

// findRoute finds a route by its key or by a part of it that no other
// route's key contains, so that "1.0.0" names
// [simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000].
func findRoute(g *gateway.Gateway, name string) (int, error) {
	var matches []int
	for i, r := range g.Routes {
		if r.Name == name {
			return i, nil
		}
		if name != "" && strings.Contains(r.Name, name) {
			matches = append(matches, i)
		}
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	list := make([]string, len(g.Routes))
	for i, r := range g.Routes {
		list[i] = "\n  " + r.Name
	}
	if len(matches) == 0 {
		return 0, usageErrorf("gateway %s has no route %q; its routes are:%s", g.Name, name, strings.Join(list, ""))
	}
	amb := make([]string, len(matches))
	for i, m := range matches {
		amb[i] = "\n  " + g.Routes[m].Name
	}
	return 0, usageErrorf("route %q of gateway %s is ambiguous: it matches%s", name, g.Name, strings.Join(amb, ""))
}

// readAndEdit reads the gateway with its revision and edits it.
func readAndEdit(ctx context.Context, c *client, name string, edit func(*gateway.Gateway) error) (*response, *gateway.Gateway, error) {
	cur, err := c.do(ctx, request{method: "GET", path: gatewayPath(name)})
	if err != nil {
		return nil, nil, err
	}
	g, err := gateway.DecodeOne(cur.body, "")
	if err != nil {
		return nil, nil, fmt.Errorf("server's gateway: %w", err)
	}
	if err := edit(g); err != nil {
		return nil, nil, err
	}
	return cur, g, nil
}

// update reads the gateway with its revision, edits it and writes it back
// only if nobody changed it in between (If-Match).
func update(ctx context.Context, c *client, o *gatewayOptions, cmd *cobra.Command, name string, edit func(*gateway.Gateway) error) error {
	cur, g, err := readAndEdit(ctx, c, name, edit)
	if err != nil {
		return err
	}
	doc, err := g.MarshalJSON()
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, request{method: "PUT", path: gatewayPath(name), body: doc,
		contentType: mediaJSON, ifMatch: cur.header.Get("ETag")})
	if statusOf(err) == 412 {
		return &exitError{code: exitRefused, err: fmt.Errorf("gateway %s was changed by someone else since revision %d was read: retry", name, cur.revision())}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		// The body was written here, not by the user: a line and column in
		// it would point nowhere they can look.
		ae.message = bodyPosition.ReplaceAllString(ae.message, "$1")
	}
	if err != nil {
		return err
	}
	return printGatewayResponse(cmd.OutOrStdout(), o.output, resp)
}

// updateWeights sets weights with a merge patch, which the server refuses
// (409) while a policy drives the weights; with force, the policy is paused
// first, and the patch made again.
func updateWeights(ctx context.Context, c *client, o *gatewayOptions, cmd *cobra.Command, name string, edit func(*gateway.Gateway) error, force bool) error {
	cur, g, err := readAndEdit(ctx, c, name, edit)
	if err != nil {
		return err
	}
	routes := make(map[string]any, len(g.Routes))
	for _, r := range g.Routes {
		routes[r.Name] = map[string]string{"weight": r.Weight.String()}
	}
	patch, err := json.Marshal(map[string]any{"routes": routes})
	if err != nil {
		return err
	}
	send := func() (*response, error) {
		return c.do(ctx, request{method: "PATCH", path: gatewayPath(name), body: patch,
			contentType: "application/merge-patch+json", ifMatch: cur.header.Get("ETag")})
	}
	resp, err := send()
	if force && statusOf(err) == 409 && g.Policy != nil {
		if _, perr := c.do(ctx, request{method: "POST", path: gatewayPath(name, "pause")}); perr != nil {
			return fmt.Errorf("--force: pause the policy: %w", perr)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: policy %s paused (--force); `turnout gateway resume %s` hands the weights back to it\n", name, g.Policy.Type, name)
		resp, err = send()
	}
	if statusOf(err) == 412 {
		return &exitError{code: exitRefused, err: fmt.Errorf("gateway %s was changed by someone else since revision %d was read: retry", name, cur.revision())}
	}
	if err != nil {
		return err
	}
	return printGatewayResponse(cmd.OutOrStdout(), o.output, resp)
}

// bodyPosition is the "line N:M: " the server puts before a body's errors.
var bodyPosition = regexp.MustCompile(`(^|\n)line \d+:\d+: `)
