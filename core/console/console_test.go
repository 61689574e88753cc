package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestServesItsFilesWithSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		path, typ string
		want      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/console/console.js", "text/javascript; charset=utf-8", 200},
		{"/console/console.css", "text/css; charset=utf-8", 200},
		{"/console/", "", 404},
		{"/console/missing.js", "", 404},
		{"/index.html", "", 404},
	} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, rec.Code, tc.want)
			continue
		}
		if tc.want != 200 {
			continue
		}
		h := rec.Header()
		if h.Get("Content-Type") != tc.typ {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, h.Get("Content-Type"), tc.typ)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: headers %v", tc.path, h)
		}
	}
}

// Every URL in the console is relative: behind DC/OS Admin Router it lives
// at /service/<name>/, and it loads nothing from elsewhere (offline, no CDN).
func TestEveryURLIsRelativeAndLocal(t *testing.T) {
	absolute := regexp.MustCompile(`(?:src|href|action)="/|fetch\('/|api\('[A-Z]+', '/|https?://|//cdn|document\.cookie|<script>`)
	for path := range files {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Body)
		// The SVG namespace is a name, not a URL that is fetched.
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if m := absolute.FindString(text); m != "" {
			t.Errorf("%s has %q: an absolute or remote URL, a cookie or an inline script", path, m)
		}
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `src="console/console.js"`) {
		t.Error("the page does not load console/console.js by a relative URL")
	}
}
