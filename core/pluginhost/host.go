package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/turnout/turnout/plugins/sdk"
)

// Options configure a Host.
type Options struct {
	Catalog *Catalog
	// Config is each plugin's configuration (a JSON object), by name.
	Config map[string]json.RawMessage
	Logger *slog.Logger
	Events Events
	// OnChange is called (from any goroutine, never with a lock of the
	// host held) after a watched target's resolution changed.
	OnChange func()
}

// Host runs plugins on demand: a backend plugin starts when a gateway
// first names its scheme (a backend plugin named N resolves "N:..."
// targets, and a built-in resolves the schemes its Info lists: see
// Catalog.ForScheme), a policy plugin when a gateway first names it. Each then runs,
// supervised, until the host stops.
type Host struct {
	opts Options
	log  *slog.Logger

	reloadMu sync.Mutex // one Reload at a time

	mu        sync.Mutex
	ctx       context.Context
	wg        sync.WaitGroup
	instances map[string]*instance
	watches   map[string]*watch
}

// New creates a host; nothing runs until Start and a first use.
func New(o Options) *Host {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	return &Host{opts: o, log: o.Logger, instances: map[string]*instance{}, watches: map[string]*watch{}}
}

// Start makes the host usable until ctx ends; then every plugin process
// is stopped (Wait waits for that).
func (h *Host) Start(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	if dir := h.opts.Catalog.Dir(); dir != "" {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.watchDir(ctx, dir)
		}()
	}
}

// Wait returns once ctx of Start ended and every plugin process is gone.
func (h *Host) Wait() { h.wg.Wait() }

// Catalog is the host's catalog.
func (h *Host) Catalog() *Catalog { return h.opts.Catalog }

// Statuses lists every plugin of the catalog with its state; plugins never
// started are "stopped".
func (h *Host) Statuses() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Status
	for _, e := range h.opts.Catalog.Entries() {
		if in, ok := h.instances[e.ID()]; ok {
			out = append(out, in.status())
			continue
		}
		st := Status{Entry: e, State: StateStopped, Info: e.Info}
		if e.Refused != nil {
			st.State, st.LastError = StateRefused, e.Refused.Error()
		}
		out = append(out, st)
	}
	return out
}

// ErrRefused is wrapped by CheckScheme and CheckPolicy when the plugin
// exists but the host will not run it (a checksum mismatch, say): a
// configuration problem of the agent, not of the gateway naming it.
var ErrRefused = errors.New("plugin refused")

// refusedError carries a refusal's own message and matches ErrRefused.
type refusedError struct{ error }

func (refusedError) Is(target error) bool { return target == ErrRefused }
func (e refusedError) Unwrap() error      { return e.error }

// CheckScheme says whether a backend plugin resolves targets of scheme.
func (h *Host) CheckScheme(scheme string) error {
	e, ok := h.opts.Catalog.ForScheme(scheme)
	if !ok {
		return fmt.Errorf("no backend plugin resolves %q targets (backend plugins: %s)", scheme+":", h.names(sdk.KindBackend))
	}
	if e.Refused != nil {
		return refusedError{fmt.Errorf("the backend plugin for %q targets cannot run: %w", scheme+":", e.Refused)}
	}
	return nil
}

// CheckPolicy says whether a policy plugin of that name can run.
func (h *Host) CheckPolicy(name string) error {
	e, ok := h.opts.Catalog.Get(sdk.KindPolicy, name)
	if !ok {
		return fmt.Errorf("no policy plugin %q (policy plugins: %s)", name, h.names(sdk.KindPolicy))
	}
	if e.Refused != nil {
		return refusedError{fmt.Errorf("the policy plugin %q cannot run: %w", name, e.Refused)}
	}
	return nil
}

func (h *Host) names(k sdk.Kind) string {
	var n []string
	for _, e := range h.opts.Catalog.Entries() {
		if e.Kind != k {
			continue
		}
		if e.Builtin && len(e.Info.Schemes) > 1 {
			n = append(n, fmt.Sprintf("%s (%s)", e.Name, strings.Join(e.Info.Schemes, ", ")))
			continue
		}
		n = append(n, e.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// Policy returns the running policy plugin of that name, starting it on
// first use. It returns nil while the plugin is not running (starting,
// crashed, restarting): the caller holds.
func (h *Host) Policy(name string) (sdk.Policy, error) {
	if err := h.CheckPolicy(name); err != nil {
		return nil, err
	}
	in, err := h.instance(sdk.KindPolicy, name)
	if err != nil {
		return nil, err
	}
	p, _ := in.current()
	if p == nil {
		return nil, nil
	}
	return p.(sdk.Policy), nil
}

// backend returns the supervised instance of the backend plugin of a
// scheme (see Catalog.ForScheme), starting it once.
func (h *Host) backend(scheme string) (*instance, error) {
	e, ok := h.opts.Catalog.ForScheme(scheme)
	if !ok {
		return nil, fmt.Errorf("no backend plugin resolves %q targets", scheme+":")
	}
	return h.instance(sdk.KindBackend, e.Name)
}

// instance returns the supervised instance of a plugin, starting it once.
func (h *Host) instance(kind sdk.Kind, name string) (*instance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := string(kind) + "/" + name
	if in, ok := h.instances[id]; ok {
		return in, nil
	}
	if h.ctx == nil || h.ctx.Err() != nil {
		return nil, fmt.Errorf("plugin %s: the plugin host is not running", id)
	}
	e, ok := h.opts.Catalog.Get(kind, name)
	if !ok {
		return nil, fmt.Errorf("plugin %s: not in the catalog", id)
	}
	in := newInstance(e, h.opts.Config[name], h.log, h.opts.Events)
	h.instances[id] = in
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		in.run(h.ctx)
	}()
	return in, nil
}

// Describe returns a plugin's status, starting it if it never ran and
// waiting (until ctx ends) for it to run or fail, so its Info is known.
func (h *Host) Describe(ctx context.Context, kind sdk.Kind, name string) (Status, error) {
	e, ok := h.opts.Catalog.Get(kind, name)
	if !ok && kind == sdk.KindBackend {
		// backend/marathon is the plugin that serves marathon:.
		if se, found := h.opts.Catalog.ForScheme(name); found {
			e, ok, name = se, true, se.Name
		}
	}
	if !ok {
		return Status{}, fmt.Errorf("%w: no %s plugin %q (%s plugins: %s)", ErrUnknownPlugin, kind, name, kind, h.names(kind))
	}
	if e.Refused != nil {
		return Status{Entry: e, State: StateRefused, LastError: e.Refused.Error()}, nil
	}
	in, err := h.instance(kind, name)
	if err != nil {
		return Status{}, err
	}
	for {
		impl, changed := in.current()
		st := in.status()
		if impl != nil || st.State == StateRefused || st.State == StateBackoff {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, nil
		case <-changed:
		}
	}
}

// ErrUnknownPlugin: no plugin of that kind and name is in the catalog.
var ErrUnknownPlugin = errors.New("unknown plugin")
