package pubsubfidelity

import (
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// window is how many deliverable messages a subscription holds inside
// pstest at a time. pstest walks all of a subscription's messages every
// 10 ms, whether anyone is pulling or not (12 subscriptions with 10,000
// messages each kept a core busy); messages beyond the window wait here, in
// publish order, never delivered yet, and move in as the window drains
// (before every Pull, after a publish, and every 100 ms for pstest's own
// streaming pull). Outstanding messages do not count toward it, so a client
// holding many messages is not throttled.
const window = 1000

// parked is a message waiting to enter its subscription in pstest.
type parked struct {
	msg        *pb.PubsubMessage
	published  time.Time
	deliveries *int
	acks       *int
}

// parking is one subscription's waiting messages, oldest first.
type parking struct {
	sub  pstestx.Subscription // pstest's subscription: a re-created one is another
	msgs []*parked
	ids  map[string]struct{}
}

// queue returns s's parking, dropping one left by a deleted namesake.
// Must be called with the lock held.
func (l *Layer) queue(name string, s *sub) *parking {
	q := l.parked[name]
	if q != nil && q.sub != *s {
		delete(l.parked, name)
		q = nil
	}
	return q
}

// enqueue gives s a message never delivered there: straight into pstest
// while the window has room and nothing waits, else parked. Must be called
// with the lock held.
func (l *Layer) enqueue(s *sub, m *parked) {
	name := s.Proto().GetName()
	q := l.queue(name, s)
	if q == nil && s.Count() < window {
		s.Add(m.msg, m.published, m.deliveries, m.acks)
		return
	}
	if q == nil {
		q = &parking{sub: *s, ids: map[string]struct{}{}}
		l.parked[name] = q
	}
	q.msgs = append(q.msgs, m)
	q.ids[m.msg.GetMessageId()] = struct{}{}
}

// holds reports whether s has the message, in pstest or parked.
func (l *Layer) holds(s *sub, id string) bool {
	if s.Has(id) {
		return true
	}
	q := l.queue(s.Proto().GetName(), s)
	if q == nil {
		return false
	}
	_, ok := q.ids[id]
	return ok
}

// refill moves parked messages into pstest until the window has `window`
// deliverable messages. Must be called with the lock held.
func (l *Layer) refill(s *sub, now time.Time) {
	name := s.Proto().GetName()
	q := l.queue(name, s)
	if q == nil {
		return
	}
	free := window
	for _, m := range s.Messages() {
		if m.Available(now) {
			free--
		}
	}
	n := 0
	for ; n < len(q.msgs) && n < free; n++ {
		m := q.msgs[n]
		s.Add(m.msg, m.published, m.deliveries, m.acks)
		delete(q.ids, m.msg.GetMessageId())
	}
	clear(q.msgs[:n])
	q.msgs = q.msgs[n:]
	if len(q.msgs) == 0 {
		delete(l.parked, name)
	}
}

// dropParked removes parked messages that keep returns false for (all, if
// keep is nil), counting them acknowledged. Must be called with the lock held.
func (l *Layer) dropParked(s *sub, keep func(*parked) bool) {
	name := s.Proto().GetName()
	q := l.queue(name, s)
	if q == nil {
		return
	}
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if keep != nil && keep(m) {
			kept = append(kept, m)
			continue
		}
		*m.acks++
		delete(q.ids, m.msg.GetMessageId())
	}
	clear(q.msgs[len(kept):])
	q.msgs = kept
	if len(q.msgs) == 0 {
		delete(l.parked, name)
	}
}

// parkedMessages are s's parked messages, oldest first. Must be called
// with the lock held.
func (l *Layer) parkedMessages(s *sub) []*parked {
	if q := l.queue(s.Proto().GetName(), s); q != nil {
		return q.msgs
	}
	return nil
}

// Parked counts the messages waiting outside pstest, by subscription, for
// the admin API's backlog.
func (l *Layer) Parked() map[string]int {
	defer l.st.Lock()()
	out := make(map[string]int, len(l.parked))
	for name, q := range l.parked {
		if s := l.st.Subscription(name); s != nil && *s == q.sub {
			out[name] = len(q.msgs)
		}
	}
	return out
}
