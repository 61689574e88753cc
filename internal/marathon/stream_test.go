package marathon

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// streamFrom runs one streamOnce against a server whose /v2/events is
// handler (and whose /v2/leader answers), and returns the events read and
// why the stream ended.
func streamFrom(t *testing.T, c Config, handler http.HandlerFunc) (attached bool, events []event, err error) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/events", handler)
	mux.HandleFunc("/v2/leader", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"leader":"x:8080"}`)) })
	c.URLs = []string{"http://" + testnet.HandlerBackend(t, mux)}
	w, err := NewWatcher(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = w.streamOnce(ctx, 0, func() { attached = true }, func(ev event) { events = append(events, ev) })
	return attached, events, err
}

// The recorded stream of Marathon 1.4.12's docs (testdata
// marathon/v1.4.12/.../examples/events.txt, unchanged) is read record by
// record: the attach, then its two status updates.
func TestStreamReadsRecordedEvents(t *testing.T) {
	body := fakemarathon.Fixture("marathon/v1.4.12/docs/docs/rest-api/public/api/v2/examples/events.txt")
	attached, events, err := streamFrom(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" || len(r.URL.Query()["event_type"]) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	})
	if !attached || err == nil || err.Error() != "the event stream ended" {
		t.Fatalf("attached %v, err %v", attached, err)
	}
	var got []string
	for _, ev := range events {
		if u, ok := ev.update.(statusUpdate); ok {
			got = append(got, u.AppID+" "+u.TaskID+" "+u.State)
		} else if ev.update != nil || ev.rereads() {
			got = append(got, "other")
		}
	}
	want := []string{"/foo foo.0664256e-6771-11e5-94e1-be5b2935a987 TASK_FAILED",
		"/test-app test-app.5dd78972-6771-11e5-94e1-be5b2935a987 TASK_RUNNING"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(events) != 3 {
		t.Errorf("%d events, updates:\n%s\nwant (after the attach):\n%s", len(events), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The stream's deadlines: an answer that does not come within
// member_timeout, a stream silent for stream_idle_timeout, a refusal.
func TestStreamDeadlines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		handler http.HandlerFunc
		attach  bool
		err     string
	}{
		{"no answer", Config{MemberTimeout: Duration(200 * time.Millisecond)}, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, false, "no answer to GET /v2/events within 200ms (member_timeout)"},
		{"silent stream", Config{StreamIdle: Duration(time.Second)}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte(": keep-alive\n\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, true, "no byte on the event stream for 1s (stream_idle_timeout)"},
		{"refused", Config{}, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "There is no leader", http.StatusServiceUnavailable)
		}, false, "GET /v2/events: 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attached, _, err := streamFrom(t, tc.cfg, tc.handler)
			if attached != tc.attach || err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("attached %v, err %v; want attached %v, err %q", attached, err, tc.attach, tc.err)
			}
		})
	}
}
