// Package fakeconsul is a fake Consul agent for tests: the HTTP API's
// /v1/health/service/:service and /v1/catalog/service/:service on
// 127.0.0.1, with blocking queries, ACL tokens, datacenters and scripted
// changes. It is used only by tests.
//
// It exists because no real Consul can run here: the Consul server's Go
// modules are refused by the module proxy and Debian ships no consul
// package, so tests of the consul backend run against this fake instead.
//
// What it keeps of Consul (from Consul's HTTP API documentation):
//
//   - the JSON shapes of both endpoints (Node/Service/Checks entries for
//     health, flat ServiceX fields for the catalog);
//   - X-Consul-Index, X-Consul-KnownLeader and X-Consul-LastContact on
//     every answer, and an index that never goes below 1;
//   - blocking: with ?index=N the answer waits until the service's index
//     passes N or the wait expires ("10s", "5m", Go durations; default 5m,
//     at most 10m, plus up to wait/16 of jitter, as Consul adds);
//   - ?tag= (repeatable, all must match, case-insensitive), ?dc= (an
//     unknown one is a 500 "No path to datacenter"), ?passing (drops
//     instances with any check not passing; a bad value is a 400), ?near=
//     (sorts by distance to a node; "_agent" is the agent's own node);
//   - ACLs: when a token is configured, a request with another token is a
//     403 "Permission denied", one with no token is the anonymous token,
//     whose results are filtered to nothing with
//     X-Consul-Results-Filtered-By-ACLs: true.
//
// Scripted changes (Register, SetCheck, Deregister, Stop and Start, ...)
// are what a test drives; the request log and counters are what it reads.
package fakeconsul

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names for Requests and Request.Endpoint.
const (
	HealthService  = "health/service"
	CatalogService = "catalog/service"
)

// Check statuses, as Consul spells them.
const (
	Passing     = "passing"
	Warning     = "warning"
	Critical    = "critical"
	Maintenance = "maintenance"
)

// SerfHealth is the node-level check every Consul node has.
const SerfHealth = "serfHealth"

// Options configure a fake agent.
type Options struct {
	// Datacenter is the agent's own datacenter ("dc1" when empty).
	Datacenter string
	// Datacenters are the other datacenters ?dc= may name.
	Datacenters []string
	// Node is the agent's own node name ("agent" when empty), what
	// ?near=_agent sorts by.
	Node string
	// Token, when set, turns ACLs on: only this token may read.
	Token string
	// TLS, when set, makes the agent serve HTTPS with it.
	TLS *tls.Config
}

// Instance is one registered service instance.
type Instance struct {
	// ID is the service ID, unique on its node (Service when empty).
	ID      string
	Service string
	// Node is the node's name ("node1" when empty); NodeAddress its
	// address ("127.0.0.1" when empty, and kept from the first instance
	// registered on the node).
	Node        string
	NodeAddress string
	// Datacenter is the instance's datacenter (the agent's when empty).
	Datacenter string
	// Address is the service address; empty means "use the node's".
	Address string
	Port    int
	Tags    []string
	Meta    map[string]string
	// Checks are the service's own checks; nil means one passing check
	// "service:ID".
	Checks []Check
}

// Check is one health check of a service instance.
type Check struct {
	ID     string
	Name   string
	Status string
	Output string
}

// Request is one request the agent received.
type Request struct {
	Endpoint string // HealthService or CatalogService
	Service  string
	// Index is the ?index= asked for (0 when absent); Wait the ?wait= as
	// sent.
	Index uint64
	Wait  string
	// MaxWait is how long the agent would block it: Wait parsed, 5m when
	// absent, at most 10m (0 when Wait doesn't parse).
	MaxWait time.Duration
	Query   map[string][]string
	Token   string
	At      time.Time
}

type node struct {
	name, address, id string
	coord             float64
	hasCoord          bool
	serf              string
	createIndex       uint64
	modifyIndex       uint64
}

type instance struct {
	Instance
	createIndex, modifyIndex uint64
}

// Server is a fake Consul agent.
type Server struct {
	opts Options

	mu        sync.Mutex
	index     uint64
	changed   chan struct{} // closed and replaced on every write
	nodes     map[string]*node
	instances map[string]*instance // by dc/node/id
	svcIndex  map[string]uint64    // by dc/service: last write touching it
	zeroIndex bool
	failCode  int
	failBody  string
	log       []Request
	counts    map[string]int
	blocked   int

	addr    string
	ln      net.Listener
	srv     *http.Server
	stopped chan struct{}
	done    chan struct{}
}

// New starts a fake agent on a free port of 127.0.0.1; it is closed when
// the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer makes a fake agent without starting it.
func NewServer(opts Options) *Server {
	if opts.Datacenter == "" {
		opts.Datacenter = "dc1"
	}
	if opts.Node == "" {
		opts.Node = "agent"
	}
	return &Server{
		opts:      opts,
		index:     10, // a fresh cluster's index is already past 1
		changed:   make(chan struct{}),
		nodes:     map[string]*node{},
		instances: map[string]*instance{},
		svcIndex:  map[string]uint64{},
		counts:    map[string]int{},
		addr:      "127.0.0.1:0",
	}
}

// Start starts serving: the first time on a free port, afterwards on the
// port it had (an agent restarting in place).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("fakeconsul: already started")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("fakeconsul: listen: %w", err)
	}
	s.addr = ln.Addr().String()
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.ln = ln
	s.stopped = make(chan struct{})
	s.done = make(chan struct{})
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake failures are what TLS tests provoke: not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return nil
}

// Stop makes the agent go away: the port is closed and every connection,
// blocked queries included, is cut.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.ln == nil {
		s.mu.Unlock()
		return
	}
	srv, done := s.srv, s.done
	close(s.stopped)
	s.ln, s.srv = nil, nil
	s.mu.Unlock()
	srv.Close()
	<-done
}

// Close stops the agent for good.
func (s *Server) Close() { s.Stop() }

// Addr is the agent's "127.0.0.1:port".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the agent's base URL.
func (s *Server) URL() string {
	scheme := "http"
	if s.opts.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Register registers (or replaces) a service instance.
func (s *Server) Register(in Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.ID == "" {
		in.ID = in.Service
	}
	if in.Node == "" {
		in.Node = "node1"
	}
	if in.Datacenter == "" {
		in.Datacenter = s.opts.Datacenter
	}
	if in.Checks == nil {
		in.Checks = []Check{{ID: "service:" + in.ID, Status: Passing}}
	}
	in.Tags = append([]string(nil), in.Tags...)
	in.Checks = append([]Check(nil), in.Checks...)
	idx := s.bump()
	nk := in.Datacenter + "/" + in.Node
	n := s.nodes[nk]
	if n == nil {
		addr := in.NodeAddress
		if addr == "" {
			addr = "127.0.0.1"
		}
		n = &node{name: in.Node, address: addr, id: fakeUUID(nk), serf: Passing, createIndex: idx, modifyIndex: idx}
		s.nodes[nk] = n
	}
	in.NodeAddress = n.address
	k := nk + "/" + in.ID
	old := s.instances[k]
	inst := &instance{Instance: in, createIndex: idx, modifyIndex: idx}
	if old != nil {
		inst.createIndex = old.createIndex
		s.touch(old.Datacenter, old.Service, idx)
	}
	s.instances[k] = inst
	s.touch(in.Datacenter, in.Service, idx)
}

// Deregister removes the instance with this service ID from a node of the
// agent's datacenter ("node1" when node is empty).
func (s *Server) Deregister(nodeName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.instKey(nodeName, id)
	in := s.instances[k]
	if in == nil {
		return
	}
	delete(s.instances, k)
	s.touch(in.Datacenter, in.Service, s.bump())
}

// SetCheck sets the status of one of an instance's checks (its only one
// when checkID is empty). It panics when there is no such check, a
// mistake in the test.
func (s *Server) SetCheck(nodeName, id, checkID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instances[s.instKey(nodeName, id)]
	if in == nil {
		panic(fmt.Sprintf("fakeconsul: no instance %s on node %q", id, nodeName))
	}
	for i := range in.Checks {
		if checkID == "" || in.Checks[i].ID == checkID {
			in.Checks[i].Status = status
			in.Checks[i].Output = "set by test to " + status
			idx := s.bump()
			in.modifyIndex = idx
			s.touch(in.Datacenter, in.Service, idx)
			return
		}
	}
	panic(fmt.Sprintf("fakeconsul: no check %q on %s", checkID, id))
}

// SetNodeHealth sets a node's serfHealth check, which every instance on
// the node carries.
func (s *Server) SetNodeHealth(nodeName, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[s.opts.Datacenter+"/"+nodeName]
	if n == nil {
		panic(fmt.Sprintf("fakeconsul: no node %q", nodeName))
	}
	idx := s.bump()
	n.serf, n.modifyIndex = status, idx
	for _, in := range s.instances {
		if in.Datacenter == s.opts.Datacenter && in.Node == nodeName {
			s.touch(in.Datacenter, in.Service, idx)
		}
	}
}

// SetCoordinate places a node of the agent's datacenter on a line, which
// is how far apart ?near= sorts by. The agent's own node may be placed
// without registering anything on it.
func (s *Server) SetCoordinate(nodeName string, x float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nk := s.opts.Datacenter + "/" + nodeName
	n := s.nodes[nk]
	if n == nil {
		n = &node{name: nodeName, address: "127.0.0.1", id: fakeUUID(nk), serf: Passing}
		s.nodes[nk] = n
	}
	n.coord, n.hasCoord = x, true
}

// Touch is an idempotent write to a service: its index moves, its
// instances don't (Consul wakes blocking queries for those too).
func (s *Server) Touch(service string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch(s.opts.Datacenter, service, s.bump())
}

// SetIndex sets the cluster's index and every service's to i, as after a
// restore from an older snapshot: it can make the index go backwards.
// Blocked queries with a higher index keep waiting, as in Consul, until
// their wait expires.
func (s *Server) SetIndex(i uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = i
	for k := range s.svcIndex {
		s.svcIndex[k] = i
	}
	s.wake()
}

// Index is the cluster's current index.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// ZeroIndex makes answers carry X-Consul-Index: 0, a bug some Consul
// versions had that busy-loops a client which blocks on it.
func (s *Server) ZeroIndex(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zeroIndex = on
}

// Fail makes every request fail with this status and body (e.g. 500 "No
// cluster leader"), until Fail(0, "").
func (s *Server) Fail(code int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failBody = code, body
	s.wake()
}

// Requests is how many requests an endpoint (HealthService,
// CatalogService) has received.
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// Log is every request received so far, oldest first.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Blocked is how many blocking queries are waiting right now.
func (s *Server) Blocked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked
}

func (s *Server) instKey(nodeName, id string) string {
	if nodeName == "" {
		nodeName = "node1"
	}
	return s.opts.Datacenter + "/" + nodeName + "/" + id
}

// bump is a write: the cluster index moves and blocked queries re-check.
func (s *Server) bump() uint64 {
	s.index++
	s.wake()
	return s.index
}

func (s *Server) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) touch(dc, service string, idx uint64) { s.svcIndex[dc+"/"+service] = idx }

func (s *Server) knownDC(dc string) bool {
	if dc == s.opts.Datacenter {
		return true
	}
	for _, d := range s.opts.Datacenters {
		if d == dc {
			return true
		}
	}
	return false
}

// query is the state of one endpoint's answer.
type query struct {
	endpoint, service, dc, near string
	tags                        []string
	passing                     bool
}

// result runs q under s.mu: the entries and the index Consul would give.
func (s *Server) result(q query) ([]*instance, uint64) {
	idx, ok := s.svcIndex[q.dc+"/"+q.service]
	if !ok {
		// Consul answers an unknown service with the catalog's index.
		idx = s.index
	}
	var out []*instance
	for _, in := range s.instances {
		if in.Datacenter != q.dc || in.Service != q.service || !hasTags(in.Tags, q.tags) {
			continue
		}
		if q.passing && !s.allPassing(in) {
			continue
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].ID < out[j].ID
	})
	if q.near != "" {
		s.sortNear(q, out)
	}
	if idx < 1 {
		idx = 1 // Consul never answers a blocking query with 0
	}
	if s.zeroIndex {
		idx = 0
	}
	return out, idx
}

func (s *Server) allPassing(in *instance) bool {
	if n := s.nodes[in.Datacenter+"/"+in.Node]; n != nil && n.serf != Passing {
		return false
	}
	for _, c := range in.Checks {
		if c.Status != Passing {
			return false
		}
	}
	return true
}

func (s *Server) sortNear(q query, out []*instance) {
	name := q.near
	if name == "_agent" {
		name = s.opts.Node
	}
	from := s.nodes[q.dc+"/"+name]
	if from == nil || !from.hasCoord {
		return // Consul leaves the order alone for a node it can't place
	}
	dist := func(in *instance) float64 {
		n := s.nodes[in.Datacenter+"/"+in.Node]
		if n == nil || !n.hasCoord {
			return math.Inf(1)
		}
		return math.Abs(n.coord - from.coord)
	}
	sort.SliceStable(out, func(i, j int) bool { return dist(out[i]) < dist(out[j]) })
}

func hasTags(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.EqualFold(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var q query
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		q.endpoint = HealthService
	case strings.HasPrefix(r.URL.Path, "/v1/catalog/service/"):
		q.endpoint = CatalogService
	default:
		http.NotFound(w, r)
		return
	}
	q.service = strings.TrimPrefix(r.URL.Path, "/v1/"+q.endpoint+"/")
	params := r.URL.Query()
	token := r.Header.Get("X-Consul-Token")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if token == "" {
		token = params.Get("token")
	}
	req := Request{Endpoint: q.endpoint, Service: q.service, Wait: params.Get("wait"), Query: params, Token: token, At: time.Now()}
	req.Index, _ = strconv.ParseUint(params.Get("index"), 10, 64)
	wait, waitErr := parseWait(params.Get("wait"))
	req.MaxWait = wait
	s.mu.Lock()
	s.log = append(s.log, req)
	s.counts[q.endpoint]++
	stopped := s.stopped
	s.mu.Unlock()

	if r.Method != http.MethodGet {
		http.Error(w, "method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
		return
	}
	if q.service == "" {
		http.Error(w, "Missing service name", http.StatusBadRequest)
		return
	}
	anonymous := false
	if s.opts.Token != "" {
		switch token {
		case s.opts.Token:
		case "":
			anonymous = true
		default:
			http.Error(w, "Permission denied", http.StatusForbidden)
			return
		}
	}
	var minIndex uint64
	if v := params.Get("index"); v != "" {
		var err error
		if minIndex, err = strconv.ParseUint(v, 10, 64); err != nil {
			http.Error(w, "Invalid index", http.StatusBadRequest)
			return
		}
	}
	if waitErr != nil {
		http.Error(w, "Invalid wait time", http.StatusBadRequest)
		return
	}
	q.dc = s.opts.Datacenter
	if v := params.Get("dc"); v != "" {
		q.dc = v
	}
	if !s.knownDC(q.dc) {
		http.Error(w, "No path to datacenter", http.StatusInternalServerError)
		return
	}
	q.tags = params["tag"]
	q.near = params.Get("near")
	if q.endpoint == HealthService {
		if _, ok := params["passing"]; ok {
			v := params.Get("passing")
			if v == "" {
				q.passing = true
			} else {
				b, err := strconv.ParseBool(v)
				if err != nil {
					http.Error(w, "Invalid value for ?passing", http.StatusBadRequest)
					return
				}
				q.passing = b
			}
		}
	}

	var timeout <-chan time.Time
	if minIndex > 0 {
		// Consul adds up to wait/16 so that many watchers don't wake together.
		t := time.NewTimer(wait + rand.N(wait/16+1))
		defer t.Stop()
		timeout = t.C
	}
	for {
		s.mu.Lock()
		if s.failCode != 0 {
			// A failure during a blocking query ends it, as a lost
			// leader does.
			code, body := s.failCode, s.failBody
			s.mu.Unlock()
			http.Error(w, body, code)
			return
		}
		entries, idx := s.result(q)
		changed := s.changed
		var body []byte
		var err error
		if minIndex == 0 || idx > minIndex || timeout == nil {
			body, err = s.encode(q, entries, anonymous)
		}
		s.mu.Unlock()
		if body != nil || err != nil {
			s.reply(w, body, err, idx, anonymous)
			return
		}
		s.mu.Lock()
		s.blocked++
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			timeout = nil // answer with what there is now
		case <-stopped:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.blocked--
		s.mu.Unlock()
		select {
		case <-stopped:
			return
		case <-r.Context().Done():
			return
		default:
		}
		if timeout == nil {
			minIndex = 0
		}
	}
}

// parseWait reads ?wait= as Consul does: a Go duration ("10s", "5m"),
// 5m when absent or zero, at most 10m.
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 5 * time.Minute, nil
	}
	return min(d, 10*time.Minute), nil
}

func (s *Server) reply(w http.ResponseWriter, body []byte, err error, idx uint64, anonymous bool) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	h.Set("X-Consul-KnownLeader", "true")
	h.Set("X-Consul-LastContact", "0")
	h.Set("X-Consul-Effective-Consistency", "leader")
	if anonymous {
		h.Set("X-Consul-Results-Filtered-By-ACLs", "true")
	}
	w.Write(body)
}

// The JSON shapes below follow Consul's HTTP API documentation for the
// two endpoints (sample responses of "List Service Instances for Service"
// and "List Nodes for Service").

type jsonNode struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
	CreateIndex     uint64
	ModifyIndex     uint64
}

type jsonWeights struct {
	Passing int
	Warning int
}

type jsonService struct {
	ID                string
	Service           string
	Tags              []string
	Address           string
	Meta              map[string]string
	Port              int
	Weights           jsonWeights
	EnableTagOverride bool
	Datacenter        string
	CreateIndex       uint64
	ModifyIndex       uint64
}

type jsonCheck struct {
	Node        string
	CheckID     string
	Name        string
	Status      string
	Notes       string
	Output      string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	Type        string
	Definition  struct{}
	CreateIndex uint64
	ModifyIndex uint64
}

type jsonHealthEntry struct {
	Node    jsonNode
	Service jsonService
	Checks  []jsonCheck
}

type jsonCatalogEntry struct {
	ID                       string
	Node                     string
	Address                  string
	Datacenter               string
	TaggedAddresses          map[string]string
	NodeMeta                 map[string]string
	ServiceAddress           string
	ServiceEnableTagOverride bool
	ServiceID                string
	ServiceName              string
	ServicePort              int
	ServiceMeta              map[string]string
	ServiceTags              []string
	ServiceWeights           jsonWeights
	CreateIndex              uint64
	ModifyIndex              uint64
}

func (s *Server) encode(q query, entries []*instance, anonymous bool) ([]byte, error) {
	if anonymous {
		entries = nil
	}
	if q.endpoint == CatalogService {
		out := make([]jsonCatalogEntry, 0, len(entries))
		for _, in := range entries {
			n := s.nodes[in.Datacenter+"/"+in.Node]
			out = append(out, jsonCatalogEntry{
				ID: n.id, Node: n.name, Address: n.address, Datacenter: in.Datacenter,
				TaggedAddresses: map[string]string{"lan": n.address, "wan": n.address},
				NodeMeta:        map[string]string{},
				ServiceAddress:  in.Address, ServiceID: in.ID, ServiceName: in.Service, ServicePort: in.Port,
				ServiceMeta: nonNil(in.Meta), ServiceTags: nonNilTags(in.Tags),
				ServiceWeights: jsonWeights{Passing: 1, Warning: 1},
				CreateIndex:    in.createIndex, ModifyIndex: in.modifyIndex,
			})
		}
		return json.Marshal(out)
	}
	out := make([]jsonHealthEntry, 0, len(entries))
	for _, in := range entries {
		n := s.nodes[in.Datacenter+"/"+in.Node]
		e := jsonHealthEntry{
			Node: jsonNode{
				ID: n.id, Node: n.name, Address: n.address, Datacenter: in.Datacenter,
				TaggedAddresses: map[string]string{"lan": n.address, "wan": n.address},
				Meta:            map[string]string{},
				CreateIndex:     n.createIndex, ModifyIndex: n.modifyIndex,
			},
			Service: jsonService{
				ID: in.ID, Service: in.Service, Tags: nonNilTags(in.Tags), Address: in.Address,
				Meta: nonNil(in.Meta), Port: in.Port, Weights: jsonWeights{Passing: 1, Warning: 1},
				Datacenter: in.Datacenter, CreateIndex: in.createIndex, ModifyIndex: in.modifyIndex,
			},
		}
		e.Checks = append(e.Checks, jsonCheck{
			Node: n.name, CheckID: SerfHealth, Name: "Serf Health Status", Status: n.serf,
			Output: "Agent alive and reachable", ServiceTags: []string{},
			CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
		})
		for _, c := range in.Checks {
			name := c.Name
			if name == "" {
				name = "Service '" + in.Service + "' check"
			}
			e.Checks = append(e.Checks, jsonCheck{
				Node: n.name, CheckID: c.ID, Name: name, Status: c.Status, Output: c.Output,
				ServiceID: in.ID, ServiceName: in.Service, ServiceTags: nonNilTags(in.Tags), Type: "ttl",
				CreateIndex: in.createIndex, ModifyIndex: in.modifyIndex,
			})
		}
		out = append(out, e)
	}
	return json.Marshal(out)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// fakeUUID is a stable UUID-shaped node ID.
func fakeUUID(s string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	x := fmt.Sprintf("%016x%016x", h, h*31+7)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
