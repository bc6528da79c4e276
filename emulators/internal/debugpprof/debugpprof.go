// Package debugpprof serves Go's profiler (net/http/pprof) for debugging an
// emulator under load: off unless --pprof-port is given, and always bound to
// the loopback interface, whatever address the emulator itself serves on (a
// profile shows the emulator's memory and goroutines; nothing off the machine
// should read it).
package debugpprof

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// Flag is the --pprof-port flag.
type Flag struct{ port int }

// Register adds --pprof-port to fs.
func (f *Flag) Register(fs *flag.FlagSet) {
	fs.IntVar(&f.port, "pprof-port", -1, "debug: serve net/http/pprof on 127.0.0.1:PORT (-1: off, 0: a free one); loopback only")
}

// Start serves the profiler when the flag asks for it and logs its address;
// it returns that address ("" when off) and a function that stops it.
func (f Flag) Start() (addr string, stop func(), err error) {
	if f.port < 0 {
		return "", func() {}, nil
	}
	if f.port > 65535 {
		return "", nil, fmt.Errorf("--pprof-port must be -1 (off) or 0-65535, got %d", f.port)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port)))
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: Mux(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis) //nolint:errcheck // returns once closed
	log.Printf("pprof (debug) on http://%s/debug/pprof/", lis.Addr())
	return lis.Addr().String(), func() { _ = srv.Close() }, nil
}

// Mux routes net/http/pprof's handlers on a mux of its own (importing the
// package registers them on http.DefaultServeMux, which nothing here serves).
func Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
