package main

import (
	"flag"

	"github.com/wallet-checkout/checkout/config"
)

// settingFlags defines on fs a flag for every setting of config.Vars that
// has one, and returns the lookup the settings are read with: a flag given
// on the command line wins over its environment variable (getenv). Call the
// lookup only after fs.Parse. The service and its subcommands that use the
// service's configuration share it, so their flags never drift apart.
func settingFlags(fs *flag.FlagSet, getenv func(string) string) func(string) string {
	flagEnv := map[string]string{} // flag name → environment variable
	for _, v := range config.Vars {
		if v.Flag != "" {
			fs.String(v.Flag, v.Default, v.Usage+" (env "+v.Env+")")
			flagEnv[v.Flag] = v.Env
		}
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
