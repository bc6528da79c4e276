// Package pubsubadmin serves a read-only JSON view of the Pub/Sub emulator
// for inspectors: subscriptions with their backlog, and recent messages.
//
//	GET /v1/subscriptions?project=P
//	GET /v1/messages?project=P&topic=T&limit=N
//
// plus, with WithFaults, the faults API (internal/faults), and any route
// given WithRoute.
package pubsubadmin

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// Server is a running admin API.
type Server struct {
	http     *http.Server
	listener net.Listener
}

// Start serves the admin API of fake on addr ("host:port"; port 0 picks a
// free one), with opts: WithSource (the emulator's fidelity layer, which
// serves Publish and parks messages outside pstest: messages and backlogs
// come from it too; without, from pstest alone), WithFaults, WithRoute.
func Start(addr string, fake *pstest.Server, opts ...Option) (*Server, error) {
	handler, err := Handler(fake, opts...)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		http:     &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second},
		listener: lis,
	}
	go s.http.Serve(lis) //nolint:errcheck // returns once closed
	return s, nil
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// Close stops the server, waiting at most a second for requests in flight.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.http.Shutdown(ctx) != nil {
		s.http.Close()
	}
}

// Option adds to the admin API.
type Option func(*api, *http.ServeMux)

// WithFaults serves reg's faults API (internal/faults.Registry.Routes) and
// reports each subscription's faults in GET /v1/subscriptions.
func WithFaults(reg *faults.Registry) Option {
	return func(a *api, mux *http.ServeMux) {
		a.faults = reg
		reg.Routes(mux, func(name string) bool {
			_, err := a.fake.GServer.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: name})
			return err == nil
		})
	}
}

// WithRoute serves handler at pattern (a net/http ServeMux pattern).
func WithRoute(pattern string, handler http.HandlerFunc) Option {
	return func(_ *api, mux *http.ServeMux) { mux.HandleFunc(pattern, handler) }
}

// Source is what the fidelity layer adds to pstest's own view.
type Source interface {
	Messages() []*pstest.Message // the latest messages, oldest first
	Parked() map[string]int      // messages waiting outside pstest, by subscription
}

// WithSource takes messages and parked backlogs from src as well as pstest.
func WithSource(src Source) Option {
	return func(a *api, _ *http.ServeMux) {
		if src != nil {
			a.source, a.parked = src.Messages, src.Parked
		}
	}
}

// Handler routes the admin API's requests; opts as for Start. It fails
// if pstest's internals are not reachable (internal/pstestx).
func Handler(fake *pstest.Server, opts ...Option) (http.Handler, error) {
	internals, err := pstestx.Open(&fake.GServer)
	if err != nil {
		return nil, err
	}
	a := &api{fake: fake, internals: internals, source: fake.Messages, parked: func() map[string]int { return nil }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/subscriptions", a.subscriptions)
	mux.HandleFunc("GET /v1/messages", a.messages)
	for _, o := range opts {
		o(a, mux)
	}
	return mux, nil
}

type api struct {
	fake      *pstest.Server
	internals *pstestx.Server
	faults    *faults.Registry         // nil: no faults reported
	source    func() []*pstest.Message // oldest first
	parked    func() map[string]int
	// messagesMu serializes pstest's Messages(), which writes counters
	// into the shared *Message values that callers then read unlocked.
	messagesMu sync.Mutex
}
