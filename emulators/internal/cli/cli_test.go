package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"
)

func TestExitCode(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"-help", Parse(fs, []string{"-help"}), 0},
		{"unknown flag", Parse(fs, []string{"-nope"}), 2},
		{"bad seed file", fmt.Errorf("wrapped: %w", Usage(errors.New("etl.toml:3: bad"))), 2},
		{"anything else", errors.New("address in use"), 1},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}
