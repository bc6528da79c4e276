package pubsubserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/pubsubadmin"
)

// The admin API counts messages the fidelity layer parks outside pstest.
func TestAdminBacklogIncludesParkedMessages(t *testing.T) {
	srv, conn := start(t)
	handler, err := pubsubadmin.Handler(srv.Fake(), pubsubadmin.WithSource(srv))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(handler)
	defer api.Close()
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	ctx := context.Background()
	topic, name := "projects/p/topics/backlog", "projects/p/subscriptions/backlog"
	mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic}); return err })
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: topic})
		return err
	})
	for range 3 {
		msgs := make([]*pb.PubsubMessage, 1000)
		for i := range msgs {
			msgs[i] = &pb.PubsubMessage{Data: []byte("x")}
		}
		mustOK(t, func() error { _, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: msgs}); return err })
	}
	resp, err := http.Get(api.URL + "/v1/subscriptions?project=p")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Subscriptions []pubsubadmin.Subscription `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Subscriptions) != 1 || body.Subscriptions[0].Backlog != 3000 {
		t.Fatalf("subscriptions %+v, want a backlog of 3000", body.Subscriptions)
	}
	if parked := srv.Parked()[name]; parked != 2000 {
		t.Fatalf("parked %d, want 2000 (the window holds 1000)", parked)
	}
}
