package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/client"
	cwebhook "github.com/wallet-checkout/checkout/client/webhook"
)

// listenKeyVar is where `checkout listen` reads the API key; without it, the
// key is read from standard input. Never a flag: a flag shows in the
// process list and the shell's history.
const listenKeyVar = "CHECKOUT_API_KEY"

// listenAnswerShown is how much of the local endpoint's answer a delivery
// line shows.
const listenAnswerShown = 60

// listenOptions is what `checkout listen` was asked to do.
type listenOptions struct {
	API          string
	APIKey       string
	ForwardTo    string
	Since        string
	Replay       string
	CheckForgery bool
	// CacheDir holds the cursor and the local secret.
	CacheDir string
	// Retries is how many times a failed local delivery is tried again,
	// after RetryWait, doubling.
	Retries   int
	RetryWait time.Duration
	// Timeout bounds one local delivery.
	Timeout time.Duration
	// IdleTimeout ends a stream that went silent (client.StreamParams).
	IdleTimeout time.Duration
}

// listenCmd is `checkout listen --forward-to URL`: it follows the
// merchant's events (GET /v1/events/stream), re-signs each with a local
// secret and POSTs it to URL, one line per delivery. Exit 0 on an
// interrupt (or a replay or forgery check that passed), 1 on a failure,
// 2 on bad arguments.
func listenCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o listenOptions
	fs.StringVar(&o.ForwardTo, "forward-to", "", "the local URL to POST each event to, e.g. http://localhost:3000/hooks (required)")
	fs.StringVar(&o.API, "api", "http://localhost:8080", "the checkout service's base URL")
	fs.StringVar(&o.Since, "since", "", "start after this event id (evt_…), or this long ago (1h, 30m), or at this RFC 3339 time; default: where the last run stopped, else new events only")
	fs.StringVar(&o.Replay, "replay", "", "forward this one event (evt_…) and exit")
	fs.BoolVar(&o.CheckForgery, "check-forgery", false, "send one event with a wrong signature and exit non-zero if the endpoint accepts it (2xx)")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "where the cursor and the local secret are kept (default: the user cache directory's checkout-listen)")
	fs.IntVar(&o.Retries, "retries", 3, "how many times a failed local delivery is retried before moving on")
	fs.DurationVar(&o.RetryWait, "retry-wait", time.Second, "the first wait before a retry (doubled each time)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "the timeout of one local delivery")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage:
  %[1]s=sk_test_… checkout listen --forward-to http://localhost:3000/hooks [flags]
  checkout listen --forward-to URL < key.txt

Follows your events (GET /v1/events/stream), signs each with a local webhook
secret (printed at start, kept in the cache directory) the way the service
signs its deliveries, and POSTs it to the URL: one line per delivery. It
resumes after the last event it forwarded when restarted or reconnected.
The API key comes from %[1]s or, without it, the first line of standard
input; never from a flag.

Flags:
`, listenKeyVar)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 || o.ForwardTo == "" {
		fmt.Fprintln(stderr, "checkout listen: --forward-to URL is required (and nothing else after the flags)")
		return exitUsage
	}
	if u, err := url.Parse(o.ForwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "checkout listen: --forward-to %q is not an http(s) URL\n", o.ForwardTo)
		return exitUsage
	}
	if o.Retries < 0 || o.RetryWait <= 0 || o.Timeout <= 0 {
		fmt.Fprintln(stderr, "checkout listen: --retries must be 0 or more, --retry-wait and --timeout positive")
		return exitUsage
	}
	if f, ok := stdin.(*os.File); ok && getenv(listenKeyVar) == "" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(stderr, "API key (or set %s): ", listenKeyVar)
		}
	}
	key, err := listenKey(getenv, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "checkout listen: %v\n", err)
		return exitUsage
	}
	o.APIKey = key
	if o.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(stderr, "checkout listen: no cache directory (%v): give --cache-dir\n", err)
			return exitUsage
		}
		o.CacheDir = filepath.Join(dir, "checkout-listen")
	}
	l, err := newListener(o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "checkout listen: %v\n", err)
		return exitUsage
	}
	return l.run(ctx)
}

// listenKey reads the API key from the environment, else from the first
// line of stdin.
func listenKey(getenv func(string) string, stdin io.Reader) (string, error) {
	if k := strings.TrimSpace(getenv(listenKeyVar)); k != "" {
		return k, nil
	}
	if stdin == nil {
		return "", fmt.Errorf("no API key: set %s or pipe the key on standard input", listenKeyVar)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the API key from standard input: %w", err)
	}
	if k := strings.TrimSpace(line); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("no API key: set %s or pipe the key on standard input", listenKeyVar)
}

// listener forwards events to the local endpoint.
type listener struct {
	o      listenOptions
	api    *client.Client
	local  *http.Client
	secret string
	cursor string // the cursor file
	out    io.Writer
	errOut io.Writer
}

func newListener(o listenOptions, stdout, stderr io.Writer) (*listener, error) {
	api, err := client.New(o.API, o.APIKey, client.WithUserAgent("checkout-listen"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	u, _ := url.Parse(o.API)
	// One cursor and secret per service and key: two merchants (or a
	// test and a live key) on one service never share a cursor. The key
	// is in the name only as a short hash.
	sum := sha256.Sum256([]byte(o.APIKey))
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, u.Host) + "-" + hex.EncodeToString(sum[:6])
	l := &listener{o: o, api: api, out: stdout, errOut: stderr,
		local:  &http.Client{Timeout: o.Timeout},
		cursor: filepath.Join(o.CacheDir, name+".cursor")}
	if l.secret, err = localSecret(filepath.Join(o.CacheDir, name+".secret")); err != nil {
		return nil, err
	}
	return l, nil
}

// localSecret reads the local webhook secret, or makes and keeps one, so
// that the endpoint's configuration survives a restart of listen.
func localSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "whsec_") && len(s) > 20 {
			return s, nil
		}
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := "whsec_" + hex.EncodeToString(b[:])
	if err := writeFileAtomic(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping the local secret: %w", err)
	}
	return s, nil
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a crash leaves the old content or the new, never half.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func (l *listener) run(ctx context.Context) int {
	switch {
	case l.o.CheckForgery:
		return l.checkForgery(ctx)
	case l.o.Replay != "":
		return l.replay(ctx)
	}
	start, err := l.start()
	if err != nil {
		fmt.Fprintf(l.errOut, "checkout listen: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(l.out, "Forwarding events from %s to %s\n", l.o.API, l.o.ForwardTo)
	fmt.Fprintf(l.out, "Your local webhook secret is %s (verify the Checkout-Signature header with it)\n", l.secret)
	fmt.Fprintf(l.out, "Starting %s; cursor kept in %s. Ctrl-C to stop.\n", describeStart(start), l.cursor)
	params := &client.FollowParams{StreamParams: start, OnDrop: func(err error, wait time.Duration) {
		fmt.Fprintf(l.out, "stream dropped (%v); reconnecting in %v\n", err, wait.Round(time.Millisecond))
	}}
	err = l.api.FollowEvents(ctx, params, func(ev client.StreamedEvent) error {
		if delivered := l.deliver(ctx, ev.ID, ev.Type, ev.Data); !delivered && ctx.Err() != nil {
			// Interrupted before the endpoint took it: the cursor stays
			// before it, and the next run forwards it. One the endpoint
			// took moves the cursor even when a stop came meanwhile, or
			// the next run would forward it twice.
			return ctx.Err()
		}
		if err := writeFileAtomic(l.cursor, []byte(ev.ID+"\n"), 0o600); err != nil {
			return fmt.Errorf("saving the cursor: %w", err)
		}
		return nil
	})
	if ctx.Err() != nil {
		fmt.Fprintln(l.out, "stopped")
		return exitOK
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest && apiErr.Param == "Last-Event-ID" {
		if strings.HasPrefix(strings.TrimSpace(l.o.Since), "evt_") {
			// The id came from --since, not from the cursor file.
			fmt.Fprintf(l.errOut, "checkout listen: %v\n  --since %s is not one of your events still kept: choose another start (an id, 1h, or a time)\n", err, strings.TrimSpace(l.o.Since))
			return exitFailed
		}
		fmt.Fprintf(l.errOut, "checkout listen: %v\n  the event in %s is no longer kept: choose a start with --since (an id, 1h, or a time)\n", err, l.cursor)
		return exitFailed
	}
	fmt.Fprintf(l.errOut, "checkout listen: %v\n", err)
	return exitFailed
}

// start is where the stream starts: --since, else the cursor, else new
// events only.
func (l *listener) start() (client.StreamParams, error) {
	p := client.StreamParams{IdleTimeout: l.o.IdleTimeout}
	s := strings.TrimSpace(l.o.Since)
	switch {
	case strings.HasPrefix(s, "evt_"):
		p.After = s
	case s != "":
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			p.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			p.Since = t
		} else {
			return p, fmt.Errorf("--since %q is not an event id, a duration (1h) or an RFC 3339 time", s)
		}
	default:
		if b, err := os.ReadFile(l.cursor); err == nil {
			p.After = strings.TrimSpace(string(b))
		}
	}
	return p, nil
}

func describeStart(p client.StreamParams) string {
	switch {
	case p.After != "":
		return "after " + p.After
	case !p.Since.IsZero():
		return "at " + p.Since.UTC().Format(time.RFC3339)
	}
	return "with the next event"
}

// deliver forwards one event, retrying a failed delivery; it reports
// whether the endpoint took it.
func (l *listener) deliver(ctx context.Context, id, typ string, body []byte) bool {
	wait := l.o.RetryWait
	for attempt := 0; ; attempt++ {
		ok := l.post(ctx, id, typ, body, l.secret)
		if ok {
			return true
		}
		if attempt >= l.o.Retries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait *= 2
	}
	if ctx.Err() == nil {
		fmt.Fprintf(l.out, "%s  gave up after %d attempts; moving on (forward it again with --replay %s)\n", id, l.o.Retries+1, id)
	}
	return false
}

// post sends one delivery signed with secret and prints its line; true
// on a 2xx answer.
func (l *listener) post(ctx context.Context, id, typ string, body []byte, secret string) bool {
	status, answer, took, err := l.send(ctx, id, typ, body, secret)
	if err != nil {
		fmt.Fprintf(l.out, "%s  %-26s  error  %5d ms  %v\n", id, typ, took.Milliseconds(), err)
		return false
	}
	fmt.Fprintf(l.out, "%s  %-26s  %d  %5d ms  %s\n", id, typ, status, took.Milliseconds(), answer)
	return status >= 200 && status <= 299
}

// send POSTs body as the service's deliveries do: the same headers, the
// signature made with secret now.
func (l *listener) send(ctx context.Context, id, typ string, body []byte, secret string) (int, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.o.ForwardTo, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	ua := "checkout-listen"
	if version != "" {
		ua += "/" + version
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set(cwebhook.HeaderEventID, id)
	req.Header.Set(cwebhook.HeaderEventType, typ)
	req.Header.Set(cwebhook.HeaderSignature, cwebhook.SignatureHeader(time.Now(), body, []string{secret}))
	began := time.Now()
	resp, err := l.local.Do(req)
	if err != nil {
		return 0, "", time.Since(began), err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 8<<10))
	return resp.StatusCode, shown(head), time.Since(began), nil
}

// shown is the start of an answer on one line.
func shown(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if utf8.RuneCountInString(s) > listenAnswerShown {
		s = string([]rune(s)[:listenAnswerShown]) + "…"
	}
	return s
}

// replay forwards one event (its body as the events API has it) and
// exits: 0 when the endpoint took it.
func (l *listener) replay(ctx context.Context) int {
	body, err := l.api.GetEventBody(ctx, l.o.Replay)
	if err != nil {
		fmt.Fprintf(l.errOut, "checkout listen: --replay %s: %v\n", l.o.Replay, err)
		return exitFailed
	}
	var head struct{ Type string }
	_ = json.Unmarshal(body, &head)
	fmt.Fprintf(l.out, "Replaying %s to %s, signed with %s\n", l.o.Replay, l.o.ForwardTo, l.secret)
	if !l.deliver(ctx, l.o.Replay, head.Type, body) {
		return exitFailed
	}
	return exitOK
}

// checkForgery sends the latest event (or a made-up one when there is
// none) signed with a secret the endpoint cannot know: an endpoint that
// answers 2xx does not verify signatures, and anyone could make it
// believe a checkout was paid.
func (l *listener) checkForgery(ctx context.Context) int {
	id, typ := "evt_forgedforgedforgedforged", client.EventCheckoutPaid
	body := []byte(`{"id":"` + id + `","type":"checkout.paid","merchant_id":"forged","checkout_id":"co_forgedforgedforgedforged","data":{"checkout":{"id":"co_forgedforgedforgedforged","status":"paid","amount":1}}}`)
	if page, err := l.api.ListEvents(ctx, &client.EventListParams{Limit: 1}); err == nil && len(page.Data) == 1 {
		if b, err := l.api.GetEventBody(ctx, page.Data[0].ID); err == nil {
			id, typ, body = page.Data[0].ID, page.Data[0].Type, b
		}
	} else if err != nil {
		fmt.Fprintf(l.out, "(could not read your latest event, %v: sending a made-up one)\n", err)
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	wrong := "whsec_" + hex.EncodeToString(b[:])
	fmt.Fprintf(l.out, "Sending %s to %s with a WRONG signature\n", id, l.o.ForwardTo)
	status, answer, took, err := l.send(ctx, id, typ, body, wrong)
	if err != nil {
		fmt.Fprintf(l.errOut, "checkout listen: --check-forgery: the endpoint did not answer: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(l.out, "%s  %-26s  %d  %5d ms  %s\n", id, typ, status, took.Milliseconds(), answer)
	if status >= 200 && status <= 299 {
		fmt.Fprintf(l.errOut, `
!!! FORGERY ACCEPTED: %s answered %d to a delivery whose signature is wrong.
!!! It does not verify Checkout-Signature: anyone can POST it an event
!!! saying a checkout was paid. Verify every delivery (client/webhook.Verify)
!!! and answer 400 when it fails.
`, l.o.ForwardTo, status)
		return exitFailed
	}
	fmt.Fprintf(l.out, "ok: the endpoint refused the forged delivery (%d)\n", status)
	return exitOK
}
