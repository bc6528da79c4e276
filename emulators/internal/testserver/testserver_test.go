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

// Serve's connection (and server) and Dial's connection work in the test
// that opened them and are closed when it ends.
func TestConnectionsCloseWhenTheirTestEnds(t *testing.T) {
	cases := []struct {
		name string
		open func(outer, inner testing.TB, srv *grpc.Server) *grpc.ClientConn
	}{
		{"serve in process", func(_, inner testing.TB, srv *grpc.Server) *grpc.ClientConn { return Serve(inner, srv) }},
		{"dial over TCP", func(outer, inner testing.TB, srv *grpc.Server) *grpc.ClientConn {
			return Dial(inner, ServeTCP(outer, srv))
		}},
	}
	for _, c := range cases {
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, health.NewServer())
		var conn *grpc.ClientConn
		t.Run(c.name, func(inner *testing.T) {
			conn = c.open(t, inner, srv)
			if err := check(inner, conn); err != nil {
				inner.Fatalf("health: %v", err)
			}
		})
		if err := check(t, conn); err == nil {
			t.Fatalf("%s: the connection still works after the test that opened it ended", c.name)
		}
	}
}
