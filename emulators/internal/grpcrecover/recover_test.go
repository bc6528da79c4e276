package grpcrecover

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// panicky panics on its first call of each method, then answers.
type panicky struct {
	healthpb.UnimplementedHealthServer
	checks, watches atomic.Int32
}

func (p *panicky) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if p.checks.Add(1) == 1 {
		var m map[string]int
		m["boom"] = 1 // nil map write
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (p *panicky) Watch(_ *healthpb.HealthCheckRequest, s grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if p.watches.Add(1) == 1 {
		var s *struct{ x int }
		_ = s.x // nil dereference
	}
	return s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

func TestPanicsBecomeInternalAndTheServerGoesOn(t *testing.T) {
	var logged atomic.Int32
	old := Logf
	t.Cleanup(func() { Logf = old }) // after the server stops
	Logf = func(string, ...any) { logged.Add(1) }

	srv := grpc.NewServer(ServerOptions()...)
	healthpb.RegisterHealthServer(srv, &panicky{})
	conn := testserver.Serve(t, srv)
	client := healthpb.NewHealthClient(conn)
	ctx := context.Background()

	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if s := status.Convert(err); s.Code() != codes.Internal || !strings.Contains(s.Message(), "Check") {
		t.Fatalf("first Check: %v, want INTERNAL naming the method", err)
	}
	if resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("second Check: %v %v", resp, err)
	}

	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Internal {
		t.Fatalf("first Watch: %v, want INTERNAL", err)
	}
	stream, err = client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("second Watch: %v %v", resp, err)
	}
	if logged.Load() != 2 {
		t.Fatalf("%d panics logged, want 2", logged.Load())
	}
}

func TestRunSwallowsAPanic(t *testing.T) {
	defer func(old func(string, ...any)) { Logf = old }(Logf)
	Logf = func(string, ...any) {}
	if Run("ok", func() {}) != true {
		t.Fatal("Run of a normal function reported a panic")
	}
	ran := false
	if Run("boom", func() { ran = true; panic("boom") }) != false || !ran {
		t.Fatal("Run did not report the panic")
	}
}
