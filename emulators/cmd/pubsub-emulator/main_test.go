package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestPrintsOneReadinessLineServesAndExitsCleanlyOnSIGTERM(t *testing.T) {
	out, w := io.Pipe()
	signals := make(chan os.Signal, 1)
	result := make(chan error, 1)
	go func() {
		result <- run([]string{"--host", "127.0.0.1", "--port", "0", "--quiet"}, w, signals)
		w.Close()
	}()

	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no readiness line: %v", <-result)
	}
	addr, ok := strings.CutPrefix(lines.Text(), "pubsub emulator listening on ")
	if !ok {
		t.Fatalf("readiness line %q", lines.Text())
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// No WaitForReady: the line promises the server already answers.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check right after the readiness line: %v %v", resp, err)
	}

	signals <- syscall.SIGTERM
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("run returned %v after SIGTERM, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
	if lines.Scan() {
		t.Errorf("unexpected extra stdout line %q", lines.Text())
	}
}
