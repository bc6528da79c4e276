// Command bigtable-emulator serves an in-memory Cloud Bigtable API: Google's
// bttest, the server its cmd/emulator (gcloud's cbtemulator) runs, with the
// same -host, -port and -address flags and 256 MiB message limits, plus a
// gRPC health service and seeding.
//
// With -seed FILE it first creates the file's tables; until then health
// checks answer NOT_SERVING and other calls wait. Once ready it prints
// "bigtable emulator listening on HOST:PORT" on stdout; logs go to stderr.
// SIGINT or SIGTERM shut it down with exit status 0; bad flags or a bad seed
// file exit with status 2 before listening.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/etl-pipeline/emulators/internal/bigtableserver"
	"github.com/etl-pipeline/emulators/internal/cli"
)

func main() {
	cli.Main("bigtable-emulator", run)
}

// run parses args, seeds, serves until a signal arrives, then shuts down.
func run(args []string, stdout io.Writer, signals <-chan os.Signal) error {
	fs := flag.NewFlagSet("bigtable-emulator", flag.ContinueOnError)
	host := fs.String("host", "localhost", "the address to bind to on the local machine")
	port := fs.Int("port", 9000, "the port number to bind to on the local machine")
	address := fs.String("address", "", "address:port number or unix socket path to listen on. Has priority over host/port")
	var seedFlags cli.SeedFlags
	seedFlags.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	seed, err := seedFlags.Load()
	if err != nil {
		return err
	}
	laddr := *address
	if laddr == "" {
		laddr = net.JoinHostPort(*host, strconv.Itoa(*port))
	}
	srv, err := bigtableserver.Start(laddr)
	if err != nil {
		return err
	}
	defer srv.Close()
	if seed != nil {
		if err := seed.Apply(seed.ApplyBigtable, srv.Conn()); err != nil {
			return err
		}
	}
	srv.Ready()
	fmt.Fprintf(stdout, "bigtable emulator listening on %s\n", srv.Addr())
	sig := <-signals
	log.Printf("received %s, shutting down", sig)
	return nil
}
