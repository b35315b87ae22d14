package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/config"
)

// durationValue is a duration flag read as the configuration reads
// durations (config.ParseDuration): Prometheus units (7d, 1w) and Go's
// (1.5s, 250ms), never negative.
type durationValue struct{ d *time.Duration }

func (v durationValue) Set(s string) error {
	parsed, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = parsed
	return nil
}

func (v durationValue) String() string { return v.d.String() }
func (durationValue) Type() string     { return "duration" }

func durationVar(fs *pflag.FlagSet, d *time.Duration, name string, usage string) {
	fs.Var(durationValue{d}, name, usage)
}
