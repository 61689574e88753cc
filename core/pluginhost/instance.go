package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/turnout/turnout/plugins/sdk"
)

// State is where a plugin is in its life.
type State string

const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateBackoff  State = "backoff" // crashed or failed to start; a restart is due
	StateRefused  State = "refused" // cannot be started (checksum, API version, ...)
	StateStopped  State = "stopped"
)

// Timing of supervision. Variables so tests can shorten them. A ping gets
// 10 s: at 2 s, plugins on a busy 2-core agent were killed as hung while
// they were only waiting for a CPU (the test suite under stress saw it), and
// a kill costs a restart and every call in flight; a plugin that is really
// hung is still caught within seconds.
var (
	startTimeout  = 10 * time.Second
	pingEvery     = time.Second
	pingTimeout   = 10 * time.Second
	backoffFirst  = 250 * time.Millisecond
	backoffMax    = 30 * time.Second
	configTimeout = 10 * time.Second
)

// Status is a plugin's state for people and the API.
type Status struct {
	Entry
	State    State
	Info     sdk.Info
	Restarts int
	// LastError is why the plugin last crashed, failed or was refused.
	LastError string
	PID       int
	Since     time.Time
}

// Events are the supervision hooks (metrics).
type Events struct {
	Started func(id string)
	// Crashed is told why the plugin stopped (exited, hung).
	Crashed func(id string, why error)
	Up      func(id string, up bool)
}

// instance supervises one plugin process: it starts it, watches it with
// pings, and restarts it with backoff when it crashes or hangs.
type instance struct {
	entry  Entry
	config json.RawMessage
	log    *slog.Logger
	events Events

	mu       sync.Mutex
	impl     sdk.Plugin // nil while not running
	info     sdk.Info
	state    State
	restarts int
	lastErr  string
	pid      int
	since    time.Time
	changed  chan struct{} // closed and replaced on every start and stop
}

func newInstance(e Entry, config json.RawMessage, log *slog.Logger, ev Events) *instance {
	if len(config) == 0 {
		config = json.RawMessage("{}")
	}
	in := &instance{entry: e, config: config, log: log.With("plugin", e.ID()), events: ev, state: StateStarting, changed: make(chan struct{})}
	if e.Refused != nil {
		in.state, in.lastErr = StateRefused, e.Refused.Error()
	}
	return in
}

// current returns the running plugin (nil if none) and a channel closed at
// its next start or stop.
func (in *instance) current() (sdk.Plugin, <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.impl, in.changed
}

func (in *instance) status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Status{Entry: in.entry, State: in.state, Info: in.info, Restarts: in.restarts, LastError: in.lastErr, PID: in.pid, Since: in.since}
}

func (in *instance) set(f func()) {
	in.mu.Lock()
	f()
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
}

// run supervises the plugin until ctx ends, then stops it.
func (in *instance) run(ctx context.Context) {
	if in.entry.Refused != nil {
		in.log.Error("plugin refused", "err", in.entry.Refused)
		return
	}
	backoff := backoffFirst
	for ctx.Err() == nil {
		in.set(func() { in.state = StateStarting })
		client, impl, info, err := in.start(ctx)
		if err != nil {
			if errors.Is(err, ErrAPIVersion) || errors.Is(err, ErrChecksumMismatch) {
				in.log.Error("plugin refused", "err", err)
				in.set(func() { in.state, in.lastErr = StateRefused, err.Error() })
				return
			}
			in.log.Error("plugin failed to start; retrying", "err", err, "in", backoff)
			in.set(func() { in.state, in.lastErr = StateBackoff, err.Error() })
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, backoffMax)
			continue
		}
		pid := 0
		if rc := client.ReattachConfig(); rc != nil {
			pid = rc.Pid
		}
		in.log.Info("plugin started", "version", info.Version, "pid", pid)
		if in.events.Started != nil {
			in.events.Started(in.entry.ID())
		}
		if in.events.Up != nil {
			in.events.Up(in.entry.ID(), true)
		}
		in.set(func() {
			in.impl, in.info, in.state, in.pid, in.since = impl, info, StateRunning, pid, time.Now()
		})
		started := time.Now()
		why := in.watch(ctx, client)
		if errors.Is(why, errHung) {
			killPID(pid) // go-plugin's Kill would wait forever on a graceful shutdown
		}
		stop(client, pid)
		in.set(func() { in.impl, in.pid = nil, 0 })
		if in.events.Up != nil {
			in.events.Up(in.entry.ID(), false)
		}
		if ctx.Err() != nil {
			in.set(func() { in.state = StateStopped })
			return
		}
		if in.events.Crashed != nil {
			in.events.Crashed(in.entry.ID(), why)
		}
		if time.Since(started) > backoffMax {
			backoff = backoffFirst // it ran well for a while
		}
		in.log.Error("plugin crashed; restarting", "err", why, "in", backoff)
		in.set(func() { in.state, in.lastErr, in.restarts = StateBackoff, why.Error(), in.restarts+1 })
		if !sleep(ctx, backoff) {
			in.set(func() { in.state = StateStopped })
			return
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// watch returns when the plugin process exits or stops answering pings
// (it hangs), or when ctx ends.
func (in *instance) watch(ctx context.Context, client *plugin.Client) error {
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if client.Exited() {
			return errors.New("the plugin process exited")
		}
		done := make(chan error, 1)
		go func() { done <- rpc.Ping() }()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		case <-time.After(pingTimeout):
			return fmt.Errorf("%w: it did not answer a ping within %s; killed", errHung, pingTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// start launches the process, negotiates the API version, checks that it
// is the plugin it claims to be and configures it.
func (in *instance) start(ctx context.Context) (*plugin.Client, sdk.Plugin, sdk.Info, error) {
	e := in.entry
	cmd := exec.Command(e.Path, e.Args...)
	dieWithParent(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.ClientPlugins(),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: e.Checksum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     startTimeout,
		Logger:           pluginLogger(in.log),
		SyncStderr:       &lineLogger{log: in.log},
	})
	fail := func(err error) (*plugin.Client, sdk.Plugin, sdk.Info, error) {
		client.Kill()
		return nil, nil, sdk.Info{}, err
	}
	rpc, err := client.Client()
	if err != nil {
		switch {
		case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
			return fail(fmt.Errorf("plugin %s: %w: the executable %s changed since it was checked", e.ID(), ErrChecksumMismatch, e.Path))
		case isVersionError(err):
			return fail(fmt.Errorf("plugin %s: %w: %v; Turnout speaks API versions %v: upgrade the plugin or Turnout so they share one", e.ID(), ErrAPIVersion, err, sdk.APIVersions))
		}
		return fail(fmt.Errorf("plugin %s: start: %w", e.ID(), err))
	}
	impl, err := sdk.Dispense(rpc, e.Kind)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: %w", e.ID(), err))
	}
	cctx, cancel := context.WithTimeout(ctx, configTimeout)
	defer cancel()
	info, err := impl.Info(cctx)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: info: %w", e.ID(), err))
	}
	if info.Name != e.Name || info.Kind != e.Kind {
		return fail(fmt.Errorf("plugin %s: the executable says it is %s/%s", e.ID(), info.Kind, info.Name))
	}
	if !slices.Contains(info.APIVersions, client.NegotiatedVersion()) {
		return fail(fmt.Errorf("plugin %s: %w: the plugin speaks %v, Turnout %v", e.ID(), ErrAPIVersion, info.APIVersions, sdk.APIVersions))
	}
	if err := impl.Configure(cctx, in.config); err != nil {
		return fail(fmt.Errorf("plugin %s: configure: %w", e.ID(), err))
	}
	return client, impl, info, nil
}

// errHung: the plugin process is alive but does not answer.
var errHung = errors.New("the plugin hung")

// stopTimeout bounds go-plugin's graceful shutdown of a plugin.
var stopTimeout = 3 * time.Second

// stop ends a plugin process: gracefully if it answers in time, else by
// SIGKILL, so that a stuck plugin can never stall a restart or Turnout's
// own shutdown (terraform#38939: Kill() waiting forever).
func stop(client *plugin.Client, pid int) {
	done := make(chan struct{})
	go func() {
		client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		killPID(pid)
		<-done
	}
}

func killPID(pid int) {
	if pid <= 0 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// isVersionError recognises go-plugin's negotiation failure, which has no
// sentinel ("Incompatible API version with plugin. Plugin version: 2,
// Client versions: [1]").
func isVersionError(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "incompatible api version")
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
