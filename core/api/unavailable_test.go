package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/store"
)

// downStore is a store whose backend (ZooKeeper) cannot be reached.
type downStore struct{ *store.Memory }

func (downStore) Apply(context.Context, []store.Change) ([]store.Entry, error) {
	return nil, fmt.Errorf("store: apply: zookeeper 127.0.0.1:2181/turnout: not connected: %w", store.ErrUnavailable)
}

func (downStore) Get(context.Context, string) (store.Entry, error) {
	return store.Entry{}, fmt.Errorf("store: get: zookeeper 127.0.0.1:2181/turnout: not connected: %w", store.ErrUnavailable)
}

// A store that cannot be reached is a 503 with Retry-After, not a 500: the
// agent serves on, and the write can be tried again.
func TestStoreUnavailableIs503(t *testing.T) {
	st := downStore{store.NewMemory()}
	defer st.Close()
	h := NewGatewayAPI(st, fakeCheck, slog.New(slog.DiscardHandler))
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/gateways/simpleservice", seedJSON},
		{"GET", "/api/v1/gateways/simpleservice", ""},
	} {
		r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
		r.Header.Set(ct, jsn)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "store is unavailable") {
			t.Errorf("%s %s: %d %v %s", req.method, req.path, rec.Code, rec.Header(), rec.Body)
		}
	}
}
