package faults_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// stream is a StreamingPull call collecting what it receives.
type stream struct {
	t      *testing.T
	client pb.Subscriber_StreamingPullClient
	mu     sync.Mutex
	got    []*pb.ReceivedMessage
	at     []time.Time
	ack    bool // ack each message as it arrives
}

func (e *env) stream(sub string, ack bool) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	c, err := e.sub.StreamingPull(ctx)
	e.must(err)
	e.must(c.Send(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 30}))
	s := &stream{t: e.t, client: c, ack: ack}
	go func() {
		for {
			resp, err := c.Recv()
			if err != nil {
				return
			}
			var acks []string
			s.mu.Lock()
			for _, m := range resp.GetReceivedMessages() {
				s.got = append(s.got, m)
				s.at = append(s.at, time.Now())
				acks = append(acks, m.GetAckId())
			}
			s.mu.Unlock()
			if s.ack && len(acks) > 0 {
				c.Send(&pb.StreamingPullRequest{AckIds: acks}) //nolint:errcheck // the test checks the outcome
			}
		}
	}()
	return s
}

func (s *stream) received() []*pb.ReceivedMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pb.ReceivedMessage(nil), s.got...)
}

func TestStreamDuplicate(t *testing.T) {
	e, sub, published := newPublished(t, "sdup", faults.Config{Duplicate: 1, Seed: 1}, 5)
	s := e.stream(sub, true)
	testserver.WaitFor(t, 5*time.Second, "10 deliveries", func() bool { return len(s.received()) == 10 })
	c := count(ids(s.received()))
	for _, id := range published {
		if c[id] != 2 {
			t.Errorf("message %s delivered %d times, want 2", id, c[id])
		}
	}
	e.waitAcked(published)
	time.Sleep(50 * time.Millisecond)
	if n := len(s.received()); n != 10 {
		t.Errorf("%d deliveries after the acks, want 10", n)
	}
	if f := e.fired(sub).Duplicate; f != 5 {
		t.Errorf("duplicate fired %d, want 5", f)
	}
}

func TestStreamDelay(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("sdelay", nil, &faults.Config{DelayMs: [2]int64{250, 250}, DelayFraction: 1, Seed: 1})
	s := e.stream(sub, true)
	start := time.Now()
	e.publish(sub, 3, "")
	testserver.WaitFor(t, 5*time.Second, "3 deliveries", func() bool { return len(s.received()) == 3 })
	s.mu.Lock()
	for i, at := range s.at {
		if d := at.Sub(start); d < 250*time.Millisecond {
			t.Errorf("message %d delivered after %s, want >= 250ms", i, d)
		}
	}
	s.mu.Unlock()
	if f := e.fired(sub).Delay; f != 3 {
		t.Errorf("delay fired %d, want 3", f)
	}
}

func TestStreamShuffle(t *testing.T) {
	e, sub, published := newPublished(t, "sshuffle", faults.Config{Shuffle: true, Seed: 9}, 40)
	s := e.stream(sub, true)
	testserver.WaitFor(t, 5*time.Second, "40 deliveries", func() bool { return len(s.received()) == 40 })
	got := ids(s.received())
	if c := count(got); len(c) != 40 {
		t.Errorf("got %d distinct of 40", len(c))
	}
	inverted := false
	for i := 1; i < len(got); i++ {
		inverted = inverted || num(got[i]) < num(got[i-1])
	}
	if !inverted || e.fired(sub).Shuffle == 0 {
		t.Errorf("not shuffled (deferred %d): %v", e.fired(sub).Shuffle, got)
	}
	_ = published
}

func TestStreamEarlyRedelivery(t *testing.T) {
	e, sub, published := newPublished(t, "searly", faults.Config{EarlyRedelivery: 1, Seed: 1}, 2)
	s := e.stream(sub, false) // never acks: the deadline (30 s) is far
	testserver.WaitFor(t, 5*time.Second, "each message twice", func() bool { return len(s.received()) >= 4 })
	c := count(ids(s.received()))
	marked := 0
	for _, m := range s.received() {
		if strings.HasSuffix(m.GetAckId(), "#early") {
			marked++
		}
	}
	if c[published[0]] < 2 || c[published[1]] < 2 || marked != 2 {
		t.Errorf("deliveries %v (%d marked), want each message again, marked, long before its deadline", c, marked)
	}
	if f := e.fired(sub).EarlyRedelivery; f != 2 {
		t.Errorf("early_redelivery fired %d, want 2", f)
	}
}

// pushSub creates a push subscription to ep with cfg's faults.
func (e *env) pushSub(name string, ep *testserver.PushEndpoint, cfg faults.Config) string {
	return e.subscription(name, &pb.Subscription{AckDeadlineSeconds: 10, PushConfig: &pb.PushConfig{PushEndpoint: ep.PushURL()}}, &cfg)
}

func (e *env) waitAcked(ids []string) {
	e.t.Helper()
	testserver.WaitFor(e.t, 5*time.Second, "acks", func() bool {
		for _, id := range ids {
			if !e.acked(id) {
				return false
			}
		}
		return true
	})
}

func TestPushDuplicate(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, nil)
	sub := e.pushSub("pdup", ep, faults.Config{Duplicate: 1, Seed: 1})
	published := e.publish(sub, 4, "")
	testserver.WaitFor(t, 5*time.Second, "8 requests", func() bool { return len(ep.MessageIDs()) == 8 })
	e.waitAcked(published)
	time.Sleep(50 * time.Millisecond)
	c := count(ep.MessageIDs())
	for _, id := range published {
		if c[id] != 2 {
			t.Errorf("message %s posted %d times, want 2", id, c[id])
		}
	}
	if f := e.fired(sub).Duplicate; f != 4 {
		t.Errorf("duplicate fired %d, want 4", f)
	}
}

func TestPushError(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, nil)
	sub := e.pushSub("perr", ep, faults.Config{PushError: 1, Seed: 1})
	published := e.publish(sub, 1, "")
	// The endpoint is called and answers 200, but every answer is replaced
	// by a failure: the message is redelivered after its backoff.
	testserver.WaitFor(t, 5*time.Second, "3 failed pushes", func() bool { return e.fired(sub).PushError >= 3 })
	if e.acked(published[0]) {
		t.Fatal("acked although every push answer failed")
	}
	e.reg.Clear(sub)
	e.waitAcked(published)
	if n, f := len(ep.MessageIDs()), e.fired(sub).PushError; n != int(f)+1 {
		t.Errorf("%d requests, %d failed by the fault: want one success after them", n, f)
	}
}

func TestPushErrorFraction(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, nil)
	sub := e.pushSub("perrf", ep, faults.Config{PushError: 0.3, Seed: 4})
	published := e.publish(sub, 20, "")
	e.waitAcked(published)
	extra := len(ep.MessageIDs()) - 20
	if f := e.fired(sub).PushError; f == 0 || int(f) != extra {
		t.Errorf("push_error fired %d times, %d extra requests", f, extra)
	}
}

func TestPushDelay(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, nil)
	sub := e.pushSub("pdelay", ep, faults.Config{DelayMs: [2]int64{300, 300}, DelayFraction: 1, Seed: 1})
	start := time.Now()
	published := e.publish(sub, 2, "")
	e.waitAcked(published)
	reqs := ep.Requests()
	if len(reqs) != 2 {
		t.Errorf("posted %v, want each once", ep.MessageIDs())
	}
	for _, r := range reqs {
		if d := r.Arrived.Sub(start); d < 300*time.Millisecond {
			t.Errorf("posted after %s, want >= 300ms", d)
		}
	}
}

func TestPushShuffle(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, nil)
	sub := e.pushSub("pshuffle", ep, faults.Config{Shuffle: true, Seed: 2})
	published := e.publish(sub, 30, "")
	e.waitAcked(published)
	if got := count(ep.MessageIDs()); len(got) != 30 {
		t.Errorf("posted %d distinct of 30", len(got))
	}
	if f := e.fired(sub).Shuffle; f == 0 {
		t.Error("shuffle deferred nothing")
	}
}

func TestPushEarlyRedelivery(t *testing.T) {
	e := newEnv(t)
	ep := testserver.NewPushEndpoint(t, func(*testserver.PushRequest, *http.Request) int {
		time.Sleep(time.Second) // slow: still working when the lease ends
		return http.StatusOK
	})
	sub := e.pushSub("pearly", ep, faults.Config{EarlyRedelivery: 1, Seed: 1})
	published := e.publish(sub, 1, "")
	e.waitAcked(published)
	time.Sleep(50 * time.Millisecond)
	if got, most := ep.MessageIDs(), ep.MostInFlight(); len(got) != 2 || most != 2 {
		t.Errorf("posted %v, %d at once; want twice, overlapping", got, most)
	}
	if f := e.fired(sub).EarlyRedelivery; f != 1 {
		t.Errorf("early_redelivery fired %d, want 1", f)
	}
}
