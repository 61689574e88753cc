package consul_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakeconsul"
	"github.com/turnout/turnout/plugins/sdk"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type pki struct {
	caFile, certFile, keyFile string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte { b, _ := x509.MarshalECPrivateKey(k); return b }

	var p pki
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth)
	p.certFile = write("client.pem", "CERTIFICATE", cliDER)
	p.keyFile = write("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey))
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

// An agent with verify_incoming: HTTPS, and a client certificate signed
// by its CA required.
func TestTLS(t *testing.T) {
	clearEnv(t)
	pk := newPKI(t)
	fake := fakeconsul.New(t, fakeconsul.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{pk.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pk.pool,
		MinVersion:   tls.VersionTLS12,
	}})
	fake.Register(inst("web-a1", "n1", "127.0.0.11", "1.0.0"))
	ok := hasAddrs("127.0.0.11:3000")
	failed := func(s sdk.Snapshot) bool { return s.Error != "" && len(s.Endpoints) == 0 }

	for _, tc := range []struct {
		name  string
		cfg   map[string]any
		check func(sdk.Snapshot) bool
		want  string
	}{
		{"mutual TLS", map[string]any{"scheme": "https", "tls": map[string]any{"ca_file": pk.caFile, "cert_file": pk.certFile, "key_file": pk.keyFile}}, ok, ""},
		{"https implied by the files", map[string]any{"scheme": "", "tls": map[string]any{"ca_file": pk.caFile, "cert_file": pk.certFile, "key_file": pk.keyFile}}, ok, ""},
		{"skip verify", map[string]any{"scheme": "https", "tls": map[string]any{"insecure_skip_verify": true, "cert_file": pk.certFile, "key_file": pk.keyFile}}, ok, ""},
		{"unknown CA", map[string]any{"scheme": "https", "tls": map[string]any{"cert_file": pk.certFile, "key_file": pk.keyFile}}, failed, "certificate"},
		{"no client certificate", map[string]any{"scheme": "https", "tls": map[string]any{"ca_file": pk.caFile}}, failed, "certificate"},
		{"plain http", map[string]any{"scheme": "http"}, failed, "consul: health of web: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := watch(t, newPlugin(t, fake, tc.cfg), "web").await(tc.name, tc.check)
			if !strings.Contains(s.Error, tc.want) {
				t.Errorf("error %q, want it to mention %q", s.Error, tc.want)
			}
		})
	}
}
