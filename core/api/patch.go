package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// PATCH /gateways/{name}: an RFC 7396 merge patch over the gateway's JSON
// form, e.g. {"routes":{"[a:1]":{"weight":"70%"}}}; the result is checked
// as a whole document.
func (a *gatewayAPI) patch(w http.ResponseWriter, r *http.Request, p params) error {
	if err := checkMergePatchType(r); err != nil {
		return err
	}
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	vo, err := validateOnly(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return errorf(http.StatusBadRequest, "malformed merge patch: %v", err)
	}
	// yaml.Node rather than map[string]any: route order matters and Go
	// maps would lose it. JSON is YAML, so the patch parses the same.
	var patch yaml.Node
	if err := yaml.Unmarshal(body, &patch); err != nil || len(patch.Content) == 0 {
		return errorf(http.StatusBadRequest, "malformed merge patch: %v", err)
	}
	e, err := a.st.Get(r.Context(), p.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(p.name)
	}
	if err != nil {
		return err
	}
	if pc.set && !pc.any && pc.rev != e.Revision {
		return &store.ConflictError{Name: p.name, Expected: pc.rev, Current: e.Revision}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(e.Doc, &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("stored gateway %q revision %d: %v", p.name, e.Revision, err)
	}
	merged, err := yaml.Marshal(mergePatch(doc.Content[0], patch.Content[0]))
	if err != nil {
		return err
	}
	g, err := gateway.DecodeOne(merged, "")
	if err != nil {
		// Positions would point into the merged document, which the
		// client never saw; field paths say where.
		return invalid(withoutPositions(err))
	}
	g.Line = 0 // a line of the merged document, which the client never saw
	if g.Name != p.name {
		return inconsistentName(p.name, g.Name)
	}
	if err := a.refuseWeightsUnderPolicy(r.Context(), e.Doc, g); err != nil {
		return err
	}
	// The patch was made against e; without If-Match, still require e, so
	// that the merge never lands on a revision it was not computed from.
	if !pc.set {
		pc = precondition{set: true, rev: e.Revision}
	}
	return a.replace(w, r, g, pc, vo, http.StatusOK)
}

// mergePatch applies RFC 7396 to target (nil: absent), keeping key order.
func mergePatch(target, patch *yaml.Node) *yaml.Node {
	if patch.Kind != yaml.MappingNode {
		return patch
	}
	if target == nil || target.Kind != yaml.MappingNode {
		target = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	for i := 0; i+1 < len(patch.Content); i += 2 {
		k, v := patch.Content[i], patch.Content[i+1]
		at := -1
		for j := 0; j+1 < len(target.Content); j += 2 {
			if target.Content[j].Value == k.Value {
				at = j
				break
			}
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			if at >= 0 {
				target.Content = slices.Delete(target.Content, at, at+2)
			}
		case at >= 0:
			target.Content[at+1] = mergePatch(target.Content[at+1], v)
		default:
			target.Content = append(target.Content, k, mergePatch(nil, v))
		}
	}
	return target
}

func withoutPositions(err error) error {
	var list gateway.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	out := make(gateway.ErrorList, len(list))
	for i, fe := range list {
		c := *fe
		c.Line, c.Column = 0, 0
		out[i] = &c
	}
	return out
}

// refuseWeightsUnderPolicy refuses a change of weights while the gateway's
// policy drives them (a rollout going, not paused): accepted, it would be
// overwritten at the next step, or steer the rollout behind the policy's
// back. A changed policy section starts a new rollout and is not refused.
func (a *gatewayAPI) refuseWeightsUnderPolicy(ctx context.Context, storedDoc []byte, g *gateway.Gateway) error {
	if a.policy == nil || g.Policy == nil {
		return nil
	}
	stored, err := gateway.DecodeOne(storedDoc, "")
	if err != nil || stored.Policy == nil || !bytes.Equal(stored.Policy.Config, g.Policy.Config) || sameWeights(stored, g) {
		return nil
	}
	drives, phase, err := a.policy.Drives(ctx, g.Name)
	if err != nil || !drives {
		return err
	}
	return errorf(http.StatusConflict, "gateway %s: its %s policy drives the weights (rollout %s): pause it first (`turnout gateway pause %s`), "+
		"or `turnout gateway update %s --weights ... --force`, which pauses it; `turnout gateway abort %s` or `promote` ends it",
		g.Name, g.Policy.Type, phase, g.Name, g.Name, g.Name)
}

// sameWeights says whether a and b give each route the same weight.
func sameWeights(a, b *gateway.Gateway) bool {
	w := make(map[string]gateway.Weight, len(a.Routes))
	for _, r := range a.Routes {
		w[r.Name] = r.Weight
	}
	for _, r := range b.Routes {
		if v, ok := w[r.Name]; !ok || v != r.Weight {
			return false
		}
	}
	return len(a.Routes) == len(b.Routes)
}
