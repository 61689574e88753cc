package filesource

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// Watch reloads on a change and reports each attempt's result.
func TestWatchReloadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.yaml")
	write(t, path, "name: a\nport: 9000\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	applied := make(chan string, 10)
	results := make(chan error, 10)
	go Watch(ctx, path, func(g []*gateway.Gateway) error {
		applied <- g[0].Name
		return nil
	}, func(err error) { results <- err }, slog.New(slog.NewTextHandler(io.Discard, nil)))

	// The watch may not be set up yet: keep writing until it reports.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(300 * time.Millisecond) // longer than the settle time
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			write(t, path, "name: b\nport: 9000\n")
		case name := <-applied:
			if name != "b" {
				t.Fatalf("applied %q", name)
			}
			done = true
		case <-deadline:
			t.Fatal("no reload within 5s of writing the file")
		}
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
}
