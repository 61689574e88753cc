package marathon

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// watch runs a watcher until the test ends.
func watch(t *testing.T, c Config) *Watcher {
	t.Helper()
	w, err := NewWatcher(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// until polls the watcher's model until ok holds.
func until(t *testing.T, w *Watcher, what string, ok func(m *Model) bool) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, what, func() bool { return ok(w.Model()) })
}

func stateOf(m *Model, app, id string) string {
	a, ok := m.App(app)
	if !ok {
		return ""
	}
	for _, t := range a.Tasks {
		if t.ID == id {
			return t.State
		}
	}
	return "gone"
}

func TestWatcherFollowsMarathon(t *testing.T) {
	for _, v := range []fakemarathon.Version{fakemarathon.V14, fakemarathon.V15} {
		t.Run(fmt.Sprint("version", v), func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Version: v, Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json")}})
			// A long resync: everything below must come from events.
			w := watch(t, Config{URLs: []string{fm.URL()}, Resync: Duration(time.Hour)})
			until(t, w, "the first read", func(m *Model) bool { return m != nil && len(m.Apps) == 2 && m.Framework == "marathon" })
			testnet.Eventually(t, 10*time.Second, "the event stream", func() bool { return fm.Streams() == 1 && w.streaming() })

			spec := fakemarathon.AppSpec{ID: "/web", Instances: 2, HealthCheck: true, Ports: []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10005}}}
			fm.Deploy(spec)
			until(t, w, "the new app, deploying", func(m *Model) bool {
				a, ok := m.App("/web")
				if !ok {
					return false
				}
				ready, reason := m.Readiness(a)
				return !ready && reason == "deployment in flight; 0 of 2 tasks healthy"
			})
			fm.MarkHealthy("/web")
			until(t, w, "the app ready", func(m *Model) bool {
				a, _ := m.App("/web")
				ready, _ := m.Readiness(a)
				return ready
			})

			// A kill shows at once from the status update.
			task := fm.Tasks("/web")[0]
			fm.KillTask(task)
			until(t, w, "the task killing", func(m *Model) bool { return stateOf(m, "/web", task) == TaskKilling })
			fm.TaskKilled(task)
			until(t, w, "the task gone", func(m *Model) bool { return stateOf(m, "/web", task) == "gone" })

			// Marathon goes away: the model stays, Err says why.
			fm.Stop()
			testnet.Eventually(t, 10*time.Second, "the outage noticed", w.Stale)
			if a, ok := w.Model().App("/web"); !ok || len(a.Tasks) != 1 {
				t.Fatal("the model was not kept through the outage")
			}
			// Changes made while it was away are read when it is back.
			fm.Deploy(fakemarathon.AppSpec{ID: "/later", Instances: 1})
			if err := fm.Start(); err != nil {
				t.Fatal(err)
			}
			until(t, w, "the change made during the outage", func(m *Model) bool { _, ok := m.App("/later"); return ok })
			if w.Err() != nil {
				t.Fatalf("err after recovery: %v", w.Err())
			}
		})
	}
}

func TestWatcherNotifiesSubscribers(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	w := watch(t, Config{URLs: []string{fm.URL()}, Resync: Duration(time.Hour)})
	ch, cancel := w.Subscribe()
	defer cancel()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the first read")
	}
	testnet.Eventually(t, 10*time.Second, "the event stream", func() bool { return w.streaming() })
	// Drain, then one change must notify.
	select {
	case <-ch:
	default:
	}
	fm.Deploy(fakemarathon.AppSpec{ID: "/x", Instances: 1})
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of a change")
	}
}

func TestWatcherFailsOver(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/marathon15_apps.json")}})
	dead := fmt.Sprintf("http://127.0.0.1:%d", testnet.FreePort(t))
	w := watch(t, Config{URLs: []string{dead, fm.URL()}, Resync: Duration(time.Hour)})
	until(t, w, "a read from the second member", func(m *Model) bool { return m != nil && len(m.Apps) == 1 })
	testnet.Eventually(t, 10*time.Second, "the event stream on the second member", func() bool { return fm.Streams() == 1 })
	if w.Client().Preferred() != fm.URL() {
		t.Fatalf("preferred %s", w.Client().Preferred())
	}
}

func TestWatcherWithToken(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{Token: "secret", Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/marathon15_apps.json")}})
	w := watch(t, Config{URLs: []string{fm.URL()}, ACSToken: "wrong", Resync: Duration(time.Hour)})
	testnet.Eventually(t, 10*time.Second, "the refusal", func() bool { return w.Err() != nil })
	if err := w.Err().Error(); err != "marathon: GET "+fm.URL()+"/v2/apps?embed=apps.tasks&embed=apps.deployments: 401 Unauthorized: authentication required: send a valid token as Authorization: token=..." {
		t.Fatalf("err %q", err)
	}
	w = watch(t, Config{URLs: []string{fm.URL()}, ACSToken: "secret", Resync: Duration(time.Hour)})
	until(t, w, "a read with the token", func(m *Model) bool { return m != nil })
	testnet.Eventually(t, 10*time.Second, "the event stream with the token", func() bool { return fm.Streams() == 1 })
}

func serviceAccount(t *testing.T, loginURL string) (string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	secret, _ := json.Marshal(map[string]string{"login_endpoint": loginURL, "uid": "turnout", "scheme": "RS256",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
	return string(secret), key
}

func TestWatcherWithServiceAccount(t *testing.T) {
	var fm *fakemarathon.Server
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fm = fakemarathon.New(t, fakemarathon.Options{ServiceAccount: &fakemarathon.ServiceAccount{UID: "turnout", Key: &key.PublicKey},
		Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/marathon15_apps.json")}})
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	secret, _ := json.Marshal(map[string]string{"login_endpoint": fm.URL() + "/acs/api/v1/auth/login", "uid": "turnout", "scheme": "RS256",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
	w := watch(t, Config{URLs: []string{fm.URL()}, ServiceAccountSecret: string(secret), Resync: Duration(time.Hour)})
	until(t, w, "a read after logging in", func(m *Model) bool { return m != nil })
	testnet.Eventually(t, 10*time.Second, "the event stream with the token", func() bool { return fm.Streams() == 1 })
	if fm.Logins() != 1 {
		t.Fatalf("logins: %d", fm.Logins())
	}

	// A key the fake does not know is refused, with the IAM's words.
	other, _ := serviceAccount(t, fm.URL()+"/acs/api/v1/auth/login")
	w = watch(t, Config{URLs: []string{fm.URL()}, ServiceAccountSecret: other, Resync: Duration(time.Hour)})
	testnet.Eventually(t, 10*time.Second, "the refused login", func() bool { return w.Err() != nil })
	if got := w.Err().Error(); got != "marathon: no member answered: "+fm.URL()+": marathon: service account login at "+fm.URL()+"/acs/api/v1/auth/login: 401 Unauthorized: Service login JWT validation error or uid mismatch." {
		t.Fatalf("err %q", got)
	}
}

// The token is renewed at 80% of its life, read from its exp claim.
func TestTokenRenewal(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fm := fakemarathon.New(t, fakemarathon.Options{ServiceAccount: &fakemarathon.ServiceAccount{UID: "turnout", Key: &key.PublicKey}, TokenTTL: 100 * time.Second})
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	secret, _ := json.Marshal(map[string]string{"login_endpoint": fm.URL() + "/acs/api/v1/auth/login", "uid": "turnout",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))})
	_ = der
	c, err := NewClient(Config{URLs: []string{fm.URL()}, ServiceAccountSecret: string(secret)})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	c.tokens.now = func() time.Time { return clock }
	ctx := context.Background()
	first, err := c.tokens.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.RegisteredClaims
	jwt.NewParser().ParseUnverified(first, &claims)
	if life := claims.ExpiresAt.Sub(clock); life < 99*time.Second || life > 101*time.Second {
		t.Fatalf("token life %s", life)
	}
	clock = clock.Add(70 * time.Second)
	if tok, _ := c.tokens.Token(ctx); tok != first || fm.Logins() != 1 {
		t.Fatal("renewed too early")
	}
	clock = clock.Add(15 * time.Second)
	if tok, _ := c.tokens.Token(ctx); tok == first || fm.Logins() != 2 {
		t.Fatal("not renewed at 80% of its life")
	}
	// A token Marathon refuses is renewed at once.
	tok, _ := c.tokens.Token(ctx)
	c.tokens.Invalidate(tok)
	if again, _ := c.tokens.Token(ctx); again == tok || fm.Logins() != 3 {
		t.Fatal("a refused token was not renewed")
	}
}

// Marathon over HTTPS, its certificate signed by the cluster's CA: the
// watcher reads it with ca_file, and without it says the authority is
// unknown. A ca_file that cannot be used is refused with the
// configuration.
func TestWatcherOverHTTPSWithCA(t *testing.T) {
	tlsConfig, caFile := fakemarathon.TLS(t)
	fm := fakemarathon.New(t, fakemarathon.Options{TLS: tlsConfig, Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/marathon15_apps.json")}})
	if !strings.HasPrefix(fm.URL(), "https://") {
		t.Fatalf("fake URL %s", fm.URL())
	}
	for _, tc := range []struct {
		name, ca, want string
	}{
		{"with the CA", caFile, ""},
		{"without it", "", "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWatcher(Config{URLs: []string{fm.URL()}, CAFile: tc.ca}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			changed, unsubscribe := w.Subscribe()
			defer unsubscribe()
			go w.Run(ctx)
			deadline := time.After(10 * time.Second)
			for w.Model() == nil && w.Err() == nil {
				select {
				case <-changed:
				case <-deadline:
					t.Fatal("no read and no error within 10s")
				}
			}
			if tc.want == "" {
				if m := w.Model(); m == nil || !hasApp(m, "/pywebserver") {
					t.Fatalf("model %v, err %v; want the recorded /pywebserver", m, w.Err())
				}
				return
			}
			if err := w.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		notPEM: "configuration: ca_file " + notPEM + ": no PEM certificate in it",
		filepath.Join(t.TempDir(), "missing.crt"): "configuration: ca_file: open ",
	} {
		raw, _ := json.Marshal(map[string]any{"urls": []string{fm.URL()}, "ca_file": file})
		if _, err := ParseConfig(raw); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ca_file %s: %v, want %q", file, err, want)
		}
	}
}

func hasApp(m *Model, id string) bool {
	_, ok := m.App(id)
	return ok
}

// Between full reads, an event reads only the app it names (GET
// /v2/apps/{id}), task and health events of known tasks read nothing,
// and a burst of changes to one app is grouped: however many apps
// Marathon has, no event costs a full read of them (issue 18: 20 events
// cost 160 full reads across four watchers).
func TestWatcherReadsOnlyTheAppsEventsName(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	const apps = 200
	for i := range apps {
		fm.Deploy(fakemarathon.AppSpec{ID: fmt.Sprintf("/other/app-%03d", i), Instances: 1, Network: fakemarathon.Host,
			Ports: []fakemarathon.PortSpec{{ServicePort: 10000 + i}}})
	}
	w := watch(t, Config{URLs: []string{fm.URL()}, Resync: Duration(time.Hour)})
	until(t, w, "the first read", func(m *Model) bool { return m != nil && len(m.Apps) == apps })
	testnet.Eventually(t, 10*time.Second, "the event stream", func() bool { return fm.Streams() == 1 && w.streaming() })
	// The stream's attach reads everything once more (what changed
	// between the first read and the attach was not sent).
	testnet.Eventually(t, 10*time.Second, "the read after the attach", func() bool { return w.Stats().FullReads == 2 })
	full, deployments := fm.Requests("/v2/apps"), fm.Requests("/v2/deployments")

	// A new app, deployed with a health check: its tasks arrive
	// unhealthy, then pass.
	spec := fakemarathon.AppSpec{ID: "/web", Instances: 2, HealthCheck: true, Network: fakemarathon.Host,
		Ports: []fakemarathon.PortSpec{{ServicePort: 10500}}}
	fm.Deploy(spec)
	until(t, w, "the new app, deploying", func(m *Model) bool {
		a, ok := m.App("/web")
		return ok && len(a.Tasks) == 2 && m.Deploying(a)
	})
	if err := fm.MarkHealthy("/web"); err != nil {
		t.Fatal(err)
	}
	until(t, w, "the new app, ready", func(m *Model) bool {
		a, ok := m.App("/web")
		ready, _ := m.Readiness(a)
		return ok && ready
	})
	// A task killed: applied from its status events.
	task := fm.Tasks("/web")[0]
	reads := fm.Requests("/v2/apps/web")
	if err := fm.KillTask(task); err != nil {
		t.Fatal(err)
	}
	if err := fm.TaskKilled(task); err != nil {
		t.Fatal(err)
	}
	until(t, w, "the killed task gone", func(m *Model) bool { return stateOf(m, "/web", task) == "gone" })
	if n := fm.Requests("/v2/apps/web"); n != reads {
		t.Errorf("a task's kill read its app %d times, want none (the status events say it all)", n-reads)
	}

	// Ten new versions of one app in a burst.
	reads = fm.Requests("/v2/apps/other/app-007")
	for i := range 10 {
		fm.Deploy(fakemarathon.AppSpec{ID: "/other/app-007", Instances: 1, Network: fakemarathon.Host,
			Labels: map[string]string{"v": fmt.Sprint(i)}, Ports: []fakemarathon.PortSpec{{ServicePort: 10007}}})
	}
	until(t, w, "the last version", func(m *Model) bool {
		a, ok := m.App("/other/app-007")
		return ok && a.Labels["v"] == "9" && !m.Deploying(a)
	})
	t.Logf("10 versions of one app in a burst: %d reads of it", fm.Requests("/v2/apps/other/app-007")-reads)

	// An app deleted: its app_terminated_event reads it, 404, and it
	// leaves the model.
	if err := fm.Delete("/other/app-008"); err != nil {
		t.Fatal(err)
	}
	until(t, w, "the deleted app gone", func(m *Model) bool { _, ok := m.App("/other/app-008"); return !ok })

	if st := w.Stats(); st.FullReads != 2 {
		t.Errorf("watcher stats: %d full reads, want 2 (start, attach)", st.FullReads)
	}
	if n := fm.Requests("/v2/apps"); n != full {
		t.Errorf("%d full reads of /v2/apps after the first, want none", n-full)
	}
	if n := fm.Requests("/v2/deployments"); n != deployments {
		t.Errorf("%d reads of /v2/deployments after the first, want none", n-deployments)
	}
}
