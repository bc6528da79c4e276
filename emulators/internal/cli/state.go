package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// StateFlags are --import DIR, --export-on-exit DIR and --state DIR
// (internal/state).
type StateFlags struct {
	Import, ExportOnExit, State string
}

// Register adds the flags to fs.
func (f *StateFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Import, "import", "", "state directory (an export) to import before reporting ready; refused whole (exit 2) if incompatible or corrupt")
	fs.StringVar(&f.ExportOnExit, "export-on-exit", "", "state directory to export to on SIGTERM/SIGINT")
	fs.StringVar(&f.State, "state", "", "state directory kept across restarts: imported at start if it holds an export (manifest.json), exported to on exit")
}

// Resolve applies --state: it sets --import (when DIR holds a manifest)
// and --export-on-exit unless they were given. A --state that cannot be
// created is a UsageError.
func (f *StateFlags) Resolve() error {
	if f.State == "" {
		return nil
	}
	if f.ExportOnExit == "" {
		f.ExportOnExit = f.State
	}
	if f.Import != "" {
		return nil
	}
	_, err := os.Stat(filepath.Join(f.State, "manifest.json"))
	switch {
	case err == nil:
		f.Import = f.State
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(f.State, 0o755); err != nil {
			return Usage(fmt.Errorf("--state: %w", err))
		}
	default:
		return Usage(fmt.Errorf("--state: %w", err))
	}
	return nil
}
