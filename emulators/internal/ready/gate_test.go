package ready

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
)

// serve runs a server with nothing but the gate and its health handler, on
// loopback TCP and on a bufconn, and returns a client of each.
func serve(t *testing.T, g *Gate) (tcp, inproc *grpc.ClientConn) {
	t.Helper()
	srv := grpc.NewServer(append(g.ServerOptions(), grpc.UnknownServiceHandler(g.HealthHandler()))...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mem := bufconn.Listen(1 << 16)
	go srv.Serve(lis) //nolint:errcheck
	go srv.Serve(mem) //nolint:errcheck
	t.Cleanup(srv.Stop)
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	tcp, _ = grpc.NewClient(lis.Addr().String(), creds)
	inproc, _ = grpc.NewClient("passthrough:///mem", creds,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return mem.DialContext(ctx) }))
	t.Cleanup(func() { tcp.Close(); inproc.Close() })
	return tcp, inproc
}

func check(t *testing.T, conn *grpc.ClientConn, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return resp.GetStatus(), err
}

// other calls a method no service implements: the gate holds it like any call.
func other(conn *grpc.ClientConn, wait time.Duration) codes.Code {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return status.Code(conn.Invoke(ctx, "/some.Service/Method", &emptypb.Empty{}, &emptypb.Empty{}))
}

func TestHealthAndHeldCallsBeforeAndAfterOpen(t *testing.T) {
	g := New("some.Service")
	tcp, inproc := serve(t, g)
	cases := []struct {
		name     string
		open     bool
		status   healthpb.HealthCheckResponse_ServingStatus
		tcpCall  codes.Code
		fromProc codes.Code
	}{
		{"before Open", false, healthpb.HealthCheckResponse_NOT_SERVING, codes.DeadlineExceeded, codes.Unimplemented},
		{"after Open", true, healthpb.HealthCheckResponse_SERVING, codes.Unimplemented, codes.Unimplemented},
	}
	for _, c := range cases {
		if c.open {
			g.Open()
			g.Open() // a second Open is harmless
		}
		for _, svc := range []string{"", "some.Service"} {
			if got, err := check(t, tcp, svc); err != nil || got != c.status {
				t.Errorf("%s: health of %q = %v, %v; want %v", c.name, svc, got, err, c.status)
			}
		}
		if got := other(tcp, 200*time.Millisecond); got != c.tcpCall {
			t.Errorf("%s: call over TCP: %v, want %v", c.name, got, c.tcpCall)
		}
		if got := other(inproc, 2*time.Second); got != c.fromProc {
			t.Errorf("%s: in-process call: %v, want %v", c.name, got, c.fromProc)
		}
	}
	if _, err := check(t, tcp, "unknown.Service"); status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}
}

func TestHeldCallProceedsWhenTheGateOpens(t *testing.T) {
	g := New()
	tcp, _ := serve(t, g)
	done := make(chan codes.Code, 1)
	go func() { done <- other(tcp, 5*time.Second) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case c := <-done:
		t.Fatalf("call answered (%v) before Open", c)
	default:
	}
	g.Open()
	if got := <-done; got != codes.Unimplemented {
		t.Errorf("held call ended with %v, want Unimplemented", got)
	}
}

func TestWatchSeesTheChangeToServing(t *testing.T) {
	g := New()
	tcp, _ := serve(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := healthpb.NewHealthClient(tcp).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_NOT_SERVING, healthpb.HealthCheckResponse_SERVING}
	for i, w := range want {
		resp, err := stream.Recv()
		if err != nil || resp.GetStatus() != w {
			t.Fatalf("update %d: %v, %v; want %v", i, resp, err, w)
		}
		if i == 0 {
			g.Open()
		}
	}
}
