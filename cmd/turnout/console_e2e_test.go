package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/turnout/turnout/core/console"
	"github.com/turnout/turnout/internal/testnet"
)

// chromium is Debian's headless browser (no browser download): missing, the
// console's tests fail in CI and are skipped elsewhere, saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artefacts is where the console's screenshots go: $TURNOUT_TEST_ARTEFACTS
// (TURNOUT_TEST_ARTEFACTS=$PWD/docs/console refreshes the docs'), else a
// folder under the test's temp dir.
func artefacts(t *testing.T) string {
	dir := os.Getenv("TURNOUT_TEST_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// chromeTab drives one headless Chromium tab for a test.
type chromeTab struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newChromeTab(t *testing.T) *chromeTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// Root in a CI container has no user namespace to sandbox with.
		chromedp.NoSandbox,
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf), chromedp.WithBrowserOption(chromedp.WithConsolef(t.Logf)))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as that run's
	// context: it gets no timeout of its own (the test's bounds it).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &chromeTab{t: t, ctx: ctx, dir: artefacts(t)}
}

// do runs actions within a bound (a hung browser fails the test, it does
// not hang it).
func (b *chromeTab) do(what string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed")
		b.t.Fatalf("console: %s: %v", what, err)
	}
}

// until waits for a JavaScript expression to be true in the page.
func (b *chromeTab) until(what, expr string) {
	b.t.Helper()
	const within = 60 * time.Second
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(within))); err != nil {
		b.shot("failed")
		b.t.Fatalf("console: waiting for %s (%s): %v", what, expr, err)
	}
}

// text is the text content of the first element sel matches.
func (b *chromeTab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("console: read %s: %v", sel, err)
	}
	return s
}

// shot writes a full-page screenshot as NAME.png.
func (b *chromeTab) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// authCall is apiCall with the admin token.
func authCall(t *testing.T, token, method, url, contentType, ifMatch, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// authStatus is tt.status with the admin token.
func authStatus(t *testing.T, tt *turnout, token, gateway string) e2eStatus {
	t.Helper()
	code, body := authCall(t, token, "GET", "http://"+tt.admin+"/api/v1/gateways/"+gateway+"/status", "", "", "")
	var st e2eStatus
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status of %s: %d %v: %s", gateway, code, err, body)
	}
	return st
}

// TestConsoleInChromium loads the console in a real headless Chromium
// against a real turnout with a token, watches a canary step live, pauses,
// resumes and promotes it, moves a weight slider and sees traffic follow on the
// backends, hits a conflict, and rolls back.
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end, in a chromeTab")
	}
	const token = "console-secret"
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	v1, v2 := newBackend(t, "web-1"), newBackend(t, "web-2")
	// The promotion gate refuses until the console's Promote: the rollout
	// waits at its last step for the operator, whatever the machine's pace.
	var gateAsked atomic.Int64
	gate := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateAsked.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	shopPort, webPort := testnet.FreePort(t), testnet.FreePort(t)
	tt := start(t, canaryGateway(shopPort, stable, canary, fmt.Sprintf(`  interval: 500ms
  steps: [10, 30, 60]
  threshold: 3
  min_requests: 2
  webhooks:
    - name: release-manager
      type: confirm-promotion
      url: http://%s/promote
      timeout: 2s
`, gate))+fmt.Sprintf(`---
name: web
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
`, webPort, v1.addr, v2.addr), "--token", token)
	base := "http://" + tt.admin + "/"
	b := newChromeTab(t)

	// The page loads without the token; the API asks for it once.
	b.do("load the console", 30*time.Second,
		chromedp.Navigate(base+"#/g/shop"),
		chromedp.WaitVisible(chromedp.ID("token-input")),
		chromedp.SendKeys(chromedp.ID("token-input"), token+kb.Enter))

	// No traffic yet: the canary holds at its first step.
	b.until("the rollout at step 1", `document.querySelector('[data-step]')?.dataset.step === "1"`)
	b.shot("rollout-step-1")
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", shopPort), 4, 5*time.Millisecond)
	b.until("the rollout at its last step, waiting for promotion, seen live",
		`document.querySelector('[data-phase]')?.dataset.phase === "waiting-promotion" && document.querySelector('[data-step]')?.dataset.step === "3"`)
	b.shot("rollout-waiting-promotion")
	b.do("pause", 30*time.Second, chromedp.Click(chromedp.CSS(`button[data-command="pause"]`)))
	b.until("the rollout paused", `document.querySelector('[data-phase]')?.dataset.phase === "paused"`)
	b.do("resume", 30*time.Second, chromedp.Click(chromedp.CSS(`button[data-command="resume"]`)))
	b.until("the rollout resumed", `document.querySelector('[data-phase]')?.dataset.phase === "waiting-promotion"`)
	b.do("promote", 30*time.Second, chromedp.Click(chromedp.CSS(`button[data-command="promote"]`)))
	b.until("the rollout promoted", `document.querySelector('[data-phase]')?.dataset.phase === "promoted"`)
	b.until("the canary taking all traffic", `document.querySelector('[data-effective="[`+canary.addr+`]"]')?.textContent === "100%"`)
	b.shot("rollout-promoted")

	// Overview: both gateways with their live figures.
	webLoad := startLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", webPort), loadOptions{clients: 2, pace: 5 * time.Millisecond})
	b.do("open the overview", 30*time.Second, chromedp.Navigate(base+"#/"))
	b.until("the agent's readiness shown", `document.querySelector('[data-ready]')?.dataset.ready === "true"`)
	// A condition, not a rate: web's figure is above zero once a poll of
	// the console has seen any of the load's requests.
	b.until("both gateways listed, web's requests seen",
		`document.querySelectorAll('[data-gateway]').length === 2 && [...document.querySelectorAll('[data-gateway="web"] td[data-rps]')].some(td => Number(td.dataset.rps) > 0)`)
	b.shot("overview")

	// A slider moved with the keyboard, validated, applied: traffic follows.
	b.do("open gateway web", 30*time.Second, chromedp.Navigate(base+"#/g/web"), chromedp.WaitVisible(chromedp.ID("apply")))
	before := v2.n.Load()
	if before != 0 {
		t.Fatalf("web-2 at 0%% got %d requests", before)
	}
	b.do("move web-2's slider to 100%", 30*time.Second,
		chromedp.Focus(chromedp.CSS(`input[type=range][data-route="[`+v2.addr+`]"]`)),
		chromedp.KeyEvent(kb.End))
	b.until("the change validated", `document.getElementById('validation').textContent.startsWith('Valid')`)
	b.shot("gateway-edit-validated")
	b.do("apply", 30*time.Second, chromedp.Click(chromedp.ID("apply")))
	b.until("the change applied", `document.getElementById('validation').textContent.startsWith('Applied')`)
	testnet.Eventually(t, 30*time.Second, "web-2 to get the traffic the slider gave it", func() bool { return v2.n.Load() > 0 })
	b.until("the console showing web-2's traffic",
		`Number(document.querySelector('tr[data-route="[`+v2.addr+`]"] td[data-rps]')?.dataset.rps) > 0`)
	b.shot("gateway-traffic-followed")

	// The operator starts another edit; meanwhile someone else changes the
	// gateway: Apply is refused as a conflict and their change stays.
	b.do("move web-2's slider again", 30*time.Second,
		chromedp.Focus(chromedp.CSS(`input[type=range][data-route="[`+v2.addr+`]"]`)),
		chromedp.KeyEvent(kb.Home))
	b.until("the second change validated", `document.getElementById('validation').textContent.startsWith('Valid')`)
	gwURL := "http://" + tt.admin + "/api/v1/gateways/web"
	if code, body := authCall(t, token, "PATCH", gwURL, "application/merge-patch+json", "",
		`{"routes":{"[`+v1.addr+`]":{"weight":"30%"},"[`+v2.addr+`]":{"weight":"70%"}}}`); code != 200 {
		t.Fatalf("the other writer's PATCH: %d %s", code, body)
	}
	b.do("apply the second change", 30*time.Second, chromedp.Click(chromedp.ID("apply")))
	b.until("the conflict shown", `document.getElementById('validation').textContent.startsWith('Conflict')`)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('apply').disabled`)); err != nil || !disabled {
		t.Error("Apply stays enabled after a conflict")
	}
	b.shot("gateway-conflict")
	if st := authStatus(t, tt, token, "web"); st.route("["+v2.addr+"]").Weight != "70%" {
		t.Fatalf("the other writer's change was overwritten: web-2 at %s", st.route("["+v2.addr+"]").Weight)
	}

	// History: a diff between the first and the current revision, and a
	// rollback to the first (web-1 100%).
	// Revision 1 is the file's, 2 the console's, 3 the other writer's.
	b.until("the history at the other writer's revision", `!!document.querySelector('tr[data-revision="3"]')?.textContent.includes('(current)')`)
	b.do("diff revision 1 with the current", 30*time.Second,
		chromedp.SetValue(chromedp.ID("diff-a"), "1"),
		chromedp.Click(chromedp.ID("diff-button")),
		chromedp.WaitVisible(chromedp.CSS("pre.diff")))
	if d := b.text("pre.diff"); !strings.Contains(d, `-       "weight": "100%"`) || !strings.Contains(d, `+       "weight": "30%"`) {
		t.Errorf("diff of revision 1 and the current one:\n%s", d)
	}
	b.do("roll back to revision 1", 30*time.Second, chromedp.Click(chromedp.CSS(`button[data-rollback="1"]`)))
	b.until("the rollback in service", `document.querySelector('[data-effective="[`+v1.addr+`]"]')?.textContent === "100%"`)
	b.shot("history-rollback")
	if st := authStatus(t, tt, token, "web"); st.route("["+v1.addr+"]").Weight != "100%" || st.route("["+v2.addr+"]").Weight != "0%" {
		t.Fatalf("after the rollback: %+v", st.Routes)
	}
	n := v1.n.Load()
	testnet.Eventually(t, 30*time.Second, "web-1 to get traffic again after the rollback", func() bool { return v1.n.Load() > n })

	b.do("open plugins", 30*time.Second, chromedp.Navigate(base+"#/plugins"), chromedp.WaitVisible(chromedp.CSS("#plugins table")))
	b.shot("plugins")
	webLoad.stop()
}

// TestConsoleFollowsTheEventStream serves the console beside a stand-in
// API whose api/v1/events streams Server-Sent Events: the console reads it
// with the token in its Authorization header (never in the URL), says it is
// live, and refreshes when an event comes.
func TestConsoleFollowsTheEventStream(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end, in a browser")
	}
	b := newChromeTab(t)
	const token = "events-secret"
	var eventsAuth, eventsQuery atomic.Value
	var lists atomic.Int64
	send := make(chan string)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", console.Handler())
	mux.Handle("GET /console/", console.Handler())
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/v1/gateways":
			lists.Add(1)
			io.WriteString(w, "[]")
		case "/api/v1/events":
			eventsAuth.Store(r.Header.Get("Authorization"))
			eventsQuery.Store(r.URL.RawQuery)
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			for {
				select {
				case ev := <-send:
					io.WriteString(w, ev)
					w.(http.Flusher).Flush()
				case <-r.Context().Done():
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	})
	addr := serveHTTP(t, mux)
	b.do("load the console", 30*time.Second,
		chromedp.Navigate("http://"+addr.String()+"/"),
		chromedp.WaitVisible(chromedp.ID("token-input")),
		chromedp.SendKeys(chromedp.ID("token-input"), token+kb.Enter))
	b.until("the console following events", `document.getElementById('mode').textContent.startsWith('live')`)
	if got := eventsAuth.Load(); got != "Bearer "+token {
		t.Errorf("events asked with Authorization %q", got)
	}
	if q := eventsQuery.Load(); q != "" {
		t.Errorf("events asked with the query %q: the token belongs in the header", q)
	}
	// An event is read as it comes (and refreshes the page).
	before := lists.Load()
	select {
	case send <- "id: 1\nevent: gateway.changed\ndata: {\"gateway\":\"shop\"}\n\n":
	case <-time.After(30 * time.Second):
		t.Fatal("the console did not read the event stream")
	}
	b.until("the event read", `document.getElementById('mode').textContent.includes('gateway.changed')`)
	testnet.Eventually(t, 30*time.Second, "a refresh after the event", func() bool { return lists.Load() > before })
	b.shot("events-live")
}
