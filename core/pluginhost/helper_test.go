package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/turnout/turnout/plugins/sdk"
)

// The test binary doubles as every plugin these tests start: copied into a
// plugin directory as turnout-plugin-KIND-NAME, it serves the plugin its
// name says (go-plugin's and Nomad's helper-process pattern).
func TestMain(m *testing.M) {
	if name := filepath.Base(os.Args[0]); strings.HasPrefix(name, Prefix) {
		servePlugin(strings.TrimPrefix(name, Prefix))
		return
	}
	// Supervision at test speed.
	pingEvery, pingTimeout, backoffFirst, retryRefused = 100*time.Millisecond, 500*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
	os.Exit(m.Run())
}

func servePlugin(name string) {
	switch name {
	case "backend-echo":
		sdk.Serve(&echo{name: "echo"})
	case "backend-liar":
		sdk.Serve(&echo{name: "someone-else"})
	case "backend-future":
		// A plugin built against a future SDK: it speaks API version 2 only.
		sets, _ := sdk.ServerPlugins(&echo{name: "future"})
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{2: sets[sdk.APIVersion]},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
	default:
		fmt.Fprintln(os.Stderr, "no test plugin", name)
		os.Exit(1)
	}
}

// echo resolves "echo:ADDR[,ADDR...]" to those addresses, ready, and logs
// each watch so the test can see plugin logs arrive.
type echo struct{ name string }

func (e *echo) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: e.name, Kind: sdk.KindBackend, Version: "0.0.1", Schemes: []string{e.name}}, nil
}

func (e *echo) Configure(_ context.Context, raw json.RawMessage) error {
	var c struct {
		Fail string `json:"fail"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	if c.Fail != "" {
		return fmt.Errorf("echo: %s", c.Fail)
	}
	return nil
}

func (e *echo) Watch(ctx context.Context, t sdk.Target) (<-chan sdk.Snapshot, error) {
	if t.Ref == "" || strings.HasPrefix(t.Ref, "bad") {
		return nil, fmt.Errorf("echo: malformed reference %q", t.Ref)
	}
	sdk.Logger().Info("watching", "target", t.String())
	ch := make(chan sdk.Snapshot, 1)
	var eps []sdk.Endpoint
	for _, a := range strings.Split(t.Ref, ",") {
		eps = append(eps, sdk.Endpoint{Address: a, Healthy: true})
	}
	ch <- sdk.Snapshot{Revision: 1, Endpoints: eps, Ready: true}
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// install copies the test binary into dir as a plugin and returns its
// checksum (hex).
func install(t *testing.T, dir, file string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// startHost runs a host over dir until the test ends, and waits for every
// plugin process to be gone then.
func startHost(t *testing.T, o CatalogOptions, configs map[string]json.RawMessage, log io.Writer) (*Host, chan struct{}) {
	t.Helper()
	cat, err := NewCatalog(o)
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 1)
	h := New(Options{Catalog: cat, Config: configs, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange: func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	h.Start(ctx)
	t.Cleanup(func() {
		cancel()
		h.Wait()
	})
	return h, changed
}
