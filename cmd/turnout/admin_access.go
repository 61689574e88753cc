package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/turnout/turnout/core/api"
)

// checkAdminAccess refuses an admin address others can reach when no
// token guards it, unless --insecure-admin says so: anyone who reached it
// could repoint every gateway. It reports whether the address is loopback
// only (serve checks the bound address again).
func checkAdminAccess(ctx context.Context, addr, token string, insecure bool) (loopback bool, err error) {
	// Resolving a name must not hang the start.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	loopback, lerr := api.LoopbackOnly(ctx, addr, nil)
	if loopback || token != "" || insecure {
		return loopback, nil
	}
	port := "PORT"
	if _, p, err := net.SplitHostPort(addr); err == nil {
		port = p
	}
	const ways = "anyone who reaches it could change every gateway; set a token (--token, TURNOUT_TOKEN or --token-file), " +
		"listen on a loopback address (--admin 127.0.0.1:%s), or accept the risk with --insecure-admin (TURNOUT_INSECURE_ADMIN=true)"
	if lerr != nil {
		return false, fmt.Errorf("refusing to serve the admin API without a token on %s, which may not be loopback only (%w): "+ways, addr, lerr, port)
	}
	return false, fmt.Errorf("refusing to serve the admin API without a token on %s, an address others can reach: "+ways, addr, port)
}

// insecureAdminEnv reads TURNOUT_INSECURE_ADMIN, the twin of
// --insecure-admin, read at run time as TURNOUT_TOKEN is.
func insecureAdminEnv() (bool, error) {
	v := os.Getenv("TURNOUT_INSECURE_ADMIN")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("TURNOUT_INSECURE_ADMIN=%q: want true or false: %w", v, err)
	}
	return b, nil
}

// adminTLS loads --admin-tls-cert and --admin-tls-key (PEM), nil when
// neither is given. Each failure names the file at fault.
func adminTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, fmt.Errorf("--admin-tls-key %s needs --admin-tls-cert: give both or neither", keyFile)
	case keyFile == "":
		return nil, fmt.Errorf("--admin-tls-cert %s needs --admin-tls-key: give both or neither", certFile)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--admin-tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--admin-tls-key: %w", err)
	}
	// tls.X509KeyPair's own errors do not say which file is at fault:
	// the certificate is checked first, so what it refuses is the key.
	if err := checkCertPEM(certPEM); err != nil {
		return nil, fmt.Errorf("--admin-tls-cert %s: %w", certFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--admin-tls-key %s (for --admin-tls-cert %s): %w", keyFile, certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// checkCertPEM accepts PEM data whose first block is a certificate that
// parses (a chain may follow).
func checkCertPEM(data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("no PEM data: want a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	if block.Type != "CERTIFICATE" {
		return fmt.Errorf("the first PEM block is %q, want CERTIFICATE", block.Type)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return fmt.Errorf("bad certificate: %w", err)
	}
	return nil
}
