package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/turnout/turnout/core/store"
)

// httpError is an error that already knows its status. Handlers return
// them; ServeHTTP writes them as {"message": ...}.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorBody is every error response: {"message": "..."}, as Vamp answered.
type errorBody struct {
	Message string `json:"message" yaml:"message"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	render(w, r, status, errorBody{Message: msg})
}

// fail answers a handler's error. Known failures keep their message; any
// other error is ours (the store failing) and is logged, not shown.
func (a *gatewayAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var mbe *http.MaxBytesError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &he):
		writeError(w, r, he.status, he.msg)
	case errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.As(err, &ce):
		writeError(w, r, http.StatusPreconditionFailed, ce.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		// ZooKeeper down or unreachable: the agent serves on, writes wait.
		a.log.Warn("gateway api request refused: the store is unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, r, http.StatusServiceUnavailable, "the store is unavailable (ZooKeeper down or unreachable); the gateways keep serving; try again: "+err.Error())
	default:
		a.log.Error("gateway api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusInternalServerError, "internal server error")
	}
}
