// Command pubsub-emulator serves an in-memory Google Cloud Pub/Sub API
// (Google's pstest fake) that also delivers push subscriptions over HTTP.
//
// It prints exactly one line on stdout, "pubsub emulator listening on
// HOST:PORT", once the gRPC server answers; logs go to stderr. SIGINT or
// SIGTERM shut it down cleanly with exit status 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/etl-pipeline/emulators/internal/pubsubserver"
	"github.com/etl-pipeline/emulators/internal/push"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("pubsub-emulator: ")
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	err := run(os.Args[1:], os.Stdout, signals)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		log.Fatal(err)
	}
}

// run parses args, serves until a signal arrives, then shuts down.
func run(args []string, stdout io.Writer, signals <-chan os.Signal) error {
	fs := flag.NewFlagSet("pubsub-emulator", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "address to bind (0.0.0.0 in a container)")
	port := fs.Int("port", 8085, "port to listen on (0 picks a free one)")
	var cfg push.Config
	fs.IntVar(&cfg.Concurrency, "push-concurrency", 16, "push deliveries in flight at once, across subscriptions")
	fs.DurationVar(&cfg.PollInterval, "push-poll-interval", 25*time.Millisecond, "how often an idle push subscription is checked for messages")
	fs.DurationVar(&cfg.ResyncInterval, "push-resync-interval", 250*time.Millisecond, "how often subscriptions are re-listed (changes made through this server apply at once)")
	fs.DurationVar(&cfg.MinBackoff, "push-min-backoff", 100*time.Millisecond, "first redelivery delay, for subscriptions without a retry policy")
	fs.DurationVar(&cfg.MaxBackoff, "push-max-backoff", 10*time.Second, "longest redelivery delay, for subscriptions without a retry policy")
	fs.StringVar(&cfg.LocalhostAlias, "push-localhost-alias", "", "deliver to this host instead of localhost/127.0.0.1/::1 in push endpoints (host.docker.internal in a container)")
	quiet := fs.Bool("quiet", false, "do not log failed push deliveries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quiet {
		cfg.Logf = func(string, ...any) {}
	}

	srv, err := pubsubserver.Start(net.JoinHostPort(*host, strconv.Itoa(*port)), cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pubsub emulator listening on %s\n", srv.Addr())
	sig := <-signals
	log.Printf("received %s, shutting down", sig)
	srv.Close()
	return nil
}
