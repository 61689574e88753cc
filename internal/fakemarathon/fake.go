// Package fakemarathon is a fake Marathon for tests: an HTTP server on
// 127.0.0.1 that serves real recorded Marathon and Marathon-LB responses
// unchanged (testdata/, see its README), speaks the event stream as real
// Server-Sent Events with Marathon's event names, answers /ping with a 406
// to Accept: application/json as Marathon 1.4.4+ does, can require a DC/OS
// token (and log a service account in), and replays what Marathon would do
// and emit when a test deploys a version, marks tasks healthy, kills a task
// or stops and restarts the server. It can also run as a process of its
// own (StartProcess, process.go), for a test that stops it with SIGSTOP.
//
// It is test code: only tests import it.
package fakemarathon

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

//go:embed testdata
var fixtures embed.FS

// Fixture is a recorded file from testdata/, e.g.
// "marathon-lb/tests/zdd_apps.json". It panics when there is none.
func Fixture(path string) []byte {
	b, err := fixtures.ReadFile("testdata/" + path)
	if err != nil {
		panic(err)
	}
	return b
}

// Version is the Marathon whose shapes the fake speaks.
type Version int

const (
	// V15 answers apps in the 1.5+ networking shape (networks,
	// container.portMappings) and health events with instanceId.
	V15 Version = iota
	// V14 answers apps in the 1.4 shape (container.docker.network and
	// portMappings) and health events with taskId.
	V14
)

// Options configure a fake.
type Options struct {
	Version Version
	// Apps are bodies of GET /v2/apps ({"apps": [...]}) or single app
	// definitions to start with.
	Apps [][]byte
	// Deployments is a body of GET /v2/deployments to start with.
	Deployments []byte
	// Token, when set, is required as "Authorization: token=..." on every
	// request (but the login).
	Token string
	// ServiceAccount, when set, lets that uid log in at
	// /acs/api/v1/auth/login with a JWT signed by the key; the tokens it
	// gets are accepted for TokenTTL (default 1h).
	ServiceAccount *ServiceAccount
	TokenTTL       time.Duration
	// TLS, when set, serves HTTPS with it (URL is then https://...), as
	// Marathon behind DC/OS's Admin Router or with --ssl_keystore does.
	TLS *tls.Config
}

// ServiceAccount is a service account the fake's login knows.
type ServiceAccount struct {
	UID string
	Key *rsa.PublicKey
}

// Server is a running fake Marathon.
type Server struct {
	opts Options

	mu          sync.Mutex
	apps        []*app
	pristine    []byte // the loaded apps body while nothing changed
	deployments []*deployment
	rawDeploys  []byte
	streams     map[*stream]struct{}
	issued      map[string]time.Time
	logins      int
	requests    map[string]int
	emitted     int
	bytes       int64
	seq         int
	// held, while set, holds every GET /v2/apps until it is closed.
	held chan struct{}
	ln   net.Listener
	srv  *http.Server
	addr string
}

type app struct {
	obj map[string]any
	raw json.RawMessage // unchanged bytes while obj was not changed
}

type deployment struct {
	ID, Version, App, Action string
}

// New starts a fake on 127.0.0.1 that stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("fakemarathon: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// NewServer starts a fake on 127.0.0.1; Stop stops it. It is New for a
// fake that runs as a process of its own (see process.go).
func NewServer(opts Options) (*Server, error) {
	s := &Server{opts: opts, streams: map[*stream]struct{}{}, issued: map[string]time.Time{}, requests: map[string]int{}}
	if s.opts.TokenTTL == 0 {
		s.opts.TokenTTL = time.Hour
	}
	for _, body := range opts.Apps {
		if err := s.load(body, len(opts.Apps) == 1); err != nil {
			return nil, err
		}
	}
	s.rawDeploys = opts.Deployments
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// load adds the apps of a /v2/apps body or one app definition.
func (s *Server) load(body []byte, only bool) error {
	var list struct {
		Apps []json.RawMessage `json:"apps"`
	}
	raws := []json.RawMessage{body}
	if json.Unmarshal(body, &list) == nil && list.Apps != nil {
		raws = list.Apps
		if only {
			s.pristine = body
		}
	}
	for _, raw := range raws {
		obj, err := decodeObject(raw)
		if err != nil {
			return err
		}
		if id, _ := obj["id"].(string); !strings.HasPrefix(id, "/") {
			// Marathon answers ids with their slash.
			obj["id"] = "/" + id
			raw = nil
			s.pristine = nil
		}
		s.apps = append(s.apps, &app{obj: obj, raw: raw})
	}
	return nil
}

func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// URL is the fake's base URL, http://127.0.0.1:PORT (https with TLS).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.TLS != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Start (re)starts serving, on the same port after a Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; a restart may race its release.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr().String()
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return nil
}

// Stop closes the listener and every connection, event streams included,
// as a Marathon that died would.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	streams := s.streams
	s.streams = map[*stream]struct{}{}
	s.mu.Unlock()
	for st := range streams {
		st.close()
	}
	if srv != nil {
		srv.Close()
	}
}

// Requests is how many requests reached path (without the query).
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// RequestCounts are the requests that reached each path (without the
// query) so far.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// BytesServed is the size of every answer's body so far, the event
// stream's aside.
func (s *Server) BytesServed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// countingWriter counts the bytes of a body.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Emitted is how many events the fake sent to an event stream so far
// (each counted once, however many streams it went to; an event no
// stream asked for is not counted).
func (s *Server) Emitted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitted
}

// Logins is how many service account logins succeeded.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Streams is how many event streams are attached.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; qs=2")
	w.WriteHeader(status)
	w.Write(body)
}

func message(w http.ResponseWriter, status int, format string, args ...any) {
	b, _ := json.Marshal(map[string]string{"message": fmt.Sprintf(format, args...)})
	writeJSON(w, status, b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	// Through Admin Router Marathon is under /marathon.
	if p, ok := strings.CutPrefix(path, "/marathon/"); ok {
		path = "/" + p
	}
	s.mu.Lock()
	s.requests[path]++
	s.mu.Unlock()
	if path != "/v2/events" {
		// The event stream is written as it goes; answers are counted.
		cw := &countingWriter{ResponseWriter: w}
		defer func() {
			s.mu.Lock()
			s.bytes += cw.n
			s.mu.Unlock()
		}()
		w = cw
	}
	if path == "/acs/api/v1/auth/login" {
		s.login(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", "acsjwt")
		message(w, http.StatusUnauthorized, "authentication required: send a valid token as Authorization: token=...")
		return
	}
	if r.Method != http.MethodGet {
		message(w, http.StatusMethodNotAllowed, "the fake serves GET only")
		return
	}
	switch {
	case path == "/ping":
		// Marathon 1.4.4+ answers text/plain only (go-marathon #308).
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.WriteHeader(http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("pong\n"))
	case path == "/v2/apps" || path == "/v2/apps/":
		s.serveApps(w, r)
	case strings.HasPrefix(path, "/v2/apps/"):
		s.serveApp(w, r, strings.TrimPrefix(path, "/v2/apps"))
	case path == "/v2/tasks":
		s.serveTasks(w, r, "")
	case path == "/v2/deployments":
		s.serveDeployments(w)
	case path == "/v2/info":
		if s.opts.Version == V14 {
			writeJSON(w, 200, Fixture("marathon/v1.4.12/docs/docs/rest-api/public/api/v2/examples/info.json"))
		} else {
			writeJSON(w, 200, Fixture("marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/info.json"))
		}
	case path == "/v2/leader":
		b, _ := json.Marshal(map[string]string{"leader": r.Host})
		writeJSON(w, 200, b)
	case path == "/v2/events":
		s.serveEvents(w, r)
	default:
		message(w, http.StatusNotFound, "not found")
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" && s.opts.ServiceAccount == nil {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "token=")
	if !ok || tok == "" {
		return false
	}
	if s.opts.Token != "" && tok == s.opts.Token {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.issued[tok]
	return ok && time.Now().Before(exp)
}

// login checks a service account's login JWT against its public key, as
// the DC/OS IAM does, and issues a token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	sa := s.opts.ServiceAccount
	if r.Method != http.MethodPost || sa == nil {
		message(w, http.StatusNotFound, "not found")
		return
	}
	var body struct {
		UID   string `json:"uid"`
		Token string `json:"token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		message(w, http.StatusBadRequest, "request body: %v", err)
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(body.Token, claims, func(*jwt.Token) (any, error) { return sa.Key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil || body.UID != sa.UID || claims["uid"] != sa.UID {
		w.Header().Set("WWW-Authenticate", "acsjwt")
		writeJSON(w, http.StatusUnauthorized, []byte(`{"title":"Unauthorized","description":"Service login JWT validation error or uid mismatch.","code":"ERR_INVALID_LOGIN_TOKEN"}`))
		return
	}
	exp := time.Now().Add(s.opts.TokenTTL)
	secret := make([]byte, 16)
	rand.Read(secret)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"uid": sa.UID, "exp": exp.Unix(), "jti": hex.EncodeToString(secret)}).SignedString(secret)
	s.mu.Lock()
	s.issued[tok] = exp
	s.logins++
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"token": tok})
	writeJSON(w, http.StatusOK, b)
}

func embeds(r *http.Request, what string) bool {
	return slices.Contains(r.URL.Query()["embed"], what) || slices.Contains(r.URL.Query()["embed"], strings.Replace(what, ".tasks", ".failures", 1))
}

// HoldApps holds every GET /v2/apps (the full read of a client) until
// release is called: a test can then see what a client does before its
// first read of Marathon completes, without racing it.
func (s *Server) HoldApps() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.held = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held == ch {
				s.held = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

func (s *Server) serveApps(w http.ResponseWriter, r *http.Request) {
	withTasks := embeds(r, "apps.tasks")
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pristine != nil && withTasks {
		writeJSON(w, 200, s.pristine)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"apps":[`)
	for i, a := range s.apps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(a.encode(withTasks))
	}
	b.WriteString("]}")
	writeJSON(w, 200, b.Bytes())
}

// encode is the app's JSON: its recorded bytes while unchanged.
func (a *app) encode(withTasks bool) []byte {
	if a.raw != nil && (withTasks || a.obj["tasks"] == nil) {
		return a.raw
	}
	obj := a.obj
	if !withTasks {
		obj = map[string]any{}
		for k, v := range a.obj {
			if k != "tasks" {
				obj[k] = v
			}
		}
	}
	b, _ := json.Marshal(obj)
	return b
}

func (s *Server) find(id string) *app {
	for _, a := range s.apps {
		if a.obj["id"] == id {
			return a
		}
	}
	return nil
}

func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, rest string) {
	if id, ok := strings.CutSuffix(rest, "/tasks"); ok {
		s.serveTasks(w, r, id)
		return
	}
	id := strings.TrimRight(rest, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(id)
	if a == nil {
		message(w, http.StatusNotFound, "App '%s' does not exist", id)
		return
	}
	// Marathon 1.x embeds an app's tasks by default.
	withTasks := len(r.URL.Query()["embed"]) == 0 || embeds(r, "app.tasks")
	writeJSON(w, 200, append(append([]byte(`{"app":`), a.encode(withTasks)...), '}'))
}

func (s *Server) serveTasks(w http.ResponseWriter, r *http.Request, appID string) {
	status := r.URL.Query().Get("status")
	s.mu.Lock()
	defer s.mu.Unlock()
	if appID != "" && s.find(appID) == nil {
		message(w, http.StatusNotFound, "App '%s' does not exist", appID)
		return
	}
	tasks := []any{}
	for _, a := range s.apps {
		if appID != "" && a.obj["id"] != appID {
			continue
		}
		for _, t := range taskList(a.obj) {
			if status != "" && !strings.EqualFold(fmt.Sprint(t["state"]), "TASK_"+status) {
				continue
			}
			c := map[string]any{}
			for k, v := range t {
				c[k] = v
			}
			if _, ok := c["servicePorts"]; !ok {
				c["servicePorts"] = servicePorts(a.obj)
			}
			tasks = append(tasks, c)
		}
	}
	b, _ := json.Marshal(map[string]any{"tasks": tasks})
	writeJSON(w, 200, b)
}

func taskList(obj map[string]any) []map[string]any {
	list, _ := obj["tasks"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, t := range list {
		if m, ok := t.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func servicePorts(obj map[string]any) []any {
	out := []any{}
	c, _ := obj["container"].(map[string]any)
	var maps []any
	if c != nil {
		maps, _ = c["portMappings"].([]any)
		if d, ok := c["docker"].(map[string]any); ok && maps == nil {
			maps, _ = d["portMappings"].([]any)
		}
	}
	for _, m := range maps {
		if mm, ok := m.(map[string]any); ok {
			out = append(out, mm["servicePort"])
		}
	}
	if len(out) > 0 {
		return out
	}
	defs, _ := obj["portDefinitions"].([]any)
	for _, d := range defs {
		if dm, ok := d.(map[string]any); ok {
			out = append(out, dm["port"])
		}
	}
	if len(out) == 0 {
		ports, _ := obj["ports"].([]any)
		out = append(out, ports...)
	}
	return out
}

func (s *Server) serveDeployments(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rawDeploys != nil && len(s.deployments) == 0 {
		writeJSON(w, 200, s.rawDeploys)
		return
	}
	list := []any{}
	for _, d := range s.deployments {
		action := map[string]any{"action": d.Action, "app": d.App}
		list = append(list, map[string]any{
			"id": d.ID, "version": d.Version, "affectedApps": []string{d.App}, "affectedPods": []string{},
			"steps":          []any{map[string]any{"actions": []any{action}}},
			"currentActions": []any{map[string]any{"action": d.Action, "app": d.App, "readinessCheckResults": []any{}}},
			"currentStep":    1, "totalSteps": 1,
		})
	}
	b, _ := json.Marshal(list)
	writeJSON(w, 200, b)
}

var errNoApp = errors.New("fakemarathon: no such app")
