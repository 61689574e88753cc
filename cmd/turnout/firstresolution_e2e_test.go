package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakeconsul"
	"github.com/turnout/turnout/internal/testnet"
)

// A route a backend plugin resolves answers from a start's first request:
// the port takes traffic once the plugin's first snapshot is in, not
// before with a 503. The Consul agent here holds its first answers until
// the test has seen the gateway's port still closed while the plugin
// waits for them, so that the first snapshot comes late whatever the
// machine's speed.
func TestAPluginRouteAnswersFromTheFirstRequestAfterAStart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	consulEnv(t)
	fc := fakeconsul.New(t, fakeconsul.Options{})
	in := newSvcInstance(t, "svc-a1", "1.0.0")
	in.register(fc, "1.0.0")
	agent, err := url.Parse(fc.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(agent)
	var asked atomic.Int64
	release := make(chan struct{})
	firstQuery := make(chan struct{}) // closed by the plugin's first query
	slow := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := asked.Add(1)
		if n == 1 {
			close(firstQuery)
		}
		if n <= 2 {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	port := testnet.FreePort(t)
	gatewayAddr := fmt.Sprintf("127.0.0.1:%d", port)
	portOpenEarly := make(chan bool, 1)
	go func() {
		defer close(release)
		select {
		case <-firstQuery:
		case <-time.After(30 * time.Second): // a bound for a broken start, not a wait
		}
		c, err := net.DialTimeout("tcp", gatewayAddr, time.Second)
		if err == nil {
			c.Close()
		}
		portOpenEarly <- err == nil
	}()
	start(t, consulGateway(port, "1.0.0"), "--plugin-config", fmt.Sprintf(
		`consul={"address": %q, "scheme": "http", "min_interval": "10ms", "retry_min": "50ms", "retry_max": "200ms"}`, slow.String()))
	if <-portOpenEarly {
		t.Fatalf("the gateway's port took connections while its plugin's first answer was held")
	}
	resp, err := http.Get("http://" + gatewayAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "1.0.0" {
		t.Fatalf("the first request after the start: %d from %q, want 200 from 1.0.0", resp.StatusCode, resp.Header.Get("X-Backend"))
	}
}

// A target its plugin cannot watch at all (here a consul: query key that
// does not exist) is refused when the gateway is applied, naming the key,
// rather than accepted and then held with 503s.
func TestABadBackendRefIsRefusedAtApply(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	consulEnv(t)
	fc := fakeconsul.New(t, fakeconsul.Options{})
	in := newSvcInstance(t, "svc-a1", "1.0.0")
	in.register(fc, "1.0.0")
	port := testnet.FreePort(t)
	tt := start(t, consulGateway(port, "1.0.0"), consulArgs(fc)...)
	file := filepath.Join(t.TempDir(), "shop.yaml")
	bad := strings.Replace(consulGateway(port, "1.0.0"), "?tag=", "?tga=", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	tt.expectCLI(1, `consul: ref "svc?tga=1.0.0": unknown query key "tga" (known: tag, dc, near, passing)`, "gateway", "apply", "-f", file)
	if st := tt.status("shop"); len(st.Routes) != 1 || st.Routes[0].Route != consul100 {
		t.Fatalf("the refused apply changed the gateway: %+v", st.Routes)
	}
}
