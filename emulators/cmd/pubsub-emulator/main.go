// Command pubsub-emulator serves an in-memory Google Cloud Pub/Sub API
// (Google's pstest fake) that also delivers push subscriptions over HTTP.
//
// With --seed FILE it first creates the file's topics and subscriptions;
// until then health checks answer NOT_SERVING and other calls wait. Once
// ready it prints "pubsub emulator listening on HOST:PORT" on stdout, then,
// with --admin-port, "pubsub emulator admin on HOST:PORT". Logs go to
// stderr. SIGINT or SIGTERM shut it down with exit status 0; bad flags or a
// bad seed file exit with status 2 before listening.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/etl-pipeline/emulators/internal/cli"
	"github.com/etl-pipeline/emulators/internal/pubsubadmin"
	"github.com/etl-pipeline/emulators/internal/pubsubserver"
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
	srv, err := pubsubserver.Start(net.JoinHostPort(opts.host, strconv.Itoa(opts.port)), opts.push)
	if err != nil {
		return err
	}
	defer srv.Close()
	if seed != nil {
		if err := seed.Apply(seed.ApplyPubSub, srv.Conn()); err != nil {
			return err
		}
	}
	admin, err := startAdmin(opts, srv)
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
	return nil
}

// startAdmin starts the admin API unless --admin-port is -1.
func startAdmin(opts *options, srv *pubsubserver.Server) (*pubsubadmin.Server, error) {
	if opts.adminPort < 0 {
		return nil, nil
	}
	return pubsubadmin.Start(net.JoinHostPort(opts.host, strconv.Itoa(opts.adminPort)), srv.Fake(), srv)
}
