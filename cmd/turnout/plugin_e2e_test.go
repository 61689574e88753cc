package main

// End-to-end tests of the plugin system: the real turnout binary running the
// example third-party plugins of docs/examples as real subprocesses.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/policy/canary"
)

var (
	examplesOnce sync.Once
	examplesDir  string
	examplesErr  error
)

// examplePlugins builds docs/examples' plugins once, into a directory named
// as a plugin directory, and returns it with their checksums.
func examplePlugins(t *testing.T) (string, map[string]string) {
	t.Helper()
	examplesOnce.Do(func() {
		examplesDir = filepath.Join(filepath.Dir(binary), "plugins")
		for _, ex := range []struct{ pkg, file string }{
			{"../../docs/examples/backend-file", "turnout-plugin-backend-file"},
			{"../../docs/examples/policy-window", "turnout-plugin-policy-window"},
		} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(examplesDir, ex.file), ex.pkg).CombinedOutput()
			if err != nil {
				examplesErr = fmt.Errorf("build %s: %v\n%s", ex.pkg, err, out)
				return
			}
		}
	})
	if examplesErr != nil {
		t.Fatal(examplesErr)
	}
	sums := map[string]string{}
	for _, f := range []string{"turnout-plugin-backend-file", "turnout-plugin-policy-window"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		sums[f] = hex.EncodeToString(s[:])
	}
	return examplesDir, sums
}

// pluginArgs are serve's flags for the example plugins.
func pluginArgs(t *testing.T) []string {
	dir, sums := examplePlugins(t)
	args := []string{"--plugin-dir", dir, "--plugin-config", `file={"poll": "50ms"}`}
	for f, s := range sums {
		args = append(args, "--plugin-checksum", f+"="+s)
	}
	return args
}

// endpointsFile writes a file backend's endpoint list.
func endpointsFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pluginPID is the process of a running plugin (0 if none).
func (tt *turnout) pluginPID(id string) (pid, restarts int) {
	var list []pluginInfo
	tt.getJSON("/api/v1/plugins", &list)
	for _, p := range list {
		if p.Kind+"/"+p.Name == id && p.State == "running" {
			return p.PID, p.Restarts
		}
	}
	return 0, 0
}

// fileGateway splits 50/50 between two file: targets.
func fileGateway(port int, v1, v2 string) string {
	return fmt.Sprintf(`name: shop
port: %d/http
routes:
  "file:%s":
    weight: 50%%
  "file:%s":
    weight: 50%%
`, port, v1, v2)
}

// fileSetup starts turnout with the file backend in front of two real
// backends, and returns the gateway URL and the two endpoint files.
func fileSetup(t *testing.T) (*turnout, string, string, string) {
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1.endpoints"), filepath.Join(dir, "v2.endpoints")
	endpointsFile(t, v1, testnet.Backend(t, "1.0.0"))
	endpointsFile(t, v2, testnet.Backend(t, "1.1.0"))
	port := testnet.FreePort(t)
	tt := start(t, fileGateway(port, v1, v2), pluginArgs(t)...)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt.awaitStatus("shop", 10*time.Second, "both routes resolved", func(st e2eStatus) bool {
		return len(st.Routes) == 2 && st.Routes[0].Effective == "50%" && st.Routes[1].Effective == "50%"
	})
	return tt, url, v1, v2
}

func TestThirdPartyBackendPluginDrivesTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt, url, _, v2 := fileSetup(t)
	got := split(t, url, 2000, 4, nil)
	within(t, "1.0.0 through file:", got["1.0.0"], 2000, 50, 1)
	within(t, "1.1.0 through file:", got["1.1.0"], 2000, 50, 1)

	// A route whose endpoints are all unhealthy is held: its share goes
	// to the other route instead of failing.
	v2addr, _ := os.ReadFile(v2)
	endpointsFile(t, v2, strings.TrimSpace(string(v2addr))+" unhealthy")
	tt.heldIs(1, "no healthy endpoint")
	if got := split(t, url, 400, 4, nil); got["1.0.0"] != 400 {
		t.Fatalf("a held route got traffic: %v", got)
	}
	endpointsFile(t, v2, strings.TrimSpace(string(v2addr)))
	testnet.Eventually(t, 5*time.Second, "1.1.0 back", func() bool {
		return split(t, url, 100, 2, nil)["1.1.0"] == 50
	})
	if !strings.Contains(tt.metrics(), `turnout_plugin_up{plugin="backend/file"} 1`) {
		t.Error("no turnout_plugin_up metric for the running plugin")
	}
}

// heldIs waits until route i of the shop gateway is held for the reason.
func (tt *turnout) heldIs(i int, reason string) {
	tt.t.Helper()
	tt.awaitStatus("shop", 5*time.Second, fmt.Sprintf("route %d held: %s", i, reason), func(st e2eStatus) bool {
		return st.Routes[i].Held == reason
	})
}

// A new version is held until its plugin first calls it ready; after that,
// a "not ready" (a redeployment of the same app) does not take its traffic
// while it has healthy endpoints.
func TestRequireReadyHoldsANewVersionUntilFirstReady(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1.endpoints"), filepath.Join(dir, "v2.endpoints")
	b1, b2 := testnet.Backend(t, "1.0.0"), testnet.Backend(t, "1.1.0")
	endpointsFile(t, v1, b1)
	endpointsFile(t, v2, b2, "not-ready: warming caches")
	port := testnet.FreePort(t)
	tt := start(t, fileGateway(port, v1, v2), pluginArgs(t)...)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt.heldIs(1, "not ready: warming caches")
	if got := split(t, url, 400, 4, nil); got["1.0.0"] != 400 {
		t.Fatalf("a version not ready yet got traffic: %v", got)
	}
	if m := tt.metrics(); !strings.Contains(m, `turnout_route_held{gateway="shop",route="file:`+v2+`"} 1`) {
		t.Error("turnout_route_held is not 1 for the held route")
	}
	endpointsFile(t, v2, b2)
	testnet.Eventually(t, 5*time.Second, "1.1.0 gets its 50%", func() bool {
		return split(t, url, 100, 2, nil)["1.1.0"] == 50
	})
	endpointsFile(t, v2, b2, "not-ready: redeploying")
	tt.awaitStatus("shop", 5*time.Second, "the plugin reports the redeployment", func(st e2eStatus) bool {
		return st.Routes[1].Ready != nil && !*st.Routes[1].Ready && st.Routes[1].Held == ""
	})
	if got := split(t, url, 200, 4, nil); got["1.1.0"] != 100 {
		t.Fatalf("a version that was ready lost its traffic to a redeployment: %v", got)
	}
}

func TestCrashedPluginRestartsWithoutFailingARequest(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt, url, _, _ := fileSetup(t)
	first, _ := tt.pluginPID("backend/file")
	if first == 0 {
		t.Fatal("the file plugin is not running")
	}
	// Keep-alive clients send requests all along; none may fail while the
	// plugin is down and restarted.
	l := startLoad(t, url, loadOptions{clients: 4})
	l.await(t, 100, "before the crash")
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, "the plugin restarted", func() bool {
		pid, restarts := tt.pluginPID("backend/file")
		return pid != 0 && pid != first && restarts == 1
	})
	l.await(t, 100, "after the restart")
	l.finish(t, "requests while the plugin crashed and restarted")
	m := tt.metrics()
	for _, want := range []string{`turnout_plugin_crashes_total{plugin="backend/file"} 1`, `turnout_plugin_starts_total{plugin="backend/file"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(tt.logs.String(), "plugin crashed; restarting") {
		t.Error("no log line for the crash")
	}
	// The event stream: started, crashed with why, started again; and the
	// routes' endpoints, which the restart did not take away.
	for _, e := range kept(t, tt.admin, "type=plugin", events.PluginStarted, events.PluginCrashed, events.PluginStarted) {
		if e.Type == events.PluginCrashed && e.Reason == "" {
			t.Errorf("a crash without why: %+v", e)
		}
	}
	kept(t, tt.admin, "type=endpoints", events.EndpointsAdded)
}

// alive says whether a process exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestNoPluginOutlivesTurnoutKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt, _, _, _ := fileSetup(t)
	pid, _ := tt.pluginPID("backend/file")
	if pid == 0 || !alive(pid) {
		t.Fatal("the file plugin is not running")
	}
	if err := tt.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tt.cmd.Wait()
	testnet.Eventually(t, 5*time.Second, fmt.Sprintf("plugin process %d to end with turnout", pid), func() bool { return !alive(pid) })
}

func TestPluginWithWrongChecksumIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir, _ := examplePlugins(t)
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf("name: static\nport: %d/http\nroutes: {}\n", port),
		"--plugin-dir", dir, "--plugin-checksum", "turnout-plugin-backend-file="+strings.Repeat("0", 64))
	out, code := tt.cli("plugin", "list")
	if code != 0 {
		t.Fatalf("plugin list: exit %d\n%s", code, out)
	}
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "backend file directory - - mismatch refused 0") ||
		!strings.Contains(flat, "policy canary built-in "+canary.Version+" v1 verified (turnout binary) stopped 0") {
		t.Errorf("plugin list:\n%s", out)
	}
	gw := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(gw, []byte(fileGateway(testnet.FreePort(t), "/tmp/a", "/tmp/b")), 0o644)
	if out, code := tt.cli("gateway", "apply", "-f", gw); code != 1 || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("apply: exit %d, output %s", code, out)
	}
}

// The example third-party policy plugin (docs/examples/policy-window), run
// by the binary as a real subprocess, drives real traffic to promotion.
func TestThirdPartyPolicyPluginDrivesWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf(`name: shop
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
policy:
  type: window
  interval: 300ms
  stable: "[%s]"
  canary: "[%s]"
  step: 50
  from: "00:00"
  to: "00:00"
`, port, stable.addr, canary.addr, stable.addr, canary.addr), pluginArgs(t)...)
	if out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "30s"); code != 0 {
		t.Fatalf("status --wait: exit %d\n%s", code, out)
	}
	if got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 200, 4, nil); got["1.1.0"] != 200 {
		t.Fatalf("after promotion: %v", got)
	}
	out, _ := tt.cli("gateway", "history", "shop")
	for _, want := range []string{"policy window: step: inside the window 00:00-00:00 UTC: canary to 50%", "policy window: promote: the canary reached 100% inside the window"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
}
