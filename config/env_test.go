package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const (
	secretA = "0123456789abcdef0123456789abcdef-A"
	secretB = "0123456789abcdef0123456789abcdef-B"
)

func TestFromEnvDefaults(t *testing.T) {
	s, err := FromEnv(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr != ":8080" || s.PublicURL != "http://localhost:8080" || s.PublicURLSet {
		t.Errorf("addr %q public %q set %v", s.Addr, s.PublicURL, s.PublicURLSet)
	}
	if !s.Demo() || s.Redis != nil || s.RedisURL != "" {
		t.Errorf("want demo mode with no redis, got demo=%v redis=%v", s.Demo(), s.Redis)
	}
	if !s.Generated || len(s.SessionKeys) != 1 || len(s.SessionKeys[0].Reveal()) < MinSecretLen || len(s.SigningSecret.Reveal()) < MinSecretLen {
		t.Errorf("demo secrets not generated: generated=%v keys=%d", s.Generated, len(s.SessionKeys))
	}
	if s.SessionKeys[0] == s.SigningSecret {
		t.Error("session key and signing secret are the same")
	}
	if s.ClaimLease != 30*time.Second || s.WebhookRetry != 30*time.Second {
		t.Errorf("claim lease %s, webhook retry %s, want 30s each", s.ClaimLease, s.WebhookRetry)
	}
	if s.RateAPI != (redis_rate.Limit{Rate: 100, Burst: 200, Period: time.Second}) ||
		s.RateAuthFailures != redis_rate.PerMinute(20) || s.RatePayer != redis_rate.PerMinute(60) {
		t.Errorf("rates %v, %v, %v", s.RateAPI, s.RateAuthFailures, s.RatePayer)
	}
	if s.LogLevel != slog.LevelInfo || s.MaxAmount != DefaultMaxAmount || s.Retention != 90*24*time.Hour || s.AllowPrivateWebhooks {
		t.Errorf("defaults: %+v", s)
	}
	if s.StreamsMax != 10_000 || s.StreamsPerClient != 50 || s.StreamsPerCheckout != 50 || s.StreamReads != 4 {
		t.Errorf("stream caps %d %d %d, reads %d; want 10000 50 50, 4", s.StreamsMax, s.StreamsPerClient, s.StreamsPerCheckout, s.StreamReads)
	}
	// Two demo processes never share generated secrets.
	s2, _ := FromEnv(envOf(nil))
	if s2.SessionKeys[0] == s.SessionKeys[0] || s2.SigningSecret == s.SigningSecret {
		t.Error("generated secrets repeat")
	}
}

func TestFromEnvAll(t *testing.T) {
	s, err := FromEnv(envOf(map[string]string{
		"CHECKOUT_ADDR":                   "127.0.0.1:9090",
		"CHECKOUT_PUBLIC_URL":             "https://pay.example.com/",
		"REDIS_URL":                       "redis://:hunter2hunter2@10.0.0.5:6380/3",
		"CHECKOUT_CONFIG":                 "/etc/checkout/merchants.yaml",
		"CHECKOUT_SESSION_KEYS":           secretA + " , " + secretB,
		"CHECKOUT_SIGNING_SECRET":         secretB,
		"CHECKOUT_LOG_LEVEL":              "DEBUG",
		"CHECKOUT_MAX_AMOUNT":             "123456",
		"CHECKOUT_RETENTION":              "720h",
		"CHECKOUT_ALLOW_PRIVATE_WEBHOOKS": "true",
		"CHECKOUT_TRUSTED_PROXIES":        "10.0.0.0/8, 192.168.1.1,::1",
		"CHECKOUT_CLAIM_LEASE":            "5s",
		"CHECKOUT_WEBHOOK_RETRY":          "1500ms",
		"CHECKOUT_RATE_API":               "50/s:80",
		"CHECKOUT_RATE_AUTH_FAILURES":     "off",
		"CHECKOUT_RATE_PAYER":             "1000/h",
		"CHECKOUT_STREAMS_MAX":            "500",
		"CHECKOUT_STREAMS_PER_CLIENT":     "7",
		"CHECKOUT_STREAMS_PER_CHECKOUT":   "3",
		"CHECKOUT_STREAM_READS":           "2",
		"CHECKOUT_ADMIN_ADDR":             "127.0.0.1:9091",
		"CHECKOUT_METRICS_MERCHANT_LABEL": "on",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr != "127.0.0.1:9090" || s.PublicURL != "https://pay.example.com" || !s.PublicURLSet {
		t.Errorf("addr %q public %q", s.Addr, s.PublicURL)
	}
	if s.Redis == nil || s.Redis.Mode != RedisSingle || s.Redis.Single.Addr != "10.0.0.5:6380" || s.Redis.Single.DB != 3 || s.Redis.Single.Password != "hunter2hunter2" {
		t.Errorf("redis options %+v", s.Redis)
	}
	if s.Demo() || s.Generated {
		t.Error("a configured file is not demo mode")
	}
	if len(s.SessionKeys) != 2 || s.SessionKeys[0].Reveal() != secretA || s.SessionKeys[1].Reveal() != secretB {
		t.Errorf("session keys not split and trimmed")
	}
	if s.SigningSecret.Reveal() != secretB || s.LogLevel != slog.LevelDebug || s.MaxAmount != 123456 || s.Retention != 720*time.Hour || !s.AllowPrivateWebhooks {
		t.Errorf("settings %+v", s)
	}
	if s.ClaimLease != 5*time.Second || s.WebhookRetry != 1500*time.Millisecond {
		t.Errorf("claim lease %s, webhook retry %s", s.ClaimLease, s.WebhookRetry)
	}
	if s.RateAPI != (redis_rate.Limit{Rate: 50, Burst: 80, Period: time.Second}) || !s.RateAuthFailures.IsZero() ||
		s.RatePayer != (redis_rate.Limit{Rate: 1000, Burst: 1000, Period: time.Hour}) {
		t.Errorf("rates %v, %v, %v", s.RateAPI, s.RateAuthFailures, s.RatePayer)
	}
	if s.StreamsMax != 500 || s.StreamsPerClient != 7 || s.StreamsPerCheckout != 3 || s.StreamReads != 2 {
		t.Errorf("stream caps %d %d %d, reads %d", s.StreamsMax, s.StreamsPerClient, s.StreamsPerCheckout, s.StreamReads)
	}
	if s.AdminAddr != "127.0.0.1:9091" || !s.MetricsMerchantLabel {
		t.Errorf("admin addr %q, merchant label %v", s.AdminAddr, s.MetricsMerchantLabel)
	}
	if strings.Join(s.TrustedProxies, ";") != "10.0.0.0/8;192.168.1.1;::1" {
		t.Errorf("trusted proxies %q", s.TrustedProxies)
	}
	pairs := s.SessionKeyPairs()
	if len(pairs) != 4 {
		t.Fatalf("want 2 pairs (4 keys), got %d", len(pairs))
	}
	for i, k := range pairs {
		if len(k) != 32 {
			t.Errorf("pair key %d is %d bytes, want 32 (HMAC key and AES-256 key)", i, len(k))
		}
	}
	if string(pairs[0]) == string(pairs[1]) || string(pairs[0]) == string(pairs[2]) {
		t.Error("derived keys repeat")
	}

	// Nothing secret reaches a log line.
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("settings", "settings", s)
	for _, secret := range []string{secretA, secretB, "hunter2hunter2"} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("log line shows a secret: %s", b.String())
		}
	}
	if out := fmt.Sprintf("%v %+v", s, *s); strings.Contains(out, secretA) || strings.Contains(out, "hunter2hunter2") {
		t.Errorf("formatting shows a secret: %s", out)
	}
}

func TestFromEnvErrors(t *testing.T) {
	prod := map[string]string{
		"CHECKOUT_CONFIG":         "m.yaml",
		"CHECKOUT_SESSION_KEYS":   secretA,
		"CHECKOUT_SIGNING_SECRET": secretB,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range prod {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"addr without port", with("CHECKOUT_ADDR", "localhost"), "config: CHECKOUT_ADDR: \"localhost\" is not host:port"},
		{"addr bad port", with("CHECKOUT_ADDR", ":http"), "config: CHECKOUT_ADDR: port \"http\" is not a number"},
		{"addr port too big", with("CHECKOUT_ADDR", ":70000"), "config: CHECKOUT_ADDR: port \"70000\""},
		{"public url relative", with("CHECKOUT_PUBLIC_URL", "pay.example.com"), "config: CHECKOUT_PUBLIC_URL: \"pay.example.com\" must start with http:// or https://"},
		{"public url ftp", with("CHECKOUT_PUBLIC_URL", "ftp://pay.example.com"), "must start with http:// or https://"},
		{"public url query", with("CHECKOUT_PUBLIC_URL", "https://pay.example.com/?a=1"), "must not have a query or fragment"},
		{"public url userinfo", with("CHECKOUT_PUBLIC_URL", "https://u:p@pay.example.com"), "must not contain user info"},
		{"public url path", with("CHECKOUT_PUBLIC_URL", "https://example.com/pay"), "config: CHECKOUT_PUBLIC_URL: \"https://example.com/pay\" must not have a path"},
		{"public url no host", with("CHECKOUT_PUBLIC_URL", "https:///x"), "has no host"},
		{"redis scheme", with("REDIS_URL", "http://:pw-secret@localhost:6379"), "config: REDIS_URL: not a Redis URL"},
		{"redis db", with("REDIS_URL", "redis://:pw-secret@localhost:6379/notadb"), "config: REDIS_URL: not a Redis URL"},
		{"no session keys with config", with("CHECKOUT_SESSION_KEYS", ""), "config: CHECKOUT_SESSION_KEYS: required when CHECKOUT_CONFIG is set"},
		{"short session key", with("CHECKOUT_SESSION_KEYS", secretA+",short"), "config: CHECKOUT_SESSION_KEYS: key 2 is 5 bytes; each key must be at least 32"},
		{"no signing secret with config", with("CHECKOUT_SIGNING_SECRET", ""), "config: CHECKOUT_SIGNING_SECRET: required when CHECKOUT_CONFIG is set"},
		{"short signing secret", with("CHECKOUT_SIGNING_SECRET", "tooshort"), "config: CHECKOUT_SIGNING_SECRET: is 8 bytes; it must be at least 32"},
		{"log level", with("CHECKOUT_LOG_LEVEL", "verbose"), "config: CHECKOUT_LOG_LEVEL: \"verbose\" is not one of debug, info, warn, error"},
		{"max amount text", with("CHECKOUT_MAX_AMOUNT", "100.00"), "config: CHECKOUT_MAX_AMOUNT: \"100.00\" is not a positive whole number of fen"},
		{"max amount zero", with("CHECKOUT_MAX_AMOUNT", "0"), "config: CHECKOUT_MAX_AMOUNT: \"0\" is not a positive"},
		{"max amount negative", with("CHECKOUT_MAX_AMOUNT", "-5"), "is not a positive"},
		{"retention days", with("CHECKOUT_RETENTION", "90d"), "config: CHECKOUT_RETENTION: \"90d\" is not a Go duration"},
		{"retention short", with("CHECKOUT_RETENTION", "5m"), "config: CHECKOUT_RETENTION: 5m0s is too short"},
		{"trusted proxy", with("CHECKOUT_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"), "config: CHECKOUT_TRUSTED_PROXIES: \"proxy.local\" is not an IP address or CIDR"},
		{"trusted proxy cidr", with("CHECKOUT_TRUSTED_PROXIES", "10.0.0.0/33"), "config: CHECKOUT_TRUSTED_PROXIES: \"10.0.0.0/33\""},
		{"private webhooks", with("CHECKOUT_ALLOW_PRIVATE_WEBHOOKS", "sometimes"), "config: CHECKOUT_ALLOW_PRIVATE_WEBHOOKS: \"sometimes\" is not a boolean"},
		{"claim lease text", with("CHECKOUT_CLAIM_LEASE", "30"), "config: CHECKOUT_CLAIM_LEASE: \"30\" is not a Go duration"},
		{"claim lease short", with("CHECKOUT_CLAIM_LEASE", "100ms"), "config: CHECKOUT_CLAIM_LEASE: 100ms is out of range; use 1s to 1h0m0s"},
		{"claim lease long", with("CHECKOUT_CLAIM_LEASE", "2h"), "config: CHECKOUT_CLAIM_LEASE: 2h0m0s is out of range"},
		{"webhook retry text", with("CHECKOUT_WEBHOOK_RETRY", "soon"), "config: CHECKOUT_WEBHOOK_RETRY: \"soon\" is not a Go duration"},
		{"webhook retry zero", with("CHECKOUT_WEBHOOK_RETRY", "0s"), "config: CHECKOUT_WEBHOOK_RETRY: 0s is out of range"},
		{"rate api unit", with("CHECKOUT_RATE_API", "100/d"), "config: CHECKOUT_RATE_API: \"100/d\" is not a rate like 100/s"},
		{"rate api zero", with("CHECKOUT_RATE_API", "0/s"), "config: CHECKOUT_RATE_API: \"0/s\" is not a rate"},
		{"rate auth bare", with("CHECKOUT_RATE_AUTH_FAILURES", "20"), "config: CHECKOUT_RATE_AUTH_FAILURES: \"20\" is not a rate"},
		{"rate payer burst", with("CHECKOUT_RATE_PAYER", "60/m:x"), "config: CHECKOUT_RATE_PAYER: \"60/m:x\" is not a rate"},
		{"streams max text", with("CHECKOUT_STREAMS_MAX", "lots"), "config: CHECKOUT_STREAMS_MAX: \"lots\" is not a whole number"},
		{"streams max zero", with("CHECKOUT_STREAMS_MAX", "0"), "config: CHECKOUT_STREAMS_MAX: 0 is out of range; use 1 to 1000000"},
		{"streams per client negative", with("CHECKOUT_STREAMS_PER_CLIENT", "-1"), "config: CHECKOUT_STREAMS_PER_CLIENT: -1 is out of range"},
		{"streams per checkout zero", with("CHECKOUT_STREAMS_PER_CHECKOUT", "0"), "config: CHECKOUT_STREAMS_PER_CHECKOUT: 0 is out of range"},
		{"stream reads huge", with("CHECKOUT_STREAM_READS", "5000"), "config: CHECKOUT_STREAM_READS: 5000 is out of range; use 1 to 1000"},
		{"admin addr without port", with("CHECKOUT_ADMIN_ADDR", "localhost"), "config: CHECKOUT_ADMIN_ADDR: \"localhost\" is not host:port"},
		{"admin addr bad port", with("CHECKOUT_ADMIN_ADDR", "127.0.0.1:metrics"), "config: CHECKOUT_ADMIN_ADDR: port \"metrics\" is not a number"},
		{"admin addr on the public port", with("CHECKOUT_ADMIN_ADDR", ":8080"), "config: CHECKOUT_ADMIN_ADDR: \":8080\" is the public listen address"},
		{"merchant label not a boolean", with("CHECKOUT_METRICS_MERCHANT_LABEL", "maybe"), "config: CHECKOUT_METRICS_MERCHANT_LABEL: \"maybe\" is not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromEnv(envOf(tt.env))
			if err == nil {
				t.Fatalf("want error containing %q, got settings %v", tt.want, s)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *config.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("error shows a secret: %s", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestDerivePublicURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://localhost:8080",
		"0.0.0.0:80":     "http://localhost:80",
		"[::]:9000":      "http://localhost:9000",
		"127.0.0.1:4000": "http://127.0.0.1:4000",
		"[::1]:4000":     "http://[::1]:4000",
		"pay.local:8080": "http://pay.local:8080",
	} {
		if got := DerivePublicURL(addr); got != want {
			t.Errorf("DerivePublicURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// honest: every setting read here is documented there.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("README.md not readable: %v", err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(readme), "`"+v.Env+"`") {
			t.Errorf("README.md does not document `%s`", v.Env)
		}
		if v.Flag != "" && !strings.Contains(string(readme), "-"+v.Flag) {
			t.Errorf("README.md does not mention the flag -%s", v.Flag)
		}
	}
}

// TestVarsKinds: a secret never has a flag (flags show in the process list),
// and an on/off setting is marked Bool so that its flag is a boolean flag.
func TestVarsKinds(t *testing.T) {
	for _, v := range Vars {
		if v.Secret && v.Flag != "" {
			t.Errorf("%s may carry a secret but has the flag -%s", v.Env, v.Flag)
		}
		if _, err := strconv.ParseBool(v.Default); err == nil && !v.Bool {
			t.Errorf("%s defaults to %q but is not marked Bool: its flag would swallow the next argument", v.Env, v.Default)
		}
		if strings.Contains(v.Usage, "password@") || strings.Contains(v.Usage, ":password") {
			t.Errorf("%s's usage shows a URL with a password: %q", v.Env, v.Usage)
		}
	}
	for _, env := range []string{"REDIS_URL", "CHECKOUT_SESSION_KEYS", "CHECKOUT_SIGNING_SECRET"} {
		var found bool
		for _, v := range Vars {
			found = found || v.Env == env && v.Secret
		}
		if !found {
			t.Errorf("%s is not marked Secret", env)
		}
	}
}

// TestDemoSwitch: without CHECKOUT_CONFIG the service starts the demo unless
// CHECKOUT_DEMO is off (as the Docker image sets it), in which case it
// refuses to start rather than serve a demo in production; CHECKOUT_DEMO=on
// asks for the demo explicitly, and cannot go with a merchants file.
func TestDemoSwitch(t *testing.T) {
	prod := map[string]string{"CHECKOUT_CONFIG": "m.yaml", "CHECKOUT_SESSION_KEYS": secretA, "CHECKOUT_SIGNING_SECRET": secretB}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantDemo bool
		wantErr  string
	}{
		{"nothing set: the demo", nil, true, ""},
		{"on, no file: the demo", with(nil, "CHECKOUT_DEMO", "on"), true, ""},
		{"true, no file: the demo", with(nil, "CHECKOUT_DEMO", "true"), true, ""},
		{"off, no file: refused", with(nil, "CHECKOUT_DEMO", "off"), false,
			"config: CHECKOUT_CONFIG: required: CHECKOUT_DEMO is off (the Docker image sets it), so the demo does not start; set CHECKOUT_CONFIG to the merchants file, or CHECKOUT_DEMO=on to try the demo"},
		{"false, no file: refused", with(nil, "CHECKOUT_DEMO", "false"), false, "config: CHECKOUT_CONFIG: required: CHECKOUT_DEMO is off"},
		{"off, a file: configured", with(prod, "CHECKOUT_DEMO", "off"), false, ""},
		{"unset, a file: configured", prod, false, ""},
		{"on, a file: refused", with(prod, "CHECKOUT_DEMO", "on"), false, "config: CHECKOUT_DEMO: on, but CHECKOUT_CONFIG is set too; the demo runs without a merchants file: unset one of them"},
		{"not a boolean", with(nil, "CHECKOUT_DEMO", "maybe"), false, `config: CHECKOUT_DEMO: "maybe" is not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromEnv(envOf(tt.env))
			if tt.wantErr != "" {
				var ce *Error
				if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Demo() != tt.wantDemo {
				t.Errorf("demo %v, want %v", s.Demo(), tt.wantDemo)
			}
		})
	}
}
