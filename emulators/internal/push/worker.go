package push

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/grpcrecover"
)

// maxPull caps the messages one pull takes, whatever the free delivery slots.
const maxPull = 64

// held is a message this worker has pulled and not yet settled: in flight to
// the endpoint, or waiting out its backoff while still outstanding in the
// emulator (which keeps later messages of its ordering key back).
type held struct {
	ackID   string
	retry   *time.Timer // set while backing off
	retryAt time.Time
}

// outcome is what a delivery goroutine reports back to its worker.
type outcome struct {
	msg *pb.PubsubMessage
	err error
}

// worker delivers the messages of one push subscription. All of its state is
// owned by the run goroutine; deliveries and backoff timers talk to it over
// channels.
//
// It ends in one of two ways. retire (push turned off) ends ctx: nothing new
// is pulled or posted, and the deliveries in flight finish within their ack
// deadline, their answers applied, as production lets a delivery sent under
// the old config finish. stop (subscription deleted or detached, dispatcher
// shut down) ends sending too, which cancels those deliveries at once.
type worker struct {
	d      *Dispatcher
	name   string
	config atomic.Pointer[pb.Subscription]
	ctx    context.Context // the run loop's; ends with sending or on retire
	cancel context.CancelFunc
	// sending is the deliveries' context; abort cancels it (and ctx).
	sending context.Context
	abort   context.CancelFunc
	done    chan struct{} // closed once run has returned

	outcomes chan outcome
	due      chan string // message ids whose backoff has elapsed

	held       map[string]*held
	attempts   map[string]int // deliveries made, by message id, until settled
	deliveries sync.WaitGroup

	// The push window (slow start, as production's push flow control):
	// deliveries this subscription may have in flight, grown by one per
	// success up to Config.Concurrency and halved by a failure.
	window, inflight int

	// The batch of acks not yet sent (acks.go).
	acks         map[string]string // ack id by message id
	acksHoldKeys bool              // one of them holds back an ordering key
	ackTimer     *time.Timer
	ackDue       <-chan time.Time // nil while the batch is empty
}

func newWorker(parent context.Context, d *Dispatcher, sub *pb.Subscription) *worker {
	sending, abort := context.WithCancel(parent)
	ctx, cancel := context.WithCancel(sending)
	w := &worker{
		d:        d,
		name:     sub.GetName(),
		ctx:      ctx,
		cancel:   cancel,
		sending:  sending,
		abort:    abort,
		done:     make(chan struct{}),
		outcomes: make(chan outcome),
		due:      make(chan string),
		held:     map[string]*held{},
		attempts: map[string]int{},
		acks:     map[string]string{},
		window:   min(d.cfg.InitialWindow, d.cfg.Concurrency),
	}
	w.config.Store(sub)
	return w
}

// stop ends the worker and cancels its deliveries in flight, without
// waiting; Dispatcher.Run waits.
func (w *worker) stop() { w.abort() }

// retire ends the worker once its deliveries in flight have been answered
// (or timed out), without waiting; no delivery starts after it.
func (w *worker) retire() { w.cancel() }

// stopped reports whether the worker has ended or is ending (stopped,
// retired, or because it found its subscription deleted).
func (w *worker) stopped() bool { return w.ctx.Err() != nil }

// ended reports whether run has returned: every delivery settled.
func (w *worker) ended() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// run alternates between pulling as many messages as there are free delivery
// slots and settling the outcomes of earlier deliveries, and sends the batch
// of acks when it is due.
func (w *worker) run() {
	defer w.shutdown()
	for {
		// Wait for a first slot, once the window has room for a batch; the
		// channel queues waiting workers in order, so a busy subscription
		// cannot starve the others.
		room := w.room()
		var slots chan struct{} // nil: no room, wait for answers instead
		if room > 0 {
			slots = w.d.slots
		}
		select {
		case <-w.ctx.Done():
			return
		case o := <-w.outcomes:
			w.answered(o)
			continue
		case id := <-w.due:
			w.redeliver(id)
			continue
		case <-w.ackDue:
			w.flushAcks()
			continue
		case slots <- struct{}{}:
		}
		if w.pull(1+w.takeSlots(min(maxPull, room)-1)) > 0 {
			continue
		}
		idle := time.NewTimer(w.d.cfg.PollInterval)
		select {
		case <-w.ctx.Done():
			idle.Stop()
			return
		case o := <-w.outcomes:
			w.answered(o)
		case id := <-w.due:
			w.redeliver(id)
		case <-w.ackDue:
			w.flushAcks()
		case <-idle.C:
		}
		idle.Stop()
	}
}

// room is how many more deliveries the window lets this worker start now.
// While deliveries are in flight it waits until a quarter of the window is
// free, so a busy subscription pulls in batches instead of once per answer
// (each Pull walks the subscription's backlog in the emulator).
func (w *worker) room() int {
	free := w.window - w.inflight
	if w.inflight > 0 && free < max(1, w.window/4) {
		return 0
	}
	return max(free, 0)
}

// answered settles a delivery's outcome and moves the window: one more on a
// success, half on a failure (at least one delivery stays allowed).
func (w *worker) answered(o outcome) {
	w.inflight--
	if o.err == nil {
		w.window = min(w.window+1, w.d.cfg.Concurrency)
	} else {
		w.window = max(1, w.window/2)
	}
	w.settle(o)
}

// takeSlots grabs up to n more free slots without waiting.
func (w *worker) takeSlots(n int) int {
	for i := range n {
		select {
		case w.d.slots <- struct{}{}:
		default:
			return i
		}
	}
	return n
}

func (w *worker) releaseSlots(n int) {
	for range n {
		<-w.d.slots
	}
}

// pull fetches up to n messages, holding n slots, and starts a delivery for
// each new one. Slots not used by a delivery are released. It returns how
// many deliveries it started.
func (w *worker) pull(n int) int {
	if w.acksHoldKeys {
		// The emulator hands out a key's next message only once the
		// previous one is acked.
		w.flushAcks()
	}
	ctx, cancel := rpcContext()
	defer cancel()
	resp, err := w.d.sub.Pull(ctx, &pb.PullRequest{
		Subscription:      w.name,
		MaxMessages:       int32(n),
		ReturnImmediately: true,
	})
	if err == nil && w.stopped() {
		// Stopped meanwhile: hand the messages straight back.
		for _, rm := range resp.GetReceivedMessages() {
			if !w.reack(rm) {
				w.modifyDeadline(rm.GetAckId(), 0)
			}
		}
		w.releaseSlots(n)
		return 0
	}
	if err != nil {
		w.releaseSlots(n)
		if status.Code(err) == codes.NotFound {
			w.abort() // deleted; the next resync forgets it too
		} else if w.ctx.Err() == nil {
			w.d.cfg.Logf("push: pulling %s: %v", w.name, err)
		}
		return 0
	}
	sub := w.config.Load()
	started := 0
	for _, rm := range resp.GetReceivedMessages() {
		id := rm.GetMessage().GetMessageId()
		if faults.Extra(rm.GetAckId()) {
			// A copy added by an injected fault: posted on its own.
			w.deliveries.Add(1)
			started++
			go w.deliverExtra(sub, rm)
			continue
		}
		if w.reack(rm) {
			continue
		}
		if h, ok := w.held[id]; ok {
			// The emulator's ack deadline ran out while we held it, so it
			// handed the message out again: keep one delivery, the newest ack
			// id, and keep it outstanding until its backoff ends.
			h.ackID = rm.GetAckId()
			if h.retry != nil {
				w.modifyDeadline(h.ackID, deadlineCovering(time.Until(h.retryAt)))
			}
			continue
		}
		w.attempts[id]++
		w.held[id] = &held{ackID: rm.GetAckId()}
		w.deliveries.Add(1)
		started++
		w.inflight++
		go w.deliver(sub, rm.GetMessage(), w.attempts[id])
	}
	w.releaseSlots(n - started)
	return started
}

// deliver posts one message with the ack deadline as timeout, frees its slot
// and reports the outcome, to run or, once the worker is stopping, to
// shutdown. Only stop cuts it short; retire lets it finish.
func (w *worker) deliver(sub *pb.Subscription, msg *pb.PubsubMessage, attempt int) {
	defer w.deliveries.Done()
	ctx, cancel := context.WithTimeout(w.sending, ackDeadline(sub))
	err := guardedPost(ctx, w.d.cfg.HTTPClient, w.delivery(sub, msg, attempt))
	cancel()
	if err == nil && w.d.cfg.Faults != nil && w.d.cfg.Faults.PushError(w.name, msg.GetMessageId(), attempt) {
		err = errInjected
	}
	<-w.d.slots
	w.outcomes <- outcome{msg: msg, err: err}
}

// delivery is the push attempt of msg to sub's endpoint.
func (w *worker) delivery(sub *pb.Subscription, msg *pb.PubsubMessage, attempt int) delivery {
	return delivery{
		subscription: w.name,
		endpoint:     aliasLocalhost(sub.GetPushConfig().GetPushEndpoint(), w.d.cfg.LocalhostAlias),
		config:       sub.GetPushConfig(),
		message:      msg,
		attempt:      attempt,
		sendAttempt:  maxDeliveryAttempts(sub) > 0,
		tokens:       w.d.cfg.Tokens,
	}
}

// settle acks a delivered message, dead-letters it once the attempts are
// used up, or keeps it outstanding for its backoff and schedules a redelivery.
func (w *worker) settle(o outcome) {
	id := o.msg.GetMessageId()
	h := w.held[id]
	if h == nil {
		return
	}
	if o.err == nil {
		w.ack(id, h, o.msg)
		return
	}
	sub := w.config.Load()
	attempts := w.attempts[id]
	if limit := maxDeliveryAttempts(sub); limit > 0 && attempts >= limit {
		w.deadLetter(sub, id, h, o.msg, attempts, o.err)
		return
	}
	wait := backoff(sub, attempts, w.d.cfg.MinBackoff, w.d.cfg.MaxBackoff)
	w.d.cfg.Logf("push: %s message %s attempt %d to %s failed: %v; retrying in %s",
		w.name, id, attempts, sub.GetPushConfig().GetPushEndpoint(), o.err, wait)
	// Outstanding for the whole backoff, so that ordering holds and no other
	// puller takes it.
	w.modifyDeadline(h.ackID, deadlineCovering(wait))
	h.retryAt = time.Now().Add(wait)
	h.retry = time.AfterFunc(wait, func() {
		select {
		case w.due <- id:
		case <-w.ctx.Done():
		}
	})
}

// redeliver nacks a message whose backoff has elapsed (or, at shutdown,
// whose delivery failed) so the next pull takes it again.
func (w *worker) redeliver(id string) {
	h := w.held[id]
	if h == nil {
		return
	}
	delete(w.held, id)
	w.modifyDeadline(h.ackID, 0)
}

// deadLetter publishes the message to the dead-letter topic and acks it on
// the subscription. If publishing fails it nacks instead, so the message is
// redelivered rather than lost.
func (w *worker) deadLetter(sub *pb.Subscription, id string, h *held, msg *pb.PubsubMessage, attempts int, cause error) {
	topic := sub.GetDeadLetterPolicy().GetDeadLetterTopic()
	ctx, cancel := rpcContext()
	defer cancel()
	_, err := w.d.pub.Publish(ctx, &pb.PublishRequest{
		Topic:    topic,
		Messages: []*pb.PubsubMessage{deadLetter(w.name, msg, attempts)},
	})
	if err != nil {
		w.d.cfg.Logf("push: dead-lettering %s from %s to %s: %v", id, w.name, topic, err)
		delete(w.held, id)
		w.modifyDeadline(h.ackID, 0)
		return
	}
	w.d.cfg.Logf("push: %s message %s dead-lettered to %s after %d attempts (last: %v)", w.name, id, topic, attempts, cause)
	w.ack(id, h, msg)
}

// deadlineCovering returns an ack deadline in whole seconds, as the API takes
// it, that outlasts d.
func deadlineCovering(d time.Duration) int32 {
	return int32(max(d, 0)/time.Second) + 1
}

// rpcContext bounds a call to the emulator. It is deliberately not the
// worker's context: a call cancelled on our side may still take effect on the
// server (a pull that marks messages outstanding, a deadline extension landing
// after shutdown's final nack), so calls always run to completion and the
// worker checks whether it is stopping afterwards.
func rpcContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func (w *worker) modifyDeadline(ackID string, seconds int32) {
	ctx, cancel := rpcContext()
	defer cancel()
	_, err := w.d.sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{
		Subscription: w.name, AckIds: []string{ackID}, AckDeadlineSeconds: seconds,
	})
	if err != nil && status.Code(err) != codes.NotFound {
		w.d.cfg.Logf("push: modifying ack deadline on %s: %v", w.name, err)
	}
}

// shutdown hands the messages waiting out a backoff back to the emulator at
// once, then waits for the deliveries in flight (cancelled if the worker was
// stopped, finishing if it retired or its run loop failed) and applies their
// answers: a success is acked, a failure handed back. A pull subscriber or a
// later push worker so gets every message without waiting out deadlines.
func (w *worker) shutdown() {
	w.cancel()
	defer w.abort() // releases the deliveries' context
	w.handBack(func(h *held) bool { return h.retry != nil })
	w.drain()
	w.flushAcks()
	w.handBack(func(*held) bool { return true })
}

// drain applies the outcomes of the deliveries in flight until they have all
// ended, and sends the acks when they are due meanwhile.
func (w *worker) drain() {
	ended := make(chan struct{})
	go func() {
		w.deliveries.Wait()
		close(ended)
	}()
	for {
		select {
		case o := <-w.outcomes:
			if o.err == nil {
				w.settle(o)
			} else {
				w.redeliver(o.msg.GetMessageId())
			}
		case <-w.ackDue:
			w.flushAcks()
		case <-ended: // after the last outcome was received
			return
		}
	}
}

// handBack nacks, in one call, the held messages that match, and forgets
// them. Best effort: the subscription may be gone, or the emulator closing.
func (w *worker) handBack(match func(*held) bool) {
	var ackIDs []string
	for id, h := range w.held {
		if !match(h) {
			continue
		}
		if h.retry != nil {
			h.retry.Stop()
		}
		ackIDs = append(ackIDs, h.ackID)
		delete(w.held, id)
	}
	if len(ackIDs) == 0 {
		return
	}
	ctx, cancel := rpcContext()
	defer cancel()
	_, _ = w.d.sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{
		Subscription: w.name, AckIds: ackIDs, AckDeadlineSeconds: 0,
	})
}

// guardedPost is post, with a panic turned into a failed delivery (a nack)
// instead of the emulator's end.
func guardedPost(ctx context.Context, client *http.Client, d delivery) (err error) {
	if !grpcrecover.Run("push delivery to "+d.endpoint, func() { err = post(ctx, client, d) }) {
		err = errors.New("push delivery failed: emulator bug (panic), see the log")
	}
	return err
}
