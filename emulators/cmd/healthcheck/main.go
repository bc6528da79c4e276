// Command healthcheck exits 0 when a gRPC server answers at HOST:PORT and 1
// otherwise. It exists because the emulator images are FROM scratch: there is
// no shell or curl for a compose health check.
//
// It calls grpc.health.v1.Health/Check. SERVING is healthy: both emulators
// report it only once their seed file is applied. So is Unimplemented, since
// that answer also proves a server without a health service (Google's own
// cbtemulator) is up and serving.
//
//	healthcheck [-timeout 2s] 127.0.0.1:8085
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func main() {
	timeout := flag.Duration("timeout", 2*time.Second, "how long to keep trying")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: healthcheck [-timeout 2s] HOST:PORT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := check(flag.Arg(0), *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}

func check(addr string, timeout time.Duration) error {
	// Retry a refused connection every 50-250 ms, not gRPC's default 1 s and
	// up, so a server that is starting is seen healthy soon after it is.
	retry := backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: retry, MinConnectTimeout: time.Second}))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	switch {
	case status.Code(err) == codes.Unimplemented:
		return nil
	case err != nil:
		return err
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		return fmt.Errorf("status %s", resp.GetStatus())
	}
	return nil
}
