package api

import (
	"net/http"
)

// GET /cluster lists the agents sharing this agent's store, which of them
// leads (runs the policies) and how far behind each is.
func (a *gatewayAPI) cluster(w http.ResponseWriter, r *http.Request, _ params) error {
	if a.clusterStatus == nil {
		return errorf(http.StatusNotImplemented, "this turnout does not report on its cluster")
	}
	st, err := a.clusterStatus(r.Context())
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, st)
	return nil
}
