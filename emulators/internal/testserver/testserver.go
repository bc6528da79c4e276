// Package testserver is for tests: it serves a gRPC server in process and
// dials servers, closing what it opened when the test ends. For the
// emulators' tests it also starts pstest and serves Pub/Sub's two services
// (pubsub.go), records what a push subscription sends (push.go) and reads
// the cell chunks of Bigtable rows (bigtable.go).
package testserver

import (
	"context"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
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

// ServeTCP serves srv on a free loopback TCP port and returns its address;
// srv is stopped when t ends.
func ServeTCP(t testing.TB, srv *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis) //nolint:errcheck
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
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

// Hammer calls step over and over from `workers` goroutines, each with its
// own random source (seeded from the clock and its index, so runs differ),
// until d has passed; it returns once they have all stopped. The chaos
// tests drive an emulator with random RPCs this way.
func Hammer(d time.Duration, workers int, step func(r *rand.Rand)) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for time.Now().Before(deadline) {
				step(r)
			}
		}()
	}
	wg.Wait()
}

// WaitFor polls cond every 5 ms until it holds, failing t (naming what it
// waited for) once timeout has passed.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Tally counts a chaos test's calls by status code and keeps those that
// ended INTERNAL (a panic the server recovered from); safe for concurrent use.
type Tally struct {
	mu       sync.Mutex
	calls    map[codes.Code]int
	internal []string
}

// Record counts err's code; an INTERNAL one is kept as "op: err".
func (t *Tally) Record(op string, err error) {
	code := status.Code(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.calls == nil {
		t.calls = map[codes.Code]int{}
	}
	t.calls[code]++
	if code == codes.Internal {
		t.internal = append(t.internal, op+": "+err.Error())
	}
}

// Calls is how many calls ended with each code so far.
func (t *Tally) Calls() map[codes.Code]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.calls)
}

// Internal is the calls that ended INTERNAL so far, as "op: err".
func (t *Tally) Internal() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.internal)
}
