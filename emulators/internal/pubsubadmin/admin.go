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
// free one). Messages come from messages when given (the emulator's
// fidelity layer, which serves Publish), else from pstest's own list.
func Start(addr string, fake *pstest.Server, messages ...func() []*pstest.Message) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		http:     &http.Server{Handler: Handler(fake, messages...), ReadHeaderTimeout: 10 * time.Second},
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

// Handler routes the admin API's requests; messages as for Start.
func Handler(fake *pstest.Server, messages ...func() []*pstest.Message) http.Handler {
	a := &api{fake: fake, source: fake.Messages}
	if len(messages) > 0 && messages[0] != nil {
		a.source = messages[0]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/subscriptions", a.subscriptions)
	mux.HandleFunc("GET /v1/messages", a.messages)
	return mux
}

type api struct {
	fake   *pstest.Server
	source func() []*pstest.Message // oldest first
	// messagesMu serializes pstest's Messages(), which writes counters
	// into the shared *Message values that callers then read unlocked.
	messagesMu sync.Mutex
}
