// Command parityprobe runs the issue-16 fidelity checks over raw gRPC
// against a Pub/Sub emulator, printing one line per observation, so that
// ours and Google's Java emulator can be compared side by side by hand:
//
//	go run ./tools/parityprobe -addr 127.0.0.1:8085 > ours.txt
//	go run ./tools/parityprobe -addr 127.0.0.1:8681 > java.txt
//	diff ours.txt java.txt
//
// It is not a test: it asserts nothing and needs a running emulator.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	pub  pb.PublisherClient
	sub  pb.SubscriberClient
	ctx  = context.Background()
	proj = "projects/probe-" + fmt.Sprint(time.Now().Unix()%100000)
)

func topic(id string) string { return proj + "/topics/" + id }
func subn(id string) string  { return proj + "/subscriptions/" + id }
func snap(id string) string  { return proj + "/snapshots/" + id }

func say(label string, v ...any) { fmt.Println(label+":", fmt.Sprint(v...)) }

func errs(err error) string {
	if err == nil {
		return "OK"
	}
	s := status.Convert(err)
	return s.Code().String() + " " + s.Message()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "emulator host:port")
	soakN := flag.Int("soak", 0, "instead of the checks: publish, pull and ack this many 200-byte messages in rounds of 50,000, printing the time per round (watch the emulator's RSS meanwhile)")
	flag.Parse()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pub, sub = pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	c, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	ctx = c
	if *soakN > 0 {
		soak(*soakN)
		return
	}

	names()
	empty()
	ackDeadlines()
	ids()
	attempts()
	deadLetters()
	detach()
	seekTime()
	snapshots()
}

func names() {
	for _, id := range []string{"a", "ab", "abc", "1abc", "goog-x", "Goog-x", "a b", "a~b+c%d.e_f-g", strings.Repeat("x", 255), strings.Repeat("x", 256), "a/b"} {
		_, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic(id)})
		say("create topic "+trunc(id), errs(err))
	}
	_, err := pub.CreateTopic(ctx, &pb.Topic{Name: "projects//topics/abc"})
	say("create topic projects//topics/abc", errs(err))
	_, err = pub.CreateTopic(ctx, &pb.Topic{Name: "abc"})
	say("create topic abc (no project)", errs(err))
	_, err = pub.GetTopic(ctx, &pb.GetTopicRequest{Topic: topic("a")})
	say("get topic a", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: topic("a"), Messages: []*pb.PubsubMessage{{Data: []byte("x")}}})
	say("publish to topic a", errs(err))
	_, err = sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("s"), Topic: topic("abc")})
	say("create subscription s", errs(err))
	_, err = sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("goog-s"), Topic: topic("abc")})
	say("create subscription goog-s", errs(err))
	_, err = sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: subn("s")})
	say("get subscription s", errs(err))
	_, err = sub.Pull(ctx, &pb.PullRequest{Subscription: subn("s"), MaxMessages: 1, ReturnImmediately: true})
	say("pull subscription s", errs(err))
	_, err = sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("sub-ok"), Topic: topic("a")})
	say("create subscription on topic a", errs(err))
}

func trunc(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%s...(%d)", s[:8], len(s))
	}
	return s
}

func empty() {
	t := topic("empty")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	_, err := pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{}}})
	say("publish empty message", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("x")}, {}}})
	say("publish one good one empty", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Attributes: map[string]string{"k": "v"}}}})
	say("publish attributes only", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{OrderingKey: "k"}}})
	say("publish ordering key only", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: t})
	say("publish no messages", errs(err))
	_, err = pub.Publish(ctx, &pb.PublishRequest{Topic: topic("nosuch"), Messages: []*pb.PubsubMessage{{Data: []byte("x")}}})
	say("publish to missing topic", errs(err))
}

func ackDeadlines() {
	t := topic("ackd")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	for _, d := range []int32{0, 5, 10, 600, 601, -1} {
		s, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: subn(fmt.Sprintf("ackd-%d", d+10)), Topic: t, AckDeadlineSeconds: d})
		say(fmt.Sprintf("create subscription ack_deadline %d", d), errs(err), " reported ", s.GetAckDeadlineSeconds())
		if err == nil {
			g, _ := sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: s.GetName()})
			say(fmt.Sprintf("  get: ack_deadline %d", d), g.GetAckDeadlineSeconds(), " retention ", g.GetMessageRetentionDuration().AsDuration(), " state ", g.GetState())
		}
	}
}

func ids() {
	t := topic("ids")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	r, err := pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("1")}, {Data: []byte("2")}}})
	ids := r.GetMessageIds()
	shape := "decimal"
	for _, id := range ids {
		for _, c := range id {
			if c < '0' || c > '9' {
				shape = "not decimal (" + id + ")"
			}
		}
	}
	say("message ids", errs(err), " ", len(ids), " ", shape)
}

func pullOne(s string) *pb.ReceivedMessage {
	for i := 0; i < 20; i++ {
		r, err := sub.Pull(ctx, &pb.PullRequest{Subscription: s, MaxMessages: 1, ReturnImmediately: true})
		if err != nil {
			say("  pull "+s, errs(err))
			return nil
		}
		if len(r.GetReceivedMessages()) > 0 {
			return r.GetReceivedMessages()[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func nack(s string, m *pb.ReceivedMessage) {
	_, err := sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: s, AckIds: []string{m.GetAckId()}, AckDeadlineSeconds: 0})
	if err != nil {
		say("  nack", errs(err))
	}
}

func attempts() {
	t, dl := topic("att"), topic("att-dl")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	must(pub.CreateTopic(ctx, &pb.Topic{Name: dl}))
	for _, n := range []string{"att-a", "att-b"} {
		s, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: subn(n), Topic: t, AckDeadlineSeconds: 10,
			DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dl}})
		say("create "+n+" with dead-letter policy, max omitted", errs(err), " reported max ", s.GetDeadLetterPolicy().GetMaxDeliveryAttempts())
	}
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("x")}}}))
	m := pullOne(subn("att-a"))
	say("att-a first delivery_attempt", m.GetDeliveryAttempt())
	nack(subn("att-a"), m)
	m = pullOne(subn("att-a"))
	say("att-a second delivery_attempt", m.GetDeliveryAttempt())
	m = pullOne(subn("att-b"))
	say("att-b first delivery_attempt (after 2 on att-a)", m.GetDeliveryAttempt())
}

func deadLetters() {
	t, dl := topic("dlq"), topic("dlq-dl")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	must(pub.CreateTopic(ctx, &pb.Topic{Name: dl}))
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("dlq-catch"), Topic: dl, AckDeadlineSeconds: 10}))
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("dlq-src"), Topic: t, AckDeadlineSeconds: 10,
		DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dl, MaxDeliveryAttempts: 5}}))
	r, _ := pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("dead"), Attributes: map[string]string{"k": "v"}}}})
	for i := 0; i < 5; i++ {
		m := pullOne(subn("dlq-src"))
		if m == nil {
			say("dlq: no delivery", i+1)
			break
		}
		nack(subn("dlq-src"), m)
	}
	m := pullOne(subn("dlq-src"))
	say("dlq: sixth pull from source gets a message", m != nil)
	d := pullOne(subn("dlq-catch"))
	if d == nil {
		say("dlq: nothing dead-lettered")
		return
	}
	var keys []string
	for k, v := range d.GetMessage().GetAttributes() {
		if k == "CloudPubSubDeadLetterSourceTopicPublishTime" {
			v = "<time>"
		}
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	say("dlq: attributes", strings.Join(keys, " "))
	say("dlq: same message id as source", d.GetMessage().GetMessageId() == r.GetMessageIds()[0])
}

func detach() {
	t := topic("det")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: subn("det-s"), Topic: t, AckDeadlineSeconds: 10}))
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("x")}}}))
	_, err := pub.DetachSubscription(ctx, &pb.DetachSubscriptionRequest{Subscription: subn("det-s")})
	say("detach", errs(err))
	if err != nil {
		return
	}
	g, err := sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: subn("det-s")})
	say("detach: get", errs(err), " detached=", g.GetDetached(), " topic=", strings.TrimPrefix(g.GetTopic(), proj))
	l, _ := pub.ListTopicSubscriptions(ctx, &pb.ListTopicSubscriptionsRequest{Topic: t})
	say("detach: topic lists", len(l.GetSubscriptions()))
	_, err = sub.Pull(ctx, &pb.PullRequest{Subscription: subn("det-s"), MaxMessages: 1, ReturnImmediately: true})
	say("detach: pull", errs(err))
}

func seekTime() {
	t := topic("seek")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	for _, retain := range []bool{false, true} {
		n := subn(fmt.Sprintf("seek-%v", retain))
		must(sub.CreateSubscription(ctx, &pb.Subscription{Name: n, Topic: t, AckDeadlineSeconds: 10, RetainAckedMessages: retain}))
	}
	before := time.Now().Add(-time.Second)
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("seek-body")}}}))
	for _, retain := range []bool{false, true} {
		n := subn(fmt.Sprintf("seek-%v", retain))
		m := pullOne(n)
		must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: n, AckIds: []string{m.GetAckId()}}))
		_, err := sub.Seek(ctx, &pb.SeekRequest{Subscription: n, Target: &pb.SeekRequest_Time{Time: timestamppb.New(before)}})
		say(fmt.Sprintf("seek to time, retain_acked=%v", retain), errs(err))
		m = pullOne(n)
		say(fmt.Sprintf("  redelivered, retain_acked=%v", retain), m != nil, " body=", string(m.GetMessage().GetData()), " attempt=", m.GetDeliveryAttempt())
	}
	n := subn("seek-false")
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("later")}}}))
	_, err := sub.Seek(ctx, &pb.SeekRequest{Subscription: n, Target: &pb.SeekRequest_Time{Time: timestamppb.New(time.Now().Add(time.Hour))}})
	say("seek to the future", errs(err))
	say("  then pull gets a message", pullOne(n) != nil)
	_, err = sub.Seek(ctx, &pb.SeekRequest{Subscription: n})
	say("seek without target", errs(err))
	_, err = sub.Seek(ctx, &pb.SeekRequest{Subscription: subn("nosuch"), Target: &pb.SeekRequest_Time{Time: timestamppb.Now()}})
	say("seek missing subscription", errs(err))
}

func snapshots() {
	t, t2 := topic("snap"), topic("snap-other")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t2}))
	n, other := subn("snap-s"), subn("snap-o")
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: n, Topic: t, AckDeadlineSeconds: 10}))
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: other, Topic: t2, AckDeadlineSeconds: 10}))
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("one")}, {Data: []byte("two")}}}))
	// "one" is acknowledged before the snapshot, "two" is its backlog.
	for acked := false; !acked; {
		m := pullOne(n)
		if m == nil {
			break
		}
		if string(m.GetMessage().GetData()) == "one" {
			must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: n, AckIds: []string{m.GetAckId()}}))
			acked = true
		} else {
			nack(n, m)
		}
	}
	s, err := sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Name: snap("snap1"), Subscription: n, Labels: map[string]string{"a": "b"}})
	say("create snapshot", errs(err))
	if err != nil {
		return
	}
	say("  snapshot topic", strings.TrimPrefix(s.GetTopic(), proj), " expire in ~", time.Until(s.GetExpireTime().AsTime()).Round(time.Hour), " labels ", s.GetLabels())
	_, err = sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Name: snap("snap1"), Subscription: n})
	say("create snapshot again", errs(err))
	_, err = sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Name: snap("snap2"), Subscription: subn("nosuch")})
	say("create snapshot of missing subscription", errs(err))
	_, err = sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Name: snap("x"), Subscription: n})
	say("create snapshot bad name", errs(err))
	_, err = sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Subscription: n})
	say("create snapshot no name", errs(err))
	g, err := sub.GetSnapshot(ctx, &pb.GetSnapshotRequest{Snapshot: snap("snap1")})
	say("get snapshot", errs(err), " same expire ", g.GetExpireTime().AsTime().Equal(s.GetExpireTime().AsTime()))
	l, err := sub.ListSnapshots(ctx, &pb.ListSnapshotsRequest{Project: proj})
	say("list snapshots", errs(err), " ", len(l.GetSnapshots()))
	u, err := sub.UpdateSnapshot(ctx, &pb.UpdateSnapshotRequest{Snapshot: &pb.Snapshot{Name: snap("snap1"), Labels: map[string]string{"c": "d"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}})
	say("update snapshot labels", errs(err), " ", u.GetLabels())
	// Drain and ack everything, publish one more, then seek back.
	for m := pullOne(n); m != nil; m = pullOne(n) {
		must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: n, AckIds: []string{m.GetAckId()}}))
	}
	must(pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: []*pb.PubsubMessage{{Data: []byte("three")}}}))
	for m := pullOne(n); m != nil; m = pullOne(n) {
		must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: n, AckIds: []string{m.GetAckId()}}))
	}
	_, err = sub.Seek(ctx, &pb.SeekRequest{Subscription: n, Target: &pb.SeekRequest_Snapshot{Snapshot: snap("snap1")}})
	say("seek to snapshot", errs(err))
	var got []string
	for m := pullOne(n); m != nil; m = pullOne(n) {
		got = append(got, string(m.GetMessage().GetData()))
		must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: n, AckIds: []string{m.GetAckId()}}))
	}
	sort.Strings(got)
	say("  redelivered after seek to snapshot", got)
	_, err = sub.Seek(ctx, &pb.SeekRequest{Subscription: other, Target: &pb.SeekRequest_Snapshot{Snapshot: snap("snap1")}})
	say("seek other topic's subscription to snapshot", errs(err))
	_, err = sub.Seek(ctx, &pb.SeekRequest{Subscription: n, Target: &pb.SeekRequest_Snapshot{Snapshot: snap("nosuch")}})
	say("seek to missing snapshot", errs(err))
	_, err = sub.DeleteSnapshot(ctx, &pb.DeleteSnapshotRequest{Snapshot: snap("snap1")})
	say("delete snapshot", errs(err))
	_, err = sub.GetSnapshot(ctx, &pb.GetSnapshotRequest{Snapshot: snap("snap1")})
	say("get deleted snapshot", errs(err))
	_, err = sub.DeleteSnapshot(ctx, &pb.DeleteSnapshotRequest{Snapshot: snap("snap1")})
	say("delete deleted snapshot", errs(err))
	_ = durationpb.New
}

func must[T any](_ T, err error) {
	if err != nil {
		say("  unexpected error", errs(err))
	}
}

func soak(n int) {
	t := topic("soak")
	s := subn("soak")
	must(pub.CreateTopic(ctx, &pb.Topic{Name: t}))
	must(sub.CreateSubscription(ctx, &pb.Subscription{Name: s, Topic: t, AckDeadlineSeconds: 60}))
	body := []byte(strings.Repeat("b", 200))
	for done := 0; done < n; done += 50_000 {
		start := time.Now()
		for i := 0; i < 50_000; i += 1000 {
			msgs := make([]*pb.PubsubMessage, 1000)
			for j := range msgs {
				msgs[j] = &pb.PubsubMessage{Data: body}
			}
			if _, err := pub.Publish(ctx, &pb.PublishRequest{Topic: t, Messages: msgs}); err != nil {
				say("publish", errs(err))
				return
			}
		}
		for got := 0; got < 50_000; {
			r, err := sub.Pull(ctx, &pb.PullRequest{Subscription: s, MaxMessages: 1000})
			if err != nil {
				say("pull", errs(err))
				return
			}
			var ids []string
			for _, m := range r.GetReceivedMessages() {
				ids = append(ids, m.GetAckId())
			}
			got += len(ids)
			if len(ids) > 0 {
				must(sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: s, AckIds: ids}))
			}
		}
		say(fmt.Sprintf("round %d", done/50_000+1), time.Since(start).Round(time.Millisecond))
	}
}
