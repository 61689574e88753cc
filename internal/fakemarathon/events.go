package fakemarathon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// stream is one attached event stream.
type stream struct {
	types []string // event_type filter, empty for all
	ch    chan []byte
	done  chan struct{}
	once  sync.Once
}

func (st *stream) close() { st.once.Do(func() { close(st.done) }) }

func (st *stream) wants(eventType string) bool {
	return len(st.types) == 0 || slices.Contains(st.types, eventType)
}

// serveEvents is GET /v2/events: Server-Sent Events named by their type,
// starting with event_stream_attached, as Marathon sends them.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	if !strings.Contains(accept, "text/event-stream") {
		w.Header().Set("Content-Type", "text/html;charset=ISO-8859-1")
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprint(w, "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n<title>Error 405 </title>\n</head>\n<body>\n<h2>HTTP ERROR: 405</h2>\n<p>Problem accessing /v2/events. Reason:\n<pre>    HTTP method GET is not supported by this URL</pre></p>\n</body>\n</html>\n")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return
	}
	st := &stream{types: r.URL.Query()["event_type"], ch: make(chan []byte, 1024), done: make(chan struct{})}
	// Registered before the client sees the answer: a test that changes
	// something as soon as it is attached must not lose the events.
	s.mu.Lock()
	if s.srv == nil {
		s.mu.Unlock()
		return
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	if st.wants("event_stream_attached") {
		w.Write(record("event_stream_attached", map[string]any{"remoteAddress": r.RemoteAddr}))
		fl.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-st.done:
			return
		case rec := <-st.ch:
			if _, err := w.Write(rec); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// record is one SSE record: "event: TYPE\ndata: JSON\n\n", the JSON with
// eventType and timestamp as Marathon writes them.
func record(eventType string, fields map[string]any) []byte {
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	body["eventType"] = eventType
	body["timestamp"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	b, _ := json.Marshal(body)
	return []byte("event: " + eventType + "\ndata: " + string(b) + "\n\n")
}

// emitLocked sends an event to every attached stream that wants it; s.mu
// is held. A stream too slow to keep up is dropped, as Marathon drops it.
func (s *Server) emitLocked(eventType string, fields map[string]any) {
	rec := record(eventType, fields)
	sent := false
	for st := range s.streams {
		if !st.wants(eventType) {
			continue
		}
		sent = true
		select {
		case st.ch <- rec:
		default:
			st.close()
		}
	}
	if sent {
		s.emitted++
	}
}

// Emit sends an event of any type to the attached streams.
func (s *Server) Emit(eventType string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(eventType, fields)
}
