package testserver

import (
	"context"
	"net"
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
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) //nolint:errcheck
	defer srv.Stop()
	var conn *grpc.ClientConn
	t.Run("dial", func(t *testing.T) {
		conn = Dial(t, lis.Addr().String())
		if err := check(t, conn); err != nil {
			t.Fatalf("health over TCP: %v", err)
		}
	})
	if err := check(t, conn); err == nil {
		t.Fatal("the connection still works after the test that opened it ended")
	}
}
