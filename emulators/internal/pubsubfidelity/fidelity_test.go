package pubsubfidelity

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"projects/p/topics/abc", true},
		{"projects/p/topics/a~b+c%d.e_f-g", true},
		{"projects/p/topics/Goog-x", true},
		{"projects/p/topics/" + strings.Repeat("x", 255), true},
		{"projects//topics/abc", true}, // the Java emulator accepts it too
		{"projects/p/topics/a", false},
		{"projects/p/topics/ab", false},
		{"projects/p/topics/1abc", false},
		{"projects/p/topics/-abc", false},
		{"projects/p/topics/goog-x", false},
		{"projects/p/topics/a b", false},
		{"projects/p/topics/a/b", false},
		{"projects/p/topics/" + strings.Repeat("x", 256), false},
		{"projects/p/topics/projects/p/topics/abc", false}, // wrapped twice
		{"projects/p/subscriptions/abc", false},
		{"abc", false},
		{"", false},
	} {
		if got := validName("topics", tc.name); got != tc.ok {
			t.Errorf("validName(topics, %q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestInvalidNamesRefusedAsProduction(t *testing.T) {
	f := newFixture(t)
	good := f.topic("good")
	f.subscription(&pb.Subscription{Name: subName("good-sub"), Topic: good})
	for _, tc := range []struct {
		call func() error
		msg  string
	}{
		{func() error { _, err := f.pub.CreateTopic(ctx(), &pb.Topic{Name: topicName("a")}); return err },
			"Invalid [topics] name: (name=projects/proj/topics/a)"},
		{func() error {
			_, err := f.pub.GetTopic(ctx(), &pb.GetTopicRequest{Topic: topicName("goog-t")})
			return err
		},
			"Invalid [topics] name: (name=projects/proj/topics/goog-t)"},
		{func() error {
			_, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topicName("ab"), Messages: []*pb.PubsubMessage{{Data: []byte("x")}}})
			return err
		}, "Invalid [topics] name: (name=projects/proj/topics/ab)"},
		{func() error {
			_, err := f.sub.CreateSubscription(ctx(), &pb.Subscription{Name: subName("s"), Topic: good})
			return err
		}, "Invalid [subscriptions] name: (name=projects/proj/subscriptions/s)"},
		{func() error {
			_, err := f.sub.CreateSubscription(ctx(), &pb.Subscription{Name: subName("sub-ok"), Topic: topicName("t")})
			return err
		}, "Invalid [topics] name: (name=projects/proj/topics/t)"},
		{func() error {
			_, err := f.sub.Pull(ctx(), &pb.PullRequest{Subscription: subName("1s"), MaxMessages: 1})
			return err
		}, "Invalid [subscriptions] name: (name=projects/proj/subscriptions/1s)"},
		{func() error {
			_, err := f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("x"), Subscription: subName("good-sub")})
			return err
		}, "Invalid [snapshots] name: (name=projects/proj/snapshots/x)"},
		{func() error {
			_, err := f.pub.CreateTopic(ctx(), &pb.Topic{Name: "projects/proj/topics/projects/proj/topics/stray-topic"})
			return err
		}, "Invalid [topics] name: (name=projects/proj/topics/projects/proj/topics/stray-topic)"},
	} {
		wantCode(t, tc.call(), codes.InvalidArgument, tc.msg)
	}
}

func TestEmptyMessagesRefused(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("empty")
	for _, tc := range []struct {
		name string
		msgs []*pb.PubsubMessage
		code codes.Code
		msg  string
	}{
		{"empty", []*pb.PubsubMessage{{}}, codes.InvalidArgument, "Some messages are empty"},
		{"one good one empty", []*pb.PubsubMessage{{Data: []byte("x")}, {}}, codes.InvalidArgument, "Some messages are empty"},
		{"ordering key only", []*pb.PubsubMessage{{OrderingKey: "k"}}, codes.InvalidArgument, "Some messages are empty"},
		{"none", nil, codes.InvalidArgument, "No messages to publish"},
		{"attributes only", []*pb.PubsubMessage{{Attributes: map[string]string{"k": "v"}}}, codes.OK, ""},
		{"data", []*pb.PubsubMessage{{Data: []byte("x")}}, codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topic, Messages: tc.msgs})
			wantCode(t, err, tc.code, tc.msg)
		})
	}
	_, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topicName("missing"), Messages: []*pb.PubsubMessage{{Data: []byte("x")}}})
	wantCode(t, err, codes.NotFound, "Topic not found")
}

func TestAckDeadlineDefaultsTo10(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("ackd")
	for _, tc := range []struct {
		given, want int32
		code        codes.Code
	}{
		{0, 10, codes.OK}, {5, 5, codes.OK}, {10, 10, codes.OK}, {600, 600, codes.OK},
		{601, 0, codes.InvalidArgument}, {-1, 0, codes.InvalidArgument},
	} {
		name := subName("ackd-" + strconv.Itoa(int(tc.given)+10))
		created, err := f.sub.CreateSubscription(ctx(), &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: tc.given})
		wantCode(t, err, tc.code, "")
		if err != nil {
			continue
		}
		got, err := f.sub.GetSubscription(ctx(), &pb.GetSubscriptionRequest{Subscription: name})
		if err != nil {
			t.Fatal(err)
		}
		if created.GetAckDeadlineSeconds() != tc.want || got.GetAckDeadlineSeconds() != tc.want {
			t.Errorf("ack_deadline_seconds %d: created %d, got %d, want %d", tc.given, created.GetAckDeadlineSeconds(), got.GetAckDeadlineSeconds(), tc.want)
		}
	}
	upd, err := f.sub.UpdateSubscription(ctx(), &pb.UpdateSubscriptionRequest{
		Subscription: &pb.Subscription{Name: subName("ackd-15"), AckDeadlineSeconds: 0},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"ack_deadline_seconds"}},
	})
	if err != nil || upd.GetAckDeadlineSeconds() != 10 {
		t.Fatalf("update to 0: %v, %d; want 10", err, upd.GetAckDeadlineSeconds())
	}
}

func TestMessageIDsAreIncreasingDecimals(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("ids")
	ids := append(f.publish(topic, "a", "b", "c"), f.publish(topic, "d")...)
	prev := int64(0)
	for _, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= prev {
			t.Fatalf("ids %v: %q is not a decimal above %d", ids, id, prev)
		}
		prev = n
	}
}

func TestDeliveryAttemptsPerSubscription(t *testing.T) {
	f := newFixture(t)
	topic, dl := f.topic("att"), f.topic("att-dl")
	for _, s := range []string{"att-a", "att-b"} {
		got := f.subscription(&pb.Subscription{Name: subName(s), Topic: topic, DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dl}})
		if got.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != 5 {
			t.Fatalf("max_delivery_attempts reported %d, want 5 (the default)", got.GetDeadLetterPolicy().GetMaxDeliveryAttempts())
		}
	}
	f.publish(topic, "x")
	var attempts []int32
	for range 3 {
		m := f.pull(subName("att-a"), 1)
		attempts = append(attempts, m[0].GetDeliveryAttempt())
		f.nack(subName("att-a"), m)
	}
	m := f.pull(subName("att-b"), 1)
	attempts = append(attempts, m[0].GetDeliveryAttempt())
	if want := []int32{1, 2, 3, 1}; !slices.Equal(attempts, want) {
		t.Fatalf("delivery attempts a, a, a, b: %v, want %v", attempts, want)
	}
}

func TestPullDeadLetteringAddsSourceAttributes(t *testing.T) {
	f := newFixture(t)
	topic, dl := f.topic("dlq"), f.topic("dlq-dl")
	catch := f.subscription(&pb.Subscription{Name: subName("dlq-catch"), Topic: dl}).GetName()
	src := subName("dlq-src")
	f.subscription(&pb.Subscription{Name: src, Topic: topic, DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dl, MaxDeliveryAttempts: 5}})
	r, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte("dead"), Attributes: map[string]string{"k": "v"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := f.pull(src, 1)
		if len(m) != 1 {
			t.Fatalf("delivery %d: got %d messages", i+1, len(m))
		}
		f.nack(src, m)
	}
	if m := f.pull(src, 10); len(m) != 0 {
		t.Fatalf("a sixth delivery: attempt %d", m[0].GetDeliveryAttempt())
	}
	got := f.pull(catch, 10)
	if len(got) != 1 {
		t.Fatalf("dead-letter subscription got %d messages, want 1", len(got))
	}
	msg := got[0].GetMessage()
	published := r.GetMessageIds()[0]
	attrs := msg.GetAttributes()
	want := map[string]string{
		"k": "v",
		"CloudPubSubDeadLetterSourceDeliveryCount":       "5",
		"CloudPubSubDeadLetterSourceSubscription":        "dlq-src",
		"CloudPubSubDeadLetterSourceSubscriptionProject": "proj",
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, attrs["CloudPubSubDeadLetterSourceTopicPublishTime"]); err != nil {
		t.Errorf("CloudPubSubDeadLetterSourceTopicPublishTime: %v", err)
	}
	if string(msg.GetData()) != "dead" || msg.GetMessageId() == published {
		t.Errorf("forwarded %q with id %s (source id %s): want the body under a new id", msg.GetData(), msg.GetMessageId(), published)
	}
	sub, err := f.sub.GetSubscription(ctx(), &pb.GetSubscriptionRequest{Subscription: src})
	if err != nil || sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != 5 {
		t.Fatalf("GetSubscription shows max_delivery_attempts %d (%v), want 5", sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts(), err)
	}
}

func TestDeadLetteringAfterAckDeadlineExpiry(t *testing.T) {
	f := newFixture(t)
	topic, dl := f.topic("exp"), f.topic("exp-dl")
	catch := f.subscription(&pb.Subscription{Name: subName("exp-catch"), Topic: dl}).GetName()
	src := subName("exp-src")
	f.subscription(&pb.Subscription{Name: src, Topic: topic, DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dl}})
	f.publish(topic, "x")
	for range 5 {
		if len(f.pull(src, 1)) != 1 {
			t.Fatal("no delivery")
		}
		f.advance(11 * time.Second) // the layer's clock: the deadline has passed
		unlock := f.layer.st.Lock()
		for _, m := range f.layer.st.Subscription(src).Messages() {
			m.SetAckDeadline(time.Now().Add(-time.Second)) // pstest's clock too
		}
		unlock()
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if got := f.pull(catch, 1); len(got) == 1 {
			if got[0].GetMessage().GetAttributes()["CloudPubSubDeadLetterSourceDeliveryCount"] != "5" {
				t.Fatalf("attributes %v", got[0].GetMessage().GetAttributes())
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("not dead-lettered by the janitor after the fifth deadline expired")
}

func TestDetachSubscription(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("det")
	name := f.subscription(&pb.Subscription{Name: subName("det-s"), Topic: topic}).GetName()
	other := f.subscription(&pb.Subscription{Name: subName("det-other"), Topic: topic}).GetName()
	f.publish(topic, "before")
	if _, err := f.pub.DetachSubscription(ctx(), &pb.DetachSubscriptionRequest{Subscription: name}); err != nil {
		t.Fatal(err)
	}
	got, err := f.sub.GetSubscription(ctx(), &pb.GetSubscriptionRequest{Subscription: name})
	if err != nil || !got.GetDetached() {
		t.Fatalf("GetSubscription: detached %v, %v", got.GetDetached(), err)
	}
	list, err := f.pub.ListTopicSubscriptions(ctx(), &pb.ListTopicSubscriptionsRequest{Topic: topic})
	if err != nil || !slices.Equal(list.GetSubscriptions(), []string{other}) {
		t.Fatalf("topic lists %v (%v), want only %s", list.GetSubscriptions(), err, other)
	}
	f.publish(topic, "after")
	_, err = f.sub.Pull(ctx(), &pb.PullRequest{Subscription: name, MaxMessages: 10})
	wantCode(t, err, codes.FailedPrecondition, "")
	unlock := f.layer.st.Lock()
	n := f.layer.st.Subscription(name).Count()
	unlock()
	if n != 0 {
		t.Fatalf("detached subscription holds %d messages", n)
	}
	if bodies := f.drain(other); len(bodies) != 2 {
		t.Fatalf("the other subscription got %v", bodies)
	}
	_, err = f.pub.DetachSubscription(ctx(), &pb.DetachSubscriptionRequest{Subscription: subName("missing")})
	wantCode(t, err, codes.NotFound, "")
}

func TestSeekToTime(t *testing.T) {
	for _, tc := range []struct {
		name           string
		retain         bool
		topicRetention time.Duration
		want           []string // redelivered after seeking before "old" was acked
	}{
		{"no retention", false, 0, nil},
		{"retain acked messages", true, 0, []string{"new", "old"}},
		{"topic retention", false, time.Hour, []string{"new", "old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			topic := &pb.Topic{Name: topicName("seek")}
			if tc.topicRetention > 0 {
				topic.MessageRetentionDuration = durationpb.New(tc.topicRetention)
			}
			if _, err := f.pub.CreateTopic(ctx(), topic); err != nil {
				t.Fatal(err)
			}
			name := f.subscription(&pb.Subscription{Name: subName("seek-s"), Topic: topic.Name, RetainAckedMessages: tc.retain}).GetName()
			start := time.Now()
			f.publish(topic.Name, "old", "new")
			if got := f.drain(name); len(got) != 2 {
				t.Fatalf("drained %v", got)
			}
			if _, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Time{Time: timestamppb.New(start)}}); err != nil {
				t.Fatal(err)
			}
			// pstest's delivery loop runs every 10 ms: its crash came from there.
			time.Sleep(50 * time.Millisecond)
			got := f.drain(name)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("after seek: %v, want %v", got, tc.want)
			}
			// Seek to the future acknowledges everything.
			f.publish(topic.Name, "later")
			if _, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Time{Time: timestamppb.New(time.Now().Add(time.Hour))}}); err != nil {
				t.Fatal(err)
			}
			if got := f.drain(name); len(got) != 0 {
				t.Fatalf("after seek to the future: %v", got)
			}
		})
	}
}

func TestSeekErrors(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("seek-err")
	name := f.subscription(&pb.Subscription{Name: subName("seek-err"), Topic: topic}).GetName()
	_, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name})
	wantCode(t, err, codes.InvalidArgument, "No target was specified in the SeekRequest. Must specify either a time or a snapshot")
	_, err = f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: subName("missing"), Target: &pb.SeekRequest_Time{Time: timestamppb.Now()}})
	wantCode(t, err, codes.NotFound, "Subscription does not exist")
	_, err = f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Snapshot{Snapshot: snapName("missing")}})
	wantCode(t, err, codes.NotFound, "Snapshot does not exist")
}

func TestSnapshots(t *testing.T) {
	f := newFixture(t)
	topic, other := f.topic("snap"), f.topic("snap-other")
	name := f.subscription(&pb.Subscription{Name: subName("snap-s"), Topic: topic}).GetName()
	otherSub := f.subscription(&pb.Subscription{Name: subName("snap-o"), Topic: other}).GetName()
	f.publish(topic, "one", "two")
	for acked := false; !acked; { // "one" acked before the snapshot, "two" its backlog
		m := f.pull(name, 1)
		if string(m[0].GetMessage().GetData()) == "one" {
			f.ack(name, m)
			acked = true
		} else {
			f.nack(name, m)
		}
	}
	created, err := f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("snap1"), Subscription: name, Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetTopic() != topic || created.GetLabels()["a"] != "b" {
		t.Fatalf("created %v", created)
	}
	if life := time.Until(created.GetExpireTime().AsTime()); life < 7*24*time.Hour-time.Minute || life > 7*24*time.Hour {
		t.Fatalf("expires in %s, want 7 days less the backlog's age", life)
	}
	_, err = f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("snap1"), Subscription: name})
	wantCode(t, err, codes.AlreadyExists, "Snapshot already exists")
	_, err = f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("snap2"), Subscription: subName("missing")})
	wantCode(t, err, codes.NotFound, "Subscription does not exist")

	got, err := f.sub.GetSnapshot(ctx(), &pb.GetSnapshotRequest{Snapshot: snapName("snap1")})
	if err != nil || !got.GetExpireTime().AsTime().Equal(created.GetExpireTime().AsTime()) {
		t.Fatalf("get: %v %v", got, err)
	}
	list, err := f.sub.ListSnapshots(ctx(), &pb.ListSnapshotsRequest{Project: project})
	if err != nil || len(list.GetSnapshots()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	topicSnaps, err := f.pub.ListTopicSnapshots(ctx(), &pb.ListTopicSnapshotsRequest{Topic: topic})
	if err != nil || !slices.Equal(topicSnaps.GetSnapshots(), []string{snapName("snap1")}) {
		t.Fatalf("topic snapshots: %v %v", topicSnaps, err)
	}
	upd, err := f.sub.UpdateSnapshot(ctx(), &pb.UpdateSnapshotRequest{
		Snapshot:   &pb.Snapshot{Name: snapName("snap1"), Labels: map[string]string{"c": "d"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
	})
	if err != nil || upd.GetLabels()["c"] != "d" || len(upd.GetLabels()) != 1 {
		t.Fatalf("update: %v %v", upd, err)
	}

	f.drain(name)
	f.publish(topic, "three")
	f.drain(name)
	if _, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Snapshot{Snapshot: snapName("snap1")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	bodies := f.drain(name)
	slices.Sort(bodies)
	if want := []string{"three", "two"}; !slices.Equal(bodies, want) {
		t.Fatalf("after seek to snapshot: %v, want %v (its backlog and what came after)", bodies, want)
	}
	_, err = f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: otherSub, Target: &pb.SeekRequest_Snapshot{Snapshot: snapName("snap1")}})
	wantCode(t, err, codes.FailedPrecondition, "")

	if _, err := f.sub.DeleteSnapshot(ctx(), &pb.DeleteSnapshotRequest{Snapshot: snapName("snap1")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.sub.GetSnapshot(ctx(), &pb.GetSnapshotRequest{Snapshot: snapName("snap1")})
	wantCode(t, err, codes.NotFound, "Snapshot does not exist")
	_, err = f.sub.DeleteSnapshot(ctx(), &pb.DeleteSnapshotRequest{Snapshot: snapName("snap1")})
	wantCode(t, err, codes.NotFound, "Snapshot does not exist")
}

func TestSnapshotExpires(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("snap-exp")
	name := f.subscription(&pb.Subscription{Name: subName("snap-exp"), Topic: topic}).GetName()
	f.publish(topic, "x")
	if _, err := f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("snap-exp"), Subscription: name}); err != nil {
		t.Fatal(err)
	}
	f.advance(7*24*time.Hour + time.Second)
	_, err := f.sub.GetSnapshot(ctx(), &pb.GetSnapshotRequest{Snapshot: snapName("snap-exp")})
	wantCode(t, err, codes.NotFound, "Snapshot does not exist")
	_, err = f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Snapshot{Snapshot: snapName("snap-exp")}})
	wantCode(t, err, codes.NotFound, "Snapshot does not exist")
	// A backlog older than 6 days 23 hours leaves less than an hour: refused.
	_, err = f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("snap-late"), Subscription: name})
	wantCode(t, err, codes.FailedPrecondition, "")
}

func TestOrderingKeyHoldsWithinOneBatch(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("ord")
	name := f.subscription(&pb.Subscription{Name: subName("ord"), Topic: topic, EnableMessageOrdering: true}).GetName()
	f.publishNumbered(topic, 30, func(int) string { return "k" })
	f.pullOneAtATime(name, 30)
}

// A topic that a subscription dead-letters to can be deleted, as in
// production (pstest refuses: FailedPrecondition); the policy keeps naming
// it, messages due stay on the subscription while no topic has the name,
// and go to a topic created again under it.
func TestDeadLetterTopicCanBeDeleted(t *testing.T) {
	f := newFixture(t)
	topic, dl := f.topic("gone"), f.topic("gone-dl")
	src := subName("gone-src")
	policy := &pb.DeadLetterPolicy{DeadLetterTopic: dl, MaxDeliveryAttempts: 5}
	f.subscription(&pb.Subscription{Name: src, Topic: topic, DeadLetterPolicy: policy})
	if _, err := f.pub.DeleteTopic(ctx(), &pb.DeleteTopicRequest{Topic: dl}); err != nil {
		t.Fatalf("delete the dead-letter topic: %v", err)
	}
	got, err := f.sub.GetSubscription(ctx(), &pb.GetSubscriptionRequest{Subscription: src})
	if err != nil || got.GetDeadLetterPolicy().GetDeadLetterTopic() != dl {
		t.Fatalf("policy after the delete: %v, %v", got.GetDeadLetterPolicy(), err)
	}
	f.publish(topic, "dead")
	for range 5 {
		f.nack(src, f.pull(src, 1))
	}
	if m := f.pull(src, 10); len(m) != 1 {
		t.Fatalf("with no dead-letter topic the message stays: got %d", len(m))
	} else {
		f.nack(src, m)
	}
	f.topic("gone-dl")
	catch := f.subscription(&pb.Subscription{Name: subName("gone-catch"), Topic: dl}).GetName()
	f.nack(src, f.pull(src, 1))
	if m := f.pull(catch, 10); len(m) != 1 {
		t.Fatalf("dead-letter topic created again: got %d messages, want 1", len(m))
	}
}
