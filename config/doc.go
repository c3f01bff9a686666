// Package config reads the service's settings: environment variables (each
// mirrored by a flag of cmd/checkout, see Vars) and the merchants file, a YAML
// list of merchants and their stores that becomes a checkout.Directory.
//
// Every invalid value stops the start with one *Error naming the variable or
// field path (merchants[0].stores[1].gateway.open_key) and what is wrong with
// it. Secrets may be written as ${ENV_VAR} references so that the file itself
// can be committed; no message ever quotes a secret's value.
package config
