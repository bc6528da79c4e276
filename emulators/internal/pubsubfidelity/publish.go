package pubsubfidelity

import (
	"strconv"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Publish serves Publish instead of pstest: names and messages validated as
// production does, decimal ids, per-subscription delivery counters, and the
// message kept only as long as something needs it.
func (l *Layer) Publish(req *pb.PublishRequest) (*pb.PublishResponse, error) {
	if len(req.GetMessages()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "No messages to publish")
	}
	for _, m := range req.GetMessages() {
		if m == nil || len(m.GetData()) == 0 && len(m.GetAttributes()) == 0 {
			return nil, status.Error(codes.InvalidArgument, "Some messages are empty")
		}
	}
	defer l.st.Lock()()
	t := l.st.Topic(req.GetTopic())
	if t == nil {
		return nil, status.Error(codes.NotFound, "Topic not found")
	}
	ids := l.publishLocked(t, req.GetMessages(), l.now())
	return &pb.PublishResponse{MessageIds: ids}, nil
}

// publishLocked publishes msgs (taking ownership of them) to t. Must be
// called with the lock held.
func (l *Layer) publishLocked(t *topic, msgs []*pb.PubsubMessage, now time.Time) []string {
	subs := t.Subscriptions()
	log := l.logs[*t]
	keep := l.keeping(t, subs, now)
	ids := make([]string, 0, len(msgs))
	for _, pm := range msgs {
		l.lastID++
		id := strconv.FormatInt(l.lastID, 10)
		// Strictly increasing: pstest orders messages of an ordering key by
		// publish time, so a batch must not share one.
		published := now
		if !published.After(l.lastPublish) {
			published = l.lastPublish.Add(time.Nanosecond)
		}
		l.lastPublish = published
		pm.MessageId = id
		pm.PublishTime = timestamppb.New(published)
		r := &record{msg: pm, published: published, topic: t.Proto().GetName()}
		for _, s := range subs {
			n := new(int)
			l.enqueue(s, &parked{msg: pm, published: published, deliveries: n, acks: &r.acks})
			r.subs = append(r.subs, s.Proto().GetName())
			r.counts = append(r.counts, n)
		}
		l.remember(r)
		if keep {
			if log == nil {
				log = &topicLog{topic: t}
				l.logs[*t] = log
			}
			log.recs = append(log.recs, r)
		}
		ids = append(ids, id)
	}
	if log != nil {
		l.prune(log, now)
	}
	return ids
}

// keeping reports whether anything may need messages published to t now:
// the topic's retention, a subscription retaining acknowledged messages or
// a snapshot of the topic.
func (l *Layer) keeping(t *topic, subs []*sub, now time.Time) bool {
	if t.Proto().GetMessageRetentionDuration().AsDuration() > 0 {
		return true
	}
	for _, s := range subs {
		if s.Proto().GetRetainAckedMessages() {
			return true
		}
	}
	for _, snap := range l.snapshots {
		if snap.topic == *t && now.Before(snap.expire) {
			return true
		}
	}
	return false
}

// needed reports whether r, kept in log, may still be restored by a Seek.
func (l *Layer) needed(log *topicLog, r *record, now time.Time) bool {
	age := now.Sub(r.published)
	if ret := log.topic.Proto().GetMessageRetentionDuration().AsDuration(); age < ret {
		return true
	}
	for _, name := range r.subs {
		s := l.st.Subscription(name)
		if s == nil || s.Topic() == nil || *s.Topic() != *log.topic {
			continue
		}
		p := s.Proto()
		if p.GetRetainAckedMessages() && age < p.GetMessageRetentionDuration().AsDuration() {
			return true
		}
	}
	for _, snap := range l.snapshots {
		if snap.topic == *log.topic && !r.published.Before(snap.created) && now.Before(snap.expire) {
			return true
		}
	}
	return false
}

// prune drops kept messages from the front of log while nothing needs them.
func (l *Layer) prune(log *topicLog, now time.Time) {
	n := 0
	for n < len(log.recs) && !l.needed(log, log.recs[n], now) {
		n++
	}
	if n == 0 {
		return
	}
	clear(log.recs[:n])
	log.recs = log.recs[n:]
	if cap(log.recs) > 1024 && len(log.recs) < cap(log.recs)/4 {
		log.recs = append([]*record(nil), log.recs...) // let the old array go
	}
}
