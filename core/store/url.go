package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Location is where a store is, as a store URL (--store) says:
//
//	bolt://DIR
//	zk://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/PATH[?OPTIONS]
//
// with OPTIONS session-timeout=DURATION, connect-timeout=DURATION and
// auth-file=FILE (a file holding USER:PASSWORD, instead of putting them in
// the URL). A port defaults to 2181.
type Location struct {
	Scheme string // "bolt" or "zk"
	Dir    string // bolt: the data dir
	ZK     ZKConfig
}

// ParseURL parses a store URL (see Location). It reads auth-file.
func ParseURL(raw string) (Location, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return Location{}, fmt.Errorf("%q: not a store URL: want bolt://DIR or zk://HOST:PORT[,HOST:PORT...]/PATH", raw)
	case scheme == "bolt":
		if rest == "" {
			return Location{}, errors.New("bolt://: no directory: want bolt://DIR, as bolt:///var/lib/turnout")
		}
		return Location{Scheme: "bolt", Dir: rest}, nil
	case scheme == "zk":
		cfg, err := parseZK(rest)
		if err != nil {
			return Location{}, fmt.Errorf("%s: %w", redact(raw), err)
		}
		return Location{Scheme: "zk", ZK: cfg}, nil
	}
	return Location{}, fmt.Errorf("%q: unknown scheme %q: want bolt://DIR or zk://HOST:PORT[,HOST:PORT...]/PATH", redact(raw), scheme)
}

func parseZK(rest string) (ZKConfig, error) {
	var cfg ZKConfig
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, ok := strings.Cut(rest, "/")
	if !ok {
		return cfg, errors.New("no path: want zk://HOST:PORT[,HOST:PORT...]/PATH, as zk://master.mesos:2181/turnout")
	}
	cfg.Path = "/" + path
	if err := checkZKPath(cfg.Path); err != nil {
		return cfg, err
	}
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		var err error
		if cfg.User, cfg.Password, err = parseUserinfo(hosts[:i]); err != nil {
			return cfg, err
		}
		hosts = hosts[i+1:]
	}
	if hosts == "" {
		return cfg, errors.New("no ZooKeeper host")
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil { // no port
			host, port = strings.Trim(h, "[]"), "2181"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return cfg, fmt.Errorf("host %q: bad port", h)
		}
		if host == "" || strings.ContainsAny(host, "/@ ") {
			return cfg, fmt.Errorf("bad host %q", h)
		}
		cfg.Servers = append(cfg.Servers, net.JoinHostPort(host, port))
	}
	opts, err := url.ParseQuery(query)
	if err != nil {
		return cfg, fmt.Errorf("options: %w", err)
	}
	for k, vs := range opts {
		v := vs[len(vs)-1]
		switch k {
		case "session-timeout", "connect-timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return cfg, fmt.Errorf("%s=%s: want a positive duration, as 10s", k, v)
			}
			if k == "session-timeout" {
				cfg.SessionTimeout = d
			} else {
				cfg.ConnectTimeout = d
			}
		case "auth-file":
			if cfg.User != "" {
				return cfg, errors.New("give the user and password in the URL or in auth-file, not both")
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return cfg, fmt.Errorf("auth-file: %w", err)
			}
			if cfg.User, cfg.Password, err = splitUserPassword(strings.TrimSpace(string(b))); err != nil {
				return cfg, fmt.Errorf("auth-file %s: %w", v, err)
			}
		default:
			return cfg, fmt.Errorf("unknown option %q: want session-timeout, connect-timeout or auth-file", k)
		}
	}
	return cfg, nil
}

func parseUserinfo(s string) (user, password string, err error) {
	u, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("user without a password: want USER:PASSWORD@ (digest authentication)")
	}
	if user, err = url.PathUnescape(u); err == nil {
		password, err = url.PathUnescape(p)
	}
	if err != nil {
		return "", "", errors.New("bad %-escape in the user or password")
	}
	return splitUserPassword(user + ":" + password)
}

// splitUserPassword splits USER:PASSWORD, as ZooKeeper's digest scheme
// takes them: the user has no colon.
func splitUserPassword(s string) (string, string, error) {
	u, p, ok := strings.Cut(s, ":")
	if !ok || u == "" || p == "" {
		return "", "", errors.New("want USER:PASSWORD, both non-empty")
	}
	return u, p, nil
}

// redact hides a password in a store URL, for messages and logs.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	hosts, tail, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		if u, _, ok := strings.Cut(hosts[:i], ":"); ok {
			hosts = u + ":xxxxx" + hosts[i:]
		}
	}
	if strings.Contains(rest, "/") {
		return scheme + "://" + hosts + "/" + tail
	}
	return scheme + "://" + hosts
}

// String is the location as a URL, without the password.
func (l Location) String() string {
	if l.Scheme == "bolt" {
		return "bolt://" + l.Dir
	}
	user := ""
	if l.ZK.User != "" {
		user = l.ZK.User + ":xxxxx@"
	}
	return "zk://" + user + strings.Join(l.ZK.Servers, ",") + l.ZK.Path
}

// OpenLocation opens the store at l: Open for bolt, OpenZK for zk (with log
// for its connection changes).
func OpenLocation(ctx context.Context, l Location, log *slog.Logger) (Copier, error) {
	switch l.Scheme {
	case "bolt":
		return Open(l.Dir)
	case "zk":
		cfg := l.ZK
		cfg.Logger = log
		return OpenZK(ctx, cfg)
	}
	return nil, fmt.Errorf("store: unknown scheme %q", l.Scheme)
}
