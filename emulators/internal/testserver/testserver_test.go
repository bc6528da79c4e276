package testserver

import (
	"context"
	"maps"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
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

func TestTallyCountsCodesAndKeepsTheInternalOnes(t *testing.T) {
	var tally Tally
	tally.Record("ok", nil)
	tally.Record("missing", status.Error(codes.NotFound, "gone"))
	tally.Record("panicked", status.Error(codes.Internal, "boom"))
	tally.Record("ok again", nil)
	want := map[codes.Code]int{codes.OK: 2, codes.NotFound: 1, codes.Internal: 1}
	if got := tally.Calls(); !maps.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if got := tally.Internal(); len(got) != 1 || got[0] != "panicked: rpc error: code = Internal desc = boom" {
		t.Errorf("internal %q", got)
	}
}

func TestHammerCallsStepThenWaitsForItsWorkers(t *testing.T) {
	var calls atomic.Int64
	Hammer(20*time.Millisecond, 3, func(*rand.Rand) { calls.Add(1) })
	after := calls.Load()
	time.Sleep(20 * time.Millisecond) // a worker still running would add more
	if after == 0 || calls.Load() != after {
		t.Fatalf("%d calls when Hammer returned, %d a little later", after, calls.Load())
	}
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	polls := 0
	WaitFor(t, 10*time.Second, "the third poll", func() bool { polls++; return polls == 3 })
	if polls != 3 {
		t.Fatalf("polled %d times, want 3", polls)
	}
}
