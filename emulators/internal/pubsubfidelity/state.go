package pubsubfidelity

// Hooks for internal/state (export and import of the emulator's state):
// the backlogs live partly here (parked beyond pstest's window) and message
// ids are this layer's, so reading and restoring them goes through it.

import (
	"fmt"
	"strconv"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
)

// Backlogs returns, in one read under pstest's lock, every subscription's
// messages not yet acknowledged (delivered or not, inside pstest or parked
// here), as copies in no order, and the last message id given.
func (l *Layer) Backlogs() (map[string][]*pb.PubsubMessage, int64) {
	defer l.st.Lock()()
	out := map[string][]*pb.PubsubMessage{}
	for _, s := range l.st.Subscriptions() {
		name := s.Proto().GetName()
		msgs := []*pb.PubsubMessage{}
		for _, m := range s.Messages() {
			msgs = append(msgs, proto.Clone(m.Proto().GetMessage()).(*pb.PubsubMessage))
		}
		for _, p := range l.parkedMessages(s) {
			msgs = append(msgs, proto.Clone(p.msg).(*pb.PubsubMessage))
		}
		out[name] = msgs
	}
	return out, l.lastID
}

// Restored is a message to put back: published to Topic before, pending on
// Subs (subscriptions of that topic).
type Restored struct {
	Topic string
	Msg   *pb.PubsubMessage // with its message id and publish time
	Subs  []string
}

// Restore puts msgs back as they were exported: each keeps its id and
// publish time and goes, never delivered (delivery count 0), to the listed
// subscriptions only, in the order given. Ids given afterwards continue
// after lastID and every decimal id restored. Everything is checked before
// anything is changed: a missing topic or subscription, or a subscription
// not on the message's topic, is an error and nothing is restored.
func (l *Layer) Restore(msgs []Restored, lastID int64) error {
	defer l.st.Lock()()
	for _, r := range msgs {
		t := l.st.Topic(r.Topic)
		if t == nil {
			return fmt.Errorf("restore message %s: no topic %s", r.Msg.GetMessageId(), r.Topic)
		}
		for _, name := range r.Subs {
			s := l.st.Subscription(name)
			if s == nil || s.Topic() == nil || *s.Topic() != *t {
				return fmt.Errorf("restore message %s: no subscription %s on topic %s", r.Msg.GetMessageId(), name, r.Topic)
			}
		}
	}
	for _, r := range msgs {
		pm := proto.Clone(r.Msg).(*pb.PubsubMessage)
		published := pm.GetPublishTime().AsTime()
		rec := &record{msg: pm, published: published, topic: r.Topic}
		for _, name := range r.Subs {
			n := new(int)
			l.enqueue(l.st.Subscription(name), &parked{msg: pm, published: published, deliveries: n, acks: &rec.acks})
			rec.subs = append(rec.subs, name)
			rec.counts = append(rec.counts, n)
		}
		l.remember(rec)
		if id, err := strconv.ParseInt(pm.GetMessageId(), 10, 64); err == nil {
			lastID = max(lastID, id)
		}
		if published.After(l.lastPublish) {
			l.lastPublish = published
		}
	}
	l.lastID = max(l.lastID, lastID)
	return nil
}
