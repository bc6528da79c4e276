package push

import (
	"context"
	"errors"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// errInjected is a push answer replaced by internal/faults' push_error.
var errInjected = errors.New("push_error fault injected: the endpoint's answer was discarded")

// deliverExtra posts a copy added by an injected fault (a duplicate, or a
// redelivery after an early lease expiry) outside the worker's bookkeeping:
// the worker may still be delivering the message itself. On success the
// copy's ack id is acknowledged (which acks the message if that delivery is
// still its current one); on failure nothing is done: the message's own
// delivery, or its lease, decides what happens next.
func (w *worker) deliverExtra(sub *pb.Subscription, rm *pb.ReceivedMessage) {
	defer w.deliveries.Done()
	ctx, cancel := context.WithTimeout(w.sending, ackDeadline(sub))
	attempt := int(rm.GetDeliveryAttempt())
	err := post(ctx, w.d.cfg.HTTPClient, w.delivery(sub, rm.GetMessage(), max(1, attempt)))
	cancel()
	<-w.d.slots
	if err != nil {
		if w.sending.Err() == nil {
			w.d.cfg.Logf("push: %s copy of message %s (injected fault) to %s failed: %v", w.name, rm.GetMessage().GetMessageId(), sub.GetPushConfig().GetPushEndpoint(), err)
		}
		return
	}
	actx, acancel := rpcContext()
	defer acancel()
	if _, err := w.d.sub.Acknowledge(actx, &pb.AcknowledgeRequest{Subscription: w.name, AckIds: []string{rm.GetAckId()}}); err != nil {
		w.d.cfg.Logf("push: acking a copy of %s on %s: %v", rm.GetMessage().GetMessageId(), w.name, err)
	}
}
