package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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

// TestFixedPluginFileServesWithoutRestart: the plugin file in the
// directory is not the one whose checksum is configured (a botched
// upgrade), so the gateway naming it serves degraded; copying the right
// binary in makes Turnout read the directory again, start the plugin and
// serve the gateway's routes, without a restart.
func TestFixedPluginFileServesWithoutRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	examples, sums := examplePlugins(t)
	const file = "turnout-plugin-backend-file"
	good, err := os.ReadFile(filepath.Join(examples, file))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), append(slices.Clone(good), "botched"...), 0o755); err != nil {
		t.Fatal(err)
	}
	backend := testnet.Backend(t, "shop")
	v1, v2 := filepath.Join(t.TempDir(), "v1.endpoints"), filepath.Join(t.TempDir(), "v2.endpoints")
	endpointsFile(t, v1, backend)
	endpointsFile(t, v2, backend)
	port := testnet.FreePort(t)
	tt := start(t, fileGateway(port, v1, v2), "--plugin-dir", dir, "--plugin-checksum", file+"="+sums[file])
	tt.awaitStatus("shop", 10*time.Second, "the shop's routes held for the checksum", func(st e2eStatus) bool {
		return len(st.Routes) == 2 && st.Routes[0].Effective == "0%" && strings.Contains(st.Routes[0].Held, "checksum mismatch")
	})

	// The right binary, written beside and renamed in, as an installer does.
	if err := os.WriteFile(filepath.Join(dir, "."+file), good, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "."+file), filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
	tt.awaitStatus("shop", 20*time.Second, "the shop's routes served", func(st e2eStatus) bool {
		return len(st.Routes) == 2 && st.Routes[0].Effective == "50%" && st.Routes[1].Effective == "50%"
	})
	if got := get(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "shop" {
		t.Errorf("the gateway answered %q", got)
	}
	if !strings.Contains(tt.logs.String(), "plugin file accepted") && !strings.Contains(tt.logs.String(), "plugin started") {
		t.Errorf("the log does not say the plugin started:\n%s", tt.logs.String())
	}
}
