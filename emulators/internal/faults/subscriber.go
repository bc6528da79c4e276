package faults

import (
	"context"
	"slices"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Copies made by a fault carry a mark after the ack id pstest gave the
// original delivery. Acks and modacks of a marked id act on that delivery.
const (
	dupMark   = "#dup"
	earlyMark = "#early"
)

// defaultMax is Pull's batch size when max_messages is 0 (pstest's).
const defaultMax = 1000

// Extra tells whether ackID is a delivery a fault added (a duplicate, or a
// redelivery after an early expiry), which a push deliverer must post even
// though it is still delivering the message.
func Extra(ackID string) bool {
	return strings.HasSuffix(ackID, dupMark) || strings.HasSuffix(ackID, earlyMark)
}

// Original is ackID without a fault's mark.
func Original(ackID string) string {
	if i := strings.LastIndexByte(ackID, '#'); i >= 0 && Extra(ackID) {
		return ackID[:i]
	}
	return ackID
}

// Subscriber is a Subscriber service with the registry's faults applied to
// Pull; Acknowledge and ModifyAckDeadline accept the marked ack ids of the
// copies it adds; DeleteSubscription forgets the subscription's faults.
type Subscriber struct {
	pb.SubscriberServer
	reg *Registry
}

// Wrap returns inner with reg's faults applied.
func Wrap(inner pb.SubscriberServer, reg *Registry) *Subscriber {
	return &Subscriber{SubscriberServer: inner, reg: reg}
}

// Acknowledge acknowledges, marked ack ids as their originals.
func (s *Subscriber) Acknowledge(ctx context.Context, req *pb.AcknowledgeRequest) (*emptypb.Empty, error) {
	if ids, changed := originals(req.GetAckIds()); changed {
		req = &pb.AcknowledgeRequest{Subscription: req.GetSubscription(), AckIds: ids}
	}
	return s.SubscriberServer.Acknowledge(ctx, req)
}

// ModifyAckDeadline modifies deadlines, marked ack ids as their originals.
func (s *Subscriber) ModifyAckDeadline(ctx context.Context, req *pb.ModifyAckDeadlineRequest) (*emptypb.Empty, error) {
	if ids, changed := originals(req.GetAckIds()); changed {
		req = &pb.ModifyAckDeadlineRequest{Subscription: req.GetSubscription(), AckIds: ids, AckDeadlineSeconds: req.GetAckDeadlineSeconds()}
	}
	return s.SubscriberServer.ModifyAckDeadline(ctx, req)
}

// DeleteSubscription deletes, then forgets the subscription's faults.
func (s *Subscriber) DeleteSubscription(ctx context.Context, req *pb.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	resp, err := s.SubscriberServer.DeleteSubscription(ctx, req)
	if err == nil {
		s.reg.Forget(req.GetSubscription())
	}
	return resp, err
}

func originals(ids []string) ([]string, bool) {
	if !slices.ContainsFunc(ids, Extra) {
		return ids, false
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = Original(id); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, true
}

// Pull pulls from the wrapped service and applies the subscription's faults:
//
//   - first, leases chosen for early expiry at an earlier pull are ended
//     (nacked), so this pull may deliver those messages again, marked;
//   - held messages that are due come first (delayed ones once their delay
//     has passed, deferred ones and overflow at once);
//   - of the messages pulled, delay holds a fraction back for a time in
//     delay_ms (with the messages after it under its ordering key), and
//     shuffle defers about half of those without an ordering key to the
//     next pull;
//   - of the messages delivered, early_redelivery chooses leases to end at
//     the next pull, duplicate adds a marked copy right after a fraction;
//   - shuffle reorders the response, keeping each ordering key's order;
//   - copies beyond max_messages wait for the next pull.
//
// Faults switched on while a pull waits in pstest apply to what it returns.
func (s *Subscriber) Pull(ctx context.Context, req *pb.PullRequest) (*pb.PullResponse, error) {
	name := req.GetSubscription()
	limit := int(req.GetMaxMessages())
	if limit <= 0 {
		limit = defaultMax
	}
	s.reg.mu.Lock()
	st := s.reg.subs[name]
	if st == nil || (st.cfg == nil && len(st.queue) == 0 && len(st.expire) == 0) {
		s.reg.mu.Unlock()
		resp, err := s.SubscriberServer.Pull(ctx, req)
		if err != nil || len(resp.GetReceivedMessages()) == 0 {
			return resp, err
		}
		s.reg.mu.Lock()
		st = s.reg.subs[name]
		on := st != nil && st.cfg != nil
		s.reg.mu.Unlock()
		if !on {
			return resp, nil
		}
		return s.finish(ctx, name, st, nil, owned(resp), limit), nil
	}
	expire := st.expire
	st.expire = nil
	s.reg.mu.Unlock()

	if len(expire) > 0 {
		s.SubscriberServer.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: name, AckIds: expire}) //nolint:errcheck // acked meanwhile: nothing to expire
	}
	now := time.Now()
	s.reg.mu.Lock()
	released := st.take(now, limit)
	s.reg.mu.Unlock()

	var fresh []*pb.ReceivedMessage
	if want := limit - len(released); want > 0 {
		resp, err := s.SubscriberServer.Pull(ctx, &pb.PullRequest{
			Subscription: name, MaxMessages: int32(want), ReturnImmediately: req.GetReturnImmediately() || len(released) > 0,
		})
		if err != nil {
			s.reg.mu.Lock()
			st.queue = append(released, st.queue...)
			s.reg.mu.Unlock()
			return nil, err
		}
		fresh = owned(resp)
	}
	return s.finish(ctx, name, st, released, fresh, limit), nil
}

// owned copies a pull's messages (pstest keeps its own) in publish order:
// pstest walks a map, and the decisions made on them must not depend on it.
func owned(resp *pb.PullResponse) []*pb.ReceivedMessage {
	fresh := make([]*pb.ReceivedMessage, 0, len(resp.GetReceivedMessages()))
	for _, m := range resp.GetReceivedMessages() {
		fresh = append(fresh, proto.Clone(m).(*pb.ReceivedMessage))
	}
	slices.SortStableFunc(fresh, func(a, b *pb.ReceivedMessage) int {
		return a.GetMessage().GetPublishTime().AsTime().Compare(b.GetMessage().GetPublishTime().AsTime())
	})
	return fresh
}

// finish applies the faults to a pull's released and fresh messages and
// renews the leases of those it holds or releases; the response.
func (s *Subscriber) finish(ctx context.Context, name string, st *subState, released []queued, fresh []*pb.ReceivedMessage, limit int) *pb.PullResponse {
	var deadline time.Duration
	if len(released) > 0 || len(fresh) > 0 {
		deadline = s.ackDeadline(ctx, name)
	}

	s.reg.mu.Lock()
	out, delayed := st.apply(time.Now(), released, fresh, limit, deadline)
	s.reg.mu.Unlock()

	// Leases: a delayed message is kept for its delay plus the ack
	// deadline; a released one gets a whole ack deadline from now.
	for _, d := range delayed {
		s.SubscriberServer.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{ //nolint:errcheck // best effort: a lost lease means pstest redelivers it
			Subscription: name, AckIds: []string{d.msg.GetAckId()}, AckDeadlineSeconds: seconds(time.Until(d.lease)),
		})
	}
	var renew []string
	for _, q := range released {
		if !q.lease.IsZero() {
			renew = append(renew, q.msg.GetAckId())
		}
	}
	if len(renew) > 0 {
		s.SubscriberServer.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{ //nolint:errcheck // best effort, as above
			Subscription: name, AckIds: renew, AckDeadlineSeconds: seconds(deadline),
		})
	}
	return &pb.PullResponse{ReceivedMessages: out}
}

// ackDeadline is the subscription's ack deadline (10 s when unset).
func (s *Subscriber) ackDeadline(ctx context.Context, name string) time.Duration {
	sub, err := s.SubscriberServer.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
	if err != nil || sub.GetAckDeadlineSeconds() <= 0 {
		return 10 * time.Second
	}
	return time.Duration(sub.GetAckDeadlineSeconds()) * time.Second
}

// seconds rounds d up to whole seconds within 1-600, as modacks take.
func seconds(d time.Duration) int32 {
	return int32(min(600, max(1, (d+time.Second-1)/time.Second)))
}

// take removes up to limit due messages from the queue, in queue order,
// dropping originals whose pstest lease has run out (pstest redelivers
// those itself). Called with the registry locked.
func (st *subState) take(now time.Time, limit int) []queued {
	var out []queued
	kept := st.queue[:0]
	for _, q := range st.queue {
		switch {
		case !q.lease.IsZero() && !now.Before(q.lease.Add(-100*time.Millisecond)):
			// stale: dropped
		case len(out) < limit && !now.Before(q.due):
			out = append(out, q)
		default:
			kept = append(kept, q)
		}
	}
	clear(st.queue[len(kept):])
	st.queue = kept
	return out
}

// apply decides the faults of one pull and returns the response and the
// messages newly delayed. Called with the registry locked.
func (st *subState) apply(now time.Time, released []queued, fresh []*pb.ReceivedMessage, limit int, deadline time.Duration) (out []*pb.ReceivedMessage, delayed []queued) {
	cfg := st.cfg
	if len(fresh) > 0 {
		// A message pulled again (its lease ended) makes held copies of
		// it stale.
		ids := map[string]bool{}
		for _, m := range fresh {
			ids[m.GetMessage().GetMessageId()] = true
		}
		st.queue = slices.DeleteFunc(st.queue, func(q queued) bool { return ids[q.msg.GetMessage().GetMessageId()] })
		for _, m := range fresh {
			id := m.GetMessage().GetMessageId()
			if _, ok := st.early[id]; ok {
				delete(st.early, id)
				m.AckId += earlyMark
			}
		}
	}
	// A message acked before its lease was ended is never redelivered:
	// forget it after pstest's 10-minute retention.
	if len(st.early) > 1000 {
		for id, at := range st.early {
			if now.Sub(at) > 10*time.Minute {
				delete(st.early, id)
			}
		}
	}
	// Ordering keys with messages still held: later ones wait behind them.
	keyDue := map[string]time.Time{}
	for _, q := range st.queue {
		if k := q.msg.GetMessage().GetOrderingKey(); k != "" {
			keyDue[k] = q.due
		}
	}
	var deliver []*pb.ReceivedMessage
	for _, q := range released {
		if q.decided {
			out = append(out, q.msg)
		} else {
			deliver = append(deliver, q.msg)
		}
	}
	for _, m := range fresh {
		key, ack := m.GetMessage().GetOrderingKey(), m.GetAckId()
		lease := now.Add(deadline)
		if due, ok := keyDue[key]; ok && key != "" {
			st.queue = append(st.queue, queued{msg: m, due: due, lease: lease})
			continue
		}
		if cfg != nil && cfg.fires(Delay, cfg.DelayFraction, ack) {
			d := cfg.delayFor(ack)
			q := queued{msg: m, due: now.Add(d), lease: now.Add(d + deadline)}
			st.queue = append(st.queue, q)
			delayed = append(delayed, q)
			st.counts.Delay++
			if key != "" {
				keyDue[key] = q.due
			}
			continue
		}
		if cfg != nil && cfg.Shuffle && key == "" && cfg.fires(Shuffle, 0.5, ack) {
			st.queue = append(st.queue, queued{msg: m, due: now, lease: lease})
			st.counts.Shuffle++
			continue
		}
		deliver = append(deliver, m)
	}
	for _, m := range deliver {
		out = append(out, m)
		if cfg == nil || Extra(m.GetAckId()) {
			continue
		}
		ack := m.GetAckId()
		if cfg.fires(EarlyRedelivery, cfg.EarlyRedelivery, ack) {
			st.expire = append(st.expire, ack)
			st.early[m.GetMessage().GetMessageId()] = now
			st.counts.EarlyRedelivery++
		}
		if cfg.fires(Duplicate, cfg.Duplicate, ack) {
			c := proto.Clone(m).(*pb.ReceivedMessage)
			c.AckId += dupMark
			out = append(out, c)
			st.counts.Duplicate++
		}
	}
	if cfg != nil && cfg.Shuffle {
		out = cfg.permute(out)
	}
	if len(out) > limit {
		var over []queued
		for _, m := range out[limit:] {
			q := queued{msg: m, due: now, decided: true}
			if !Extra(m.GetAckId()) {
				q.lease = now.Add(deadline)
			}
			over = append(over, q)
		}
		st.queue = append(over, st.queue...)
		out = out[:limit]
	}
	return out, delayed
}

// permute reorders msgs by the seed, each ordering key's messages keeping
// their relative order.
func (c *Config) permute(msgs []*pb.ReceivedMessage) []*pb.ReceivedMessage {
	if len(msgs) < 2 {
		return msgs
	}
	sorted := slices.Clone(msgs)
	rank := make(map[*pb.ReceivedMessage]float64, len(msgs))
	for _, m := range msgs {
		rank[m] = c.unit("shuffle_order", m.GetAckId())
	}
	slices.SortStableFunc(sorted, func(a, b *pb.ReceivedMessage) int {
		switch ra, rb := rank[a], rank[b]; {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	byKey := map[string][]*pb.ReceivedMessage{}
	for _, m := range msgs {
		if k := m.GetMessage().GetOrderingKey(); k != "" {
			byKey[k] = append(byKey[k], m)
		}
	}
	out := make([]*pb.ReceivedMessage, len(sorted))
	for i, m := range sorted {
		k := m.GetMessage().GetOrderingKey()
		if k == "" {
			out[i] = m
			continue
		}
		out[i] = byKey[k][0]
		byKey[k] = byKey[k][1:]
	}
	return out
}
