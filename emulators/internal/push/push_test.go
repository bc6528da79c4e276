package push

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

func TestEveryMessageIsDeliveredOnceInPubSubPushFormat(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := testserver.NewPushEndpoint(t, nil)
	topic, sub := h.pushTo(ep.PushURL())

	ids := h.publish(topic, messages(200, map[string]string{"site": "s1"})...)
	testserver.WaitFor(t, 10*time.Second, "200 deliveries", func() bool { return len(ep.ByMessage()) == 200 })
	time.Sleep(200 * time.Millisecond) // let any duplicate show up

	got := ep.ByMessage()
	for i, id := range ids {
		reqs := got[id]
		if len(reqs) != 1 {
			t.Fatalf("message %s delivered %d times, want once", id, len(reqs))
		}
		r := reqs[0]
		if want := fmt.Sprintf("event-%d", i); string(r.Message.Data) != want {
			t.Errorf("data = %q, want %q", r.Message.Data, want)
		}
		if r.Message.Attributes["site"] != "s1" {
			t.Errorf("attributes = %v", r.Message.Attributes)
		}
		if r.Message.MessageIDSnake != id {
			t.Errorf("message_id = %q, want %q", r.Message.MessageIDSnake, id)
		}
		if r.Subscription != sub {
			t.Errorf("subscription = %q, want %q", r.Subscription, sub)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Message.PublishTime); err != nil || r.Message.PublishTimeSnake != r.Message.PublishTime {
			t.Errorf("publishTime %q / publish_time %q: %v", r.Message.PublishTime, r.Message.PublishTimeSnake, err)
		}
		if _, ok := r.Raw["deliveryAttempt"]; ok {
			t.Errorf("deliveryAttempt sent without a dead-letter policy")
		}
		if _, ok := r.Raw["message"].(map[string]any)["orderingKey"]; ok {
			t.Errorf("orderingKey sent for a message without one")
		}
	}
}

func TestFailedDeliveryIsRedeliveredWithBackoffThenAcked(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := testserver.NewPushEndpoint(t, func(r *testserver.PushRequest, _ *http.Request) int {
		if r.Seen <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	topic := h.createTopic("events")
	s := pushSub("push", topic, ep.PushURL())
	s.RetryPolicy = &pb.RetryPolicy{MinimumBackoff: durationpb.New(100 * time.Millisecond), MaximumBackoff: durationpb.New(time.Second)}
	h.createSubscription(s)

	ids := h.publish(topic, messages(5, nil)...)
	testserver.WaitFor(t, 10*time.Second, "three deliveries of each message", func() bool {
		got := ep.ByMessage()
		for _, id := range ids {
			if len(got[id]) < 3 {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // an unacked message would come back by now

	for id, reqs := range ep.ByMessage() {
		if len(reqs) != 3 {
			t.Fatalf("message %s delivered %d times, want 3 (two 500s, then acked)", id, len(reqs))
		}
		// Retry policy 100ms..1s: waits of at least 100ms, then 200ms.
		if gap := reqs[1].Arrived.Sub(reqs[0].Arrived); gap < 100*time.Millisecond {
			t.Errorf("first redelivery after %s, want >= 100ms", gap)
		}
		if gap := reqs[2].Arrived.Sub(reqs[1].Arrived); gap < 200*time.Millisecond {
			t.Errorf("second redelivery after %s, want >= 200ms", gap)
		}
	}
}

func TestEndpointTimeoutAtAckDeadlineIsRedelivered(t *testing.T) {
	h := newHarness(t, fastConfig)
	var cancelled atomic.Bool
	ep := testserver.NewPushEndpoint(t, func(r *testserver.PushRequest, req *http.Request) int {
		if r.Seen == 1 {
			select { // hang past the 1 s ack deadline
			case <-req.Context().Done():
				cancelled.Store(true)
			case <-time.After(5 * time.Second):
			}
		}
		return http.StatusOK
	})
	topic := h.createTopic("events")
	s := pushSub("push", topic, ep.PushURL())
	s.AckDeadlineSeconds = 1
	h.createSubscription(s)

	id := h.publish(topic, messages(1, nil)...)[0]
	testserver.WaitFor(t, 5*time.Second, "a second delivery", func() bool { return len(ep.ByMessage()[id]) >= 2 })
	time.Sleep(1500 * time.Millisecond) // past another ack deadline: no third delivery

	reqs := ep.ByMessage()[id]
	if len(reqs) != 2 {
		t.Fatalf("delivered %d times, want 2 (timeout, then ack)", len(reqs))
	}
	if gap := reqs[1].Arrived.Sub(reqs[0].Arrived); gap < time.Second {
		t.Errorf("redelivered %s after the first attempt, before the 1 s ack deadline", gap)
	}
	if !cancelled.Load() {
		t.Error("the timed-out request was not cancelled")
	}
}

func TestOrderingKeysAreDeliveredInOrderOneAtATimeAndKeysInParallel(t *testing.T) {
	h := newHarness(t, fastConfig)
	const keys, perKey = 4, 15
	var (
		mu          sync.Mutex
		outstanding = map[string]int{}
		acked       = map[string][]int{}
		inFlight    int
		maxInFlight int
	)
	ep := testserver.NewPushEndpoint(t, func(r *testserver.PushRequest, _ *http.Request) int {
		key := r.Message.OrderingKey
		mu.Lock()
		outstanding[key]++
		if outstanding[key] > 1 {
			t.Errorf("key %s has %d messages outstanding at once", key, outstanding[key])
		}
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()

		time.Sleep(10 * time.Millisecond)
		code := http.StatusOK
		if rand.IntN(4) == 0 { // some failures exercise redelivery in order
			code = http.StatusServiceUnavailable
		}

		mu.Lock()
		defer mu.Unlock()
		outstanding[key]--
		inFlight--
		if code == http.StatusOK {
			seq, _ := strconv.Atoi(r.Message.Attributes["seq"])
			acked[key] = append(acked[key], seq)
		}
		return code
	})
	h.orderedSubscription(ep.PushURL(), keys, perKey)

	testserver.WaitFor(t, 20*time.Second, "every message acked", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, seqs := range acked {
			n += len(seqs)
		}
		return n == keys*perKey
	})
	mu.Lock()
	defer mu.Unlock()
	inOrder(t, "acked", acked, perKey)
	if maxInFlight < 2 {
		t.Errorf("at most %d delivery in flight: distinct keys were not delivered in parallel", maxInFlight)
	}
	for _, r := range ep.Requests() {
		if r.Message.OrderingKey == "" || r.Raw["message"].(map[string]any)["orderingKey"] == nil {
			t.Fatalf("orderingKey missing from push body %v", r.Raw)
		}
	}
}

func TestMessageIsDeadLetteredAfterMaxDeliveryAttempts(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := testserver.NewPushEndpoint(t, func(*testserver.PushRequest, *http.Request) int { return http.StatusBadRequest })
	topic := h.createTopic("events")
	dlq := h.createTopic("events-dlq")
	dlqSub := h.createSubscription(&pb.Subscription{Name: "dlq-pull", Topic: dlq})
	s := pushSub("push", topic, ep.PushURL())
	s.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: dlq, MaxDeliveryAttempts: 5}
	h.createSubscription(s)

	id := h.publish(topic, &pb.PubsubMessage{Data: []byte("poison"), Attributes: map[string]string{"site": "s9"}})[0]
	dead := h.pullAll(dlqSub, 1, 10*time.Second)
	if len(dead) != 1 {
		t.Fatalf("pulled %d messages from the dead-letter topic, want 1", len(dead))
	}
	time.Sleep(300 * time.Millisecond) // no delivery after dead-lettering

	reqs := ep.ByMessage()[id]
	var attempts []int
	for _, r := range reqs {
		if r.DeliveryAttempt == nil {
			t.Fatal("deliveryAttempt missing although the subscription has a dead-letter policy")
		}
		attempts = append(attempts, *r.DeliveryAttempt)
	}
	if fmt.Sprint(attempts) != "[1 2 3 4 5]" {
		t.Errorf("deliveryAttempt sequence %v, want [1 2 3 4 5]", attempts)
	}
	m := dead[0].GetMessage()
	if string(m.GetData()) != "poison" || m.GetAttributes()["site"] != "s9" {
		t.Errorf("dead-lettered message lost data or attributes: %v", m)
	}
	wantAttrs := map[string]string{
		"CloudPubSubDeadLetterSourceDeliveryCount":       "5",
		"CloudPubSubDeadLetterSourceSubscription":        "push",
		"CloudPubSubDeadLetterSourceSubscriptionProject": "test",
	}
	for k, v := range wantAttrs {
		if m.GetAttributes()[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, m.GetAttributes()[k], v)
		}
	}
}

func TestSubscriptionCreatedAfterStartIsPickedUp(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := testserver.NewPushEndpoint(t, nil)
	topic := h.createTopic("events")
	time.Sleep(100 * time.Millisecond) // several resyncs with no subscription

	h.createSubscription(pushSub("late", topic, ep.PushURL()))
	h.publish(topic, messages(3, nil)...)
	testserver.WaitFor(t, 5*time.Second, "3 deliveries", func() bool { return len(ep.ByMessage()) == 3 })
}

func TestChangingThePushEndpointRedirectsDelivery(t *testing.T) {
	h := newHarness(t, fastConfig)
	first, second := testserver.NewPushEndpoint(t, nil), testserver.NewPushEndpoint(t, nil)
	topic, sub := h.pushTo(first.PushURL())
	h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 5*time.Second, "delivery to the first endpoint", func() bool { return len(first.Requests()) == 1 })

	h.setPushEndpoint(sub, second.PushURL())
	h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 5*time.Second, "delivery to the second endpoint", func() bool { return len(second.Requests()) == 1 })
	if n := len(first.Requests()); n != 1 {
		t.Errorf("first endpoint got %d requests after the change, want 1", n)
	}
}

func TestTurningPushIntoPullHandsPendingMessagesToPullers(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := testserver.NewPushEndpoint(t, func(*testserver.PushRequest, *http.Request) int { return http.StatusInternalServerError })
	topic := h.createTopic("events")
	s := pushSub("push", topic, ep.PushURL())
	s.RetryPolicy = &pb.RetryPolicy{MinimumBackoff: durationpb.New(30 * time.Second)}
	sub := h.createSubscription(s)
	h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 5*time.Second, "a failed delivery", func() bool { return len(ep.Requests()) == 1 })

	// The message now waits out a 30 s backoff; turning the subscription
	// into a pull one must release it at once.
	h.setPushEndpoint(sub, "")
	if got := h.pullAll(sub, 1, 3*time.Second); len(got) != 1 {
		t.Fatalf("pulled %d messages, want the 1 pending push message", len(got))
	}
}

func TestDeletingTheSubscriptionStopsDelivery(t *testing.T) {
	h := newHarness(t, fastConfig)
	var cancelled atomic.Bool
	ep := testserver.NewPushEndpoint(t, func(r *testserver.PushRequest, req *http.Request) int {
		if r.Seen == 1 {
			return http.StatusInternalServerError // retried every 10..40ms
		}
		select {
		case <-req.Context().Done():
			cancelled.Store(true)
		case <-time.After(10 * time.Second):
		}
		return http.StatusInternalServerError
	})
	topic, sub := h.pushTo(ep.PushURL())
	h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 5*time.Second, "a redelivery in flight", func() bool { return len(ep.Requests()) == 2 })

	if _, err := h.sub.DeleteSubscription(context.Background(), &pb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
		t.Fatal(err)
	}
	testserver.WaitFor(t, 2*time.Second, "the request in flight to be cancelled", cancelled.Load)
	time.Sleep(300 * time.Millisecond)
	if n := len(ep.Requests()); n != 2 {
		t.Errorf("%d requests after deleting the subscription, want none beyond the 2 before", n)
	}
}

func TestRunCancelsDeliveriesAndReturnsOnShutdown(t *testing.T) {
	cfg := fastConfig
	cfg.InitialWindow = cfg.Concurrency // every slot in use at once
	h := newHarness(t, cfg)
	var started, cancelled atomic.Int32
	ep := testserver.NewPushEndpoint(t, func(_ *testserver.PushRequest, req *http.Request) int {
		started.Add(1)
		select {
		case <-req.Context().Done():
			cancelled.Add(1)
		case <-time.After(10 * time.Second):
		}
		return http.StatusOK
	})
	topic, _ := h.pushTo(ep.PushURL())
	h.publish(topic, messages(40, nil)...)
	testserver.WaitFor(t, 5*time.Second, "16 deliveries in flight", func() bool { return started.Load() == 16 })
	time.Sleep(50 * time.Millisecond)
	if n := started.Load(); n != 16 {
		t.Errorf("%d deliveries in flight, want the concurrency limit of 16", n)
	}

	t0 := time.Now()
	h.stop()
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Run took %s to return", d)
	}
	testserver.WaitFor(t, 2*time.Second, "every request in flight to be cancelled", func() bool { return cancelled.Load() == 16 })
	time.Sleep(100 * time.Millisecond)
	if n := started.Load(); n != 16 {
		t.Errorf("%d deliveries started after shutdown", n-16)
	}
}

func TestTheWindowStartsSmallGrowsWithSuccessAndHalvesOnFailure(t *testing.T) {
	cfg := fastConfig
	cfg.InitialWindow = 2
	h := newHarness(t, cfg)
	var inFlight, most atomic.Int32
	var phase atomic.Int32 // 0: hold every request; 1: answer 200 after 20ms; 2: answer 500 after 20ms
	release := make(chan struct{})
	ep := testserver.NewPushEndpoint(t, func(_ *testserver.PushRequest, _ *http.Request) int {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if phase.Load() == 0 {
			<-release
		}
		time.Sleep(20 * time.Millisecond)
		if phase.Load() == 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	topic, _ := h.pushTo(ep.PushURL())
	h.publish(topic, messages(2000, nil)...)
	testserver.WaitFor(t, 5*time.Second, "the first deliveries", func() bool { return inFlight.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	phase.Store(1)
	close(release)
	if n := most.Load(); n != 2 {
		t.Fatalf("%d deliveries in flight before any answer, want the initial window of 2", n)
	}
	testserver.WaitFor(t, 10*time.Second, "successes to widen the window to the limit", func() bool { return most.Load() == 16 })
	phase.Store(2)
	time.Sleep(300 * time.Millisecond) // failures halve the window down to one
	most.Store(0)
	time.Sleep(200 * time.Millisecond)
	if n := most.Load(); n > 1 {
		t.Errorf("%d deliveries in flight after a run of failures, want at most 1", n)
	}
	phase.Store(1)
}
