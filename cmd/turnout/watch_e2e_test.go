package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/turnout/turnout/internal/testnet"
)

// TestStatusWatchOnATerminalAndThroughAPipe: on a terminal, status --watch
// redraws a view with each route's weights and live requests per second,
// errors and p99; through a pipe it prints one line per event instead,
// with no terminal escapes.
func TestStatusWatchOnATerminalAndThroughAPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	gw := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(gw, []byte(seed(port, "50%", "50%")), 0o644); err != nil {
		t.Fatal(err)
	}
	tt := run(t, append([]string{"--data-dir", t.TempDir()}, seedPins(t)...)...)
	if out, code := tt.cli("gateway", "apply", "-f", gw); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	load := steadyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	defer load.stop()

	// On a terminal.
	term := exec.Command(binary, "gateway", "status", "simpleservice", "--watch", "--interval", "200ms", "--addr", tt.admin)
	ptmx, err := pty.Start(term)
	if err != nil {
		t.Fatal(err)
	}
	screen := &testnet.Buffer{}
	copied := make(chan struct{})
	go func() {
		io.Copy(screen, ptmx) // until the process ends and the pty closes
		close(copied)
	}()
	defer func() {
		term.Process.Kill()
		term.Wait()
		ptmx.Close()
		<-copied
		if t.Failed() {
			t.Logf("terminal:\n%q", screen.String())
		}
	}()
	// A redraw whose routes show a rate: a number of requests per second,
	// an error share and a p99.
	live := regexp.MustCompile(`1\.1\.0[^\n]*:3000\]\s+50%\s+50%\s+[0-9]+\.[0-9]\s+[0-9.]+%\s+[0-9.]+[µmn]?s\s+-`)
	testnet.Eventually(t, 30*time.Second, "a redraw with live figures", func() bool {
		s := screen.String()
		i := strings.LastIndex(s, clearScreen)
		return strings.Count(s, clearScreen) >= 2 && i >= 0 && strings.Contains(s[i:], "ROUTE") && live.MatchString(s[i:])
	})

	// Through a pipe.
	lines := &testnet.Buffer{}
	pipe := exec.Command(binary, "gateway", "status", "simpleservice", "--watch", "--addr", tt.admin)
	pipe.Stdout, pipe.Stderr = lines, lines
	if err := pipe.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pipe.Process.Kill()
		pipe.Wait()
		if t.Failed() {
			t.Logf("pipe:\n%s", lines.String())
		}
	}()
	// The watch subscribes on its own time: change until it shows one.
	weights := []string{"1.0.0@60%,1.1.0@40%", "1.0.0@50%,1.1.0@50%"}
	n := 0
	testnet.Eventually(t, 30*time.Second, "a line for a change", func() bool {
		n++
		if out, code := tt.cli("gateway", "update", "simpleservice", "--weights", weights[n%2], "--reason", fmt.Sprint("tick ", n)); code != 0 {
			t.Fatalf("update: exit %d\n%s", code, out)
		}
		return strings.Contains(lines.String(), "gateway.changed  simpleservice  revision ")
	})
	if out := lines.String(); strings.Contains(out, "\x1b") || !regexp.MustCompile(`(?m)^\S+  gateway\.changed  simpleservice  revision \d+  by anonymous: tick \d+$`).MatchString(out) {
		t.Fatalf("pipe output:\n%q", out)
	}
}
