// Command checkout is the hosted checkout service: one binary that serves the
// merchant API, the payer pages and the gateway callbacks, configured by
// environment variables (or the flags that mirror them) and a merchants file.
//
// Usage:
//
//	checkout [flags]             serve (demo mode without CHECKOUT_CONFIG)
//	checkout sandbox [flags]     run the sandbox gateway on its own
//	checkout hash-key < key.txt  print the sha256:… line the merchants file stores
//	checkout hash-password       read a console password on stdin, print its argon2id hash
//	checkout totp-new EMAIL      print a console user's new TOTP secret, URI and QR
//	checkout reconcile -store ID [-date YYYY-MM-DD]   reconcile a store's day with the gateway
//	checkout doctor [-fix] [-public-check]   check the configuration before a payer does
//	checkout listen --forward-to URL   forward your events, re-signed, to a local URL
//	checkout -healthcheck        GET /healthz of a running service (for containers)
//	checkout -version            print the version and commit it was built from
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

func main() {
	redis.SetLogger(&redisLog)
	// gin's mode is process-wide, so the process sets it, here and once: its
	// default debug mode prints every route to stdout, and the service logs
	// with slog. GIN_MODE, which gin reads itself, still wins.
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts the graceful shutdown, a second one
		// kills the process the default way.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Exit codes of run.
const (
	exitOK     = 0
	exitFailed = 1 // the service could not start or stopped on an error
	exitUsage  = 2 // bad flags, arguments or configuration
)

// run is the whole program; main only supplies the process's context,
// arguments, environment and output so that tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "sandbox":
			return sandbox.Main(ctx, args[1:], stdout, stderr)
		case "hash-key":
			return hashKey(args[1:], os.Stdin, stdout, stderr)
		case "hash-password":
			return hashPassword(args[1:], os.Stdin, stdout, stderr)
		case "totp-new":
			return totpNew(args[1:], stdout, stderr)
		case "reconcile":
			return reconcile(ctx, args[1:], getenv, stdout, stderr)
		case "doctor":
			return doctor(ctx, args[1:], getenv, stdout, stderr)
		case "listen":
			return listenCmd(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
		}
	}

	fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, stderr) }
	lookup := settingFlags(fs, getenv)
	if refuseSecretFlags(args, stderr) {
		return exitUsage
	}
	healthcheck := fs.Bool("healthcheck", false, "check that the service listening on -addr answers /healthz, then exit (0 healthy, 1 not)")
	showVersion := fs.Bool("version", false, "print the version, the commit and the Go release, then exit")
	addrFile := fs.String("addr-file", "", "once listening, write the bound address (host:port) to this file; with -addr 127.0.0.1:0 scripts and tests learn the port")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "checkout: unknown command %q (want sandbox, hash-key, hash-password, totp-new, reconcile, doctor, listen, or flags only)\n", fs.Arg(0))
		return exitUsage
	}

	if *showVersion {
		fmt.Fprintln(stdout, buildVersionLine())
		return exitOK
	}
	if *healthcheck {
		return healthCheck(ctx, lookup, stderr)
	}
	return serve(ctx, lookup, *addrFile, stdout, stderr)
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `Usage:
  checkout [flags]            serve the checkout (demo mode without CHECKOUT_CONFIG)
  checkout sandbox [flags]    run the sandbox gateway on its own (checkout sandbox -h)
  checkout hash-key < key.txt print the sha256:… line to put in the merchants file (the key on
                              standard input, where the process list does not show it)
  checkout hash-password      read a console user's password (typed, or one line on stdin)
                              and print the $argon2id$… hash for the merchants file
  checkout totp-new EMAIL     print a console user's new TOTP secret, its otpauth:// URI
                              and a QR code to scan with an authenticator app
  checkout reconcile -store ID [-date YYYY-MM-DD]
                              reconcile a store's gateway day now (checkout reconcile -h)
  checkout doctor [-fix] [-public-check]
                              check the configuration against the gateway, Redis and the
                              public and webhook URLs (checkout doctor -h)
  checkout listen --forward-to http://localhost:3000/hooks
                              forward your events, re-signed, to a local URL (checkout listen -h)
  checkout -healthcheck       exit 0 when the service on -addr answers /healthz
  checkout -version           print the version and commit this binary was built from

Every flag mirrors an environment variable; a flag given wins. Secrets have
no flag and are read from the environment only, so that they never show in
the process list: `+strings.Join(secretVars(), ", ")+`.

Flags:
`)
	fs.PrintDefaults()
}

// hashKey prints the stored form of an API key. A new key is made with
// `hash-key -new` (sk_live_…) or `hash-key -new -test` (sk_test_…).
func hashKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newKey := fs.Bool("new", false, "generate a new API key, print it and its hash")
	test := fs.Bool("test", false, "with -new: a sk_test_ key for sandbox stores")
	label := fs.String("label", "", "print the api_keys entry with this label and the key's hint (prefix and last four characters), which the console shows")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage:\n  checkout hash-key < key.txt   print sha256:<hex> of the key on standard input's first line, for the merchants file's api_keys\n  checkout hash-key KEY      the same, with a warning: the key shows in the process list and shell history\n  checkout hash-key -new [-test]   make a new key and print it with its hash\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *newKey {
		if fs.NArg() != 0 {
			fs.Usage()
			return exitUsage
		}
		key, err := checkout.NewAPIKey(!*test)
		if err != nil {
			fmt.Fprintf(stderr, "checkout hash-key: %v\n", err)
			return exitFailed
		}
		if !checkout.ValidKeyLabel(*label) {
			fmt.Fprintf(stderr, "checkout hash-key: -label must be at most %d printable characters\n", checkout.MaxKeyLabelLen)
			return exitUsage
		}
		fmt.Fprintf(stdout, "key:  %s   (give it to the merchant; it is not stored anywhere)\nhash: %s\nput this in api_keys:\n  - %s\n", key, config.HashAPIKeyLine(key), keyEntry(key, *label))
		return exitOK
	}
	var key string
	switch fs.NArg() {
	case 0:
		// The key is a secret: read it from standard input, where neither
		// the process list nor the shell history sees it.
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(stderr, "checkout hash-key: the API key (sk_live_… or sk_test_…), then Enter:")
			}
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "checkout hash-key: read standard input: %v\n", err)
			return exitFailed
		}
		if key = strings.TrimSpace(line); key == "" {
			fs.Usage()
			return exitUsage
		}
	case 1:
		key = strings.TrimSpace(fs.Arg(0))
		fmt.Fprintln(stderr, "checkout hash-key: warning: the key is on the command line, where the process list and your shell history keep it; next time give it on standard input: checkout hash-key < key.txt")
	default:
		fs.Usage()
		return exitUsage
	}
	if !strings.HasPrefix(key, checkout.LiveKeyPrefix) && !strings.HasPrefix(key, checkout.TestKeyPrefix) {
		fmt.Fprintf(stderr, "checkout hash-key: an API key starts with %s or %s (make one with `checkout hash-key -new`)\n", checkout.LiveKeyPrefix, checkout.TestKeyPrefix)
		return exitUsage
	}
	if !checkout.ValidKeyLabel(*label) {
		fmt.Fprintf(stderr, "checkout hash-key: -label must be at most %d printable characters\n", checkout.MaxKeyLabelLen)
		return exitUsage
	}
	if *label != "" {
		fmt.Fprintln(stdout, keyEntry(key, *label))
		return exitOK
	}
	// The hash line alone on standard output, as scripts read it; the
	// hint, which is not a secret, beside it for people.
	fmt.Fprintln(stdout, config.HashAPIKeyLine(key))
	if hint := checkout.KeyHint(key); hint != "" {
		fmt.Fprintf(stderr, "hint: %s   (with -label NAME, hash-key prints the api_keys entry with its label and hint)\n", hint)
	}
	return exitOK
}

// keyEntry is the api_keys entry of key: its hash, its label when given,
// and its hint, as one YAML flow mapping.
func keyEntry(key, label string) string {
	s := `{hash: "` + config.HashAPIKeyLine(key) + `"`
	if label != "" {
		s += `, label: ` + strconv.Quote(label)
	}
	return s + `, hint: "` + checkout.KeyHint(key) + `"}`
}
