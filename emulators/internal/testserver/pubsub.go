package testserver

import (
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

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

// PubSub serves pub and sub (pstest's GServer, or layers around it) in
// process on a new gRPC server built with opts, and returns API clients of
// them; they close, and the server stops, when t ends (as with Serve).
func PubSub(t testing.TB, pub pb.PublisherServer, sub pb.SubscriberServer, opts ...grpc.ServerOption) (pb.PublisherClient, pb.SubscriberClient) {
	t.Helper()
	srv := grpc.NewServer(opts...)
	pb.RegisterPublisherServer(srv, pub)
	pb.RegisterSubscriberServer(srv, sub)
	conn := Serve(t, srv)
	return pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
}
