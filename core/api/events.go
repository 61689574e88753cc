package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/core/events"
)

// eventsWriteTimeout bounds one write to an event stream: a reader that
// takes no bytes for this long is cut off (the bus drops it sooner if
// events pile up meanwhile).
const eventsWriteTimeout = 30 * time.Second

// defaultHeartbeat is how often an idle stream gets a comment: DC/OS Admin
// Router (nginx) closes a proxied connection silent for 60 s.
const defaultHeartbeat = 15 * time.Second

// shutdownKey carries, in every request's context, a channel closed when
// the admin server shuts down: streams end then instead of holding
// Shutdown until its deadline.
type shutdownKey struct{}

func shuttingDown(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(shutdownKey{}).(chan struct{})
	return ch // nil (never ready) outside Start
}

// GET /events: Server-Sent Events, filtered by ?gateway= and ?type=
// (repeated or comma-separated), resumed after Last-Event-ID (or
// ?last_event_id=, for a first connection that wants the history).
func (a *gatewayAPI) events(w http.ResponseWriter, r *http.Request, _ params) error {
	if a.bus == nil {
		return errorf(http.StatusNotImplemented, "this turnout publishes no events")
	}
	q := r.URL.Query()
	f := events.Filter{Gateways: splitList(q["gateway"]), Types: splitList(q["type"])}
	for _, t := range f.Types {
		if !events.ValidType(t) {
			names := make([]string, len(events.Types))
			for i, t := range events.Types {
				names[i] = string(t)
			}
			return errorf(http.StatusBadRequest, "type %q is not an event type or category; types: %s", t, strings.Join(names, ", "))
		}
	}
	after, resume, err := lastEventID(r)
	if err != nil {
		return err
	}
	sub, backlog, lost := a.bus.Subscribe(f, after, resume)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	// nginx (Admin Router) would buffer the stream otherwise.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
		return write() == nil && rc.Flush() == nil
	}
	if lost && !send(func() error {
		return events.WriteMarker(w, events.Lost, map[string]any{"after": after, "next": oldestID(backlog)})
	}) {
		return nil
	}
	_ = rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
	for _, e := range backlog {
		if err := events.WriteSSE(w, e); err != nil {
			return nil
		}
	}
	if !send(func() error { return events.WriteHeartbeat(w) }) {
		return nil
	}
	beat := time.NewTicker(a.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-shuttingDown(r.Context()):
			return nil
		case <-beat.C:
			if !send(func() error { return events.WriteHeartbeat(w) }) {
				return nil
			}
		case e, ok := <-sub.C():
			if !ok {
				if sub.Dropped() {
					send(func() error {
						return events.WriteMarker(w, events.Dropped, map[string]string{"message": "this reader fell behind; reconnect with Last-Event-ID to resume"})
					})
				}
				return nil
			}
			if !send(func() error { return writeQueued(w, e, sub.C()) }) {
				return nil
			}
		}
	}
}

// writeQueued writes e and whatever else is queued already, so that a
// burst costs one flush.
func writeQueued(w http.ResponseWriter, e *events.Event, c <-chan *events.Event) error {
	for {
		if err := events.WriteSSE(w, e); err != nil {
			return err
		}
		select {
		case next, ok := <-c:
			if !ok {
				return nil // the loop sees the closed channel next
			}
			e = next
		default:
			return nil
		}
	}
}

// oldestID is the id of the first event a stream sends (0: none kept).
func oldestID(backlog []*events.Event) uint64 {
	if len(backlog) == 0 {
		return 0
	}
	return backlog[0].ID
}

// lastEventID reads where to resume: the Last-Event-ID header (sent by
// EventSource on reconnection) or ?last_event_id=.
func lastEventID(r *http.Request) (uint64, bool, error) {
	s, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if s == "" {
		s, field = r.URL.Query().Get("last_event_id"), "last_event_id"
	}
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, false, errorf(http.StatusBadRequest, "%s must be an event id (a whole number from 0), got %q", field, s)
	}
	return n, true, nil
}

// splitList reads repeated and comma-separated query values.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
