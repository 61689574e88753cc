package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// maxBody bounds a request body: a gateway file is a few KiB, and the
// decoder's work grows with the input.
const maxBody = 1 << 20

// Pagination as Vamp did: page from 1, per_page 30 by default, at most 100.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// params are the parts of a matched path.
type params struct {
	name, revision string
}

type handlerFunc func(a *gatewayAPI, w http.ResponseWriter, r *http.Request, p params) error

// endpoint is one method of a route: its handler and every status it can
// answer. openapi_test checks both against openapi.json.
type endpoint struct {
	handle   handlerFunc
	statuses []int
}

// route is one path of the API, written as in openapi.json (relative to
// /api/v1). The router dispatches through this table, so the document's
// test cannot check a different list than the one served.
type route struct {
	path    string
	methods map[string]endpoint
}

// Route indexes into routes, used by matchRoute.
const (
	routeOpenAPI = iota
	routeGateways
	routeGateway
	routeRevisions
	routeRevision
	routeRollback
)

var routes = []route{
	routeOpenAPI: {"/openapi.json", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).openAPI, []int{200}},
	}},
	routeGateways: {"/gateways", map[string]endpoint{
		http.MethodGet:  {(*gatewayAPI).list, []int{200, 400, 500}},
		http.MethodPost: {(*gatewayAPI).create, []int{200, 201, 400, 409, 413, 415, 500}},
	}},
	routeGateway: {"/gateways/{name}", map[string]endpoint{
		http.MethodGet:    {(*gatewayAPI).get, []int{200, 404, 500}},
		http.MethodPut:    {(*gatewayAPI).put, []int{200, 201, 400, 404, 409, 412, 413, 415, 500}},
		http.MethodPatch:  {(*gatewayAPI).patch, []int{200, 400, 404, 409, 412, 413, 415, 500}},
		http.MethodDelete: {(*gatewayAPI).delete, []int{204, 400, 404, 412, 500}},
	}},
	routeRevisions: {"/gateways/{name}/revisions", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).revisions, []int{200, 400, 404, 500}},
	}},
	routeRevision: {"/gateways/{name}/revisions/{revision}", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).revision, []int{200, 400, 404, 500}},
	}},
	routeRollback: {"/gateways/{name}/rollback", map[string]endpoint{
		http.MethodPost: {(*gatewayAPI).rollback, []int{200, 201, 400, 404, 409, 412, 500}},
	}},
}

// allow is the Allow header of a route.
func (rt route) allow() string {
	ms := make([]string, 0, len(rt.methods))
	for m := range rt.methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// matchRoute finds the route of a (decoded) request path. Gateway names
// contain "/" (up to 4 parts), so the path is split by hand, and the
// trailing words "revisions", "revisions/N" and "rollback" are reserved for
// sub-resources: a name may not end in them (see reservedName).
func matchRoute(path string) (int, params, bool) {
	rest, ok := strings.CutPrefix(path, "/api/v1")
	if !ok {
		return 0, params{}, false
	}
	switch rest {
	case "/openapi.json":
		return routeOpenAPI, params{}, true
	case "/gateways":
		return routeGateways, params{}, true
	}
	name, ok := strings.CutPrefix(rest, "/gateways/")
	if !ok {
		return 0, params{}, false
	}
	segs := strings.Split(name, "/")
	n := len(segs)
	switch {
	case n >= 2 && segs[n-1] == "revisions":
		return routeRevisions, params{name: strings.Join(segs[:n-1], "/")}, true
	case n >= 2 && segs[n-1] == "rollback":
		return routeRollback, params{name: strings.Join(segs[:n-1], "/")}, true
	case n >= 3 && segs[n-2] == "revisions":
		return routeRevision, params{name: strings.Join(segs[:n-2], "/"), revision: segs[n-1]}, true
	}
	return routeGateway, params{name: name}, true
}

// reservedName reports whether a name would be read as a sub-resource path.
func reservedName(name string) bool {
	segs := strings.Split(name, "/")
	n := len(segs)
	return n >= 2 && (segs[n-1] == "revisions" || segs[n-1] == "rollback") ||
		n >= 3 && segs[n-2] == "revisions"
}

// gatewayAPI serves /api/v1/. It writes the store only; the engine follows
// the store's Watch, and is consulted through check alone.
type gatewayAPI struct {
	st    store.Store
	check func([]*gateway.Gateway) error
	log   *slog.Logger
	// mu serialises writes: a change is checked against the whole set, so
	// two writes to different gateways (say, both taking port 8080) must
	// not be checked side by side. The store's Match guards each gateway
	// against writers outside this process.
	mu sync.Mutex
}

// NewGatewayAPI serves the gateway REST API under /api/v1/. st holds each
// gateway's canonical JSON by name; check decides whether a full candidate
// set is acceptable (an error wrapping engine.ErrPortTaken answers 409, any
// other 400). A nil check only validates the set; a nil log discards.
func NewGatewayAPI(st store.Store, check func([]*gateway.Gateway) error, log *slog.Logger) http.Handler {
	if check == nil {
		check = gateway.ValidateSet
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &gatewayAPI{st: st, check: check, log: log}
}

func (a *gatewayAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, p, ok := matchRoute(r.URL.Path)
	if !ok {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no such path %q", r.URL.Path))
		return
	}
	rt := routes[i]
	ep, ok := rt.methods[r.Method]
	if !ok {
		w.Header().Set("Allow", rt.allow())
		writeError(w, r, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, rt.path, rt.allow()))
		return
	}
	if err := ep.handle(a, w, r, p); err != nil {
		a.fail(w, r, err)
	}
}

// state is the store's live gateways, decoded.
type state struct {
	gws     []*gateway.Gateway
	entries map[string]store.Entry
}

func (a *gatewayAPI) state(ctx context.Context) (*state, error) {
	snap, err := a.st.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	s := &state{entries: make(map[string]store.Entry, len(snap.Entries))}
	for _, e := range snap.Entries {
		g, err := decodeStored(e)
		if err != nil {
			return nil, err
		}
		s.gws = append(s.gws, g)
		s.entries[e.Name] = e
	}
	return s, nil
}

// decodeStored reads a stored document; one that fails is corrupt state,
// a 500, not the client's fault.
func decodeStored(e store.Entry) (*gateway.Gateway, error) {
	g, err := gateway.DecodeOne(e.Doc, "")
	if err != nil {
		return nil, fmt.Errorf("stored gateway %q revision %d: %w", e.Name, e.Revision, err)
	}
	// A line in a stored document means nothing to a client whose request
	// the check then reports on.
	g.Line = 0
	return g, nil
}

// with is the set with g added, or replacing the gateway of its name.
func (s *state) with(g *gateway.Gateway) []*gateway.Gateway {
	out := make([]*gateway.Gateway, 0, len(s.gws)+1)
	for _, o := range s.gws {
		if o.Name != g.Name {
			out = append(out, o)
		}
	}
	return append(out, g)
}

// validate runs check on a candidate set.
func (a *gatewayAPI) validate(cand []*gateway.Gateway) error {
	if err := a.check(cand); err != nil {
		return invalid(err)
	}
	return nil
}

// invalid is the status of a rejected document: 409 for port conflicts
// (the document is fine, the port is not free), 400 otherwise.
func invalid(err error) error {
	status := http.StatusBadRequest
	if errors.Is(err, engine.ErrPortTaken) || onlyPortConflicts(err) {
		status = http.StatusConflict
	}
	return &httpError{status: status, msg: err.Error()}
}

func onlyPortConflicts(err error) bool {
	var list gateway.ErrorList
	if !errors.As(err, &list) {
		return errors.Is(err, gateway.ErrPortInUse)
	}
	for _, fe := range list {
		if !errors.Is(fe, gateway.ErrPortInUse) {
			return false
		}
	}
	return len(list) > 0
}

func canonical(g *gateway.Gateway) ([]byte, error) { return g.MarshalJSON() }

// readBody reads a size-limited, non-empty body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, errorf(http.StatusBadRequest, "request body is empty: expected a gateway")
	}
	return body, nil
}

// validateOnly reads ?validate_only=true: check everything, store nothing.
func validateOnly(r *http.Request) (bool, error) {
	s := r.URL.Query().Get("validate_only")
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "validate_only must be true or false, got %q", s)
	}
	return v, nil
}

// precondition is a parsed If-Match: absent, "*" (must exist), or "N".
type precondition struct {
	set, any bool
	rev      int64
}

func parseIfMatch(r *http.Request) (precondition, error) {
	vs := r.Header.Values("If-Match")
	if len(vs) == 0 {
		return precondition{}, nil
	}
	s := strings.TrimSpace(strings.Join(vs, ","))
	if s == "*" {
		return precondition{set: true, any: true}, nil
	}
	// One strong tag: a revision is a single number, so a list of them
	// only hides which one the client meant.
	if q, ok := strings.CutPrefix(s, `"`); ok {
		if n, ok := strings.CutSuffix(q, `"`); ok {
			if rev, err := strconv.ParseInt(n, 10, 64); err == nil && rev > 0 {
				return precondition{set: true, rev: rev}, nil
			}
		}
	}
	return precondition{}, errorf(http.StatusBadRequest,
		`malformed If-Match %q: expected one revision tag like "3" (with the quotes) or *`, s)
}

// match checks the precondition against the current entry and returns the
// store Match that keeps it true up to the commit. Without If-Match,
// dflt is used.
func (pc precondition) match(name string, cur store.Entry, exists bool, dflt int64) (int64, error) {
	if !pc.set {
		return dflt, nil
	}
	if !exists {
		return 0, errorf(http.StatusNotFound, "gateway %q not found", name)
	}
	if pc.any || pc.rev == cur.Revision {
		return cur.Revision, nil
	}
	return 0, &store.ConflictError{Name: name, Expected: pc.rev, Current: cur.Revision}
}

// commitOne applies one change; a conflict whose gateway is gone is a 404.
func (a *gatewayAPI) commitOne(ctx context.Context, c store.Change) (store.Entry, error) {
	es, err := a.st.Apply(ctx, []store.Change{c})
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Current == store.Absent && ce.Expected != store.Absent {
		return store.Entry{}, errorf(http.StatusNotFound, "gateway %q not found", c.Name)
	}
	if err != nil {
		return store.Entry{}, err
	}
	return es[0], nil
}

func setETag(w http.ResponseWriter, rev int64) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(rev, 10)))
}

func notFound(name string) error { return errorf(http.StatusNotFound, "gateway %q not found", name) }

// GET /gateways
func (a *gatewayAPI) list(w http.ResponseWriter, r *http.Request, _ params) error {
	page, perPage, err := pagination(r.URL.Query())
	if err != nil {
		return err
	}
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	total := len(snap.Entries)
	start := total
	if page-1 <= total/perPage {
		start = min((page-1)*perPage, total)
	}
	end := min(start+perPage, total)
	gws := make([]*gateway.Gateway, 0, end-start)
	for _, e := range snap.Entries[start:end] {
		g, err := decodeStored(e)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("Link", links(r.URL, page, perPage, total))
	render(w, r, http.StatusOK, gws)
	return nil
}

func pagination(q url.Values) (page, perPage int, err error) {
	num := func(key string, dflt int) (int, error) {
		s := q.Get(key)
		if s == "" {
			return dflt, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, errorf(http.StatusBadRequest, "%s must be a whole number from 1, got %q", key, s)
		}
		return n, nil
	}
	if page, err = num("page", 1); err != nil {
		return 0, 0, err
	}
	if perPage, err = num("per_page", defaultPerPage); err != nil {
		return 0, 0, err
	}
	// Clamped rather than refused, as GitHub does: the client still gets
	// a page and the Link header tells it the real size.
	return page, min(perPage, maxPerPage), nil
}

// links is the Link header: first, prev, next and last pages, as Vamp
// (and GitHub) wrote it; other query parameters are kept.
func links(u *url.URL, page, perPage, total int) string {
	last := max(1, (total+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, u.Path, q.Encode(), rel)
	}
	ls := []string{link(1, "first")}
	if page > 1 {
		ls = append(ls, link(min(page-1, last), "prev"))
	}
	if page < last {
		ls = append(ls, link(page+1, "next"))
	}
	ls = append(ls, link(last, "last"))
	return strings.Join(ls, ", ")
}

// POST /gateways: create one gateway or several (a list or a multi-document
// stream), all or none. Existing names are refused: PUT replaces.
func (a *gatewayAPI) create(w http.ResponseWriter, r *http.Request, _ params) error {
	vo, err := validateOnly(r)
	if err != nil {
		return err
	}
	if err := checkDocumentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	gws, err := gateway.Decode(body, "")
	if err != nil {
		return invalid(err)
	}
	if len(gws) == 0 {
		return errorf(http.StatusBadRequest, "request body holds no gateway")
	}
	for _, g := range gws {
		if reservedName(g.Name) {
			return reservedError(g.Name)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	cand := slices.Clone(st.gws)
	changes := make([]store.Change, 0, len(gws))
	for _, g := range gws {
		if e, ok := st.entries[g.Name]; ok {
			return errorf(http.StatusConflict, "gateway %q already exists (revision %d): use PUT to replace it", g.Name, e.Revision)
		}
		doc, err := canonical(g)
		if err != nil {
			return err
		}
		cand = append(cand, g)
		changes = append(changes, store.Change{Name: g.Name, Doc: doc, Match: store.Absent})
	}
	if err := a.validate(cand); err != nil {
		return err
	}
	if vo {
		render(w, r, http.StatusOK, gws)
		return nil
	}
	es, err := a.st.Apply(r.Context(), changes)
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return errorf(http.StatusConflict, "gateway %q already exists (revision %d): use PUT to replace it", ce.Name, ce.Current)
	}
	if err != nil {
		return err
	}
	for _, e := range es {
		a.log.Info("gateway created", "gateway", e.Name, "revision", e.Revision)
	}
	if len(es) == 1 {
		w.Header().Set("Location", "/api/v1/gateways/"+es[0].Name)
		setETag(w, es[0].Revision)
	}
	render(w, r, http.StatusCreated, gws)
	return nil
}

func reservedError(name string) error {
	return errorf(http.StatusBadRequest,
		`gateway name %q is reserved: a name may not end in "revisions", "revisions/N" or "rollback"`, name)
}

// GET /gateways/{name}
func (a *gatewayAPI) get(w http.ResponseWriter, r *http.Request, p params) error {
	e, err := a.st.Get(r.Context(), p.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(p.name)
	}
	if err != nil {
		return err
	}
	g, err := decodeStored(e)
	if err != nil {
		return err
	}
	setETag(w, e.Revision)
	render(w, r, http.StatusOK, g)
	return nil
}

// PUT /gateways/{name}: create (201) or replace (200) the whole gateway.
func (a *gatewayAPI) put(w http.ResponseWriter, r *http.Request, p params) error {
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	vo, err := validateOnly(r)
	if err != nil {
		return err
	}
	if err := checkDocumentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	g, err := gateway.DecodeOne(body, "")
	if err != nil {
		return invalid(err)
	}
	if g.Name != p.name {
		return inconsistentName(p.name, g.Name)
	}
	if reservedName(g.Name) {
		return reservedError(g.Name)
	}
	return a.replace(w, r, g, pc, vo, http.StatusOK)
}

// Vamp's message, lowercased.
func inconsistentName(given, found string) error {
	return errorf(http.StatusBadRequest, "inconsistent name: given '%s' but found '%s'", given, found)
}

// replace writes g as its gateway's new revision after checking the
// precondition and the candidate set; shared by PUT, PATCH and rollback.
// okStatus answers a replace, 201 a creation.
func (a *gatewayAPI) replace(w http.ResponseWriter, r *http.Request, g *gateway.Gateway, pc precondition, vo bool, okStatus int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	cur, exists := st.entries[g.Name]
	m, err := pc.match(g.Name, cur, exists, store.Any)
	if err != nil {
		return err
	}
	if err := a.validate(st.with(g)); err != nil {
		return err
	}
	if vo {
		render(w, r, http.StatusOK, g)
		return nil
	}
	doc, err := canonical(g)
	if err != nil {
		return err
	}
	e, err := a.commitOne(r.Context(), store.Change{Name: g.Name, Doc: doc, Match: m})
	if err != nil {
		return err
	}
	status := okStatus
	if !exists {
		status = http.StatusCreated
	}
	if e.Revision != cur.Revision || !exists {
		a.log.Info("gateway changed", "gateway", g.Name, "revision", e.Revision, "method", r.Method)
	}
	setETag(w, e.Revision)
	render(w, r, status, g)
	return nil
}

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

// DELETE /gateways/{name}: idempotent, 204 also when the gateway is absent
// (unless If-Match asked for it to exist).
func (a *gatewayAPI) delete(w http.ResponseWriter, r *http.Request, p params) error {
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, err := a.st.Get(r.Context(), p.name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	m, err := pc.match(p.name, cur, exists, store.Any)
	if err != nil {
		return err
	}
	if exists {
		e, err := a.commitOne(r.Context(), store.Change{Name: p.name, Match: m})
		if err != nil && !(errors.Is(err, store.ErrNotFound) && !pc.set) {
			return err
		}
		if err == nil {
			a.log.Info("gateway deleted", "gateway", p.name, "revision", e.Revision)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revisionInfo is one line of a gateway's history.
type revisionInfo struct {
	Revision int64  `json:"revision" yaml:"revision"`
	Time     string `json:"time" yaml:"time"`
	Deleted  bool   `json:"deleted" yaml:"deleted"`
}

// GET /gateways/{name}/revisions[?revision=N]
func (a *gatewayAPI) revisions(w http.ResponseWriter, r *http.Request, p params) error {
	if s := r.URL.Query().Get("revision"); s != "" {
		return a.revision(w, r, params{name: p.name, revision: s})
	}
	hist, err := a.st.History(r.Context(), p.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(p.name)
	}
	if err != nil {
		return err
	}
	out := make([]revisionInfo, len(hist))
	for i, e := range hist {
		out[i] = revisionInfo{Revision: e.Revision, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), Deleted: e.Deleted}
	}
	render(w, r, http.StatusOK, out)
	return nil
}

func parseRevision(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "revision must be a whole number from 1, got %q", s)
	}
	return n, nil
}

// revisionDoc is one kept revision of a gateway, live or not.
func (a *gatewayAPI) revisionDoc(ctx context.Context, name string, rev int64) (*gateway.Gateway, store.Entry, error) {
	e, err := a.st.Revision(ctx, name, rev)
	if errors.Is(err, store.ErrNotFound) {
		if _, herr := a.st.History(ctx, name); errors.Is(herr, store.ErrNotFound) {
			return nil, e, notFound(name)
		}
		return nil, e, errorf(http.StatusNotFound, "gateway %q has no revision %d", name, rev)
	}
	if err != nil {
		return nil, e, err
	}
	if e.Deleted {
		return nil, e, errorf(http.StatusNotFound, "gateway %q revision %d is a deletion: it has no document", name, rev)
	}
	g, err := decodeStored(e)
	return g, e, err
}

// GET /gateways/{name}/revisions/{revision}
func (a *gatewayAPI) revision(w http.ResponseWriter, r *http.Request, p params) error {
	rev, err := parseRevision(p.revision)
	if err != nil {
		return err
	}
	g, _, err := a.revisionDoc(r.Context(), p.name, rev)
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, g)
	return nil
}

// POST /gateways/{name}/rollback?to=N: a new revision whose document is
// revision N's; history is never rewritten.
func (a *gatewayAPI) rollback(w http.ResponseWriter, r *http.Request, p params) error {
	to := r.URL.Query().Get("to")
	if to == "" {
		return errorf(http.StatusBadRequest, "rollback needs ?to=REVISION")
	}
	rev, err := parseRevision(to)
	if err != nil {
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
	g, _, err := a.revisionDoc(r.Context(), p.name, rev)
	if err != nil {
		return err
	}
	return a.replace(w, r, g, pc, vo, http.StatusOK)
}

// GET /openapi.json
func (a *gatewayAPI) openAPI(w http.ResponseWriter, _ *http.Request, _ params) error {
	w.Header().Set("Content-Type", typeJSON)
	w.Write(openAPIDoc)
	return nil
}
