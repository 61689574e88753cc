package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/testnet"
)

// receiver is a local HTTP endpoint that records the bodies POSTed to it;
// fail, if set, answers a request with that status instead.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	fail   func(n int) int
	n      atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.n.Add(1))
		if r.fail != nil {
			if code := r.fail(n); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &m) != nil {
			t.Errorf("a notification that is no JSON: %q", b)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func decision(gw, action string, step int) events.Event {
	return events.Event{Type: events.PolicyDecision, Gateway: gw, Reason: action + " reason",
		Data: map[string]any{"policy": "canary", "action": action, "phase": "progressing", "step": step,
			"weights": map[string]string{"[a:1]": "90%", "[b:1]": "10%"},
			"checks":  []map[string]any{{"name": "error-rate", "route": "[b:1]", "value": 0.5, "limit": 1, "passed": true}}}}
}

// Every rollout event but holds reaches the agent-wide receivers, and a
// gateway's own receivers get that gateway's, in order, each in its
// format; a receiver answering 5xx is tried again.
func TestRolloutEventsReachTheReceivers(t *testing.T) {
	slackR, teamsR, hookR := newReceiver(t), newReceiver(t), newReceiver(t)
	teamsR.fail = func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable // the first try fails
		}
		return 0
	}
	bus := events.New(0, 0)
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sent"}, []string{"format", "result"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Bus: bus, Sent: sent,
			Receivers: []gateway.Notify{{Format: "slack", URL: slackR.srv.URL + "/services/T/B/secret"}},
			Gateway: func(name string) []gateway.Notify {
				if name == "shop" {
					return []gateway.Notify{{Format: "teams", URL: teamsR.srv.URL}, {Format: "webhook", URL: hookR.srv.URL}}
				}
				return nil
			}})
	}()
	testnet.Eventually(t, 5*time.Second, "the notifier subscribed", func() bool { return bus.Subscribers() == 1 })

	bus.Publish(decision("shop", "step", 1))
	bus.Publish(decision("shop", "hold", 1))
	bus.Publish(decision("shop", "step", 2))
	bus.Publish(decision("other", "pause", 1))
	bus.Publish(decision("shop", "promote", 3))
	bus.Publish(events.Event{Type: events.PolicyFailed, Gateway: "shop", Reason: "the canary policy plugin is not running",
		Data: map[string]any{"policy": "canary", "action": "hold", "phase": "progressing", "step": 3}})
	bus.Publish(decision("shop", "rollback", 4))

	testnet.Eventually(t, 10*time.Second, "every notice delivered", func() bool {
		return len(slackR.got()) == 6 && len(teamsR.got()) == 5 && len(hookR.got()) == 5
	})
	var events []string
	for _, b := range hookR.got() {
		events = append(events, b["event"].(string))
	}
	if want := []string{"started", "step", "promoted", "failed", "rolled back"}; !slices.Equal(events, want) {
		t.Errorf("webhook events %v, want %v", events, want)
	}
	if h := hookR.got()[0]; h["gateway"] != "shop" || h["policy"] != "canary" || h["step"] != 1.0 || h["reason"] != "step reason" {
		t.Errorf("webhook notice %v", h)
	}
	s := slackR.got()
	if s[0]["text"] != "Gateway shop: canary rollout started" || s[2]["text"] != "Gateway other: canary rollout paused" {
		t.Errorf("slack texts %q, %q", s[0]["text"], s[2]["text"])
	}
	att := s[3]["attachments"].([]any)[0].(map[string]any)
	if att["color"] != "#2EB886" || att["text"] != "promote reason" || !strings.Contains(fieldsText(att["fields"]), "Weights=[a:1] 90%, [b:1] 10%") {
		t.Errorf("slack attachment %v", att)
	}
	c := teamsR.got()[3]
	if c["@type"] != "MessageCard" || c["themeColor"] != "A30200" || c["title"] != "Gateway shop: canary rollout failed" || c["text"] != "the canary policy plugin is not running" {
		t.Errorf("teams card %v", c)
	}
	for format, want := range map[string]float64{"slack": 6, "teams": 5, "webhook": 5} {
		if got := testutil.ToFloat64(sent.WithLabelValues(format, "ok")); got != want {
			t.Errorf("%s ok: %v, want %v", format, got, want)
		}
	}
	bus.Close()
	<-done // Run ends with the bus
}

func fieldsText(v any) string {
	var out []string
	for _, f := range v.([]any) {
		m := f.(map[string]any)
		out = append(out, m["title"].(string)+"="+m["value"].(string))
	}
	return strings.Join(out, "; ")
}

// A receiver that refuses (4xx) is not tried again; the failure is counted
// and logged without its URL's secret path.
func TestRefusedNotificationIsNotRetried(t *testing.T) {
	r := newReceiver(t)
	r.fail = func(int) int { return http.StatusForbidden }
	var log testnet.Buffer
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sent"}, []string{"format", "result"})
	s := newSender(t.Context(), gateway.Notify{Format: "slack", URL: r.srv.URL + "/services/T/B/secret"},
		Options{Client: http.DefaultClient, Sent: sent, Logger: testLogger(&log)})
	s.queue(Notice{Event: Started, Gateway: "shop", Policy: "canary"})
	testnet.Eventually(t, 5*time.Second, "the refusal counted", func() bool {
		return testutil.ToFloat64(sent.WithLabelValues("slack", "error")) == 1
	})
	if n := r.n.Load(); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
	if l := log.String(); strings.Contains(l, "secret") || !strings.Contains(l, "403 Forbidden") {
		t.Errorf("log: %s", l)
	}
}

func testLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
