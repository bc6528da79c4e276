package pubsubfidelity

import (
	"slices"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Seek serves Seek instead of pstest.
//
// To a time: messages published before it are acknowledged; acknowledged
// messages published at or after it come back, with their bodies, if they
// are still kept: the subscription retains acknowledged messages and they
// are within its message_retention_duration, or the topic's retention
// covers them (then even those published before the subscription existed).
//
// To a snapshot of the same topic: every message is acknowledged, then the
// snapshot's backlog and all messages published to the topic since the
// snapshot was taken come back.
//
// Either way messages outstanding on the subscription become deliverable
// at once.
func (l *Layer) Seek(req *pb.SeekRequest) (*pb.SeekResponse, error) {
	switch req.GetTarget().(type) {
	case *pb.SeekRequest_Time, *pb.SeekRequest_Snapshot:
	default:
		return nil, status.Error(codes.InvalidArgument, "No target was specified in the SeekRequest. Must specify either a time or a snapshot")
	}
	defer l.st.Lock()()
	s := l.st.Subscription(req.GetSubscription())
	if s == nil {
		return nil, status.Error(codes.NotFound, "Subscription does not exist")
	}
	if s.Proto().GetDetached() {
		return nil, status.Error(codes.FailedPrecondition, "Subscription is detached")
	}
	now := l.now()
	switch t := req.GetTarget().(type) {
	case *pb.SeekRequest_Time:
		l.seekTime(s, t.Time.AsTime(), now)
	case *pb.SeekRequest_Snapshot:
		snap := l.snapshots[t.Snapshot]
		if snap == nil || !now.Before(snap.expire) {
			return nil, status.Error(codes.NotFound, "Snapshot does not exist")
		}
		if top := s.Topic(); top == nil || *top != snap.topic || s.Proto().GetTopic() != snap.proto.GetTopic() {
			return nil, status.Errorf(codes.FailedPrecondition, "The subscription's topic %s is different from that of the snapshot %s; they must match in order for Seek work. Note that if a topic is deleted and then re-created with the same name, it is considered a distinct topic for these purposes.", s.Proto().GetTopic(), snap.proto.GetTopic())
		}
		l.seekSnapshot(s, snap, now)
	}
	return &pb.SeekResponse{}, nil
}

// resettle puts all of s's messages back in publish order: the oldest
// `window` in pstest, the rest parked, so that messages a seek brought back
// (parked behind later ones) do not break ordering keys. Must be called
// with the lock held, after a seek made every message deliverable.
func (l *Layer) resettle(s *sub) {
	all := slices.Clone(l.parkedMessages(s))
	delete(l.parked, s.Proto().GetName())
	for id, m := range s.Messages() {
		rm := m.Proto()
		if rm == nil || rm.GetMessage() == nil {
			continue
		}
		deliveries, acks := m.Counters()
		all = append(all, &parked{msg: rm.GetMessage(), published: m.PublishTime(), deliveries: deliveries, acks: acks})
		s.Remove(id)
	}
	slices.SortStableFunc(all, func(a, b *parked) int { return a.published.Compare(b.published) })
	for _, m := range all {
		l.enqueue(s, m)
	}
}

func (l *Layer) seekTime(s *sub, target, now time.Time) {
	defer l.resettle(s)
	l.dropParked(s, func(m *parked) bool { return !m.published.Before(target) })
	for id, m := range s.Messages() {
		if m.PublishTime().Before(target) {
			m.CountAck()
			s.Remove(id)
		} else {
			m.MakeAvailable()
		}
	}
	top := s.Topic()
	if top == nil {
		return
	}
	log := l.logs[*top]
	if log == nil {
		return
	}
	name := s.Proto().GetName()
	p := s.Proto()
	topicRet := top.Proto().GetMessageRetentionDuration().AsDuration()
	for _, r := range log.recs {
		if r.published.Before(target) || l.holds(s, r.msg.GetMessageId()) {
			continue
		}
		age := now.Sub(r.published)
		retained := age < topicRet ||
			p.GetRetainAckedMessages() && age < p.GetMessageRetentionDuration().AsDuration() && contains(r.subs, name)
		if retained {
			l.restore(s, r)
		}
	}
}

func (l *Layer) seekSnapshot(s *sub, snap *snapshot, now time.Time) {
	defer l.resettle(s)
	l.dropParked(s, nil)
	for id, m := range s.Messages() {
		m.CountAck()
		s.Remove(id)
	}
	for _, r := range snap.backlog {
		l.restore(s, r)
	}
	if log := l.logs[snap.topic]; log != nil {
		for _, r := range log.recs {
			if !r.published.Before(snap.created) && !l.holds(s, r.msg.GetMessageId()) {
				l.restore(s, r)
			}
		}
	}
}

// restore puts r back into s as a message never delivered there.
func (l *Layer) restore(s *sub, r *record) {
	n := new(int)
	l.enqueue(s, &parked{msg: r.msg, published: r.published, deliveries: n, acks: &r.acks})
	r.counts = append(r.counts, n)
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
