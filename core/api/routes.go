package api

import (
	"net/http"
	"slices"
	"strings"
)

// maxBody bounds a request body: a gateway file is a few KiB, and the
// decoder's work grows with the input.
const maxBody = 1 << 20

// maxBulkBody bounds the body of a bulk apply (PUT /gateways): thousands of
// gateways in one document.
const maxBulkBody = 32 << 20

// params are the parts of a matched path.
type params struct {
	name, revision, kind, command string
}

// commands are the policy commands, POST /gateways/{name}/{command}.
var commands = []string{"promote", "pause", "resume", "abort", "retry"}

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
	routeStatus
	routeCommand
	routePlugins
	routePlugin
	routeBackup
	routeCluster
	routeEvents
	routeConditions
	routeCondition
	routeStoredRoutes
	routeStoredRoute
)

var routes = []route{
	routeOpenAPI: {"/openapi.json", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).openAPI, []int{200}},
	}},
	routeGateways: {"/gateways", map[string]endpoint{
		http.MethodGet:  {(*gatewayAPI).list, []int{200, 400, 500, 503}},
		http.MethodPost: {(*gatewayAPI).create, []int{200, 201, 400, 409, 413, 415, 422, 500, 503}},
		http.MethodPut:  {(*gatewayAPI).applyAll, []int{200, 400, 409, 413, 415, 422, 500, 503}},
	}},
	routeGateway: {"/gateways/{name}", map[string]endpoint{
		http.MethodGet:    {(*gatewayAPI).get, []int{200, 404, 500, 503}},
		http.MethodPut:    {(*gatewayAPI).put, []int{200, 201, 400, 404, 409, 412, 413, 415, 422, 500, 503}},
		http.MethodPatch:  {(*gatewayAPI).patch, []int{200, 400, 404, 409, 412, 413, 415, 422, 500, 503}},
		http.MethodDelete: {(*gatewayAPI).delete, []int{204, 400, 404, 412, 500, 503}},
	}},
	routeRevisions: {"/gateways/{name}/revisions", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).revisions, []int{200, 400, 404, 500, 503}},
	}},
	routeRevision: {"/gateways/{name}/revisions/{revision}", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).revision, []int{200, 400, 404, 500, 503}},
	}},
	routeRollback: {"/gateways/{name}/rollback", map[string]endpoint{
		http.MethodPost: {(*gatewayAPI).rollback, []int{200, 201, 400, 404, 409, 412, 422, 500, 503}},
	}},
	routeStatus: {"/gateways/{name}/status", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).status, []int{200, 404, 500, 503}},
	}},
	routeCommand: {"/gateways/{name}/{command}", map[string]endpoint{
		http.MethodPost: {(*gatewayAPI).command, []int{202, 400, 404, 409, 500, 503}},
	}},
	routePlugins: {"/plugins", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).listPlugins, []int{200}},
	}},
	routePlugin: {"/plugins/{kind}/{name}", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).describePlugin, []int{200, 404, 500}},
	}},
	routeBackup: {"/store/backup", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).backup, []int{200, 500, 501}},
	}},
	routeCluster: {"/cluster", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).cluster, []int{200, 500, 501, 503}},
	}},
	routeEvents: {"/events", map[string]endpoint{
		http.MethodGet: {(*gatewayAPI).events, []int{200, 400, 501}},
	}},
	routeConditions:   namedListRoute(conditionKind),
	routeCondition:    namedRoute(conditionKind),
	routeStoredRoutes: namedListRoute(routeKind),
	routeStoredRoute:  namedRoute(routeKind),
}

// namedListRoute and namedRoute are the endpoints of a named artefact
// kind, /conditions and /conditions/{name} say.
func namedListRoute(k *namedKind) route {
	h := namedHandlers{k}
	return route{"/" + k.plural, map[string]endpoint{
		http.MethodGet:  {h.list, []int{200, 400, 500, 503}},
		http.MethodPost: {h.create, []int{200, 201, 400, 409, 413, 415, 500, 503}},
	}}
}

func namedRoute(k *namedKind) route {
	h := namedHandlers{k}
	return route{"/" + k.plural + "/{name}", map[string]endpoint{
		http.MethodGet:    {h.get, []int{200, 404, 500, 503}},
		http.MethodPut:    {h.put, []int{200, 201, 400, 404, 409, 412, 413, 415, 422, 500, 503}},
		http.MethodDelete: {h.delete, []int{204, 400, 404, 409, 412, 500, 503}},
	}}
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
	case "/plugins":
		return routePlugins, params{}, true
	case "/store/backup":
		return routeBackup, params{}, true
	case "/cluster":
		return routeCluster, params{}, true
	case "/events":
		return routeEvents, params{}, true
	case "/conditions":
		return routeConditions, params{}, true
	case "/routes":
		return routeStoredRoutes, params{}, true
	}
	if name, ok := strings.CutPrefix(rest, "/conditions/"); ok {
		return routeCondition, params{name: name}, name != ""
	}
	if name, ok := strings.CutPrefix(rest, "/routes/"); ok {
		return routeStoredRoute, params{name: name}, name != ""
	}
	if rest, ok := strings.CutPrefix(rest, "/plugins/"); ok {
		kind, name, ok := strings.Cut(rest, "/")
		return routePlugin, params{kind: kind, name: name}, ok && name != ""
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
	case n >= 2 && segs[n-1] == "status":
		return routeStatus, params{name: strings.Join(segs[:n-1], "/")}, true
	case n >= 2 && slices.Contains(commands, segs[n-1]):
		return routeCommand, params{name: strings.Join(segs[:n-1], "/"), command: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "revisions":
		return routeRevision, params{name: strings.Join(segs[:n-2], "/"), revision: segs[n-1]}, true
	}
	return routeGateway, params{name: name}, true
}

// reservedName reports whether a name would be read as a sub-resource path.
func reservedName(name string) bool {
	segs := strings.Split(name, "/")
	n := len(segs)
	return n >= 2 && (segs[n-1] == "revisions" || segs[n-1] == "rollback" || segs[n-1] == "status" || slices.Contains(commands, segs[n-1])) ||
		n >= 3 && segs[n-2] == "revisions"
}

func reservedError(name string) error {
	return errorf(http.StatusBadRequest,
		`gateway name %q is reserved: a name may not end in "revisions", "revisions/N", "rollback", "status", "promote", "pause", "resume", "abort" or "retry"`, name)
}
