package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pubsubserver"
	"github.com/etl-pipeline/emulators/internal/push"
)

const project = "projects/p"

// env is a whole Pub/Sub emulator (faults under streampull, push delivery)
// with API clients over its in-process connection.
type env struct {
	t   *testing.T
	srv *pubsubserver.Server
	pub pb.PublisherClient
	sub pb.SubscriberClient
	reg *faults.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := pubsubserver.Start("127.0.0.1:0", push.Config{
		PollInterval: 5 * time.Millisecond, ResyncInterval: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, pub: pb.NewPublisherClient(srv.Conn()), sub: pb.NewSubscriberClient(srv.Conn()), reg: srv.Faults()}
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// subscription creates topic t and subscription s on it (with cfg's
// faults, if any) and returns the subscription's full name.
func (e *env) subscription(s string, sub *pb.Subscription, cfg *faults.Config) string {
	e.t.Helper()
	topic := project + "/topics/t-" + s
	_, err := e.pub.CreateTopic(context.Background(), &pb.Topic{Name: topic})
	e.must(err)
	if sub == nil {
		sub = &pb.Subscription{}
	}
	sub.Name, sub.Topic = project+"/subscriptions/"+s, topic
	if sub.AckDeadlineSeconds == 0 {
		sub.AckDeadlineSeconds = 30
	}
	_, err = e.sub.CreateSubscription(context.Background(), sub)
	e.must(err)
	if cfg != nil {
		e.reg.Set(sub.Name, *cfg)
	}
	return sub.Name
}

// publish publishes n messages "0".."n-1" (with key, if not empty) to the
// subscription's topic and returns their ids in order.
func (e *env) publish(sub string, n int, key string) []string {
	e.t.Helper()
	got, err := e.sub.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: sub})
	e.must(err)
	var msgs []*pb.PubsubMessage
	for i := range n {
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte(fmt.Sprint(i)), OrderingKey: key, Attributes: map[string]string{"i": fmt.Sprint(i)}})
	}
	resp, err := e.pub.Publish(context.Background(), &pb.PublishRequest{Topic: got.GetTopic(), Messages: msgs})
	e.must(err)
	return resp.GetMessageIds()
}

// newPublished is a new env with subscription `name` under cfg and n messages
// published to its topic, their ids in publish order.
func newPublished(t *testing.T, name string, cfg faults.Config, n int) (*env, string, []string) {
	t.Helper()
	e := newEnv(t)
	sub := e.subscription(name, nil, &cfg)
	return e, sub, e.publish(sub, n, "")
}

func (e *env) pull(sub string, max int32) []*pb.ReceivedMessage {
	e.t.Helper()
	resp, err := e.sub.Pull(context.Background(), &pb.PullRequest{Subscription: sub, MaxMessages: max, ReturnImmediately: true})
	e.must(err)
	return resp.GetReceivedMessages()
}

func (e *env) ack(sub string, msgs []*pb.ReceivedMessage) {
	e.t.Helper()
	if len(msgs) == 0 {
		return
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.GetAckId())
	}
	_, err := e.sub.Acknowledge(context.Background(), &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids})
	e.must(err)
}

func (e *env) fired(sub string) faults.Counts {
	s, _ := e.reg.Get(sub)
	return s.Fired
}

func ids(msgs []*pb.ReceivedMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.GetMessage().GetMessageId())
	}
	return out
}

func count(list []string) map[string]int {
	m := map[string]int{}
	for _, s := range list {
		m[s]++
	}
	return m
}

// acked tells whether message id was acknowledged (the fidelity layer's
// count, over the topic's subscriptions).
func (e *env) acked(id string) bool {
	for _, m := range e.srv.Messages() {
		if m.ID == id {
			return m.Acks > 0
		}
	}
	return false
}
