package api

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/store"
)

// GET /store/backup streams a copy of a bbolt store that passes the
// store's check and holds its gateways; a memory store has none (501).
func TestStoreBackup(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := NewGatewayAPI(st, fakeCheck, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/gateways", strings.NewReader(seedJSON)))
	if rec.Code != 201 {
		t.Fatalf("seed: %d %s", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/store/backup", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/octet-stream" ||
		rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("backup: %d %v, %d bytes", rec.Code, rec.Header(), rec.Body.Len())
	}
	rep, err := store.SaveBackup(filepath.Join(t.TempDir(), "b.db"), func(w io.Writer) error {
		_, err := w.Write(rec.Body.Bytes())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Gateways != 1 {
		t.Errorf("the backup holds %d gateways, want 1", rep.Gateways)
	}

	f := newFixture(t)
	if rec := f.must(501, "GET", "/api/v1/store/backup", ""); !strings.Contains(rec.Body.String(), "in memory") {
		t.Errorf("memory store: %s", rec.Body)
	}
}
