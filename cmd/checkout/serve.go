package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/metrics"
)

// Server timeouts. There is no WriteTimeout: the result page's status stream
// stays open for minutes; handlers bound their own work instead.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout is how long in-flight requests get after SIGTERM.
	shutdownTimeout = 15 * time.Second
	// streamGrace is when, during a shutdown, the requests still running
	// (long-lived ones, such as a status stream over HTTP/2) have their
	// context cancelled. A status stream over HTTP/1.x has taken its
	// connection over from the server (handlers/pay_streams_held.go): it
	// ends when the loops stop (the Hub's end), right after the server's
	// shutdown.
	streamGrace = 5 * time.Second
	// loopStopTimeout bounds the wait for the background loops at exit.
	loopStopTimeout = 2 * time.Second
)

// serve runs the service until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, getenv func(string) string, addrFile string, stdout, stderr io.Writer) int {
	settings, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	log := newLogger(stderr, settings.LogLevel)
	if settings.Generated {
		log.Info("Session keys and signing secret generated for this process (demo mode): payer sessions end when it stops")
	}

	// Read the merchants file before anything listens or connects, so that a
	// bad file stops the start with its one message and nothing else.
	var merchants *config.Merchants
	if !settings.Demo() {
		merchants, err = config.LoadMerchants(settings.ConfigPath, config.Options{Getenv: getenv, AllowPrivateWebhooks: settings.AllowPrivateWebhooks})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
	}

	// What runs, first (after a bad merchants file's one line, which stops
	// the start before anything else is said).
	ver, rev := buildVersion()
	log.Info("Starting", "version", ver, "commit", rev, "go", runtime.Version())

	ln, err := net.Listen("tcp", settings.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "checkout: listen on %s: %v\n", settings.Addr, err)
		return exitFailed
	}
	defer ln.Close()
	bound := ln.Addr().String()
	if !settings.PublicURLSet {
		settings.PublicURL = config.DerivePublicURL(bound)
	}
	// The admin listener, when asked for, is bound before anything
	// connects too: a taken port stops the start naming the setting.
	var adminLn net.Listener
	if settings.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", settings.AdminAddr); err != nil {
			fmt.Fprintf(stderr, "checkout: CHECKOUT_ADMIN_ADDR: listen on %s: %v\n", settings.AdminAddr, err)
			return exitFailed
		}
		defer adminLn.Close()
	}

	rdb, closeRedis, err := openRedis(ctx, settings, log)
	if err != nil {
		fmt.Fprintf(stderr, "checkout: %v\n", err)
		return exitFailed
	}
	defer closeRedis()

	// draining turns /readyz (public and admin) to 503 as soon as a
	// shutdown starts, a drain pause before the public port stops
	// accepting (CHECKOUT_DRAIN_PAUSE).
	var draining atomic.Bool
	cfg := app.Config{Settings: settings, Redis: rdb, Logger: log, Draining: draining.Load}
	if adminLn != nil {
		cfg.Metrics = metrics.New(metrics.Options{Version: ver, Commit: rev, MerchantLabel: settings.MetricsMerchantLabel})
	}
	var demo *demoSetup
	if settings.Demo() {
		// The demo's merchant is the developer running it: its webhooks
		// go to their own machine (a checkout's webhook_url on
		// localhost), as CHECKOUT_ALLOW_PRIVATE_WEBHOOKS allows.
		settings.AllowPrivateWebhooks = true
		demo, err = newDemo(settings.PublicURL, log)
		if err != nil {
			fmt.Fprintf(stderr, "checkout: demo mode: %v\n", err)
			return exitFailed
		}
		defer demo.Close()
		cfg.Directory, cfg.Accounts, cfg.Providers, cfg.Sandbox, cfg.WalletSim = demo.Directory, demo.Accounts, demo.Providers, demo.Sandbox, demo.Sim
	} else {
		cfg.Directory, cfg.Accounts, cfg.Providers = merchants.Directory, merchants.Accounts, merchants.Providers
	}
	a, err := app.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "checkout: %v\n", err)
		return exitFailed
	}
	if settings.Redis != nil {
		// Data of an earlier key layout moves before any loop reads the
		// new one (an embedded Redis starts empty).
		moved, err := a.Migrate(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "checkout: move data to the sharded key layout: %v\n", err)
			return exitFailed
		}
		if moved != (app.Migration{}) {
			log.Info("Moved data to the sharded key layout", "expiry_entries", moved.Expiry, "watch_entries", moved.Watch, "webhook_events", moved.Events, "status_indexed", moved.StatusIndexed)
		}
	}

	// Requests keep their context through the first part of a shutdown, so
	// that API calls in flight finish; requests still running after
	// streamGrace (long-lived streams) are ended by cancelling it.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}

	// SIGHUP reloads the merchants file from here on (before this, the
	// default action would end the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, a, settings, getenv, merchants, log)

	if demo != nil {
		if err := demo.Start(ctx, a.Repo, settings, settings.Redis == nil, stdout); err != nil {
			fmt.Fprintf(stderr, "checkout: demo mode: %v\n", err)
			return exitFailed
		}
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(bound), 0o644); err != nil {
			fmt.Fprintf(stderr, "checkout: -addr-file: %v\n", err)
			return exitFailed
		}
	}

	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	waitLoops := a.Start(loopCtx)
	defer func() {
		stopLoops()
		done := make(chan struct{})
		go func() { waitLoops(); close(done) }()
		select {
		case <-done:
		case <-time.After(loopStopTimeout):
			// A loop blocked in a Redis read (the hub's subscription) ends
			// when Redis is closed, which comes next.
			log.Debug("Background loops still stopping; closing Redis under them")
		}
	}()

	if adminLn != nil {
		admin := &http.Server{
			Handler:           a.Admin(draining.Load),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		// No WriteTimeout: a CPU profile or a trace takes as long as asked.
		go func() {
			if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("Admin listener stopped", "error", err)
			}
		}()
		// Closed after the public server's shutdown: the metrics and
		// /readyz stay readable while requests drain.
		defer admin.Close()
		log.Info("Admin listening", "addr", adminLn.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("Listening", "addr", bound, "public_url", settings.PublicURL, "demo", settings.Demo(), "settings", settings)

	select {
	case err := <-served:
		log.Error("Server stopped", "error", err)
		return exitFailed
	case <-ctx.Done():
	}
	draining.Store(true)
	if settings.DrainPause > 0 {
		// Still serving everything, /readyz at 503: the balancer's probes
		// take the replica out before its port refuses connections.
		log.Info("Draining", "pause", settings.DrainPause.String())
		time.Sleep(settings.DrainPause)
	}
	log.Info("Shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	grace := time.AfterFunc(streamGrace, cancelRequests)
	defer grace.Stop()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("Shutdown incomplete; closing remaining connections", "error", err)
		_ = srv.Close()
		return exitFailed
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("Server stopped", "error", err)
		return exitFailed
	}
	log.Info("Stopped")
	return exitOK
}

// reloadOnHUP reads the merchants file again at each signal on hup until
// ctx ends, and swaps it in when it is valid. A bad file keeps the running
// configuration and logs one line naming the field (config.Error's path),
// never a secret. In demo mode there is no file: the signal is only logged.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, a *app.App, settings *config.Settings, getenv func(string) string, running *config.Merchants, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if settings.Demo() {
			log.Warn("SIGHUP ignored: demo mode has no merchants file to reload")
			continue
		}
		m, err := config.LoadMerchants(settings.ConfigPath, config.Options{
			Getenv: getenv, AllowPrivateWebhooks: settings.AllowPrivateWebhooks,
			EmulatorKey: running.Providers.EmulatorAlipayKey,
		})
		if err == nil {
			err = a.Reload(m)
		}
		if err != nil {
			log.Error("Merchants file not reloaded; the running configuration is kept", "file", settings.ConfigPath, "error", err.Error())
			continue
		}
		log.Info("Merchants file reloaded", "file", settings.ConfigPath, "merchants", len(m.Merchants))
	}
}

// newLogger logs text to a terminal and JSON elsewhere (containers, files),
// where log collectors parse it.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts))
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
