package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/turnout/turnout/core/events"
)

// streamIdle is how long a stream may say nothing, heartbeats included
// (every 15 s), before the client takes the connection for dead.
const streamIdle = 45 * time.Second

// openStream opens GET /api/v1/events?query, resuming after lastID if
// set. The client's --timeout bounds the wait for the answer's header,
// not the stream.
func (c *client) openStream(ctx context.Context, query url.Values, lastID string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/events?"+query.Encode(), nil)
	if err != nil {
		cancel()
		return nil, usageErrorf("%v", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := *c.http
	hc.Timeout = 0
	header := time.AfterFunc(c.http.Timeout, cancel)
	resp, err := hc.Do(req)
	if !header.Stop() && err != nil {
		cancel()
		return nil, &exitError{code: exitUnreachable, err: fmt.Errorf("cannot reach turnout at %s: no answer within %s", c.base, c.http.Timeout)}
	}
	if err != nil {
		cancel()
		return nil, unreachable(c.base, c.http.Timeout, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		return nil, c.refused(resp.StatusCode, b)
	}
	return newIdleReader(resp.Body, cancel), nil
}

// idleReader ends a stream (canceling its request) that has said nothing
// for streamIdle: a server gone without closing the connection.
type idleReader struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	timer  *time.Timer
	once   sync.Once
}

func newIdleReader(body io.ReadCloser, cancel context.CancelFunc) *idleReader {
	return &idleReader{body: body, cancel: cancel, timer: time.AfterFunc(streamIdle, cancel)}
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if n > 0 {
		r.timer.Reset(streamIdle)
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.once.Do(func() {
		r.timer.Stop()
		r.cancel()
	})
	return r.body.Close()
}

// follower reads the event stream for as long as ctx lasts, reconnecting
// after a failure (with backoff) and resuming after the last event seen:
// a restarting turnout costs no event still in its history (a new run's
// history starts again: the lost marker says so).
type follower struct {
	c      *client
	query  url.Values
	lastID string
	// warn is told of failures and gaps (stderr).
	warn io.Writer
	// failing is the last connection failure, nil while connected.
	failing error
}

// run calls each with every event until ctx ends (nil) or the server
// refuses the stream (a 4xx: bad filter, bad token).
func (f *follower) run(ctx context.Context, each func(events.Message, events.Event) error) error {
	delay := pollEvery
	for ctx.Err() == nil {
		body, err := f.c.openStream(ctx, f.query, f.lastID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !transient(err) {
				return err
			}
			if f.failing == nil {
				fmt.Fprintf(f.warn, "turnout: %v; reconnecting\n", err)
			}
			f.failing = err
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			delay = min(delay*2, maxBackoff)
			continue
		}
		if f.failing != nil {
			fmt.Fprintf(f.warn, "turnout: reconnected to %s\n", f.c.base)
		}
		f.failing, delay = nil, pollEvery
		err = f.read(body, each)
		body.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// read reads one connection's events until it ends.
func (f *follower) read(body io.Reader, each func(events.Message, events.Event) error) error {
	r := events.NewReader(body)
	for {
		m, err := r.Next()
		if err != nil {
			return nil // the connection ended: reconnect
		}
		switch m.Type {
		case events.Dropped:
			fmt.Fprintf(f.warn, "turnout: the server dropped this stream (it fell behind); resuming after event %s\n", f.lastID)
			return nil
		case events.Lost:
			fmt.Fprintf(f.warn, "turnout: some events are no longer in the server's history (or it restarted); going on from the oldest it keeps\n")
			continue
		}
		if m.ID == "" {
			continue // a marker this build does not know
		}
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return fmt.Errorf("read event %s: %w", m.ID, err)
		}
		f.lastID = m.ID
		if err := each(m, e); err != nil {
			return err
		}
	}
}

// eventLine is one event in a line of text, for a log or a terminal.
func eventLine(e events.Event) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format(time.RFC3339))
	b.WriteString("  ")
	b.WriteString(string(e.Type))
	subject := e.Gateway
	if e.Route != "" {
		subject += " " + e.Route
	}
	if subject == "" {
		if m, ok := e.Data.(map[string]any); ok {
			subject, _ = m["plugin"].(string)
		}
	}
	if subject != "" {
		b.WriteString("  " + subject)
	}
	if e.Revision > 0 {
		fmt.Fprintf(&b, "  revision %d", e.Revision)
	}
	if e.Author != "" {
		b.WriteString("  by " + e.Author)
	}
	if d := dataSummary(e); d != "" {
		b.WriteString("  " + d)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// dataSummary is the few details of an event's data worth a line.
func dataSummary(e events.Event) string {
	m, ok := e.Data.(map[string]any)
	if !ok {
		return ""
	}
	switch e.Type {
	case events.PolicyDecision:
		s := fmt.Sprintf("%v step %v (%v)", m["action"], m["step"], m["phase"])
		if w, ok := m["weights"].(map[string]any); ok && len(w) > 0 {
			s += " weights " + joinMap(w)
		}
		return s
	case events.PolicyCommand:
		return fmt.Sprint(m["command"])
	case events.EndpointsAdded, events.EndpointsRemoved:
		if eps, ok := m["endpoints"].([]any); ok {
			parts := make([]string, len(eps))
			for i, ep := range eps {
				parts[i] = fmt.Sprint(ep)
			}
			return strings.Join(parts, ",")
		}
	case events.PortConflict, events.PortResolved:
		return fmt.Sprintf("port %v (%v)", m["port"], m["owner"])
	}
	return ""
}

func joinMap(m map[string]any) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ",")
}
