package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

func TestStateFlagImportsOnlyAnExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pubsub")
	f := StateFlags{State: dir}
	if err := f.Resolve(); err != nil || f.Import != "" || f.ExportOnExit != dir {
		t.Fatalf("fresh --state: %+v %v", f, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("--state not created: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	f = StateFlags{State: dir}
	if err := f.Resolve(); err != nil || f.Import != dir || f.ExportOnExit != dir {
		t.Fatalf("--state with an export: %+v %v", f, err)
	}
	f = StateFlags{State: dir, ExportOnExit: "/elsewhere", Import: "/other"}
	if err := f.Resolve(); err != nil || f.Import != "/other" || f.ExportOnExit != "/elsewhere" {
		t.Fatalf("explicit flags win: %+v %v", f, err)
	}
}
