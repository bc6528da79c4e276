package pubsubserver

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/push"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// Until Ready, outside callers see NOT_SERVING and wait, while the
// in-process connection (the seeder's) works; after it they see its work.
func TestCallersFromOutsideWaitForReady(t *testing.T) {
	srv, err := Start("127.0.0.1:0", push.Config{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn := testserver.Dial(t, srv.Addr())
	ctx := context.Background()

	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health before Ready: %v, %v", resp, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	list := &pb.ListTopicsRequest{Project: "projects/p"}
	if _, err := pb.NewPublisherClient(conn).ListTopics(short, list); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("ListTopics before Ready: %v, want it held until the deadline", err)
	}
	if _, err := pb.NewPublisherClient(srv.Conn()).CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/seeded"}); err != nil {
		t.Fatalf("in-process CreateTopic before Ready: %v", err)
	}

	if err := srv.Ready(); err != nil {
		t.Fatal(err)
	}
	resp, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after Ready: %v, %v", resp, err)
	}
	topics, err := pb.NewPublisherClient(conn).ListTopics(ctx, list)
	if err != nil || len(topics.GetTopics()) != 1 {
		t.Fatalf("ListTopics after Ready: %v, %v", topics, err)
	}
}
