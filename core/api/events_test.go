package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
)

// eventsServer is a real admin listener whose API publishes on bus, with
// two named tokens.
type eventsServer struct {
	t    *testing.T
	base string
	bus  *events.Bus
	st   *store.Memory
	srv  *Server
}

func newEventsServer(t *testing.T, history, buffer int) *eventsServer {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	bus := events.New(history, buffer)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events.WatchStore(ctx, st, bus, nil)
	h := New(Config{Store: st, Check: fakeCheck, Events: bus, Heartbeat: 50 * time.Millisecond})
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: metrics.NewRegistry().Prometheus, Logger: slog.New(slog.DiscardHandler), API: h,
		Tokens: []NamedToken{{"alice", "a-secret"}, {"bob", "b-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return &eventsServer{t: t, base: "http://" + s.Addr().String(), bus: bus, st: st, srv: s}
}

// call sends one request as token, headers in pairs.
func (s *eventsServer) call(method, path, token, body string, headers ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// stream opens GET /api/v1/events?query and returns its reader.
func (s *eventsServer) stream(query string, headers ...string) *events.Reader {
	s.t.Helper()
	resp := s.call("GET", "/api/v1/events?"+query, "a-secret", "", headers...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return events.NewReader(resp.Body)
}

// next reads the next message, failing after 10 s (a stream that says
// nothing still gets heartbeats, so a read never waits on a dead stream).
func next(t *testing.T, r *events.Reader) (events.Message, events.Event) {
	t.Helper()
	type res struct {
		m   events.Message
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := r.Next()
		ch <- res{m, err}
	}()
	select {
	case got := <-ch:
		if got.err != nil {
			t.Fatalf("stream: %v", got.err)
		}
		var e events.Event
		if got.m.ID != "" {
			if err := json.Unmarshal(got.m.Data, &e); err != nil {
				t.Fatalf("data %s: %v", got.m.Data, err)
			}
		}
		return got.m, e
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	panic("unreachable")
}

// TestEventsGatewayChangesWithAuthorAndReason: writes through the API come
// out of the stream in order, as created/changed/deleted with the revision,
// the operator's reason and the name of the token used; the filter leaves
// other gateways out; the history shows the same.
func TestEventsGatewayChangesWithAuthorAndReason(t *testing.T) {
	s := newEventsServer(t, 0, 0)
	r := s.stream("gateway=shop/web&type=gateway")
	for _, c := range []struct {
		method, path, token, body, reason string
		want                              int
	}{
		{"POST", "/api/v1/gateways", "a-secret", seedJSON, "", 201}, // another gateway: filtered out
		{"PUT", "/api/v1/gateways/shop/web", "a-secret", shopYAML, "first cut", 201},
		{"PUT", "/api/v1/gateways/shop/web", "b-secret", strings.Replace(shopYAML, "8081", "8082", 1), "port 8081 → 8082: taken on some nodes", 200},
		{"POST", "/api/v1/gateways/shop/web/rollback?to=1", "a-secret", "", "8082 was worse", 200},
		{"DELETE", "/api/v1/gateways/shop/web", "b-secret", "", "", 204},
	} {
		resp := s.call(c.method, c.path, c.token, c.body, ct, yml, ReasonHeader, c.reason)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
	want := []events.Event{
		{Type: events.GatewayCreated, Revision: 1, Author: "alice", Reason: "first cut"},
		{Type: events.GatewayChanged, Revision: 2, Author: "bob", Reason: "port 8081 → 8082: taken on some nodes"},
		{Type: events.GatewayChanged, Revision: 3, Author: "alice", Reason: "rollback to revision 1: 8082 was worse"},
		{Type: events.GatewayDeleted, Revision: 4, Author: "bob"},
	}
	var last uint64
	for i, w := range want {
		m, e := next(t, r)
		if m.Type != w.Type || e.Type != w.Type || e.Gateway != "shop/web" || e.Revision != w.Revision || e.Author != w.Author || e.Reason != w.Reason {
			t.Fatalf("event %d: %s %+v, want %+v", i, m.Type, e, w)
		}
		if id, _ := m.IDNumber(); id <= last || id != e.ID {
			t.Fatalf("event %d: id %s after %d (data id %d)", i, m.ID, last, e.ID)
		}
		last = e.ID
	}
	resp := s.call("GET", "/api/v1/gateways/shop/web/revisions", "a-secret", "")
	defer resp.Body.Close()
	var revs []revisionInfo
	if err := json.NewDecoder(resp.Body).Decode(&revs); err != nil {
		t.Fatal(err)
	}
	if len(revs) != 4 || revs[1].Author != "bob" || revs[1].Reason != "port 8081 → 8082: taken on some nodes" || revs[3].Author != "bob" {
		t.Fatalf("history %+v", revs)
	}
}

// TestEventsResume: Last-Event-ID (or ?last_event_id=) resumes after that
// id; one evicted or from another run starts with a lost marker and then
// everything kept.
func TestEventsResume(t *testing.T) {
	// Ids relative to the run's first event, 1 to 8; the history keeps 5.
	for _, c := range []struct {
		name    string
		query   string
		header  uint64
		lost    bool
		firstID uint64
	}{
		{"header", "", 6, false, 7},
		{"query", "last_event_id=5", 0, false, 6},
		{"header wins", "last_event_id=1", 7, false, 8},
		{"evicted", "", 2, true, 4},
		{"another run", "", 100, true, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newEventsServer(t, 5, 0)
			base := s.bus.Last()
			for i := range 8 {
				s.bus.Publish(events.Event{Type: events.RouteHeld, Gateway: "web", Route: fmt.Sprint(i + 1)})
			}
			var hs []string
			if c.header != 0 {
				hs = []string{"Last-Event-ID", fmt.Sprint(base + c.header)}
			}
			if c.query != "" {
				n, _ := strconv.ParseUint(strings.TrimPrefix(c.query, "last_event_id="), 10, 64)
				c.query = fmt.Sprintf("last_event_id=%d", base+n)
			}
			r := s.stream(c.query, hs...)
			m, _ := next(t, r)
			if (m.Type == events.Lost) != c.lost {
				t.Fatalf("first message %s %s", m.Type, m.Data)
			}
			if c.lost {
				m, _ = next(t, r)
			}
			want := c.firstID
			for ; want <= 8; want++ {
				if id, _ := m.IDNumber(); id != base+want {
					t.Fatalf("got id %q, want %d", m.ID, want)
				}
				if want < 8 {
					m, _ = next(t, r)
				}
			}
			// Then live: the next published comes next.
			s.bus.Publish(events.Event{Type: events.RouteReleased, Gateway: "web"})
			if m, e := next(t, r); e.Type != events.RouteReleased {
				t.Fatalf("live: %s %s", m.Type, m.Data)
			}
		})
	}
}

// TestEventsStalledReaderIsDropped: a reader that stops reading is
// dropped once its buffer is full, while publishing goes on at full pace
// and another reader gets every event; when it reads again it finds what
// was in flight, then a dropped marker, and resumes with Last-Event-ID.
func TestEventsStalledReaderIsDropped(t *testing.T) {
	s := newEventsServer(t, 10000, 4)
	// A raw connection whose reading we control.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a-secret\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil) // the header only: the body is read later
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stalled reader: %v %v", resp, err)
	}
	testnet.Eventually(t, 10*time.Second, "the stalled reader subscribed", func() bool { return s.bus.Subscribers() == 1 })
	live := s.stream("")
	testnet.Eventually(t, 10*time.Second, "the live reader subscribed", func() bool { return s.bus.Subscribers() == 2 })

	// Big events fill the socket buffers fast; the live reader keeps up.
	pad := strings.Repeat("x", 64<<10)
	got := make(chan uint64)
	go func() {
		for {
			m, err := live.Next()
			if err != nil {
				close(got)
				return
			}
			if id, ok := m.IDNumber(); ok {
				got <- id
			}
		}
	}()
	n, base := 0, s.bus.Last()
	for s.bus.Subscribers() == 2 {
		if n == 5000 {
			t.Fatal("5000 events of 64 KiB and the stalled reader is still subscribed")
		}
		n++
		s.bus.Publish(events.Event{Type: events.EndpointsAdded, Gateway: "web", Data: map[string]string{"pad": pad}})
		if id := <-got; id != base+uint64(n) {
			t.Fatalf("live reader got %d, want %d", id, n)
		}
	}
	// The stalled reader reads again: the events in flight, then the marker.
	r := events.NewReader(resp.Body)
	lastID := base
	for {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("stalled reader, after id %d: %v", lastID, err)
		}
		if m.Type == events.Dropped {
			break
		}
		id, ok := m.IDNumber()
		if !ok || id != lastID+1 {
			t.Fatalf("stalled reader: id %q after %d", m.ID, lastID)
		}
		lastID = id
	}
	if lastID == base || lastID >= base+uint64(n) {
		t.Fatalf("stalled reader got up to %d of %d before the marker", lastID-base, n)
	}
	t.Logf("dropped after %d events; it had read %d", n, lastID-base)
	// It resumes where it was.
	resumed := s.stream("", "Last-Event-ID", fmt.Sprint(lastID))
	if m, _ := next(t, resumed); m.ID != fmt.Sprint(lastID+1) {
		t.Fatalf("resumed at %q, want %d", m.ID, lastID+1)
	}
}

// TestEventsBadRequests: unknown types and ids are refused, naming them.
func TestEventsBadRequests(t *testing.T) {
	s := newEventsServer(t, 0, 0)
	for _, c := range []struct {
		query, id, want string
	}{
		{"type=policy,bogus", "", `type \"bogus\" is not an event type`},
		{"", "abc", `Last-Event-ID must be an event id`},
		{"last_event_id=-1", "", `last_event_id must be an event id`},
	} {
		var hs []string
		if c.id != "" {
			hs = []string{"Last-Event-ID", c.id}
		}
		resp := s.call("GET", "/api/v1/events?"+c.query, "a-secret", "", hs...)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%q %q: %d %s", c.query, c.id, resp.StatusCode, b)
		}
	}
	if s.bus.Subscribers() != 0 {
		t.Errorf("%d subscribers after refusals", s.bus.Subscribers())
	}
	// Without a token: 401, as everywhere.
	resp := s.call("GET", "/api/v1/events", "wrong", "")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
}

// TestEventsEndAtShutdown: an open stream does not hold the admin
// server's Shutdown until its deadline.
func TestEventsEndAtShutdown(t *testing.T) {
	s := newEventsServer(t, 0, 0)
	r := s.stream("")
	testnet.Eventually(t, 10*time.Second, "subscribed", func() bool { return s.bus.Subscribers() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for {
		if _, err := r.Next(); err != nil {
			break // the stream ended
		}
	}
}

// TestReasonChecked: a reason that is not one line of text is refused,
// and nothing is written.
func TestReasonChecked(t *testing.T) {
	s := newEventsServer(t, 0, 0)
	for _, reason := range []string{strings.Repeat("a", maxReason+1), "tab\there", "bad \xff utf-8"} {
		resp := s.call("PUT", "/api/v1/gateways/shop/web", "a-secret", shopYAML, ct, yml, ReasonHeader, reason)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), ReasonHeader) {
			t.Errorf("reason %.20q: %d %s", reason, resp.StatusCode, b)
		}
	}
	if _, err := s.st.History(context.Background(), "shop/web"); err == nil {
		t.Error("a refused write was stored")
	}
}
