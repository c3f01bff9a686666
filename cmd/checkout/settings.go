package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wallet-checkout/checkout/config"
)

// settingFlags defines on fs a flag for every setting of config.Vars that
// has one, and returns the lookup the settings are read with: a flag given
// on the command line wins over its environment variable (getenv). Call the
// lookup only after fs.Parse. The service and its subcommands that use the
// service's configuration share it, so their flags never drift apart.
//
// An on/off setting gets a boolean flag, so that `-allow-private-webhooks`
// alone means true and never swallows the next argument. A secret never
// gets one, whatever the table says: flags show in the process list.
func settingFlags(fs *flag.FlagSet, getenv func(string) string) func(string) string {
	flagEnv := map[string]string{} // flag name → environment variable
	for _, v := range config.Vars {
		if v.Flag == "" || v.Secret {
			continue
		}
		usage := v.Usage + " (env " + v.Env + ")"
		if v.Bool {
			def, _ := config.ParseBool(v.Default)
			b := onOff(def)
			fs.Var(&b, v.Flag, usage)
		} else {
			fs.String(v.Flag, v.Default, usage)
		}
		flagEnv[v.Flag] = v.Env
	}
	return func(name string) string {
		set := map[string]string{}
		fs.Visit(func(f *flag.Flag) {
			if env, ok := flagEnv[f.Name]; ok {
				set[env] = f.Value.String()
			}
		})
		if v, ok := set[name]; ok {
			return v
		}
		return getenv(name)
	}
}

// onOff is a boolean flag that takes the spellings its variable takes
// (config.ParseBool: true/false, on/off, yes/no, 1/0), so that `-demo=off`
// works as the help and README say; given alone it means true, as flag's
// own booleans do.
type onOff bool

func (b *onOff) String() string { return strconv.FormatBool(bool(*b)) }

func (b *onOff) Set(s string) error {
	v, err := config.ParseBool(s)
	if err != nil {
		return err
	}
	*b = onOff(v)
	return nil
}

// IsBoolFlag makes `-flag` alone mean `-flag=true`, never taking the next
// argument as its value.
func (b *onOff) IsBoolFlag() bool { return true }

// removedSecretFlags are the flags that once set a secret-bearing setting,
// with the variable to use instead. They stay refused with that advice
// rather than with flag's bare "flag provided but not defined".
var removedSecretFlags = map[string]string{"redis-url": "REDIS_URL"}

// refuseSecretFlags reports, on stderr, a removed secret flag among args
// (-name, --name, -name=value); the value is never echoed.
func refuseSecretFlags(args []string, stderr io.Writer) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if env, ok := removedSecretFlags[name]; ok {
			fmt.Fprintf(stderr, "checkout: -%s is not a flag: %s may carry a password, and flags show in the process list; set the %s environment variable instead\n", name, env, env)
			return true
		}
	}
	return false
}

// secretVars names the settings read from the environment only.
func secretVars() []string {
	var names []string
	for _, v := range config.Vars {
		if v.Secret {
			names = append(names, v.Env)
		}
	}
	return names
}
