package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/cluster"
	"github.com/turnout/turnout/core/console"
	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/filesource"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/notify"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/core/policy"
	"github.com/turnout/turnout/core/ports"
	"github.com/turnout/turnout/core/routing"
	"github.com/turnout/turnout/core/store"
)

// defaultGateways is served when no file is given: the README's example.
//
//go:embed defaults/gateways.yaml
var defaultGateways []byte

type serveFlags struct {
	file           string
	dataDir        string
	store          string // a store URL (--store); "" for --data-dir
	token          string
	tokenFile      string
	tokensFile     string
	admin          string
	insecureAdmin  bool
	adminTLSCert   string
	adminTLSKey    string
	bind           string
	demo           bool
	demoPort       int
	resolve        []string
	portRange      string
	refScheme      string
	notify         []string
	logLevel       string
	logFormat      string
	pprof          bool
	accessLog      bool
	goroutineHTTP  bool
	drain          time.Duration
	connectTimeout time.Duration
	readTimeout    time.Duration
	idleTimeout    time.Duration
	timeout        time.Duration
	retries        int
	plugins        pluginFlags
	// marathonLBRange is Marathon-LB's service port range.
	marathonLBRange string
	// marathonWait bounds how long the gateways of the start wait for
	// the first read of Marathon (their port check needs it).
	marathonWait time.Duration
	limits       engine.Limits
}

// Default limits (see docs/performance.md, route-scale): a gateway of
// 1,000 routes is put in service in tens of milliseconds, far beyond the
// few routes of a canary; 200 gateways of that size still rebuild in
// seconds, and leave most of the default port range free.
const (
	defaultMaxRoutesPerGateway = 1000
	defaultMaxGateways         = 200
)

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the gateways of the store, a file, or the built-in example",
		Long: `Serve the gateways kept in the store (--data-dir, or --store), together
with the gateways of a Vamp gateway file (-f: one gateway, a list, or a
multi-document YAML stream), which override stored gateways of the same name.
The file is read again on SIGHUP and whenever it changes; a file with an error
is refused and the gateways in service keep serving. --demo serves the
README's example gateway with two demo backends.

Several agents share one desired state in ZooKeeper with --store
zk://HOST:PORT/PATH: each watches it and serves what any of them wrote. While
ZooKeeper is unreachable, every agent keeps serving and the API refuses writes
with 503.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("store") {
				f.store = os.Getenv("TURNOUT_STORE")
			}
			if f.store != "" && cmd.Flags().Changed("data-dir") {
				if !cmd.Flags().Changed("store") {
					return usageErrorf("TURNOUT_STORE is set: give --store or --data-dir, not both (--data-dir DIR is --store bolt://DIR)")
				}
				return usageErrorf("give --store or --data-dir, not both (--data-dir DIR is --store bolt://DIR)")
			}
			if f.store != "" {
				if _, err := store.ParseURL(f.store); err != nil {
					return usageErrorf("--store: %v", err)
				}
			}
			if f.demo && f.store == "" && !cmd.Flags().Changed("data-dir") && os.Getenv("TURNOUT_DATA_DIR") == "" {
				f.dataDir = "" // the demo leaves nothing behind
			}
			if !cmd.Flags().Changed("insecure-admin") {
				v, err := insecureAdminEnv()
				if err != nil {
					return err
				}
				f.insecureAdmin = v
			}
			if err := limitsFromEnv(cmd, &f.limits); err != nil {
				return err
			}
			return serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "gateways file (YAML or JSON), served with the store's gateways; without -f only the store's are served (--demo adds the built-in example)")
	fl.StringVar(&f.dataDir, "data-dir", store.DefaultDir(), "where the desired state is kept [TURNOUT_DATA_DIR; under Mesos $MESOS_SANDBOX/turnout-data]; --demo without it keeps state in memory")
	fl.StringVar(&f.store, "store", "", "where the desired state is kept, as a URL: bolt://DIR (as --data-dir DIR) or zk://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/PATH, ZooKeeper shared by several agents [TURNOUT_STORE]")
	// The environment is read at run time, not as the default, which --help would print.
	fl.StringVar(&f.token, "token", "", "token required on the admin listener (but /healthz, /readyz, /metrics) [TURNOUT_TOKEN]")
	fl.StringVar(&f.tokenFile, "token-file", "", "read the admin token from this file (a DC/OS secret, say)")
	fl.StringVar(&f.tokensFile, "tokens-file", envOr("TURNOUT_TOKENS_FILE", ""), "named admin tokens, one NAME:TOKEN a line: each name is the author of the changes made with its token (history, events) [TURNOUT_TOKENS_FILE]")
	fl.StringVar(&f.admin, "admin", envOr("TURNOUT_ADMIN", "127.0.0.1:9880"), "admin listener address (the web console at /, the API, /metrics, /healthz, /readyz); any but a loopback address needs a token or --insecure-admin [TURNOUT_ADMIN]")
	fl.BoolVar(&f.insecureAdmin, "insecure-admin", false, "UNSAFE: serve the admin API on an address others can reach without a token, so that anyone who reaches it can change every gateway [TURNOUT_INSECURE_ADMIN]")
	fl.StringVar(&f.adminTLSCert, "admin-tls-cert", envOr("TURNOUT_ADMIN_TLS_CERT", ""), "serve the admin API over HTTPS with this PEM certificate (chain); needs --admin-tls-key [TURNOUT_ADMIN_TLS_CERT]")
	fl.StringVar(&f.adminTLSKey, "admin-tls-key", envOr("TURNOUT_ADMIN_TLS_KEY", ""), "the PEM private key of --admin-tls-cert [TURNOUT_ADMIN_TLS_KEY]")
	fl.StringVar(&f.bind, "bind", "", "address gateway ports bind to (default all interfaces)")
	fl.BoolVar(&f.demo, "demo", false, "start two demo backends on 127.0.0.1 and pin the example's VIP names to them")
	fl.IntVar(&f.demoPort, "demo-port", 3001, "first port of the demo backends")
	fl.StringArrayVar(&f.resolve, "resolve", nil, "pin a target to addresses, HOST:PORT=ADDR[,ADDR...] (repeatable)")
	fl.StringVar(&f.portRange, "port-range", "8000-9999", "ports for gateways that give none")
	fl.StringArrayVar(&f.notify, "notify", nil, "send every gateway's rollout events (started, step, paused, promoted, rolled back, failed) to a receiver, FORMAT=URL with FORMAT slack, teams or webhook (repeatable) [TURNOUT_NOTIFY, comma-separated]")
	fl.StringVar(&f.refScheme, "reference-scheme", envOr("TURNOUT_REFERENCE_SCHEME", "marathon"), "backend plugin that resolves Vamp's deployment/cluster/service/port route keys (app /deployment/cluster/service, port by name); empty refuses them [TURNOUT_REFERENCE_SCHEME]")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.BoolVar(&f.pprof, "pprof", false, "serve /debug/pprof on the admin listener")
	fl.BoolVar(&f.accessLog, "access-log", false, "log one line per HTTP request and per TCP connection")
	fl.BoolVar(&f.goroutineHTTP, "goroutine-http", false, "serve every HTTP connection with a goroutine of its own instead of the event loops")
	fl.DurationVar(&f.drain, "drain-timeout", 30*time.Second, "how long removed ports and endpoints, and a shutdown, wait for requests in flight")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", 2*time.Second, "timeout for connecting to an endpoint")
	fl.DurationVar(&f.readTimeout, "client-read-timeout", 30*time.Second, "time a client has to send a request head; the longest silence while a body streams")
	fl.DurationVar(&f.idleTimeout, "client-idle-timeout", 90*time.Second, "idle keep-alive connections from clients are closed after this")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "how long an endpoint may stay silent (before and within a response), for routes that set none")
	fl.IntVar(&f.retries, "retries", 1, "default retries on another endpoint, for routes that set none")
	fl.StringVar(&f.plugins.dir, "plugin-dir", "", "directory of third-party plugins, turnout-plugin-KIND-NAME executables [TURNOUT_PLUGIN_DIR]")
	fl.StringArrayVar(&f.plugins.checksums, "plugin-checksum", nil, "SHA-256 a third-party plugin must have, FILE=SHA256 (repeatable) [TURNOUT_PLUGIN_CHECKSUMS, comma-separated]")
	fl.StringArrayVar(&f.plugins.configs, "plugin-config", nil, "configuration of a plugin, NAME=JSON object (repeatable)")
	fl.StringVar(&f.plugins.marathonURL, "marathon-url", "", "Marathon URL(s), comma-separated for failover, for the marathon, minuteman and marathon-lb plugins [TURNOUT_MARATHON_URL; default http://marathon.mesos:8080]")
	fl.StringVar(&f.marathonLBRange, "marathon-lb-range", "10000-10100", "Marathon-LB's service port range: with --marathon-url, no gateway takes a port Marathon-LB or an app it exposes holds")
	fl.DurationVar(&f.marathonWait, "marathon-wait", 15*time.Second, "with --marathon-url, how long the gateways of the start wait for the first read of Marathon, to be checked against Marathon-LB's ports; past it they start unchecked and a conflict is reported once Marathon answers")
	fl.IntVar(&f.limits.MaxRoutesPerGateway, "max-routes-per-gateway", defaultMaxRoutesPerGateway, "most routes a gateway may have; a write over it is refused (422), 0 for no limit [TURNOUT_MAX_ROUTES_PER_GATEWAY]")
	fl.IntVar(&f.limits.MaxGateways, "max-gateways", defaultMaxGateways, "most gateways this agent serves; a write over it is refused (422), 0 for no limit [TURNOUT_MAX_GATEWAYS]")
	fl.StringVar(&f.plugins.marathonCA, "marathon-ca-cert", "", "PEM file of the CA to trust for an https --marathon-url, such as DC/OS's dcos-ca.crt [TURNOUT_MARATHON_CA_CERT]")
	fl.StringVar(&f.plugins.acsToken, "dcos-acs-token", "", "DC/OS ACS token for Marathon [TURNOUT_DCOS_ACS_TOKEN; or a service account in TURNOUT_DCOS_SERVICE_ACCOUNT_SECRET]")
	return cmd
}

func serve(ctx context.Context, f serveFlags) error {
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	pins, err := parseResolve(f.resolve)
	if err != nil {
		return err
	}
	lo, hi, err := parseRange(f.portRange)
	if err != nil {
		return err
	}
	if f.refScheme != "" {
		if _, err := gateway.ParseTarget(f.refScheme + ":/a"); err != nil {
			return fmt.Errorf("--reference-scheme %q: want a backend plugin's name, like marathon", f.refScheme)
		}
	}
	gateway.ReferenceScheme = f.refScheme
	receivers, err := parseNotify(f.notify)
	if err != nil {
		return err
	}
	mlbRange, err := ports.ParseRange(f.marathonLBRange)
	if err != nil {
		return fmt.Errorf("--marathon-lb-range: %w", err)
	}
	portCfg := ports.Config{Gateways: ports.Range{First: lo, Last: hi}, MarathonLB: mlbRange}
	if on, err := marathonConfigured(f.plugins); err != nil {
		return err
	} else if on && portCfg.Gateways.Overlaps(portCfg.MarathonLB) {
		return fmt.Errorf("--port-range %s overlaps --marathon-lb-range %s, Marathon-LB's service port range: every port of the overlap may be bound by Marathon-LB for an app; give ranges apart (e.g. --port-range 8000-9999)",
			portCfg.Gateways, portCfg.MarathonLB)
	}
	token := cmp.Or(f.token, os.Getenv("TURNOUT_TOKEN"))
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return fmt.Errorf("--token-file %s: the file is empty", f.tokenFile)
		}
	}
	var tokens []api.NamedToken
	if f.tokensFile != "" {
		if tokens, err = readTokensFile(f.tokensFile); err != nil {
			return err
		}
	}
	// anyToken stands for every token, for the checks that want one.
	anyToken := token
	if anyToken == "" && len(tokens) > 0 {
		anyToken = tokens[0].Secret
	}
	// The admin listener is checked before anything starts: a refusal
	// leaves nothing half-started.
	adminTLSConfig, err := adminTLS(f.adminTLSCert, f.adminTLSKey)
	if err != nil {
		return err
	}
	adminLoopback, err := checkAdminAccess(ctx, f.admin, anyToken, f.insecureAdmin)
	if err != nil {
		return err
	}
	adminOpen := !adminLoopback && anyToken == ""
	switch {
	case adminOpen:
		log.Warn("INSECURE: the admin API has no token and listens on an address others can reach (--insecure-admin): anyone who reaches it can change every gateway; set --token or --token-file, or use a loopback --admin",
			"admin", f.admin)
	case !adminLoopback && adminTLSConfig == nil:
		log.Warn("the admin API serves plain HTTP on an address others can reach: its token crosses the network in clear text; serve it over TLS with --admin-tls-cert and --admin-tls-key",
			"admin", f.admin)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if f.demo {
		demoPins, err := startDemo(ctx, f.demoPort, log)
		if err != nil {
			return err
		}
		for k, v := range demoPins {
			if _, ok := pins[k]; !ok {
				pins[k] = v
			}
		}
	}

	reg := metrics.NewRegistry()
	// What happens on this agent, for GET /api/v1/events.
	bus := events.New(0, 0)
	var accessLog *slog.Logger
	if f.accessLog {
		accessLog = log.With("log", "access")
	}
	dp := dataplane.New(dataplane.Options{
		AccessLog:      accessLog,
		GoroutineHTTP:  f.goroutineHTTP,
		Address:        f.bind,
		ConnectTimeout: f.connectTimeout,
		ReadTimeout:    f.readTimeout,
		IdleTimeout:    f.idleTimeout,
		DrainTimeout:   f.drain,
		Logger:         log,
		Metrics:        reg,
	})
	// The engine is created below; the host tells it about resolutions
	// through this indirection.
	var eng *engine.Engine
	host, err := newPluginHost(f.plugins, reg, bus, log, func() {
		if eng != nil {
			eng.Changed()
		}
	})
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}
	hostCtx, stopPlugins := context.WithCancel(context.Background())
	host.Start(hostCtx)
	defer func() {
		stopPlugins()
		host.Wait() // no plugin process outlives turnout
	}()
	guard, err := newPortGuard(ctx, f.plugins, portCfg, log)
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}
	if guard != nil {
		guard.register(reg)
		guard.bus = bus
		// The gateways of the start are checked against Marathon-LB's
		// ports once Marathon was read: checked against an empty
		// table, a conflicting gateway would start or be refused
		// depending on which came first.
		guard.awaitFirstRead(ctx, f.marathonWait, log)
	}
	var portOwner func(int) (string, bool)
	if guard != nil {
		portOwner = guard.Owner
	}
	reserved := map[int]string{}
	if _, p, err := net.SplitHostPort(f.admin); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			reserved[n] = "the admin listener (--admin)"
		}
	}
	eng = engine.New(dp, engine.Options{
		PortRange: [2]int{lo, hi},
		Resolve:   pins,
		Reserved:  reserved,
		Routing:   routing.Options{Timeout: f.timeout, Retries: f.retries},
		Backends:  host,
		PortOwner: portOwner,
		Logger:    log,
		Events:    bus,
	})

	st, err := openStore(ctx, f, log)
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}
	defer st.Close()
	events.WatchStore(ctx, st, bus, log)
	self := cluster.Info{ID: cluster.DefaultID(), Admin: f.admin, Version: version, Started: time.Now().UTC(),
		PortRange: portCfg.Gateways.String(), MarathonLBRange: portCfg.MarathonLB.String()}
	elect, err := startElection(f, self, log)
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}
	var applied atomic.Int64 // the store version served, for GET /cluster on one agent
	popts := policy.Options{Store: st, Plugins: host, Metrics: reg, Routes: eng.Statuses, Logger: log, Events: bus}
	clusterStatus := func(ctx context.Context) (cluster.Status, error) {
		snap, err := st.Snapshot(ctx)
		if err != nil {
			return cluster.Status{}, err
		}
		info := self
		info.Applied = applied.Load()
		kind := "bolt"
		if _, ok := st.(*store.Memory); ok {
			kind = "memory"
		}
		return cluster.Single(kind, info, snap.Version), nil
	}
	if elect != nil {
		// Closed after the runner has stopped (defers run in reverse):
		// the next leader starts once this one's loops are gone.
		defer elect.Close()
		popts.Leader = elect
		clusterStatus = elect.Status
		// Every agent publishes its traffic counters; the leader's
		// policies decide on the sum of all of them.
		windows := elect.Windows(cluster.WindowsConfig{Metrics: reg, Gateways: func() map[string][]string {
			return policyRoutes(eng.Gateways())
		}})
		popts.Counters = windows
		wctx, stopWindows := context.WithCancel(ctx)
		windowsDone := make(chan struct{})
		go func() {
			windows.Run(wctx)
			close(windowsDone)
		}()
		// Withdrawn before the election closes its session (defers run
		// in reverse).
		defer func() {
			stopWindows()
			<-windowsDone
		}()
	}
	// staleSince is the store's, when it can fall behind (ZooKeeper); a
	// store that is the desired state itself is never stale.
	staleSince := func() (time.Time, bool) { return time.Time{}, false }
	if s, ok := st.(store.Staleness); ok {
		staleSince = s.StaleSince
	}
	reg.StoreStaleness(staleSince)
	clusterStatus = staleStatus(clusterStatus, staleSince, func() cluster.Info {
		info := self
		info.Applied = applied.Load()
		return info
	})
	runner := policy.New(popts)
	// A gateway is accepted when the engine can serve it and its policy
	// plugin takes its policy section.
	check := func(gws []*gateway.Gateway) error {
		refused := eng.Check(gws)
		if refused != nil && !errors.Is(refused, pluginhost.ErrRefused) {
			return refused
		}
		perr := runner.Check(ctx, gws)
		if perr != nil && !errors.Is(perr, pluginhost.ErrRefused) {
			return perr
		}
		return errors.Join(refused, perr)
	}
	// The file is this agent's own configuration: a gateway whose plugin
	// is refused is served degraded (its routes held, saying why), as it
	// is when it comes from the store, instead of stopping the agent or
	// refusing the file's other gateways. The API still refuses it.
	fileCheck := func(gws []*gateway.Gateway) error {
		err := check(gws)
		if errors.Is(err, pluginhost.ErrRefused) {
			log.Warn("gateways file: serving degraded: a plugin it names is refused", "err", err)
			return nil
		}
		return err
	}
	apply := filesource.ToStore(st, fileCheck, f.limits)
	storeVersion, err := firstTable(ctx, f, st, eng, apply)
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}

	// The file's watch is armed before the admin API answers /healthz:
	// a change or SIGHUP from then on is seen.
	var fileWatch *filesource.Watcher
	if f.file != "" {
		if fileWatch, err = filesource.NewWatcher(f.file); err != nil {
			log.Error("cannot watch the gateways file; reload with SIGHUP is off too", "err", err)
		}
	}
	admin, err := api.Start(api.Options{Addr: f.admin, Registry: reg.Prometheus, Pprof: f.pprof, Logger: log,
		Ready: func() error { return ready(eng, st, staleSince) }, Warnings: guard.Warnings,
		API: api.New(api.Config{Store: st, Check: check, Logger: log,
			Plugins: host, Routes: eng.Statuses, Policy: runner, Limits: f.limits, Cluster: clusterStatus, Events: bus,
			Traffic: reg.Totals}),
		Console: console.Handler(), Token: token, Tokens: tokens, TLS: adminTLSConfig, Open: adminOpen})
	if err != nil {
		_ = dp.Shutdown(context.Background())
		return err
	}
	// A name is resolved again by net.Listen: what it bound settles
	// whether the listener without a token is really loopback only.
	if anyToken == "" && !f.insecureAdmin && !api.IsLoopbackAddr(admin.Addr()) {
		_ = admin.Shutdown(context.Background())
		_ = dp.Shutdown(context.Background())
		return fmt.Errorf("refusing to serve the admin API without a token: --admin %s bound %s, which is not a loopback address; set a token or --insecure-admin", f.admin, admin.Addr())
	}
	for _, g := range eng.Gateways() {
		log.Info("gateway serving", "gateway", g.Name, "port", g.Port.Number, "protocol", g.Port.Protocol, "routes", len(g.Routes))
	}
	// Stored gateways accepted before a limit was lowered keep serving:
	// refusing to start would take every gateway down.
	if err := f.limits.Check(nil, eng.Gateways()); err != nil {
		log.Warn("gateways in service are over the limits; they keep serving and may shrink, but not grow", "err", err)
	}
	self.Admin = admin.Addr().String()
	applied.Store(storeVersion)
	if elect != nil {
		elect.SetAdmin(self.Admin)
		elect.SetApplied(storeVersion)
	}
	log.Info("turnout serving", "version", version, "admin", admin.Addr().String(), "admin_tls", adminTLSConfig != nil, "admin_token", anyToken != "", "named_tokens", len(tokens))

	go eng.Run(ctx)
	if guard != nil {
		go guard.watch(ctx, func() []ports.Gateway { return portGateways(eng.Gateways()) }, reg, log)
	}
	runnerDone := make(chan struct{})
	go func() {
		runner.Run(ctx)
		close(runnerDone)
	}()
	go notify.Run(ctx, notify.Options{Bus: bus, Receivers: receivers, Logger: log, Sent: reg.Notifications,
		Gateway: func(name string) []gateway.Notify {
			for _, g := range eng.Gateways() {
				if g.Name == name && g.Policy != nil {
					return g.Policy.Notify
				}
			}
			return nil
		}})
	defer func() { <-runnerDone }() // no decision is written after the store closes
	go eng.Follow(ctx, st, storeVersion, func(v int64, err error) {
		switch {
		case err != nil:
			log.Error("desired state not applied; the previous gateways keep serving", "store_version", v, "err", err)
		default:
			log.Info("desired state applied", "store_version", v)
			if guard != nil {
				guard.Recheck()
			}
			applied.Store(v)
			if elect != nil {
				elect.SetApplied(v)
			}
		}
	})
	if fileWatch != nil {
		go fileWatch.Run(ctx, apply, func(err error) {
			if err != nil {
				reg.ConfigReloads.WithLabelValues("error").Inc()
			} else {
				reg.ConfigReloads.WithLabelValues("ok").Inc()
			}
		}, log)
	}

	<-ctx.Done()
	log.Info("shutting down", "drain_timeout", f.drain)
	sctx, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	_ = admin.Shutdown(sctx)
	if err := dp.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// policyRoutes are the routes of the gateways with a policy, by gateway:
// the counters each agent publishes for the leader's windows.
func policyRoutes(gws []*gateway.Gateway) map[string][]string {
	out := map[string][]string{}
	for _, g := range gws {
		if g.Policy == nil {
			continue
		}
		for _, r := range g.Routes {
			out[g.Name] = append(out[g.Name], r.Name)
		}
	}
	return out
}

// startElection stands for the election of the agent that runs the
// policies, on a ZooKeeper store; nil on any other (one agent: it runs
// them). The election has its own session, not the store's: a session is
// what ZooKeeper expires, and the election's must follow only this
// agent's liveness, with its own event handling, whatever the store's
// reconnects do.
func startElection(f serveFlags, self cluster.Info, log *slog.Logger) (*cluster.Election, error) {
	if f.store == "" {
		return nil, nil
	}
	loc, err := store.ParseURL(f.store)
	if err != nil || loc.Scheme != "zk" {
		return nil, nil // openStore has said what is wrong
	}
	z := loc.ZK
	e, err := cluster.Start(cluster.Config{Servers: z.Servers, Path: z.Path, User: z.User, Password: z.Password,
		SessionTimeout: z.SessionTimeout, Info: self, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", loc, err)
	}
	return e, nil
}

// openStore opens the desired-state store: --store, else bbolt in
// --data-dir, or memory when that is "" (the demo).
func openStore(ctx context.Context, f serveFlags, log *slog.Logger) (store.Store, error) {
	if f.store == "" {
		if f.dataDir == "" {
			return store.NewMemory(), nil
		}
		return openBolt(f.dataDir, log)
	}
	loc, err := store.ParseURL(f.store)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	if loc.Scheme == "bolt" {
		return openBolt(loc.Dir, log)
	}
	log.Info("store: connecting to zookeeper", "store", loc.String())
	st, err := store.OpenLocation(ctx, loc, log)
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", loc, err)
	}
	snap, err := st.Snapshot(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("--store %s: %w", loc, err)
	}
	log.Info("store: zookeeper", "store", loc.String(), "gateways", len(snap.Entries), "store_version", snap.Version)
	return st, nil
}

// openBolt opens the bbolt store in dir. A damaged store stops the start
// with what to do.
func openBolt(dir string, log *slog.Logger) (store.Store, error) {
	st, err := store.Open(dir)
	if errors.Is(err, store.ErrDamaged) {
		return nil, fmt.Errorf("%w\nturnout does not start on a damaged store (nothing was changed); %s", err, damageAdvice(dir, true))
	}
	if err != nil {
		return nil, err
	}
	o := st.Opened()
	switch {
	case o.Created:
		log.Info("store created: no store file in the data dir, starting empty", "path", st.Path())
	case o.Migrated:
		log.Info("store checked and migrated: every revision has a checksum now", "path", st.Path(), "revisions", o.Check.Revisions)
	default:
		log.Info("store checked", "path", st.Path(), "gateways", o.Check.Gateways, "revisions", o.Check.Revisions, "store_version", o.Check.Version)
	}
	if o.Check != nil {
		for _, w := range o.Check.Warnings {
			log.Warn("store: "+w, "path", st.Path())
		}
	}
	return st, nil
}

// firstResolutionWait bounds how long the first table waits for the
// backend plugins' first snapshots (a plugin that hangs must not keep the
// other gateways down).
const firstResolutionWait = 10 * time.Second

// firstTable seeds the store from the file (or the demo's example) and puts
// what the store then holds in service, so that a gateway that cannot be
// served (a port taken) stops the start with its error. It returns the
// store version in service. The ports are bound once the backend plugins
// gave their first word on every target (firstResolutionWait at most).
func firstTable(ctx context.Context, f serveFlags, st store.Store, eng *engine.Engine, apply filesource.Apply) (int64, error) {
	switch {
	case f.file != "":
		if err := filesource.Load(f.file, apply); err != nil {
			return 0, err
		}
	case f.demo:
		gws, err := gateway.Decode(defaultGateways, "built-in example")
		if err == nil {
			err = apply(gws)
		}
		if err != nil {
			return 0, err
		}
	}
	snap, err := st.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	gws, err := engine.Decode(snap)
	if err != nil {
		return 0, err
	}
	// Ports are bound with the first table: a route whose plugin has not
	// answered yet would take its requests with a 503.
	if waiting := eng.AwaitFirstResolutions(ctx, gws, firstResolutionWait); len(waiting) > 0 {
		slog.Warn("backend plugins gave no first resolution in time; their routes are held until they do",
			"wait", firstResolutionWait, "targets", fmt.Sprint(waiting))
	}
	err = eng.SetVersion(gws, snap.Version)
	if errors.Is(err, engine.ErrNotServed) {
		// A stored gateway whose port another process holds: serve, so that
		// /readyz can say why the task is not ready (and Marathon holds an
		// upgrade), and retry until the port is free.
		slog.Error("desired state not in service at start; turnout serves and retries, /readyz says why", "store_version", snap.Version, "err", err)
		return snap.Version, nil
	}
	return snap.Version, err
}

// ready is /readyz: this agent in sync with the store (with ZooKeeper:
// it has a session and has read the whole state since it got it), every
// gateway of the store in service, and the engine on the store's latest
// version. A stale agent is not ready (503), though it serves: readiness
// gates deployments (Marathon holds an upgrade on it), and an agent that
// cannot read the desired state cannot say it serves it; liveness
// (/healthz) stays 200, as restarting would not bring ZooKeeper back.
func ready(eng *engine.Engine, st store.Store, staleSince func() (time.Time, bool)) error {
	if since, stale := staleSince(); stale {
		return fmt.Errorf("stale since %s (%s): no ZooKeeper session; serving store version %d, the last read; writes are refused (503) until it is back",
			since.UTC().Format(time.RFC3339), time.Since(since).Round(time.Second), eng.Version())
	}
	if err := eng.Ready(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	snap, err := st.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("reading the desired state: %w", err)
	}
	if v := eng.Version(); v < snap.Version {
		return fmt.Errorf("store version %d not in service yet (serving version %d)", snap.Version, v)
	}
	return nil
}

// staleStatus is GET /cluster marked stale while the store is: the agents
// as the election still sees them if it can, else (no session) this agent
// alone, with the store version it serves. It answers, rather than 503,
// so that an operator can see what an agent cut off serves.
func staleStatus(status func(context.Context) (cluster.Status, error), staleSince func() (time.Time, bool), self func() cluster.Info) func(context.Context) (cluster.Status, error) {
	return func(ctx context.Context) (cluster.Status, error) {
		since, stale := staleSince()
		if !stale {
			return status(ctx)
		}
		st, err := status(ctx)
		if err != nil {
			if !errors.Is(err, store.ErrUnavailable) {
				return st, err
			}
			return cluster.CutOff(self(), since), nil
		}
		since = since.UTC()
		st.Stale, st.StaleSince = true, &since
		return st, nil
	}
}

func newLogger(level, format string) (*slog.Logger, error) {
	// Named here rather than by slog, whose error lists no valid value.
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	l, ok := levels[strings.ToLower(level)]
	if !ok {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: l, ReplaceAttr: readableDurations}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return nil, usageErrorf("--log-format %q: want text or json", format)
}

// parseResolve reads --resolve HOST:PORT=ADDR[,ADDR...] pins.
func parseResolve(specs []string) (map[string][]string, error) {
	pins := map[string][]string{}
	for _, s := range specs {
		target, addrs, ok := strings.Cut(s, "=")
		if _, _, err := net.SplitHostPort(target); !ok || err != nil || addrs == "" {
			return nil, fmt.Errorf("--resolve %q: want HOST:PORT=ADDR[,ADDR...]", s)
		}
		for _, a := range strings.Split(addrs, ",") {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("--resolve %q: address %q: %w", s, a, err)
			}
			pins[target] = append(pins[target], a)
		}
	}
	return pins, nil
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("--port-range %q: want FIRST-LAST, e.g. 8000-9999", s)
	}
	return lo, hi, nil
}

// limitsFromEnv reads TURNOUT_MAX_ROUTES_PER_GATEWAY and
// TURNOUT_MAX_GATEWAYS for the flags not given, and refuses negative
// limits.
func limitsFromEnv(cmd *cobra.Command, l *engine.Limits) error {
	for _, v := range []struct {
		flag, env string
		n         *int
	}{
		{"max-routes-per-gateway", "TURNOUT_MAX_ROUTES_PER_GATEWAY", &l.MaxRoutesPerGateway},
		{"max-gateways", "TURNOUT_MAX_GATEWAYS", &l.MaxGateways},
	} {
		if s := os.Getenv(v.env); s != "" && !cmd.Flags().Changed(v.flag) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%s=%q: want a whole number (0 for no limit): %w", v.env, s, err)
			}
			*v.n = n
		}
		if *v.n < 0 {
			return fmt.Errorf("--%s %d: want 0 (no limit) or more", v.flag, *v.n)
		}
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseNotify reads --notify's FORMAT=URL receivers, and TURNOUT_NOTIFY's
// comma-separated ones when the flag is not given.
func parseNotify(flags []string) ([]gateway.Notify, error) {
	if len(flags) == 0 {
		if env := os.Getenv("TURNOUT_NOTIFY"); env != "" {
			flags = strings.Split(env, ",")
		}
	}
	var out []gateway.Notify
	for _, f := range flags {
		format, u, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, fmt.Errorf("--notify %q: want FORMAT=URL, like slack=https://hooks.slack.com/services/T/B/X", f)
		}
		n, err := gateway.ParseNotify(format, u)
		if err != nil {
			return nil, fmt.Errorf("--notify: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
}
