package cli

import (
	"context"
	"flag"
	"log"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/seed"
)

// applyTimeout bounds seeding an in-memory emulator; it takes milliseconds.
const applyTimeout = 30 * time.Second

// SeedFlags are -seed FILE and -project P.
type SeedFlags struct{ path, project string }

// Register adds the flags to fs.
func (f *SeedFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "seed", "", "seed file (etl.toml) to apply before reporting ready")
	fs.StringVar(&f.project, "project", "", "project to seed (default: $GOOGLE_CLOUD_PROJECT, else the file's project)")
}

// Seed is a loaded seed file and the project it is for.
type Seed struct {
	*seed.Seed
	Project string
}

// Load reads the seed file: nil without -seed; a bad file is a UsageError.
func (f *SeedFlags) Load() (*Seed, error) {
	if f.path == "" {
		return nil, nil
	}
	s, err := seed.Load(f.path)
	if err != nil {
		return nil, Usage(err)
	}
	return &Seed{s, s.PickProject(f.project)}, nil
}

// Apply runs apply (s.ApplyPubSub or s.ApplyBigtable) over conn for the
// project, and logs what it seeded.
func (s *Seed) Apply(apply func(context.Context, grpc.ClientConnInterface, string) error, conn grpc.ClientConnInterface) error {
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	start := time.Now()
	if err := apply(ctx, conn, s.Project); err != nil {
		return err
	}
	log.Printf("seeded project %s, stages %s, from %s in %s", s.Project, strings.Join(s.Stages, ","), s.Source, time.Since(start).Round(time.Millisecond))
	return nil
}
