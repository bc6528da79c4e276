// Package bigtableserver runs Google's in-memory Bigtable (bttest, the
// server gcloud's cbtemulator runs) with what bttest lacks: a gRPC health
// service, a readiness gate (until Ready, health checks answer NOT_SERVING
// and calls from outside the process wait) and an in-process connection,
// so the owner can seed it before clients see it.
package bigtableserver

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/etl-pipeline/emulators/internal/bigtableaggregate"
	"github.com/etl-pipeline/emulators/internal/bttestx"
	"github.com/etl-pipeline/emulators/internal/grpcrecover"
	"github.com/etl-pipeline/emulators/internal/ready"
)

// maxMessageSize is cbtemulator's: large reads and mutations pass.
const maxMessageSize = 256 << 20

// Server is a running Bigtable emulator.
type Server struct {
	addr      string
	bt        *bttest.Server
	internals *bttestx.Server
	gate      *ready.Gate
	listener  *multiListener
	conn      *grpc.ClientConn
	closing   sync.Once
}

// Start listens on laddr, "host:port" (port 0 picks a free one) or, if it
// contains a slash, a unix socket path, and serves the Bigtable APIs.
func Start(laddr string) (*Server, error) {
	public, err := listen(laddr)
	if err != nil {
		return nil, err
	}
	internal := bufconn.Listen(1 << 20)
	gate := ready.New("google.bigtable.v2.Bigtable", "google.bigtable.admin.v2.BigtableTableAdmin", "google.bigtable.admin.v2.BigtableInstanceAdmin")
	order, aggregates := &familyOrder{}, bigtableaggregate.New()
	opts := append(append(append(append(gate.ServerOptions(), grpcrecover.ServerOptions()...), order.serverOptions()...), aggregates.ServerOptions()...),
		grpc.UnknownServiceHandler(gate.HealthHandler()),
		grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	s := &Server{addr: address(laddr, public), gate: gate, listener: listenBoth(public, internal)}
	s.conn, err = grpc.NewClient("passthrough:///bttest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return internal.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	)
	if err != nil {
		s.listener.Close()
		return nil, err
	}
	aggregates.Use(s.conn)
	s.bt, _ = bttest.NewServerWithListener(s.listener, opts...) // never fails
	// A bttest whose internals moved refuses to start here (the error
	// names its version), before anything is served.
	s.internals, err = bttestx.Open(context.Background(), s.bt, s.conn)
	if err != nil {
		s.Close()
		return nil, err
	}
	order.bt.Store(s.internals)
	return s, nil
}

func listen(laddr string) (net.Listener, error) {
	if strings.Contains(laddr, "/") {
		return net.Listen("unix", laddr)
	}
	return net.Listen("tcp", laddr)
}

// address names the listener as given: "0.0.0.0:8086", not "[::]:8086".
func address(laddr string, l net.Listener) string {
	tcp, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return laddr
	}
	host, _, _ := net.SplitHostPort(laddr)
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// Addr is the address the server listens on: host as given, port as bound
// (or the unix socket path).
func (s *Server) Addr() string { return s.addr }

// Conn is an in-process connection to the server; its calls are never held.
func (s *Server) Conn() *grpc.ClientConn { return s.conn }

// Internals is the bttest server's state, for state export.
func (s *Server) Internals() *bttestx.Server { return s.internals }

// Ready reports SERVING and releases held calls.
func (s *Server) Ready() { s.gate.Open() }

// Close stops the server at once, as cbtemulator does, and its listeners.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.gate.Health.Shutdown()
		s.conn.Close()
		// First, or bttest's Stop waits forever for Serve, blocked in Accept
		// of a listener it does not own.
		s.listener.Close()
		s.bt.Close()
	})
}
