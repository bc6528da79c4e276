// Package pubsubserver assembles the Pub/Sub emulator: Google's in-memory
// fake (pstest) behind a gRPC server of our own, which adds what pstest lacks
// for a push-driven pipeline: push delivery, ModifyPushConfig, a gRPC health
// service, large message limits, and a readiness gate: until Ready, health
// checks answer NOT_SERVING and calls from outside the process wait, so the
// owner can seed the server over the in-process connection first.
package pubsubserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/etl-pipeline/emulators/internal/exactlyonce"
	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pstestx"
	"github.com/etl-pipeline/emulators/internal/pubsubfidelity"
	"github.com/etl-pipeline/emulators/internal/pubsubschema"
	"github.com/etl-pipeline/emulators/internal/push"
	"github.com/etl-pipeline/emulators/internal/ready"
	"github.com/etl-pipeline/emulators/internal/streampull"
)

// maxMessageSize leaves room above Pub/Sub's 10 MB request limit; gRPC's
// default of 4 MiB would reject legal publish and pull calls.
const maxMessageSize = 64 << 20

// Server is a running Pub/Sub emulator.
type Server struct {
	host      string // as requested, so Addr reads "0.0.0.0:8085", not "[::]:8085"
	fake      *pstest.Server
	internals *pstestx.Server
	grpc      *grpc.Server
	gate      *ready.Gate
	listener  net.Listener
	internal  *bufconn.Listener
	conn      *grpc.ClientConn
	faults    *faults.Registry
	fidelity  *pubsubfidelity.Layer
	stopPush  context.CancelFunc
	pushDone  chan struct{}
	closing   sync.Once
}

// Start listens on addr ("host:port"; port 0 picks a free one), serves the
// Pub/Sub API and starts push delivery. Callers from outside the process
// wait until Ready; Conn works at once.
func Start(addr string, cfg push.Config) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// pstest insists on a listener of its own; it is bound to loopback and
	// unused: every call comes through s.grpc.
	fake := pstest.NewServerWithAddress("127.0.0.1:0")
	// A pstest whose internals moved refuses to start here (the error
	// names its version), before anything is served.
	internals, err := pstestx.Open(&fake.GServer)
	if err != nil {
		lis.Close()
		fake.Close()
		return nil, err
	}
	fidelity, err := pubsubfidelity.New(fake)
	if err != nil {
		lis.Close()
		fake.Close()
		return nil, err
	}
	gate := ready.New("google.pubsub.v1.Publisher", "google.pubsub.v1.Subscriber")
	opts := append(gate.ServerOptions(), grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	opts = append(opts, fidelityOptions(fidelity, pubsubschema.New(&fake.GServer, &fake.GServer))...)
	s := &Server{
		fidelity:  fidelity,
		host:      host,
		fake:      fake,
		internals: internals,
		listener:  lis,
		internal:  bufconn.Listen(1 << 20),
		grpc:      grpc.NewServer(opts...),
		gate:      gate,
		pushDone:  make(chan struct{}),
	}
	s.conn, err = grpc.NewClient("passthrough:///pstest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.internal.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	)
	if err != nil {
		lis.Close()
		fidelity.Close()
		fake.Close()
		return nil, err
	}
	s.faults = faults.New()
	cfg.Faults = s.faults
	dispatcher := push.New(s.conn, cfg)
	pb.RegisterPublisherServer(s.grpc, &fake.GServer)
	// faults (internal/faults) sit under streampull, so unary pulls, streams
	// and push deliveries all pull through them.
	// streampull serves StreamingPull from Pull in batches (pstest streams ~100 msg/s)
	// and stops pstest's per-subscription delivery loops (idle CPU with backlogs).
	// exactlyonce (acks on exactly-once subscriptions) sees the ack ids
	// clients see, faults' marks included.
	withFaults := faults.Wrap(&subscriber{GServer: &fake.GServer, changed: dispatcher.Refresh, wait: pullWait}, s.faults)
	pb.RegisterSubscriberServer(s.grpc, streampull.Wrap(exactlyonce.Wrap(withFaults, internals, s.faults), internals).Via(fidelity.Unary))
	pb.RegisterSchemaServiceServer(s.grpc, &fake.GServer)
	healthpb.RegisterHealthServer(s.grpc, gate.Health)
	go s.grpc.Serve(lis)        //nolint:errcheck // returns only once stopped
	go s.grpc.Serve(s.internal) //nolint:errcheck

	ctx, cancel := context.WithCancel(context.Background())
	s.stopPush = cancel
	go func() {
		defer close(s.pushDone)
		dispatcher.Run(ctx)
	}()
	return s, nil
}

// Conn is an in-process connection to the server; its calls are never held.
func (s *Server) Conn() *grpc.ClientConn { return s.conn }

// Faults is the registry of the subscriptions' injected faults.
func (s *Server) Faults() *faults.Registry { return s.faults }

// Fake is the pstest server behind the API, for inspection.
func (s *Server) Fake() *pstest.Server { return s.fake }

// Internals is the pstest server's state, for inspection (the admin API,
// state export).
func (s *Server) Internals() *pstestx.Server { return s.internals }

// Ready reports SERVING and releases held calls, then returns once the
// server has answered a health check over TCP, so the caller may announce
// readiness.
func (s *Server) Ready() error {
	s.gate.Open()
	if err := s.selfCheck(); err != nil {
		return fmt.Errorf("pubsub emulator did not answer on %s: %w", s.Addr(), err)
	}
	return nil
}

// Addr is the address the server listens on, e.g. "0.0.0.0:8085": the host
// as given to Start, the port as bound.
func (s *Server) Addr() string {
	port := s.listener.Addr().(*net.TCPAddr).Port
	return net.JoinHostPort(s.host, strconv.Itoa(port))
}

// selfCheck performs a health check through the public TCP listener.
func (s *Server) selfCheck() error {
	target := s.listener.Addr().(*net.TCPAddr)
	host := target.IP.String()
	if target.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	conn, err := grpc.NewClient(net.JoinHostPort(host, strconv.Itoa(target.Port)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return errors.New(resp.GetStatus().String())
	}
	return nil
}

// Close stops push delivery (cancelling requests in flight), then the gRPC
// server, waiting at most a second for open streams, then the fake.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.gate.Health.Shutdown()
		s.stopPush()
		<-s.pushDone
		s.conn.Close()
		stopped := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(time.Second):
			s.grpc.Stop() // streaming pulls never end on their own
		}
		s.fidelity.Close()
		s.fake.Close()
	})
}
