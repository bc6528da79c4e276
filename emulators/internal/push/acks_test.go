package push

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// ackedOnce fails t unless every message the fake holds was acked exactly
// once.
func ackedOnce(t *testing.T, h *harness) {
	t.Helper()
	for _, m := range h.fake.Messages() {
		if m.Acks != 1 {
			t.Errorf("message %s acked %d times, want once", m.ID, m.Acks)
		}
	}
}

// postedOnce fails t unless each of ids reached the endpoint exactly once.
func postedOnce(t *testing.T, ep *testserver.PushEndpoint, ids []string) {
	t.Helper()
	got := ep.ByMessage()
	for _, id := range ids {
		if n := len(got[id]); n != 1 {
			t.Errorf("message %s posted %d times, want once", id, n)
		}
	}
}

func TestSuccessfulDeliveriesAreAckedInFarFewerCallsThanMessages(t *testing.T) {
	cfg := fastConfig
	cfg.ackInterval = 20 * time.Millisecond // >= 5 acks a call down to 250 msg/s (-race on a busy machine)
	h := newHarness(t, cfg)
	ep := testserver.NewPushEndpoint(t, func(*testserver.PushRequest, *http.Request) int { return http.StatusNoContent })
	topic, _ := h.pushTo(ep.PushURL())

	const n = 1000
	ids := h.publish(topic, messages(n, nil)...)
	testserver.WaitFor(t, 20*time.Second, "every message acked", func() bool { return h.calls.acked() >= n })
	time.Sleep(200 * time.Millisecond) // let any duplicate post or ack show up

	if calls := h.calls.count("Acknowledge"); calls > n/5 {
		t.Errorf("%d Acknowledge calls for %d messages, want at most %d", calls, n, n/5)
	} else {
		t.Logf("%d Acknowledge calls for %d messages", calls, n)
	}
	if got := h.calls.acked(); got != n {
		t.Errorf("Acknowledge calls carried %d ack ids for %d messages", got, n)
	}
	ackedOnce(t, h)
	postedOnce(t, ep, ids)
}

func TestStoppingTheDispatcherSendsTheAcksStillInTheBatch(t *testing.T) {
	cfg := fastConfig
	cfg.ackInterval = time.Hour // only the stop can send them
	h := newHarness(t, cfg)
	ep := testserver.NewPushEndpoint(t, nil)
	topic, _ := h.pushTo(ep.PushURL())

	ids := h.publish(topic, messages(50, nil)...)
	testserver.WaitFor(t, 5*time.Second, "50 deliveries", func() bool { return len(ep.ByMessage()) == 50 })
	time.Sleep(50 * time.Millisecond)
	if calls := h.calls.count("Acknowledge"); calls != 0 {
		t.Fatalf("%d Acknowledge calls before the batch was due", calls)
	}

	h.stop()
	if calls := h.calls.count("Acknowledge"); calls != 1 {
		t.Errorf("%d Acknowledge calls on stop, want 1", calls)
	}
	ackedOnce(t, h)
	postedOnce(t, ep, ids)
}

func TestAMessageHandedOutAgainWhileItsAckWaitsIsNotPostedAgain(t *testing.T) {
	cfg := fastConfig
	// Past the 1 s ack deadline twice: the emulator hands the message out
	// again at about 1 s and 2 s; the batch goes at 2.5 s, while the latest
	// delivery's lease still runs.
	cfg.ackInterval = 2500 * time.Millisecond
	h := newHarness(t, cfg)
	ep := testserver.NewPushEndpoint(t, nil)
	topic := h.createTopic("events")
	s := pushSub("push", topic, ep.PushURL())
	s.AckDeadlineSeconds = 1
	h.createSubscription(s)

	ids := h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 5*time.Second, "the ack", func() bool { return h.calls.acked() == 1 })
	time.Sleep(1500 * time.Millisecond) // past another ack deadline

	ackedOnce(t, h)
	postedOnce(t, ep, ids)
}

func TestOrderingKeysDoNotWaitForTheAckBatch(t *testing.T) {
	cfg := fastConfig
	cfg.ackInterval = time.Hour // a key moves on only if its ack is sent before the next pull
	h := newHarness(t, cfg)
	const keys, perKey = 3, 10
	var (
		mu    sync.Mutex
		order = map[string][]int{}
	)
	ep := testserver.NewPushEndpoint(t, func(r *testserver.PushRequest, _ *http.Request) int {
		seq, _ := strconv.Atoi(r.Message.Attributes["seq"])
		mu.Lock()
		order[r.Message.OrderingKey] = append(order[r.Message.OrderingKey], seq)
		mu.Unlock()
		return http.StatusOK
	})
	ids := h.orderedSubscription(ep.PushURL(), keys, perKey)
	testserver.WaitFor(t, 10*time.Second, "every message delivered", func() bool { return len(ep.ByMessage()) == keys*perKey })
	h.stop()

	mu.Lock()
	defer mu.Unlock()
	inOrder(t, "delivered", order, perKey)
	ackedOnce(t, h)
	postedOnce(t, ep, ids)
}
