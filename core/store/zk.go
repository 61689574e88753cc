package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper layout under the store's path P (zkSchema 1):
//
//	P                        the store's root, created with the store's ACL
//	P/schema                 "1", the layout version; a newer one is refused
//	P/version                the store version, decimal; every commit sets
//	                         it, with its znode version as compare-and-set
//	P/gateways/NAME          one znode per gateway ever created, never
//	                         deleted, so its numbering survives deletion
//	                         (as a bbolt bucket does)
//	P/gateways/NAME/REV      one znode per kept revision, REV zero-padded to
//	                         19 digits so that znode names sort by revision;
//	                         the data is the record as Bolt stores it (flags,
//	                         time, CRC-32C, reason, document)
//	P/policies/NAME/REV      the same for each gateway's policy state
//	P/conditions/NAME/REV    the same for each named condition; a store
//	                         made before conditions lacks P/conditions, which
//	                         layout creates (so the schema stays 1)
//	P/routes/NAME/REV        the same for each stored route, added as
//	                         conditions were
//
// NAME is the gateway name escaped to one znode name (escapeName).
//
// Every Apply is one ZooKeeper multi that writes the new revisions, prunes
// old ones and sets P/version to the next version, conditional on the znode
// version of P/version read before the batch was decided. Two writers that
// read the same state cannot both commit: the loser decides again on the new
// state, where its Match may fail (a ConflictError, as on Bolt). Readers
// read P/version before and after what they read, and again until it did
// not change, so that a snapshot is of one store version.
const zkSchema = 1

const (
	zkDefaultSessionTimeout = 10 * time.Second
	zkDefaultConnectTimeout = 30 * time.Second
	zkDefaultOpTimeout      = 5 * time.Second
	// zkMaxBatch stays under ZooKeeper's default jute.maxbuffer (1 MiB),
	// past which a server drops the connection instead of answering.
	zkMaxBatch = 1000 * 1000
	// zkTries bounds the retries of a read or an Apply that other writers
	// keep overtaking; each retry means another commit went through.
	zkTries = 50
	// zkFanOut is how many reads are in flight at once: ZooKeeper answers
	// one session's requests in order, so they pipeline on the connection.
	zkFanOut = 16
)

// ErrUnavailable: the store cannot be reached now (ZooKeeper down, the
// connection lost, no answer within the operation timeout). Nothing was
// read; a write may or may not have committed if the connection was lost
// while it was in flight, so read again before retrying with If-Match. The
// API answers 503.
var ErrUnavailable = errors.New("store unavailable")

// ZKConfig is where and how a ZooKeeper store connects.
type ZKConfig struct {
	Servers []string // host:port, at least one
	Path    string   // the store's root znode: absolute, no trailing slash, not "/"
	// User and Password, if User is set, authenticate the session (digest
	// scheme) and give every znode the store creates a digest ACL that
	// lets only that user in.
	User, Password string
	// SessionTimeout is ZooKeeper's session timeout (default 10s): how
	// long the server keeps the session of a client it lost.
	SessionTimeout time.Duration
	// ConnectTimeout bounds OpenZK's wait for a session (default 30s).
	ConnectTimeout time.Duration
	// OpTimeout bounds one operation (default 5s): past it, ErrUnavailable.
	OpTimeout time.Duration
	// MustExist refuses a path that holds no store instead of creating
	// one there: a source to copy from.
	MustExist bool
	// Logger gets connection changes (Info, Warn) and the ZooKeeper
	// client's own messages (Debug); nil discards them.
	Logger *slog.Logger
}

// ZK is the Store on ZooKeeper, for several agents sharing one desired
// state. See the layout above.
type ZK struct {
	cfg  ZKConfig
	conn *zk.Conn
	acl  []zk.ACL
	log  *slog.Logger

	// mu serialises this process's Applies: the compare-and-set makes
	// concurrent ones correct, this makes them not retry each other.
	mu sync.Mutex

	bc      *broadcaster
	session chan struct{} // a wake-up (capacity 1) when a session is (re)established
	closing chan struct{} // closed by Close
	loop    chan struct{} // closed when the watch loop has returned

	stateMu    sync.Mutex
	hasSession bool
	// staleSince is when the session was lost, zero while in sync: from
	// then until the watch loop has read the whole state again under a
	// session, what this agent serves may be behind the cluster's.
	staleSince time.Time
	// losses counts lost sessions, so that a re-read that began before a
	// loss does not end the staleness the loss began.
	losses    int64
	closeOnce sync.Once
}

// Staleness is a store whose copy of the desired state can fall behind
// the shared one (ZooKeeper, while it is unreachable). Stores that are
// the desired state themselves (bolt, memory) do not implement it.
type Staleness interface {
	// StaleSince is when this agent lost the store, and true, while what
	// it serves may be behind; zero and false while it is in sync.
	StaleSince() (time.Time, bool)
}

var _ Staleness = (*ZK)(nil)

// StaleSince: from the loss of the session until the state was read
// again in full under a new one.
func (s *ZK) StaleSince() (time.Time, bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.staleSince, !s.staleSince.IsZero()
}

var _ Store = (*ZK)(nil)

// OpenZK connects to ZooKeeper, waits for a session (ConnectTimeout),
// creates the layout under cfg.Path if the path is absent or empty, and
// reads the current state. It refuses a path that holds something else,
// or a newer layout (ErrSchema).
func OpenZK(ctx context.Context, cfg ZKConfig) (*ZK, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("store: zookeeper: no servers")
	}
	if err := checkZKPath(cfg.Path); err != nil {
		return nil, fmt.Errorf("store: zookeeper: %w", err)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = zkDefaultSessionTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = zkDefaultConnectTimeout
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = zkDefaultOpTimeout
	}
	s := &ZK{
		cfg:     cfg,
		log:     cfg.Logger,
		acl:     zk.WorldACL(zk.PermAll),
		session: make(chan struct{}, 1),
		closing: make(chan struct{}),
		loop:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.User != "" {
		s.acl = zk.DigestACL(zk.PermAll, cfg.User, cfg.Password)
	}
	conn, err := ZKConnect(cfg.Servers, cfg.SessionTimeout, "", s.log, s.onEvent)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", s, err)
	}
	s.conn = conn
	fail := func(err error) (*ZK, error) {
		conn.Close()
		return nil, err
	}
	if err := s.awaitSession(ctx); err != nil {
		return fail(err)
	}
	if cfg.User != "" {
		// Remembered by the client and sent again on every reconnect.
		if err := conn.AddAuth("digest", []byte(cfg.User+":"+cfg.Password)); err != nil {
			return fail(fmt.Errorf("store: %s: authenticate as %q: %w", s, cfg.User, err))
		}
	}
	if err := s.layout(); err != nil {
		return fail(s.fail("open", err))
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return fail(err)
	}
	s.bc = newBroadcaster(snap)
	go s.watchLoop()
	return s, nil
}

// checkZKPath accepts an absolute znode path other than "/", with no empty,
// "." or ".." component and no control character: what ZooKeeper takes.
func checkZKPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("path %q: %s", p, why) }
	if !strings.HasPrefix(p, "/") || p == "/" {
		return bad("an absolute znode path other than / is needed, as /turnout")
	}
	for _, part := range strings.Split(p[1:], "/") {
		switch part {
		case "":
			return bad("an empty component (a doubled or trailing /)")
		case ".", "..":
			return bad("a . or .. component")
		}
	}
	for _, r := range p {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0xfffd {
			return bad("a control or invalid character")
		}
	}
	return nil
}

// String names the store for messages: zookeeper HOSTS/PATH.
func (s *ZK) String() string {
	return fmt.Sprintf("zookeeper %s%s", strings.Join(s.cfg.Servers, ","), s.cfg.Path)
}

func (s *ZK) awaitSession(ctx context.Context) error {
	timer := time.NewTimer(s.cfg.ConnectTimeout)
	defer timer.Stop()
	for !s.connected() {
		select {
		case <-s.session:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("store: %s: no session within %v (is ZooKeeper running and reachable?): %w", s, s.cfg.ConnectTimeout, ErrUnavailable)
		}
	}
	return nil
}

// onEvent follows the session from the client's own goroutine: it must not
// block. It logs the changes that matter to an operator, once each.
func (s *ZK) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	s.stateMu.Lock()
	was := s.hasSession
	s.hasSession = ev.State == zk.StateHasSession
	now := s.hasSession
	if was && !now {
		s.losses++
		if s.staleSince.IsZero() {
			s.staleSince = time.Now()
		}
	}
	s.stateMu.Unlock()
	switch {
	case now && !was:
		s.log.Info("zookeeper session established", "store", s.String(), "server", ev.Server)
		select {
		case s.session <- struct{}{}:
		default:
		}
	case ev.State == zk.StateExpired:
		s.log.Warn("zookeeper session expired; the store reads everything again once reconnected", "store", s.String())
	case was && !now && !s.isClosed():
		s.log.Warn("zookeeper connection lost; writes fail until it is back", "store", s.String(), "server", ev.Server)
	}
}

func (s *ZK) connected() bool {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.hasSession
}

func (s *ZK) isClosed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Paths.

func (s *ZK) path(parts ...string) string {
	return s.cfg.Path + "/" + strings.Join(parts, "/")
}

func kindDir(k Kind) string {
	switch k {
	case KindPolicy:
		return "policies"
	case KindCondition:
		return "conditions"
	case KindRoute:
		return "routes"
	}
	return "gateways"
}

func (s *ZK) docPath(k Kind, name string) string {
	return s.path(kindDir(k), escapeName(name))
}

func revName(rev int64) string { return fmt.Sprintf("%019d", rev) }

// escapeName makes a gateway name one znode name. ZooKeeper splits paths on
// "/", refuses "." and ".." and control characters, and a gateway name may
// hold any of them: bytes other than [A-Za-z0-9_.-] become %XX, and a name
// of dots only is escaped whole. The mapping is one-to-one, and the usual
// names read as they are.
func escapeName(name string) string {
	dots := strings.Trim(name, ".") == ""
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !dots && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unescapeName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape in znode name %q", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in znode name %q", s)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// layout creates the store under the path if the path is absent or empty,
// and checks it otherwise.
func (s *ZK) layout() error {
	// Parents above the store's path are plain directories, open as
	// zkCli makes them: the ACL protects the store's own znodes.
	for i := 1; i < len(s.cfg.Path); i++ {
		if s.cfg.Path[i] == '/' {
			if _, err := s.conn.Create(s.cfg.Path[:i], nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("create %s: %w", s.cfg.Path[:i], err)
			}
		}
	}
	children := func() []any {
		return []any{
			&zk.CreateRequest{Path: s.path("schema"), Data: []byte(strconv.Itoa(zkSchema)), Acl: s.acl},
			&zk.CreateRequest{Path: s.path("version"), Data: []byte("0"), Acl: s.acl},
			&zk.CreateRequest{Path: s.path("gateways"), Acl: s.acl},
			&zk.CreateRequest{Path: s.path("policies"), Acl: s.acl},
			&zk.CreateRequest{Path: s.path("conditions"), Acl: s.acl},
			&zk.CreateRequest{Path: s.path("routes"), Acl: s.acl},
		}
	}
	if s.cfg.MustExist {
		if ok, _, err := s.conn.Exists(s.path("schema")); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%s holds no turnout store", s.cfg.Path)
		}
	}
	// One multi, so that agents starting at once cannot leave half a layout.
	_, err := s.conn.Multi(append([]any{&zk.CreateRequest{Path: s.cfg.Path, Acl: s.acl}}, children()...)...)
	if err == nil || !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	kids, _, err := s.conn.Children(s.cfg.Path)
	if err != nil {
		return err
	}
	if len(kids) == 0 { // made beforehand, say by an operator setting its ACL
		if _, err := s.conn.Multi(children()...); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	data, _, err := s.conn.Get(s.path("schema"))
	if errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("%s holds znodes but is not a turnout store (no schema znode): give another path", s.cfg.Path)
	} else if err != nil {
		return err
	}
	switch n, perr := strconv.Atoi(string(data)); {
	case perr != nil || n < 1:
		return fmt.Errorf("%w: schema znode holds %q", ErrDamaged, data)
	case n > zkSchema:
		return fmt.Errorf("%w: layout version %d is newer than this turnout supports (%d); upgrade turnout", ErrSchema, n, zkSchema)
	}
	for _, p := range []string{"version", "gateways", "policies"} {
		if ok, _, err := s.conn.Exists(s.path(p)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s is missing", ErrDamaged, s.path(p))
		}
	}
	// A store made before named conditions or stored routes: add their
	// directories.
	for _, p := range []string{"conditions", "routes"} {
		if _, err := s.conn.Create(s.path(p), nil, 0, s.acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", s.path(p), err)
		}
	}
	return nil
}

// Operations.

// run runs f under the operation timeout and ctx, as the operation op.
// While there is no session it fails at once with ErrUnavailable rather
// than queue behind a reconnect: the API answers 503 and the caller
// retries. f runs on its own goroutine, so that an operation a lost
// connection holds up still returns on time.
func run[T any](s *ZK, ctx context.Context, op string, f func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if s.isClosed() {
		return zero, fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	if !s.connected() {
		return zero, fmt.Errorf("store: %s: %s: not connected: %w", op, s, ErrUnavailable)
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f(octx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return zero, s.fail(op, r.err)
		}
		return r.v, nil
	case <-octx.Done():
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		if s.isClosed() {
			return zero, fmt.Errorf("store: %s: %w", op, ErrClosed)
		}
		return zero, fmt.Errorf("store: %s: %s: no answer within %v: %w", op, s, s.cfg.OpTimeout, ErrUnavailable)
	}
}

// fail wraps a ZooKeeper error with the operation and the store; the
// store's own errors pass unchanged.
func (s *ZK) fail(op string, err error) error {
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case s.isClosed() || errors.Is(err, zk.ErrClosing):
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	case errors.Is(err, zk.ErrNoServer), errors.Is(err, zk.ErrConnectionClosed),
		errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrSessionMoved),
		isNetError(err):
		return fmt.Errorf("store: %s: %s: %w: %w", op, s, ErrUnavailable, err)
	case errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrAuthFailed):
		return fmt.Errorf("store: %s: %s: %w (check the user and password of the store URL against the path's ACL)", op, s, err)
	}
	return fmt.Errorf("store: %s: %s: %w", op, s, err)
}

// isNetError reports a failure of the connection itself: a request sent
// as ZooKeeper goes away comes back as the socket's own error (a reset, a
// broken pipe, EOF), not as one of go-zookeeper's, and is as much "the
// store cannot be reached" as ErrConnectionClosed.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// version reads the store version and the znode version that guards it.
func (s *ZK) version() (int64, int32, error) {
	data, stat, err := s.conn.Get(s.path("version"))
	if err != nil {
		return 0, 0, fmt.Errorf("read the store version: %w", err)
	}
	v, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || v < 0 {
		return 0, 0, fmt.Errorf("%w: the version znode holds %q", ErrDamaged, data)
	}
	return v, stat.Version, nil
}

// errMoved is a read that found the state changing under it (a revision
// pruned between listing and reading it): read again.
var errMoved = errors.New("changed while reading")

// read runs f between two reads of the version znode, again until no commit
// came in between: one session's reads see commits in order and every
// commit sets the version znode, so an unchanged znode version means f saw
// the state of one store version. f's error is kept only then.
func (s *ZK) read(ctx context.Context, f func() error) (int64, error) {
	for range zkTries {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		v, zv, err := s.version()
		if err != nil {
			return 0, err
		}
		ferr := f()
		_, zv2, err := s.version()
		if err != nil {
			return 0, err
		}
		if zv2 != zv {
			continue
		}
		if errors.Is(ferr, errMoved) {
			return 0, fmt.Errorf("%w: a revision listed is missing: %w", ErrDamaged, ferr)
		}
		return v, ferr
	}
	return 0, fmt.Errorf("the store changed during each of %d reads", zkTries)
}

// each runs f(0..n-1), up to zkFanOut at once, and returns the first error.
func each(ctx context.Context, n int, f func(i int) error) error {
	if n == 0 {
		return nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(n, zkFanOut) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n
				mu.Unlock()
				if stop {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = f(i)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// revisions lists a document's kept revisions, ascending; nil if the
// gateway never existed.
func (s *ZK) revisions(k Kind, name string) ([]int64, error) {
	kids, _, err := s.conn.Children(s.docPath(k, name))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	revs := make([]int64, 0, len(kids))
	for _, c := range kids {
		r, err := strconv.ParseInt(c, 10, 64)
		if err != nil || r < 1 {
			return nil, fmt.Errorf("%w: %s: znode %q is not a revision", ErrDamaged, subject(k, name), c)
		}
		revs = append(revs, r)
	}
	slices.Sort(revs)
	return revs, nil
}

// record reads and checks one revision; errMoved if it is gone.
func (s *ZK) record(k Kind, name string, rev int64) (Entry, error) {
	data, _, err := s.conn.Get(s.docPath(k, name) + "/" + revName(rev))
	if errors.Is(err, zk.ErrNoNode) {
		return Entry{}, fmt.Errorf("%s revision %d: %w", subject(k, name), rev, errMoved)
	} else if err != nil {
		return Entry{}, err
	}
	e, err := decodeRecord(k, name, u64(uint64(rev)), data, true)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return e, nil
}

// newestOf returns a document's newest revision and its kept revisions, or
// a zero Entry if it never existed.
func (s *ZK) newestOf(k Kind, name string) (Entry, []int64, error) {
	revs, err := s.revisions(k, name)
	if err != nil || revs == nil {
		return Entry{}, nil, err
	}
	if len(revs) == 0 {
		return Entry{}, nil, fmt.Errorf("%w: %s has no revisions", ErrDamaged, subject(k, name))
	}
	e, err := s.record(k, name, revs[len(revs)-1])
	return e, revs, err
}

// names lists the (unescaped) names of a kind, sorted.
func (s *ZK) names(k Kind) ([]string, error) {
	kids, _, err := s.conn.Children(s.path(kindDir(k)))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(kids))
	for _, c := range kids {
		n, err := unescapeName(c)
		if err != nil {
			return nil, fmt.Errorf("%w: %s/%s: %w", ErrDamaged, s.path(kindDir(k)), c, err)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// live reads the newest live entry of every name of a kind, sorted.
func (s *ZK) live(ctx context.Context, k Kind) ([]Entry, error) {
	names, err := s.names(k)
	if err != nil {
		return nil, err
	}
	es := make([]Entry, len(names))
	err = each(ctx, len(names), func(i int) (err error) {
		es[i], _, err = s.newestOf(k, names[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, e := range es {
		if e.Revision > 0 && !e.Deleted {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *ZK) readSnapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	v, err := s.read(ctx, func() (err error) {
		if snap.Entries, err = s.live(ctx, KindGateway); err != nil {
			return err
		}
		if snap.Policies, err = s.live(ctx, KindPolicy); err != nil {
			return err
		}
		if snap.Conditions, err = s.live(ctx, KindCondition); err != nil {
			return err
		}
		snap.Routes, err = s.live(ctx, KindRoute)
		return err
	})
	snap.Version = v
	return snap, err
}

func (s *ZK) Snapshot(ctx context.Context) (Snapshot, error) {
	return run(s, ctx, "snapshot", s.readSnapshot)
}

// current returns the live newest entry of a document, or ErrNotFound.
func (s *ZK) current(ctx context.Context, op string, k Kind, name string) (Entry, error) {
	return run(s, ctx, op, func(ctx context.Context) (Entry, error) {
		var e Entry
		if name != "" {
			_, err := s.read(ctx, func() (err error) {
				e, _, err = s.newestOf(k, name)
				return err
			})
			if err != nil {
				return Entry{}, err
			}
		}
		if e.Revision == 0 || e.Deleted {
			return Entry{}, fmt.Errorf("%s: %w", subject(k, name), ErrNotFound)
		}
		return e, nil
	})
}

func (s *ZK) Get(ctx context.Context, name string) (Entry, error) {
	return s.current(ctx, "get", KindGateway, name)
}

func (s *ZK) Policy(ctx context.Context, name string) (Entry, error) {
	return s.current(ctx, "policy", KindPolicy, name)
}

// history reads every kept revision of a document, oldest first; nil if
// it never existed.
func (s *ZK) history(ctx context.Context, k Kind, name string) ([]Entry, error) {
	revs, err := s.revisions(k, name)
	if err != nil || len(revs) == 0 {
		return nil, err
	}
	hist := make([]Entry, len(revs))
	err = each(ctx, len(revs), func(i int) (err error) {
		hist[i], err = s.record(k, name, revs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return hist, nil
}

func (s *ZK) History(ctx context.Context, name string) ([]Entry, error) {
	return run(s, ctx, "history", func(ctx context.Context) ([]Entry, error) {
		var hist []Entry
		if name != "" {
			_, err := s.read(ctx, func() (err error) {
				hist, err = s.history(ctx, KindGateway, name)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		if len(hist) == 0 {
			return nil, fmt.Errorf("gateway %q: %w", name, ErrNotFound)
		}
		return hist, nil
	})
}

func (s *ZK) Revision(ctx context.Context, name string, rev int64) (Entry, error) {
	return run(s, ctx, "revision", func(ctx context.Context) (Entry, error) {
		notFound := fmt.Errorf("gateway %q revision %d: %w", name, rev, ErrNotFound)
		if name == "" || rev < 1 {
			return Entry{}, notFound
		}
		// One znode: no other read to be consistent with.
		e, err := s.record(KindGateway, name, rev)
		if errors.Is(err, errMoved) {
			return Entry{}, notFound
		}
		return e, err
	})
}

func (s *ZK) Apply(ctx context.Context, changes []Change) ([]Entry, error) {
	return run(s, ctx, "apply", func(ctx context.Context) ([]Entry, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for range zkTries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			results, again, err := s.applyOnce(changes)
			if !again {
				return results, err
			}
		}
		return nil, fmt.Errorf("other writers committed first %d times in a row", zkTries)
	})
}

// zkDoc is what a batch knows of one document it writes.
type zkDoc struct {
	exists bool    // its znode exists (or the batch creates it)
	kept   []int64 // its kept revisions, ascending, after the batch so far
}

type docKey struct {
	kind Kind
	name string
}

// applyOnce decides the batch on the state at one version and commits it
// conditionally on that version. again: another writer committed first,
// decide again.
func (s *ZK) applyOnce(changes []Change) (results []Entry, again bool, err error) {
	v, zv, err := s.version()
	if err != nil {
		return nil, false, err
	}
	docs := make(map[docKey]*zkDoc)
	results, written, err := plan(changes, commitTime(), func(k Kind, name string) (Entry, error) {
		e, kept, err := s.newestOf(k, name)
		docs[docKey{k, name}] = &zkDoc{exists: kept != nil, kept: kept}
		return e, err
	})
	if err != nil || len(written) == 0 {
		// The answer (a conflict, a no-op) rests on the reads: they must
		// all be of version v.
		if _, zv2, verr := s.version(); verr != nil {
			return nil, false, verr
		} else if zv2 != zv {
			return nil, true, nil
		}
		if errors.Is(err, errMoved) {
			return nil, false, fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		return results, false, err
	}
	ops, size := []any{}, 0
	add := func(op any, path string, data []byte) {
		ops = append(ops, op)
		size += len(path) + len(data) + 64 // 64: a generous op header
	}
	for _, e := range written {
		d, dir := docs[docKey{e.Kind, e.Name}], s.docPath(e.Kind, e.Name)
		if !d.exists {
			add(&zk.CreateRequest{Path: dir, Acl: s.acl}, dir, nil)
			d.exists = true
		}
		p, rec := dir+"/"+revName(e.Revision), encodeRecord(e)
		add(&zk.CreateRequest{Path: p, Data: rec, Acl: s.acl}, p, rec)
		d.kept = append(d.kept, e.Revision)
		// The same pruning as Bolt: keep the newest HistoryLimit.
		for len(d.kept) > 0 && d.kept[0] <= e.Revision-HistoryLimit {
			p := dir + "/" + revName(d.kept[0])
			add(&zk.DeleteRequest{Path: p, Version: -1}, p, nil)
			d.kept = d.kept[1:]
		}
	}
	next := []byte(strconv.FormatInt(v+1, 10))
	add(&zk.SetDataRequest{Path: s.path("version"), Data: next, Version: zv}, s.path("version"), next)
	if size > zkMaxBatch {
		return nil, false, fmt.Errorf("a batch of about %d bytes is more than ZooKeeper takes in one transaction (1 MiB, its jute.maxbuffer): apply fewer gateways at once: %w", size, ErrInvalid)
	}
	if _, err := s.conn.Multi(ops...); err != nil {
		// A version check failed, or a znode another writer made or
		// pruned first: if the version moved, decide again.
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) {
			if _, zv2, verr := s.version(); verr == nil && zv2 != zv {
				return nil, true, nil
			}
		}
		return nil, false, err
	}
	s.bc.commitOn(v, v+1, written)
	return results, false, nil
}

func (s *ZK) Watch(ctx context.Context) <-chan Snapshot {
	return s.bc.watch(ctx)
}

// watchLoop feeds watchers the commits of every writer: it sets a watch on
// the version znode, reads the whole state, and waits for the watch to
// fire. A lost connection keeps the watch (the client sets it again on
// reconnecting); an expired session loses it (the channel says so), and
// the loop sets it again and reads everything once a session is back.
func (s *ZK) watchLoop() {
	defer close(s.loop)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.closing
		cancel()
	}()
	backoff := 100 * time.Millisecond
	for !s.isClosed() {
		s.stateMu.Lock()
		losses := s.losses
		s.stateMu.Unlock()
		fired, err := run(s, ctx, "watch", func(ctx context.Context) (<-chan zk.Event, error) {
			_, _, ch, err := s.conn.GetW(s.path("version"))
			if err != nil {
				return nil, err
			}
			// Read after setting the watch: no commit falls in between.
			snap, err := s.readSnapshot(ctx)
			if err != nil {
				return nil, err
			}
			s.bc.publish(snap)
			return ch, nil
		})
		if err != nil {
			if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrClosed) {
				s.log.Error("zookeeper store: cannot follow the store; retrying", "store", s.String(), "err", err)
			}
			// Until a session is back, or a while: an error with a
			// session (a read failing) is retried too.
			select {
			case <-s.session:
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
			case <-s.closing:
			}
			continue
		}
		backoff = 100 * time.Millisecond
		s.synced(losses)
		select {
		case <-fired: // a commit, or the watch lost with the session
		case <-s.session:
			// The session is back after a lost connection: the client set
			// the watch again, but a read now ends the staleness at once
			// rather than at the next commit.
		case <-s.closing:
		}
	}
}

// synced ends the staleness once the whole state was read and published
// under a session that has not been lost since the read began.
func (s *ZK) synced(losses int64) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.losses != losses || !s.hasSession || s.staleSince.IsZero() {
		return
	}
	s.log.Info("zookeeper store in sync again: the whole state was read", "store", s.String(), "stale_for", time.Since(s.staleSince).Round(time.Millisecond))
	s.staleSince = time.Time{}
}

func (s *ZK) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.conn.Close()
		<-s.loop
		s.bc.close()
	})
	return nil
}

// Dump reads every document with all its kept revisions, at one version.
func (s *ZK) Dump(ctx context.Context) (Dump, error) {
	return run(s, ctx, "dump", func(ctx context.Context) (Dump, error) {
		var d Dump
		v, err := s.read(ctx, func() error {
			d.Docs = nil
			for _, k := range kinds {
				names, err := s.names(k)
				if err != nil {
					return err
				}
				docs := make([]Doc, len(names))
				err = each(ctx, len(names), func(i int) (err error) {
					docs[i] = Doc{Kind: k, Name: names[i]}
					docs[i].Revisions, err = s.history(ctx, k, names[i])
					if err == nil && len(docs[i].Revisions) == 0 {
						err = fmt.Errorf("%w: %s has no revisions", ErrDamaged, subject(k, names[i]))
					}
					return err
				})
				if err != nil {
					return err
				}
				d.Docs = append(d.Docs, docs...)
			}
			return nil
		})
		d.Version = v
		sortDocs(d.Docs)
		return d, err
	})
}

// zkLoadChunk is the size of one multi of a Load: half of what a
// transaction takes, so that a chunk always has room for a whole revision.
const zkLoadChunk = zkMaxBatch / 2

// Load writes d in several multis (ZooKeeper takes 1 MiB in one), each
// setting the version znode conditionally, so that a writer coming in
// between stops the Load rather than mixing with it. Agents watching the
// path see the intermediate states: copy into a path no agent serves yet.
func (s *ZK) Load(ctx context.Context, d Dump, replace bool) error {
	// Unbounded by the operation timeout: a large copy takes long.
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return fmt.Errorf("store: load: %w", ErrClosed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx, d, replace); err != nil {
		return s.fail("load", err)
	}
	return nil
}

func (s *ZK) load(ctx context.Context, d Dump, replace bool) error {
	old, zv, err := s.version()
	if err != nil {
		return err
	}
	if old != 0 && !replace {
		return fmt.Errorf("%w: %s is at store version %d", ErrNotEmpty, s, old)
	}
	var chunks [][]any
	var ops []any
	size := 0
	var tooLarge error
	add := func(op any, path string, data []byte) {
		n := len(path) + len(data) + 64
		if n > zkMaxBatch && tooLarge == nil {
			tooLarge = fmt.Errorf("%s: a revision of %d bytes is more than ZooKeeper takes (1 MiB, its jute.maxbuffer): %w", path, len(data), ErrInvalid)
		}
		if size+n > zkLoadChunk && len(ops) > 0 {
			chunks, ops, size = append(chunks, ops), nil, 0
		}
		ops, size = append(ops, op), size+n
	}
	if replace {
		for _, k := range kinds {
			names, err := s.names(k)
			if err != nil {
				return err
			}
			for _, name := range names {
				revs, err := s.revisions(k, name)
				if err != nil {
					return err
				}
				dir := s.docPath(k, name)
				for _, r := range revs {
					add(&zk.DeleteRequest{Path: dir + "/" + revName(r), Version: -1}, dir, nil)
				}
				add(&zk.DeleteRequest{Path: dir, Version: -1}, dir, nil)
			}
		}
	}
	for _, doc := range d.Docs {
		dir := s.docPath(doc.Kind, doc.Name)
		add(&zk.CreateRequest{Path: dir, Acl: s.acl}, dir, nil)
		for _, e := range doc.Revisions {
			p, rec := dir+"/"+revName(e.Revision), encodeRecord(e)
			add(&zk.CreateRequest{Path: p, Data: rec, Acl: s.acl}, p, rec)
		}
	}
	if tooLarge != nil {
		return tooLarge
	}
	if len(ops) > 0 || len(chunks) == 0 {
		chunks = append(chunks, ops)
	}
	v := old
	for i, c := range chunks {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w (after %d of %d steps: copy again with --force)", err, i, len(chunks))
		}
		v++
		if i == len(chunks)-1 {
			v = max(v, newVersion(old, d, replace))
		}
		stats, err := s.conn.Multi(append(c, &zk.SetDataRequest{Path: s.path("version"), Data: []byte(strconv.FormatInt(v, 10)), Version: zv})...)
		if err != nil {
			return fmt.Errorf("step %d of %d (another writer, or the connection lost? copy again with --force): %w", i+1, len(chunks), err)
		}
		zv = stats[len(stats)-1].Stat.Version
	}
	return nil
}
