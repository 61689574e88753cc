package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// Named artefacts: Vamp's named conditions (/api/v1/conditions) and
// stored routes (/api/v1/routes), which gateways' routes reference by name
// (ArtifactApiController in Vamp's operation module serves every artefact
// kind). A gateway is stored with what its references resolved to when it
// was written (as Vamp's ArtifactExpansion expanded them), so the engine
// never looks one up. Changing an artefact rewrites every gateway that
// references it, in the same store batch: a new revision of each, all or
// none. One set of handlers serves both kinds; a namedKind says what
// differs.

// namedKind is one kind of named artefact.
type namedKind struct {
	kind store.Kind
	// noun names one in messages ("condition"), plural in paths
	// ("conditions").
	noun, plural string
	// decode reads a document, from a client or the store.
	decode func(doc []byte) (named, error)
	// refs lists the artefacts of this kind a gateway references.
	refs func(*gateway.Gateway) []string
	// check refuses an artefact that cannot be stored as it is, given the
	// state (a stored route referencing an unknown condition); nil: none.
	check func(st *state, n named) error
	// reason is the reason of a gateway revision the change rewrote.
	reason func(old, next named) string
}

// named is a decoded artefact.
type named interface {
	json.Marshaler
	artefactName() string
}

// of is a snapshot's live artefacts of the kind.
func (k *namedKind) of(snap store.Snapshot) []store.Entry {
	if k.kind == store.KindRoute {
		return snap.Routes
	}
	return snap.Conditions
}

// entries are the state's live artefacts of the kind.
func (k *namedKind) entries(st *state) []store.Entry {
	return k.of(store.Snapshot{Conditions: st.conds, Routes: st.routes})
}

func (k *namedKind) notFound(name string) error {
	return errorf(http.StatusNotFound, "%s %q not found", k.noun, name)
}

// stored reads a stored artefact; one that fails is corrupt state, a 500.
func (k *namedKind) stored(e store.Entry) (named, error) {
	n, err := k.decode(e.Doc)
	if err != nil {
		return nil, fmt.Errorf("stored %s %q revision %d: %w", k.noun, e.Name, e.Revision, err)
	}
	return n, nil
}

// namedKindOf is the kind of a store kind, nil for a gateway or policy.
func namedKindOf(k store.Kind) *namedKind {
	for _, nk := range namedKinds {
		if nk.kind == k {
			return nk
		}
	}
	return nil
}

// resolveAll gives gateways being written the current fields of the stored
// routes and the text of the named conditions they reference, routes
// first (a stored route may reference a condition); an unknown reference
// is a 400 naming the route and the reference.
func resolveAll(gws []*gateway.Gateway, routes, conds []store.Entry) error {
	rl, err := lookupIn(routeKind, routes, func(n named) *gateway.NamedRoute { return n.(storedRoute).NamedRoute })
	if err != nil {
		return err
	}
	cl, err := lookupIn(conditionKind, conds, func(n named) string { return n.(namedCondition).Condition })
	if err != nil {
		return err
	}
	var errs []string
	for _, g := range gws {
		if err := g.ResolveRoutes(rl); err != nil {
			errs = append(errs, err.Error())
		} else if _, err := g.ResolveConditions(cl); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errorf(http.StatusBadRequest, "%s", strings.Join(errs, "\n"))
	}
	return nil
}

// lookupIn decodes a kind's stored artefacts into a lookup by name.
func lookupIn[T any](k *namedKind, es []store.Entry, val func(named) T) (func(string) (T, bool), error) {
	m := make(map[string]T, len(es))
	for _, e := range es {
		n, err := k.stored(e)
		if err != nil {
			return nil, err
		}
		m[n.artefactName()] = val(n)
	}
	return func(name string) (T, bool) { v, ok := m[name]; return v, ok }, nil
}

// namedGuards are the changes that make a gateway write fail if an
// artefact its routes reference changed (or went) after it was resolved:
// each rewrites the artefact's current document at its revision, which
// commits nothing when it holds. Within this agent a.mu already orders
// the writes; the guards order them across the agents sharing a store.
func namedGuards(st *state, gws ...*gateway.Gateway) []store.Change {
	var guards []store.Change
	for _, k := range namedKinds {
		seen := map[string]bool{}
		for _, g := range gws {
			for _, name := range k.refs(g) {
				if e, ok := findEntry(k.entries(st), name); ok && !seen[name] {
					seen[name] = true
					guards = append(guards, store.Change{Kind: k.kind, Name: name, Doc: e.Doc, Match: e.Revision})
				}
			}
		}
	}
	return guards
}

// namedMoved is the answer to a gateway write whose guard failed; nil if
// the conflict was not a guard's.
func namedMoved(ce *store.ConflictError) error {
	k := namedKindOf(ce.Kind)
	if k == nil {
		return nil
	}
	return errorf(http.StatusConflict, "%s %q changed while the gateway was written (another agent?): nothing was written; try again", k.noun, ce.Name)
}

func findEntry(es []store.Entry, name string) (store.Entry, bool) {
	i := slices.IndexFunc(es, func(e store.Entry) bool { return e.Name == name })
	if i < 0 {
		return store.Entry{}, false
	}
	return es[i], true
}

// users says what references an artefact, "" for nothing: the routes of
// gateways, and for a condition stored routes too.
func (k *namedKind) users(st *state, name string) (string, error) {
	var gws, routes []string
	for _, g := range st.gws {
		if slices.Contains(k.refs(g), name) {
			gws = append(gws, strconv.Quote(g.Name))
		}
	}
	if k.kind == store.KindCondition {
		for _, e := range st.routes {
			n, err := routeKind.stored(e)
			if err != nil {
				return "", err
			}
			if n.(storedRoute).Route.ConditionRef == name {
				routes = append(routes, strconv.Quote(e.Name))
			}
		}
	}
	var parts []string
	if len(gws) > 0 {
		parts = append(parts, "the routes of "+plural(len(gws), "gateway", "gateways")+" "+strings.Join(gws, ", "))
	}
	if len(routes) > 0 {
		parts = append(parts, plural(len(routes), "stored route", "stored routes")+" "+strings.Join(routes, ", "))
	}
	return strings.Join(parts, " and "), nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// match is precondition.match for an artefact.
func (k *namedKind) match(pc precondition, name string, cur store.Entry, exists bool, dflt int64) (int64, error) {
	switch {
	case !pc.set:
		return dflt, nil
	case !exists:
		return 0, k.notFound(name)
	case pc.any || pc.rev == cur.Revision:
		return cur.Revision, nil
	}
	return 0, &store.ConflictError{Kind: k.kind, Name: name, Expected: pc.rev, Current: cur.Revision}
}

// namedHandlers are one kind's endpoints.
type namedHandlers struct{ k *namedKind }

// GET /conditions, /routes
func (h namedHandlers) list(a *gatewayAPI, w http.ResponseWriter, r *http.Request, _ params) error {
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	out, err := page(w, r, h.k.of(snap), h.k.stored)
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, out)
	return nil
}

// GET /conditions/{name}, /routes/{name}
func (h namedHandlers) get(a *gatewayAPI, w http.ResponseWriter, r *http.Request, p params) error {
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	e, ok := findEntry(h.k.of(snap), p.name)
	if !ok {
		return h.k.notFound(p.name)
	}
	n, err := h.k.stored(e)
	if err != nil {
		return err
	}
	setETag(w, e.Revision)
	render(w, r, http.StatusOK, n)
	return nil
}

// read reads a write's document.
func (h namedHandlers) read(w http.ResponseWriter, r *http.Request) (named, []byte, bool, error) {
	body, vo, err := readDocument(w, r)
	if err != nil {
		return nil, nil, false, err
	}
	n, err := h.k.decode(body)
	if err != nil {
		return nil, nil, false, errorf(http.StatusBadRequest, "%v", err)
	}
	doc, err := n.MarshalJSON()
	return n, doc, vo, err
}

// POST /conditions, /routes: create one; an existing name is refused (PUT
// replaces).
func (h namedHandlers) create(a *gatewayAPI, w http.ResponseWriter, r *http.Request, _ params) error {
	n, doc, vo, err := h.read(w, r)
	if err != nil {
		return err
	}
	name := n.artefactName()
	exists := func(rev int64) error {
		return errorf(http.StatusConflict, "%s %q already exists (revision %d): use PUT to replace it", h.k.noun, name, rev)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	if e, ok := findEntry(h.k.entries(st), name); ok {
		return exists(e.Revision)
	}
	if h.k.check != nil {
		if err := h.k.check(st, n); err != nil {
			return err
		}
	}
	if vo {
		render(w, r, http.StatusOK, n)
		return nil
	}
	es, err := a.st.Apply(r.Context(), []store.Change{{Kind: h.k.kind, Name: name, Doc: doc, Match: store.Absent}})
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return exists(ce.Current)
	}
	if err != nil {
		return err
	}
	a.log.Info(h.k.noun+" created", h.k.noun, name, "revision", es[0].Revision)
	w.Header().Set("Location", "/api/v1/"+h.k.plural+"/"+name)
	setETag(w, es[0].Revision)
	render(w, r, http.StatusCreated, n)
	return nil
}

// namedRetries bounds the re-reads of a write whose batch lost a gateway's
// compare-and-set to another writer (a policy step, an agent sharing the
// store): each retry means another commit went through.
const namedRetries = 5

// PUT /conditions/{name}, /routes/{name}: create (201) or replace (200).
// Every gateway referencing it gets a new revision, in the artefact's own
// batch.
func (h namedHandlers) put(a *gatewayAPI, w http.ResponseWriter, r *http.Request, p params) error {
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	n, doc, vo, err := h.read(w, r)
	if err != nil {
		return err
	}
	if n.artefactName() != p.name {
		return inconsistentName(p.name, n.artefactName())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for try := 1; ; try++ {
		e, exists, rewritten, err := a.writeNamed(r.Context(), h.k, n, doc, pc, vo)
		var ce *store.ConflictError
		if errors.As(err, &ce) && ce.Kind == store.KindGateway && try < namedRetries {
			continue // a gateway changed under the batch: decide again
		}
		if errors.As(err, &ce) && ce.Kind == store.KindGateway {
			return errorf(http.StatusConflict, "%s %q: gateway %q kept changing while its routes were rewritten; try again", h.k.noun, p.name, ce.Name)
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if !exists {
			status = http.StatusCreated
		}
		if !vo {
			msg := h.k.noun + " changed"
			if !exists {
				msg = h.k.noun + " created"
			}
			a.log.Info(msg, h.k.noun, p.name, "revision", e.Revision, "gateways_rewritten", rewritten)
			setETag(w, e.Revision)
		}
		render(w, r, status, n)
		return nil
	}
}

// writeNamed decides and commits one artefact write with the gateways it
// rewrites; a.mu held. It returns the artefact's entry, whether it
// existed, and the names of the gateways rewritten.
func (a *gatewayAPI) writeNamed(ctx context.Context, k *namedKind, n named, doc []byte, pc precondition, vo bool) (store.Entry, bool, []string, error) {
	fail := func(err error) (store.Entry, bool, []string, error) { return store.Entry{}, false, nil, err }
	st, err := a.state(ctx)
	if err != nil {
		return fail(err)
	}
	name := n.artefactName()
	cur, exists := findEntry(k.entries(st), name)
	m, err := k.match(pc, name, cur, exists, store.Any)
	if err != nil {
		return fail(err)
	}
	if k.check != nil {
		if err := k.check(st, n); err != nil {
			return fail(err)
		}
	}
	var old named
	if exists {
		if old, err = k.stored(cur); err != nil {
			return fail(err)
		}
	}
	// The state the gateways resolve against: this artefact replaced.
	next := *st
	list := slices.DeleteFunc(slices.Clone(k.entries(st)), func(e store.Entry) bool { return e.Name == name })
	list = append(list, store.Entry{Kind: k.kind, Name: name, Doc: doc})
	if k.kind == store.KindRoute {
		next.routes = list
	} else {
		next.conds = list
	}
	changes := []store.Change{{Kind: k.kind, Name: name, Doc: doc, Match: m}}
	cand := slices.Clone(st.gws)
	// Copies of the gateways using it, resolved together (the stored
	// artefacts decoded once), at their places in cand.
	var users []*gateway.Gateway
	var at []int
	for i, g := range cand {
		if slices.Contains(k.refs(g), name) {
			ng := *g
			ng.Routes = slices.Clone(g.Routes)
			users, at = append(users, &ng), append(at, i)
		}
	}
	if err := resolveAll(users, next.routes, next.conds); err != nil {
		return fail(err)
	}
	var rewritten []string
	for j, ng := range users {
		gdoc, err := canonical(ng)
		if err != nil {
			return fail(err)
		}
		if bytes.Equal(gdoc, st.entries[ng.Name].Doc) {
			continue
		}
		cand[at[j]] = ng
		changes = append(changes, store.Change{Name: ng.Name, Doc: gdoc, Match: st.entries[ng.Name].Revision, Reason: k.reason(old, n)})
		rewritten = append(rewritten, ng.Name)
		// The artefacts of the other kind the gateway resolved, guarded as
		// a gateway write guards them (this one's own write is its guard).
		for _, g := range namedGuards(st, ng) {
			if g.Kind != k.kind && !slices.ContainsFunc(changes, func(c store.Change) bool { return c.Kind == g.Kind && c.Name == g.Name }) {
				changes = append(changes, g)
			}
		}
	}
	if len(rewritten) > 0 {
		if err := a.validate(st.gws, cand); err != nil {
			return fail(err)
		}
	}
	if vo {
		return cur, exists, rewritten, nil
	}
	es, err := a.st.Apply(ctx, changes)
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Kind == k.kind && ce.Current == store.Absent && ce.Expected != store.Absent {
		return fail(k.notFound(name))
	}
	if errors.As(err, &ce) && ce.Kind != k.kind && ce.Kind != store.KindGateway {
		return fail(namedMoved(ce))
	}
	if err != nil {
		return fail(err)
	}
	return es[0], exists, rewritten, nil
}

// DELETE /conditions/{name}, /routes/{name}: idempotent, 204 also when the
// artefact is absent (unless If-Match asked for it to exist); 409 while
// something references it, naming what.
func (h namedHandlers) delete(a *gatewayAPI, w http.ResponseWriter, r *http.Request, p params) error {
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
	cur, exists := findEntry(h.k.entries(st), p.name)
	m, err := h.k.match(pc, p.name, cur, exists, store.Any)
	if err != nil {
		return err
	}
	us, err := h.k.users(st, p.name)
	if err != nil {
		return err
	}
	if us != "" {
		return errorf(http.StatusConflict, "%s %q is referenced by %s: change or delete those first", h.k.noun, p.name, us)
	}
	if exists {
		es, err := a.st.Apply(r.Context(), []store.Change{{Kind: h.k.kind, Name: p.name, Match: m}})
		var ce *store.ConflictError
		switch {
		case errors.Is(err, store.ErrNotFound) && !pc.set:
			// Deleted meanwhile (another agent): what was asked for holds.
		case errors.As(err, &ce) && ce.Current == store.Absent:
			return h.k.notFound(p.name)
		case err != nil:
			return err
		default:
			a.log.Info(h.k.noun+" deleted", h.k.noun, p.name, "revision", es[0].Revision)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
