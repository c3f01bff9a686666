package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// Defaults of the service settings.
const (
	DefaultAddr      = ":8080"
	DefaultMaxAmount = int64(10_000_000) // fen: ¥100,000
	DefaultRetention = checkout.DefaultRetention
	// DefaultClaimLease is how long a replica's claim on background work
	// (an effect, a reconciler item) protects it before a crash is assumed.
	DefaultClaimLease = payments.DefaultEffectLease
	// DefaultWebhookRetry is the wait after a webhook's first failed
	// delivery; it doubles after each further failure.
	DefaultWebhookRetry = webhook.DefaultBackoff
	// The abuse limits (README, "Rate limits"): high enough that a real
	// shop never meets them.
	DefaultRateAPI          = "100/s:200" // per API key, on every /v1 route
	DefaultRateAuthFailures = "20/m"      // failed authentications per client address
	DefaultRatePayer        = "60/m"      // per checkout and client address, per payer action
	// DefaultStreamsMax caps the result pages' event streams open in one
	// process; beyond it pages poll instead.
	DefaultStreamsMax = 10_000
	// DefaultStreamsPerClient caps the streams from one client address:
	// generous, since carriers' NAT puts many payers behind one address,
	// and a page beyond it only polls.
	DefaultStreamsPerClient = 50
	// DefaultStreamsPerCheckout caps the streams on one checkout (a payer
	// has a tab or two open, not fifty).
	DefaultStreamsPerCheckout = 50
	// DefaultStreamReads caps the event streams' concurrent Redis reads in
	// one process: well below go-redis' pool (10 connections per CPU, 20
	// on two), so the notify intake and the merchant API keep the rest.
	DefaultStreamReads = 4
	// MinSecretLen is the shortest session key, signing secret or webhook
	// secret accepted, in bytes (`openssl rand -base64 32` prints 44).
	MinSecretLen = 32
)

// Var describes one setting: its environment variable, the flag that mirrors
// it, its default and what it does. cmd/checkout builds its flags from Vars so
// that the two never drift apart.
type Var struct {
	Env     string
	Flag    string // empty: deliberately no flag (secrets do not belong in ps output)
	Default string
	Usage   string
	// Bool marks an on/off setting: its flag is a boolean flag, which given
	// alone means true and never takes the next argument as its value.
	Bool bool
	// Secret marks a setting whose value is, or may carry, a secret (a
	// password in REDIS_URL): it never has a flag, since flags show in the
	// process list, and no help text prints its value.
	Secret bool
}

// Vars lists every setting read from the environment, in the order README
// documents them.
var Vars = []Var{
	{Env: "CHECKOUT_ADDR", Flag: "addr", Default: DefaultAddr, Usage: "listen address (host:port)"},
	{Env: "CHECKOUT_PUBLIC_URL", Flag: "public-url", Usage: "absolute URL payers and merchants reach the service at (default derived from the listen address, e.g. http://localhost:8080)"},
	{Env: "REDIS_URL", Secret: true, Usage: "Redis URL in go-redis's syntax for REDIS_MODE: redis://[user:pass@]host:port/db, for a cluster …?addr=host2:port2, for sentinel …?master_name=NAME&password=…; rediss:// for TLS (default: an in-process Redis whose data is lost on exit)"},
	{Env: "REDIS_MODE", Flag: "redis-mode", Default: string(RedisSingle), Usage: "Redis topology REDIS_URL names: single, cluster (Redis Cluster) or sentinel (a primary managed by Sentinels)"},
	{Env: "CHECKOUT_CONFIG", Flag: "config", Usage: "path of the merchants YAML file (default: demo mode with the sandbox gateway)"},
	{Env: "CHECKOUT_DEMO", Flag: "demo", Bool: true, Usage: "demo mode without CHECKOUT_CONFIG: unset starts it, on asks for it, off refuses to start without a merchants file (the Docker image sets off)"},
	{Env: "CHECKOUT_SESSION_KEYS", Secret: true, Usage: "comma-separated secrets (each at least 32 bytes) for payer session cookies; the first signs, all verify (required with CHECKOUT_CONFIG)"},
	{Env: "CHECKOUT_SIGNING_SECRET", Secret: true, Usage: "secret (at least 32 bytes) that signs the payer pages' CSRF tokens and OAuth states, which nothing stores (required with CHECKOUT_CONFIG)"},
	{Env: "CHECKOUT_LOG_LEVEL", Flag: "log-level", Default: "info", Usage: "log level: debug, info, warn or error"},
	{Env: "CHECKOUT_MAX_AMOUNT", Flag: "max-amount", Default: strconv.FormatInt(DefaultMaxAmount, 10), Usage: "largest checkout amount in fen, unless a merchant sets its own max_amount"},
	{Env: "CHECKOUT_RETENTION", Flag: "retention", Default: DefaultRetention.String(), Usage: "how long finished checkouts are kept (Go duration, e.g. 2160h)"},
	{Env: "CHECKOUT_ALLOW_PRIVATE_WEBHOOKS", Flag: "allow-private-webhooks", Default: "false", Bool: true, Usage: "allow webhook URLs on loopback and private networks (development only)"},
	{Env: "CHECKOUT_TRUSTED_PROXIES", Flag: "trusted-proxies", Usage: "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For gives the client IP (default none)"},
	{Env: "CHECKOUT_RATE_API", Flag: "rate-api", Default: DefaultRateAPI, Usage: "requests per API key on the merchant API, as N/s, N/m or N/h with an optional :BURST (default burst N), or off"},
	{Env: "CHECKOUT_RATE_AUTH_FAILURES", Flag: "rate-auth-failures", Default: DefaultRateAuthFailures, Usage: "failed authentications (401) per client address before it gets 429, same syntax"},
	{Env: "CHECKOUT_RATE_PAYER", Flag: "rate-payer", Default: DefaultRatePayer, Usage: "payer actions (pay, check, mini-program payment, OAuth callbacks) per checkout and client address, each action counted apart, same syntax"},
	{Env: "CHECKOUT_STREAMS_MAX", Flag: "streams-max", Default: strconv.Itoa(DefaultStreamsMax), Usage: "most result-page event streams open in this process; beyond it pages poll the status instead"},
	{Env: "CHECKOUT_STREAMS_PER_CLIENT", Flag: "streams-per-client", Default: strconv.Itoa(DefaultStreamsPerClient), Usage: "most event streams open from one client address; beyond it pages poll"},
	{Env: "CHECKOUT_STREAMS_PER_CHECKOUT", Flag: "streams-per-checkout", Default: strconv.Itoa(DefaultStreamsPerCheckout), Usage: "most event streams open on one checkout; beyond it pages poll"},
	{Env: "CHECKOUT_STREAM_READS", Flag: "stream-reads", Default: strconv.Itoa(DefaultStreamReads), Usage: "most Redis reads the event streams make at one time in this process; keep it well below the Redis pool size"},
	{Env: "CHECKOUT_CLAIM_LEASE", Flag: "claim-lease", Default: DefaultClaimLease.String(), Usage: "lease of a claim on background work (effects, reconciler items; webhook deliveries get four times it) before a crashed replica's work is taken over; for drills and tests"},
	{Env: "CHECKOUT_WEBHOOK_RETRY", Flag: "webhook-retry", Default: DefaultWebhookRetry.String(), Usage: "wait after a webhook delivery's first failure, doubling after each further one; for drills and tests"},
	{Env: "CHECKOUT_ADMIN_ADDR", Flag: "admin-addr", Usage: "listen address (host:port, e.g. 127.0.0.1:9091) of the admin listener: /metrics, /debug/pprof/, /healthz, /readyz; never the public port (default off)"},
	{Env: "CHECKOUT_DRAIN_PAUSE", Flag: "drain-pause", Default: "0s", Usage: "on SIGTERM, how long /readyz (public and admin) answers 503 while the service still serves, so that a balancer stops sending before the port closes; set it to the balancer's time to notice (probe interval times failures), e.g. 10s (default 0s: no pause)"},
	{Env: "CHECKOUT_METRICS_MERCHANT_LABEL", Flag: "metrics-merchant-label", Default: "false", Bool: true, Usage: "add a merchant_id label to the per-merchant metrics (transitions, confirmations, refunds, webhook deliveries); one series per merchant each"},
}

// Settings is the service configuration read from the environment.
type Settings struct {
	// Addr is the listen address.
	Addr string
	// PublicURL is the absolute URL of the service, without a trailing slash.
	PublicURL string
	// PublicURLSet reports whether PublicURL was given rather than derived
	// from Addr; when it was derived and Addr has port 0, the caller derives
	// it again from the bound address.
	PublicURLSet bool
	// RedisURL is empty when no Redis is configured (embedded default). It
	// may carry a password: never print it.
	RedisURL checkout.Secret
	// Redis is RedisURL parsed for REDIS_MODE; nil when RedisURL is empty.
	Redis *RedisTopology
	// ConfigPath is the merchants file; empty means demo mode.
	ConfigPath string
	// SessionKeys sign and encrypt payer session cookies; the first is
	// current, the others still decode older cookies (rotation).
	SessionKeys []checkout.Secret
	// SigningSecret signs the payer pages' CSRF tokens and the OAuth
	// state of a first visit (sessions.CSRF, sessions.OAuthStates), so
	// that a page view needs no stored session.
	SigningSecret checkout.Secret
	// Generated reports that SessionKeys and SigningSecret were generated
	// for this process (demo mode): sessions do not survive a restart.
	Generated bool
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// MaxAmount is the service-wide largest checkout amount, in fen.
	MaxAmount int64
	// Retention is how long finished checkouts are kept.
	Retention time.Duration
	// AllowPrivateWebhooks allows webhook URLs on loopback and private
	// networks.
	AllowPrivateWebhooks bool
	// TrustedProxies are the reverse proxies (IPs or CIDRs) whose
	// X-Forwarded-For is believed.
	TrustedProxies []string
	// ClaimLease is how long a claim on background work protects it from
	// other replicas before its holder is presumed dead. Shorter than the
	// default only in drills and tests: a claim must outlast the work it
	// covers, a gateway call included.
	ClaimLease time.Duration
	// WebhookRetry is the first back-off step of a failed webhook delivery.
	WebhookRetry time.Duration
	// RateAPI, RateAuthFailures and RatePayer are the abuse limits
	// (CHECKOUT_RATE_*); a zero Limit is off.
	RateAPI, RateAuthFailures, RatePayer redis_rate.Limit
	// StreamsMax, StreamsPerClient and StreamsPerCheckout cap the result
	// pages' event streams in this process: in all, per client address,
	// per checkout. Beyond a cap a page polls instead.
	StreamsMax, StreamsPerClient, StreamsPerCheckout int
	// StreamReads caps the event streams' concurrent Redis reads.
	StreamReads int
	// AdminAddr is the admin listener's address (metrics, pprof, probes);
	// empty means none.
	AdminAddr string
	// MetricsMerchantLabel adds merchant_id to the per-merchant metrics.
	MetricsMerchantLabel bool
	// DrainPause is how long a shutdown keeps serving with /readyz at 503
	// before the listener closes, for the balancer to take the replica
	// out; 0 closes at once.
	DrainPause time.Duration
}

// Demo reports whether the service runs without a merchants file: sandbox
// gateway, demo merchant, generated secrets.
func (s *Settings) Demo() bool { return s.ConfigPath == "" }

// redisDescription names the configured topology without passwords.
func (s *Settings) redisDescription() string {
	if s.Redis == nil {
		return "embedded"
	}
	return s.Redis.Describe()
}

// LogValue describes the settings without their secrets.
func (s *Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", s.Addr),
		slog.String("public_url", s.PublicURL),
		slog.Bool("redis_configured", s.Redis != nil),
		slog.String("redis", s.redisDescription()),
		slog.String("config", s.ConfigPath),
		slog.Int("session_keys", len(s.SessionKeys)),
		slog.String("log_level", s.LogLevel.String()),
		slog.Int64("max_amount", s.MaxAmount),
		slog.String("retention", s.Retention.String()),
		slog.Bool("allow_private_webhooks", s.AllowPrivateWebhooks),
		slog.Any("trusted_proxies", s.TrustedProxies),
		slog.String("claim_lease", s.ClaimLease.String()),
		slog.String("webhook_retry", s.WebhookRetry.String()),
		slog.String("rate_api", rateString(s.RateAPI)),
		slog.String("rate_auth_failures", rateString(s.RateAuthFailures)),
		slog.String("rate_payer", rateString(s.RatePayer)),
		slog.Int("streams_max", s.StreamsMax),
		slog.Int("streams_per_client", s.StreamsPerClient),
		slog.Int("streams_per_checkout", s.StreamsPerCheckout),
		slog.Int("stream_reads", s.StreamReads),
		slog.String("admin_addr", s.AdminAddr),
		slog.String("drain_pause", s.DrainPause.String()),
		slog.Bool("metrics_merchant_label", s.MetricsMerchantLabel),
	)
}

// SessionKeyPairs derives, for each session key, the hash key and the AES
// block key that gorilla/securecookie wants, in the order
// securecookie.CodecsFromPairs expects. Deriving both from one secret keeps
// the operator's job to one value per key and makes rotation one edit.
func (s *Settings) SessionKeyPairs() [][]byte {
	pairs := make([][]byte, 0, 2*len(s.SessionKeys))
	for _, k := range s.SessionKeys {
		pairs = append(pairs, derive(k, "session hash key"), derive(k, "session block key"))
	}
	return pairs
}

func derive(secret checkout.Secret, label string) []byte {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Error is a configuration error: the setting or field path that is wrong
// and why. Its text is the one line the binary prints before it stops.
type Error struct {
	// Path names the setting (CHECKOUT_ADDR) or the merchants file field
	// (merchants[0].stores[1].gateway.open_key).
	Path string
	// Msg says what is wrong, never the secret value itself.
	Msg string
}

// Error is the one-line message: "config: PATH: MSG".
func (e *Error) Error() string { return "config: " + e.Path + ": " + e.Msg }

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// FromEnv reads the settings through getenv (os.Getenv, or a flag-aware
// lookup). It returns the first invalid value as an *Error.
func FromEnv(getenv func(string) string) (*Settings, error) {
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			for _, d := range Vars {
				if d.Env == name {
					return d.Default
				}
			}
		}
		return v
	}
	s := &Settings{}

	s.Addr = get("CHECKOUT_ADDR")
	if _, port, err := net.SplitHostPort(s.Addr); err != nil {
		return nil, errorf("CHECKOUT_ADDR", "%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", s.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, errorf("CHECKOUT_ADDR", "port %q is not a number from 0 to 65535", port)
	}

	if raw := get("CHECKOUT_PUBLIC_URL"); raw != "" {
		u, err := ParsePublicURL(raw)
		if err != nil {
			return nil, errorf("CHECKOUT_PUBLIC_URL", "%v", err)
		}
		s.PublicURL, s.PublicURLSet = u, true
	} else {
		s.PublicURL = DerivePublicURL(s.Addr)
	}

	redisURL := get("REDIS_URL")
	topo, err := ParseRedis(get("REDIS_MODE"), redisURL)
	if err != nil {
		return nil, err
	}
	if topo != nil {
		s.RedisURL, s.Redis = checkout.Secret(redisURL), topo
	}

	s.ConfigPath = get("CHECKOUT_CONFIG")
	// CHECKOUT_DEMO unset keeps `go run ./cmd/checkout` a demo with nothing
	// to set; off (the image's default) makes a forgotten CHECKOUT_CONFIG
	// stop the start instead of silently serving a demo in production.
	if raw := get("CHECKOUT_DEMO"); raw != "" {
		demo, err := ParseBool(raw)
		switch {
		case err != nil:
			return nil, errorf("CHECKOUT_DEMO", "%v", err)
		case demo && s.ConfigPath != "":
			return nil, errorf("CHECKOUT_DEMO", "on, but CHECKOUT_CONFIG is set too; the demo runs without a merchants file: unset one of them")
		case !demo && s.ConfigPath == "":
			return nil, errorf("CHECKOUT_CONFIG", "required: CHECKOUT_DEMO is off (the Docker image sets it), so the demo does not start; set CHECKOUT_CONFIG to the merchants file, or CHECKOUT_DEMO=on to try the demo")
		}
	}

	if raw := get("CHECKOUT_SESSION_KEYS"); raw != "" {
		for i, k := range strings.Split(raw, ",") {
			k = strings.TrimSpace(k)
			if len(k) < MinSecretLen {
				return nil, errorf("CHECKOUT_SESSION_KEYS", "key %d is %d bytes; each key must be at least %d (generate one with `openssl rand -base64 32`)", i+1, len(k), MinSecretLen)
			}
			s.SessionKeys = append(s.SessionKeys, checkout.Secret(k))
		}
	}
	if raw := get("CHECKOUT_SIGNING_SECRET"); raw != "" {
		if len(raw) < MinSecretLen {
			return nil, errorf("CHECKOUT_SIGNING_SECRET", "is %d bytes; it must be at least %d (generate one with `openssl rand -base64 32`)", len(raw), MinSecretLen)
		}
		s.SigningSecret = checkout.Secret(raw)
	}
	switch {
	case s.Demo() && len(s.SessionKeys) == 0 && s.SigningSecret == "":
		s.SessionKeys = []checkout.Secret{randomSecret()}
		s.SigningSecret = randomSecret()
		s.Generated = true
	case s.Demo() && len(s.SessionKeys) == 0:
		s.SessionKeys = []checkout.Secret{randomSecret()}
		s.Generated = true
	case s.Demo() && s.SigningSecret == "":
		s.SigningSecret = randomSecret()
		s.Generated = true
	case len(s.SessionKeys) == 0:
		return nil, errorf("CHECKOUT_SESSION_KEYS", "required when CHECKOUT_CONFIG is set (generate one with `openssl rand -base64 32`)")
	case s.SigningSecret == "":
		return nil, errorf("CHECKOUT_SIGNING_SECRET", "required when CHECKOUT_CONFIG is set (generate one with `openssl rand -base64 32`)")
	}

	lvl := get("CHECKOUT_LOG_LEVEL")
	switch strings.ToLower(lvl) {
	case "debug":
		s.LogLevel = slog.LevelDebug
	case "info":
		s.LogLevel = slog.LevelInfo
	case "warn", "warning":
		s.LogLevel = slog.LevelWarn
	case "error":
		s.LogLevel = slog.LevelError
	default:
		return nil, errorf("CHECKOUT_LOG_LEVEL", "%q is not one of debug, info, warn, error", lvl)
	}

	raw := get("CHECKOUT_MAX_AMOUNT")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return nil, errorf("CHECKOUT_MAX_AMOUNT", "%q is not a positive whole number of fen", raw)
	}
	s.MaxAmount = n

	raw = get("CHECKOUT_RETENTION")
	d, err := time.ParseDuration(raw)
	if err != nil {
		return nil, errorf("CHECKOUT_RETENTION", "%q is not a Go duration (e.g. 2160h for 90 days)", raw)
	}
	if d < time.Hour {
		return nil, errorf("CHECKOUT_RETENTION", "%s is too short; keep finished checkouts at least 1h", d)
	}
	s.Retention = d

	raw = get("CHECKOUT_ALLOW_PRIVATE_WEBHOOKS")
	b, err := ParseBool(raw)
	if err != nil {
		return nil, errorf("CHECKOUT_ALLOW_PRIVATE_WEBHOOKS", "%v", err)
	}
	s.AllowPrivateWebhooks = b

	if raw := get("CHECKOUT_TRUSTED_PROXIES"); raw != "" {
		for _, p := range strings.Split(raw, ",") {
			p = strings.TrimSpace(p)
			_, _, cidrErr := net.ParseCIDR(p)
			if cidrErr != nil && net.ParseIP(p) == nil {
				return nil, errorf("CHECKOUT_TRUSTED_PROXIES", "%q is not an IP address or CIDR (e.g. 10.0.0.0/8)", p)
			}
			s.TrustedProxies = append(s.TrustedProxies, p)
		}
	}

	if s.ClaimLease, err = drillDuration(get, "CHECKOUT_CLAIM_LEASE", time.Second, time.Hour); err != nil {
		return nil, err
	}
	if s.WebhookRetry, err = drillDuration(get, "CHECKOUT_WEBHOOK_RETRY", time.Second, 6*time.Hour); err != nil {
		return nil, err
	}
	// Bounded by the container runtime's grace (Kubernetes: 30 s) minus
	// the requests' own shutdown time.
	if s.DrainPause, err = drillDuration(get, "CHECKOUT_DRAIN_PAUSE", 0, 2*time.Minute); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		name string
		to   *redis_rate.Limit
	}{
		{"CHECKOUT_RATE_API", &s.RateAPI},
		{"CHECKOUT_RATE_AUTH_FAILURES", &s.RateAuthFailures},
		{"CHECKOUT_RATE_PAYER", &s.RatePayer},
	} {
		raw := get(r.name)
		if *r.to, err = ParseRate(raw); err != nil {
			return nil, errorf(r.name, "%v", err)
		}
	}
	for _, f := range []struct {
		name string
		hi   int
		dst  *int
	}{
		{"CHECKOUT_STREAMS_MAX", 1_000_000, &s.StreamsMax},
		{"CHECKOUT_STREAMS_PER_CLIENT", 1_000_000, &s.StreamsPerClient},
		{"CHECKOUT_STREAMS_PER_CHECKOUT", 1_000_000, &s.StreamsPerCheckout},
		{"CHECKOUT_STREAM_READS", 1_000, &s.StreamReads},
	} {
		if *f.dst, err = boundedInt(get, f.name, 1, f.hi); err != nil {
			return nil, err
		}
	}

	if s.AdminAddr = get("CHECKOUT_ADMIN_ADDR"); s.AdminAddr != "" {
		_, port, err := net.SplitHostPort(s.AdminAddr)
		if err != nil {
			return nil, errorf("CHECKOUT_ADMIN_ADDR", "%q is not host:port (e.g. 127.0.0.1:9091)", s.AdminAddr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return nil, errorf("CHECKOUT_ADMIN_ADDR", "port %q is not a number from 0 to 65535", port)
		}
		if port != "0" && s.AdminAddr == s.Addr {
			return nil, errorf("CHECKOUT_ADMIN_ADDR", "%q is the public listen address (CHECKOUT_ADDR): the admin listener must never be on the public port", s.AdminAddr)
		}
	}
	if s.MetricsMerchantLabel, err = ParseBool(get("CHECKOUT_METRICS_MERCHANT_LABEL")); err != nil {
		return nil, errorf("CHECKOUT_METRICS_MERCHANT_LABEL", "%v", err)
	}
	return s, nil
}

// ParseBool reads an on/off setting: true, false, 1, 0 (strconv.ParseBool's
// spellings) or on, off, yes, no, in any case.
func ParseBool(raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true or false, on or off)", raw)
	}
	return b, nil
}

// ParseRate reads a rate limit: N/s, N/m or N/h (N a positive whole
// number), optionally followed by :BURST, the requests allowed at once
// (default N); "off" is the zero Limit, no limit.
func ParseRate(raw string) (redis_rate.Limit, error) {
	if strings.EqualFold(raw, "off") {
		return redis_rate.Limit{}, nil
	}
	bad := fmt.Errorf("%q is not a rate like 100/s, 20/m, 1000/h or 100/s:200 (with a burst), or off", raw)
	count, rest, ok := strings.Cut(raw, "/")
	if !ok {
		return redis_rate.Limit{}, bad
	}
	unit, burst, hasBurst := strings.Cut(rest, ":")
	var l redis_rate.Limit
	switch unit {
	case "s":
		l.Period = time.Second
	case "m":
		l.Period = time.Minute
	case "h":
		l.Period = time.Hour
	default:
		return redis_rate.Limit{}, bad
	}
	const most = 1_000_000
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 || n > most {
		return redis_rate.Limit{}, bad
	}
	l.Rate, l.Burst = n, n
	if hasBurst {
		b, err := strconv.Atoi(burst)
		if err != nil || b <= 0 || b > most {
			return redis_rate.Limit{}, bad
		}
		l.Burst = b
	}
	return l, nil
}

// rateString writes a limit back in ParseRate's syntax.
func rateString(l redis_rate.Limit) string {
	if l.IsZero() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[l.Period]
	s := strconv.Itoa(l.Rate) + "/" + unit
	if l.Burst != l.Rate {
		s += ":" + strconv.Itoa(l.Burst)
	}
	return s
}

// boundedInt reads a whole-number setting bounded to [lo, hi].
func boundedInt(get func(string) string, name string, lo, hi int) (int, error) {
	raw := get(name)
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		return 0, errorf(name, "%q is not a whole number", raw)
	case n < lo || n > hi:
		return 0, errorf(name, "%d is out of range; use %d to %d", n, lo, hi)
	}
	return n, nil
}

// drillDuration reads a duration setting that exists to compress the
// service's timing in drills and tests, bounded to [lo, hi].
func drillDuration(get func(string) string, name string, lo, hi time.Duration) (time.Duration, error) {
	raw := get(name)
	d, err := time.ParseDuration(raw)
	switch {
	case err != nil:
		return 0, errorf(name, "%q is not a Go duration (e.g. 30s)", raw)
	case d < lo || d > hi:
		return 0, errorf(name, "%s is out of range; use %s to %s", d, lo, hi)
	}
	return d, nil
}

// randomSecret returns 32 random bytes as base64url: a session key or signing
// secret for a demo process.
func randomSecret() checkout.Secret {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return checkout.Secret(base64.RawURLEncoding.EncodeToString(b[:]))
}

// ParsePublicURL checks an absolute http(s) URL with no path, query,
// fragment or user info, and returns it without a trailing slash.
func ParsePublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q must start with http:// or https://", raw)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("%q must not contain user info", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return "", fmt.Errorf("%q must not have a query or fragment", raw)
	case strings.Trim(u.Path, "/") != "":
		// Every route (/c/…, /v1/…, callbacks) is at the root of the host.
		return "", fmt.Errorf("%q must not have a path: the service is served at the root of its host", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// DerivePublicURL is the public URL of a service listening on addr when none
// is configured: http on the same port, localhost for wildcard hosts.
func DerivePublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost"
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
