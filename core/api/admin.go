// Package api serves Turnout's admin listener: health, Prometheus metrics,
// the gateway REST API and (optionally) profiling. It never shares a port
// with a gateway.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure the admin server.
type Options struct {
	Addr     string
	Registry *prometheus.Registry
	// Ready reports whether the desired state is in service; /readyz
	// answers 503 with the reason when it is not (/healthz still 200).
	Ready func() error
	// Warnings are problems that do not make the agent unready (a gateway
	// in service on a port Marathon-LB binds, say): /readyz and /healthz
	// name them, one "warning: ..." line each, and keep their status.
	Warnings func() []string
	// Pprof exposes /debug/pprof/ for profiling under load.
	Pprof  bool
	Logger *slog.Logger
	// API, if set, is mounted at /api/v1/ (see NewGatewayAPI): the REST
	// API lives on the admin listener only, never on a gateway port.
	API http.Handler
	// Token, if set, is required on every call but /healthz, /readyz and
	// /metrics; changes made with it are signed "token".
	Token string
	// Tokens are named tokens, any of which is taken as Token is; changes
	// made with one are signed with its name.
	Tokens []NamedToken
	// ReadTimeout bounds reading a request, headers and body (default 30s;
	// headers alone get a third of it): slow clients are cut off.
	ReadTimeout time.Duration
	// TLS, if set, serves HTTPS with its certificates instead of HTTP.
	TLS *tls.Config
	// Console, if set, serves the web console at / and /console/ (see
	// package console); it shadows no other path.
	Console http.Handler
	// Open says that no token guards a listener others can reach
	// (--insecure-admin): /healthz says so, where operators look.
	Open bool
}

// Server is the running admin listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Start binds the admin address and serves it in the background.
func Start(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	// /healthz is liveness: the data plane serves (the last good table),
	// even when the last change could not be put in service; restarting
	// would not fix that, and a health check that fails kills the task.
	// /readyz says whether the desired state is all in service.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				fmt.Fprintf(w, "ok (degraded: %v)\n", err)
				openWarning(w, o.Open)
				warnings(w, o.Warnings)
				return
			}
		}
		fmt.Fprintln(w, "ok")
		openWarning(w, o.Open)
		warnings(w, o.Warnings)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err.Error())
				warnings(w, o.Warnings)
				return
			}
		}
		fmt.Fprintln(w, "ok")
		warnings(w, o.Warnings)
	})
	if o.API != nil {
		mux.Handle("/api/v1/", o.API)
	}
	if o.Console != nil {
		mux.Handle("GET /{$}", o.Console)
		mux.Handle("GET /console/", o.Console)
	}
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	readTimeout := o.ReadTimeout
	if readTimeout == 0 {
		readTimeout = 30 * time.Second
	}
	var h http.Handler = mux
	tokens := o.Tokens
	if o.Token != "" {
		tokens = append([]NamedToken{{Name: AuthorToken, Secret: o.Token}}, tokens...)
	}
	if len(tokens) > 0 {
		h = requireToken(tokens, mux)
	}
	// Closed on Shutdown: event streams end instead of holding it.
	shutdown := make(chan struct{})
	s := &Server{ln: ln, srv: &http.Server{
		Handler: h,
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), shutdownKey{}, shutdown)
		},
		// Slow clients are cut off; a 30s CPU profile still fits.
		ReadHeaderTimeout: readTimeout / 3,
		ReadTimeout:       readTimeout,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}}
	var once sync.Once
	s.srv.RegisterOnShutdown(func() { once.Do(func() { close(shutdown) }) })
	serve := s.srv.Serve
	if o.TLS != nil {
		// ServeTLS adds h2 and http/1.1 to the config's ALPN protocols;
		// the certificates are in the config, so no file names.
		s.srv.TLSConfig = o.TLS
		serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
	}
	go func() {
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("admin listener stopped", "err", err)
		}
	}()
	return s, nil
}

// openWarning is /healthz's second line when no token guards an admin
// listener others can reach.
func openWarning(w io.Writer, open bool) {
	if open {
		fmt.Fprintln(w, "warning: no token guards this admin API (--insecure-admin): anyone who reaches it can change every gateway")
	}
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the admin server.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// warnings writes one "warning: ..." line for each of what ws returns.
func warnings(w http.ResponseWriter, ws func() []string) {
	if ws == nil {
		return
	}
	for _, s := range ws() {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}
