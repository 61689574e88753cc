package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultURL    = "http://marathon.mesos:8080"
	DefaultResync = 5 * time.Minute
	DefaultGroup  = "external"
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
