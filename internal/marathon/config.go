package marathon

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultURL    = "http://marathon.mesos:8080"
	DefaultResync = 5 * time.Minute
	DefaultGroup  = "external"

	// DefaultMemberCheck and DefaultMemberTimeout bound how long a hung
	// member (process stopped, TCP still open) keeps the event stream:
	// at most one interval plus one timeout.
	DefaultMemberCheck   = 2 * time.Second
	DefaultMemberTimeout = 2 * time.Second
	// DefaultRequestTimeout is the deadline of one REST read (a full
	// /v2/apps of a big cluster takes seconds).
	DefaultRequestTimeout = 15 * time.Second
	// DefaultReconnectMax caps the event stream's reconnect backoff and
	// the polling while Marathon is away.
	DefaultReconnectMax = 2 * time.Second
)

// Config is the configuration of the DC/OS backend plugins, as JSON:
//
//	{"urls": ["http://marathon.mesos:8080"], "acs_token": "...",
//	 "service_account_secret": "{\"login_endpoint\": ...}",
//	 "resync": "5m", "marathon_lb_group": "external"}
type Config struct {
	// URLs are Marathon's members, tried in order (failover). A URL may
	// carry a path prefix, e.g. https://master/marathon through Admin
	// Router.
	URLs []string `json:"urls,omitempty"`
	// ACSToken is a DC/OS authentication token, sent as
	// "Authorization: token=...".
	ACSToken string `json:"acs_token,omitempty"`
	// ServiceAccountSecret is a DC/OS service account secret (the JSON
	// document, as a string): the watcher logs in with it and renews the
	// token before it expires.
	ServiceAccountSecret string `json:"service_account_secret,omitempty"`
	// Resync is how often the whole state is read again, events or not:
	// events sent while the stream reconnects are lost.
	Resync Duration `json:"resync,omitzero"`
	// MarathonLBGroup is the Marathon-LB group whose instances the
	// marathon-lb backend sends traffic to.
	MarathonLBGroup string `json:"marathon_lb_group,omitempty"`
	// MemberCheck is how often every member is asked GET /v2/leader;
	// MemberTimeout is the deadline of that check and of the event
	// stream's answer. A member that fails its check is passed over,
	// its requests and event stream are cut, and the stream moves to a
	// member that passes.
	MemberCheck   Duration `json:"member_check_interval,omitzero"`
	MemberTimeout Duration `json:"member_timeout,omitzero"`
	// RequestTimeout is the deadline of one REST read from one member.
	RequestTimeout Duration `json:"request_timeout,omitzero"`
	// StreamIdle, when set, reconnects an event stream that carried no
	// byte for that long. Off by default: Marathon sends no keep-alive
	// we can rely on, so a quiet stream is not a dead one; the member
	// check is what finds a hung member.
	StreamIdle Duration `json:"stream_idle_timeout,omitzero"`
	// ReconnectMax caps the backoff between event stream reconnects (and
	// between reads while Marathon is unreachable); each wait is
	// jittered between half of it and all of it.
	ReconnectMax Duration `json:"reconnect_max,omitzero"`
	// CAFile is a PEM file of the CA(s) to trust for an https Marathon
	// (on DC/OS strict or permissive mode, the cluster's CA,
	// dcos-ca.crt), on top of the system's.
	CAFile string `json:"ca_file,omitempty"`
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"5m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"5m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// ParseConfig reads a plugin configuration: an empty or missing document
// is the defaults; unknown fields are refused by name.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, fmt.Errorf("configuration: %w", err)
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// WithDefaults fills in what is not set.
func (c Config) WithDefaults() Config {
	if len(c.URLs) == 0 {
		c.URLs = []string{DefaultURL}
	}
	if c.Resync == 0 {
		c.Resync = Duration(DefaultResync)
	}
	if c.MarathonLBGroup == "" {
		c.MarathonLBGroup = DefaultGroup
	}
	if c.MemberCheck == 0 {
		c.MemberCheck = Duration(DefaultMemberCheck)
	}
	if c.MemberTimeout == 0 {
		c.MemberTimeout = Duration(DefaultMemberTimeout)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = Duration(DefaultRequestTimeout)
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = Duration(DefaultReconnectMax)
	}
	return c
}

// Validate checks the URLs, the resync interval and the auth settings.
func (c Config) Validate() error {
	for _, u := range c.URLs {
		if _, err := parseMember(u); err != nil {
			return err
		}
	}
	if c.Resync < Duration(10*time.Millisecond) {
		return fmt.Errorf("configuration: resync %s is too short", time.Duration(c.Resync))
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"member_check_interval", c.MemberCheck}, {"member_timeout", c.MemberTimeout},
		{"request_timeout", c.RequestTimeout}, {"reconnect_max", c.ReconnectMax}} {
		if d.v < Duration(10*time.Millisecond) {
			return fmt.Errorf("configuration: %s %s is too short (want 10ms or more)", d.name, time.Duration(d.v))
		}
	}
	if c.StreamIdle != 0 && c.StreamIdle < Duration(time.Second) {
		return fmt.Errorf("configuration: stream_idle_timeout %s is too short (want 1s or more, or leave it out)", time.Duration(c.StreamIdle))
	}
	if c.CAFile != "" {
		if _, err := loadCAs(c.CAFile); err != nil {
			return err
		}
	}
	if c.ACSToken != "" && c.ServiceAccountSecret != "" {
		return errors.New("configuration: give acs_token or service_account_secret, not both")
	}
	if c.ServiceAccountSecret != "" {
		if _, err := parseSecret(c.ServiceAccountSecret); err != nil {
			return err
		}
	}
	return nil
}

// parseMember checks one Marathon URL and drops a trailing slash.
func parseMember(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("configuration: Marathon URL %q: want http(s)://host:port[/prefix]", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// loadCAs is the system's CA pool with the certificates of the PEM file
// added.
func loadCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("configuration: ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("configuration: ca_file %s: no PEM certificate in it", file)
	}
	return pool, nil
}
