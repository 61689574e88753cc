// Package console serves the web console: one HTML page, a script and a
// style sheet, embedded in the binary (no CDN, works offline). Every URL
// in them is relative, so the console works at / on the admin listener
// and behind DC/OS Admin Router at /service/<name>/.
package console

import (
	"embed"
	"net/http"
)

//go:embed assets
var assets embed.FS

// csp allows only the console's own files and calls to its own origin:
// no inline script, no frames, no forms posting elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// files maps the paths the console answers to its assets and types.
var files = map[string]struct{ name, typ string }{
	"/":                    {"assets/index.html", "text/html; charset=utf-8"},
	"/console/console.js":  {"assets/console.js", "text/javascript; charset=utf-8"},
	"/console/console.css": {"assets/console.css", "text/css; charset=utf-8"},
}

// Public says whether path is one of the console's files: they carry no
// data (the page asks the API for it, with the token), so the token guard
// lets a browser load them without one.
func Public(path string) bool {
	_, ok := files[path]
	return ok
}

// Handler serves the console's files; mount it at "GET /{$}" and
// "GET /console/" so that it shadows nothing else on the admin mux.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := assets.ReadFile(f.name)
		if err != nil {
			http.Error(w, "console asset missing", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.typ)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The assets change with the binary: revalidate rather than cache
		// an old script across an upgrade.
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(b)
	})
}
