// Package cli holds what the emulator commands share: the seed flags,
// signal handling and exit statuses.
package cli

import (
	"errors"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
)

// Run is a command's body: it serves until a signal arrives, then returns.
type Run func(args []string, stdout io.Writer, signals <-chan os.Signal) error

// Main runs run with the process's arguments, stdout, SIGINT and SIGTERM,
// and exits with ExitCode of its result.
func Main(name string, run Run) {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix(name + ": ")
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(ExitCode(run(os.Args[1:], os.Stdout, signals)))
}

// UsageError is bad input: flags or the seed file. Exit status 2.
type UsageError struct {
	Err     error
	printed bool // by the flag package, with the usage
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as bad input.
func Usage(err error) error { return &UsageError{Err: err} }

// Parse parses args; errors other than -help are UsageErrors.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &UsageError{Err: err, printed: true}
}

// ExitCode logs err to stderr unless already shown and returns the exit
// status: 0 for nil and -help, 2 for a UsageError, 1 otherwise.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if !usage.printed {
			log.Print(err)
		}
		return 2
	}
	log.Print(err)
	return 1
}
