package filesource

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, data, wantErr string
		wantGateways        int
	}{
		{"one gateway", "name: a\nport: 9000\n", "", 1},
		{"two documents", "name: a\nport: 9000\n---\nname: b\nport: 9001\n", "", 2},
		{"empty file", "  \n", "the file is empty; refusing to remove every gateway", 0},
		{"bad file", "name: a\nport: 9000/udp\n", "bad file.yaml:2:7", 0},
		// Named conditions live in the API's store, even in the stored form
		// that carries the text.
		{"named condition", "name: a\nport: 9000\nroutes:\n  \"[h:1]\":\n    condition: {reference: ff}\n",
			`named condition.yaml:1: gateway "a": routes."[h:1]".condition.reference: references the named condition "ff", and named conditions live in the API's store`, 0},
		{"named condition with its text", "name: a\nport: 9000\nroutes:\n  \"[h:1]\":\n    condition: {reference: ff, condition: user-agent = Firefox}\n",
			"named conditions live in the API's store", 0},
		{"stored route", "name: a\nport: 9000\nroutes:\n  \"[h:1]\": canary\n",
			`stored route.yaml:1: gateway "a": routes."[h:1]".reference: references the stored route "canary", and stored routes live in the API's store`, 0},
		{"stored route with its fields", "name: a\nport: 9000\nroutes:\n  \"[h:1]\": {reference: canary, weight: 100%}\n",
			"stored routes live in the API's store", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			write(t, path, tc.data)
			var got []*gateway.Gateway
			err := Load(path, func(g []*gateway.Gateway) error { got = g; return nil })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				if got != nil {
					t.Fatal("a refused file reached apply")
				}
				return
			}
			if err != nil || len(got) != tc.wantGateways {
				t.Fatalf("got %d gateways, err %v", len(got), err)
			}
		})
	}
	if err := Load(filepath.Join(dir, "missing.yaml"), func([]*gateway.Gateway) error { return nil }); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// A Watcher, once armed, reloads on a change and on SIGHUP, and reports
// each attempt's result: nothing is missed between arming and Run.
func TestWatchReloadsOnChangeAndSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.yaml")
	write(t, path, "name: a\nport: 9000\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	applied := make(chan string, 10)
	results := make(chan error, 10)
	w, err := NewWatcher(path)
	if err != nil {
		t.Fatal(err)
	}
	// Both happen before Run: the watch is armed.
	write(t, path, "name: b\nport: 9000\n")
	go w.Run(ctx, func(g []*gateway.Gateway) error {
		applied <- g[0].Name
		return nil
	}, func(err error) { results <- err }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, want := range []string{"b", "c"} {
		select {
		case name := <-applied:
			if name != want {
				t.Fatalf("applied %q, want %q", name, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no reload of %q", want)
		}
		if err := <-results; err != nil {
			t.Fatal(err)
		}
		if want == "b" {
			write(t, path, "name: c\nport: 9000\n")
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
		}
	}
}
