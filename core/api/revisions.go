package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// revisionInfo is one line of a gateway's history.
type revisionInfo struct {
	Revision int64  `json:"revision" yaml:"revision"`
	Time     string `json:"time" yaml:"time"`
	Deleted  bool   `json:"deleted" yaml:"deleted"`
	Reason   string `json:"reason,omitempty" yaml:"reason,omitempty"`
	Author   string `json:"author,omitempty" yaml:"author,omitempty"`
}

// GET /gateways/{name}/revisions[?revision=N]
func (a *gatewayAPI) revisions(w http.ResponseWriter, r *http.Request, p params) error {
	if s := r.URL.Query().Get("revision"); s != "" {
		return a.revision(w, r, params{name: p.name, revision: s})
	}
	hist, err := a.st.History(r.Context(), p.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(p.name)
	}
	if err != nil {
		return err
	}
	out := make([]revisionInfo, len(hist))
	for i, e := range hist {
		out[i] = revisionInfo{Revision: e.Revision, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), Deleted: e.Deleted, Reason: e.Reason, Author: e.Author}
	}
	render(w, r, http.StatusOK, out)
	return nil
}

func parseRevision(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "revision must be a whole number from 1, got %q", s)
	}
	return n, nil
}

// revisionDoc is one kept revision of a gateway, live or not.
func (a *gatewayAPI) revisionDoc(ctx context.Context, name string, rev int64) (*gateway.Gateway, store.Entry, error) {
	e, err := a.st.Revision(ctx, name, rev)
	if errors.Is(err, store.ErrNotFound) {
		if _, herr := a.st.History(ctx, name); errors.Is(herr, store.ErrNotFound) {
			return nil, e, notFound(name)
		}
		return nil, e, errorf(http.StatusNotFound, "gateway %q has no revision %d", name, rev)
	}
	if err != nil {
		return nil, e, err
	}
	if e.Deleted {
		return nil, e, errorf(http.StatusNotFound, "gateway %q revision %d is a deletion: it has no document", name, rev)
	}
	g, err := decodeStored(e)
	return g, e, err
}

// GET /gateways/{name}/revisions/{revision}
func (a *gatewayAPI) revision(w http.ResponseWriter, r *http.Request, p params) error {
	rev, err := parseRevision(p.revision)
	if err != nil {
		return err
	}
	g, _, err := a.revisionDoc(r.Context(), p.name, rev)
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, g)
	return nil
}

// POST /gateways/{name}/rollback?to=N: a new revision whose document is
// revision N's; history is never rewritten.
func (a *gatewayAPI) rollback(w http.ResponseWriter, r *http.Request, p params) error {
	to := r.URL.Query().Get("to")
	if to == "" {
		return errorf(http.StatusBadRequest, "rollback needs ?to=REVISION")
	}
	rev, err := parseRevision(to)
	if err != nil {
		return err
	}
	pc, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	vo, err := validateOnly(r)
	if err != nil {
		return err
	}
	g, _, err := a.revisionDoc(r.Context(), p.name, rev)
	if err != nil {
		return err
	}
	// A rollback says so in the history, with the operator's reason.
	why := fmt.Sprintf("rollback to revision %d", rev)
	if given := reason(r); given != "" {
		why += ": " + given
	}
	r = r.WithContext(context.WithValue(r.Context(), reasonKey{}, why))
	return a.replace(w, r, g, pc, vo, http.StatusOK)
}
