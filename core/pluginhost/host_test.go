package pluginhost

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

func TestCatalogRefuses(t *testing.T) {
	dir := t.TempDir()
	good := install(t, dir, "turnout-plugin-backend-echo")
	install(t, dir, "turnout-plugin-backend-nosum")
	install(t, dir, "turnout-plugin-backend-wrongsum")
	install(t, dir, "turnout-plugin-backend-badhex")
	if err := os.WriteFile(filepath.Join(dir, "turnout-plugin-backend-notexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	install(t, outside, "elsewhere")
	if err := os.Symlink(filepath.Join(outside, "elsewhere"), filepath.Join(dir, "turnout-plugin-backend-escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("turnout-plugin-backend-echo", filepath.Join(dir, "turnout-plugin-backend-alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalog(CatalogOptions{Dir: dir, Checksums: map[string]string{
		"turnout-plugin-backend-echo":     good,
		"turnout-plugin-backend-alias":    good,
		"turnout-plugin-backend-wrongsum": strings.Repeat("ab", 32),
		"turnout-plugin-backend-badhex":   "xyz",
		"turnout-plugin-backend-escape":   good,
		"turnout-plugin-backend-notexec":  good,
		"turnout-plugin-policy-missing":   good,
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		kind sdk.Kind
		want error  // nil: usable
		text string // in the message
	}{
		{"echo", sdk.KindBackend, nil, ""},
		{"alias", sdk.KindBackend, nil, ""}, // a symlink inside the directory is fine
		{"nosum", sdk.KindBackend, ErrNoChecksum, "add --plugin-checksum turnout-plugin-backend-nosum=SHA256"},
		{"wrongsum", sdk.KindBackend, ErrChecksumMismatch, "configured abababab"},
		{"badhex", sdk.KindBackend, nil, `the configured checksum "xyz" is not a hex SHA-256`},
		{"escape", sdk.KindBackend, ErrOutsideDir, "it resolves to " + outside},
		{"notexec", sdk.KindBackend, ErrNotExecutable, "not an executable file"},
		{"missing", sdk.KindPolicy, nil, "a checksum is configured but turnout-plugin-policy-missing is not in the plugin directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := cat.Get(c.kind, c.name)
			if !ok {
				t.Fatal("not in the catalog")
			}
			if c.text == "" {
				if e.Refused != nil {
					t.Fatalf("refused: %v", e.Refused)
				}
				return
			}
			if e.Refused == nil || !strings.Contains(e.Refused.Error(), c.text) {
				t.Fatalf("refused with %v, want it to say %q", e.Refused, c.text)
			}
			if c.want != nil && !errors.Is(e.Refused, c.want) {
				t.Fatalf("refused with %v, want %v", e.Refused, c.want)
			}
		})
	}
	if _, ok := cat.Get(sdk.KindBackend, "README"); ok {
		t.Fatal("a file without the plugin prefix was taken")
	}
}

func TestChecksumCheckedBeforeEachStart(t *testing.T) {
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-echo")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-echo": sum}}, nil, &log)
	// The file changes after it was checked: go-plugin's SecureConfig
	// hashes it again before exec, and it must not run.
	f, err := os.OpenFile(filepath.Join(dir, "turnout-plugin-backend-echo"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("tampered"))
	f.Close()
	st, err := h.Describe(t.Context(), sdk.KindBackend, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateRefused || !strings.Contains(st.LastError, "checksum mismatch") {
		t.Fatalf("state %s, error %q; want refused for a checksum mismatch", st.State, st.LastError)
	}
}

func TestAPIVersionMismatchNamesBothVersions(t *testing.T) {
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-future")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-future": sum}}, nil, &log)
	st, err := h.Describe(t.Context(), sdk.KindBackend, "future")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateRefused {
		t.Fatalf("state %s (%s), want refused", st.State, st.LastError)
	}
	for _, want := range []string{"incompatible plugin API version", "Plugin version: 2", "Turnout speaks API versions [1]"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("error %q does not say %q", st.LastError, want)
		}
	}
}

func TestPluginMustBeWhoItsNameSays(t *testing.T) {
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-liar")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-liar": sum}}, nil, &log)
	st, _ := h.Describe(t.Context(), sdk.KindBackend, "liar")
	if !strings.Contains(st.LastError, "the executable says it is backend/someone-else") {
		t.Fatalf("state %s, error %q", st.State, st.LastError)
	}
}

func TestConfigureErrorIsShown(t *testing.T) {
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-echo")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-echo": sum}},
		map[string]json.RawMessage{"echo": json.RawMessage(`{"fail": "no address configured"}`)}, &log)
	st, _ := h.Describe(t.Context(), sdk.KindBackend, "echo")
	if st.State != StateBackoff || !strings.Contains(st.LastError, "configure: echo: no address configured") {
		t.Fatalf("state %s, error %q", st.State, st.LastError)
	}
}

// echoHost runs the echo plugin and watches one target on it.
func echoHost(t *testing.T, target sdk.Target) (*Host, *testnet.Buffer) {
	t.Helper()
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-echo")
	log := &testnet.Buffer{}
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-echo": sum}}, nil, log)
	h.SyncTargets([]sdk.Target{target})
	testnet.Eventually(t, 10*time.Second, "first snapshot", func() bool {
		r, _ := h.Resolve(target)
		return r.Received && !r.Stale
	})
	return h, log
}

func pid(t *testing.T, h *Host, name string) int {
	t.Helper()
	for _, s := range h.Statuses() {
		if s.Name == name && s.PID != 0 {
			return s.PID
		}
	}
	t.Fatalf("plugin %s has no process", name)
	return 0
}

func TestCrashedPluginRestartsAndRoutesKeepEndpoints(t *testing.T) {
	target := sdk.Target{Scheme: "echo", Ref: "127.0.0.1:1,127.0.0.1:2"}
	h, log := echoHost(t, target)
	first := pid(t, h, "echo")
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// While it is down, the endpoints stay; once back, they are fresh.
	testnet.Eventually(t, 5*time.Second, "stale while down", func() bool {
		r, _ := h.Resolve(target)
		return r.Stale && len(r.Endpoints) == 2
	})
	testnet.Eventually(t, 10*time.Second, "restarted and fresh", func() bool {
		r, _ := h.Resolve(target)
		st := h.Statuses()[0]
		return !r.Stale && len(r.Endpoints) == 2 && st.State == StateRunning && st.PID != first && st.Restarts == 1
	})
	for _, want := range []string{"plugin crashed; restarting", "plugin started"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestHungPluginIsKilledAndRestarted(t *testing.T) {
	target := sdk.Target{Scheme: "echo", Ref: "127.0.0.1:1"}
	h, log := echoHost(t, target)
	hung := pid(t, h, "echo")
	// A stopped process keeps its socket open but answers nothing: a hang.
	if err := syscall.Kill(hung, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, "a new process", func() bool {
		st := h.Statuses()[0]
		return st.State == StateRunning && st.PID != 0 && st.PID != hung
	})
	testnet.Eventually(t, 5*time.Second, "the hung process killed", func() bool {
		return syscall.Kill(hung, 0) != nil
	})
	if !strings.Contains(log.String(), "did not answer a ping") {
		t.Errorf("log does not say why:\n%s", log)
	}
}

func TestPluginLogsReachHostLog(t *testing.T) {
	target := sdk.Target{Scheme: "echo", Ref: "127.0.0.1:9"}
	_, log := echoHost(t, target)
	defer func() {
		if t.Failed() {
			t.Log(log.String())
		}
	}()
	testnet.Eventually(t, 5*time.Second, "the plugin's log line", func() bool {
		return strings.Contains(log.String(), `msg=watching plugin=backend/echo target=echo:127.0.0.1:9`)
	})
}

func TestMalformedTargetIsRefusedWithPluginsWords(t *testing.T) {
	target := sdk.Target{Scheme: "echo", Ref: "bad-ref"}
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-echo")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-echo": sum}}, nil, &log)
	h.SyncTargets([]sdk.Target{target})
	testnet.Eventually(t, 10*time.Second, "refusal", func() bool {
		r, _ := h.Resolve(target)
		return r.Error == `echo: malformed reference "bad-ref"` && !r.Received
	})
}

func TestUnknownSchemeNamesThePlugins(t *testing.T) {
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-echo")
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-echo": sum}}, nil, &log)
	err := h.CheckScheme("zookeeper")
	if err == nil || err.Error() != `no backend plugin resolves "zookeeper:" targets (backend plugins: echo)` {
		t.Fatalf("got %v", err)
	}
}

// A target whose scheme no plugin resolves is refused with the reason, and
// dropping it later is fine (a gateway stored before its plugin went away).
func TestUnresolvableTargetComesAndGoes(t *testing.T) {
	var log testnet.Buffer
	h, _ := startHost(t, CatalogOptions{}, nil, &log)
	target := sdk.Target{Scheme: "gone", Ref: "x"}
	h.SyncTargets([]sdk.Target{target})
	r, ok := h.Resolve(target)
	if !ok || r.Error != `no backend plugin resolves "gone:" targets (backend plugins: none)` {
		t.Fatalf("resolution %+v", r)
	}
	h.SyncTargets(nil)
	if _, ok := h.Resolve(target); ok {
		t.Fatal("the target is still watched")
	}
}

// A scheme goes to the backend plugin named after it, else to the
// built-in whose Info lists it (the dcos plugin serves three schemes from
// one process); a third-party plugin named after a scheme takes it from
// that built-in, which keeps the others.
func TestSchemeGoesToThePluginThatServesIt(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum := install(t, dir, "turnout-plugin-backend-marathon")
	cat, err := NewCatalog(CatalogOptions{Self: self, Dir: dir, Checksums: map[string]string{"turnout-plugin-backend-marathon": sum},
		Builtins: []Builtin{{Kind: sdk.KindBackend, Name: "dcos", Info: sdk.Info{Schemes: []string{"marathon", "minuteman", "marathon-lb"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for scheme, want := range map[string]string{"marathon": "marathon", "minuteman": "dcos", "marathon-lb": "dcos", "dcos": "dcos", "consul": ""} {
		e, ok := cat.ForScheme(scheme)
		if ok != (want != "") || e.Name != want {
			t.Errorf("%s: plugin %q (found %v), want %q", scheme, e.Name, ok, want)
		}
	}
	h := New(Options{Catalog: cat})
	if err := h.CheckScheme("consul"); err == nil || err.Error() != `no backend plugin resolves "consul:" targets (backend plugins: dcos (marathon, minuteman, marathon-lb), marathon)` {
		t.Errorf("unknown scheme: %v", err)
	}
}
