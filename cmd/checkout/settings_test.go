package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/config"
)

// TestBooleanSettingFlags: every on/off setting's flag is a boolean flag, so
// that given alone (`-allow-private-webhooks -log-level debug`) it does not
// swallow the next argument, and `-flag=false` still overrides its variable.
func TestBooleanSettingFlags(t *testing.T) {
	var bools []config.Var
	for _, v := range config.Vars {
		if v.Bool {
			bools = append(bools, v)
		}
	}
	if len(bools) == 0 {
		t.Fatal("config.Vars marks no boolean setting; CHECKOUT_ALLOW_PRIVATE_WEBHOOKS is one")
	}
	for _, v := range bools {
		t.Run(v.Flag, func(t *testing.T) {
			if v.Flag == "" {
				t.Fatalf("%s has no flag", v.Env)
			}
			tests := []struct {
				name string
				env  map[string]string
				args []string
				want string
			}{
				{"alone, then another flag", nil, []string{"-" + v.Flag, "-log-level", "debug"}, "true"},
				{"last", nil, []string{"-log-level", "debug", "-" + v.Flag}, "true"},
				{"=false over the variable", map[string]string{v.Env: "true"}, []string{"-" + v.Flag + "=false", "-log-level", "debug"}, "false"},
				{"=true", nil, []string{"-" + v.Flag + "=true", "-log-level", "debug"}, "true"},
				// The help and README speak of on and off, as the variables take.
				{"=off over the variable", map[string]string{v.Env: "on"}, []string{"-" + v.Flag + "=off", "-log-level", "debug"}, "false"},
				{"=on", nil, []string{"-" + v.Flag + "=on", "-log-level", "debug"}, "true"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
					fs.SetOutput(io.Discard)
					lookup := settingFlags(fs, envOf(tt.env))
					if err := fs.Parse(tt.args); err != nil {
						t.Fatalf("parse %q: %v", tt.args, err)
					}
					if fs.NArg() != 0 {
						t.Errorf("parse %q left arguments %q: the boolean flag took the next one as its value", tt.args, fs.Args())
					}
					if got := lookup(v.Env); got != tt.want {
						t.Errorf("%s = %q, want %q", v.Env, got, tt.want)
					}
					if got := lookup("CHECKOUT_LOG_LEVEL"); got != "debug" {
						t.Errorf("CHECKOUT_LOG_LEVEL = %q, want debug (the flag after the boolean one)", got)
					}
				})
			}
		})
	}

	// The whole chain: the service's settings see both flags.
	fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lookup := settingFlags(fs, envOf(nil))
	if err := fs.Parse([]string{"-allow-private-webhooks", "-log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	s, err := config.FromEnv(lookup)
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if !s.AllowPrivateWebhooks || s.LogLevel.String() != "DEBUG" {
		t.Errorf("allow private webhooks %v, log level %s; want true, DEBUG", s.AllowPrivateWebhooks, s.LogLevel)
	}
}

// TestHelpShowsNoSecret: secrets have no flag (a flag shows in the process
// list), and no help text shows a secret's value, whatever the environment
// holds.
func TestHelpShowsNoSecret(t *testing.T) {
	const redisPassword = "hunter2-redis-pw"
	env := map[string]string{
		"REDIS_URL":               "redis://:" + redisPassword + "@127.0.0.1:1/0",
		"CHECKOUT_SESSION_KEYS":   testSessionKey,
		"CHECKOUT_SIGNING_SECRET": testSigning,
	}
	for _, args := range [][]string{{"-h"}, {"reconcile", "-h"}} {
		code, stdout, stderr := runToExit(t, env, args...)
		if code != exitOK {
			t.Errorf("%q: exit %d", args, code)
		}
		help := stdout + stderr
		if !strings.Contains(help, "-addr") {
			t.Errorf("%q printed no flags:\n%s", args, help)
		}
		for _, secret := range []string{redisPassword, testSessionKey, testSigning, ":password@"} {
			if strings.Contains(help, secret) {
				t.Errorf("%q help shows %q:\n%s", args, secret, help)
			}
		}
		for _, v := range config.Vars {
			if v.Secret && strings.Contains(help, "-"+strings.ToLower(strings.ReplaceAll(v.Env, "_", "-"))) {
				t.Errorf("%q help offers a flag for the secret %s", args, v.Env)
			}
		}
		if strings.Contains(help, "-redis-url") {
			t.Errorf("%q help offers -redis-url, whose value may carry a password", args)
		}
	}
	// The old flag is refused with the way to set it instead, not a bare
	// "flag provided but not defined".
	code, _, stderr := runToExit(t, map[string]string{}, "-redis-url", "redis://:"+redisPassword+"@127.0.0.1:1/0")
	if code != exitUsage || !strings.Contains(stderr, "REDIS_URL") || strings.Contains(stderr, redisPassword) {
		t.Errorf("-redis-url: exit %d, stderr %q; want %d naming REDIS_URL without the password", code, stderr, exitUsage)
	}
}
