package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/turnout/turnout/core/cluster"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
)

// gatewayAPI serves /api/v1/. It writes the store only; the engine follows
// the store's Watch, and is consulted through check alone.
type gatewayAPI struct {
	st      store.Store
	check   func([]*gateway.Gateway) error
	log     *slog.Logger
	plugins Plugins
	routes  func(gateway string) []engine.RouteStatus
	policy  PolicyControl
	limits  engine.Limits
	// clusterStatus answers GET /cluster (nil: 501).
	clusterStatus func(context.Context) (cluster.Status, error)
	// mu serialises writes: a change is checked against the whole set, so
	// two writes to different gateways (say, both taking port 8080) must
	// not be checked side by side. The store's Match guards each gateway
	// against writers outside this process.
	mu sync.Mutex
	// docs keeps the stored gateways decoded between writes: a write
	// decodes only what changed since the last one.
	docs engine.DocCache
	// bus serves GET /events (nil: 501); heartbeat paces its comments.
	bus       *events.Bus
	heartbeat time.Duration
	traffic   func(gateway, route string) metrics.Totals
}

// NewGatewayAPI serves the gateway REST API under /api/v1/. st holds each
// gateway's canonical JSON by name; check decides whether a full candidate
// set is acceptable (an error wrapping engine.ErrPortTaken answers 409, any
// other 400). A nil check only validates the set; a nil log discards.
func NewGatewayAPI(st store.Store, check func([]*gateway.Gateway) error, log *slog.Logger) http.Handler {
	return New(Config{Store: st, Check: check, Logger: log})
}

// Config is everything the REST API serves from. Store is required; the
// rest is optional and its endpoints answer empty (or 404) without it.
type Config struct {
	Store store.Store
	// Check decides whether a full candidate set is acceptable (see
	// NewGatewayAPI).
	Check  func([]*gateway.Gateway) error
	Logger *slog.Logger
	// Plugins lists and describes plugins (GET /plugins).
	Plugins Plugins
	// Routes says why each route of a gateway in service has its weight
	// (GET /gateways/{name}/status).
	Routes func(gateway string) []engine.RouteStatus
	// Policy reports on and commands gateways' routing policies.
	Policy PolicyControl
	// Limits refuse a write that takes a gateway over the routes, or the
	// agent over the gateways, it may have: 422 (zero: no limits).
	Limits engine.Limits
	// Cluster lists the agents sharing the store (GET /cluster).
	Cluster func(context.Context) (cluster.Status, error)
	// Events is the bus GET /events streams (nil: 501).
	Events *events.Bus
	// Heartbeat is how often an idle event stream gets a comment
	// (default 15s).
	Heartbeat time.Duration
	// Traffic reads a route's counters for its status (nil: none shown).
	Traffic func(gateway, route string) metrics.Totals
}

// New serves the REST API under /api/v1/.
func New(c Config) http.Handler {
	if c.Check == nil {
		c.Check = gateway.ValidateSet
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = defaultHeartbeat
	}
	return &gatewayAPI{st: c.Store, check: c.Check, log: c.Logger, plugins: c.Plugins, routes: c.Routes, policy: c.Policy, limits: c.Limits, clusterStatus: c.Cluster,
		bus: c.Events, heartbeat: c.Heartbeat, traffic: c.Traffic}
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
	r2, err := withReason(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	r = r2
	if err := ep.handle(a, w, r, p); err != nil {
		a.fail(w, r, err)
	}
}

// state is the store's live gateways, decoded.
type state struct {
	gws     []*gateway.Gateway
	entries map[string]store.Entry
	// conds and routes are the live named conditions and stored routes,
	// sorted by name.
	conds, routes []store.Entry
}

func (a *gatewayAPI) state(ctx context.Context) (*state, error) {
	snap, err := a.st.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	gws, err := a.docs.Decode(snap.Entries)
	if err != nil {
		return nil, err
	}
	s := &state{entries: make(map[string]store.Entry, len(snap.Entries)), gws: make([]*gateway.Gateway, len(gws)), conds: snap.Conditions, routes: snap.Routes}
	for i, e := range snap.Entries {
		// A copy: the check writes ports into the gateways it is given,
		// and the cache's are shared.
		g := *gws[i]
		g.Line = 0 // as decodeStored
		s.gws[i] = &g
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

// validate runs the limits and check on a candidate set; prev is the
// stored set the write changes.
func (a *gatewayAPI) validate(prev, cand []*gateway.Gateway) error {
	// Limits first: they cost a count, check may bind ports.
	if err := a.limits.Check(prev, cand); err != nil {
		return &httpError{status: http.StatusUnprocessableEntity, msg: err.Error()}
	}
	if err := a.check(cand); err != nil {
		return invalid(err)
	}
	return nil
}

// resolveIn gives gateways being written what the stored routes and named
// conditions their routes reference hold now (see named.go).
func (a *gatewayAPI) resolveIn(st *state, gws ...*gateway.Gateway) error {
	return resolveAll(gws, st.routes, st.conds)
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
// readDocument reads a write's gateway document and its validate_only flag,
// refusing a content type that is not JSON or YAML.
func readDocument(w http.ResponseWriter, r *http.Request) (body []byte, vo bool, err error) {
	return readDocumentUpTo(w, r, maxBody)
}

// readDocumentUpTo is readDocument with a size limit of its own.
func readDocumentUpTo(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, vo bool, err error) {
	if vo, err = validateOnly(r); err != nil {
		return nil, false, err
	}
	if err = checkDocumentType(r); err != nil {
		return nil, false, err
	}
	if body, err = readBodyUpTo(w, r, limit); err != nil {
		return nil, false, err
	}
	if mt, _ := mediaType(r); mt == typeJSON {
		// The decoder reads YAML, of which JSON is a subset; text that is
		// not JSON must not pass because YAML would take it
		// (`{"port": }` is a YAML null).
		if err := checkJSON(body); err != nil {
			return nil, false, err
		}
	}
	return body, vo, nil
}

// checkJSON refuses a body that is not well-formed JSON, naming the line
// and column of the problem.
func checkJSON(body []byte) error {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if err != nil {
			return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
		}
		return nil
	}
	// Offset counts the bytes read, the offending one included; at the
	// end of the input the position is just past it.
	n := min(max(int(se.Offset)-1, 0), len(body))
	if strings.HasPrefix(se.Error(), "unexpected end") {
		n = len(body)
	}
	line, col := 1, 1
	for _, c := range body[:n] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return errorf(http.StatusBadRequest, "line %d:%d: malformed JSON: %v", line, col, se)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyUpTo(w, r, maxBody)
}

func readBodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		what := "a gateway"
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/conditions"):
			what = "a named condition"
		case strings.HasPrefix(r.URL.Path, "/api/v1/routes"):
			what = "a stored route"
		}
		return nil, errorf(http.StatusBadRequest, "request body is empty: expected %s", what)
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

func notFound(name string) error { return errorf(http.StatusNotFound, "gateway %q not found", name) }

// GET /gateways
func (a *gatewayAPI) list(w http.ResponseWriter, r *http.Request, _ params) error {
	snap, err := a.st.Snapshot(r.Context())
	if err != nil {
		return err
	}
	gws, err := page(w, r, snap.Entries, decodeStored)
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, gws)
	return nil
}

// page decodes the page of entries the request asks for (page, per_page)
// and sets the paging headers, as Vamp did: X-Total-Count and Link.
func page[T any](w http.ResponseWriter, r *http.Request, entries []store.Entry, decode func(store.Entry) (T, error)) ([]T, error) {
	num, perPage, err := pagination(r.URL.Query())
	if err != nil {
		return nil, err
	}
	total := len(entries)
	start := total
	if num-1 <= total/perPage {
		start = min((num-1)*perPage, total)
	}
	end := min(start+perPage, total)
	out := make([]T, 0, end-start)
	for _, e := range entries[start:end] {
		v, err := decode(e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("Link", links(r.URL, num, perPage, total))
	return out, nil
}

// POST /gateways: create one gateway or several (a list or a multi-document
// stream), all or none. Existing names are refused: PUT replaces.
func (a *gatewayAPI) create(w http.ResponseWriter, r *http.Request, _ params) error {
	gws, vo, err := readGateways(w, r, maxBody)
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
	cand := slices.Clone(st.gws)
	for _, g := range gws {
		e, ok := st.entries[g.Name]
		switch {
		case ok && vo:
			// Checking a change to an existing gateway before a PUT is what
			// a pipeline does: check it as the replacement it would be.
			cand = slices.DeleteFunc(cand, func(c *gateway.Gateway) bool { return c.Name == g.Name })
		case ok:
			return errorf(http.StatusConflict, "gateway %q already exists (revision %d): use PUT to replace it", g.Name, e.Revision)
		}
		cand = append(cand, g)
	}
	// Encoded after the check, which gives portless gateways their port.
	if err := a.validate(st.gws, cand); err != nil {
		return err
	}
	changes := make([]store.Change, 0, len(gws))
	for _, g := range gws {
		doc, err := canonical(g)
		if err != nil {
			return err
		}
		changes = append(changes, attributed(r, store.Change{Name: g.Name, Doc: doc, Match: store.Absent}))
	}
	if vo {
		render(w, r, http.StatusOK, gws)
		return nil
	}
	es, err := a.st.Apply(r.Context(), append(changes, namedGuards(st, gws...)...))
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ce) && namedMoved(ce) != nil:
		return namedMoved(ce)
	case errors.As(err, &ce):
		return errorf(http.StatusConflict, "gateway %q already exists (revision %d): use PUT to replace it", ce.Name, ce.Current)
	case err != nil:
		return err
	}
	es = es[:len(gws)] // the guards' results are the artefacts'
	for _, e := range es {
		a.log.Info("gateway created", "gateway", e.Name, "revision", e.Revision, "author", e.Author, "reason", e.Reason)
	}
	if len(es) == 1 {
		w.Header().Set("Location", "/api/v1/gateways/"+es[0].Name)
		setETag(w, es[0].Revision)
	}
	render(w, r, http.StatusCreated, gws)
	return nil
}

// readGateways reads the gateways of a write to the collection (one or
// more, none with a reserved name) and its validate_only flag.
func readGateways(w http.ResponseWriter, r *http.Request, limit int64) ([]*gateway.Gateway, bool, error) {
	body, vo, err := readDocumentUpTo(w, r, limit)
	if err != nil {
		return nil, false, err
	}
	gws, err := gateway.Decode(body, "")
	if err != nil {
		return nil, false, invalid(err)
	}
	if len(gws) == 0 {
		return nil, false, errorf(http.StatusBadRequest, "request body holds no gateway")
	}
	for _, g := range gws {
		if reservedName(g.Name) {
			return nil, false, reservedError(g.Name)
		}
	}
	return gws, vo, nil
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
	body, vo, err := readDocument(w, r)
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
	// Re-applying a gateway whose policy section is unchanged keeps the
	// weights its policy set (PATCH and rollback set weights on purpose).
	if e, err := a.st.Get(r.Context(), g.Name); err == nil {
		if stored, err := gateway.DecodeOne(e.Doc, ""); err == nil {
			g.KeepPolicyWeights(stored)
		}
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
	if err := a.resolveIn(st, g); err != nil {
		return err
	}
	if err := a.validate(st.gws, st.with(g)); err != nil {
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
	e, err := a.commitOne(r.Context(), attributed(r, store.Change{Name: g.Name, Doc: doc, Match: m}), namedGuards(st, g)...)
	if err != nil {
		return err
	}
	status := okStatus
	if !exists {
		status = http.StatusCreated
	}
	if e.Revision != cur.Revision || !exists {
		a.log.Info("gateway changed", "gateway", g.Name, "revision", e.Revision, "method", r.Method, "author", e.Author, "reason", e.Reason)
	}
	setETag(w, e.Revision)
	render(w, r, status, g)
	return nil
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
		e, err := a.commitOne(r.Context(), attributed(r, store.Change{Name: p.name, Match: m}))
		if err != nil && !(errors.Is(err, store.ErrNotFound) && !pc.set) {
			return err
		}
		if err == nil {
			a.log.Info("gateway deleted", "gateway", p.name, "revision", e.Revision, "author", e.Author, "reason", e.Reason)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /openapi.json
func (a *gatewayAPI) openAPI(w http.ResponseWriter, _ *http.Request, _ params) error {
	w.Header().Set("Content-Type", typeJSON)
	w.Write(openAPIDoc)
	return nil
}
