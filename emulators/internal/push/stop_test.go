package push

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// heldEndpoint is a push endpoint that holds every request until the test
// answers it (answer), and counts the requests cancelled while held.
type heldEndpoint struct {
	*testserver.PushEndpoint
	t         *testing.T
	answers   chan int
	cancelled atomic.Int32
}

func newHeldEndpoint(t *testing.T) *heldEndpoint {
	e := &heldEndpoint{t: t, answers: make(chan int)}
	done := make(chan struct{})
	e.PushEndpoint = testserver.NewPushEndpoint(t, func(_ *testserver.PushRequest, req *http.Request) int {
		select {
		case code := <-e.answers:
			return code
		case <-req.Context().Done():
			e.cancelled.Add(1)
		case <-done: // the test ended: let the server close
		}
		return http.StatusServiceUnavailable
	})
	t.Cleanup(func() { close(done) }) // runs before the server's Close, which waits for requests
	return e
}

// answer answers one held request with code, failing the test if none is
// held (e.g. because it was cancelled).
func (e *heldEndpoint) answer(code int) {
	e.t.Helper()
	select {
	case e.answers <- code:
	case <-time.After(5 * time.Second):
		e.t.Fatalf("no request held to answer %d", code)
	}
}

// setPushEndpoint points sub at url ("": a pull subscription), then waits
// until the dispatcher has acted on the change.
func (h *harness) setPushEndpoint(sub, url string) {
	h.t.Helper()
	h.calls.listing.Lock()
	_, err := h.sub.UpdateSubscription(context.Background(), &pb.UpdateSubscriptionRequest{
		Subscription: &pb.Subscription{Name: sub, PushConfig: &pb.PushConfig{PushEndpoint: url}},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}},
	})
	h.calls.listing.Unlock()
	if err != nil {
		h.t.Fatal(err)
	}
	h.resynced()
}

// resynced waits until the dispatcher has read the subscriptions afresh
// and acted on them. A listing counted when it is called may have started
// before; the next one started after, and a third starts only once the
// resync of the second is done.
func (h *harness) resynced() {
	h.t.Helper()
	n := h.calls.count("ListSubscriptions")
	testserver.WaitFor(h.t, 5*time.Second, "a resync", func() bool { return h.calls.count("ListSubscriptions") >= n+2 })
}

// heldDelivery creates a push subscription to ep, publishes one message and
// waits until ep holds its delivery; it returns the topic, the subscription
// and the message id.
func (h *harness) heldDelivery(ep *heldEndpoint) (topic, sub, id string) {
	h.t.Helper()
	topic, sub = h.pushTo(ep.PushURL())
	id = h.publish(topic, messages(1, nil)...)[0]
	testserver.WaitFor(h.t, 5*time.Second, "the delivery held", func() bool { return len(ep.Requests()) == 1 })
	return topic, sub, id
}

// acks is how many times the emulator saw message id acked.
func (h *harness) acks(id string) int {
	for _, m := range h.fake.Messages() {
		if m.ID == id {
			return m.Acks
		}
	}
	return 0
}

// pulledIDs are the message ids of the messages pulls bring within a
// second of waiting for want (acked as they come).
func (h *harness) pulledIDs(sub string, want int) []string {
	var ids []string
	for _, rm := range h.pullAll(sub, want, time.Second) {
		ids = append(ids, rm.GetMessage().GetMessageId())
	}
	return ids
}

func TestTurningPushOffLetsTheDeliveryInFlightFinishAndItsAnswerAcks(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := newHeldEndpoint(t)
	topic, sub, pushed := h.heldDelivery(ep)

	h.setPushEndpoint(sub, "")
	later := h.publish(topic, messages(1, nil)...)[0]
	ep.answer(http.StatusOK)
	testserver.WaitFor(t, 5*time.Second, "the held delivery's ack", func() bool { return h.acks(pushed) == 1 })

	// Two wanted, so the pull goes on for a second: the pushed message
	// would come back (nacked) well within it.
	if ids := h.pulledIDs(sub, 2); !slices.Equal(ids, []string{later}) {
		t.Errorf("pulled %v after push went off, want only the message published since (%s)", ids, later)
	}
	if got := ep.MessageIDs(); !slices.Equal(got, []string{pushed}) || ep.cancelled.Load() != 0 {
		t.Errorf("endpoint got %v (%d cancelled), want the one held delivery, answered", got, ep.cancelled.Load())
	}
}

func TestAFailingAnswerOfADeliveryFinishingAfterPushWentOffHandsItsMessageToPullers(t *testing.T) {
	h := newHarness(t, fastConfig)
	ep := newHeldEndpoint(t)
	_, sub, pushed := h.heldDelivery(ep)

	h.setPushEndpoint(sub, "")
	ep.answer(http.StatusInternalServerError)
	// Nacked: pulled at once rather than after the 10 s ack deadline.
	if ids := h.pulledIDs(sub, 1); !slices.Equal(ids, []string{pushed}) {
		t.Errorf("pulled %v after the failed answer, want the pushed message %s", ids, pushed)
	}
	if n := len(ep.Requests()); n != 1 {
		t.Errorf("endpoint got %d requests, want 1: no redelivery once push is off", n)
	}
}

func TestChangingTheEndpointLetsTheDeliveryInFlightFinishAndSendsNewOnesToTheNewOne(t *testing.T) {
	h := newHarness(t, fastConfig)
	old, next := newHeldEndpoint(t), testserver.NewPushEndpoint(t, nil)
	topic, sub, first := h.heldDelivery(old)

	h.setPushEndpoint(sub, next.PushURL())
	second := h.publish(topic, messages(1, nil)...)[0]
	testserver.WaitFor(t, 5*time.Second, "delivery to the new endpoint", func() bool { return len(next.Requests()) == 1 })
	old.answer(http.StatusOK)
	testserver.WaitFor(t, 5*time.Second, "both acked", func() bool { return h.acks(first) == 1 && h.acks(second) == 1 })

	if got := old.MessageIDs(); !slices.Equal(got, []string{first}) {
		t.Errorf("old endpoint got %v, want only %s", got, first)
	}
	if got := next.MessageIDs(); !slices.Equal(got, []string{second}) {
		t.Errorf("new endpoint got %v, want only %s", got, second)
	}
}

// Deleting a subscription, or shutting down, cancels the deliveries its
// worker was letting finish after push went off.
func TestStoppingCancelsTheDeliveriesFinishingAfterPushWentOff(t *testing.T) {
	for name, stop := range map[string]func(h *harness, sub string){
		"deleted": func(h *harness, sub string) {
			if _, err := h.sub.DeleteSubscription(context.Background(), &pb.DeleteSubscriptionRequest{Subscription: sub}); err != nil {
				h.t.Fatal(err)
			}
		},
		"shut down": func(h *harness, _ string) { h.stop() },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, fastConfig)
			ep := newHeldEndpoint(t)
			_, sub, _ := h.heldDelivery(ep)
			h.setPushEndpoint(sub, "")
			if n := ep.cancelled.Load(); n != 0 {
				t.Fatalf("%d deliveries cancelled by turning push off", n)
			}
			stop(h, sub)
			testserver.WaitFor(t, 5*time.Second, "the held delivery cancelled", func() bool { return ep.cancelled.Load() == 1 })
		})
	}
}
