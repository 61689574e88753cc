package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// notices is a local receiver of rollout notifications: the bodies
// POSTed to it, in order.
type notices struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (n *notices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	n.mu.Lock()
	n.bodies = append(n.bodies, m)
	n.mu.Unlock()
}

func (n *notices) got() []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.bodies)
}

// A canary's rollout told to a Slack-format receiver configured for the
// agent (serve --notify) and to a webhook of the gateway's own (its
// policy's notify), as it goes: started, each step, promoted. The policy
// plugin never sees the notify list (it would refuse the key).
func TestRolloutNotifications(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	var slackR, hookR notices
	slackURL, hookURL := "http://"+serveHTTP(t, &slackR).String()+"/services/T/B/x", "http://"+serveHTTP(t, &hookR).String()+"/hook"
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	gw := canaryGateway(port, stable, canary, fmt.Sprintf("  interval: 1s\n  steps: [20, 50]\n  threshold: 1\n  min_requests: 1\n  notify:\n    - {format: webhook, url: %q}\n", hookURL))
	tt := start(t, gw, "--notify", "slack="+slackURL)
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 2, 5*time.Millisecond)
	tt.awaitStatus("shop", 30*time.Second, "the promotion", func(st e2eStatus) bool { return st.Policy != nil && st.Policy.Phase == "promoted" })

	testnet.Eventually(t, 10*time.Second, "the promotion told to both receivers", func() bool {
		h, s := hookR.got(), slackR.got()
		return len(h) > 0 && h[len(h)-1]["event"] == "promoted" && len(s) == len(h)
	})
	var events []string
	for _, b := range hookR.got() {
		events = append(events, fmt.Sprint(b["event"]))
	}
	if want := []string{"started", "step", "promoted"}; !slices.Equal(events, want) {
		t.Errorf("webhook events %v, want %v", events, want)
	}
	if s := slackR.got(); s[0]["text"] != "Gateway shop: canary rollout started" || s[len(s)-1]["text"] != "Gateway shop: canary rollout promoted" {
		t.Errorf("slack texts: %v ... %v", s[0]["text"], s[len(s)-1]["text"])
	}
	// Counted once the receiver's answer is read, just after it recorded.
	testnet.Eventually(t, 10*time.Second, "the three slack notices counted", func() bool {
		return slices.Contains(strings.Split(tt.metrics(), "\n"), `turnout_notifications_total{format="slack",result="ok"} 3`)
	})
}
