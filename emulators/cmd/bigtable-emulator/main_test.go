package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/etl-pipeline/emulators/internal/cli/clitest"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

const seedFile = `project = "file-project"
stages = ["dev", "test"]

[bigtable]
instance = "inst"

[[bigtable.tables]]
name = "raw_{stage}"
families.event = { max_versions = 1 }
`

func writeSeed(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "etl.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSeedsThenPrintsOneLineAndExitsCleanlyOnEitherSignal(t *testing.T) {
	path := writeSeed(t, seedFile)
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := launch(t, "-seed", path, "-project", "proj")
			checkSeededAndServing(t, c.Line(listening))
			c.StopWith(sig)
		})
	}
}

// checkSeededAndServing calls without waiting: the line promises both.
func checkSeededAndServing(t *testing.T, addr string) {
	conn := testserver.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health right after the readiness line: %v, %v", resp, err)
	}
	list, err := btapb.NewBigtableTableAdminClient(conn).ListTables(ctx, &btapb.ListTablesRequest{Parent: "projects/proj/instances/inst"})
	if err != nil || len(list.GetTables()) != 2 {
		t.Fatalf("tables right after the readiness line: %v, %v", list, err)
	}
}

func TestBadInputExitsWithStatus2BeforeListening(t *testing.T) {
	bad := writeSeed(t, strings.Replace(seedFile, "max_versions = 1", "max_versions = 0", 1))
	clitest.RefusesBadInput(t, run, []clitest.BadInput{
		{Name: "invalid seed file", Args: []string{"-seed", bad}, Want: bad + `:9: bigtable.tables[0] "raw_{stage}": families.event.max_versions must be 1-2147483647, got 0`},
		{Name: "unknown flag", Args: []string{"-colour"}, Want: "colour"},
		{Name: "admin port", Args: []string{"-admin-port=70000"}, Want: "--admin-port"},
		{Name: "import of no state", Args: []string{"-import", t.TempDir()}, Want: "no manifest.json"},
	})
}

const listening = "bigtable emulator listening on "

// launch runs the command on a free loopback port.
func launch(t *testing.T, args ...string) *clitest.Command {
	return clitest.Start(t, run, append([]string{"-host", "127.0.0.1", "-port", "0"}, args...)...)
}

func TestExportOnDemandOnExitAndImport(t *testing.T) {
	ctx := context.Background()
	onDemand, onExit := t.TempDir(), t.TempDir()
	r := launch(t, "-seed", writeSeed(t, seedFile), "-project", "proj", "-admin-port", "0", "-export-on-exit", onExit)
	addr := r.Line(listening)
	admin := r.Line("bigtable emulator admin on ")
	conn := testserver.Dial(t, addr)
	const table = "projects/proj/instances/inst/tables/raw_dev"
	_, err := btpb.NewBigtableClient(conn).MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("row"), Mutations: []*btpb.Mutation{
		{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: "event", ColumnQualifier: []byte("c"), TimestampMicros: 42000, Value: []byte("v")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	clitest.Export(t, admin, onDemand)
	r.Stop()

	for _, dir := range []string{onDemand, onExit} {
		r := launch(t, "-import", dir)
		conn := testserver.Dial(t, r.Line(listening))
		stream, err := btpb.NewBigtableClient(conn).ReadRows(ctx, &btpb.ReadRowsRequest{TableName: table})
		if err != nil {
			t.Fatal(err)
		}
		got, err := stream.Recv()
		if err != nil || len(got.GetChunks()) != 1 || string(got.GetChunks()[0].GetValue()) != "v" || got.GetChunks()[0].GetTimestampMicros() != 42000 {
			t.Errorf("%s: rows after import: %v %v", dir, got, err)
		}
		conn.Close()
		r.Stop()
	}
}
