package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/turnout/turnout/core/store"
)

// Config is where an agent stands for election.
type Config struct {
	Servers []string // ZooKeeper, host:port
	Path    string   // the store's root znode: the election is PATH/agents
	// User and Password, if User is set, authenticate (digest) and
	// protect the agents znode as the store's own.
	User, Password string
	// SessionTimeout (default 10s) is how long a dead leader keeps leading
	// in ZooKeeper's eyes: its successor takes over after it.
	SessionTimeout time.Duration
	Info           Info
	Logger         *slog.Logger
}

// Election is this agent's candidacy. It runs until Close.
type Election struct {
	cfg  Config
	conn *zk.Conn
	acl  []zk.ACL
	log  *slog.Logger
	dir  string // PATH/agents

	wake    chan struct{} // capacity 1: the session changed or Info did
	closing chan struct{}
	done    chan struct{}

	mu         sync.Mutex
	hasSession bool
	leading    bool
	changed    chan struct{} // closed, and replaced, when leading changes
	node       string        // this agent's znode (full path), "" when none
	info       Info
	published  Info
}

// nodePrefix names the znodes; ZooKeeper appends a 10-digit sequence.
const nodePrefix = "agent-"

// Start connects a second ZooKeeper session, the election's own, and
// stands for election in the background. It does not wait for a session.
func Start(cfg Config) (*Election, error) {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	e := &Election{
		cfg: cfg, log: cfg.Logger, dir: cfg.Path + "/agents", acl: zk.WorldACL(zk.PermAll),
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
		changed: make(chan struct{}), info: cfg.Info,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if cfg.User != "" {
		e.acl = zk.DigestACL(zk.PermAll, cfg.User, cfg.Password)
	}
	conn, err := store.ZKConnect(cfg.Servers, cfg.SessionTimeout, " (election)", e.log, e.onEvent)
	if err != nil {
		return nil, fmt.Errorf("cluster: election: %w", err)
	}
	if cfg.User != "" {
		if err := conn.AddAuth("digest", []byte(cfg.User+":"+cfg.Password)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("cluster: election: authenticate as %q: %w", cfg.User, err)
		}
	}
	e.conn = conn
	go e.run()
	return e, nil
}

// Leading reports whether this agent leads now, and a channel closed when
// that changes.
func (e *Election) Leading() (bool, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading, e.changed
}

// SetApplied publishes the store version this agent serves.
func (e *Election) SetApplied(v int64) {
	e.mu.Lock()
	e.info.Applied = v
	e.mu.Unlock()
	e.poke()
}

// SetAdmin publishes the admin API's address, known once it listens.
func (e *Election) SetAdmin(addr string) {
	e.mu.Lock()
	e.info.Admin = addr
	e.mu.Unlock()
	e.poke()
}

// Close withdraws: the znode is deleted, so that the next agent leads at
// once rather than after the session timeout.
func (e *Election) Close() {
	select {
	case <-e.closing:
		return
	default:
	}
	close(e.closing)
	e.setLeading(false)
	e.mu.Lock()
	node := e.node
	e.mu.Unlock()
	if node != "" && e.sessionUp() {
		_ = e.conn.Delete(node, -1)
	}
	// Closing the connection fails a request run may be waiting on.
	e.conn.Close()
	<-e.done
}

// onEvent runs on the client's goroutine and must not block. Losing the
// session stops leading here, at once, not when run next gets to it.
func (e *Election) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	e.mu.Lock()
	e.hasSession = ev.State == zk.StateHasSession
	e.mu.Unlock()
	if ev.State != zk.StateHasSession {
		e.setLeading(false)
	}
	e.poke()
}

func (e *Election) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Election) sessionUp() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hasSession
}

func (e *Election) setLeading(v bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.closing:
		v = false // withdrawn: never leads again
	default:
	}
	// Checked under the lock onEvent sets it under: a pass of run that
	// saw the session just before it dropped cannot lead after the drop.
	v = v && e.hasSession
	if e.leading == v {
		return
	}
	e.leading = v
	close(e.changed)
	e.changed = make(chan struct{})
	if v {
		e.log.Info("cluster: this agent leads: it runs the policies", "agent", e.info.ID, "node", e.node)
	} else {
		e.log.Info("cluster: this agent no longer leads: its policies stop", "agent", e.info.ID)
	}
}

// run is the recipe, one pass per wake-up: have a znode, find the lowest,
// lead or watch the predecessor.
func (e *Election) run() {
	defer close(e.done)
	var watch <-chan zk.Event
	for {
		if !e.sessionUp() {
			e.setLeading(false)
		} else {
			var err error
			watch, err = e.step()
			if err != nil {
				e.setLeading(false)
				e.log.Warn("cluster: election: retrying", "err", err)
				watch = nil
				select {
				case <-time.After(time.Second):
				case <-e.closing:
					return
				}
				continue
			}
		}
		select {
		case <-e.wake:
		case <-watch:
		case <-e.closing:
			return
		}
	}
}

// step makes sure this agent has a znode with its current Info, decides
// whether it leads, and returns the predecessor's watch if it does not.
func (e *Election) step() (<-chan zk.Event, error) {
	e.mu.Lock()
	node, info, published := e.node, e.info, e.published
	e.mu.Unlock()
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	if node != "" {
		switch ok, _, err := e.conn.Exists(node); {
		case err != nil:
			return nil, err
		case !ok: // the session expired: its ephemeral znode went with it
			node = ""
		case info != published:
			if _, err := e.conn.Set(node, data, -1); err != nil {
				return nil, err
			}
		}
	}
	if node == "" {
		// PATH/agents, and its parents if the store has not (tests).
		if err := mkdirAll(e.conn, e.dir, e.acl); err != nil {
			return nil, err
		}
		// Protected: after a connection loss during the create, the
		// znode is found again by its GUID instead of made twice.
		node, err = e.conn.CreateProtectedEphemeralSequential(e.dir+"/"+nodePrefix, data, e.acl)
		if err != nil {
			return nil, fmt.Errorf("create a znode under %s: %w", e.dir, err)
		}
	}
	e.mu.Lock()
	e.node, e.published = node, info
	e.mu.Unlock()

	kids, _, err := e.conn.Children(e.dir)
	if err != nil {
		return nil, err
	}
	sortBySeq(kids)
	me := slices.Index(kids, node[len(e.dir)+1:])
	if me < 0 {
		e.mu.Lock()
		e.node = ""
		e.mu.Unlock()
		return nil, errors.New("this agent's znode vanished")
	}
	if me == 0 {
		// setLeading checks the session too: it may have dropped since.
		// The watch on its own znode notices an operator deleting it.
		e.setLeading(true)
		_, _, watch, err := e.conn.ExistsW(node)
		return watch, err
	}
	e.setLeading(false)
	ok, _, watch, err := e.conn.ExistsW(e.dir + "/" + kids[me-1])
	if err != nil {
		return nil, err
	}
	if !ok { // gone between Children and ExistsW: look again
		e.poke()
	}
	return watch, nil
}

// seq is a znode's sequence number, its last 10 digits (-1 if none).
func seq(name string) int64 {
	if len(name) < 10 {
		return -1
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sortBySeq sorts znode names in election order: the protected prefix
// (a GUID) comes before the sequence, so names do not sort by themselves.
func sortBySeq(names []string) {
	slices.SortFunc(names, func(a, b string) int { return int(seq(a) - seq(b)) })
}

// Status lists the agents in election order (the first leads) with how
// far behind the store version each is. Without ZooKeeper the error is
// store.ErrUnavailable (the API's 503).
func (e *Election) Status(ctx context.Context) (Status, error) {
	st, err := e.status(ctx)
	if err != nil && !errors.Is(err, ctx.Err()) {
		return Status{}, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return st, err
}

func (e *Election) status(ctx context.Context) (Status, error) {
	if !e.sessionUp() {
		return Status{}, errors.New("cluster: no zookeeper session")
	}
	st := Status{Store: "zookeeper", Agents: []Agent{}}
	v, _, err := e.conn.Get(e.cfg.Path + "/version")
	if err != nil {
		return Status{}, fmt.Errorf("cluster: read the store version: %w", err)
	}
	st.StoreVersion, _ = strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	kids, _, err := e.conn.Children(e.dir)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return Status{}, fmt.Errorf("cluster: list %s: %w", e.dir, err)
	}
	sortBySeq(kids)
	for _, k := range kids {
		if ctx.Err() != nil {
			return Status{}, ctx.Err()
		}
		data, _, err := e.conn.Get(e.dir + "/" + k)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since the listing
		} else if err != nil {
			return Status{}, fmt.Errorf("cluster: read %s: %w", k, err)
		}
		var a Agent
		if err := json.Unmarshal(data, &a.Info); err != nil {
			a.ID = k // not ours to read: shown by its znode name
		}
		a.Leader = len(st.Agents) == 0
		a.Behind = max(st.StoreVersion-a.Applied, 0)
		if a.Leader {
			st.Leader = a.ID
		}
		st.Agents = append(st.Agents, a)
	}
	return st, nil
}
