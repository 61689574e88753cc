package api

import (
	"errors"
	"net/http"
	"slices"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// applyResult is what a bulk apply did to one gateway.
type applyResult struct {
	Gateway string `json:"gateway" yaml:"gateway"`
	// Result is created, updated or unchanged.
	Result   string   `json:"result" yaml:"result"`
	Revision int64    `json:"revision,omitempty" yaml:"revision,omitempty"`
	Warnings []string `json:"warnings,omitempty" yaml:"warnings,omitempty"`
}

// PUT /gateways: create or replace every gateway of the body (a list or a
// multi-document stream), all or none, in one store commit, so the engine
// puts them in service with one table swap. Gateways the body does not
// name are left alone; one equal to the stored one is unchanged (no new
// revision). It is what `turnout gateway apply -f` sends.
func (a *gatewayAPI) applyAll(w http.ResponseWriter, r *http.Request, _ params) error {
	gws, vo, err := readGateways(w, r, maxBulkBody)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	if err := a.resolveIn(st, gws...); err != nil {
		return err
	}
	given := make(map[string]bool, len(gws))
	for _, g := range gws {
		given[g.Name] = true
		if e, ok := st.entries[g.Name]; ok {
			// As PUT /gateways/{name}: an unchanged policy section keeps
			// the weights its policy set.
			if stored, err := gateway.DecodeOne(e.Doc, ""); err == nil {
				g.KeepPolicyWeights(stored)
			}
		}
	}
	cand := slices.DeleteFunc(slices.Clone(st.gws), func(g *gateway.Gateway) bool { return given[g.Name] })
	cand = append(cand, gws...)
	// Encoded after the check, which gives portless gateways their port.
	if err := a.validate(st.gws, cand); err != nil {
		return err
	}
	changes := make([]store.Change, len(gws))
	for i, g := range gws {
		doc, err := canonical(g)
		if err != nil {
			return err
		}
		changes[i] = attributed(r, store.Change{Name: g.Name, Doc: doc, Match: store.Any})
	}
	results := make([]applyResult, len(gws))
	for i, g := range gws {
		results[i] = applyResult{Gateway: g.Name, Result: "created"}
		if e, ok := st.entries[g.Name]; ok {
			results[i].Result, results[i].Revision = "updated", e.Revision
			if string(e.Doc) == string(changes[i].Doc) {
				results[i].Result = "unchanged"
			}
		}
		for _, wn := range g.Warnings {
			results[i].Warnings = append(results[i].Warnings, wn.String())
		}
	}
	if vo {
		render(w, r, http.StatusOK, results)
		return nil
	}
	es, err := a.st.Apply(r.Context(), append(changes, namedGuards(st, gws...)...))
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ce) && namedMoved(ce) != nil:
		return namedMoved(ce)
	case err != nil:
		return err
	}
	es = es[:len(gws)] // the guards' results are the artefacts'

	changed := 0
	for i, e := range es {
		results[i].Revision = e.Revision
		if results[i].Result != "unchanged" {
			changed++
		}
	}
	if changed > 0 {
		a.log.Info("gateways applied", "gateways", len(gws), "changed", changed, "author", author(r), "reason", reason(r))
	}
	render(w, r, http.StatusOK, results)
	return nil
}
