package pubsubfidelity

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/grpcrecover"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// fixture is pstest behind the layer, over an in-process gRPC connection,
// with a clock the test can move forward (the layer's; pstest keeps its own).
type fixture struct {
	t     *testing.T
	layer *Layer
	fake  *pstest.Server
	pub   pb.PublisherClient
	sub   pb.SubscriberClient
	skew  atomic.Int64 // added to time.Now by the layer's clock
}

func newFixture(t *testing.T) *fixture { return startFixture(t, true) }

// newBareFixture is pstest alone (the layer exists but is not in the path).
func newBareFixture(t *testing.T) *fixture { return startFixture(t, false) }

func startFixture(t *testing.T, withLayer bool) *fixture {
	t.Helper()
	fake := pstest.NewServerWithAddress("127.0.0.1:0")
	f := &fixture{t: t, fake: fake}
	layer, err := newLayer(fake, func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) })
	if err != nil {
		t.Fatal(err)
	}
	f.layer = layer
	t.Cleanup(func() {
		layer.Close()
		fake.Close()
	})
	opts := grpcrecover.ServerOptions()
	if withLayer {
		opts = append(opts, grpc.ChainUnaryInterceptor(layer.Unary))
	}
	f.pub, f.sub = testserver.PubSub(t, &fake.GServer, &fake.GServer, opts...)
	return f
}

func (f *fixture) advance(d time.Duration) { f.skew.Add(int64(d)) }

const project = "projects/proj"

func topicName(id string) string { return project + "/topics/" + id }
func subName(id string) string   { return project + "/subscriptions/" + id }
func snapName(id string) string  { return project + "/snapshots/" + id }

func ctx() context.Context { return context.Background() }

func (f *fixture) topic(id string) string {
	f.t.Helper()
	if _, err := f.pub.CreateTopic(ctx(), &pb.Topic{Name: topicName(id)}); err != nil {
		f.t.Fatal(err)
	}
	return topicName(id)
}

func (f *fixture) subscription(s *pb.Subscription) *pb.Subscription {
	f.t.Helper()
	got, err := f.sub.CreateSubscription(ctx(), s)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *fixture) publish(topic string, data ...string) []string {
	f.t.Helper()
	var msgs []*pb.PubsubMessage
	for _, d := range data {
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte(d)})
	}
	r, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topic, Messages: msgs})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.GetMessageIds()
}

// publishNumbered publishes n messages in one request, the i-th with data i
// and ordering key key(i).
func (f *fixture) publishNumbered(topic string, n int, key func(i int) string) {
	f.t.Helper()
	msgs := make([]*pb.PubsubMessage, n)
	for i := range msgs {
		msgs[i] = &pb.PubsubMessage{Data: []byte(strconv.Itoa(i)), OrderingKey: key(i)}
	}
	if _, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topic, Messages: msgs}); err != nil {
		f.t.Fatal(err)
	}
}

// pullOneAtATime pulls n times, wanting each pull to deliver only the message
// with data i (publishNumbered's, on one ordering key), and acks it.
func (f *fixture) pullOneAtATime(sub string, n int) {
	f.t.Helper()
	for i := range n {
		got := f.pull(sub, 10)
		if len(got) != 1 || string(got[0].GetMessage().GetData()) != strconv.Itoa(i) {
			f.t.Fatalf("pull %d: %d messages %v; want only %d", i, len(got), got, i)
		}
		f.ack(sub, got)
	}
}

// pull pulls what is there now (pstest returns at once when it has messages).
func (f *fixture) pull(sub string, max int32) []*pb.ReceivedMessage {
	f.t.Helper()
	r, err := f.sub.Pull(ctx(), &pb.PullRequest{Subscription: sub, MaxMessages: max, ReturnImmediately: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.GetReceivedMessages()
}

func (f *fixture) ack(sub string, msgs []*pb.ReceivedMessage) {
	f.t.Helper()
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.GetAckId())
	}
	if len(ids) == 0 {
		return
	}
	if _, err := f.sub.Acknowledge(ctx(), &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) nack(sub string, msgs []*pb.ReceivedMessage) {
	f.t.Helper()
	for _, m := range msgs {
		_, err := f.sub.ModifyAckDeadline(ctx(), &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: []string{m.GetAckId()}})
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

// drain pulls and acks until nothing is left, returning the bodies seen.
func (f *fixture) drain(sub string) []string {
	f.t.Helper()
	var out []string
	for {
		msgs := f.pull(sub, 1000)
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			out = append(out, string(m.GetMessage().GetData()))
		}
		f.ack(sub, msgs)
	}
}

// wantCode fails unless err has code and (if msg is not empty) message.
func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	s := status.Convert(err)
	if s.Code() != code || msg != "" && s.Message() != msg {
		t.Fatalf("got %v %q, want %v %q", s.Code(), s.Message(), code, msg)
	}
}
