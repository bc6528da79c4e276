package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/etl-pipeline/emulators/internal/cli"
	"github.com/etl-pipeline/emulators/internal/debugpprof"
	"github.com/etl-pipeline/emulators/internal/push"
)

type options struct {
	host            string
	port, adminPort int
	push            push.Config
	seed            cli.SeedFlags
	state           cli.StateFlags
	pprof           debugpprof.Flag
}

func parseFlags(args []string) (*options, error) {
	var o options
	fs := flag.NewFlagSet("pubsub-emulator", flag.ContinueOnError)
	fs.StringVar(&o.host, "host", "127.0.0.1", "address to bind (0.0.0.0 in a container)")
	fs.IntVar(&o.port, "port", 8085, "port to listen on (0 picks a free one)")
	fs.IntVar(&o.adminPort, "admin-port", -1, "port of the admin HTTP API, on --host (-1: off, 0: a free one)")
	o.seed.Register(fs)
	o.state.Register(fs)
	o.pprof.Register(fs)
	cfg := &o.push
	fs.IntVar(&cfg.Concurrency, "push-concurrency", 64, "push deliveries in flight at once, across subscriptions (and the most one subscription's window grows to)")
	fs.IntVar(&cfg.InitialWindow, "push-initial-window", 4, "push deliveries a subscription may have in flight at first; +1 per success, halved per failure")
	fs.DurationVar(&cfg.PollInterval, "push-poll-interval", 25*time.Millisecond, "how often an idle push subscription is checked for messages")
	fs.DurationVar(&cfg.ResyncInterval, "push-resync-interval", 250*time.Millisecond, "how often subscriptions are re-listed (changes made through this server apply at once)")
	fs.DurationVar(&cfg.MinBackoff, "push-min-backoff", 100*time.Millisecond, "first redelivery delay, for subscriptions without a retry policy")
	fs.DurationVar(&cfg.MaxBackoff, "push-max-backoff", 10*time.Second, "longest redelivery delay, for subscriptions without a retry policy")
	fs.StringVar(&cfg.LocalhostAlias, "push-localhost-alias", "", "deliver to this host instead of localhost/127.0.0.1/::1 in push endpoints (host.docker.internal in a container)")
	quiet := fs.Bool("quiet", false, "do not log failed push deliveries")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if *quiet {
		cfg.Logf = func(string, ...any) {}
	}
	if err := o.state.Resolve(); err != nil {
		return nil, err
	}
	if o.adminPort < -1 || o.adminPort > 65535 {
		return nil, cli.Usage(fmt.Errorf("--admin-port must be -1 (off) or 0-65535, got %d", o.adminPort))
	}
	return &o, nil
}
