package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// Named conditions: Vamp's /api/v1/conditions (ArtifactApiController in
// Vamp's operation module serves every artefact kind, "conditions" among
// them). A route references one as `condition: {reference: NAME}`; a
// gateway is stored with the text its references resolved to when it was
// written (as Vamp's ArtifactExpansion expanded them), so the engine never
// looks a condition up. Changing a condition rewrites every gateway that
// references it, in the same store batch: a new revision of each, all or
// none.

// conditionRetries bounds the re-reads of a condition write whose batch
// lost a gateway's compare-and-set to another writer (a policy step, an
// agent sharing the store): each retry means another commit went through.
const conditionRetries = 5

func conditionNotFound(name string) error {
	return errorf(http.StatusNotFound, "condition %q not found", name)
}

// conditionLookup returns the live named conditions' texts by name.
func conditionLookup(conds []store.Entry) (func(string) (string, bool), error) {
	texts := make(map[string]string, len(conds))
	for _, e := range conds {
		c, err := decodeStoredCondition(e)
		if err != nil {
			return nil, err
		}
		texts[c.Name] = c.Condition
	}
	return func(n string) (string, bool) { s, ok := texts[n]; return s, ok }, nil
}

// decodeStoredCondition reads a stored condition; one that fails is
// corrupt state, a 500.
func decodeStoredCondition(e store.Entry) (*gateway.NamedCondition, error) {
	c, err := gateway.DecodeCondition(e.Doc, "")
	if err != nil {
		return nil, fmt.Errorf("stored condition %q revision %d: %w", e.Name, e.Revision, err)
	}
	return c, nil
}

// resolve gives the gateways being written the current text of the named
// conditions they reference; an unknown reference is a 400 naming the
// route and the reference.
func resolve(gws []*gateway.Gateway, lookup func(string) (string, bool)) error {
	var errs []string
	for _, g := range gws {
		if _, err := g.ResolveConditions(lookup); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errorf(http.StatusBadRequest, "%s", strings.Join(errs, "\n"))
	}
	return nil
}

// conditionGuards are the changes that make a gateway write fail if a
// condition its routes reference changed (or went) after the text was
// resolved: each rewrites the condition's current document at its
// revision, which commits nothing when it holds. Within this agent a.mu
// already orders the writes; the guards order them across the agents
// sharing a store.
func conditionGuards(st *state, gws ...*gateway.Gateway) []store.Change {
	var guards []store.Change
	seen := map[string]bool{}
	for _, g := range gws {
		for _, name := range g.ConditionRefs() {
			if e, ok := findEntry(st.conds, name); ok && !seen[name] {
				seen[name] = true
				guards = append(guards, store.Change{Kind: store.KindCondition, Name: name, Doc: e.Doc, Match: e.Revision})
			}
		}
	}
	return guards
}

// conditionMoved is the answer to a gateway write whose condition guard
// failed.
func conditionMoved(ce *store.ConflictError) error {
	return errorf(http.StatusConflict, "condition %q changed while the gateway was written (another agent?): nothing was written; try again", ce.Name)
}

func findEntry(es []store.Entry, name string) (store.Entry, bool) {
	i := slices.IndexFunc(es, func(e store.Entry) bool { return e.Name == name })
	if i < 0 {
		return store.Entry{}, false
	}
	return es[i], true
}

// users lists the live gateways whose routes reference the condition.
func users(gws []*gateway.Gateway, name string) []*gateway.Gateway {
	var out []*gateway.Gateway
	for _, g := range gws {
		if slices.Contains(g.ConditionRefs(), name) {
			out = append(out, g)
		}
	}
	return out
}

// conditionMatch is precondition.match for a condition.
func conditionMatch(pc precondition, name string, cur store.Entry, exists bool, dflt int64) (int64, error) {
	switch {
	case !pc.set:
		return dflt, nil
	case !exists:
		return 0, conditionNotFound(name)
	case pc.any || pc.rev == cur.Revision:
		return cur.Revision, nil
	}
	return 0, &store.ConflictError{Kind: store.KindCondition, Name: name, Expected: pc.rev, Current: cur.Revision}
}

// GET /conditions
func (a *gatewayAPI) listConditions(w http.ResponseWriter, r *http.Request, _ params) error {
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	out, err := page(w, r, snap.Conditions, decodeStoredCondition)
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, out)
	return nil
}

// GET /conditions/{name}
func (a *gatewayAPI) getCondition(w http.ResponseWriter, r *http.Request, p params) error {
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	e, ok := findEntry(snap.Conditions, p.name)
	if !ok {
		return conditionNotFound(p.name)
	}
	c, err := decodeStoredCondition(e)
	if err != nil {
		return err
	}
	setETag(w, e.Revision)
	render(w, r, http.StatusOK, c)
	return nil
}

// readCondition reads a write's named condition document.
func readCondition(w http.ResponseWriter, r *http.Request) (*gateway.NamedCondition, bool, error) {
	body, vo, err := readDocument(w, r)
	if err != nil {
		return nil, false, err
	}
	c, err := gateway.DecodeCondition(body, "")
	if err != nil {
		return nil, false, errorf(http.StatusBadRequest, "%v", err)
	}
	return c, vo, nil
}

// POST /conditions: create one named condition; an existing name is
// refused (PUT replaces).
func (a *gatewayAPI) createCondition(w http.ResponseWriter, r *http.Request, _ params) error {
	c, vo, err := readCondition(w, r)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	if e, ok := findEntry(snap.Conditions, c.Name); ok {
		return errorf(http.StatusConflict, "condition %q already exists (revision %d): use PUT to replace it", c.Name, e.Revision)
	}
	if vo {
		render(w, r, http.StatusOK, c)
		return nil
	}
	doc, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	es, err := a.st.Apply(r.Context(), []store.Change{{Kind: store.KindCondition, Name: c.Name, Doc: doc, Match: store.Absent}})
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return errorf(http.StatusConflict, "condition %q already exists (revision %d): use PUT to replace it", c.Name, ce.Current)
	}
	if err != nil {
		return err
	}
	a.log.Info("condition created", "condition", c.Name, "revision", es[0].Revision)
	w.Header().Set("Location", "/api/v1/conditions/"+c.Name)
	setETag(w, es[0].Revision)
	render(w, r, http.StatusCreated, c)
	return nil
}

// PUT /conditions/{name}: create (201) or replace (200) a named condition.
// Every gateway referencing it gets a new revision with the new text, in
// the condition's own batch.
func (a *gatewayAPI) putCondition(w http.ResponseWriter, r *http.Request, p params) error {
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	c, vo, err := readCondition(w, r)
	if err != nil {
		return err
	}
	if c.Name != p.name {
		return inconsistentName(p.name, c.Name)
	}
	doc, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for try := 1; ; try++ {
		e, exists, rewritten, err := a.writeCondition(r.Context(), c, doc, pc, vo)
		var ce *store.ConflictError
		if errors.As(err, &ce) && ce.Kind == store.KindGateway && try < conditionRetries {
			continue // a gateway changed under the batch: decide again
		}
		if errors.As(err, &ce) && ce.Kind == store.KindGateway {
			return errorf(http.StatusConflict, "condition %q: gateway %q kept changing while its routes were rewritten; try again", c.Name, ce.Name)
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if !exists {
			status = http.StatusCreated
		}
		if !vo {
			msg := "condition changed"
			if !exists {
				msg = "condition created"
			}
			a.log.Info(msg, "condition", c.Name, "revision", e.Revision, "gateways_rewritten", rewritten)
			setETag(w, e.Revision)
		}
		render(w, r, status, c)
		return nil
	}
}

// writeCondition decides and commits one condition write with the
// gateways it rewrites; a.mu held. It returns the condition's entry,
// whether it existed, and the names of the gateways rewritten.
func (a *gatewayAPI) writeCondition(ctx context.Context, c *gateway.NamedCondition, doc []byte, pc precondition, vo bool) (store.Entry, bool, []string, error) {
	st, err := a.state(ctx)
	if err != nil {
		return store.Entry{}, false, nil, err
	}
	cur, exists := findEntry(st.conds, c.Name)
	m, err := conditionMatch(pc, c.Name, cur, exists, store.Any)
	if err != nil {
		return store.Entry{}, false, nil, err
	}
	lookup, err := conditionLookup(st.conds)
	if err != nil {
		return store.Entry{}, false, nil, err
	}
	next := func(n string) (string, bool) {
		if n == c.Name {
			return c.Condition, true
		}
		return lookup(n)
	}
	old, _ := lookup(c.Name)
	changes := []store.Change{{Kind: store.KindCondition, Name: c.Name, Doc: doc, Match: m}}
	cand := slices.Clone(st.gws)
	var rewritten []string
	for i, g := range cand {
		if !slices.Contains(g.ConditionRefs(), c.Name) {
			continue
		}
		ng := *g
		ng.Routes = slices.Clone(g.Routes)
		changed, err := ng.ResolveConditions(next)
		if err != nil {
			return store.Entry{}, false, nil, invalid(err)
		}
		if !changed {
			continue
		}
		cand[i] = &ng
		gdoc, err := canonical(&ng)
		if err != nil {
			return store.Entry{}, false, nil, err
		}
		changes = append(changes, store.Change{Name: ng.Name, Doc: gdoc, Match: st.entries[ng.Name].Revision,
			Reason: fmt.Sprintf("named condition %q changed: %q -> %q", c.Name, old, c.Condition)})
		rewritten = append(rewritten, ng.Name)
	}
	if len(rewritten) > 0 {
		if err := a.validate(st.gws, cand); err != nil {
			return store.Entry{}, false, nil, err
		}
	}
	if vo {
		return cur, exists, rewritten, nil
	}
	es, err := a.st.Apply(ctx, changes)
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Kind == store.KindCondition && ce.Current == store.Absent && ce.Expected != store.Absent {
		return store.Entry{}, false, nil, conditionNotFound(c.Name)
	}
	if err != nil {
		return store.Entry{}, false, nil, err
	}
	return es[0], exists, rewritten, nil
}

// DELETE /conditions/{name}: idempotent, 204 also when the condition is
// absent (unless If-Match asked for it to exist); 409 while a gateway's
// routes reference it, naming them.
func (a *gatewayAPI) deleteCondition(w http.ResponseWriter, r *http.Request, p params) error {
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	cur, exists := findEntry(st.conds, p.name)
	m, err := conditionMatch(pc, p.name, cur, exists, store.Any)
	if err != nil {
		return err
	}
	if us := users(st.gws, p.name); len(us) > 0 {
		names := make([]string, len(us))
		for i, g := range us {
			names[i] = strconv.Quote(g.Name)
		}
		noun := "gateway"
		if len(names) > 1 {
			noun = "gateways"
		}
		return errorf(http.StatusConflict, "condition %q is referenced by the routes of %s %s: change or delete those first",
			p.name, noun, strings.Join(names, ", "))
	}
	if exists {
		es, err := a.st.Apply(r.Context(), []store.Change{{Kind: store.KindCondition, Name: p.name, Match: m}})
		var ce *store.ConflictError
		switch {
		case errors.Is(err, store.ErrNotFound) && !pc.set:
			// Deleted meanwhile (another agent): what was asked for holds.
		case errors.As(err, &ce) && ce.Current == store.Absent:
			return conditionNotFound(p.name)
		case err != nil:
			return err
		default:
			a.log.Info("condition deleted", "condition", p.name, "revision", es[0].Revision)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
