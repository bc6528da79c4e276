package testserver

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func check(t *testing.T, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestServeThenStopAtTheEnd(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	var conn *grpc.ClientConn
	t.Run("serve", func(t *testing.T) {
		conn = Serve(t, srv)
		if err := check(t, conn); err != nil {
			t.Fatalf("health over the in-process connection: %v", err)
		}
	})
	if err := check(t, conn); err == nil {
		t.Fatal("the connection still works after the test that opened it ended")
	}
}

func TestDialThenCloseAtTheEnd(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	addr := ServeTCP(t, srv)
	var conn *grpc.ClientConn
	t.Run("dial", func(t *testing.T) {
		conn = Dial(t, addr)
		if err := check(t, conn); err != nil {
			t.Fatalf("health over TCP: %v", err)
		}
	})
	if err := check(t, conn); err == nil {
		t.Fatal("the connection still works after the test that opened it ended")
	}
}
