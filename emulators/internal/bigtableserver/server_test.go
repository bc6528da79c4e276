package bigtableserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

const parent = "projects/p/instances/i"

func health(conn *grpc.ClientConn) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return resp.GetStatus(), err
}

func tables(conn *grpc.ClientConn, wait time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := btapb.NewBigtableTableAdminClient(conn).ListTables(ctx, &btapb.ListTablesRequest{Parent: parent})
	return len(resp.GetTables()), err
}

func TestOutsideCallersWaitUntilReady(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") || strings.HasSuffix(srv.Addr(), ":0") {
		t.Errorf("Addr %q", srv.Addr())
	}
	conn := testserver.Dial(t, srv.Addr())

	if got, err := health(conn); err != nil || got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health before Ready: %v, %v", got, err)
	}
	if _, err := tables(conn, 200*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("ListTables before Ready: %v, want it held until the deadline", err)
	}
	_, err = btapb.NewBigtableTableAdminClient(srv.Conn()).CreateTable(context.Background(),
		&btapb.CreateTableRequest{Parent: parent, TableId: "seeded", Table: &btapb.Table{}})
	if err != nil {
		t.Fatalf("in-process CreateTable before Ready: %v", err)
	}

	srv.Ready()
	if got, err := health(conn); err != nil || got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after Ready: %v, %v", got, err)
	}
	if n, err := tables(conn, 2*time.Second); err != nil || n != 1 {
		t.Fatalf("ListTables after Ready: %d tables, %v", n, err)
	}

	srv.Close()
	if _, err := health(conn); err == nil {
		t.Error("still answering after Close")
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bt.sock")
	srv, err := Start(path)
	if err != nil {
		t.Fatal(err)
	}
	srv.Ready()
	if srv.Addr() != path {
		t.Errorf("Addr %q, want %q", srv.Addr(), path)
	}
	if n, err := tables(testserver.Dial(t, "unix://"+path), 2*time.Second); err != nil || n != 0 {
		t.Fatalf("ListTables over the socket: %d, %v", n, err)
	}
	srv.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
