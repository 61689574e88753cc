package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/turnout/turnout/core/store"
)

// precondition is a parsed If-Match: absent, "*" (must exist), or "N".
type precondition struct {
	set, any bool
	rev      int64
}

func parseIfMatch(r *http.Request) (precondition, error) {
	vs := r.Header.Values("If-Match")
	if len(vs) == 0 {
		return precondition{}, nil
	}
	s := strings.TrimSpace(strings.Join(vs, ","))
	if s == "*" {
		return precondition{set: true, any: true}, nil
	}
	// One strong tag: a revision is a single number, so a list of them
	// only hides which one the client meant.
	if q, ok := strings.CutPrefix(s, `"`); ok {
		if n, ok := strings.CutSuffix(q, `"`); ok {
			if rev, err := strconv.ParseInt(n, 10, 64); err == nil && rev > 0 {
				return precondition{set: true, rev: rev}, nil
			}
		}
	}
	return precondition{}, errorf(http.StatusBadRequest,
		`malformed If-Match %q: expected one revision tag like "3" (with the quotes) or *`, s)
}

// match checks the precondition against the current entry and returns the
// store Match that keeps it true up to the commit. Without If-Match,
// dflt is used.
func (pc precondition) match(name string, cur store.Entry, exists bool, dflt int64) (int64, error) {
	if !pc.set {
		return dflt, nil
	}
	if !exists {
		return 0, errorf(http.StatusNotFound, "gateway %q not found", name)
	}
	if pc.any || pc.rev == cur.Revision {
		return cur.Revision, nil
	}
	return 0, &store.ConflictError{Name: name, Expected: pc.rev, Current: cur.Revision}
}

// commitOne applies one change (with guards, checks that change nothing:
// see namedGuards); a conflict whose gateway is gone is a 404.
func (a *gatewayAPI) commitOne(ctx context.Context, c store.Change, guards ...store.Change) (store.Entry, error) {
	es, err := a.st.Apply(ctx, append([]store.Change{c}, guards...))
	var ce *store.ConflictError
	if errors.As(err, &ce) && namedMoved(ce) != nil {
		return store.Entry{}, namedMoved(ce)
	}
	if errors.As(err, &ce) && ce.Current == store.Absent && ce.Expected != store.Absent {
		return store.Entry{}, errorf(http.StatusNotFound, "gateway %q not found", c.Name)
	}
	if err != nil {
		return store.Entry{}, err
	}
	return es[0], nil
}

func setETag(w http.ResponseWriter, rev int64) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(rev, 10)))
}
