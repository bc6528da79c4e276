package pubsubfidelity

import (
	"slices"
	"strconv"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// snapshot is a subscription's acknowledgment state at one moment: its
// backlog then (kept here, with bodies) and, implicitly, every message
// published to its topic since (kept in the topic's log while it lives).
type snapshot struct {
	proto   *pb.Snapshot
	topic   pstestx.Topic // pstest's topic: a re-created topic is another one
	created time.Time
	expire  time.Time
	backlog []*record
}

// minSnapshotLife: production refuses a snapshot that would expire sooner.
const minSnapshotLife = time.Hour

// CreateSnapshot captures the subscription's backlog. The snapshot expires
// when its oldest message would have reached 7 days, at most 7 days from now.
func (l *Layer) CreateSnapshot(req *pb.CreateSnapshotRequest) (*pb.Snapshot, error) {
	defer l.st.Lock()()
	now := l.now()
	l.expireSnapshots(now)
	s := l.st.Subscription(req.GetSubscription())
	if s == nil {
		return nil, status.Error(codes.NotFound, "Subscription does not exist")
	}
	if l.snapshots[req.GetName()] != nil {
		return nil, status.Error(codes.AlreadyExists, "Snapshot already exists")
	}
	top := s.Topic()
	if top == nil || s.Proto().GetDetached() || l.st.Topic(s.Proto().GetTopic()) == nil {
		return nil, status.Error(codes.FailedPrecondition, "The subscription's topic does not exist or the subscription is detached")
	}
	snap := &snapshot{topic: *top, created: now, expire: now.Add(snapshotLifetime)}
	for _, m := range s.Messages() {
		rm := m.Proto()
		if rm == nil || rm.GetMessage() == nil {
			continue
		}
		snap.backlog = append(snap.backlog, &record{msg: rm.GetMessage(), published: m.PublishTime(), topic: s.Proto().GetTopic()})
		if e := m.PublishTime().Add(snapshotLifetime); e.Before(snap.expire) {
			snap.expire = e
		}
	}
	for _, m := range l.parkedMessages(s) {
		snap.backlog = append(snap.backlog, &record{msg: m.msg, published: m.published, topic: s.Proto().GetTopic()})
		if e := m.published.Add(snapshotLifetime); e.Before(snap.expire) {
			snap.expire = e
		}
	}
	if snap.expire.Sub(now) < minSnapshotLife {
		return nil, status.Error(codes.FailedPrecondition, "The snapshot would expire in less than 1 hour: the subscription's backlog is too old")
	}
	snap.proto = &pb.Snapshot{
		Name: req.GetName(), Topic: s.Proto().GetTopic(), ExpireTime: timestamppb.New(snap.expire),
		Labels: req.GetLabels(),
	}
	l.snapshots[req.GetName()] = snap
	return proto.Clone(snap.proto).(*pb.Snapshot), nil
}

// GetSnapshot returns a snapshot that has not expired.
func (l *Layer) GetSnapshot(req *pb.GetSnapshotRequest) (*pb.Snapshot, error) {
	defer l.st.Lock()()
	l.expireSnapshots(l.now())
	snap := l.snapshots[req.GetSnapshot()]
	if snap == nil {
		return nil, status.Error(codes.NotFound, "Snapshot does not exist")
	}
	return proto.Clone(snap.proto).(*pb.Snapshot), nil
}

// UpdateSnapshot changes labels or expire_time (which production lets move
// within the snapshot's 7 days; here anything not earlier than now).
func (l *Layer) UpdateSnapshot(req *pb.UpdateSnapshotRequest) (*pb.Snapshot, error) {
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask must name at least one field")
	}
	defer l.st.Lock()()
	now := l.now()
	l.expireSnapshots(now)
	snap := l.snapshots[req.GetSnapshot().GetName()]
	if snap == nil {
		return nil, status.Error(codes.NotFound, "Snapshot does not exist")
	}
	next := proto.Clone(snap.proto).(*pb.Snapshot)
	expire := snap.expire
	for _, path := range req.GetUpdateMask().GetPaths() {
		switch path {
		case "labels":
			next.Labels = req.GetSnapshot().GetLabels()
		case "expire_time":
			e := req.GetSnapshot().GetExpireTime()
			if e == nil || !e.AsTime().After(now) || e.AsTime().After(snap.created.Add(snapshotLifetime)) {
				return nil, status.Error(codes.InvalidArgument, "expire_time must be in the future and within 7 days of the snapshot's creation")
			}
			expire = e.AsTime()
			next.ExpireTime = timestamppb.New(expire)
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask provided in the UpdateSnapshotRequest: %q is not a known Snapshot field name", path)
		}
	}
	snap.proto, snap.expire = next, expire
	return proto.Clone(next).(*pb.Snapshot), nil
}

// DeleteSnapshot removes a snapshot; Seek to it fails afterwards.
func (l *Layer) DeleteSnapshot(req *pb.DeleteSnapshotRequest) (*emptypb.Empty, error) {
	defer l.st.Lock()()
	l.expireSnapshots(l.now())
	if l.snapshots[req.GetSnapshot()] == nil {
		return nil, status.Error(codes.NotFound, "Snapshot does not exist")
	}
	delete(l.snapshots, req.GetSnapshot())
	return &emptypb.Empty{}, nil
}

// ListSnapshots lists a project's snapshots by name; page tokens are offsets.
func (l *Layer) ListSnapshots(req *pb.ListSnapshotsRequest) (*pb.ListSnapshotsResponse, error) {
	project := req.GetProject()
	if parts := strings.Split(project, "/"); len(parts) != 2 || parts[0] != "projects" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid [projects] name: (name=%s)", project)
	}
	defer l.st.Lock()()
	l.expireSnapshots(l.now())
	var names []string
	for name := range l.snapshots {
		if strings.HasPrefix(name, project+"/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	from, to, next, err := page(len(names), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &pb.ListSnapshotsResponse{NextPageToken: next}
	for _, name := range names[from:to] {
		out.Snapshots = append(out.Snapshots, proto.Clone(l.snapshots[name].proto).(*pb.Snapshot))
	}
	return out, nil
}

// ListTopicSnapshots lists the names of a topic's snapshots.
func (l *Layer) ListTopicSnapshots(req *pb.ListTopicSnapshotsRequest) (*pb.ListTopicSnapshotsResponse, error) {
	defer l.st.Lock()()
	l.expireSnapshots(l.now())
	t := l.st.Topic(req.GetTopic())
	if t == nil {
		return nil, status.Error(codes.NotFound, "Topic not found")
	}
	var names []string
	for name, snap := range l.snapshots {
		if snap.topic == *t {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	from, to, next, err := page(len(names), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &pb.ListTopicSnapshotsResponse{Snapshots: names[from:to], NextPageToken: next}, nil
}

// page turns a page size and token (an offset) into bounds and the next token.
func page(n int, size int32, token string) (from, to int, next string, err error) {
	if token != "" {
		from, err = strconv.Atoi(token)
		if err != nil || from < 0 || from > n {
			return 0, 0, "", status.Errorf(codes.InvalidArgument, "bad page token %q", token)
		}
	}
	to = n
	if size > 0 && from+int(size) < n {
		to = from + int(size)
		next = strconv.Itoa(to)
	}
	return from, to, next, nil
}

// expireSnapshots drops snapshots past their expire time. Must be called
// with the lock held.
func (l *Layer) expireSnapshots(now time.Time) {
	for name, snap := range l.snapshots {
		if !now.Before(snap.expire) {
			delete(l.snapshots, name)
		}
	}
}
