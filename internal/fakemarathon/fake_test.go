package fakemarathon

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"
	"github.com/golang-jwt/jwt/v5"

	"github.com/turnout/turnout/internal/testnet"
)

const zdd = "marathon-lb/tests/zdd_apps.json"

// goMarathon is a go-marathon v0.7.1 client of the fake, with three
// identical members as go-marathon's own tests use.
func goMarathon(t *testing.T, s *Server, token string) gomarathon.Marathon {
	t.Helper()
	u := s.URL()
	c, err := gomarathon.NewClient(gomarathon.Config{URL: u + "," + u + "," + u, EventsTransport: gomarathon.EventsTransportSSE,
		DCOSToken: token, HTTPClient: &http.Client{Transport: &http.Transport{}}, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGoMarathonReadsTheRecordedAnswers(t *testing.T) {
	s := New(t, Options{Apps: [][]byte{Fixture(zdd)},
		Deployments: Fixture("marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/deployments.json")})
	c := goMarathon(t, s, "")

	apps, err := c.Applications(url.Values{"embed": {"apps.tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range apps.Apps {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{"/nginx-green", "/nginx-blue"}) {
		t.Fatalf("apps %v", ids)
	}
	app, err := c.Application("/nginx-green")
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Tasks) != 3 || app.Tasks[0].Host != "10.0.6.25" || !app.Tasks[0].HealthCheckResults[0].Alive {
		t.Fatalf("nginx-green tasks: %+v", app.Tasks)
	}
	if ok, err := c.ApplicationOK("/nginx-green"); err != nil || !ok {
		t.Fatalf("ApplicationOK: %v %v", ok, err)
	}
	tasks, err := c.AllTasks(&gomarathon.AllTasksOpts{Status: "running"})
	if err != nil {
		t.Fatal(err)
	}
	// The recorded tasks of zdd_apps.json have no state: none is listed
	// as running by a status filter, as Marathon 1.x would not have.
	if len(tasks.Tasks) != 0 {
		t.Fatalf("running tasks: %d", len(tasks.Tasks))
	}
	all, err := c.AllTasks(&gomarathon.AllTasksOpts{})
	if err != nil || len(all.Tasks) != 4 || all.Tasks[0].ServicePorts[0] != 10000 {
		t.Fatalf("all tasks: %+v %v", all, err)
	}
	ds, err := c.Deployments()
	if err != nil || len(ds) != 1 || ds[0].AffectedApps[0] != "/foo" {
		t.Fatalf("deployments: %+v %v", ds, err)
	}
	info, err := c.Info()
	if err != nil || info.MarathonConfig.FrameworkName != "marathon" || info.Version != "1.5.0-SNAPSHOT" {
		t.Fatalf("info: %+v %v", info, err)
	}
	if _, err := c.Application("/nope"); err == nil {
		t.Fatal("a missing app was found")
	}
	// go-marathon's Ping sends Accept: application/json, which Marathon
	// 1.4.4+ refuses (go-marathon #308).
	_, err = c.Ping()
	var apiErr *gomarathon.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeUnknown {
		t.Fatalf("Ping: %v", err)
	}
	resp, err := http.Get(s.URL() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pong\n" {
		t.Fatalf("plain /ping: %d %q", resp.StatusCode, b)
	}
}

func TestRecordedBodiesAreServedUnchanged(t *testing.T) {
	for _, f := range []string{zdd, "marathon-lb/tests/marathon15_apps.json",
		"marathon/v1.4.12/docs/docs/rest-api/public/api/v2/examples/app_list.json"} {
		s := New(t, Options{Apps: [][]byte{Fixture(f)}})
		got := get(t, s.URL()+"/v2/apps?embed=apps.tasks&embed=apps.deployments", "", 200)
		if string(got) != string(Fixture(f)) {
			t.Errorf("%s: /v2/apps is not the recorded body", f)
		}
	}
	s := New(t, Options{})
	if got := get(t, s.URL()+"/v2/info", "", 200); string(got) != string(Fixture("marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/info.json")) {
		t.Error("/v2/info is not the recorded body")
	}
}

func get(t *testing.T, u, token string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "token="+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	return b
}

// events reads SSE records from the fake's /v2/events.
type events struct {
	t    *testing.T
	r    *bufio.Reader
	body io.Closer
}

func attach(t *testing.T, s *Server, query string) *events {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/v2/events"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/v2/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// A missing event fails the test instead of hanging it.
	deadline := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	t.Cleanup(func() {
		deadline.Stop()
		resp.Body.Close()
	})
	return &events{t: t, r: bufio.NewReader(resp.Body), body: resp.Body}
}

// next is the next record's event name and data.
func (e *events) next() (string, map[string]any) {
	e.t.Helper()
	var name, data string
	for {
		line, err := e.r.ReadString('\n')
		if err != nil {
			e.t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && name != "":
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				e.t.Fatalf("event data %q: %v", data, err)
			}
			if m["eventType"] != name {
				e.t.Fatalf("event %s carries eventType %v", name, m["eventType"])
			}
			return name, m
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (e *events) names(n int) []string {
	var out []string
	for range n {
		name, _ := e.next()
		out = append(out, name)
	}
	return out
}

func TestEventStreamIsRealSSE(t *testing.T) {
	s := New(t, Options{})
	get(t, s.URL()+"/v2/events", "", http.StatusMethodNotAllowed)
	all := attach(t, s, "")
	if name, m := all.next(); name != "event_stream_attached" || m["remoteAddress"] == nil {
		t.Fatalf("first event %s %v", name, m)
	}
	only := attach(t, s, "?event_type=status_update_event&event_type=health_status_changed_event")
	s.Deploy(AppSpec{ID: "/web", Instances: 1, HealthCheck: true, Ports: []PortSpec{{ContainerPort: 80}}})
	want := []string{"api_post_event", "group_change_success", "deployment_info", "status_update_event",
		"instance_changed_event", "status_update_event", "instance_changed_event"}
	if got := all.names(len(want)); !slices.Equal(got, want) {
		t.Fatalf("deploy events %v, want %v", got, want)
	}
	if name, m := only.next(); name != "status_update_event" || m["taskStatus"] != "TASK_STAGING" {
		t.Fatalf("filtered stream: %s %v", name, m)
	}
	if name, m := only.next(); name != "status_update_event" || m["taskStatus"] != "TASK_RUNNING" {
		t.Fatalf("filtered stream: %s %v", name, m)
	}
	if err := s.MarkHealthy("/web"); err != nil {
		t.Fatal(err)
	}
	want = []string{"health_status_changed_event", "instance_health_changed_event", "deployment_step_success", "deployment_success"}
	if got := all.names(len(want)); !slices.Equal(got, want) {
		t.Fatalf("healthy events %v, want %v", got, want)
	}
	if name, m := only.next(); name != "health_status_changed_event" || m["instanceId"] == nil || m["alive"] != true {
		t.Fatalf("filtered stream: %s %v", name, m)
	}
	task := s.Tasks("/web")[0]
	s.KillTask(task)
	if _, m := only.next(); m["taskStatus"] != "TASK_KILLING" || m["taskId"] != task {
		t.Fatalf("kill: %v", m)
	}
	s.TaskKilled(task)
	if _, m := only.next(); m["taskStatus"] != "TASK_KILLED" {
		t.Fatalf("killed: %v", m)
	}
	if len(s.Tasks("/web")) != 0 {
		t.Fatal("the killed task is still there")
	}

	// A stopped Marathon drops its streams; a restarted one is at the
	// same address.
	s.Stop()
	// The stream ends (io.Copy returns) as when Marathon dies.
	io.Copy(io.Discard, all.r)
	if _, err := http.Get(s.URL() + "/v2/info"); err == nil {
		t.Fatal("a stopped fake answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	get(t, s.URL()+"/v2/info", "", 200)
}

// Every event the fake sends carries at least the fields Marathon's own
// event bus documentation shows for that type.
func TestEventsCarryTheDocumentedFields(t *testing.T) {
	documented := map[string][]string{}
	doc := Fixture("marathon/master/docs/docs/event-bus.md")
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1) {
		var body map[string]any
		if err := json.Unmarshal(m[1], &body); err != nil {
			t.Fatalf("event-bus.md: %v\n%s", err, m[1])
		}
		var keys []string
		for k := range body {
			keys = append(keys, k)
		}
		documented[body["eventType"].(string)] = keys
	}
	s := New(t, Options{})
	e := attach(t, s, "")
	e.next()
	s.Deploy(AppSpec{ID: "/web", Instances: 1, HealthCheck: true, Ports: []PortSpec{{ContainerPort: 80}}})
	s.MarkHealthy("/web")
	s.KillTask(s.Tasks("/web")[0])
	seen := map[string]bool{}
	for range 13 {
		name, m := e.next()
		seen[name] = true
		keys, ok := documented[name]
		if !ok {
			t.Errorf("%s is not a documented event", name)
			continue
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok && !(name == "deployment_info" && k == "currentStep") {
				t.Errorf("%s lacks %q: %v", name, k, m)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d event types seen", len(seen))
	}
}

func TestGoMarathonReceivesTheFakesEvents(t *testing.T) {
	for _, v := range []Version{V14, V15} {
		s := New(t, Options{Version: v})
		c := goMarathon(t, s, "")
		ch, err := c.AddEventsListener(gomarathon.EventIDApplications | gomarathon.EventIDAPIRequest | gomarathon.EventIDDeploymentSuccess)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		// waitAll waits until each predicate has matched an event, in any
		// order: go-marathon hands every event to its listeners in a
		// goroutine of its own, so they can arrive out of order.
		waitAll := func(preds ...func(*gomarathon.Event) bool) {
			t.Helper()
			for len(preds) > 0 {
				select {
				case ev := <-ch:
					preds = slices.DeleteFunc(preds, func(p func(*gomarathon.Event) bool) bool { return p(ev) })
				case <-deadline:
					t.Fatalf("version %d: %d expected events missing after 10s", v, len(preds))
				}
			}
		}
		// Events published before the listener is attached are lost:
		// wait for the stream.
		testnet.Eventually(t, 5*time.Second, "the event stream", func() bool { return s.Streams() == 1 })
		s.Deploy(AppSpec{ID: "/web", Instances: 1, HealthCheck: true, Ports: []PortSpec{{ContainerPort: 80}}})
		waitAll(func(ev *gomarathon.Event) bool {
			a, ok := ev.Event.(*gomarathon.EventAPIRequest)
			return ok && a.AppDefinition.ID == "/web"
		}, func(ev *gomarathon.Event) bool {
			su, ok := ev.Event.(*gomarathon.EventStatusUpdate)
			return ok && su.TaskStatus == "TASK_RUNNING" && su.AppID == "/web" && len(su.IPAddresses) == 1
		})
		s.MarkHealthy("/web")
		waitAll(func(ev *gomarathon.Event) bool {
			h, ok := ev.Event.(*gomarathon.EventHealthCheckChanged)
			if !ok {
				return false
			}
			// go-marathon has no instanceId: on 1.4+ shapes the task id
			// is empty (research §5.3 item 8).
			if (v == V14) != (h.TaskID != "") {
				t.Errorf("version %d: health event task id %q", v, h.TaskID)
			}
			return h.Alive
		}, func(ev *gomarathon.Event) bool { _, ok := ev.Event.(*gomarathon.EventDeploymentSuccess); return ok })
	}
}

func TestAuth(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := New(t, Options{Token: "static", ServiceAccount: &ServiceAccount{UID: "turnout", Key: &key.PublicKey},
		Apps: [][]byte{Fixture(zdd)}})
	get(t, s.URL()+"/v2/apps", "", 401)
	get(t, s.URL()+"/v2/apps", "wrong", 401)
	get(t, s.URL()+"/v2/apps", "static", 200)
	get(t, s.URL()+"/marathon/v2/apps", "static", 200)

	// go-marathon with a DC/OS token: API calls under /marathon (Admin
	// Router), the event stream without the prefix (go-marathon #267).
	c := goMarathon(t, s, "static")
	if _, err := c.Applications(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEventsListener(gomarathon.EventIDApplications); err != nil {
		t.Fatal(err)
	}
	if s.Requests("/v2/events") != 1 {
		t.Fatalf("event stream requests: %d", s.Requests("/v2/events"))
	}

	login := func(signer *rsa.PrivateKey, uid string) (int, string) {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"uid": uid, "exp": time.Now().Add(time.Minute).Unix()}).SignedString(signer)
		body, _ := json.Marshal(map[string]string{"uid": uid, "token": tok})
		resp, err := http.Post(s.URL()+"/acs/api/v1/auth/login", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Token
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if code, _ := login(other, "turnout"); code != 401 {
		t.Fatalf("login signed by another key: %d", code)
	}
	if code, _ := login(key, "someone"); code != 401 {
		t.Fatalf("login of another uid: %d", code)
	}
	code, tok := login(key, "turnout")
	if code != 200 || tok == "" {
		t.Fatalf("login: %d %q", code, tok)
	}
	get(t, s.URL()+"/v2/apps", tok, 200)
	if s.Logins() != 1 {
		t.Fatalf("logins %d", s.Logins())
	}
}

// TaskPorts put a deploy's tasks on the ports a test listens on; tasks
// beyond the list get the fake's own ports.
func TestTaskPorts(t *testing.T) {
	s := New(t, Options{})
	s.Deploy(AppSpec{ID: "/web", Instances: 3, Network: Host, Ports: []PortSpec{{ServicePort: 10001}, {ServicePort: 10002}},
		TaskPorts: [][]int{{4001, 4002}, {4003}}})
	var app struct {
		Tasks []struct {
			Host  string `json:"host"`
			Ports []int  `json:"ports"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(s.AppJSON("/web"), &app); err != nil {
		t.Fatal(err)
	}
	if len(app.Tasks) != 3 || app.Tasks[0].Host != "127.0.0.1" ||
		!slices.Equal(app.Tasks[0].Ports, []int{4001, 4002}) || app.Tasks[1].Ports[0] != 4003 ||
		app.Tasks[1].Ports[1] < 31000 || app.Tasks[2].Ports[0] < 31000 {
		t.Fatalf("tasks: %+v", app.Tasks)
	}
}
