package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/turnout/turnout/core/console"
)

// NamedToken is one admin token and the name changes made with it are
// signed with (the author in history and events).
type NamedToken struct {
	Name, Secret string
}

// requireToken lets a request through only with one of the admin tokens,
// given as "Authorization: Bearer <token>" or DC/OS's "Authorization:
// token=<token>", and marks the request with that token's name (its
// author). /healthz, /readyz and /metrics stay open: Marathon's health and
// readiness checks and Prometheus call them without credentials. The
// console's own files hold no data and a browser cannot send a header when
// it loads a page: they stay open too, and the page sends the token on its
// API calls. A refusal says nothing about why.
func requireToken(tokens []NamedToken, next http.Handler) http.Handler {
	// Hashing both sides makes the comparison constant-time whatever the
	// lengths (subtle.ConstantTimeCompare returns early on a length mismatch).
	want := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		want[i] = sha256.Sum256([]byte(t.Secret))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" || console.Public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := presented(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		match := -1
		for i := range want { // every one compared: the time says nothing of which
			if subtle.ConstantTimeCompare(sum[:], want[i][:]) == 1 && match < 0 {
				match = i
			}
		}
		if !ok || match < 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="turnout"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized")
			return
		}
		next.ServeHTTP(w, withAuthor(r, tokens[match].Name))
	})
}

func presented(h string) (string, bool) {
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t), true
	}
	if t, ok := strings.CutPrefix(h, "token="); ok {
		return strings.TrimSpace(t), true
	}
	return "", false
}
