package marathon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// The event stream is read here rather than through go-marathon v0.7.1's
// listener, which opens it against one member and reconnects to the same
// one with an uncapped backoff (3, 9, 21, 45 s...), silently, with no
// deadline (research §5.3 item 4). Here each (re)connect goes to the first
// member that passes its check, a member that fails its check has its
// stream cut, the answer has a deadline, an optional idle deadline cuts a
// silent stream, reconnects back off with a cap and jitter, and every
// connect, loss and move to another member is logged and counted. Events
// are still decoded with go-marathon's types where it has them.

// streamOnce attaches to member i and reads its events until the stream
// ends, ctx ends or the member is marked down. attached is called once the
// stream is answered; on returns each decoded event.
func (w *Watcher) streamOnce(ctx context.Context, i int, attached func(), on func(event)) error {
	member := w.client.m.urls[i]
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A member marked down meanwhile cuts the stream.
	stop := context.AfterFunc(w.client.m.context(i), func() {
		cancel(w.client.m.failed(i))
	})
	defer stop()
	timeout := time.Duration(w.cfg.MemberTimeout)
	answered := time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("no answer to GET /v2/events within %s (member_timeout)", timeout))
	})
	defer answered.Stop()

	u, err := url.Parse(member + "/v2/events")
	if err != nil {
		return err
	}
	u.RawQuery = url.Values{"event_type": eventTypes, "plan-format": {"light"}}.Encode()
	tok, err := w.client.tokens.Token(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if tok != "" {
		req.Header.Set("Authorization", "token="+tok)
	}
	resp, err := w.client.http.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil {
			return c
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusUnauthorized {
			w.client.tokens.Invalidate(tok)
		}
		return fmt.Errorf("GET /v2/events: %s", answer(resp.StatusCode, body))
	}
	answered.Stop()
	attached()

	var idle *time.Timer
	if d := time.Duration(w.cfg.StreamIdle); d > 0 {
		idle = time.AfterFunc(d, func() {
			cancel(fmt.Errorf("no byte on the event stream for %s (stream_idle_timeout)", d))
		})
		defer idle.Stop()
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var name string
	var data bytes.Buffer
	for {
		line, err := r.ReadBytes('\n')
		if idle != nil && len(line) > 0 {
			idle.Reset(time.Duration(w.cfg.StreamIdle))
		}
		if err != nil {
			if c := context.Cause(ctx); c != nil {
				return c
			}
			if err == io.EOF {
				return errors.New("the event stream ended")
			}
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			// A blank line ends a record.
			if data.Len() > 0 {
				ev, err := decodeEvent(name, data.Bytes())
				if err != nil {
					w.log.Warn("marathon event not understood; reading Marathon again", "member", member, "err", err)
					ev = event{full: true}
				}
				on(ev)
			}
			name = ""
			data.Reset()
		case line[0] == ':':
			// A comment: a keep-alive, if the server sends any.
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				name = string(value)
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.Write(value)
			}
		}
	}
}
