package streampull

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/etl-pipeline/emulators/internal/pstestx"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// env is pstest behind a gRPC server whose Subscriber is Wrap's, with a
// client connection to it.
type env struct {
	t    *testing.T
	wrap *Subscriber
	pub  pb.PublisherClient
	sub  pb.SubscriberClient
	ctx  context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake, internals := testserver.Pstest(t)
	wrap := Wrap(&fake.GServer, internals)
	pub, sub := testserver.PubSub(t, &fake.GServer, wrap)
	return &env{t: t, wrap: wrap, pub: pub, sub: sub, ctx: context.Background()}
}

// subscription creates topic t-NAME and subscription NAME configured by cfg.
func (e *env) subscription(name string, cfg func(*pb.Subscription)) (topic, sub string) {
	e.t.Helper()
	topic, sub = "projects/p/topics/t-"+name, "projects/p/subscriptions/"+name
	if _, err := e.pub.CreateTopic(e.ctx, &pb.Topic{Name: topic}); err != nil {
		e.t.Fatal(err)
	}
	s := &pb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60}
	if cfg != nil {
		cfg(s)
	}
	if _, err := e.sub.CreateSubscription(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
	return topic, sub
}

// publish publishes msgs (in one request, in this order) and returns their ids.
func (e *env) publish(topic string, msgs ...*pb.PubsubMessage) []string {
	e.t.Helper()
	var ids []string
	for len(msgs) > 0 {
		n := min(len(msgs), 1000)
		resp, err := e.pub.Publish(e.ctx, &pb.PublishRequest{Topic: topic, Messages: msgs[:n]})
		if err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, resp.GetMessageIds()...)
		msgs = msgs[n:]
	}
	return ids
}

func data(n int, size int) []*pb.PubsubMessage {
	msgs := make([]*pb.PubsubMessage, n)
	for i := range msgs {
		msgs[i] = &pb.PubsubMessage{Data: []byte(fmt.Sprintf("%0*d", size, i))}
	}
	return msgs
}

// client is one open StreamingPull with its responses collected in the
// background.
type client struct {
	t      *testing.T
	stream pb.Subscriber_StreamingPullClient
	cancel context.CancelFunc
	msgs   chan *pb.ReceivedMessage
	empty  chan struct{} // empty responses (keepalive answers)
	props  chan *pb.StreamingPullResponse_SubscriptionProperties
	done   chan error
}

// wantEnd fails the test unless the stream ends within 2 s with code (what
// names the case in the failure).
func (c *client) wantEnd(code codes.Code, what string) {
	c.t.Helper()
	select {
	case err := <-c.done:
		if status.Code(err) != code {
			c.t.Errorf("%s: %v, want %v", what, err, code)
		}
	case <-time.After(2 * time.Second):
		c.t.Errorf("%s: stream not ended", what)
	}
}

// streamOn creates subscription name (cfg as for subscription), publishes n
// 10-byte messages to its topic, then opens a stream on it with first (its
// Subscription set here).
func (e *env) streamOn(name string, cfg func(*pb.Subscription), n int, first *pb.StreamingPullRequest) (string, *client) {
	e.t.Helper()
	topic, sub := e.subscription(name, cfg)
	e.publish(topic, data(n, 10)...)
	first.Subscription = sub
	return sub, e.open(first)
}

func (e *env) open(first *pb.StreamingPullRequest) *client {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	stream, err := e.sub.StreamingPull(ctx)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if err := stream.Send(first); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	c := &client{t: e.t, stream: stream, cancel: cancel, msgs: make(chan *pb.ReceivedMessage, 100000),
		empty: make(chan struct{}, 100), props: make(chan *pb.StreamingPullResponse_SubscriptionProperties, 100000), done: make(chan error, 1)}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				c.done <- err
				return
			}
			if len(resp.GetReceivedMessages()) == 0 {
				c.empty <- struct{}{}
			}
			for _, m := range resp.GetReceivedMessages() {
				c.props <- resp.GetSubscriptionProperties()
				c.msgs <- m
			}
		}
	}()
	e.t.Cleanup(cancel)
	return c
}

// next waits up to d for a message; nil if none came.
func (c *client) next(d time.Duration) *pb.ReceivedMessage {
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(d):
		return nil
	}
}

// must waits up to 5 s for a message.
func (c *client) must() *pb.ReceivedMessage {
	c.t.Helper()
	m := c.next(5 * time.Second)
	if m == nil {
		c.t.Fatal("no message within 5 s")
	}
	return m
}

// quiet asserts that no message arrives for d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	if m := c.next(d); m != nil {
		c.t.Fatalf("unexpected delivery of %s (attempt %d)", m.GetMessage().GetMessageId(), m.GetDeliveryAttempt())
	}
}

func (c *client) send(req *pb.StreamingPullRequest) {
	c.t.Helper()
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) ack(ids ...string) { c.send(&pb.StreamingPullRequest{AckIds: ids}) }

func (c *client) modack(secs int32, ids ...string) {
	d := make([]int32, len(ids))
	for i := range d {
		d[i] = secs
	}
	c.send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: ids, ModifyDeadlineSeconds: d})
}

func TestThroughputManyMessagesThroughOneStream(t *testing.T) {
	e := newEnv(t)
	const n = 5000
	topic, sub := e.subscription("bulk", nil)
	want := e.publish(topic, data(n, 100)...)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60, MaxOutstandingMessages: 1000})
	seen := map[string]bool{}
	var batch []string
	for len(seen) < n {
		m := c.must()
		if seen[m.GetMessage().GetMessageId()] {
			t.Fatalf("message %s delivered twice", m.GetMessage().GetMessageId())
		}
		seen[m.GetMessage().GetMessageId()] = true
		if batch = append(batch, m.GetAckId()); len(batch) == 100 || len(seen) == n {
			c.ack(batch...)
			batch = nil
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("message %s never delivered", id)
		}
	}
	c.quiet(100 * time.Millisecond) // all acked: nothing comes back
	resp, err := e.sub.Pull(e.ctx, &pb.PullRequest{Subscription: sub, ReturnImmediately: true})
	if err != nil || len(resp.GetReceivedMessages()) != 0 {
		t.Fatalf("after acking all on the stream, Pull returned %d messages, %v", len(resp.GetReceivedMessages()), err)
	}
}

func TestOrderingKeysDeliverInPublishOrderAndNackRedeliversTheRestAfter(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("ordered", func(s *pb.Subscription) { s.EnableMessageOrdering = true })
	keys := []string{"a", "b", "c"}
	const perKey = 30
	var msgs []*pb.PubsubMessage
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			msgs = append(msgs, &pb.PubsubMessage{Data: []byte(fmt.Sprint(i)), OrderingKey: k})
		}
	}
	ids := e.publish(topic, msgs...)
	wantOrder := map[string][]string{}
	for i, m := range msgs {
		wantOrder[m.OrderingKey] = append(wantOrder[m.OrderingKey], ids[i])
	}
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	got := map[string][]string{}
	// b's 5th message is nacked once. Like an ordered client, this one then
	// drops b's later messages until the nacked one is back: the server must
	// redeliver them after it (they are neither acked nor nacked here, and
	// the 60 s deadline is far beyond the test's waits).
	nacked, waitingFor := false, ""
	for total := 0; total < len(msgs); {
		m := c.must()
		key, id := m.GetMessage().GetOrderingKey(), m.GetMessage().GetMessageId()
		if p := <-c.props; !p.GetMessageOrderingEnabled() {
			t.Fatal("subscription properties do not say message ordering is enabled")
		}
		if key == "b" {
			switch {
			case waitingFor == id:
				waitingFor = ""
			case waitingFor != "":
				continue
			case len(got["b"]) == 4 && !nacked:
				nacked, waitingFor = true, id
				c.modack(0, m.GetAckId())
				continue
			}
		}
		got[key] = append(got[key], id)
		c.ack(m.GetAckId())
		total++
	}
	if !nacked {
		t.Fatal("the nack was never sent")
	}
	for _, k := range keys {
		if strings.Join(got[k], ",") != strings.Join(wantOrder[k], ",") {
			t.Errorf("key %s delivered in order %v, published %v", k, got[k], wantOrder[k])
		}
	}
}

func TestOrderingKeysOneOutstandingBatchPerKey(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("ordered-batch", func(s *pb.Subscription) { s.EnableMessageOrdering = true })
	var msgs []*pb.PubsubMessage
	for i := 1; i <= 5; i++ {
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte(fmt.Sprint("a", i)), OrderingKey: "a"})
	}
	msgs = append(msgs, &pb.PubsubMessage{Data: []byte("b1"), OrderingKey: "b"}, &pb.PubsubMessage{Data: []byte("b2"), OrderingKey: "b"})
	e.publish(topic, msgs...)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	// Both keys' messages come at once, each key's in order.
	var a, b []*pb.ReceivedMessage
	for i := 0; i < 7; i++ {
		m := c.must()
		if m.GetMessage().GetOrderingKey() == "a" {
			a = append(a, m)
		} else {
			b = append(b, m)
		}
	}
	for i, m := range a {
		if want := fmt.Sprint("a", i+1); string(m.GetMessage().GetData()) != want {
			t.Fatalf("a's message %d is %q, want %q", i, m.GetMessage().GetData(), want)
		}
	}
	if len(b) != 2 || string(b[0].GetMessage().GetData()) != "b1" || string(b[1].GetMessage().GetData()) != "b2" {
		t.Fatalf("b's messages: %v", b)
	}
	// A message published now waits until a's whole batch is acked.
	e.publish(topic, &pb.PubsubMessage{Data: []byte("a6"), OrderingKey: "a"})
	c.quiet(200 * time.Millisecond)
	c.ack(a[0].GetAckId(), a[1].GetAckId(), a[2].GetAckId(), a[3].GetAckId())
	c.quiet(200 * time.Millisecond)
	c.ack(a[4].GetAckId())
	if m := c.must(); string(m.GetMessage().GetData()) != "a6" {
		t.Fatalf("after acking a's batch got %q, want a6", m.GetMessage().GetData())
	}
}

// With a byte budget smaller than a key's batch, the rest of the batch is
// held back; a nack of the sent message must bring it back before them.
// (3,000 bytes: the first pull, sized from a 1 KiB guess, takes two
// 2,000-byte messages; one fits.)
func TestOrderingKeysNackWithHeldBackMessages(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("ordered-held-back", func(s *pb.Subscription) { s.EnableMessageOrdering = true })
	var msgs []*pb.PubsubMessage
	for i := 0; i < 4; i++ {
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte(fmt.Sprintf("%02000d", i)), OrderingKey: "k"})
	}
	e.publish(topic, msgs...)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60, MaxOutstandingBytes: 3000})
	var got []string
	nacked := false
	for len(got) < 4 {
		m := c.must()
		i := strings.TrimLeft(string(m.GetMessage().GetData()), "0")
		if i == "" {
			i = "0"
		}
		if i == "0" && !nacked {
			nacked = true
			c.modack(0, m.GetAckId())
			continue
		}
		got = append(got, i)
		c.ack(m.GetAckId())
	}
	if strings.Join(got, ",") != "0,1,2,3" {
		t.Fatalf("after nacking the first with the rest held back: %v, want 0,1,2,3", got)
	}
}

func TestOrderingKeysWithFilterStayInOrder(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("ordered-filter", func(s *pb.Subscription) {
		s.EnableMessageOrdering = true
		s.Filter = `attributes.keep = "yes"`
	})
	var msgs []*pb.PubsubMessage
	for i := 0; i < 10; i++ {
		keep := "yes"
		if i%2 == 1 {
			keep = "no"
		}
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte(fmt.Sprint(i)), OrderingKey: "k", Attributes: map[string]string{"keep": keep}})
	}
	e.publish(topic, msgs...)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	for _, want := range []string{"0", "2", "4", "6", "8"} {
		m := c.must()
		if string(m.GetMessage().GetData()) != want {
			t.Fatalf("got %q, want %q", m.GetMessage().GetData(), want)
		}
		c.ack(m.GetAckId())
	}
	c.quiet(200 * time.Millisecond)
}

func TestAckDeadlineExpiryRedelivers(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("expiry", nil) // subscription deadline 60 s: the stream's 1 s must win
	id := e.publish(topic, data(1, 10)...)[0]
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 1})
	m1 := c.must()
	start := time.Now()
	m2 := c.must()
	if m2.GetMessage().GetMessageId() != id || m2.GetAckId() == m1.GetAckId() {
		t.Fatalf("redelivery: id %s ack id %s, first %s", m2.GetMessage().GetMessageId(), m2.GetAckId(), m1.GetAckId())
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("redelivered after %v, before the 1 s stream deadline", waited)
	}
	c.ack(m1.GetAckId()) // stale ack id: ignored
	c.quiet(100 * time.Millisecond)
	c.ack(m2.GetAckId())
	c.quiet(1500 * time.Millisecond) // acked: no further redelivery
}

func TestStreamDeadlineCanBeChangedMidStream(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("redeadline", nil)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	c.send(&pb.StreamingPullRequest{StreamAckDeadlineSeconds: 1})
	time.Sleep(50 * time.Millisecond)
	e.publish(topic, data(1, 10)...)
	m1 := c.must()
	m2 := c.must() // within 5 s: the 1 s deadline applied, not 60 s
	if m1.GetMessage().GetMessageId() != m2.GetMessage().GetMessageId() {
		t.Fatalf("got %s then %s, want a redelivery", m1.GetMessage().GetMessageId(), m2.GetMessage().GetMessageId())
	}
}

func TestModackExtendsDeadline(t *testing.T) {
	e := newEnv(t)
	sub, c := e.streamOn("modack", nil, 2, &pb.StreamingPullRequest{StreamAckDeadlineSeconds: 1})
	onStream, unary := c.must(), c.must()
	start := time.Now()
	c.modack(4, onStream.GetAckId())
	if _, err := e.sub.ModifyAckDeadline(e.ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: []string{unary.GetAckId()}, AckDeadlineSeconds: 4}); err != nil {
		t.Fatal(err)
	}
	c.quiet(2500 * time.Millisecond) // past the 1 s stream deadline
	m := c.must()
	if waited := time.Since(start); waited < 3500*time.Millisecond {
		t.Fatalf("redelivered after %v, before the 4 s modack", waited)
	}
	m2 := c.must()
	got := map[string]bool{m.GetMessage().GetMessageId(): true, m2.GetMessage().GetMessageId(): true}
	if !got[onStream.GetMessage().GetMessageId()] || !got[unary.GetMessage().GetMessageId()] {
		t.Fatalf("redelivered %v, want both messages", got)
	}
}

func TestNackRedeliversAtOnce(t *testing.T) {
	e := newEnv(t)
	sub, c := e.streamOn("nack", nil, 2, &pb.StreamingPullRequest{StreamAckDeadlineSeconds: 60})
	a, b := c.must(), c.must()
	c.modack(0, a.GetAckId())
	if m := c.next(time.Second); m == nil || m.GetMessage().GetMessageId() != a.GetMessage().GetMessageId() {
		t.Fatalf("after a stream nack got %v, want %s again", m, a.GetMessage().GetMessageId())
	}
	if _, err := e.sub.ModifyAckDeadline(e.ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: []string{b.GetAckId()}}); err != nil {
		t.Fatal(err)
	}
	if m := c.next(time.Second); m == nil || m.GetMessage().GetMessageId() != b.GetMessage().GetMessageId() {
		t.Fatalf("after a unary nack got %v, want %s again", m, b.GetMessage().GetMessageId())
	}
}

func TestDeadLetteringAfterMaxDeliveryAttempts(t *testing.T) {
	e := newEnv(t)
	_, dlSub := e.subscription("dead", nil)
	topic, sub := e.subscription("poison", func(s *pb.Subscription) {
		s.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: "projects/p/topics/t-dead", MaxDeliveryAttempts: 5}
	})
	id := e.publish(topic, data(1, 10)...)[0]
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	for attempt := int32(1); attempt <= 5; attempt++ {
		m := c.must()
		if m.GetMessage().GetMessageId() != id || m.GetDeliveryAttempt() != attempt {
			t.Fatalf("delivery %d: message %s attempt %d", attempt, m.GetMessage().GetMessageId(), m.GetDeliveryAttempt())
		}
		c.modack(0, m.GetAckId())
	}
	c.quiet(300 * time.Millisecond) // dead-lettered, not delivered a 6th time
	dl := e.open(&pb.StreamingPullRequest{Subscription: dlSub, StreamAckDeadlineSeconds: 60})
	if m := dl.must(); string(m.GetMessage().GetData()) != string(data(1, 10)[0].Data) {
		t.Fatalf("dead-letter subscription got %q", m.GetMessage().GetData())
	}
}

func TestExactlyOnceSubscriptionPropertiesAndNoRedeliveryWhileLeased(t *testing.T) {
	e := newEnv(t)
	_, c := e.streamOn("eod", func(s *pb.Subscription) { s.EnableExactlyOnceDelivery = true }, 3, &pb.StreamingPullRequest{StreamAckDeadlineSeconds: 60})
	for i := 0; i < 3; i++ {
		c.must()
		if p := <-c.props; !p.GetExactlyOnceDeliveryEnabled() || p.GetMessageOrderingEnabled() {
			t.Fatalf("subscription properties %v, want exactly-once only", p)
		}
	}
	c.quiet(300 * time.Millisecond)
}

func TestFlowControlMessages(t *testing.T) {
	e := newEnv(t)
	sub, c := e.streamOn("flow", nil, 100, &pb.StreamingPullRequest{StreamAckDeadlineSeconds: 60, MaxOutstandingMessages: 10})
	var got []*pb.ReceivedMessage
	for i := 0; i < 10; i++ {
		got = append(got, c.must())
	}
	c.quiet(300 * time.Millisecond) // budget spent

	// Unary acks (as the Python client sends them) release budget.
	ids := []string{got[0].GetAckId(), got[1].GetAckId(), got[2].GetAckId(), got[3].GetAckId()}
	if _, err := e.sub.Acknowledge(e.ctx, &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		c.must()
	}
	c.quiet(300 * time.Millisecond)
	// So do stream acks, unary and stream nacks, and modacks do not.
	c.ack(got[4].GetAckId())
	c.must()
	if _, err := e.sub.ModifyAckDeadline(e.ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: []string{got[5].GetAckId()}}); err != nil {
		t.Fatal(err)
	}
	c.must()
	c.modack(30, got[6].GetAckId())
	c.quiet(300 * time.Millisecond)
	c.modack(0, got[6].GetAckId())
	c.must()
	c.quiet(300 * time.Millisecond)
}

func TestFlowControlNegativeMeansNoLimit(t *testing.T) {
	e := newEnv(t)
	_, c := e.streamOn("flow-none", nil, 50, &pb.StreamingPullRequest{StreamAckDeadlineSeconds: 60, MaxOutstandingMessages: -1, MaxOutstandingBytes: -1})
	for i := 0; i < 50; i++ {
		c.must()
	}
}

func TestFlowControlBytesAndExpiryReleases(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("flow-bytes", nil)
	msgs := data(20, 1000)
	e.publish(topic, msgs...)
	size := int64(proto.Size(&pb.PubsubMessage{Data: msgs[0].Data, MessageId: "m00", PublishTime: nil}))
	// Room for three messages of ~1,000 bytes (the exact size depends on id
	// and publish time), not four.
	budget := 3*size + size/2
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 1, MaxOutstandingBytes: budget})
	var first []*pb.ReceivedMessage
	for i := 0; i < 3; i++ {
		first = append(first, c.must())
	}
	var total int64
	for _, m := range first {
		total += int64(proto.Size(m.GetMessage()))
	}
	if total > budget {
		t.Fatalf("%d bytes outstanding, budget %d", total, budget)
	}
	if m := c.next(300 * time.Millisecond); m != nil {
		t.Fatalf("a fourth message (%d bytes) beyond the byte budget %d", total+int64(proto.Size(m.GetMessage())), budget)
	}
	// Unacked, the leases expire after the 1 s stream deadline: that frees
	// the budget, and three messages (redeliveries or new) arrive.
	for i := 0; i < 3; i++ {
		c.must()
	}
	c.quiet(300 * time.Millisecond)
}

func TestKeepaliveIsAnswered(t *testing.T) {
	e := newEnv(t)
	_, sub := e.subscription("ping", nil)
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60, ProtocolVersion: 1})
	c.send(&pb.StreamingPullRequest{})
	select {
	case <-c.empty:
	case <-time.After(2 * time.Second):
		t.Fatal("keepalive not answered")
	}
}

func TestStreamErrors(t *testing.T) {
	e := newEnv(t)
	_, sub := e.subscription("errs", nil)
	for _, tc := range []struct {
		req  *pb.StreamingPullRequest
		code codes.Code
	}{
		{&pb.StreamingPullRequest{}, codes.InvalidArgument},
		{&pb.StreamingPullRequest{Subscription: "projects/p/subscriptions/nope"}, codes.NotFound},
	} {
		e.open(tc.req).wantEnd(tc.code, fmt.Sprint(tc.req))
	}
	// Modack ids and deadlines must pair up.
	bad := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	bad.send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{"x", "y"}, ModifyDeadlineSeconds: []int32{10}})
	bad.wantEnd(codes.InvalidArgument, "mismatched modack lists")
	// Deleting the subscription ends its streams with NOT_FOUND.
	c := e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60})
	time.Sleep(50 * time.Millisecond)
	if _, err := e.sub.DeleteSubscription(e.ctx, &pb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
		t.Fatal(err)
	}
	c.wantEnd(codes.NotFound, "after deleting the subscription")
}

func TestCancelAndCloseLeaveNoGoroutinesAndReturnHeldMessages(t *testing.T) {
	e := newEnv(t)
	topic, sub := e.subscription("cancel", nil)
	e.publish(topic, data(50, 1000)...)
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	// Byte budgets smaller than a pulled batch make streams hold messages
	// back; cancelling must return those to the subscription.
	var clients []*client
	for i := 0; i < 5; i++ {
		clients = append(clients, e.open(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60, MaxOutstandingBytes: 2500}))
	}
	delivered := map[string]bool{}
	for _, c := range clients {
		for i := 0; i < 2; i++ {
			delivered[c.must().GetMessage().GetMessageId()] = true
		}
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		if i%2 == 0 {
			c.cancel()
			continue
		}
		wg.Add(1)
		go func() { // half-close: the stream ends with OK
			defer wg.Done()
			if err := c.stream.CloseSend(); err != nil {
				t.Error(err)
			}
			if err := <-c.done; err.Error() != "EOF" {
				t.Errorf("after CloseSend the stream ended with %v, want EOF (status OK)", err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for (e.wrap.openStreams() > 0 || runtime.NumGoroutine() > before) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.wrap.openStreams(); n != 0 {
		t.Fatalf("%d streams still registered", n)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before the streams:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	// Every message not delivered is available to Pull at once (60 s leases
	// would otherwise hide held-back ones).
	resp, err := e.sub.Pull(e.ctx, &pb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(resp.GetReceivedMessages()), 50-len(delivered); got != want {
		t.Fatalf("Pull after the streams closed: %d messages, want %d", got, want)
	}
}

// With the GServer given, a subscription costs no goroutine of pstest's
// (its 10 ms delivery loop is parked); without it, each costs one. Deleting
// subscriptions and closing the server after parking must not panic
// (pstest's stop closes the subscription's done channel).
func TestParkingStopsPstestDeliveryLoops(t *testing.T) {
	for _, park := range []bool{true, false} {
		t.Run(fmt.Sprintf("park=%v", park), func(t *testing.T) {
			fake := pstest.NewServerWithAddress("127.0.0.1:0")
			internals, err := pstestx.Open(&fake.GServer)
			if err != nil {
				t.Fatal(err)
			}
			if !park {
				internals = nil
			}
			w := Wrap(&fake.GServer, internals)
			ctx := context.Background()
			if _, err := fake.GServer.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/t"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			before := runtime.NumGoroutine()
			const n = 20
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("projects/p/subscriptions/s%d", i)
				if _, err := w.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: "projects/p/topics/t", AckDeadlineSeconds: 10}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
			added := runtime.NumGoroutine() - before
			if park && added != 0 {
				t.Errorf("%d goroutines added by %d parked subscriptions", added, n)
			}
			if !park && added != n {
				t.Errorf("%d goroutines added by %d subscriptions left to pstest, want %d", added, n, n)
			}
			if park {
				// Created behind the wrapper's back: running until the next
				// CreateSubscription through it.
				if _, err := fake.GServer.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/direct", Topic: "projects/p/topics/t", AckDeadlineSeconds: 10}); err != nil {
					t.Fatal(err)
				}
				if added := runtime.NumGoroutine() - before; added != 1 {
					t.Errorf("%d goroutines added by a subscription created directly on pstest, want 1", added)
				}
				if _, err := w.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/last", Topic: "projects/p/topics/t", AckDeadlineSeconds: 10}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
				if added := runtime.NumGoroutine() - before; added != 0 {
					t.Errorf("%d goroutines left after the next CreateSubscription through the wrapper, want 0", added)
				}
			}
			for i := 0; i < n/2; i++ {
				if _, err := w.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: fmt.Sprintf("projects/p/subscriptions/s%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			// Parked subscriptions still serve Pull, with pstest's pull path
			// expiring nothing it should not.
			if _, err := fake.GServer.Publish(ctx, &pb.PublishRequest{Topic: "projects/p/topics/t", Messages: data(3, 10)}); err != nil {
				t.Fatal(err)
			}
			resp, err := w.Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/s19", MaxMessages: 10, ReturnImmediately: true})
			if err != nil || len(resp.GetReceivedMessages()) != 3 {
				t.Fatalf("Pull from a parked subscription: %d messages, %v", len(resp.GetReceivedMessages()), err)
			}
			fake.Close()
		})
	}
}
