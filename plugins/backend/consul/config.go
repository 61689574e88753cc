package consul

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/consul/api"
)

// Config is the plugin's configuration JSON. Every field is optional:
// empty ones keep what Consul's usual environment variables say
// (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL, CONSUL_CACERT,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_HTTP_SSL_VERIFY,
// CONSUL_NAMESPACE, ...), and then Consul's defaults.
type Config struct {
	// Address is the agent's "host:port" (or a URL with a scheme).
	Address string `json:"address"`
	// Scheme is "http" or "https".
	Scheme string `json:"scheme"`
	// Token is the ACL token.
	Token string `json:"token"`
	// Datacenter is the one refs without ?dc= query.
	Datacenter string `json:"datacenter"`
	// Namespace is Consul Enterprise's namespace.
	Namespace string    `json:"namespace"`
	TLS       TLSConfig `json:"tls"`
	// MinPassing is how many passing instances make a target ready
	// (default 1).
	MinPassing *int `json:"min_passing"`
	// Wait is the longest a blocking query waits (Go duration, default
	// "5m", at most "10m" as Consul caps it).
	Wait string `json:"wait"`
	// MinInterval is the least time between two queries of one watch
	// (default "250ms"): a service whose index moves many times a second
	// costs the agent at most 1/MinInterval queries a second.
	MinInterval string `json:"min_interval"`
	// RetryMin and RetryMax bound the backoff after a failed query
	// (defaults "1s" and "30s"; doubled after each failure, with jitter).
	RetryMin string `json:"retry_min"`
	RetryMax string `json:"retry_max"`
}

// TLSConfig is how the plugin talks HTTPS to the agent.
type TLSConfig struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	ServerName         string `json:"server_name"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

const (
	defaultWait        = 5 * time.Minute
	maxWait            = 10 * time.Minute
	defaultMinInterval = 250 * time.Millisecond
	defaultRetryMin    = time.Second
	defaultRetryMax    = 30 * time.Second
)

// settings are a parsed Config.
type settings struct {
	api         *api.Config
	minPassing  int
	wait        time.Duration
	minInterval time.Duration
	retryMin    time.Duration
	retryMax    time.Duration
}

func parseConfig(raw json.RawMessage) (settings, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		// A misspelt key would silently keep a default: refuse it.
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return settings{}, fmt.Errorf("consul: config: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return settings{}, errors.New("consul: config: trailing data after the JSON object")
		}
	}
	s := settings{minPassing: 1}
	var err error
	if s.wait, err = duration("wait", c.Wait, defaultWait); err != nil {
		return s, err
	}
	if s.wait > maxWait {
		return s, fmt.Errorf("consul: config: wait %s is over Consul's limit of %s", s.wait, maxWait)
	}
	if s.minInterval, err = duration("min_interval", c.MinInterval, defaultMinInterval); err != nil {
		return s, err
	}
	if s.retryMin, err = duration("retry_min", c.RetryMin, defaultRetryMin); err != nil {
		return s, err
	}
	if s.retryMax, err = duration("retry_max", c.RetryMax, defaultRetryMax); err != nil {
		return s, err
	}
	if s.retryMax < s.retryMin {
		return s, fmt.Errorf("consul: config: retry_max %s is below retry_min %s", s.retryMax, s.retryMin)
	}
	if c.MinPassing != nil {
		if *c.MinPassing < 0 {
			return s, fmt.Errorf("consul: config: min_passing %d is negative", *c.MinPassing)
		}
		s.minPassing = *c.MinPassing
	}
	switch c.Scheme {
	case "", "http", "https":
	default:
		return s, fmt.Errorf("consul: config: scheme %q is neither http nor https", c.Scheme)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return s, errors.New("consul: config: tls needs both cert_file and key_file, or neither")
	}

	// The environment first, as every Consul tool reads it; then the JSON.
	a := api.DefaultConfig()
	if c.Address != "" {
		a.Address = c.Address
	}
	if c.Scheme != "" {
		a.Scheme = c.Scheme
	} else if c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		// TLS files only make sense over HTTPS.
		a.Scheme = "https"
	}
	if c.Token != "" {
		a.Token = c.Token
		a.TokenFile = ""
	}
	if c.Datacenter != "" {
		a.Datacenter = c.Datacenter
	}
	if c.Namespace != "" {
		a.Namespace = c.Namespace
	}
	if c.TLS.CAFile != "" {
		a.TLSConfig.CAFile = c.TLS.CAFile
	}
	if c.TLS.CertFile != "" {
		a.TLSConfig.CertFile = c.TLS.CertFile
		a.TLSConfig.KeyFile = c.TLS.KeyFile
	}
	if c.TLS.ServerName != "" {
		a.TLSConfig.Address = c.TLS.ServerName
	}
	if c.TLS.InsecureSkipVerify {
		a.TLSConfig.InsecureSkipVerify = true
	}
	s.api = a
	return s, nil
}

func duration(name, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("consul: config: %s: %w", name, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("consul: config: %s %s is not positive", name, v)
	}
	return d, nil
}
