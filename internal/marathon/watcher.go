package marathon

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Watcher keeps an in-memory model of Marathon up to date: a full read at
// start, on every (re)connect of the event stream and on a timer (events
// sent during a reconnect are lost), and a read after every relevant event
// (Marathon's events are unordered: they say what to read again, they are
// not the whole state). Status, health and deployment events are applied
// at once as well (updates.go), so a task that turns healthy enters the
// table, and one that starts being killed leaves it, as the event arrives
// rather than after the next read. When Marathon cannot be read the model
// keeps its last data and Err says why. The event stream and member
// failover are in stream.go and members.go.
type Watcher struct {
	cfg    Config
	client *Client
	log    *slog.Logger

	// retryMin and retryMax bound the polling while Marathon is
	// unreachable or the event stream is down; minGap spaces the reads
	// that events trigger.
	retryMin, retryMax, minGap time.Duration

	kick chan struct{}

	mu       sync.Mutex
	model    *Model
	err      error
	errSince time.Time
	streamUp bool
	stats    StreamStats
	subs     map[chan struct{}]struct{}
	seq      uint64
	updates  []seqUpdate
}

// NewWatcher builds a watcher for the configuration; Run starts it.
func NewWatcher(c Config, log *slog.Logger) (*Watcher, error) {
	c = c.WithDefaults()
	cl, err := NewClient(c)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	resync := time.Duration(c.Resync)
	return &Watcher{
		cfg:      c,
		client:   cl,
		log:      log,
		retryMin: min(250*time.Millisecond, resync, time.Duration(c.ReconnectMax)),
		retryMax: min(10*time.Second, resync),
		minGap:   min(100*time.Millisecond, resync),
		kick:     make(chan struct{}, 1),
		subs:     map[chan struct{}]struct{}{},
	}, nil
}

// Client is the watcher's Marathon client.
func (w *Watcher) Client() *Client { return w.client }

// Model is the latest model, nil until Marathon was first read. It must
// not be changed.
func (w *Watcher) Model() *Model {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.model
}

// Err is why Marathon could not be read last time, nil when the model is
// current.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stale says the model is the last one read before Marathon became
// unreachable.
func (w *Watcher) Stale() bool { return w.Err() != nil }

// Subscribe returns a channel that receives a value after every change of
// the model or of Err (changes coalesce while the value is not taken), and
// a function that ends the subscription.
func (w *Watcher) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

// notifyLocked tells every subscriber; w.mu is held.
func (w *Watcher) notifyLocked() {
	for ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Kick asks for a full read soon.
func (w *Watcher) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run watches Marathon until ctx ends: the member checks, the event
// stream and the reads.
func (w *Watcher) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		w.client.checkMembers(ctx, time.Duration(w.cfg.MemberCheck), time.Duration(w.cfg.MemberTimeout), w.memberChanged)
	}()
	// The stream attaches once the first read is done (or failed): a
	// stream attached says Marathon was read.
	firstRead := make(chan struct{})
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-firstRead:
		}
		w.streamLoop(ctx)
	}()

	bo := newBackoff(w.retryMin, w.retryMax)
	for {
		err := w.resync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-firstRead:
		default:
			close(firstRead)
		}
		wait := time.Duration(w.cfg.Resync)
		if err != nil || !w.streaming() {
			// Poll while Marathon is away or its events are not
			// flowing, backing off (a reconnected stream asks for a
			// read at once).
			wait = bo.next()
		} else {
			bo.reset()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.kick:
			timer.Stop()
			// Space event-driven reads: a burst of events makes one.
			gap := time.NewTimer(w.minGap)
			select {
			case <-ctx.Done():
				gap.Stop()
				return nil
			case <-gap.C:
			}
		case <-timer.C:
		}
	}
}

// memberChanged logs a member that failed its check or passes it again.
func (w *Watcher) memberChanged(i int, why string) {
	member := w.client.m.urls[i]
	if why != "" {
		w.mu.Lock()
		w.stats.MembersDown++
		n := w.stats.MembersDown
		w.mu.Unlock()
		w.log.Warn("marathon member failed its check; passing it over", "member", member, "err", why, "members_down_total", n)
		return
	}
	w.log.Info("marathon member passes its check again", "member", member)
}

// StreamStats count the event stream's life: attaches, moves to another
// member and members that failed their check, since the watcher started.
type StreamStats struct {
	// Member is the member the stream is attached to, "" when it is not.
	Member                          string
	Attaches, Switches, MembersDown uint64
}

// Stats are the event stream's counts so far.
func (w *Watcher) Stats() StreamStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// streamLoop keeps the event stream attached until ctx ends: each attach
// goes to the first member in the client's order (the preferred one that
// passes its check), a failed attach tries the next member at once, and
// once every member failed in a row the next round waits a capped,
// jittered backoff. A stream cut because its member failed its check
// moves to another member at once.
func (w *Watcher) streamLoop(ctx context.Context) {
	bo := newBackoff(w.retryMin, time.Duration(w.cfg.ReconnectMax))
	last, failed := -1, 0
	for ctx.Err() == nil {
		order := w.client.m.order()
		i := order[failed%len(order)]
		member := w.client.m.urls[i]
		var attachedAt time.Time
		err := w.streamOnce(ctx, i, func() {
			attachedAt = time.Now()
			w.mu.Lock()
			w.streamUp = true
			w.stats.Member = member
			w.stats.Attaches++
			moved := last >= 0 && last != i
			if moved {
				w.stats.Switches++
			}
			st := w.stats
			w.mu.Unlock()
			if moved {
				w.log.Warn("marathon event stream moved to another member", "from", w.client.m.urls[last], "to", member,
					"switches_total", st.Switches)
			} else {
				w.log.Info("marathon event stream attached", "member", member, "attaches_total", st.Attaches)
			}
			last, failed = i, 0
			// Events sent while detached are lost: read everything.
			w.Kick()
		}, w.onEvent)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.streamUp = false
		w.stats.Member = ""
		w.mu.Unlock()
		w.Kick()
		if !attachedAt.IsZero() {
			w.log.Warn("marathon event stream lost", "member", member, "err", err,
				"after", time.Since(attachedAt).Round(time.Millisecond))
			if time.Since(attachedAt) > 30*time.Second {
				bo.reset()
			}
			if !w.client.m.up(i) {
				// Its member failed its check: go to another at once.
				continue
			}
		} else {
			w.log.Warn("marathon event stream cannot attach", "member", member, "err", err)
			failed++
			if failed%len(order) != 0 {
				continue
			}
		}
		timer := time.NewTimer(bo.next())
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// onEvent applies an event's update at once and asks for a read when it
// says something changed.
func (w *Watcher) onEvent(ev event) {
	if ev.update != nil {
		w.apply(ev.update)
	}
	if ev.reread {
		w.Kick()
	}
}

func (w *Watcher) streaming() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streamUp
}

// resync reads the whole model. Status updates that arrived while it was
// read are applied on top, so a read that started before a kill does not
// bring the killed task back.
func (w *Watcher) resync(ctx context.Context) error {
	w.mu.Lock()
	start := w.seq
	w.mu.Unlock()
	m, err := w.client.Fetch(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if w.err == nil {
			w.errSince = time.Now()
			w.log.Warn("marathon unreachable; keeping the last state", "err", err)
		}
		w.err = err
		w.notifyLocked()
		return err
	}
	if w.err != nil {
		w.log.Info("marathon reachable again", "after", time.Since(w.errSince).Round(time.Millisecond))
	}
	w.err = nil
	keep := w.updates[:0]
	for _, u := range w.updates {
		if u.seq > start {
			m = u.u.applyTo(m)
			keep = append(keep, u)
		}
	}
	w.updates = keep
	w.model = m
	w.notifyLocked()
	return nil
}

// seqUpdate is an applied update and when it came.
type seqUpdate struct {
	seq uint64
	u   update
}

// apply applies an event's update to the model at once and keeps it to
// apply again on top of a read that started before it.
func (w *Watcher) apply(u update) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	w.updates = append(w.updates, seqUpdate{seq: w.seq, u: u})
	if w.model != nil {
		if m := u.applyTo(w.model); m != w.model {
			w.model = m
			w.notifyLocked()
		}
	}
}
