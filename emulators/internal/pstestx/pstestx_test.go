package pstestx

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned/pinnedtest"
)

// TestLayout fails when an upgrade of pstest changes a field reached here.
func TestLayout(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatal(err)
	}
}

func TestChangedLayoutIsRefusedNamingTheVersion(t *testing.T) {
	changed := map[string]string{}
	for k, v := range layout {
		changed[k] = v
	}
	changed["subscription.msgs"] = "sync.Map"
	_, err := check(changed)
	pinnedtest.WantRefused(t, err, Module+" "+Version, "subscription.msgs is map[string]*pstest.message, want sync.Map", "cannot run")
}

func TestLookupsOutsideTheLockPanic(t *testing.T) {
	_, srv := open(t)
	defer func() {
		if recover() == nil {
			t.Error("Subscription without the lock did not panic")
		}
	}()
	srv.Subscription("projects/p/subscriptions/s")
}

func TestAccessorsReadAndChangePstestsState(t *testing.T) {
	fake, srv := open(t)
	ctx := context.Background()
	g := &fake.GServer
	if _, err := g.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/s", Topic: "projects/p/topics/t", AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Publish(ctx, &pb.PublishRequest{Topic: "projects/p/topics/t", Messages: []*pb.PubsubMessage{{Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	unlock := srv.Lock()
	sub := srv.Subscription("projects/p/subscriptions/s")
	top := srv.Topic("projects/p/topics/t")
	if sub == nil || top == nil || *sub.Topic() != *top || sub.Proto().GetTopic() != top.Proto().GetName() {
		t.Fatalf("subscription %v, topic %v", sub, top)
	}
	if got := srv.SubscriptionNames(); len(got) != 1 || got[0] != "projects/p/subscriptions/s" {
		t.Errorf("SubscriptionNames = %v", got)
	}
	msgs := sub.Messages()
	if len(msgs) != 1 || sub.Count() != 1 || sub.Done() == nil {
		t.Fatalf("messages %v", msgs)
	}
	for id, m := range msgs {
		if !sub.Has(id) || string(m.Proto().GetMessage().GetData()) != "x" || !m.Available(time.Now()) || m.Deliveries() != 0 {
			t.Errorf("message %s: %v, deliveries %d", id, m.Proto(), m.Deliveries())
		}
		m.SetAckDeadline(time.Now().Add(time.Hour)) // leased: Pull must skip it
	}
	unlock()
	resp, err := g.Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/s", MaxMessages: 10})
	if err != nil || len(resp.GetReceivedMessages()) != 0 {
		t.Fatalf("pull of a leased message: %v, %v", resp, err)
	}
	unlock = srv.Lock()
	for _, m := range srv.Subscription("projects/p/subscriptions/s").Messages() {
		m.MakeAvailable()
	}
	unlock()
	resp, err = g.Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/s", MaxMessages: 10})
	if err != nil || len(resp.GetReceivedMessages()) != 1 {
		t.Fatalf("pull after MakeAvailable: %v, %v", resp, err)
	}
}

func open(t *testing.T) (*pstest.Server, *Server) {
	t.Helper()
	fake := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { fake.Close() })
	srv, err := Open(&fake.GServer)
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv
}
