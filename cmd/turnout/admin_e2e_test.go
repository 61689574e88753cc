package main

// The admin listener's guard, through the real binary: an address others
// can reach needs a token or --insecure-admin, and the API can be served
// over TLS to a CLI that trusts a private CA. Listeners may bind 0.0.0.0;
// every connection goes to 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// cleanAdminEnv keeps the environment of whoever runs the tests out of the
// binary's admin settings.
var cleanAdminEnv = []string{"TURNOUT_TOKEN=", "TURNOUT_INSECURE_ADMIN=", "TURNOUT_ADMIN=", "TURNOUT_CA_CERT=",
	"TURNOUT_ADMIN_TLS_CERT=", "TURNOUT_ADMIN_TLS_KEY=", "TURNOUT_ADDR="}

// serveExits runs `turnout serve` with args, which must exit (a refusal)
// within 20s, and returns its output and exit code.
func serveExits(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--data-dir", "", "--bind", "127.0.0.1"}, args...)...)
	cmd.Env = append(append(os.Environ(), cleanAdminEnv...), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("turnout serve %s did not exit: it serves\n%s", strings.Join(args, " "), out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// serveAdmin runs `turnout serve` with args (which name --admin) and env,
// stops it when the test ends, and waits until GET base/healthz answers
// 200 through c.
func serveAdmin(t *testing.T, env []string, c *http.Client, base string, args ...string) *turnout {
	t.Helper()
	tt := &turnout{t: t, logs: &testnet.Buffer{}}
	tt.cmd = exec.Command(binary, append([]string{"serve", "--data-dir", "", "--bind", "127.0.0.1"}, args...)...)
	tt.cmd.Env = append(append(os.Environ(), cleanAdminEnv...), env...)
	tt.cmd.Stdout, tt.cmd.Stderr = tt.logs, tt.logs
	if err := tt.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tt.stop()
		if t.Failed() {
			t.Logf("turnout logs:\n%s", tt.logs.String())
		}
	})
	testnet.Eventually(t, 10*time.Second, "turnout to become healthy", func() bool {
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return tt
}

// fetch GETs url through c with an optional bearer token and returns the
// status and body (status 0 and the error when nothing answered).
func fetch(c *http.Client, url, token string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminRefusedOnOpenAddressWithoutToken(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	all := fmt.Sprintf("0.0.0.0:%d", port)
	for _, tc := range []struct {
		admin string // in the error
		env   []string
		args  []string
	}{
		{all, nil, []string{"--admin", all}},
		{fmt.Sprintf(":%d", port), nil, []string{"--admin", fmt.Sprintf(":%d", port)}},
		{fmt.Sprintf("[::]:%d", port), nil, []string{"--admin", fmt.Sprintf("[::]:%d", port)}},
		{all, []string{"TURNOUT_ADMIN=" + all}, nil},
		// The flag overrides its environment twin.
		{all, []string{"TURNOUT_INSECURE_ADMIN=true"}, []string{"--admin", all, "--insecure-admin=false"}},
	} {
		args := tc.args
		out, code := serveExits(t, tc.env, args...)
		if code == 0 {
			t.Errorf("serve %v (env %v): exit 0", args, tc.env)
		}
		for _, want := range []string{
			"refusing to serve the admin API without a token on " + tc.admin,
			"--token, TURNOUT_TOKEN or --token-file", fmt.Sprintf("--admin 127.0.0.1:%d", port), "--insecure-admin",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("serve %v (env %v): exit %d, output lacks %q:\n%s", args, tc.env, code, want, out)
			}
		}
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Error("something listens on the refused admin port")
	}
	// TURNOUT_INSECURE_ADMIN must say yes or no.
	out, code := serveExits(t, []string{"TURNOUT_INSECURE_ADMIN=perhaps"}, "--admin", fmt.Sprintf("0.0.0.0:%d", port))
	if code == 0 || !strings.Contains(out, `TURNOUT_INSECURE_ADMIN="perhaps": want true or false`) {
		t.Errorf("TURNOUT_INSECURE_ADMIN=perhaps: exit %d\n%s", code, out)
	}
}

// Loopback addresses, names of them included, need no token.
func TestAdminOnLoopbackNeedsNoToken(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	tt := serveAdmin(t, nil, http.DefaultClient, base, "--admin", fmt.Sprintf("localhost:%d", port))
	if code, body := fetch(http.DefaultClient, base+"/api/v1/gateways", ""); code != 200 {
		t.Errorf("API on localhost without a token: %d %s", code, body)
	}
	if code, body := fetch(http.DefaultClient, base+"/healthz", ""); body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if logs := tt.logs.String(); strings.Contains(logs, "level=WARN") {
		t.Errorf("a warning on a loopback admin address:\n%s", logs)
	}
}

func TestAdminInsecureServesAndWarns(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for name, env := range map[string][]string{"flag": nil, "env": {"TURNOUT_INSECURE_ADMIN=true"}} {
		t.Run(name, func(t *testing.T) {
			port := testnet.FreePort(t)
			args := []string{"--admin", fmt.Sprintf("0.0.0.0:%d", port)}
			if env == nil {
				args = append(args, "--insecure-admin")
			}
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			tt := serveAdmin(t, env, http.DefaultClient, base, args...)
			logs := tt.logs.String()
			if !strings.Contains(logs, `level=WARN msg="INSECURE: the admin API has no token`) {
				t.Errorf("no loud warning in the log:\n%s", logs)
			}
			if code, body := fetch(http.DefaultClient, base+"/healthz", ""); code != 200 || !strings.Contains(body, "warning: no token guards this admin API") {
				t.Errorf("/healthz: %d %q, want the warning", code, body)
			}
			if code, body := fetch(http.DefaultClient, base+"/api/v1/gateways", ""); code != 200 {
				t.Errorf("the insecure API: %d %s", code, body)
			}
		})
	}
}

// A token from any of its three sources lets the admin API listen on every
// interface, and guards it there.
func TestAdminTokenOnOpenAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const token = "open-address-token"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		env  []string
		args []string
	}{
		"flag": {args: []string{"--token", token}},
		"file": {args: []string{"--token-file", file}},
		"env":  {env: []string{"TURNOUT_TOKEN=" + token}},
	} {
		t.Run(name, func(t *testing.T) {
			port := testnet.FreePort(t)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			tt := serveAdmin(t, tc.env, http.DefaultClient, base, append([]string{"--admin", fmt.Sprintf("0.0.0.0:%d", port)}, tc.args...)...)
			if code, _ := fetch(http.DefaultClient, base+"/api/v1/gateways", ""); code != 401 {
				t.Errorf("API without the token: %d, want 401", code)
			}
			if out, code := turnoutCLI(t, "gateway", "list", "--addr", base, "--token", token); code != 0 {
				t.Errorf("CLI with the token: exit %d\n%s", code, out)
			}
			if code, body := fetch(http.DefaultClient, base+"/healthz", ""); body != "ok\n" {
				t.Errorf("/healthz: %d %q", code, body)
			}
			logs := tt.logs.String()
			if strings.Contains(logs, "INSECURE") || !strings.Contains(logs, "the admin API serves plain HTTP on an address others can reach") {
				t.Errorf("want the plain-HTTP warning only:\n%s", logs)
			}
		})
	}
}

func TestAdminTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	cert, key, pool := writeSelfSigned(t, dir, "admin")
	const token = "tls-token"
	port := testnet.FreePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	// TLS is not authentication: on every interface it needs a token too.
	if out, code := serveExits(t, nil, "--admin", fmt.Sprintf("0.0.0.0:%d", port), "--admin-tls-cert", cert, "--admin-tls-key", key); code == 0 || !strings.Contains(out, "refusing to serve the admin API without a token") {
		t.Errorf("TLS without a token on 0.0.0.0: exit %d\n%s", code, out)
	}

	tt := serveAdmin(t, nil, c, base, "--admin", fmt.Sprintf("127.0.0.1:%d", port), "--admin-tls-cert", cert, "--admin-tls-key", key, "--token", token)
	if code, _ := fetch(c, base+"/api/v1/gateways", ""); code != 401 {
		t.Errorf("API over TLS without the token: %d, want 401", code)
	}
	if code, body := fetch(c, base+"/api/v1/gateways", token); code != 200 {
		t.Errorf("API over TLS with the token: %d %s", code, body)
	}

	gw := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(gw, []byte(fmt.Sprintf("name: overtls\nport: %d/http\nroutes:\n  \"[127.0.0.1:1]\":\n    weight: 100%%\n", testnet.FreePort(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI := func(env []string, args ...string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		code := runTurnout(t, append(append([]string{}, cleanAdminEnv...), env...), &out, &out, args...)
		return out.String(), code
	}
	if out, code := runCLI(nil, "gateway", "apply", "-f", gw, "--addr", base, "--ca-cert", cert, "--token", token); code != 0 || !strings.Contains(out, "gateway/overtls created") {
		t.Errorf("apply over TLS with --ca-cert: exit %d\n%s", code, out)
	}
	if out, code := runCLI([]string{"TURNOUT_ADDR=" + base, "TURNOUT_CA_CERT=" + cert, "TURNOUT_TOKEN=" + token}, "gateway", "list"); code != 0 || !strings.Contains(out, "overtls") {
		t.Errorf("list with TURNOUT_ADDR, TURNOUT_CA_CERT and TURNOUT_TOKEN: exit %d\n%s", code, out)
	}
	if out, code := runCLI(nil, "gateway", "list", "--addr", base, "--ca-cert", cert); code != exitRefused || !strings.Contains(out, "unauthorized") {
		t.Errorf("list over TLS without the token: exit %d\n%s", code, out)
	}
	// The system's roots do not know the test's certificate.
	if out, code := runCLI(nil, "gateway", "list", "--addr", base, "--token", token); code != exitUnreachable || !strings.Contains(out, "--ca-cert FILE") {
		t.Errorf("list without --ca-cert: exit %d, want 3 and a hint\n%s", code, out)
	}
	// Plain HTTP to the TLS port is refused, by the server and by the CLI.
	plain := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, body := fetch(http.DefaultClient, plain+"/api/v1/gateways", token); code == 200 {
		t.Errorf("plain HTTP to the TLS port answered 200: %s", body)
	}
	if out, code := runCLI(nil, "gateway", "list", "--addr", plain, "--token", token); code == 0 {
		t.Errorf("the CLI over plain HTTP to the TLS port: exit 0\n%s", out)
	}
	if out, code := runCLI(nil, "gateway", "list", "--addr", plain, "--ca-cert", cert, "--token", token); code != exitUsage || !strings.Contains(out, "is plain http") {
		t.Errorf("--ca-cert with an http address: exit %d, want 2\n%s", code, out)
	}
	if logs := tt.logs.String(); !strings.Contains(logs, "admin_tls=true") || strings.Contains(logs, "level=WARN") {
		t.Errorf("log of a TLS admin API on 127.0.0.1:\n%s", logs)
	}
}

func TestAdminTLSFlagErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	cert, key, _ := writeSelfSigned(t, dir, "one")
	_, otherKey, _ := writeSelfSigned(t, dir, "two")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a pem file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	admin := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-tls-cert", cert}, "--admin-tls-cert " + cert + " needs --admin-tls-key"},
		{[]string{"--admin-tls-key", key}, "--admin-tls-key " + key + " needs --admin-tls-cert"},
		{[]string{"--admin-tls-cert", missing, "--admin-tls-key", key}, "--admin-tls-cert: open " + missing},
		{[]string{"--admin-tls-cert", cert, "--admin-tls-key", missing}, "--admin-tls-key: open " + missing},
		{[]string{"--admin-tls-cert", garbage, "--admin-tls-key", key}, "--admin-tls-cert " + garbage + ": no PEM data"},
		{[]string{"--admin-tls-cert", key, "--admin-tls-key", key}, "--admin-tls-cert " + key + `: the first PEM block is "PRIVATE KEY"`},
		{[]string{"--admin-tls-cert", cert, "--admin-tls-key", garbage}, "--admin-tls-key " + garbage + " (for --admin-tls-cert " + cert + ")"},
		{[]string{"--admin-tls-cert", cert, "--admin-tls-key", otherKey}, "--admin-tls-key " + otherKey + " (for --admin-tls-cert " + cert + "): tls: private key does not match public key"},
	} {
		out, code := serveExits(t, nil, append([]string{"--admin", admin}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("serve %v: exit %d, want an error with %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key (PEM, made for this test run only) to dir and returns their paths and
// a pool that trusts the certificate.
func writeSelfSigned(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "turnout admin " + name},
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
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}
