package store

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKConnect opens a ZooKeeper client session the way every Turnout client
// does (the store's and the election's): the client's messages (every
// reconnect attempt) at debug level, named by who, and events to onEvent.
func ZKConnect(servers []string, sessionTimeout time.Duration, who string, log *slog.Logger, onEvent func(zk.Event)) (*zk.Conn, error) {
	conn, _, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(zkLogger{log: log, prefix: "zookeeper client" + who + ": "}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(onEvent),
		zk.WithDialer(boundedDialer(sessionTimeout)))
	return conn, err
}

type zkLogger struct {
	log    *slog.Logger
	prefix string
}

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(l.prefix + fmt.Sprintf(format, args...))
}

// boundedDialer dials with connections whose deadlines are at most one
// session timeout away. The client waits for a server's answer to its
// connect request ten times its receive timeout (6.7 s for a 10 s session:
// over a minute) and tries no other server meanwhile: a member that
// accepts connections but does not answer (starting, stopped, hung) kept
// an agent off ZooKeeper for that long after the ensemble was back. Its
// other deadlines (a read per receive timeout, pings) are shorter than a
// session timeout and stay as they are.
func boundedDialer(sessionTimeout time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return boundedConn{Conn: c, max: sessionTimeout}, nil
	}
}

type boundedConn struct {
	net.Conn
	max time.Duration
}

func (c boundedConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.bound(t))
}

func (c boundedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

func (c boundedConn) SetDeadline(t time.Time) error {
	return c.Conn.SetDeadline(c.bound(t))
}

func (c boundedConn) bound(t time.Time) time.Time {
	if limit := time.Now().Add(c.max); !t.IsZero() && t.After(limit) {
		return limit
	}
	return t
}
