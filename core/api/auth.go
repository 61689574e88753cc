package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/turnout/turnout/core/console"
)

// requireToken lets a request through only with the admin token, given as
// "Authorization: Bearer <token>" or DC/OS's "Authorization: token=<token>".
// /healthz, /readyz and /metrics stay open: Marathon's health and readiness
// checks and Prometheus call them without credentials. The console's own
// files hold no data and a browser cannot send a header when it loads a
// page: they stay open too, and the page sends the token on its API calls. A refusal says nothing about why.
func requireToken(token string, next http.Handler) http.Handler {
	// Hashing both sides makes the comparison constant-time whatever the
	// lengths (subtle.ConstantTimeCompare returns early on a length mismatch).
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" || console.Public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := presented(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="turnout"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized")
			return
		}
		next.ServeHTTP(w, r)
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
