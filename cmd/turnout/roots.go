package main

// The container image has no CA certificates (it holds the binary and
// nothing else), so the binary carries Mozilla's root certificates for an
// HTTPS Marathon or DC/OS. They are used only where the system has none:
// on a host with its own roots, or with SSL_CERT_FILE set (a cluster's
// own CA), those are used as before.
import _ "golang.org/x/crypto/x509roots/fallback"
