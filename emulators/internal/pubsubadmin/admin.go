// Package pubsubadmin serves a read-only JSON view of the Pub/Sub emulator
// for inspectors: subscriptions with their backlog, and recent messages.
//
//	GET /v1/subscriptions?project=P
//	GET /v1/messages?project=P&topic=T&limit=N
package pubsubadmin

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
)

// Server is a running admin API.
type Server struct {
	http     *http.Server
	listener net.Listener
}

// Start serves the admin API of fake on addr ("host:port"; port 0 picks a
// free one). With a Source (the emulator's fidelity layer, which serves
// Publish and parks messages outside pstest), messages and backlogs come
// from it too; without, from pstest alone.
func Start(addr string, fake *pstest.Server, src ...Source) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		http:     &http.Server{Handler: Handler(fake, src...), ReadHeaderTimeout: 10 * time.Second},
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

// Source is what the fidelity layer adds to pstest's own view.
type Source interface {
	Messages() []*pstest.Message // the latest messages, oldest first
	Parked() map[string]int      // messages waiting outside pstest, by subscription
}

// Handler routes the admin API's requests; src as for Start.
func Handler(fake *pstest.Server, src ...Source) http.Handler {
	a := &api{fake: fake, source: fake.Messages, parked: func() map[string]int { return nil }}
	if len(src) > 0 && src[0] != nil {
		a.source, a.parked = src[0].Messages, src[0].Parked
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/subscriptions", a.subscriptions)
	mux.HandleFunc("GET /v1/messages", a.messages)
	return mux
}

type api struct {
	fake   *pstest.Server
	source func() []*pstest.Message // oldest first
	parked func() map[string]int
	// messagesMu serializes pstest's Messages(), which writes counters
	// into the shared *Message values that callers then read unlocked.
	messagesMu sync.Mutex
}
