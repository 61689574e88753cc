package marathon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Watcher keeps an in-memory model of Marathon up to date: a full read
// (every app with its tasks, and the deployments) at start, on every
// (re)connect of the event stream (events sent during a reconnect are
// lost) and every Resync; between them, only the apps an event names are
// read again (GET /v2/apps/{id}), and task status, health and deployment
// events are applied as they come (updates.go), so a task that turns
// healthy enters the table, and one that starts being killed leaves it,
// as the event arrives rather than after a read. Events of a burst are
// grouped: an app changed ten times in 100 ms is read once. When
// Marathon cannot be read the model keeps its last data and Err says
// why. The event stream and member failover are in stream.go and
// members.go.
type Watcher struct {
	cfg    Config
	client *Client
	log    *slog.Logger

	// retryMin and retryMax bound the polling while Marathon is
	// unreachable or the event stream is down; minGap groups the events
	// of a burst into one read.
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
	// reading is set while a read is in flight: the updates applied
	// meanwhile are kept, to apply again on top of what it read.
	reading bool
	updates []seqUpdate
	// wantFull and wantApps are the reads events asked for since the
	// last one.
	wantFull bool
	wantApps map[string]struct{}
}

// maxAppReads is the most apps read one by one after a burst: more (a
// group deployed at once) cost fewer requests as one full read.
const maxAppReads = 16

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
		wantApps: map[string]struct{}{},
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
	w.mu.Lock()
	w.wantFull = true
	w.mu.Unlock()
	w.wake()
}

// readApps asks for a read of these apps soon.
func (w *Watcher) readApps(ids ...string) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	for _, id := range ids {
		w.wantApps[id] = struct{}{}
	}
	w.mu.Unlock()
	w.wake()
}

func (w *Watcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// wanted takes the reads asked for: everything, or these apps (nil for
// none).
func (w *Watcher) wanted() (full bool, apps []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	full, w.wantFull = w.wantFull, false
	for id := range w.wantApps {
		apps = append(apps, id)
	}
	clear(w.wantApps)
	if len(apps) > maxAppReads {
		full = true
	}
	if full {
		apps = nil
	}
	slices.Sort(apps)
	return full, apps
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
	full, apps := true, []string(nil)
	var nextFull time.Time
	for {
		var err error
		switch {
		case full:
			w.wanted() // a full read covers what events asked for
			err = w.resync(ctx)
			if err == nil {
				nextFull = time.Now().Add(time.Duration(w.cfg.Resync))
			}
		case len(apps) > 0:
			err = w.readAppsNow(ctx, apps)
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-firstRead:
		default:
			close(firstRead)
		}
		wait := time.Until(nextFull)
		if err != nil || !w.streaming() {
			// Poll while Marathon is away or its events are not
			// flowing, backing off (a reconnected stream asks for a
			// read at once).
			wait = bo.next()
		} else if full {
			bo.reset()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.kick:
			timer.Stop()
			// Group the events of a burst: one read for all of them.
			gap := time.NewTimer(w.minGap)
			select {
			case <-ctx.Done():
				gap.Stop()
				return nil
			case <-gap.C:
			}
			full, apps = w.wanted()
			// A failed read is retried whole: what else changed
			// meanwhile is not known.
			full = full || err != nil || !time.Now().Before(nextFull)
		case <-timer.C:
			full, apps = true, nil
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
// member and members that failed their check, since the watcher started;
// and the reads made: full ones (every app) and of one app.
type StreamStats struct {
	// Member is the member the stream is attached to, "" when it is not.
	Member                          string
	Attaches, Switches, MembersDown uint64
	FullReads, AppReads             uint64
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

// onEvent applies an event's update at once and asks for the reads it
// says are needed.
func (w *Watcher) onEvent(ev event) {
	if ev.update != nil {
		if id := w.apply(ev.update); id != "" {
			ev.apps = append(ev.apps, id)
		}
	}
	switch {
	case ev.full:
		w.Kick()
	case len(ev.apps) > 0:
		w.readApps(ev.apps...)
	}
}

func (w *Watcher) streaming() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streamUp
}

// resync reads the whole model. Updates that arrived while it was read
// are applied on top, so a read that started before a kill does not
// bring the killed task back.
func (w *Watcher) resync(ctx context.Context) error {
	start := w.beginRead()
	m, err := w.client.Fetch(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		return w.failedLocked(ctx, err)
	}
	w.stats.FullReads++
	w.publishLocked(m, start)
	return nil
}

// readAppsNow reads these apps again and puts them in the model (an app
// Marathon no longer has leaves it), with the updates that arrived
// meanwhile on top, as resync does.
func (w *Watcher) readAppsNow(ctx context.Context, ids []string) error {
	start := w.beginRead()
	var apps []*App
	var gone []string
	for _, id := range ids {
		a, err := w.client.App(ctx, id)
		var se *StatusError
		switch {
		case errors.As(err, &se) && se.Status == http.StatusNotFound:
			gone = append(gone, id)
		case err != nil:
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.failedLocked(ctx, err)
		default:
			apps = append(apps, a)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.model == nil {
		w.reading, w.updates = false, nil
		return nil // the first read is a full one
	}
	w.stats.AppReads += uint64(len(ids))
	m := withApps(w.model, apps, gone)
	m.Fetched = time.Now()
	w.publishLocked(m, start)
	return nil
}

// beginRead marks a read in flight and returns the update it starts at.
func (w *Watcher) beginRead() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reading, w.updates = true, nil
	return w.seq
}

// failedLocked records that Marathon could not be read; w.mu is held.
func (w *Watcher) failedLocked(ctx context.Context, err error) error {
	w.reading, w.updates = false, nil
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

// publishLocked makes m, read from a start at update start, the model,
// with the updates since applied again on top; w.mu is held. Reads are
// made one at a time (Run): the updates are kept only while one is in
// flight.
func (w *Watcher) publishLocked(m *Model, start uint64) {
	if w.err != nil {
		w.log.Info("marathon reachable again", "after", time.Since(w.errSince).Round(time.Millisecond))
	}
	w.err = nil
	for _, u := range w.updates {
		if u.seq > start {
			m = u.u.applyTo(m)
		}
	}
	w.reading, w.updates = false, nil
	w.model = m
	w.notifyLocked()
}

// seqUpdate is an applied update and when it came.
type seqUpdate struct {
	seq uint64
	u   update
}

// apply applies an event's update to the model at once and, while a read
// is in flight, keeps it to apply again on top of it. It returns the
// app to read again when the update does not apply whole (see reader).
func (w *Watcher) apply(u update) (read string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	if w.reading {
		w.updates = append(w.updates, seqUpdate{seq: w.seq, u: u})
	}
	if w.model == nil {
		return ""
	}
	if r, ok := u.(reader); ok {
		read = r.reads(w.model)
	}
	if m := u.applyTo(w.model); m != w.model {
		w.model = m
		w.notifyLocked()
	}
	return read
}
