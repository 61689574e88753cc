package marathon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client reads Marathon's REST API with plain net/http and our own types
// (go-marathon v0.7.1 cannot see the 1.5+ networking fields), trying each
// member in turn: a network error, a 5xx or the request deadline moves on
// to the next one, the member that answered is asked first next time, and
// members that failed their check (see members) are asked last.
type Client struct {
	m       *members
	http    *http.Client
	tokens  *tokenSource
	timeout time.Duration // of one request to one member

	mu        sync.Mutex
	framework string
}

// NewClient checks the configuration and builds a client. Requests have no
// client-wide timeout (each call takes a context) so the same transport can
// carry the event stream.
func NewClient(c Config) (*Client, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if c.CAFile != "" {
		pool, err := loadCAs(c.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	cl := &Client{http: &http.Client{Transport: newTransport(tlsConfig)}, timeout: time.Duration(c.RequestTimeout)}
	var urls []string
	for _, u := range c.URLs {
		m, _ := parseMember(u)
		urls = append(urls, m)
	}
	cl.m = newMembers(urls)
	ts, err := newTokenSource(c, &http.Client{Transport: newTransport(tlsConfig), Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	cl.tokens = ts
	return cl, nil
}

// newTransport has dial and header timeouts but no overall one, which
// would cut the event stream (go-marathon issue: a global Client.Timeout
// kills SSE). tlsConfig, if set, has the CAs of Config.CAFile.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Members are the configured Marathon URLs.
func (c *Client) Members() []string { return append([]string(nil), c.m.urls...) }

// Preferred is the member to ask first: the one that answered last, unless
// it failed its check since.
func (c *Client) Preferred() string { return c.m.urls[c.m.order()[0]] }

// Get reads path (e.g. "/v2/apps?embed=apps.tasks") from the first member
// that answers, and returns the body of a 2xx answer.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	var errs []string
	for _, idx := range c.m.order() {
		member := c.m.urls[idx]
		body, status, err := c.getOnce(ctx, idx, path)
		if err == nil && status == http.StatusUnauthorized {
			// The token may have expired early: log in again, once.
			body, status, err = c.getOnce(ctx, idx, path)
		}
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("marathon: %w", ctx.Err())
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", member, err))
			continue
		case status >= 500:
			errs = append(errs, fmt.Sprintf("%s: %s", member, answer(status, body)))
			continue
		}
		c.m.answered(idx)
		if status >= 300 {
			return nil, &StatusError{Status: status, Message: fmt.Sprintf("marathon: GET %s%s: %s", member, path, answer(status, body))}
		}
		return body, nil
	}
	return nil, fmt.Errorf("marathon: no member answered: %s", strings.Join(errs, "; "))
}

// StatusError is an answer of Marathon that is not a success (and not a
// 5xx, which tries the next member).
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// getOnce asks member i, within the request deadline; the request is cut
// when the member is marked down meanwhile.
func (c *Client) getOnce(ctx context.Context, i int, path string) ([]byte, int, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, 0, err
	}
	rctx, cancel := context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("no answer within %s (request_timeout)", c.timeout))
	defer cancel()
	stop := context.AfterFunc(c.m.context(i), cancel)
	defer stop()
	req, err := http.NewRequestWithContext(rctx, "GET", c.m.urls[i]+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "token="+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return nil, 0, c.cut(rctx, i)
		}
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return nil, 0, c.cut(rctx, i)
		}
		return nil, 0, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		c.tokens.Invalidate(tok)
	}
	return body, resp.StatusCode, nil
}

// cut says why a request to member i was cut short.
func (c *Client) cut(rctx context.Context, i int) error {
	if !c.m.up(i) {
		return c.m.failed(i)
	}
	return context.Cause(rctx)
}

// Apps reads every app with its tasks and deployment ids.
func (c *Client) Apps(ctx context.Context) ([]*App, error) {
	body, err := c.Get(ctx, "/v2/apps?embed=apps.tasks&embed=apps.deployments")
	if err != nil {
		return nil, err
	}
	apps, err := DecodeApps(body)
	if err != nil {
		return nil, fmt.Errorf("marathon: %w", err)
	}
	return apps, nil
}

// App reads one app with its tasks and deployment ids; an app Marathon
// does not have is a *StatusError with Status 404.
func (c *Client) App(ctx context.Context, id string) (*App, error) {
	body, err := c.Get(ctx, "/v2/apps"+NormalizeID(id)+"?embed=app.tasks&embed=app.deployments")
	if err != nil {
		return nil, err
	}
	a, err := DecodeAppResponse(body)
	if err != nil {
		return nil, fmt.Errorf("marathon: %w", err)
	}
	return a, nil
}

// Deployments reads the deployments in flight.
func (c *Client) Deployments(ctx context.Context) ([]Deployment, error) {
	body, err := c.Get(ctx, "/v2/deployments")
	if err != nil {
		return nil, err
	}
	ds, err := DecodeDeployments(body)
	if err != nil {
		return nil, fmt.Errorf("marathon: %w", err)
	}
	return ds, nil
}

// Framework is Marathon's framework name from /v2/info, read once.
func (c *Client) Framework(ctx context.Context) (string, error) {
	c.mu.Lock()
	f := c.framework
	c.mu.Unlock()
	if f != "" {
		return f, nil
	}
	body, err := c.Get(ctx, "/v2/info")
	if err != nil {
		return "", err
	}
	var info struct {
		Config struct {
			FrameworkName string `json:"framework_name"`
		} `json:"marathon_config"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("marathon: info: %w", err)
	}
	f = info.Config.FrameworkName
	if f == "" {
		f = "marathon"
	}
	c.mu.Lock()
	c.framework = f
	c.mu.Unlock()
	return f, nil
}

// Fetch reads a whole model: apps, deployments and the framework name.
func (c *Client) Fetch(ctx context.Context) (*Model, error) {
	apps, err := c.Apps(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := c.Deployments(ctx)
	if err != nil {
		return nil, err
	}
	f, err := c.Framework(ctx)
	if err != nil {
		return nil, err
	}
	m := NewModel(apps, ds, f)
	m.Fetched = time.Now()
	return m, nil
}
