package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/turnout/turnout/core/store"
)

// backuper is a store that copies itself consistently (*store.Bolt).
type backuper interface {
	Backup(ctx context.Context, w io.Writer, size func(int64)) (int64, error)
}

// GET /store/backup streams a consistent copy of the store file (one bbolt
// read transaction, writes go on) for `turnout store backup --addr`: a
// running turnout holds the file's lock, so a live agent is backed up
// through here. The copy is as long as Content-Length says; a copy that
// fails midway is cut short, which the client sees.
func (a *gatewayAPI) backup(w http.ResponseWriter, r *http.Request, _ params) error {
	b, ok := a.st.(backuper)
	if z, isZK := a.st.(*store.ZK); !ok && isZK {
		return errorf(http.StatusNotImplemented, "this turnout keeps its desired state in %s: there is no store file to back up; copy it into one with turnout store copy --from ZK-URL --to bolt://DIR", z)
	}
	if !ok {
		return errorf(http.StatusNotImplemented, "this turnout keeps its desired state in memory (--demo without --data-dir): there is no store file to back up")
	}
	started := false
	n, err := b.Backup(r.Context(), w, func(size int64) {
		started = true
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Disposition", `attachment; filename="turnout.db"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && started {
		a.log.Error("store backup cut short", "bytes", n, "err", err)
		return nil
	}
	if err == nil {
		a.log.Info("store backed up through the API", "bytes", n)
	}
	return err
}
