package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/etl-pipeline/emulators/internal/cli"
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
			out, w := io.Pipe()
			signals, result := make(chan os.Signal, 1), make(chan error, 1)
			go func() {
				result <- run([]string{"-host", "127.0.0.1", "-port", "0", "-seed", path, "-project", "proj"}, w, signals)
				w.Close()
			}()
			lines := bufio.NewScanner(out)
			if !lines.Scan() {
				t.Fatalf("no readiness line: %v", <-result)
			}
			addr, ok := strings.CutPrefix(lines.Text(), "bigtable emulator listening on ")
			if !ok {
				t.Fatalf("readiness line %q", lines.Text())
			}
			checkSeededAndServing(t, addr)

			signals <- sig
			select {
			case err := <-result:
				if err != nil {
					t.Fatalf("run returned %v after %s, want nil", err, sig)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("still running 5s after %s", sig)
			}
			if lines.Scan() {
				t.Errorf("unexpected extra stdout line %q", lines.Text())
			}
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
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"invalid seed file", []string{"-seed", bad}, bad + `:9: bigtable.tables[0] "raw_{stage}": families.event.max_versions must be 1-2147483647, got 0`},
		{"unknown flag", []string{"-colour"}, "colour"},
		{"admin port", []string{"-admin-port=70000"}, "--admin-port"},
		{"import of no state", []string{"-import", t.TempDir()}, "no manifest.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout strings.Builder
			err := run(append(c.args, "-port=0"), &stdout, nil)
			if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
				t.Errorf("run: %v (exit status %d), want status 2 and %q", err, cli.ExitCode(err), c.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// running is run() in a goroutine with its stdout lines.
type running struct {
	lines   *bufio.Scanner
	signals chan os.Signal
	result  chan error
}

func launch(t *testing.T, args ...string) *running {
	out, w := io.Pipe()
	r := &running{bufio.NewScanner(out), make(chan os.Signal, 1), make(chan error, 1)}
	go func() {
		r.result <- run(append([]string{"-host", "127.0.0.1", "-port", "0"}, args...), w, r.signals)
		w.Close()
	}()
	return r
}

func (r *running) line(t *testing.T, prefix string) string {
	t.Helper()
	if !r.lines.Scan() {
		t.Fatalf("no line %q: %v", prefix, <-r.result)
	}
	rest, ok := strings.CutPrefix(r.lines.Text(), prefix)
	if !ok {
		t.Fatalf("line %q, want %q...", r.lines.Text(), prefix)
	}
	return rest
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.signals <- syscall.SIGTERM
	if err := <-r.result; err != nil {
		t.Fatalf("exit: %v", err)
	}
}

func TestExportOnDemandOnExitAndImport(t *testing.T) {
	ctx := context.Background()
	onDemand, onExit := t.TempDir(), t.TempDir()
	r := launch(t, "-seed", writeSeed(t, seedFile), "-project", "proj", "-admin-port", "0", "-export-on-exit", onExit)
	addr := r.line(t, "bigtable emulator listening on ")
	admin := r.line(t, "bigtable emulator admin on ")
	conn := testserver.Dial(t, addr)
	const table = "projects/proj/instances/inst/tables/raw_dev"
	_, err := btpb.NewBigtableClient(conn).MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("row"), Mutations: []*btpb.Mutation{
		{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: "event", ColumnQualifier: []byte("c"), TimestampMicros: 42000, Value: []byte("v")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+admin+"/v1/export?dir="+onDemand, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ Dir, Error string }
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != 200 || answer.Dir != onDemand {
		t.Fatalf("POST /v1/export: %d %+v", resp.StatusCode, answer)
	}
	r.stop(t)

	for _, dir := range []string{onDemand, onExit} {
		r := launch(t, "-import", dir)
		conn := testserver.Dial(t, r.line(t, "bigtable emulator listening on "))
		stream, err := btpb.NewBigtableClient(conn).ReadRows(ctx, &btpb.ReadRowsRequest{TableName: table})
		if err != nil {
			t.Fatal(err)
		}
		got, err := stream.Recv()
		if err != nil || len(got.GetChunks()) != 1 || string(got.GetChunks()[0].GetValue()) != "v" || got.GetChunks()[0].GetTimestampMicros() != 42000 {
			t.Errorf("%s: rows after import: %v %v", dir, got, err)
		}
		conn.Close()
		r.stop(t)
	}
}
