package marathon

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ServiceAccount is a DC/OS service account secret, the JSON document that
// `dcos security org service-accounts create` and the secret store hold.
type ServiceAccount struct {
	LoginEndpoint string `json:"login_endpoint"`
	PrivateKey    string `json:"private_key"`
	UID           string `json:"uid"`
	Scheme        string `json:"scheme"`
	key           *rsa.PrivateKey
}

func parseSecret(s string) (*ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal([]byte(s), &sa); err != nil {
		return nil, fmt.Errorf("configuration: service_account_secret: %w", err)
	}
	switch {
	case sa.UID == "":
		return nil, fmt.Errorf("configuration: service_account_secret: no uid")
	case sa.LoginEndpoint == "":
		return nil, fmt.Errorf("configuration: service_account_secret: no login_endpoint")
	case sa.Scheme != "" && sa.Scheme != "RS256":
		return nil, fmt.Errorf("configuration: service_account_secret: scheme %q: only RS256 is supported", sa.Scheme)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(sa.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("configuration: service_account_secret: private_key: %w", err)
	}
	sa.key = key
	return &sa, nil
}

// LoginToken is the RS256 JWT a service account presents to
// /acs/api/v1/auth/login: {"uid": ..., "exp": ...}, signed with its key.
func (sa *ServiceAccount) LoginToken(now time.Time) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"uid": sa.UID, "exp": now.Add(5 * time.Minute).Unix()})
	return t.SignedString(sa.key)
}

// tokenSource hands out the token for Marathon's Authorization header:
// a fixed ACS token, or one a service account logged in for and renews
// before it expires.
type tokenSource struct {
	static string
	sa     *ServiceAccount
	http   *http.Client
	now    func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

func newTokenSource(c Config, hc *http.Client) (*tokenSource, error) {
	ts := &tokenSource{static: c.ACSToken, http: hc, now: time.Now}
	if c.ServiceAccountSecret != "" {
		sa, err := parseSecret(c.ServiceAccountSecret)
		if err != nil {
			return nil, err
		}
		ts.sa = sa
	}
	return ts, nil
}

// Token is the current token, logging in first when there is none or it
// is due for renewal. Empty when no auth is configured.
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	if ts == nil || ts.sa == nil {
		if ts == nil {
			return "", nil
		}
		return ts.static, nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Before(ts.renewAt) {
		return ts.token, nil
	}
	tok, err := ts.login(ctx)
	if err != nil {
		// A renewal that fails keeps the old token while it may still be
		// good: the next call tries again.
		if ts.token != "" {
			return ts.token, nil
		}
		return "", err
	}
	ts.token = tok
	ts.renewAt = ts.renewal(tok)
	return tok, nil
}

// Invalidate forgets a token Marathon refused (401), so the next call logs
// in again.
func (ts *tokenSource) Invalidate(token string) {
	if ts == nil || ts.sa == nil {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == token {
		ts.renewAt = time.Time{}
	}
}

// renewal is when to log in again: at 80% of the token's lifetime, read
// from its own exp claim (DC/OS tokens are JWTs), or within the hour when
// it has none.
func (ts *tokenSource) renewal(tok string) time.Time {
	now := ts.now()
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err == nil && claims.ExpiresAt != nil {
		if life := claims.ExpiresAt.Sub(now); life > 0 {
			return now.Add(life * 8 / 10)
		}
		return now
	}
	return now.Add(time.Hour)
}

func (ts *tokenSource) login(ctx context.Context) (string, error) {
	lt, err := ts.sa.LoginToken(ts.now())
	if err != nil {
		return "", fmt.Errorf("marathon: service account login: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"uid": ts.sa.UID, "token": lt})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.sa.LoginEndpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("marathon: service account login: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("marathon: service account login: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("marathon: service account login at %s: %s", ts.sa.LoginEndpoint, answer(resp.StatusCode, b))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("marathon: service account login at %s: no token in the answer", ts.sa.LoginEndpoint)
	}
	return out.Token, nil
}

// answer is an error answer in words: the status and its message.
func answer(status int, body []byte) string {
	var m struct {
		Message     string `json:"message"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(body, &m)
	msg := m.Message
	if msg == "" {
		msg = m.Description
	}
	if msg == "" {
		msg = string(bytes.TrimSpace(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
	}
	if msg == "" {
		return fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	return fmt.Sprintf("%d %s: %s", status, http.StatusText(status), msg)
}
