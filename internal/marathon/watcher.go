package marathon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gomarathon "github.com/gambol99/go-marathon"
)

// Watcher keeps an in-memory model of Marathon up to date: a full read at
// start, on every (re)connect of the event stream and on a timer (events
// sent during a reconnect are lost), and a read after every relevant event
// (Marathon's events are unordered: they say what to read again, they are
// not the state). Status updates are applied at once as well, so a task
// that starts being killed leaves before the next read. When Marathon
// cannot be read the model keeps its last data and Err says why.
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
	subs     map[chan struct{}]struct{}
	seq      uint64
	updates  []statusUpdate
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
		retryMin: min(250*time.Millisecond, resync),
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

// Run watches Marathon until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	st := &streamTransport{
		client: w.client,
		base:   newTransport(),
		bodies: map[*streamBody]struct{}{},
		connected: func() {
			w.setStream(true)
			w.Kick()
		},
		disconnect: func() { w.setStream(false) },
	}
	defer st.close()
	// go-marathon gets a client of its own: its event stream library
	// changes the client's CheckRedirect.
	gm, err := gomarathon.NewClient(gomarathon.Config{
		URL:             strings.Join(w.client.members, ","),
		EventsTransport: gomarathon.EventsTransportSSE,
		HTTPClient:      &http.Client{Transport: st},
		LogOutput:       io.Discard,
	})
	if err != nil {
		return fmt.Errorf("marathon: %w", err)
	}
	var events gomarathon.EventsChannel
	defer func() {
		if events != nil {
			gm.RemoveEventsListener(events)
		}
	}()

	delay := w.retryMin
	for {
		err := w.resync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && events == nil {
			ch, err := gm.AddEventsListener(eventMask)
			if err != nil {
				w.log.Warn("marathon event stream", "err", err)
			} else {
				events = ch
				go w.handle(ctx, ch)
			}
		}
		wait := time.Duration(w.cfg.Resync)
		if err != nil || !w.streaming() {
			// Poll while Marathon is away or its events are not
			// flowing, backing off.
			wait = delay
			delay = min(delay*2, w.retryMax)
		} else {
			delay = w.retryMin
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

const eventMask = gomarathon.EventIDApplications | gomarathon.EventIDAPIRequest | gomarathon.EventIDStreamAttached |
	gomarathon.EventIDGroupChangeSuccess | gomarathon.EventIDDeploymentInfo | gomarathon.EventIDDeploymentSuccess |
	gomarathon.EventIDDeploymentFailed | gomarathon.EventIDDeploymentStepSuccess | gomarathon.EventIDDeploymentStepFailed

func (w *Watcher) setStream(up bool) {
	w.mu.Lock()
	w.streamUp = up
	w.mu.Unlock()
	if !up {
		// Poll until it is back.
		w.Kick()
	}
}

func (w *Watcher) streaming() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streamUp
}

// handle applies events until the channel closes.
func (w *Watcher) handle(ctx context.Context, ch gomarathon.EventsChannel) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if su, ok := ev.Event.(*gomarathon.EventStatusUpdate); ok {
				u := statusUpdate{TaskID: su.TaskID, AppID: NormalizeID(su.AppID), State: su.TaskStatus,
					Host: su.Host, Ports: su.Ports, Version: su.Version}
				for _, ip := range su.IPAddresses {
					u.IPs = append(u.IPs, ip.IPAddress)
				}
				w.apply(u)
			}
			w.Kick()
		}
	}
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
			m = u.applyTo(m)
			keep = append(keep, u)
		}
	}
	w.updates = keep
	w.model = m
	w.notifyLocked()
	return nil
}

// statusUpdate is a status_update_event.
type statusUpdate struct {
	seq                        uint64
	TaskID, AppID, State, Host string
	Version                    string
	Ports                      []int
	IPs                        []string
}

// terminal states remove a task.
var terminal = []string{"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}

func (w *Watcher) apply(u statusUpdate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	u.seq = w.seq
	w.updates = append(w.updates, u)
	if w.model != nil {
		w.model = u.applyTo(w.model)
		w.notifyLocked()
	}
}

// applyTo returns m with the update applied (m itself is not changed).
func (u statusUpdate) applyTo(m *Model) *Model {
	a, ok := m.Apps[u.AppID]
	if !ok {
		return m
	}
	i := slices.IndexFunc(a.Tasks, func(t Task) bool { return t.ID == u.TaskID })
	gone := slices.Contains(terminal, u.State)
	if i < 0 && (gone || u.State != TaskRunning) {
		// An unknown task that is not running yet is read with the app.
		return m
	}
	a = a.clone()
	switch {
	case gone:
		a.Tasks = slices.Delete(a.Tasks, i, i+1)
	case i < 0:
		a.Tasks = append(a.Tasks, Task{ID: u.TaskID, AppID: u.AppID, Host: u.Host, State: u.State,
			Version: u.Version, Ports: u.Ports, IPAddresses: u.IPs})
	default:
		a.Tasks[i].State = u.State
	}
	c := *m
	c.Apps = make(map[string]*App, len(m.Apps))
	for id, app := range m.Apps {
		c.Apps[id] = app
	}
	c.Apps[a.ID] = a
	return &c
}
