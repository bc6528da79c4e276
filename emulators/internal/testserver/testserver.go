// Package testserver is for tests: it serves a gRPC server in process and
// dials servers, closing what it opened when the test ends.
package testserver

import (
	"context"
	"net"
	"testing"

	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// Serve serves srv on an in-process listener and returns a client
// connection to it. When t ends the connection is closed, then srv stopped
// (so cleanups registered before Serve run after both).
func Serve(t testing.TB, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis) //nolint:errcheck
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

// Dial returns a client connection (no TLS) to the server at target,
// closed when t ends.
func Dial(t testing.TB, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Pstest starts a pstest server, closed when t ends, and opens its
// internals (internal/pstestx).
func Pstest(t testing.TB) (*pstest.Server, *pstestx.Server) {
	t.Helper()
	fake := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { fake.Close() })
	srv, err := pstestx.Open(&fake.GServer)
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv
}
