package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.endpoints")
	if err := os.WriteFile(path, []byte("127.0.0.1:8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sdktest.Backend(t, &fileBackend{poll: time.Second}, sdktest.BackendCase{
		Config: []byte(`{"poll": "20ms"}`),
		Target: sdk.Target{Scheme: "file", Ref: path},
		Bad:    &sdk.Target{Scheme: "file", Ref: "relative/path"},
		Change: func() {
			if err := os.WriteFile(path, []byte("127.0.0.1:8080\n127.0.0.1:8081 unhealthy\n"), 0o644); err != nil {
				t.Error(err)
			}
		},
	})
}

func TestParse(t *testing.T) {
	eps, ready, reason := parse([]byte("# shop\n10.0.0.7:8080\n\n10.0.0.8:8080 unhealthy\nnot-ready: warming caches\n"))
	if len(eps) != 2 || !eps[0].Healthy || eps[1].Healthy || eps[1].Address != "10.0.0.8:8080" || ready || reason != "warming caches" {
		t.Fatalf("got %+v ready=%v reason=%q", eps, ready, reason)
	}
}
