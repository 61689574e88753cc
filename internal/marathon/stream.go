package marathon

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// eventTypes are the events the watcher acts on; Marathon (1.3.7+) sends
// only these when asked with event_type, older ones ignore the filter.
var eventTypes = []string{
	"event_stream_attached",
	"status_update_event",
	"health_status_changed_event",
	"failed_health_check_event",
	"api_post_event",
	"app_terminated_event",
	"group_change_success",
	"deployment_info",
	"deployment_success",
	"deployment_failed",
	"deployment_step_success",
	"deployment_step_failure",
}

// streamTransport carries go-marathon's requests. It works around three
// limits of go-marathon v0.7.1's event stream: the stream is opened against
// one member and reopened against the same one (here each (re)connect goes
// to the member that answered last); its reconnects are silent (here each
// one is reported, so the watcher reads everything again); and its DC/OS
// token handling misses the event stream (here every request gets the
// current token, renewed service-account tokens included).
type streamTransport struct {
	client     *Client
	base       http.RoundTripper
	connected  func()
	disconnect func()

	mu     sync.Mutex
	closed bool
	bodies map[*streamBody]struct{}
}

var errClosed = errors.New("marathon: watcher stopped")

func (t *streamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	req = req.Clone(req.Context())
	events := strings.HasSuffix(req.URL.Path, "/v2/events")
	if events {
		u, err := url.Parse(t.client.Preferred() + "/v2/events")
		if err != nil {
			return nil, err
		}
		q := url.Values{"event_type": eventTypes, "plan-format": {"light"}}
		u.RawQuery = q.Encode()
		req.URL, req.Host = u, u.Host
	}
	tok, err := t.client.tokens.Token(req.Context())
	if err != nil {
		return nil, err
	}
	req.Header.Del("Authorization")
	if tok != "" {
		req.Header.Set("Authorization", "token="+tok)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		t.client.tokens.Invalidate(tok)
	}
	if events && resp.StatusCode == http.StatusOK {
		b := &streamBody{ReadCloser: resp.Body, t: t}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			resp.Body.Close()
			return nil, errClosed
		}
		t.bodies[b] = struct{}{}
		t.mu.Unlock()
		resp.Body = b
		t.connected()
	}
	return resp, nil
}

// close ends the stream and refuses every later request: go-marathon
// v0.7.1 has no way to stop its stream, so this is how it is stopped.
func (t *streamTransport) close() {
	t.mu.Lock()
	t.closed = true
	bodies := t.bodies
	t.bodies = map[*streamBody]struct{}{}
	t.mu.Unlock()
	for b := range bodies {
		b.ReadCloser.Close()
	}
}

// streamBody reports the end of one event stream connection, once.
type streamBody struct {
	io.ReadCloser
	t    *streamTransport
	once sync.Once
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.gone()
	}
	return n, err
}

func (b *streamBody) Close() error {
	b.gone()
	return b.ReadCloser.Close()
}

func (b *streamBody) gone() {
	b.once.Do(func() {
		b.t.mu.Lock()
		delete(b.t.bodies, b)
		b.t.mu.Unlock()
		b.t.disconnect()
	})
}
