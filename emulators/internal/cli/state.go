package cli

import "flag"

// StateFlags are --import DIR and --export-on-exit DIR (internal/state).
type StateFlags struct {
	Import, ExportOnExit string
}

// Register adds the flags to fs.
func (f *StateFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Import, "import", "", "state directory (an export) to import before reporting ready; refused whole (exit 2) if incompatible or corrupt")
	fs.StringVar(&f.ExportOnExit, "export-on-exit", "", "state directory to export to on SIGTERM/SIGINT")
}
