package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/metrics"
)

func TestLoopbackOnly(t *testing.T) {
	names := map[string][]string{
		"localhost":   {"127.0.0.1", "::1"},
		"loop6":       {"::1"},
		"mixed":       {"127.0.0.1", "10.0.0.7"},
		"public":      {"203.0.113.9"},
		"none":        {},
		"agent.mesos": {"10.0.4.2"},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		addrs, ok := names[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
	for _, tc := range []struct {
		addr    string
		want    bool
		wantErr string
	}{
		{"127.0.0.1:9880", true, ""},
		{"127.1.2.3:9880", true, ""}, // all of 127.0.0.0/8
		{"[::1]:9880", true, ""},
		{"[::ffff:127.0.0.1]:9880", true, ""},
		{"localhost:9880", true, ""},
		{"loop6:9880", true, ""},
		{":9880", false, ""}, // every interface
		{"0.0.0.0:9880", false, ""},
		{"[::]:9880", false, ""},
		{"10.0.0.7:9880", false, ""},
		{"mixed:9880", false, ""}, // one public address is enough to be reachable
		{"public:9880", false, ""},
		{"agent.mesos:9880", false, ""},
		{"none:9880", false, "no address"},
		{"unknown:9880", false, "resolve unknown: no such host"},
		{"127.0.0.1", false, "missing port"},
	} {
		got, err := LoopbackOnly(context.Background(), tc.addr, lookup)
		if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("LoopbackOnly(%q) = %v, %v; want %v, error %q", tc.addr, got, err, tc.want, tc.wantErr)
		}
	}
	// The system's resolver: this machine's localhost is loopback.
	if ok, err := LoopbackOnly(context.Background(), "localhost:1", nil); !ok || err != nil {
		t.Errorf("localhost with the system resolver: %v, %v", ok, err)
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "0.0.0.0:1": false, "[::]:1": false, "10.1.2.3:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsLoopbackAddr(a); got != want {
			t.Errorf("IsLoopbackAddr(%s) = %v", addr, got)
		}
	}
	if IsLoopbackAddr(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}) {
		t.Error("a unix socket is not a loopback TCP address")
	}
}

// With TLS the admin listener speaks HTTPS only, and with Open /healthz
// carries the warning.
func TestAdminServesTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: metrics.NewRegistry().Prometheus, Logger: slog.New(slog.DiscardHandler),
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok\nwarning: no token guards this admin API") {
		t.Errorf("/healthz over TLS: %d %q", resp.StatusCode, body)
	}
	// Plain HTTP to the TLS port is answered 400 by net/http, never served.
	resp, err = http.Get("http://" + s.Addr().String() + "/healthz")
	if err == nil {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("plain HTTP to the TLS listener: %d %q", resp.StatusCode, body)
		}
	}
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "turnout test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
