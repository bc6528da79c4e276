// Package ready keeps a gRPC server "not ready" until its owner says so
// (once the seed file is applied): health checks answer NOT_SERVING, and
// every other call from outside the process waits, so a client whose first
// call is answered sees the seeded state. Calls over an in-process bufconn
// connection (seeding, push delivery) pass at once.
package ready

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const healthPrefix = "/grpc.health.v1.Health/"

// Gate is a server's readiness: its health service and the calls it holds.
type Gate struct {
	Health   *health.Server // register it, or serve it with HealthHandler
	services []string
	open     chan struct{}
	once     sync.Once
}

// New returns a closed gate whose health service reports NOT_SERVING for
// the server as a whole ("") and for each of services.
func New(services ...string) *Gate {
	g := &Gate{Health: health.NewServer(), services: append([]string{""}, services...), open: make(chan struct{})}
	g.set(healthpb.HealthCheckResponse_NOT_SERVING)
	return g
}

// Open reports SERVING and lets held calls through. Later calls do nothing.
func (g *Gate) Open() {
	g.once.Do(func() {
		g.set(healthpb.HealthCheckResponse_SERVING)
		close(g.open)
	})
}

func (g *Gate) set(s healthpb.HealthCheckResponse_ServingStatus) {
	for _, name := range g.services {
		g.Health.SetServingStatus(name, s)
	}
}

// ServerOptions install the gate on a gRPC server.
func (g *Gate) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := g.wait(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := g.wait(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// wait holds a call until the gate opens, unless it is a health check or
// comes from inside the process.
func (g *Gate) wait(ctx context.Context, method string) error {
	if strings.HasPrefix(method, healthPrefix) || inProcess(ctx) {
		return nil
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// inProcess tells whether the call came over a bufconn listener.
func inProcess(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	return ok && p.Addr != nil && p.Addr.Network() == "bufconn"
}
