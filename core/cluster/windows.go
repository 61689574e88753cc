package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/policy"
)

// Windows publishes this agent's cumulative per-route counters in
// ZooKeeper, and reads every agent's, so that the leader's policies decide
// on the whole cluster's traffic (policy.Counters).
//
// Each agent keeps one ephemeral znode, PATH/windows/NODE, where NODE is
// its election znode's name, created by the election's session: an agent
// that dies or withdraws loses both together, and its counters stop
// counting. The znode holds the agent's totals of every route of every
// gateway with a policy, rewritten every Period.
type Windows struct {
	e           *Election
	cfg         WindowsConfig
	dir         string
	incarnation string
	started     time.Time

	mu        sync.Mutex // one publish at a time
	published string     // the znode last written, "" if none
	tooBig    bool       // the last publish was over Limit (logged once)
}

// WindowsConfig configures an agent's Windows.
type WindowsConfig struct {
	// Metrics is this agent's registry.
	Metrics *metrics.Registry
	// Gateways are the gateways to publish, with their routes: those with
	// a policy.
	Gateways func() map[string][]string
	// Period is how often the counters are published (default 1s).
	Period time.Duration
	// LateAfter is how old an agent's counters may be before a window
	// reports it late (default 3 periods).
	LateAfter time.Duration
	// Limit is the largest znode written (default 1,000,000 bytes, under
	// ZooKeeper's jute.maxbuffer of 1 MiB).
	Limit int
}

// Defaults of WindowsConfig.
const (
	DefaultPublishPeriod = time.Second
	DefaultWindowsLimit  = 1000 * 1000
)

// windowsDoc is an agent's published counters.
type windowsDoc struct {
	Agent       string    `json:"agent"`
	Incarnation string    `json:"incarnation"`
	Started     time.Time `json:"started"`
	Time        time.Time `json:"time"`
	// Bounds are the latency histogram's bounds, the same for every route.
	Bounds []float64 `json:"bounds,omitempty"`
	// Gateways are the totals by gateway and route, each as
	// [1xx 2xx 3xx 4xx 5xx error tcp timeouts count bucket...].
	Gateways map[string]map[string][]uint64 `json:"gateways,omitempty"`
	// Latency are the routes' latency sketches by gateway and route, each
	// as [index count index count ...], and SketchAccuracy the accuracy
	// they were made with: a reader whose sketches differ ignores them
	// (and falls back to the histogram), as an older reader does.
	Latency        map[string]map[string][]uint64 `json:"latency,omitempty"`
	SketchAccuracy float64                        `json:"sketch_accuracy,omitempty"`
	// Error says why the counters are not there (too big).
	Error string `json:"error,omitempty"`
}

const fixedFields = 9 // the classes, timeouts and count before the buckets

func encodeTotals(t metrics.Totals) []uint64 {
	out := make([]uint64, 0, fixedFields+len(t.Buckets))
	out = append(out, t.Classes[:]...)
	out = append(out, t.Timeouts, t.Count)
	return append(out, t.Buckets...)
}

func decodeTotals(v []uint64, bounds []float64) metrics.Totals {
	var t metrics.Totals
	if len(v) < fixedFields {
		return t
	}
	copy(t.Classes[:], v)
	t.Timeouts, t.Count = v[7], v[8]
	if b := v[fixedFields:]; len(b) == len(bounds) {
		t.Buckets, t.Bounds = b, bounds
	}
	return t
}

func encodeBins(bins []metrics.Bin) []uint64 {
	out := make([]uint64, 0, 2*len(bins))
	for _, b := range bins {
		out = append(out, uint64(b.Index), b.Count)
	}
	return out
}

// decodeBins reads encodeBins' pairs; a malformed list is no sketch.
func decodeBins(v []uint64) []metrics.Bin {
	if len(v)%2 != 0 {
		return nil
	}
	out := make([]metrics.Bin, 0, len(v)/2)
	for i := 0; i < len(v); i += 2 {
		if i > 0 && v[i] <= v[i-2] || v[i] > math.MaxInt32 {
			return nil // not in order: not what encodeBins wrote
		}
		out = append(out, metrics.Bin{Index: int(v[i]), Count: v[i+1]})
	}
	return out
}

// Windows makes this agent's publisher and reader; Run publishes.
func (e *Election) Windows(cfg WindowsConfig) *Windows {
	if cfg.Period <= 0 {
		cfg.Period = DefaultPublishPeriod
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 3 * cfg.Period
	}
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultWindowsLimit
	}
	if cfg.Gateways == nil {
		cfg.Gateways = func() map[string][]string { return nil }
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Windows{e: e, cfg: cfg, dir: e.cfg.Path + "/windows", incarnation: hex.EncodeToString(id[:]), started: time.Now()}
}

// Run publishes every Period until ctx ends, then deletes the znode (the
// agent leaves: its counters stop counting at once, not at its session's
// expiry). Call it before the election's Close.
func (w *Windows) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.withdraw()
			return
		case <-t.C:
		}
		next := w.cfg.Period
		switch err := w.Publish(); {
		case errors.Is(err, errNoZnode):
			// Soon, while the election makes its znode: others would
			// report this agent late after LateAfter.
			next = min(next, 100*time.Millisecond)
		case err != nil:
			w.e.log.Debug("cluster: traffic counters not published; retrying", "err", err)
		}
		t.Reset(next)
	}
}

func (w *Windows) withdraw() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.published != "" && w.e.sessionUp() {
		_ = w.e.conn.Delete(w.published, -1)
	}
	w.published = ""
}

var errNoZnode = errors.New("cluster: publish the traffic counters: no election znode yet")

// Publish writes this agent's counters now (Run does every Period). Before
// the agent has an election znode there is nothing to write under.
func (w *Windows) Publish() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.e.mu.Lock()
	node := w.e.node
	w.e.mu.Unlock()
	if !w.e.sessionUp() {
		return errors.New("cluster: publish the traffic counters: no zookeeper session")
	}
	if node == "" {
		return errNoZnode
	}
	data, err := w.encode()
	if err != nil {
		return err
	}
	p := w.dir + "/" + path.Base(node)
	if p != w.published && w.published != "" {
		// A new election znode (the session expired): the old one's
		// counters went with it, or go now.
		_ = w.e.conn.Delete(w.published, -1)
		w.published = ""
	}
	_, err = w.e.conn.Set(p, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		if err = mkdirAll(w.e.conn, w.dir, w.e.acl); err == nil {
			_, err = w.e.conn.Create(p, data, zk.FlagEphemeral, w.e.acl)
		}
	}
	if err != nil {
		return fmt.Errorf("cluster: publish the traffic counters at %s: %w", p, err)
	}
	w.published = p
	return nil
}

// encode is the znode's data: the counters, or the error saying why they
// are not there when they would be over Limit.
func (w *Windows) encode() ([]byte, error) {
	doc := windowsDoc{Agent: w.e.cfg.Info.ID, Incarnation: w.incarnation, Started: w.started, Time: time.Now(),
		Gateways: map[string]map[string][]uint64{}, Latency: map[string]map[string][]uint64{}, SketchAccuracy: metrics.SketchAccuracy}
	n := 0
	for gw, routes := range w.cfg.Gateways() {
		m := make(map[string][]uint64, len(routes))
		lat := make(map[string][]uint64, len(routes))
		for _, r := range routes {
			t := w.cfg.Metrics.Totals(gw, r)
			if doc.Bounds == nil {
				doc.Bounds = t.Bounds
			}
			m[r] = encodeTotals(t)
			lat[r] = encodeBins(t.Latency)
			n++
		}
		doc.Gateways[gw], doc.Latency[gw] = m, lat
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if len(data) <= w.cfg.Limit {
		if w.tooBig {
			w.e.log.Info("cluster: the traffic counters fit in their znode again", "bytes", len(data))
		}
		w.tooBig = false
		return data, nil
	}
	doc.Gateways, doc.Bounds, doc.Latency = nil, nil, nil
	doc.Error = fmt.Sprintf("its counters of %d routes take %d bytes, over the znode limit of %d", n, len(data), w.cfg.Limit)
	if !w.tooBig {
		w.e.log.Error("cluster: the traffic counters are too big for ZooKeeper; the leader's policies decide without this agent's traffic", "routes", n, "bytes", len(data), "limit", w.cfg.Limit)
	}
	w.tooBig = true
	return json.Marshal(doc)
}

// Read reads every agent's counters of a gateway's routes: this agent's
// from its registry, the others' from their znodes. An agent in the
// election whose counters are missing, older than LateAfter or not
// published (too big) is reported late; what it last published still
// counts (counters are cumulative: what it publishes later counts then).
func (w *Windows) Read(ctx context.Context, gateway string, routes []string) (policy.Reading, error) {
	if !w.e.sessionUp() {
		return policy.Reading{}, errors.New("no zookeeper session")
	}
	conn := w.e.conn
	w.e.mu.Lock()
	self := path.Base(w.e.node)
	w.e.mu.Unlock()

	agents, _, err := conn.Children(w.e.dir)
	if err != nil {
		return policy.Reading{}, fmt.Errorf("list %s: %w", w.e.dir, err)
	}
	sortBySeq(agents)
	published, _, err := conn.Children(w.dir)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return policy.Reading{}, fmt.Errorf("list %s: %w", w.dir, err)
	}
	has := make(map[string]bool, len(published))
	for _, p := range published {
		has[p] = true
	}

	local := policy.Source{Agent: w.e.cfg.Info.ID, Started: w.started, Routes: make(map[string]metrics.Totals, len(routes))}
	for _, r := range routes {
		local.Routes[r] = w.cfg.Metrics.Totals(gateway, r)
	}
	rd := policy.Reading{Sources: map[string]policy.Source{w.incarnation: local}}
	now := time.Now()
	for _, a := range agents {
		if ctx.Err() != nil {
			return policy.Reading{}, ctx.Err()
		}
		if a == self {
			continue
		}
		var info Info
		data, _, err := conn.Get(w.e.dir + "/" + a)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since the listing: it left
		} else if err != nil {
			return policy.Reading{}, fmt.Errorf("read %s: %w", a, err)
		}
		if json.Unmarshal(data, &info) != nil || info.ID == "" {
			info.ID = a
		}
		if !has[a] {
			if now.Sub(info.Started) > w.cfg.LateAfter {
				rd.Late = append(rd.Late, policy.LateAgent{Agent: info.ID, Detail: "has published no traffic counters"})
			}
			continue
		}
		data, _, err = conn.Get(w.dir + "/" + a)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		} else if err != nil {
			return policy.Reading{}, fmt.Errorf("read %s/%s: %w", w.dir, a, err)
		}
		var doc windowsDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			rd.Late = append(rd.Late, policy.LateAgent{Agent: info.ID, Detail: "its traffic counters are unreadable: " + err.Error()})
			continue
		}
		if doc.Error != "" {
			rd.Late = append(rd.Late, policy.LateAgent{Agent: info.ID, Detail: doc.Error})
			continue
		}
		if doc.Incarnation == w.incarnation {
			continue // this agent's own, read from its registry above
		}
		if age := now.Sub(doc.Time); age > w.cfg.LateAfter {
			rd.Late = append(rd.Late, policy.LateAgent{Agent: info.ID, Detail: fmt.Sprintf("last published %s ago", age.Round(100*time.Millisecond))})
		}
		src := policy.Source{Agent: info.ID, Started: doc.Started, Routes: make(map[string]metrics.Totals, len(routes))}
		for _, r := range routes {
			if v, ok := doc.Gateways[gateway][r]; ok {
				t := decodeTotals(v, doc.Bounds)
				if doc.SketchAccuracy == metrics.SketchAccuracy {
					t.Latency = decodeBins(doc.Latency[gateway][r])
				}
				src.Routes[r] = t
			}
		}
		rd.Sources[doc.Incarnation] = src
	}
	rd.Agents = len(rd.Sources)
	return rd, nil
}

// mkdirAll creates p and its parents (persistent) where missing.
func mkdirAll(conn *zk.Conn, p string, acl []zk.ACL) error {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if _, err := conn.Create(p[:i], nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p[:i], err)
		}
	}
	return nil
}
