// Package clitest is for the emulator commands' tests: it runs a command's
// cli.Run in process, reads its stdout line by line and signals it, and
// checks what the commands share (exit status 2 on bad input, the admin
// API's export).
package clitest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etl-pipeline/emulators/internal/cli"
)

// Command is a cli.Run running in a goroutine, its stdout split into lines.
type Command struct {
	t       testing.TB
	lines   *bufio.Scanner
	signals chan os.Signal
	result  chan error
}

// Start runs run with args in a goroutine; Stop ends it.
func Start(t testing.TB, run cli.Run, args ...string) *Command {
	out, w := io.Pipe()
	c := &Command{t, bufio.NewScanner(out), make(chan os.Signal, 1), make(chan error, 1)}
	go func() {
		c.result <- run(args, w, c.signals)
		w.Close()
	}()
	return c
}

// Line reads the next stdout line and returns what follows prefix, failing
// the test when the command ended first or the line starts otherwise.
func (c *Command) Line(prefix string) string {
	c.t.Helper()
	if !c.lines.Scan() {
		c.t.Fatalf("no line %q: %v", prefix, <-c.result)
	}
	rest, ok := strings.CutPrefix(c.lines.Text(), prefix)
	if !ok {
		c.t.Fatalf("stdout line %q, want %q...", c.lines.Text(), prefix)
	}
	return rest
}

// Stop sends SIGTERM; see StopWith.
func (c *Command) Stop() { c.t.Helper(); c.StopWith(syscall.SIGTERM) }

// StopWith sends sig and checks that the command returns nil within 5 s
// and wrote no further stdout line.
func (c *Command) StopWith(sig os.Signal) {
	c.t.Helper()
	c.signals <- sig
	select {
	case err := <-c.result:
		if err != nil {
			c.t.Fatalf("run returned %v after %s, want nil", err, sig)
		}
	case <-time.After(5 * time.Second):
		c.t.Fatalf("still running 5s after %s", sig)
	}
	if c.lines.Scan() {
		c.t.Errorf("unexpected extra stdout line %q", c.lines.Text())
	}
}

// BadInput is one case of RefusesBadInput: the arguments, and what the
// error must contain.
type BadInput struct {
	Name string
	Args []string
	Want string
}

// RefusesBadInput checks that run, given each case's arguments (and a free
// port), fails with exit status 2 and an error containing Want before it
// writes anything to stdout.
func RefusesBadInput(t *testing.T, run cli.Run, cases []BadInput) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var stdout strings.Builder
			err := run(append(c.Args, "--port=0"), &stdout, nil)
			if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.Want) {
				t.Errorf("run: %v (exit status %d), want status 2 and %q", err, cli.ExitCode(err), c.Want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// Export asks the admin API at admin (host:port) to export the state into
// dir, and fails the test unless it answers 200 naming dir.
func Export(t *testing.T, admin, dir string) {
	t.Helper()
	resp, err := http.Post("http://"+admin+"/v1/export?dir="+dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct{ Dir, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 || answer.Dir != dir {
		t.Fatalf("POST /v1/export: %d %+v %v", resp.StatusCode, answer, err)
	}
}
