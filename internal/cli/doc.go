// Package cli is the command-line plumbing of cmd/enricher, written once:
// flags that also read an environment variable (BindEnv, ApplyEnv: a flag
// on the command line wins; a variable set to the empty string means the
// flag given empty), the broker-list check every --brokers shares, the
// one-line error that names the flag and its variable (FlagError, and
// FieldFlagError for a package's refusal of a Config field), the logger, and
// the hidden `describe` command the deployment tests read the binary with.
//
// Only cmd/ imports it: packages take a Config and never see a flag.
package cli
