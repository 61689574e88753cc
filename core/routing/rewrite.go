package routing

import (
	"strings"

	"github.com/turnout/turnout/core/condition"
	"github.com/turnout/turnout/core/gateway"
)

// Rewrite is a compiled "path: NEW if COND".
type Rewrite struct {
	Match *condition.Matcher
	// parts alternate literal text and the original path: parts[i] is
	// literal, and between parts the original path is inserted.
	parts []string
}

const pathVar = "%[path]"

func compileRewrite(rw gateway.Rewrite) Rewrite {
	return Rewrite{Match: rw.Match, parts: strings.Split(rw.Path, pathVar)}
}

// RewritePath appends the rewritten path for req to dst and reports
// whether a rewrite applied (the first matching one wins). Conditions see
// the decoded path; "%[path]" inserts original, the path as the client
// escaped it, so %2F or %3F never turn into separators on the way out.
func (r *Route) RewritePath(dst []byte, req condition.Request, original []byte) ([]byte, bool) {
	for i := range r.Rewrites {
		rw := &r.Rewrites[i]
		if rw.Match != nil && !rw.Match.Match(req) {
			continue
		}
		for j, p := range rw.parts {
			if j > 0 {
				dst = append(dst, original...)
			}
			dst = append(dst, p...)
		}
		return dst, true
	}
	return dst, false
}
