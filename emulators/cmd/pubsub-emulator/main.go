// Command pubsub-emulator serves an in-memory Google Cloud Pub/Sub API
// (Google's pstest fake) that also delivers push subscriptions over HTTP.
//
// With --seed FILE it first creates the file's topics and subscriptions;
// until then health checks answer NOT_SERVING and other calls wait. Once
// ready it prints "pubsub emulator listening on HOST:PORT" on stdout, then,
// with --admin-port, "pubsub emulator admin on HOST:PORT". Logs go to
// stderr. SIGINT or SIGTERM shut it down with exit status 0; bad flags, a
// bad seed file or a bad --import directory exit with status 2 before
// listening. --import/--state apply an export (internal/state) before the
// seed; --export-on-exit/--state export on the signal; the admin API adds
// fault injection (internal/faults), POST /v1/export and the push-auth
// certificates (internal/pushauth: push subscriptions with oidc_token get a
// bearer token signed by a key made at start).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/etl-pipeline/emulators/internal/cli"
	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pubsubadmin"
	"github.com/etl-pipeline/emulators/internal/pubsubserver"
	"github.com/etl-pipeline/emulators/internal/pushauth"
	"github.com/etl-pipeline/emulators/internal/state"
)

func main() {
	cli.Main("pubsub-emulator", run)
}

// run parses args, seeds, serves until a signal arrives, then shuts down.
func run(args []string, stdout io.Writer, signals <-chan os.Signal) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	seed, err := opts.seed.Load()
	if err != nil {
		return err
	}
	var imported *state.PubSubState
	if opts.state.Import != "" {
		if imported, err = state.LoadPubSub(opts.state.Import); err != nil {
			return cli.Usage(err)
		}
	}
	signer := pushauth.NewSigner() // its key is made in the background
	opts.push.Tokens = signer
	_, stopPprof, err := opts.pprof.Start()
	if err != nil {
		return cli.Usage(err)
	}
	defer stopPprof()
	srv, err := pubsubserver.Start(net.JoinHostPort(opts.host, strconv.Itoa(opts.port)), opts.push)
	if err != nil {
		return err
	}
	defer srv.Close()
	if imported != nil {
		start := time.Now()
		if err := imported.Apply(context.Background(), srv, srv.Faults()); err != nil {
			return err
		}
		log.Printf("imported %d topics, %d subscriptions, %d messages from %s in %s", len(imported.Topics), len(imported.Subscriptions),
			len(imported.Messages), opts.state.Import, time.Since(start).Round(time.Millisecond))
	}
	if seed != nil {
		if err := seed.Apply(seed.ApplyPubSub, srv.Conn()); err != nil {
			return err
		}
		seedFaults(seed, srv.Faults())
	}
	admin, err := startAdmin(opts, srv, signer)
	if err != nil {
		return err
	}
	if admin != nil {
		defer admin.Close()
	}
	if err := srv.Ready(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pubsub emulator listening on %s\n", srv.Addr())
	if admin != nil {
		fmt.Fprintf(stdout, "pubsub emulator admin on %s\n", net.JoinHostPort(opts.host, strconv.Itoa(admin.Port())))
	}
	sig := <-signals
	log.Printf("received %s, shutting down", sig)
	if dir := opts.state.ExportOnExit; dir != "" {
		if err := state.ExportPubSub(context.Background(), srv, srv.Faults(), dir); err != nil {
			return fmt.Errorf("export on exit to %s: %w", dir, err)
		}
		log.Printf("exported state to %s", dir)
	}
	return nil
}

// startAdmin starts the admin API unless --admin-port is -1.
// It also serves the push-auth certificates and tokens (internal/pushauth).
func startAdmin(opts *options, srv *pubsubserver.Server, signer *pushauth.Signer) (*pubsubadmin.Server, error) {
	if opts.adminPort < 0 {
		return nil, nil
	}
	routes := []pubsubadmin.Option{pubsubadmin.WithSource(srv), pubsubadmin.WithFaults(srv.Faults()),
		pubsubadmin.WithRoute("POST /v1/export", state.ExportHandler(func(dir string) error {
			return state.ExportPubSub(context.Background(), srv, srv.Faults(), dir)
		}))}
	for pattern, handler := range signer.Routes() {
		routes = append(routes, pubsubadmin.WithRoute(pattern, handler))
	}
	return pubsubadmin.Start(net.JoinHostPort(opts.host, strconv.Itoa(opts.adminPort)), srv.Fake(), routes...)
}

// seedFaults turns on the faults the seed file declares on subscriptions.
func seedFaults(s *cli.Seed, reg *faults.Registry) {
	for _, stage := range s.Stages {
		for _, sub := range s.Resources(stage, s.Project).Subscriptions {
			if sub.Faults != nil {
				name := "projects/" + s.Project + "/subscriptions/" + sub.Name
				reg.Set(name, *sub.Faults)
				log.Printf("faults on %s: %+v", name, *sub.Faults)
			}
		}
	}
}
