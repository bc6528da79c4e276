package push

import (
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/faults"
)

// Acks of successful deliveries are sent in batches: one Acknowledge call
// per subscription carries up to ackBatch ack ids (the Go and Java client
// libraries' batch size), at most defaultAckInterval after the first of
// them. An Acknowledge per message held the worker's goroutine for a call
// per delivery and bounded push throughput.
const (
	ackBatch           = 1000
	defaultAckInterval = 5 * time.Millisecond
)

// ack settles a message that was delivered (or dead-lettered): the worker
// forgets it and its ack id joins the batch. Until the batch is sent the
// emulator still counts the message outstanding, which is why a pull first
// sends a batch that holds back an ordering key (see pull), and why a
// message handed out again meanwhile is not posted again (see reack).
func (w *worker) ack(id string, h *held, msg *pb.PubsubMessage) {
	delete(w.held, id)
	delete(w.attempts, id)
	w.acks[id] = h.ackID
	if msg.GetOrderingKey() != "" && w.config.Load().GetEnableMessageOrdering() {
		w.acksHoldKeys = true
	}
	switch {
	case len(w.acks) >= ackBatch:
		w.flushAcks()
	case w.ackTimer == nil:
		w.ackTimer = time.NewTimer(w.d.cfg.ackInterval)
		w.ackDue = w.ackTimer.C
	}
}

// flushAcks sends the batch in one Acknowledge call.
func (w *worker) flushAcks() {
	if w.ackTimer != nil {
		w.ackTimer.Stop()
		w.ackTimer, w.ackDue = nil, nil
	}
	if len(w.acks) == 0 {
		return
	}
	ackIDs := make([]string, 0, len(w.acks))
	for _, ackID := range w.acks {
		ackIDs = append(ackIDs, ackID)
	}
	clear(w.acks)
	w.acksHoldKeys = false
	ctx, cancel := rpcContext()
	defer cancel()
	_, err := w.d.sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: w.name, AckIds: ackIDs})
	// NotFound: the subscription is gone, and its messages with it.
	if err != nil && status.Code(err) != codes.NotFound {
		w.d.cfg.Logf("push: acking %d messages on %s: %v", len(ackIDs), w.name, err)
	}
}

// reack reports whether rm is a message whose ack is still in the batch,
// handed out again because its ack deadline ran out before the batch was
// sent; the batch then acks this delivery instead. The endpoint answered
// in time, so the emulator's batching must not cost a second delivery.
func (w *worker) reack(rm *pb.ReceivedMessage) bool {
	id := rm.GetMessage().GetMessageId()
	if _, ok := w.acks[id]; !ok || faults.Extra(rm.GetAckId()) {
		return false
	}
	w.acks[id] = rm.GetAckId()
	return true
}
