// Command bigtable-emulator serves an in-memory Cloud Bigtable API: Google's
// bttest, the server its cmd/emulator (gcloud's cbtemulator) runs, with the
// same -host, -port and -address flags and 256 MiB message limits, plus a
// gRPC health service and seeding.
//
// With -seed FILE it first creates the file's tables; until then health
// checks answer NOT_SERVING and other calls wait. Once ready it prints
// "bigtable emulator listening on HOST:PORT" on stdout; logs go to stderr.
// SIGINT or SIGTERM shut it down with exit status 0; bad flags, a bad seed
// file or a bad --import directory exit with status 2 before listening.
// With -admin-port it also serves POST /v1/export?dir=DIR over HTTP and
// prints "bigtable emulator admin on HOST:PORT".
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/etl-pipeline/emulators/internal/bigtableserver"
	"github.com/etl-pipeline/emulators/internal/cli"
	"github.com/etl-pipeline/emulators/internal/debugpprof"
	"github.com/etl-pipeline/emulators/internal/state"
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
	adminPort := fs.Int("admin-port", -1, "port of the HTTP admin API (POST /v1/export?dir=DIR), on -host (-1: off, 0: a free one)")
	var seedFlags cli.SeedFlags
	seedFlags.Register(fs)
	var stateFlags cli.StateFlags
	stateFlags.Register(fs)
	var pprofFlag debugpprof.Flag
	pprofFlag.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := stateFlags.Resolve(); err != nil {
		return err
	}
	if *adminPort < -1 || *adminPort > 65535 {
		return cli.Usage(fmt.Errorf("--admin-port must be -1 (off) or 0-65535, got %d", *adminPort))
	}
	_, stopPprof, err := pprofFlag.Start()
	if err != nil {
		return cli.Usage(err)
	}
	defer stopPprof()
	seed, err := seedFlags.Load()
	if err != nil {
		return err
	}
	var imported *state.BigtableState
	if stateFlags.Import != "" {
		if imported, err = state.LoadBigtable(stateFlags.Import); err != nil {
			return cli.Usage(err)
		}
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
	export := func(dir string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		return state.ExportBigtable(ctx, srv.Internals(), srv.Conn(), dir)
	}
	if imported != nil {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		err := imported.Apply(ctx, srv.Conn())
		cancel()
		if err != nil {
			return err
		}
		log.Printf("imported %d tables, %d cells from %s in %s", len(imported.Tables), imported.CellCount(), stateFlags.Import, time.Since(start).Round(time.Millisecond))
	}
	if seed != nil {
		if err := seed.Apply(seed.ApplyBigtable, srv.Conn()); err != nil {
			return err
		}
	}
	var admin *http.Server
	var adminAddr string
	if *adminPort >= 0 {
		adminHost := *host
		if *address != "" {
			adminHost = "127.0.0.1"
			if h, _, err := net.SplitHostPort(*address); err == nil && h != "" {
				adminHost = h
			}
		}
		lis, err := net.Listen("tcp", net.JoinHostPort(adminHost, strconv.Itoa(*adminPort)))
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/export", state.ExportHandler(export))
		admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go admin.Serve(lis) //nolint:errcheck // returns once closed
		defer admin.Close()
		adminAddr = net.JoinHostPort(adminHost, strconv.Itoa(lis.Addr().(*net.TCPAddr).Port))
	}
	srv.Ready()
	fmt.Fprintf(stdout, "bigtable emulator listening on %s\n", srv.Addr())
	if admin != nil {
		fmt.Fprintf(stdout, "bigtable emulator admin on %s\n", adminAddr)
	}
	sig := <-signals
	log.Printf("received %s, shutting down", sig)
	if dir := stateFlags.ExportOnExit; dir != "" {
		if err := export(dir); err != nil {
			return fmt.Errorf("export on exit to %s: %w", dir, err)
		}
		log.Printf("exported state to %s", dir)
	}
	return nil
}
