package push

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

const project = "projects/test"

// fastConfig keeps the tests quick: tight polling and short backoffs.
var fastConfig = Config{
	Concurrency:    16,
	PollInterval:   5 * time.Millisecond,
	ResyncInterval: 20 * time.Millisecond,
	MinBackoff:     10 * time.Millisecond,
	MaxBackoff:     40 * time.Millisecond,
}

// harness is a pstest server with a running dispatcher and raw API clients.
type harness struct {
	t     testing.TB
	fake  *pstest.Server
	pub   pb.PublisherClient
	sub   pb.SubscriberClient
	calls *countingConn // the dispatcher's calls to the emulator
	stop  func()        // stops the dispatcher and waits for Run to return
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	fake := pstest.NewServer()
	t.Cleanup(func() { fake.Close() })
	conn := testserver.Dial(t, fake.Addr)
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	calls := &countingConn{ClientConnInterface: conn}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(calls, cfg).Run(ctx)
	}()
	var once sync.Once
	h := &harness{
		t:     t,
		fake:  fake,
		pub:   pb.NewPublisherClient(conn),
		sub:   pb.NewSubscriberClient(conn),
		calls: calls,
		stop: func() {
			once.Do(func() {
				cancel()
				<-done
			})
		},
	}
	t.Cleanup(h.stop)
	return h
}

// countingConn counts the dispatcher's unary calls by method, and the ack
// ids its Acknowledge calls carry.
type countingConn struct {
	grpc.ClientConnInterface
	mu     sync.Mutex
	calls  map[string]int
	ackIDs int
	// listing is read-held through the dispatcher's ListSubscriptions and
	// held by a test updating a subscription: pstest answers a listing with
	// the protos it stores, marshalled after its lock is released, so an
	// update meanwhile races (the server's fidelity layer answers copies;
	// this harness runs bare pstest).
	listing sync.RWMutex
}

func (c *countingConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if _, ok := args.(*pb.ListSubscriptionsRequest); ok {
		c.listing.RLock()
		defer c.listing.RUnlock()
	}
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[path.Base(method)]++
	if r, ok := args.(*pb.AcknowledgeRequest); ok {
		c.ackIDs += len(r.GetAckIds())
	}
	c.mu.Unlock()
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

// count is how many calls of method (e.g. "Acknowledge") were made.
func (c *countingConn) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// acked is how many ack ids the Acknowledge calls carried.
func (c *countingConn) acked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ackIDs
}

func (h *harness) createTopic(id string) string {
	h.t.Helper()
	name := project + "/topics/" + id
	if _, err := h.pub.CreateTopic(context.Background(), &pb.Topic{Name: name}); err != nil {
		h.t.Fatal(err)
	}
	return name
}

// createSubscription fills in the name prefix and a 10 s ack deadline
// unless set, and creates s.
func (h *harness) createSubscription(s *pb.Subscription) string {
	h.t.Helper()
	s.Name = project + "/subscriptions/" + s.Name
	if s.AckDeadlineSeconds == 0 {
		s.AckDeadlineSeconds = 10
	}
	if _, err := h.sub.CreateSubscription(context.Background(), s); err != nil {
		h.t.Fatal(err)
	}
	return s.Name
}

func (h *harness) publish(topic string, msgs ...*pb.PubsubMessage) []string {
	h.t.Helper()
	resp, err := h.pub.Publish(context.Background(), &pb.PublishRequest{Topic: topic, Messages: msgs})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.GetMessageIds()
}

// pullAll pulls and acks until n messages have arrived or the timeout passes.
func (h *harness) pullAll(sub string, n int, timeout time.Duration) []*pb.ReceivedMessage {
	h.t.Helper()
	var got []*pb.ReceivedMessage
	deadline := time.Now().Add(timeout)
	for len(got) < n && time.Now().Before(deadline) {
		resp, err := h.sub.Pull(context.Background(), &pb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, rm := range resp.GetReceivedMessages() {
			got = append(got, rm)
			if _, err := h.sub.Acknowledge(context.Background(), &pb.AcknowledgeRequest{Subscription: sub, AckIds: []string{rm.GetAckId()}}); err != nil {
				h.t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return got
}

func pushSub(name, topic, url string) *pb.Subscription {
	return &pb.Subscription{Name: name, Topic: topic, PushConfig: &pb.PushConfig{PushEndpoint: url}}
}

// pushTo creates topic "events" and subscription "push" on it, pushing to
// url, and returns the topic and the subscription's full name.
func (h *harness) pushTo(url string) (topic, sub string) {
	h.t.Helper()
	topic = h.createTopic("events")
	return topic, h.createSubscription(pushSub("push", topic, url))
}

// orderedSubscription creates a push subscription to url with message
// ordering on, and publishes perKey messages on each of keys ordering keys
// (`site-K`), each carrying its place in its key as the attribute "seq".
func (h *harness) orderedSubscription(url string, keys, perKey int) []string {
	topic := h.createTopic("events")
	s := pushSub("ordered", topic, url)
	s.EnableMessageOrdering = true
	h.createSubscription(s)
	var msgs []*pb.PubsubMessage
	for seq := range perKey {
		for k := range keys {
			msgs = append(msgs, &pb.PubsubMessage{
				Data:        []byte("x"),
				OrderingKey: fmt.Sprintf("site-%d", k),
				Attributes:  map[string]string{"seq": strconv.Itoa(seq)},
			})
		}
	}
	return h.publish(topic, msgs...)
}

// inOrder fails the test unless each key's sequence numbers are 0, 1, 2, ….
func inOrder(t *testing.T, what string, byKey map[string][]int, perKey int) {
	t.Helper()
	for key, seqs := range byKey {
		for i, seq := range seqs {
			if seq != i {
				t.Fatalf("key %s %s in order %v, want 0..%d", key, what, seqs, perKey-1)
			}
		}
	}
}

func messages(n int, attrs map[string]string) []*pb.PubsubMessage {
	out := make([]*pb.PubsubMessage, n)
	for i := range out {
		out[i] = &pb.PubsubMessage{Data: fmt.Appendf(nil, "event-%d", i), Attributes: attrs}
	}
	return out
}
