package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/core/api"
)

// Media types the gateway API speaks (see core/api/negotiate.go).
const (
	mediaJSON = "application/json"
	mediaYAML = "application/x-yaml"
)

// client is a small client of Turnout's REST API (/api/v1). Every error it
// returns is an *exitError: 3 when the server cannot be reached, 1 when it
// answered 4xx or 5xx (with an *apiError inside).
type client struct {
	base  string // e.g. http://127.0.0.1:9880, without a trailing slash
	token string
	http  *http.Client
	// reason goes with every change (X-Turnout-Reason).
	reason string
}

// newClient reads --addr: a URL, or host:port as --admin is written.
// caCert, if set, is a PEM file of the certificates (a private CA, or a
// self-signed server certificate) an https address is verified against,
// instead of the system's.
func newClient(addr, token, caCert string, timeout time.Duration) (*client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, usageErrorf("--addr %q: want host:port or http(s)://host:port", addr)
	}
	hc := &http.Client{Timeout: timeout}
	if caCert != "" {
		// A CA for a plain http address is a mistake that would send the
		// token in clear text while its sender thinks it is protected.
		if u.Scheme != "https" {
			return nil, usageErrorf("--ca-cert %s is for an https address, and --addr %s is plain http: write https://", caCert, addr)
		}
		pool, err := certPool(caCert)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	return &client{
		base:  strings.TrimRight(u.String(), "/"),
		token: token,
		http:  hc,
	}, nil
}

// certPool reads the PEM certificates of --ca-cert.
func certPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in the file", file)
	}
	return pool, nil
}

// apiError is a refusal by the server: its status and {"message"}.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

// statusOf is the status of a refusal, 0 for any other error.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// response is an answered request with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// revision is the gateway revision in the ETag ("3"), 0 without one.
func (r *response) revision() int64 {
	s, err := strconv.Unquote(r.header.Get("ETag"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// request is one call: path is relative to /api/v1 and already escaped.
type request struct {
	method, path string
	body         []byte
	contentType  string
	accept       string
	ifMatch      string
}

func (c *client) do(ctx context.Context, rq request) (*response, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, c.base+"/api/v1"+rq.path, body)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	req.Header.Set("Accept", cmp.Or(rq.accept, mediaJSON))
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	if rq.ifMatch != "" {
		req.Header.Set("If-Match", rq.ifMatch)
	}
	if c.reason != "" && rq.method != http.MethodGet {
		req.Header.Set(api.ReasonHeader, c.reason)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unreachable(c.base, c.http.Timeout, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, unreachable(c.base, c.http.Timeout, err)
	}
	if resp.StatusCode >= 400 {
		return nil, c.refused(resp.StatusCode, b)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// refused is exit 1 with the server's message. A 401's message says only
// "unauthorized" (the server tells a stranger nothing more): this adds how
// to give the token.
func (c *client) refused(status int, body []byte) error {
	msg := serverMessage(status, body)
	if status == http.StatusUnauthorized {
		if c.token == "" {
			msg += ": this turnout requires an API token: give it with --token or TURNOUT_TOKEN"
		} else {
			msg += ": the API token was refused: check --token or TURNOUT_TOKEN"
		}
	}
	return &exitError{code: exitRefused, err: &apiError{status: status, message: msg}}
}

// unreachable is exit 3: connection refused, DNS, TLS, timeouts, a
// connection cut mid-answer. The transport's own text is kept short.
func unreachable(base string, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return &exitError{code: exitUnreachable, err: fmt.Errorf("cannot reach turnout at %s: no answer within %s", base, timeout)}
		}
		err = ue.Err
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		return &exitError{code: exitUnreachable, err: fmt.Errorf("cannot reach turnout at %s: %w (to trust a private CA or a self-signed certificate: --ca-cert FILE)", base, err)}
	}
	return &exitError{code: exitUnreachable, err: fmt.Errorf("cannot reach turnout at %s: %v", base, err)}
}

// serverMessage is the {"message"} of an error answer, or the status and
// the start of the body when it is something else (a proxy's page).
func serverMessage(status int, body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return fmt.Sprintf("server answered %d %s", status, http.StatusText(status))
	}
	return fmt.Sprintf("server answered %d %s: %s", status, http.StatusText(status), s)
}

// gatewayPath is /gateways/NAME; names may contain "/", which stays a
// path separator (the API splits on it), so each part is escaped alone.
func gatewayPath(name string, sub ...string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/gateways/" + strings.Join(append(parts, sub...), "/")
}

// download streams the body of GET path (a store backup) to w rather than
// holding it in memory. A body cut short fails: the server sends its
// Content-Length, and the transport checks it.
func (c *client) download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1"+path, nil)
	if err != nil {
		return 0, usageErrorf("%v", err)
	}
	req.Header.Set("Accept", "application/octet-stream, "+mediaJSON)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, unreachable(c.base, c.http.Timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, c.refused(resp.StatusCode, b)
	}
	body := &readErr{r: resp.Body}
	n, err := io.Copy(w, body)
	switch {
	case body.err != nil:
		return n, unreachable(c.base, c.http.Timeout, fmt.Errorf("the answer was cut short after %d bytes: %w", n, body.err))
	case err != nil:
		return n, err // writing the local file
	}
	return n, nil
}

// readErr remembers a read error, to tell the network's failures from the
// local file's in io.Copy.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
