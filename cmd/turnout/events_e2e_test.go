package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/internal/testnet"
)

// kept reads every event the agent at admin keeps that matches query
// (?last_event_id=0 and the filter), until it has read one of each type
// in want, in that order; it fails after 20 s.
func kept(t *testing.T, admin, query string, want ...events.Type) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+admin+"/api/v1/events?last_event_id=0&"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := events.NewReader(resp.Body)
	var got []events.Event
	for len(want) > 0 {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("events %s: still waiting for %v after %+v: %v", query, want, got, err)
		}
		var e events.Event
		if m.ID == "" || json.Unmarshal(m.Data, &e) != nil {
			continue
		}
		got = append(got, e)
		if e.Type == want[0] {
			want = want[1:]
		}
	}
	return got
}

// TestEventsTailShowsWhoAndWhyAcrossARestart: `turnout events` prints each
// change with its revision, the name of the token that made it and the
// --reason given; the history shows the same; and the tail survives a
// restart of the server, printing the changes made after it once each.
func TestEventsTailShowsWhoAndWhyAcrossARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# operators\nalice:a-secret\n\nbob: b-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(gw, []byte(seed(testnet.FreePort(t), "100%", "0%")), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--data-dir", filepath.Join(dir, "data"), "--tokens-file", tokens}, seedPins(t)...)
	tt := run(t, args...)

	out := &testnet.Buffer{}
	tail := exec.Command(binary, "events", "--addr", tt.admin, "--token", "a-secret", "--gateway", "simpleservice", "--type", "gateway", "--since", "0")
	tail.Stdout, tail.Stderr = out, out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tail.Process.Kill()
		tail.Wait()
		if t.Failed() {
			t.Logf("turnout events:\n%s", out)
		}
	})
	sees := func(what string) {
		t.Helper()
		testnet.Eventually(t, 30*time.Second, "turnout events to print "+what, func() bool { return strings.Contains(out.String(), what) })
	}
	mustCLI := func(args ...string) string {
		t.Helper()
		got, code := tt.cli(args...)
		if code != 0 {
			t.Fatalf("turnout %s: exit %d\n%s", strings.Join(args, " "), code, got)
		}
		return got
	}

	mustCLI("gateway", "apply", "-f", gw, "--token", "a-secret", "--reason", "first cut")
	sees("gateway.created  simpleservice  revision 1  by alice: first cut")
	mustCLI("gateway", "update", "simpleservice", "--weights", "1.0.0@90%,1.1.0@10%", "--token", "b-secret", "--reason", "10% to 1.1.0")
	sees("gateway.changed  simpleservice  revision 2  by bob: 10% to 1.1.0")
	hist := mustCLI("gateway", "history", "simpleservice", "--token", "a-secret")
	if !strings.Contains(hist, "alice   first cut") || !strings.Contains(hist, "bob     10% to 1.1.0") {
		t.Fatalf("history:\n%s", hist)
	}
	// The unnamed-token forms are refused: only the file's tokens count.
	if got, code := tt.cli("gateway", "list", "--token", "alice"); code != 1 {
		t.Fatalf("a token's name as the token: exit %d\n%s", code, got)
	}

	// A restart on the same address: the tail reconnects on its own.
	tt.stop()
	sees("reconnecting")
	tt = runAt(t, tt.admin, args...)
	mustCLI("gateway", "rollback", "simpleservice", "--to", "1", "--token", "a-secret", "--reason", "after the restart")
	sees("gateway.changed  simpleservice  revision 3  by alice: rollback to revision 1: after the restart")
	if n := strings.Count(out.String(), "revision 1 "); n != 1 {
		t.Errorf("revision 1 printed %d times", n)
	}
}
