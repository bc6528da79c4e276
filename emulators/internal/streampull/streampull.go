// Package streampull serves StreamingPull at full speed on top of a
// Subscriber service that pulls well but streams slowly: pstest's own
// StreamingPull offers one message per stream every 10 ms (~100 msg/s).
//
// Wrap puts a Subscriber in front of pstest's. Its StreamingPull is served
// from the unary Pull, in batches: every message still goes through pstest's
// pull path, which counts delivery attempts, dead-letters after
// max_delivery_attempts, honours ordering keys and filters, and marks the
// message outstanding. The stream adds what the unary API leaves to it:
//
//   - the stream's ack deadline (stream_ack_deadline_seconds, updatable on
//     any request): each batch is modacked to it as it is pulled;
//   - acks, modacks and nacks (modack 0) sent on the stream go to
//     Acknowledge and ModifyAckDeadline;
//   - keepalives: a request with no acks and no modacks is answered with an
//     empty response when the client's protocol_version is 1 or more (the Go
//     client's server-liveness check relies on it; pstest does the same);
//   - client flow control: never more than max_outstanding_messages messages
//     and max_outstanding_bytes bytes (message sizes as encoded) outstanding
//     on a stream (production may overshoot the bytes by one message; here
//     only a single message larger than the budget does, when nothing else
//     is outstanding); <= 0 means no limit; a message stops counting when
//     it is acked, nacked or its lease expires, whether it was acked on the
//     stream or through the unary Acknowledge/ModifyAckDeadline (the Python
//     client acks that way), on any stream of the subscription;
//   - ordering keys: one outstanding batch per key, in publish order (Pull
//     gives the key's first message, extendOrdered in pstest.go
//     the ones after it); a nack or expiry of one nacks those sent after it
//     under its key, so they come again after it;
//   - subscription properties (exactly-once delivery, message ordering) on
//     every response, as production sends them.
//
// A stream ends when the client cancels it, half-closes it (Recv returns
// io.EOF: the stream ends with OK, like pstest's) or the subscription is
// deleted (NOT_FOUND). Messages it pulled but had not yet sent (held back by
// the byte budget) are nacked so they are redelivered at once; messages it
// sent stay outstanding until acked, nacked or expired, as in production.
//
// Given the pstest server, Wrap also stops pstest's per-subscription 10 ms
// delivery loops, which only fed pstest's own streams (pstest.go).
package streampull

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/etl-pipeline/emulators/internal/exactlyonce"
	"github.com/etl-pipeline/emulators/internal/pstestx"
)

const (
	// maxBatch is the most messages one response carries (Pull's default).
	maxBatch = 1000
	// minPoll and maxPoll bound how often an empty subscription is polled:
	// the interval doubles while nothing arrives. pstest's own delivery tick
	// is 10 ms, so new messages are seen no later than they were.
	minPoll = time.Millisecond
	maxPoll = 10 * time.Millisecond
	// maxDeadline is production's longest ack deadline.
	maxDeadline = 600 * time.Second
)

// Subscriber is a Subscriber service whose StreamingPull, Acknowledge and
// ModifyAckDeadline are this package's; every other method is the wrapped
// one's.
type Subscriber struct {
	pb.SubscriberServer
	via     grpc.UnaryServerInterceptor // the server's interceptors, for the calls a stream makes
	srv     *pstestx.Server             // nil: no pstest internals used
	parker  *parker                     // nil: pstest's delivery goroutines left running
	mu      sync.Mutex
	streams map[string]map[*stream]struct{} // by subscription name
}

// Wrap returns inner with StreamingPull served from inner's Pull. If srv is
// the pstest server behind inner, and every subscription is created through
// the returned Subscriber, pstest's per-subscription delivery goroutines are
// stopped as subscriptions are created (see pstest.go): they only fed
// pstest's own streams, and cost CPU with backlogs. srv may be nil.
func Wrap(inner pb.SubscriberServer, srv *pstestx.Server) *Subscriber {
	s := &Subscriber{SubscriberServer: inner, streams: map[string]map[*stream]struct{}{}}
	if srv != nil {
		s.srv = srv
		s.parker = &parker{srv: srv, parked: map[chan struct{}]bool{}}
	}
	return s
}

// Acknowledge acknowledges through the wrapped service, then releases the
// messages' flow-control budget on the subscription's streams.
// Via makes the unary calls a stream makes (Pull, Acknowledge, ModifyAckDeadline)
// go through `interceptor` (the server's chain, e.g. the fidelity layer), as the
// same calls from a client do. Call it before serving.
func (s *Subscriber) Via(interceptor grpc.UnaryServerInterceptor) *Subscriber {
	s.via = interceptor
	return s
}

// call runs one of this service's unary methods as a client call would run.
func (s *Subscriber) call(ctx context.Context, method string, req any) (any, error) {
	handler := func(ctx context.Context, req any) (any, error) {
		switch r := req.(type) {
		case *pb.PullRequest:
			return s.Pull(ctx, r)
		case *pb.AcknowledgeRequest:
			return s.Acknowledge(ctx, r)
		case *pb.ModifyAckDeadlineRequest:
			return s.ModifyAckDeadline(ctx, r)
		}
		return nil, status.Errorf(codes.Internal, "streampull: no unary method for %T", req)
	}
	if s.via == nil {
		return handler(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: s, FullMethod: "/google.pubsub.v1.Subscriber/" + method}
	return s.via(ctx, req, info, handler)
}

func (s *Subscriber) Acknowledge(ctx context.Context, req *pb.AcknowledgeRequest) (*emptypb.Empty, error) {
	resp, err := s.SubscriberServer.Acknowledge(ctx, req)
	s.settle(ctx, req.GetSubscription(), exactlyonce.Settled(req.GetAckIds(), err), 0, false)
	return resp, err
}

// ModifyAckDeadline modifies through the wrapped service, then extends the
// messages' leases on the subscription's streams or, for a nack (0 s),
// releases their budget.
func (s *Subscriber) ModifyAckDeadline(ctx context.Context, req *pb.ModifyAckDeadlineRequest) (*emptypb.Empty, error) {
	resp, err := s.SubscriberServer.ModifyAckDeadline(ctx, req)
	d := secs(req.GetAckDeadlineSeconds())
	s.settle(ctx, req.GetSubscription(), exactlyonce.Settled(req.GetAckIds(), err), d, d <= 0)
	return resp, err
}

// settle tells every stream of sub that ackIDs were acked, nacked or given
// a new deadline (extend > 0). A nack of an ordered message also nacks the
// messages sent after it under its ordering key, as production redelivers
// them after it.
func (s *Subscriber) settle(ctx context.Context, sub string, ackIDs []string, extend time.Duration, nack bool) {
	if len(ackIDs) == 0 {
		return
	}
	s.mu.Lock()
	var follow []string
	for st := range s.streams[sub] {
		follow = append(follow, st.settle(ackIDs, extend, nack)...)
	}
	s.mu.Unlock()
	s.nack(ctx, sub, follow)
}

// nack returns ackIDs, already released from their streams, to pstest.
func (s *Subscriber) nack(ctx context.Context, sub string, ackIDs []string) {
	if len(ackIDs) == 0 {
		return
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
	}
	s.SubscriberServer.ModifyAckDeadline(exactlyonce.ServerSide(ctx), &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ackIDs}) //nolint:errcheck // best effort: they expire anyway
}

func (s *Subscriber) register(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[st.sub] == nil {
		s.streams[st.sub] = map[*stream]struct{}{}
	}
	s.streams[st.sub][st] = struct{}{}
}

func (s *Subscriber) unregister(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams[st.sub], st)
	if len(s.streams[st.sub]) == 0 {
		delete(s.streams, st.sub)
	}
}

// openStreams is the number of streams being served, for tests.
func (s *Subscriber) openStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.streams {
		n += len(m)
	}
	return n
}

// lease is a message sent on a stream and not yet settled.
type lease struct {
	size    int64
	expires time.Time
	key     string // ordering key
	seq     int64  // order sent on the stream
}

// stream is one StreamingPull call.
type stream struct {
	sub      string
	maxMsgs  int64 // <= 0: no limit, as in production
	maxBytes int64 // <= 0: no limit
	props    *pb.StreamingPullResponse_SubscriptionProperties
	filtered bool          // the subscription has a filter: no ordered batches (see extendOrdered)
	pings    chan struct{} // keepalives to answer
	answer   bool          // answer keepalives: protocol_version >= 1
	wake     chan struct{} // budget released or deadline changed

	mu       sync.Mutex
	deadline time.Duration
	leases   map[string]lease // by ack id
	bytes    int64            // sum of leases' sizes
	// pending are messages pulled but held back by the byte budget, with
	// the time their pstest lease runs out.
	pending []pendingMsg
	// sent and sentBytes estimate message sizes, to size pulls under a
	// byte budget.
	sent, sentBytes int64
	seq             int64 // leases sent so far
	// confirmations are exactly-once results of the stream's acks and
	// modacks, to send (see confirm.go).
	confirmations []*pb.StreamingPullResponse
}

type pendingMsg struct {
	msg     *pb.ReceivedMessage
	size    int64
	expires time.Time
}

// settle applies an ack, nack or modack (extend > 0) to this stream's
// leases and returns the ack ids of ordered messages to nack in cascade.
func (st *stream) settle(ackIDs []string, extend time.Duration, nack bool) []string {
	st.mu.Lock()
	var released, nacked []lease
	now := time.Now()
	for _, id := range ackIDs {
		l, ok := st.leases[id]
		if !ok {
			continue
		}
		if extend > 0 {
			l.expires = now.Add(extend)
			st.leases[id] = l
			continue
		}
		delete(st.leases, id)
		st.bytes -= l.size
		released = append(released, l)
		if nack {
			nacked = append(nacked, l)
		}
	}
	follow := st.cascade(nacked)
	st.mu.Unlock()
	if len(released) > 0 {
		st.signal()
	}
	return follow
}

// cascade releases the leases sent after any of gone under the same
// ordering key and returns their ack ids, to be nacked: production
// redelivers a key's later messages after a redelivered one. Called with
// st.mu held.
func (st *stream) cascade(gone []lease) []string {
	first := map[string]int64{}
	for _, l := range gone {
		if l.key == "" {
			continue
		}
		if seq, ok := first[l.key]; !ok || l.seq < seq {
			first[l.key] = l.seq
		}
	}
	if len(first) == 0 {
		return nil
	}
	var ids []string
	for id, l := range st.leases {
		if seq, ok := first[l.key]; ok && l.seq > seq {
			delete(st.leases, id)
			st.bytes -= l.size
			ids = append(ids, id)
		}
	}
	// Held-back messages of those keys come after every sent one.
	kept := st.pending[:0]
	for _, p := range st.pending {
		if _, ok := first[p.msg.GetMessage().GetOrderingKey()]; ok {
			ids = append(ids, p.msg.GetAckId())
			continue
		}
		kept = append(kept, p)
	}
	st.pending = kept
	return ids
}

func (st *stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// expire drops leases past their deadline (pstest makes those messages
// available again) and returns the earliest remaining expiry (zero if
// none) and the ack ids to nack in cascade (ordered messages sent after an
// expired one). Called with st.mu held.
func (st *stream) expire(now time.Time) (time.Time, []string) {
	var expired []lease
	for id, l := range st.leases {
		if now.After(l.expires) {
			delete(st.leases, id)
			st.bytes -= l.size
			expired = append(expired, l)
		}
	}
	follow := st.cascade(expired)
	var next time.Time
	for _, l := range st.leases {
		if next.IsZero() || l.expires.Before(next) {
			next = l.expires
		}
	}
	return next, follow
}

// budget is how many messages may be sent now, and how many bytes (-1: no
// byte limit). Called with st.mu held.
func (st *stream) budget() (msgs int, bytes int64) {
	msgs = maxBatch
	if st.maxMsgs > 0 {
		msgs = int(min(int64(maxBatch), st.maxMsgs-int64(len(st.leases))))
	}
	bytes = -1
	if st.maxBytes > 0 {
		bytes = max(0, st.maxBytes-st.bytes)
		if bytes == 0 {
			msgs = 0
		}
	}
	return max(0, msgs), bytes
}

// StreamingPull serves a stream from the wrapped service's Pull.
func (s *Subscriber) StreamingPull(gs pb.Subscriber_StreamingPullServer) error {
	req, err := gs.Recv()
	if err != nil {
		return err
	}
	name := req.GetSubscription()
	if name == "" {
		return status.Error(codes.InvalidArgument, "missing subscription")
	}
	ctx, cancel := context.WithCancel(gs.Context())
	defer cancel()
	sub, err := s.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
	if err != nil {
		return err
	}
	deadline := secs(req.GetStreamAckDeadlineSeconds())
	if deadline <= 0 {
		deadline = secs(sub.GetAckDeadlineSeconds())
	}
	if deadline <= 0 {
		deadline = 10 * time.Second
	}
	st := &stream{
		sub:      name,
		maxMsgs:  req.GetMaxOutstandingMessages(),
		maxBytes: req.GetMaxOutstandingBytes(),
		props: &pb.StreamingPullResponse_SubscriptionProperties{
			ExactlyOnceDeliveryEnabled: sub.GetEnableExactlyOnceDelivery(),
			MessageOrderingEnabled:     sub.GetEnableMessageOrdering(),
		},
		filtered: sub.GetFilter() != "",
		pings:    make(chan struct{}, 16),
		answer:   req.GetProtocolVersion() >= 1,
		wake:     make(chan struct{}, 1),
		deadline: min(deadline, maxDeadline),
		leases:   map[string]lease{},
	}
	s.register(st)
	defer s.unregister(st)
	defer s.nackPending(st)

	// The initial request may carry acks and modacks too.
	if err := s.handle(ctx, st, req, false); err != nil {
		return err
	}

	recvDone := make(chan error, 1)
	go func() {
		for {
			req, err := gs.Recv()
			if err != nil {
				recvDone <- err
				return
			}
			if err := s.handle(ctx, st, req, st.answer); err != nil {
				recvDone <- err
				return
			}
		}
	}()
	return s.serve(ctx, gs, st, recvDone)
}

// handle applies one client request: acks, modacks, a new stream deadline,
// or (none of those) a keepalive to answer if answerPings. An error aborts
// the stream.
func (s *Subscriber) handle(ctx context.Context, st *stream, req *pb.StreamingPullRequest, answerPings bool) error {
	ids, deadlines := req.GetModifyDeadlineAckIds(), req.GetModifyDeadlineSeconds()
	if len(ids) != len(deadlines) {
		return status.Errorf(codes.InvalidArgument, "modify_deadline_ack_ids has %d entries, modify_deadline_seconds %d", len(ids), len(deadlines))
	}
	if d := secs(req.GetStreamAckDeadlineSeconds()); d > 0 {
		st.mu.Lock()
		st.deadline = min(d, maxDeadline)
		st.mu.Unlock()
	}
	if ids := req.GetAckIds(); len(ids) > 0 {
		// Errors (a deleted subscription) end the stream through Pull.
		_, err := s.call(ctx, "Acknowledge", &pb.AcknowledgeRequest{Subscription: st.sub, AckIds: ids})
		st.confirmAcks(ids, err)
	}
	// Group modacks by deadline: one ModifyAckDeadline per distinct value.
	byDeadline := map[int32][]string{}
	var order []int32
	for i, id := range ids {
		d := deadlines[i]
		if _, ok := byDeadline[d]; !ok {
			order = append(order, d)
		}
		byDeadline[d] = append(byDeadline[d], id)
	}
	for _, d := range order {
		_, err := s.call(ctx, "ModifyAckDeadline", &pb.ModifyAckDeadlineRequest{Subscription: st.sub, AckIds: byDeadline[d], AckDeadlineSeconds: d})
		st.confirmModacks(byDeadline[d], err)
	}
	if answerPings && len(ids) == 0 && len(req.GetAckIds()) == 0 {
		select {
		case st.pings <- struct{}{}:
		default: // answers already queued cover this one
		}
		st.signal()
	}
	return nil
}

// serve is the stream's send loop: it pulls while the budget allows, sends,
// and otherwise waits for budget, new messages (polling), keepalives, the
// client's requests ending or the stream's context.
func (s *Subscriber) serve(ctx context.Context, gs pb.Subscriber_StreamingPullServer, st *stream, recvDone <-chan error) error {
	poll := minPoll
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		select { // the client gone or done, even while messages keep coming
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case err := <-recvDone:
			return endOfRequests(err)
		default:
		}
		for len(st.pings) > 0 {
			<-st.pings
			if err := gs.Send(&pb.StreamingPullResponse{}); err != nil {
				return err
			}
		}
		for _, c := range st.takeConfirmations() {
			if err := gs.Send(c); err != nil {
				return err
			}
		}
		msgs, err := s.next(ctx, st)
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			if err := gs.Send(&pb.StreamingPullResponse{ReceivedMessages: msgs, SubscriptionProperties: st.props}); err != nil {
				return err
			}
			poll = minPoll
			continue
		}
		// Nothing sent: wait for budget or messages.
		st.mu.Lock()
		now := time.Now()
		nextExpiry, follow := st.expire(now)
		n, _ := st.budget()
		st.mu.Unlock()
		s.nack(ctx, st.sub, follow)
		var wait time.Duration
		switch {
		case n > 0: // budget left, subscription empty: poll
			wait = poll
			poll = min(2*poll, maxPoll)
		case !nextExpiry.IsZero(): // budget spent: until a lease expires
			wait = nextExpiry.Sub(now) + time.Millisecond
		default:
			wait = maxPoll
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case err := <-recvDone:
			return endOfRequests(err)
		case <-st.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// next returns the messages to send now, within the budget: held-back ones
// first, then a batch pulled from the subscription, modacked to the stream's
// deadline. The messages it returns are leased to the stream.
func (s *Subscriber) next(ctx context.Context, st *stream) ([]*pb.ReceivedMessage, error) {
	st.mu.Lock()
	now := time.Now()
	_, follow := st.expire(now)
	n, bytes := st.budget()
	deadline := st.deadline
	// Held-back messages whose pstest lease ran out are pstest's to
	// redeliver; the rest are sent first.
	live := st.pending[:0]
	for _, p := range st.pending {
		if now.Before(p.expires) {
			live = append(live, p)
		}
	}
	st.pending = live
	fromPending := len(st.pending) > 0
	st.mu.Unlock()
	s.nack(ctx, st.sub, follow)
	if n == 0 {
		return nil, nil
	}

	var candidates []pendingMsg
	if fromPending {
		st.mu.Lock()
		candidates, st.pending = st.pending, nil
		st.mu.Unlock()
	} else {
		want := n
		if bytes >= 0 {
			want = min(want, max(1, int(bytes/st.avgSize())))
		}
		out, err := s.call(ctx, "Pull", &pb.PullRequest{Subscription: st.sub, MaxMessages: int32(want), ReturnImmediately: true})
		resp, _ := out.(*pb.PullResponse)
		if err != nil {
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, err
		}
		msgs := resp.GetReceivedMessages()
		if st.props.GetMessageOrderingEnabled() && s.srv != nil && !st.filtered {
			msgs = append(msgs, extendOrdered(s.srv, st.sub, msgs, want-len(msgs), deadline)...)
		}
		for _, m := range msgs {
			candidates = append(candidates, pendingMsg{msg: m, size: int64(proto.Size(m.GetMessage()))})
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// Admit what the budget allows; hold back the rest.
	st.mu.Lock()
	n, bytes = st.budget()
	var out []*pb.ReceivedMessage
	var held []pendingMsg
	expires := time.Now().Add(deadline)
	for _, c := range candidates {
		fits := len(out) < n && (bytes < 0 || c.size <= bytes || (len(st.leases) == 0 && len(out) == 0))
		if !fits {
			if c.expires.IsZero() {
				c.expires = expires
			}
			held = append(held, c)
			continue
		}
		out = append(out, c.msg)
		st.seq++
		st.leases[c.msg.GetAckId()] = lease{size: c.size, expires: expires, key: c.msg.GetMessage().GetOrderingKey(), seq: st.seq}
		st.bytes += c.size
		if bytes >= 0 {
			bytes -= c.size
		}
		st.sent++
		st.sentBytes += c.size
	}
	st.pending = append(held, st.pending...)
	st.mu.Unlock()

	// Lease what is sent for the stream's deadline, and what is held back
	// too (pstest's lease is the subscription's deadline).
	ids := make([]string, 0, len(candidates))
	for _, c := range candidates {
		ids = append(ids, c.msg.GetAckId())
	}
	if _, err := s.SubscriberServer.ModifyAckDeadline(exactlyonce.ServerSide(ctx), &pb.ModifyAckDeadlineRequest{
		Subscription: st.sub, AckIds: ids, AckDeadlineSeconds: int32(deadline / time.Second),
	}); err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, err
	}
	return out, nil
}

// avgSize is the mean size of the messages sent so far (1 KiB before any).
func (st *stream) avgSize() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sent == 0 {
		return 1024
	}
	return max(1, st.sentBytes/st.sent)
}

// nackPending returns the messages held back by the byte budget to the
// subscription when the stream ends, so they are redelivered at once.
func (s *Subscriber) nackPending(st *stream) {
	st.mu.Lock()
	pending := st.pending
	st.pending = nil
	st.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	ids := make([]string, len(pending))
	for i, p := range pending {
		ids[i] = p.msg.GetAckId()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.SubscriberServer.ModifyAckDeadline(exactlyonce.ServerSide(ctx), &pb.ModifyAckDeadlineRequest{Subscription: st.sub, AckIds: ids}) //nolint:errcheck // best effort: they expire anyway
}

func secs(n int32) time.Duration { return time.Duration(n) * time.Second }

// endOfRequests is the stream's status once the client's requests end:
// OK after a half-close (as pstest), else the receive error.
func endOfRequests(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
