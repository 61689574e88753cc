package events

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/store"
)

// newBus is a bus whose ids start at 1.
func newBus(history, buffer int) *Bus {
	b := New(history, buffer)
	b.last = 0
	return b
}

func publishN(b *Bus, n int, gw string) {
	for i := range n {
		b.Publish(Event{Type: GatewayChanged, Gateway: gw, Revision: int64(i + 1)})
	}
}

func ids(es []*Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// recv takes n events from s, failing if it ends first.
func recv(t *testing.T, s *Subscription, n int) []*Event {
	t.Helper()
	var out []*Event
	for len(out) < n {
		select {
		case e, ok := <-s.C():
			if !ok {
				t.Fatalf("subscription ended after %d events (dropped %v)", len(out), s.Dropped())
			}
			out = append(out, e)
		case <-time.After(10 * time.Second):
			for _, e := range out {
				t.Logf("got %s %s revision %d", e.Type, e.Gateway, e.Revision)
			}
			t.Fatalf("waited 10s for event %d", len(out)+1)
		}
	}
	return out
}

// TestOrderAndIDs: ids increase by one per event, in publish order, and
// each subscriber gets them in that order.
func TestOrderAndIDs(t *testing.T) {
	b := newBus(10, 100)
	s, backlog, lost := b.Subscribe(Filter{}, 0, false)
	defer s.Close()
	if backlog != nil || lost {
		t.Fatalf("a live subscription got backlog %v lost %v", backlog, lost)
	}
	publishN(b, 50, "web")
	got := recv(t, s, 50)
	for i, e := range got {
		if e.ID != uint64(i+1) || e.Revision != int64(i+1) {
			t.Fatalf("event %d: id %d revision %d", i, e.ID, e.Revision)
		}
	}
	if b.Last() != 50 {
		t.Errorf("last %d", b.Last())
	}
}

// TestResume: a subscription resumed after an id gets the kept events
// after it, then the live ones, without a gap or a repeat; an id evicted
// from the history or from another run says lost and gives all kept.
func TestResume(t *testing.T) {
	tests := []struct {
		name      string
		published int
		after     uint64
		wantIDs   []uint64
		wantLost  bool
	}{
		{"after the third", 5, 3, []uint64{4, 5}, false},
		{"after the last", 5, 5, nil, false},
		{"from zero, all kept", 5, 0, []uint64{1, 2, 3, 4, 5}, false},
		{"zero after eviction: all kept", 15, 0, []uint64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, false},
		{"evicted", 15, 3, []uint64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, true},
		{"just before the oldest", 15, 5, []uint64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, false},
		{"from another run", 5, 99, []uint64{1, 2, 3, 4, 5}, true},
		{"another run, nothing yet", 0, 7, nil, true},
	}
	// A new run's ids are above the last run's.
	if a, b := New(0, 0), New(0, 0); a.Last() == 0 || b.Last() < a.Last() {
		t.Errorf("runs start at %d then %d", a.Last(), b.Last())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(10, 100)
			publishN(b, tt.published, "web")
			s, backlog, lost := b.Subscribe(Filter{}, tt.after, true)
			defer s.Close()
			if !slices.Equal(ids(backlog), tt.wantIDs) || lost != tt.wantLost {
				t.Fatalf("backlog %v lost %v, want %v %v", ids(backlog), lost, tt.wantIDs, tt.wantLost)
			}
			b.Publish(Event{Type: GatewayDeleted, Gateway: "web"})
			if e := recv(t, s, 1)[0]; e.ID != uint64(tt.published+1) {
				t.Errorf("first live event %d, want %d", e.ID, tt.published+1)
			}
		})
	}
}

// TestSlowSubscriberDropped: a reader that takes nothing is dropped once
// its buffer is full, Publish never waits for it, and the others go on.
func TestSlowSubscriberDropped(t *testing.T) {
	b := newBus(100, 4)
	stalled, _, _ := b.Subscribe(Filter{}, 0, false)
	reader, _, _ := b.Subscribe(Filter{}, 0, false)
	done := make(chan []uint64)
	go func() {
		var got []uint64
		for e := range reader.C() {
			got = append(got, e.ID)
			if len(got) == 20 {
				break
			}
		}
		done <- got
	}()
	for i := range 20 {
		b.Publish(Event{Type: GatewayChanged, Gateway: "web"})
		if i >= 4 {
			// Publish returned with the stalled buffer full: not waiting.
			if !stalled.Dropped() {
				t.Fatalf("after %d events the stalled reader is not dropped", i+1)
			}
		}
		// Keep the reader's buffer from filling: it is not the slow one.
		testEventually(t, func() bool { return len(reader.ch) < 3 })
	}
	if got := <-done; len(got) != 20 || got[19] != 20 {
		t.Fatalf("the live reader got %v", got)
	}
	n := 0
	for range stalled.C() { // closed after what it had buffered
		n++
	}
	if n != 4 || !stalled.Dropped() {
		t.Fatalf("stalled reader: %d buffered, dropped %v", n, stalled.Dropped())
	}
	reader.Close()
	reader.Close() // idempotent
	if reader.Dropped() {
		t.Error("a reader that closed is not dropped")
	}
}

func testEventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFilter: by gateway, by type and by category; an event about no
// gateway passes a gateway filter.
func TestFilter(t *testing.T) {
	all := []Event{
		{Type: GatewayChanged, Gateway: "web"},
		{Type: PolicyDecision, Gateway: "web"},
		{Type: PolicyDecision, Gateway: "api"},
		{Type: PluginCrashed},
		{Type: RouteHeld, Gateway: "api", Route: "v2"},
	}
	tests := []struct {
		f    Filter
		want []int
	}{
		{Filter{}, []int{0, 1, 2, 3, 4}},
		{Filter{Gateways: []string{"web"}}, []int{0, 1, 3}},
		{Filter{Types: []string{"policy"}}, []int{1, 2}},
		{Filter{Types: []string{"policy.decision", "route.held"}, Gateways: []string{"api"}}, []int{2, 4}},
		{Filter{Types: []string{"plugin.crashed"}, Gateways: []string{"web"}}, []int{3}},
	}
	for _, tt := range tests {
		var got []int
		for i := range all {
			if tt.f.Match(&all[i]) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%+v: matched %v, want %v", tt.f, got, tt.want)
		}
	}
	for _, s := range []string{"policy", "gateway.created", "port.resolved"} {
		if !ValidType(s) {
			t.Errorf("%q not valid", s)
		}
	}
	for _, s := range []string{"", "polic", "gateway.", "dropped"} {
		if ValidType(s) {
			t.Errorf("%q valid", s)
		}
	}
}

// TestSSERoundTrip: what WriteSSE writes, Reader reads back, comments and
// markers included.
func TestSSERoundTrip(t *testing.T) {
	var sb strings.Builder
	b := newBus(0, 0)
	s, _, _ := b.Subscribe(Filter{}, 0, false)
	b.Publish(Event{Type: PolicyDecision, Gateway: "shop/web", Reason: "error rate 0.1% < 1%", Data: map[string]any{"action": "step"}})
	e := <-s.C()
	WriteHeartbeat(&sb)
	WriteSSE(&sb, e)
	WriteMarker(&sb, Dropped, map[string]string{"message": "m"})
	r := NewReader(strings.NewReader(sb.String()))
	m, err := r.Next()
	if err != nil || m.ID != "1" || m.Type != PolicyDecision || !strings.Contains(string(m.Data), `"reason":"error rate 0.1% < 1%"`) {
		t.Fatalf("%+v %v", m, err)
	}
	if n, ok := m.IDNumber(); !ok || n != 1 {
		t.Errorf("id %d %v", n, ok)
	}
	m, err = r.Next()
	if err != nil || m.ID != "" || m.Type != Dropped {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("no end")
	}
}

// TestWatchStore: every revision is published once, in order, as created,
// changed or deleted with its reason and author, also when the watch
// coalesced several commits into one snapshot.
func TestWatchStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := store.NewMemory()
	put := func(name, doc, reason, author string) {
		t.Helper()
		var d []byte
		if doc != "" {
			d = []byte(doc)
		}
		if _, err := st.Apply(ctx, []store.Change{{Name: name, Doc: d, Match: store.Any, Reason: reason, Author: author}}); err != nil {
			t.Fatal(err)
		}
	}
	put("old", "1", "", "") // before the watch: not published
	b := newBus(0, 1000)
	sub, _, _ := b.Subscribe(Filter{}, 0, false)
	done := WatchStore(ctx, st, b, nil)
	put("old", "2", "probe", "")
	if e := recv(t, sub, 1)[0]; e.Type != GatewayChanged || e.Gateway != "old" || e.Revision != 2 {
		t.Fatalf("probe: %+v", e)
	}
	for i := range 20 {
		put("web", fmt.Sprint(i), fmt.Sprintf("r%d", i), "alice")
	}
	put("web", "", "gone", "bob")
	put("web", "again", "back", "carol")
	got := recv(t, sub, 22)
	for i, e := range got {
		want := Event{Type: GatewayChanged, Gateway: "web", Revision: int64(i + 1), Reason: fmt.Sprintf("r%d", i), Author: "alice"}
		switch i {
		case 0:
			want.Type = GatewayCreated
		case 20:
			want = Event{Type: GatewayDeleted, Gateway: "web", Revision: 21, Reason: "gone", Author: "bob"}
		case 21:
			want = Event{Type: GatewayCreated, Gateway: "web", Revision: 22, Reason: "back", Author: "carol"}
		}
		if e.Type != want.Type || e.Gateway != want.Gateway || e.Revision != want.Revision || e.Reason != want.Reason || e.Author != want.Author {
			t.Errorf("event %d: %s %s rev %d %q by %q, want %+v", i, e.Type, e.Gateway, e.Revision, e.Reason, e.Author, want)
		}
	}
	st.Close()
	<-done
}
