package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugins gives the runner its policy plugins (*pluginhost.Host).
type Plugins interface {
	CheckPolicy(name string) error
	// Policy returns the running plugin, nil while it is not running.
	Policy(name string) (sdk.Policy, error)
}

// Options configure a Runner.
type Options struct {
	Store   store.Store
	Plugins Plugins
	// Metrics is where the data plane counts each route's requests.
	Metrics *metrics.Registry
	// Counters are what windows are read from (nil: Metrics alone, this
	// agent's traffic); in a cluster, every agent's (cluster.Windows).
	Counters Counters
	// Routes reports the routes in service, for their readiness (nil:
	// every route is ready).
	Routes func(gateway string) []engine.RouteStatus
	Logger *slog.Logger
	// DecideTimeout bounds one decision, webhooks included (default 30s).
	DecideTimeout time.Duration
	// Leader, if set, says whether this agent runs the policies (the
	// cluster's elected leader); nil: it always does (one agent).
	Leader Leader
	// Events, if set, is told every decision saved.
	Events *events.Bus
}

// Leader is the election a runner follows (*cluster.Election).
type Leader interface {
	// Leading reports whether this agent leads now, and a channel closed
	// when that changes.
	Leading() (bool, <-chan struct{})
}

// Errors the API maps to statuses.
var (
	ErrNoPolicy = errors.New("the gateway has no policy")
)

// Runner runs every gateway's policy.
type Runner struct {
	o   Options
	log *slog.Logger

	mu    sync.Mutex
	loops map[string]*loop
	// kicked are kicks for gateways whose loop is not running yet (a
	// command right after a start): the loop takes them when it starts.
	kicked map[string]bool
	// accepted is, per gateway, the policy its plugin last accepted
	// (acceptedKey): Check does not ask again.
	accepted map[string]string
}

type loop struct {
	hash   string
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}
}

// New creates a runner; Run starts it.
func New(o Options) *Runner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DecideTimeout == 0 {
		o.DecideTimeout = 30 * time.Second
	}
	if o.Counters == nil {
		o.Counters = LocalCounters(o.Metrics)
	}
	return &Runner{o: o, log: o.Logger, loops: map[string]*loop{}, kicked: map[string]bool{}, accepted: map[string]string{}}
}

// Run follows the store until ctx ends: a loop per gateway with a policy,
// started, restarted (a new policy section) and stopped as gateways change.
// With a Leader, the loops run only while this agent leads: losing the
// lead stops them all, gaining it starts them from the persisted states.
func (r *Runner) Run(ctx context.Context) {
	defer r.stopAll()
	leading, changed := true, (<-chan struct{})(nil)
	if r.o.Leader != nil {
		leading, changed = r.o.Leader.Leading()
	}
	snaps := r.o.Store.Watch(ctx)
	var want map[string]*gateway.Gateway
	var pending []string
	for {
		select {
		case snap, ok := <-snaps:
			if !ok {
				return
			}
			want, pending = wanted(snap)
		case <-changed:
			leading, changed = r.o.Leader.Leading()
			if !leading {
				r.stopAll()
				continue
			}
		}
		if !leading || want == nil {
			continue
		}
		r.sync(ctx, want)
		// A command written through another agent's API: decide now.
		for _, name := range pending {
			r.kick(name)
		}
	}
}

// wanted is the gateways of a snapshot that have a policy, and those whose
// policy state holds an operator's command not taken yet.
func wanted(snap store.Snapshot) (map[string]*gateway.Gateway, []string) {
	want := map[string]*gateway.Gateway{}
	for _, en := range snap.Entries {
		g, err := gateway.DecodeOne(en.Doc, "")
		if err != nil || g.Policy == nil {
			continue
		}
		want[g.Name] = g
	}
	var pending []string
	for _, en := range snap.Policies {
		var st State
		if json.Unmarshal(en.Doc, &st) == nil && st.Command != sdk.CommandNone && want[en.Name] != nil {
			pending = append(pending, en.Name)
		}
	}
	return want, pending
}

func (r *Runner) sync(ctx context.Context, want map[string]*gateway.Gateway) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, l := range r.loops {
		if g, ok := want[name]; !ok || configHash(g.Policy) != l.hash {
			l.cancel()
			<-l.done
			delete(r.loops, name)
		}
	}
	for name, g := range want {
		if _, ok := r.loops[name]; ok {
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		l := &loop{hash: configHash(g.Policy), cancel: cancel, kick: make(chan struct{}, 1), done: make(chan struct{})}
		r.loops[name] = l
		if r.kicked[name] {
			l.kick <- struct{}{}
			delete(r.kicked, name)
		}
		go func() {
			defer close(l.done)
			r.run(lctx, name, g.Policy, l)
		}()
	}
}

func (r *Runner) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, l := range r.loops {
		l.cancel()
		<-l.done
		delete(r.loops, name)
	}
}

// run decides for one gateway on its interval until ctx ends.
func (r *Runner) run(ctx context.Context, name string, pol *gateway.Policy, l *loop) {
	w := NewWindow(r.o.Counters, name)
	if r.o.Metrics != nil {
		defer r.o.Metrics.PolicyLateAgents.DeleteLabelValues(name)
		defer r.o.Metrics.Rollout.ForgetPolicy(name)
	}
	wait := time.Duration(0)
	// A restart resumes on the schedule the last decision set.
	if st, _, err := r.load(ctx, name); err == nil && st.ConfigHash == configHash(pol) && !st.Next.IsZero() {
		wait = max(time.Until(st.Next), 0)
	}
	if g, _ := r.current(ctx, name); g != nil {
		if err := w.Start(ctx, routeNames(g)); err != nil && ctx.Err() == nil {
			r.log.Warn("policy: traffic counters unreadable; the first window starts at the first decision", "gateway", name, "err", err)
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
		// The persisted schedule rules, not this loop's timer: a kick
		// without a command, or a decision another agent wrote meanwhile,
		// must not make a step early.
		if wait := r.untilDue(ctx, name, pol); wait > 0 {
			t.Reset(wait)
			continue
		}
		next := r.decide(ctx, name, pol, w)
		t.Reset(next)
	}
}

// untilDue is how long until the persisted state's next decision, 0 if it
// is due: no schedule yet, a command waiting, or a state unreadable (decide
// says why).
func (r *Runner) untilDue(ctx context.Context, name string, pol *gateway.Policy) time.Duration {
	st, _, err := r.load(ctx, name)
	if err != nil || st.ConfigHash != configHash(pol) || st.Command != sdk.CommandNone || st.Next.IsZero() {
		return 0
	}
	return max(time.Until(st.Next), 0)
}

// current is the gateway as stored now.
func (r *Runner) current(ctx context.Context, name string) (*gateway.Gateway, int64) {
	en, err := r.o.Store.Get(ctx, name)
	if err != nil {
		return nil, 0
	}
	g, err := gateway.DecodeOne(en.Doc, "")
	if err != nil {
		return nil, 0
	}
	return g, en.Revision
}

// load reads a gateway's policy state and its revision (store.Absent if
// it has none yet).
func (r *Runner) load(ctx context.Context, name string) (State, int64, error) {
	en, err := r.o.Store.Policy(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, store.Absent, nil
	}
	if err != nil {
		return State{}, 0, err
	}
	var st State
	if err := json.Unmarshal(en.Doc, &st); err != nil {
		return State{}, 0, fmt.Errorf("policy state of %q: %w", name, err)
	}
	return st, en.Revision, nil
}

// decide makes one decision and returns when to make the next.
func (r *Runner) decide(ctx context.Context, name string, pol *gateway.Policy, w *Window) time.Duration {
	interval := pol.Interval
	g, grev := r.current(ctx, name)
	if g == nil || g.Policy == nil || configHash(g.Policy) != configHash(pol) {
		return interval // the loop is about to be replaced
	}
	st, prev, err := r.load(ctx, name)
	if err != nil {
		r.log.Error("policy state unreadable; holding", "gateway", name, "err", err)
		return interval
	}
	if st.ConfigHash != configHash(pol) {
		st = State{ConfigHash: configHash(pol), Type: pol.Type, Phase: PhaseStarting}
	}
	// Taken at every decision, so that each window is one interval; an
	// error matters only to a decision that asks the plugin.
	taken, werr := w.Take(ctx, routeNames(g))
	now := time.Now()
	if werr == nil {
		r.reportLate(name, taken.Late)
	}

	cmd, by, why := st.Command, st.CommandBy, st.CommandWhy
	st.Command, st.CommandBy, st.CommandWhy = sdk.CommandNone, "", ""
	ended := st.Done
	if ended && (cmd == sdk.CommandPause || cmd == sdk.CommandResume) {
		// Command refuses these after the end; one that slipped in (a race
		// with the ending decision, another agent's API) must not reopen
		// a finished rollout: it is declined and the phase stays.
		st.Declined = &Declined{Command: cmd, Reason: "the rollout ended " + st.Phase, Time: now}
		r.save(ctx, name, g, grev, st, prev, "", nil, nil, fmt.Sprintf("policy %s: %s declined: the rollout ended %s", pol.Type, cmd, st.Phase))
		return interval
	}
	switch cmd {
	case sdk.CommandPause:
		st.Paused, st.Phase = true, PhasePaused
		r.save(ctx, name, g, grev, st, prev, "", nil, nil, "policy "+pol.Type+": paused by an operator")
		return interval
	case sdk.CommandResume:
		st.Paused = false
		if st.Phase == PhasePaused {
			st.Phase = "progressing"
		}
		if st.Done {
			r.save(ctx, name, g, grev, st, prev, "", nil, nil, "")
			return interval
		}
		cmd = sdk.CommandNone
	}
	if (st.Paused || st.Done) && cmd == sdk.CommandNone {
		// Nothing to decide: paused, or the rollout ended and no operator
		// asked for anything.
		return interval
	}

	impl, err := r.o.Plugins.Policy(pol.Type)
	if err == nil && impl == nil {
		err = fmt.Errorf("the %s policy plugin is not running", pol.Type)
	}
	if err == nil && werr != nil {
		err = fmt.Errorf("read the traffic counters: %w", werr)
	}
	var d sdk.Decision
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, r.o.DecideTimeout)
		d, err = impl.Decide(dctx, sdk.Input{
			Gateway: name, Config: pol.PluginConfig(), State: st.Plugin, Now: now,
			Window: taken.Span, Routes: metricsOf(g, taken.Routes, r.ready(name)), Command: cmd,
		})
		cancel()
	}
	var weights map[string]gateway.Weight
	if err == nil {
		weights, err = clamp(g, pol, d)
	}
	if err != nil {
		if ctx.Err() != nil {
			return interval
		}
		if werr == nil {
			w.Keep() // the next decision judges this window's traffic too
		}
		st.Errors++
		st.Command, st.CommandBy, st.CommandWhy = cmd, by, why // not taken yet
		st.Last = &Decision{Time: now, Action: sdk.Hold, Reason: "holding: the decision failed", Error: err.Error()}
		r.log.Warn("policy decision failed; weights held", "gateway", name, "policy", pol.Type, "err", err, "failures", st.Errors)
		if st.Errors == 1 {
			r.o.Events.Publish(events.Event{Type: events.PolicyFailed, Gateway: name, Reason: err.Error(), Time: now,
				Data: decisionEvent{Policy: pol.Type, Action: sdk.Hold, Phase: st.Phase, Step: st.Decisions}})
		}
		r.save(ctx, name, g, grev, st, prev, "", nil, nil, "")
		return min(interval, time.Second)
	}

	st.Errors = 0
	if ended && d.Action == sdk.Hold {
		// A command after the end that the policy has nothing to do for:
		// the rollout's record stays as it ended, and Command tells the
		// operator.
		st.Declined = &Declined{Command: cmd, Reason: d.Reason, Time: now}
		r.save(ctx, name, g, grev, st, prev, "", nil, nil, fmt.Sprintf("policy %s: %s declined: %s", pol.Type, cmd, d.Reason))
		r.log.Info("policy command declined after the rollout ended", "gateway", name, "policy", pol.Type, "command", cmd, "reason", d.Reason)
		return interval
	}
	st.Decisions++
	st.Plugin = d.State
	st.Phase = d.Phase
	switch d.Action {
	case sdk.Promote:
		// An end while paused (promote and abort act then too) is not paused.
		st.Paused = false
		st.Done, st.Ended, st.EndedRevision = true, d.Action, grev // save counts the revision it writes
		if st.Phase == "" {
			st.Phase = PhasePromoted
		}
	case sdk.Rollback:
		st.Paused = false
		st.Done, st.Ended, st.EndedRevision = true, d.Action, grev
		if st.Phase == "" {
			st.Phase = PhaseRolledBack
		}
	case sdk.Pause:
		st.Paused = true
		if st.Phase == "" {
			st.Phase = PhasePaused
		}
	}
	if st.Phase == "" {
		st.Phase = "progressing"
	}
	next := interval
	if d.Next > 0 {
		next = d.Next
	}
	st.Next = now.Add(next)
	st.Last = &Decision{Time: now, Action: d.Action, Reason: d.Reason, Checks: d.Checks, Agents: taken.Agents, Late: taken.Late}
	if weights != nil {
		st.Last.Weights = map[string]string{}
		for k, v := range weights {
			st.Last.Weights[k] = v.String()
		}
	}
	reason := fmt.Sprintf("policy %s: %s: %s", pol.Type, d.Action, d.Reason)
	author := ""
	if cmd != sdk.CommandNone && (by != "" || why != "") {
		// An operator's command through the API: the revision is theirs.
		reason += " (" + byNote(cmd, by, why) + ")"
		author = by
	}
	var strengths map[string]gateway.Weight
	if st.Done {
		// The end means everyone: no condition keeps capturing requests
		// for a route the end left at weight 0.
		var note string
		if strengths, note = quiet(g, weights, &st); note != "" {
			reason += "; " + note
		}
	}
	if len(taken.Late) > 0 {
		reason += "; " + lateNote(taken)
	}
	if !r.save(ctx, name, g, grev, st, prev, author, weights, strengths, reason) {
		w.Keep()
		return 100 * time.Millisecond // a concurrent write: decide again on fresh data
	}
	r.log.Info("policy decision", "gateway", name, "policy", pol.Type, "action", d.Action, "phase", st.Phase, "reason", d.Reason)
	if r.o.Metrics != nil {
		checks := make([]metrics.Check, len(d.Checks))
		for i, c := range d.Checks {
			checks[i] = metrics.Check{Name: c.Name, Route: c.Route, Value: c.Value, Limit: c.Limit}
		}
		r.o.Metrics.Rollout.Decision(name, pol.Type, string(d.Action), st.Phase, st.Decisions, checks)
	}
	r.o.Events.Publish(events.Event{Type: events.PolicyDecision, Gateway: name, Reason: d.Reason, Author: author, Time: now,
		Data: decisionEvent{Policy: pol.Type, Action: d.Action, Phase: st.Phase, Step: st.Decisions, Command: cmd,
			Checks: eventChecks(d.Checks), Weights: st.Last.Weights, Agents: taken.Agents}})
	return next
}

// save writes the state, and the gateway with new weights and condition
// strengths if any, in one batch. It reports false on a conflict with
// another writer.
func (r *Runner) save(ctx context.Context, name string, g *gateway.Gateway, grev int64, st State, prev int64, author string, weights, strengths map[string]gateway.Weight, reason string) bool {
	var changes []store.Change
	if weights != nil || strengths != nil {
		changed := false
		for i := range g.Routes {
			if w, ok := weights[g.Routes[i].Name]; ok && w != g.Routes[i].Weight {
				g.Routes[i].Weight = w
				changed = true
			}
			if s, ok := strengths[g.Routes[i].Name]; ok && s != g.Routes[i].ConditionStrength {
				g.Routes[i].ConditionStrength = s
				changed = true
			}
		}
		if changed {
			gdoc, err := g.MarshalJSON()
			if err != nil {
				r.log.Error("gateway not saved", "gateway", name, "err", err)
				return false
			}
			if st.RetryNote != "" {
				// The retried rollout's first revision says it is one.
				reason += "; " + st.RetryNote
				st.RetryNote = ""
			}
			changes = append(changes, store.Change{Name: name, Doc: gdoc, Match: grev, Reason: reason, Author: author})
			if st.Ended != "" && st.EndedRevision == grev {
				st.EndedRevision = grev + 1 // the revision this batch writes
			}
		}
	}
	doc, err := json.Marshal(st)
	if err != nil {
		r.log.Error("policy state not saved", "gateway", name, "err", err)
		return false
	}
	changes = append(changes, store.Change{Kind: store.KindPolicy, Name: name, Doc: doc, Match: prev, Reason: reason, Author: author})
	if _, err := r.o.Store.Apply(ctx, changes); err != nil {
		// A canceled ctx is the loop stopped (the lead lost, a shutdown):
		// no error of the decision's.
		if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			r.log.Error("policy decision not saved", "gateway", name, "err", err)
		}
		return false
	}
	return true
}

func (r *Runner) ready(name string) map[string]bool {
	if r.o.Routes == nil {
		return nil
	}
	out := map[string]bool{}
	for _, s := range r.o.Routes(name) {
		out[s.Route] = s.Held == ""
	}
	return out
}

// reportLate logs and counts the agents whose counters a window lacks.
func (r *Runner) reportLate(name string, late []LateAgent) {
	if r.o.Metrics != nil {
		r.o.Metrics.PolicyLateAgents.WithLabelValues(name).Set(float64(len(late)))
	}
	for _, a := range late {
		r.log.Warn("policy window: an agent's traffic counters are late; deciding on the others'", "gateway", name, "agent", a.Agent, "detail", a.Detail)
	}
}

// lateNote says, in a revision's reason, whose traffic the window lacks.
func lateNote(t Taken) string {
	parts := make([]string, len(t.Late))
	for i, a := range t.Late {
		parts[i] = a.Agent + " (" + a.Detail + ")"
	}
	return fmt.Sprintf("traffic of %d agents; late: %s", t.Agents, strings.Join(parts, ", "))
}

// kick makes a gateway's loop decide now.
func (r *Runner) kick(name string) {
	r.mu.Lock()
	l := r.loops[name]
	if l == nil {
		r.kicked[name] = true
	}
	r.mu.Unlock()
	if l == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// decisionEvent is the data of a policy.decision event.
type decisionEvent struct {
	Policy string     `json:"policy"`
	Action sdk.Action `json:"action"`
	Phase  string     `json:"phase"`
	// Step counts the rollout's decisions, this one included.
	Step    int               `json:"step"`
	Command sdk.Command       `json:"command,omitempty"`
	Checks  []checkEvent      `json:"checks,omitempty"`
	Weights map[string]string `json:"weights,omitempty"`
	Agents  int               `json:"agents,omitempty"`
}

// checkEvent is sdk.Check with the stream's lower-case names.
type checkEvent struct {
	Name   string  `json:"name"`
	Route  string  `json:"route,omitempty"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Passed bool    `json:"passed"`
	Detail string  `json:"detail,omitempty"`
}

func eventChecks(cs []sdk.Check) []checkEvent {
	out := make([]checkEvent, len(cs))
	for i, c := range cs {
		out[i] = checkEvent(c)
	}
	return out
}
