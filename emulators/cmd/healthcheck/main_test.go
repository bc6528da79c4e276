package main

import (
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// serve runs a gRPC server on a free loopback port, with a health service
// reporting st, or none when st is nil (like the Bigtable emulator).
func serve(t *testing.T, st *healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	srv := grpc.NewServer()
	if st != nil {
		hs := health.NewServer()
		hs.SetServingStatus("", *st)
		healthpb.RegisterHealthServer(srv, hs)
	}
	return testserver.ServeTCP(t, srv)
}

func TestServingServerIsHealthy(t *testing.T) {
	st := healthpb.HealthCheckResponse_SERVING
	if err := check(serve(t, &st), time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestServerWithoutHealthServiceIsHealthyBecauseItAnswered(t *testing.T) {
	if err := check(serve(t, nil), time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestNotServingServerIsUnhealthy(t *testing.T) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if err := check(serve(t, &st), time.Second); err == nil {
		t.Fatal("NOT_SERVING reported healthy")
	}
}

func TestNothingListeningIsUnhealthyAfterTheTimeout(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	t0 := time.Now()
	if err := check(addr, 300*time.Millisecond); err == nil {
		t.Fatal("closed port reported healthy")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("took %s despite a 300ms timeout", d)
	}
}
