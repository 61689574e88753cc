package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestRefusedPluginInTheFileDegradesOneGateway: `serve -f` with a file
// whose gateway names a plugin that is refused (a wrong checksum) starts
// anyway, as the same gateway from the store does: that gateway's routes
// are held and say why, the file's other gateways serve. The API still
// refuses the gateway.
func TestRefusedPluginInTheFileDegradesOneGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	dir, _ := examplePlugins(t)
	backend := testnet.Backend(t, "static")
	staticPort, shopPort := testnet.FreePort(t), testnet.FreePort(t)
	tmp := t.TempDir()
	v1, v2 := filepath.Join(tmp, "v1.endpoints"), filepath.Join(tmp, "v2.endpoints")
	endpointsFile(t, v1, backend)
	endpointsFile(t, v2, backend)
	file := fmt.Sprintf("name: static\nport: %d/http\nroutes:\n  \"[%s]\": {}\n---\n", staticPort, backend) + fileGateway(shopPort, v1, v2)
	tt := start(t, file, "--plugin-dir", dir, "--plugin-checksum", "turnout-plugin-backend-file="+strings.Repeat("0", 64))

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", staticPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "static" {
		t.Fatalf("the file's other gateway answered %d %q", resp.StatusCode, body)
	}
	st := tt.awaitStatus("shop", 10*time.Second, "the shop's routes held", func(st e2eStatus) bool { return len(st.Routes) == 2 })
	for _, r := range st.Routes {
		if r.Effective != "0%" || !strings.Contains(r.Held, "checksum mismatch") {
			t.Errorf("route %+v, want held at 0%% saying checksum mismatch", r)
		}
	}
	if !strings.Contains(tt.logs.String(), "serving degraded") {
		t.Errorf("no warning in the log:\n%s", tt.logs.String())
	}
	// Through the API the same gateway is refused, with the reason.
	gw := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(gw, []byte(fileGateway(testnet.FreePort(t), v1, v2)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := tt.cli("gateway", "apply", "-f", gw); code != 1 || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("apply: exit %d, output %s", code, out)
	}
}
