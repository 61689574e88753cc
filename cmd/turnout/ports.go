package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/ports"
	"github.com/turnout/turnout/internal/marathon"
)

// portGuard knows which ports Marathon-LB and the apps it exposes hold,
// from a Marathon watcher, so a gateway is never given one of them, and
// keeps checking the gateways in service against them: a conflict that
// appears later (an app newly exposed on a gateway's port) is logged,
// counted in turnout_port_conflicts and named by /readyz, and the gateway
// keeps serving.
type portGuard struct {
	cfg   ports.Config
	w     *marathon.Watcher
	table atomic.Pointer[ports.Table]
	// read is closed once Marathon was read completely for the first
	// time: until then the table is empty and would let anything pass.
	read chan struct{}
	// kick asks watch to check again: Marathon's model or the gateways
	// in service changed.
	kick chan struct{}

	mu        sync.Mutex
	conflicts []ports.Conflict
	// bus, if set, is told of each conflict that appears or is resolved.
	bus *events.Bus
}

// newPortGuard watches Marathon when it is configured (--marathon-url or
// TURNOUT_MARATHON_URL); without it, nil: no port is held by Marathon.
func newPortGuard(ctx context.Context, f pluginFlags, cfg ports.Config, log *slog.Logger) (*portGuard, error) {
	raw, err := pluginConfigs(f)
	if err != nil {
		return nil, err
	}
	mc, ok := raw["marathon"]
	if !ok {
		return nil, nil
	}
	c, err := marathon.ParseConfig(mc)
	if err != nil {
		return nil, err
	}
	w, err := marathon.NewWatcher(c, log.With("component", "ports"))
	if err != nil {
		return nil, err
	}
	g := &portGuard{cfg: cfg, w: w, read: make(chan struct{}), kick: make(chan struct{}, 1)}
	g.table.Store(ports.NewTable(cfg, nil))
	changed, cancel := w.Subscribe()
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				if m := w.Model(); m != nil {
					g.table.Store(ports.NewTable(cfg, m))
					select {
					case <-g.read:
					default:
						close(g.read)
					}
					g.Recheck()
				}
			}
		}
	}()
	go func() { _ = w.Run(ctx) }()
	return g, nil
}

// awaitFirstRead waits, at most bound, for the first complete read of
// Marathon, so that the gateways of the start are checked against what
// Marathon-LB holds rather than against nothing. It says whether Marathon
// was read; when it was not, the gateways start unchecked and the
// continuous check (watch) reports a conflict once Marathon answers.
func (g *portGuard) awaitFirstRead(ctx context.Context, bound time.Duration, log *slog.Logger) bool {
	select {
	case <-g.read:
		return true
	default:
	}
	log.Info("waiting for the first read of Marathon before checking the gateways' ports", "bound", bound)
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-g.read:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		log.Warn("Marathon not read in time: the gateways start without the check against Marathon-LB's ports; a conflict is reported (log, turnout_port_conflicts, /readyz) once Marathon answers",
			"bound", bound, "err", g.w.Err())
		return false
	}
}

// register exports the counts of the guard's Marathon watcher on
// /metrics: its event stream's attaches, moves to another member (a
// member failed its check, or the stream was lost and another member
// answered first) and members found failing, and its reads of Marathon.
// The watcher of the dcos plugin follows the same members with the same
// checks; its own counts are in its log lines (switches_total).
func (g *portGuard) register(reg *metrics.Registry) {
	labels := prometheus.Labels{"watcher": "ports"}
	counter := func(name, help string, v func(marathon.StreamStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v(g.w.Stats())) })
	}
	reg.Prometheus.MustRegister(
		counter("turnout_marathon_stream_attaches_total", "Attaches of the Marathon event stream.",
			func(s marathon.StreamStats) uint64 { return s.Attaches }),
		counter("turnout_marathon_stream_switches_total", "Moves of the Marathon event stream to another member.",
			func(s marathon.StreamStats) uint64 { return s.Switches }),
		counter("turnout_marathon_members_down_total", "Marathon members found failing their check (GET /v2/leader).",
			func(s marathon.StreamStats) uint64 { return s.MembersDown }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "turnout_marathon_reads_total",
			Help:        "Reads of Marathon: full (every app, /v2/apps) and of one app (/v2/apps/{id}).",
			ConstLabels: prometheus.Labels{"watcher": "ports", "read": "full"}},
			func() float64 { return float64(g.w.Stats().FullReads) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "turnout_marathon_reads_total",
			Help:        "Reads of Marathon: full (every app, /v2/apps) and of one app (/v2/apps/{id}).",
			ConstLabels: prometheus.Labels{"watcher": "ports", "read": "app"}},
			func() float64 { return float64(g.w.Stats().AppReads) }),
	)
}

// Owner is who on the Marathon side holds port.
func (g *portGuard) Owner(port int) (string, bool) {
	return g.table.Load().Owner(port)
}

// Recheck asks watch to check the gateways in service again (they
// changed). It never blocks.
func (g *portGuard) Recheck() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// watch checks the gateways in service against Marathon's ports from the
// first read of Marathon on, again after every change of its model and
// every Recheck, until ctx ends.
func (g *portGuard) watch(ctx context.Context, gateways func() []ports.Gateway, reg *metrics.Registry, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-g.read:
	}
	// A backstop for changes no kick reports (the engine putting a
	// pending set in service after a retry).
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		g.check(gateways(), reg, log)
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
		case <-t.C:
		}
	}
}

// check records the conflicts of gws: a log line for each that appears or
// goes, the gauge, and what /readyz names.
func (g *portGuard) check(gws []ports.Gateway, reg *metrics.Registry, log *slog.Logger) {
	var now []ports.Conflict
	for _, c := range g.table.Load().Check(gws) {
		// A port Marathon-LB binds inside the gateway range but no
		// gateway holds is for `turnout check ports`: no gateway
		// is in the way, and none will be put there.
		if c.Owners[0].Kind == ports.KindGateway {
			now = append(now, c)
		}
	}
	// /readyz names the conflicts (warnings) only after their log line,
	// metric and event exist: whoever reads one of them finds the others.
	g.mu.Lock()
	before := g.conflicts
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.conflicts = now
		g.mu.Unlock()
	}()
	for _, c := range now {
		if !slices.ContainsFunc(before, func(b ports.Conflict) bool { return sameConflict(b, c) }) {
			log.Warn("port conflict: a gateway in service is on a port Marathon-LB binds; the gateway keeps serving, move it or the app",
				"event", "port_conflict", "gateway", c.Owners[0].Name, "port", c.Port, "app", c.Owners[1].Name, "conflict", c.String())
			reg.PortConflicts.WithLabelValues(c.Owners[0].Name, strconv.Itoa(c.Port), c.Owners[1].Name).Set(1)
			g.bus.Publish(events.Event{Type: events.PortConflict, Gateway: c.Owners[0].Name, Reason: c.String(),
				Data: portEvent{Port: c.Port, Owner: c.Owners[1].Name}})
		}
	}
	for _, c := range before {
		if !slices.ContainsFunc(now, func(n ports.Conflict) bool { return sameConflict(n, c) }) {
			log.Info("port conflict resolved", "event", "port_conflict_resolved", "gateway", c.Owners[0].Name, "port", c.Port, "app", c.Owners[1].Name)
			reg.PortConflicts.DeleteLabelValues(c.Owners[0].Name, strconv.Itoa(c.Port), c.Owners[1].Name)
			g.bus.Publish(events.Event{Type: events.PortResolved, Gateway: c.Owners[0].Name, Reason: "resolved: " + c.String(),
				Data: portEvent{Port: c.Port, Owner: c.Owners[1].Name}})
		}
	}
}

// portEvent is the data of a port event: the port and who else binds it.
type portEvent struct {
	Port  int    `json:"port"`
	Owner string `json:"owner"`
}

func sameConflict(a, b ports.Conflict) bool {
	return a.Port == b.Port && slices.Equal(a.Owners, b.Owners)
}

// warnings are the conflicts found last, in words, for /readyz.
func (g *portGuard) warnings() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, len(g.conflicts))
	for i, c := range g.conflicts {
		out[i] = fmt.Sprintf("port conflict: %s (the gateway keeps serving; see turnout check ports)", c)
	}
	return out
}

// Warnings is warnings for /readyz and /healthz; nil without Marathon.
func (g *portGuard) Warnings() []string {
	if g == nil {
		return nil
	}
	return g.warnings()
}

// portGateways are the gateways' names and ports.
func portGateways(gws []*gateway.Gateway) []ports.Gateway {
	out := make([]ports.Gateway, len(gws))
	for i, g := range gws {
		out[i] = ports.Gateway{Name: g.Name, Port: g.Port.Number}
	}
	return out
}

// marathonConfigured says whether Marathon is configured for the plugins
// (--marathon-url, TURNOUT_MARATHON_URL or a token): the port guard then
// watches it.
func marathonConfigured(f pluginFlags) (bool, error) {
	raw, err := pluginConfigs(f)
	if err != nil {
		return false, err
	}
	_, ok := raw["marathon"]
	return ok, nil
}
