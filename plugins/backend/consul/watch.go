package consul

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/turnout/turnout/plugins/sdk"
)

// requestSlack is how long past its wait (and Consul's wait/16 of jitter)
// a blocking query may take before it counts as lost: an agent that
// vanished without closing the connection must not hang a watch forever.
const requestSlack = 10 * time.Second

// watch is one blocking-query loop for one query, shared by every
// subscriber that names the query.
type watch struct {
	ctx    context.Context
	cancel context.CancelFunc
	q      query
	client *api.Client
	set    settings

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	cur  *sdk.Snapshot // the last published, nil before the first
	good *sdk.Snapshot // the last built from an answer, kept through errors
	rev  uint64
}

func newWatch(parent context.Context, q query, client *api.Client, set settings) *watch {
	ctx, cancel := context.WithCancel(parent)
	return &watch{ctx: ctx, cancel: cancel, q: q, client: client, set: set, subs: map[*subscriber]struct{}{}}
}

// run is the blocking-query loop, following Consul's guidance for
// blocking queries: reset the index when it goes backwards, never block
// on an index below 1, rate-limit, and back off with jitter on errors.
func (w *watch) run() {
	var (
		index    uint64
		failures int
		last     time.Time
	)
	for {
		// At most one query per min_interval: a service whose index moves
		// in a burst must not turn the loop into polling.
		if !last.IsZero() {
			if d := w.set.minInterval - time.Since(last); d > 0 && !sleep(w.ctx, d) {
				return
			}
		}
		last = time.Now()
		entries, meta, err := w.query(index)
		if w.ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			// The next query doesn't block: an agent that comes back
			// unchanged must clear the stale mark at once, not after a wait.
			index = 0
			w.publish(w.stale(err))
			if !sleep(w.ctx, backoff(failures, w.set.retryMin, w.set.retryMax)) {
				return
			}
			continue
		}
		failures = 0
		index = nextIndex(index, meta.LastIndex)
		w.publish(w.fresh(entries, meta))
	}
}

// nextIndex is the index of the next blocking query after an answer with
// index got to a query with index prev.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		// Gone backwards (a snapshot restore, another server or agent):
		// blocking on prev could miss changes for as long as the wait, so
		// start over without blocking.
		return 0
	case got < 1:
		// Consul must never answer 0; blocking on 0 returns at once,
		// forever, so block on 1 instead.
		return 1
	default:
		return got
	}
}

// backoff is the wait before retry n (from 1): doubling from lo, capped
// at hi, with equal jitter (half fixed, half random) so that many failing
// watches spread out yet none retries sooner than half its step.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *watch) query(index uint64) ([]*api.ServiceEntry, *api.QueryMeta, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.set.wait+w.set.wait/16+requestSlack)
	defer cancel()
	opts := &api.QueryOptions{
		WaitIndex:  index,
		WaitTime:   w.set.wait,
		Datacenter: w.q.dc,
		Near:       w.q.near,
	}
	return w.client.Health().ServiceMultipleTags(w.q.service, w.q.tags, w.q.passing, opts.WithContext(ctx))
}

// stale is the snapshot after a failed query: the last endpoints, ready
// as they were, and the error.
func (w *watch) stale(err error) sdk.Snapshot {
	var se api.StatusError
	if errors.As(err, &se) {
		hint := ""
		if se.Code == 403 {
			hint = " (check the ACL token)"
		}
		// The client's own wording ("Unexpected response code") adds
		// nothing to the status and Consul's body.
		err = fmt.Errorf("consul: health of %s: http %d: %s%s", w.q, se.Code, se.Body, hint)
	} else {
		err = fmt.Errorf("consul: health of %s: %w", w.q, err)
	}
	w.mu.Lock()
	good := w.good
	w.mu.Unlock()
	if good == nil {
		return sdk.Snapshot{Reason: "no answer from consul yet", Error: err.Error()}
	}
	s := *good
	s.Error = err.Error()
	return s
}

// fresh is the snapshot of an answer.
func (w *watch) fresh(entries []*api.ServiceEntry, meta *api.QueryMeta) sdk.Snapshot {
	eps, passing := endpoints(entries, w.q.near != "")
	s := sdk.Snapshot{Endpoints: eps, Ready: passing >= w.set.minPassing}
	switch {
	case s.Ready:
	case len(entries) == 0 && meta.ResultsFilteredByACLs:
		s.Reason = "no instances of " + w.q.String() + ": results filtered by ACLs (check the token)"
	case len(entries) == 0:
		s.Reason = "no instances of " + w.q.String()
	default:
		s.Reason = fmt.Sprintf("%d of %d instances passing, %d needed", passing, len(eps), w.set.minPassing)
	}
	w.mu.Lock()
	w.good = &s
	w.mu.Unlock()
	return s
}

// endpoints turns health entries into endpoints: the service's address
// (the node's when it has none) and port, labelled for people. An address
// listed twice is kept once, healthy if any instance there is. Without
// near the order is by address; with it, Consul's order by round-trip
// time is kept.
func endpoints(entries []*api.ServiceEntry, keepOrder bool) ([]sdk.Endpoint, int) {
	eps := make([]sdk.Endpoint, 0, len(entries))
	at := map[string]int{}
	for _, e := range entries {
		if e.Service == nil || e.Service.Port == 0 {
			continue // no port, nowhere to send traffic
		}
		host := e.Service.Address
		if host == "" && e.Node != nil {
			host = e.Node.Address
		}
		if host == "" {
			continue
		}
		healthy := true
		for _, c := range e.Checks {
			if c.Status != api.HealthPassing {
				healthy = false
			}
		}
		ep := sdk.Endpoint{Address: net.JoinHostPort(host, strconv.Itoa(e.Service.Port)), Healthy: healthy, Labels: labels(e)}
		if i, ok := at[ep.Address]; ok {
			if healthy && !eps[i].Healthy {
				eps[i] = ep
			}
			continue
		}
		at[ep.Address] = len(eps)
		eps = append(eps, ep)
	}
	if !keepOrder {
		sort.Slice(eps, func(i, j int) bool { return eps[i].Address < eps[j].Address })
	}
	passing := 0
	for _, ep := range eps {
		if ep.Healthy {
			passing++
		}
	}
	return eps, passing
}

// labels: service_id, node, dc, status, tag:T="" per tag, meta:K=V per
// service metadata key.
func labels(e *api.ServiceEntry) map[string]string {
	l := map[string]string{"service_id": e.Service.ID}
	if e.Node != nil {
		l["node"] = e.Node.Node
		if e.Node.Datacenter != "" {
			l["dc"] = e.Node.Datacenter
		}
	}
	status := e.Checks.AggregatedStatus()
	if len(e.Checks) == 0 {
		status = api.HealthPassing
	}
	l["status"] = status
	for _, t := range e.Service.Tags {
		l["tag:"+t] = ""
	}
	for k, v := range e.Service.Meta {
		l["meta:"+k] = v
	}
	return l
}

// publish hands s to every subscriber, unless it says what the last one
// said: blocking queries also return on timeouts and idempotent writes.
func (w *watch) publish(s sdk.Snapshot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil {
		prev := *w.cur
		prev.Revision = 0
		if reflect.DeepEqual(prev, s) {
			return
		}
	}
	w.rev++
	s.Revision = w.rev
	w.cur = &s
	for sub := range w.subs {
		sub.offer(s)
	}
}

func (w *watch) subscribe() *subscriber {
	sub := &subscriber{notify: make(chan struct{}, 1), done: w.ctx.Done()}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs[sub] = struct{}{}
	if w.cur != nil {
		sub.offer(*w.cur)
	}
	return sub
}

// unsubscribe drops sub and says how many are left.
func (w *watch) unsubscribe(sub *subscriber) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, sub)
	return len(w.subs)
}

// subscriber is one Watch call's mailbox: it holds only the latest
// snapshot, so a slow reader skips to the newest and never holds up the
// watch or the other readers.
type subscriber struct {
	notify chan struct{}
	done   <-chan struct{}
	mu     sync.Mutex
	snap   sdk.Snapshot
}

func (s *subscriber) offer(snap sdk.Snapshot) {
	s.mu.Lock()
	s.snap = snap
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// load is the latest snapshot, copied so that no reader shares the
// endpoints and labels of another.
func (s *subscriber) load() sdk.Snapshot {
	s.mu.Lock()
	snap := s.snap
	s.mu.Unlock()
	eps := make([]sdk.Endpoint, len(snap.Endpoints))
	for i, ep := range snap.Endpoints {
		ep.Labels = maps.Clone(ep.Labels)
		eps[i] = ep
	}
	snap.Endpoints = eps
	return snap
}

// forward sends the latest snapshot to out until ctx ends or the watch
// stops, replacing one not yet taken by a newer one.
func (s *subscriber) forward(ctx context.Context, out chan<- sdk.Snapshot) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.notify:
		}
		snap := s.load()
	send:
		for {
			select {
			case out <- snap:
				break send
			case <-s.notify:
				snap = s.load()
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
	}
}
