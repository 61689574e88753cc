package marathon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// members are Marathon's configured URLs with what the member checks last
// found: a member that is up and answered last is asked first, members
// that failed their check are asked last. Marking a member down cuts its
// requests in flight and its event stream: a hung member (process
// stopped, TCP open) otherwise holds them until their own deadlines.
type members struct {
	urls []string

	mu        sync.Mutex
	preferred int
	down      []string // why each member is down, "" when up
	ctx       []context.Context
	cancel    []context.CancelFunc
}

func newMembers(urls []string) *members {
	m := &members{urls: urls, down: make([]string, len(urls)),
		ctx: make([]context.Context, len(urls)), cancel: make([]context.CancelFunc, len(urls))}
	for i := range urls {
		m.ctx[i], m.cancel[i] = context.WithCancel(context.Background())
	}
	return m
}

// order is the members to try, by index: the preferred one when it is
// up, the other up ones in configured order, then the down ones (when
// every member is down, each is still tried).
func (m *members) order() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var up, down []int
	for k := range m.urls {
		i := (m.preferred + k) % len(m.urls)
		if m.down[i] == "" {
			up = append(up, i)
		} else {
			down = append(down, i)
		}
	}
	return append(up, down...)
}

// context of member i's requests: cancelled when the member is marked
// down.
func (m *members) context(i int) context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ctx[i]
}

// answered records that member i answered: it is asked first from now
// on, among the members that pass their check (a member that answers a
// read but fails its check stays passed over until it passes).
func (m *members) answered(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.preferred = i
}

// mark records a check of member i (why is "" when it passed) and says
// whether its state changed.
func (m *members) mark(i int, why string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.down[i]
	m.down[i] = why
	if why != "" && was == "" {
		m.cancel[i]()
		m.ctx[i], m.cancel[i] = context.WithCancel(context.Background())
	}
	return (was == "") != (why == "")
}

// failed is why member i is passed over, with what its check found (an
// unknown TLS authority, say, which would otherwise be hidden).
func (m *members) failed(i int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down[i] == "" {
		return errors.New("member failed its check (GET /v2/leader)")
	}
	return fmt.Errorf("member failed its check: %s", m.down[i])
}

// up says whether member i passed its last check.
func (m *members) up(i int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.down[i] == ""
}

// check asks member i for the leader with a deadline: a member that
// does not answer in time, or cannot name a leader (an election), fails.
func (c *Client) check(ctx context.Context, i int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.m.urls[i]+"/v2/leader", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "token="+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer to GET /v2/leader within %s", timeout)
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusUnauthorized {
		c.tokens.Invalidate(tok)
	}
	// A member that answers but refuses the token is alive: the reads
	// report the refusal. No leader (404) or a 5xx is a member to pass
	// over.
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
		return fmt.Errorf("GET /v2/leader: %s", answer(resp.StatusCode, body))
	}
	return nil
}

// checkMembers checks every member each interval until ctx ends, and
// calls changed(i) when member i went up or down.
func (c *Client) checkMembers(ctx context.Context, interval, timeout time.Duration, changed func(i int, why string)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for i := range c.m.urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.check(ctx, i, timeout)
				if ctx.Err() != nil {
					return
				}
				why := ""
				if err != nil {
					why = err.Error()
				}
				if c.m.mark(i, why) {
					changed(i, why)
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
