package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/turnout/turnout/core/cluster"
	"github.com/turnout/turnout/core/store"
)

func TestClusterStatus(t *testing.T) {
	get := func(c func(context.Context) (cluster.Status, error)) *httptest.ResponseRecorder {
		h := New(Config{Store: store.NewMemory(), Cluster: c})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/cluster", nil))
		return w
	}
	w := get(func(context.Context) (cluster.Status, error) {
		return cluster.Single("bolt", cluster.Info{ID: "a", Admin: "127.0.0.1:9880", Applied: 3}, 5), nil
	})
	var st cluster.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); w.Code != 200 || err != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if st.Leader != "a" || len(st.Agents) != 1 || !st.Agents[0].Leader || st.Agents[0].Behind != 2 {
		t.Fatalf("%+v", st)
	}
	w = get(func(context.Context) (cluster.Status, error) {
		return cluster.Status{}, fmt.Errorf("cluster: %w", store.ErrUnavailable)
	})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("zookeeper down: %d %s", w.Code, w.Body)
	}
	if w := get(nil); w.Code != http.StatusNotImplemented {
		t.Fatalf("no cluster: %d %s", w.Code, w.Body)
	}
}
