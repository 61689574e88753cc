package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/turnout/turnout/core/gateway"
)

// queueSize bounds the notices waiting for one receiver: a receiver that
// is down loses the oldest news past it, never the agent's memory.
const queueSize = 100

// attempts and retryAfter: a failed POST (a network error, a 5xx, a 429)
// is tried again, after 1 s then 2 s.
const (
	attempts   = 3
	retryAfter = time.Second
)

// sender delivers one receiver's notices in order, one at a time.
type sender struct {
	r  gateway.Notify
	o  Options
	ch chan Notice
}

func newSender(ctx context.Context, r gateway.Notify, o Options) *sender {
	s := &sender{r: r, o: o, ch: make(chan Notice, queueSize)}
	go s.run(ctx)
	return s
}

func (s *sender) queue(n Notice) {
	select {
	case s.ch <- n:
	default:
		s.count("dropped")
		s.o.Logger.Warn("notification dropped: its receiver is behind", "format", s.r.Format, "url", redact(s.r.URL), "gateway", n.Gateway, "event", n.Event)
	}
}

func (s *sender) count(result string) {
	if s.o.Sent != nil {
		s.o.Sent.WithLabelValues(s.r.Format, result).Inc()
	}
}

func (s *sender) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.ch:
			body, err := json.Marshal(Format(s.r.Format, n))
			if err == nil {
				err = s.post(ctx, body)
			}
			if err != nil {
				s.count("error")
				s.o.Logger.Warn("notification not delivered", "format", s.r.Format, "url", redact(s.r.URL), "gateway", n.Gateway, "event", n.Event, "err", err)
				continue
			}
			s.count("ok")
		}
	}
}

// post sends body, trying again after a failure that may pass.
func (s *sender) post(ctx context.Context, body []byte) error {
	wait := retryAfter
	var err error
	for try := 1; ; try++ {
		var retry bool
		retry, err = s.postOnce(ctx, body)
		if err == nil || !retry || try == attempts {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

func (s *sender) postOnce(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.r.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "turnout-notify")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("post: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("the receiver answered %s: %q", resp.Status, bytes.TrimSpace(msg))
}

// redact keeps a webhook URL's secret path and query out of logs: Slack's
// and Teams' URLs are their credentials.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL)"
	}
	if u.Path != "" || u.RawQuery != "" {
		u.Path, u.RawPath, u.RawQuery = "/...", "", ""
	}
	return u.String()
}
