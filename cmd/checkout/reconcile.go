package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/reconciliation"
)

// exitDifferences is reconcile's exit code when the run left differences
// open: the day is reconciled, and someone should look.
const exitDifferences = 3

// reconcile is `checkout reconcile -store ID [-merchant ID] [-date
// YYYY-MM-DD]`: one store's gateway day reconciled now, with the service's
// configuration (environment, or the flags that mirror it). It prints one
// line and exits 0 when nothing is left open, 3 when differences are open,
// 1 when it could not run and 2 for bad arguments or configuration.
func reconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeID := fs.String("store", "", "the store to reconcile (its id in the merchants file)")
	merchantID := fs.String("merchant", "", "the store's merchant, when several merchants have a store of that id")
	date := fs.String("date", "", "the gateway day, YYYY-MM-DD in UTC+8 (default: yesterday)")
	lookup := settingFlags(fs, getenv)
	if refuseSecretFlags(args, stderr) {
		return exitUsage
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage:\n  checkout reconcile -store ID [-merchant ID] [-date YYYY-MM-DD] [service flags]\n\n"+
			"Reconciles one store's gateway day (UTC+8) with the gateway's order list, with the service's\n"+
			"configuration, and prints one line. Exit 0: nothing open; 3: differences open; 1: could not\n"+
			"run; 2: bad arguments or configuration.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *storeID == "" {
		fmt.Fprintln(stderr, "checkout reconcile: -store is required (and nothing else after the flags)")
		return exitUsage
	}
	settings, err := config.FromEnv(lookup)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if settings.Demo() || settings.Redis == nil {
		fmt.Fprintln(stderr, "checkout reconcile: needs CHECKOUT_CONFIG and REDIS_URL, the service's own data; "+
			"in demo mode the data lives inside the serving process: use POST /v1/reconciliations there")
		return exitUsage
	}
	merchants, err := config.LoadMerchants(settings.ConfigPath, config.Options{Getenv: lookup, AllowPrivateWebhooks: settings.AllowPrivateWebhooks})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	mid, err := storeOwner(merchants.Directory, *merchantID, *storeID)
	if err != nil {
		fmt.Fprintf(stderr, "checkout reconcile: %v\n", err)
		return exitUsage
	}
	if *date == "" {
		*date = time.Now().In(gateway.ChinaTime()).AddDate(0, 0, -1).Format("2006-01-02")
	}
	if _, err := reconciliation.ParseDate(*date); err != nil {
		fmt.Fprintf(stderr, "checkout reconcile: -date %q is not YYYY-MM-DD\n", *date)
		return exitUsage
	}

	log := newLogger(stderr, settings.LogLevel)
	rdb, closeRedis, err := openRedis(ctx, settings, log)
	if err != nil {
		fmt.Fprintf(stderr, "checkout reconcile: %v\n", err)
		return exitFailed
	}
	defer closeRedis()
	a, err := app.New(app.Config{Settings: settings, Redis: rdb, Directory: merchants.Directory, Accounts: merchants.Accounts, Providers: merchants.Providers, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "checkout reconcile: %v\n", err)
		return exitFailed
	}
	r, err := a.Reconciliation.Reconcile(ctx, mid, *storeID, *date)
	switch {
	case errors.Is(err, reconciliation.ErrInvalid):
		fmt.Fprintf(stderr, "checkout reconcile: %v\n", err)
		return exitUsage
	case errors.Is(err, reconciliation.ErrBusy):
		fmt.Fprintf(stderr, "checkout reconcile: store %s's %s is being reconciled by another process; try again shortly\n", *storeID, *date)
		return exitFailed
	case err != nil:
		fmt.Fprintf(stderr, "checkout reconcile: %v\n", err)
		return exitFailed
	}
	explained := 0 // of the acknowledged: those acknowledged from the start
	for _, d := range r.Differences {
		if d.Explained && d.Status == reconciliation.StatusAcknowledged {
			explained++
		}
	}
	// Numbers sent moments before the run (today so far) are not judged
	// yet: said only when there are some, so a whole past day's line is
	// as it always was.
	inFlight := ""
	if r.InFlight > 0 {
		inFlight = fmt.Sprintf("; %d sent in the last %s, not judged yet", r.InFlight, reconciliation.InFlight)
	}
	fmt.Fprintf(stdout, "reconciliation %s: store %s %s: %d gateway orders (%d payments, %d refunds), %d sent; "+
		"%d open, %d auto-fixed, %d explained, %d acknowledged, %d resolved%s\n",
		r.ID, r.StoreID, r.Date, r.Gateway.Payments+r.Gateway.Refunds, r.Gateway.Payments, r.Gateway.Refunds, r.Sent,
		r.Counts.Open, r.Counts.AutoFixed, explained, r.Counts.Acknowledged-explained, r.Counts.Resolved, inFlight)
	if r.Counts.Open > 0 {
		return exitDifferences
	}
	return exitOK
}

// storeOwner finds the merchant of store storeID (of merchantID when given).
func storeOwner(dir *checkout.Directory, merchantID, storeID string) (string, error) {
	var owners []string
	for _, m := range dir.Merchants() {
		if merchantID != "" && m.ID != merchantID {
			continue
		}
		if _, ok := m.Store(storeID); ok {
			owners = append(owners, m.ID)
		}
	}
	switch len(owners) {
	case 0:
		return "", fmt.Errorf("no store %q in the merchants file", storeID)
	case 1:
		return owners[0], nil
	}
	return "", fmt.Errorf("merchants %v all have a store %q: add -merchant", owners, storeID)
}
