package pubsubfidelity

import (
	"strconv"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func (f *fixture) inPstest(name string) int {
	defer f.layer.st.Lock()()
	return f.layer.st.Subscription(name).Count()
}

func TestBacklogBeyondTheWindowWaitsOutsidePstest(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("park")
	name := f.subscription(&pb.Subscription{Name: subName("park"), Topic: topic, EnableMessageOrdering: true}).GetName()
	f.publishNumbered(topic, 2500, func(i int) string { return "k" + strconv.Itoa(i%2) })
	if in, parked := f.inPstest(name), f.layer.Parked()[name]; in != window || parked != 1500 {
		t.Fatalf("in pstest %d, parked %d; want %d and 1500", in, parked, window)
	}
	next := map[string]int{"k0": 0, "k1": 1}
	for got := 0; got < 2500; {
		batch := f.pull(name, 1000)
		if len(batch) == 0 {
			t.Fatalf("nothing to pull after %d of 2500", got)
		}
		for _, m := range batch {
			key, n := m.GetMessage().GetOrderingKey(), string(m.GetMessage().GetData())
			if n != strconv.Itoa(next[key]) {
				t.Fatalf("key %s: got message %s, want %d", key, n, next[key])
			}
			next[key] += 2
		}
		got += len(batch)
		f.ack(name, batch)
	}
	if in, parked := f.inPstest(name), len(f.layer.Parked()); in != 0 || parked != 0 {
		t.Fatalf("after draining: %d in pstest, %d subscriptions parked", in, parked)
	}
}

func TestParkedMessagesInSnapshotsAndSeeks(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("park-snap")
	name := f.subscription(&pb.Subscription{Name: subName("park-snap"), Topic: topic}).GetName()
	var data []string
	for i := range 2500 {
		data = append(data, strconv.Itoa(i))
	}
	f.publish(topic, data...)
	if _, err := f.sub.CreateSnapshot(ctx(), &pb.CreateSnapshotRequest{Name: snapName("park-snap"), Subscription: name}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.drain(name)); got != 2500 {
		t.Fatalf("drained %d, want 2500", got)
	}
	if _, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Snapshot{Snapshot: snapName("park-snap")}}); err != nil {
		t.Fatal(err)
	}
	if in := f.inPstest(name); in != window {
		t.Fatalf("after seek %d in pstest, want the window, %d", in, window)
	}
	bodies := f.drain(name)
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(bodies) != 2500 || len(seen) != 2500 {
		t.Fatalf("after seek to the snapshot: %d messages, %d distinct; want 2500", len(bodies), len(seen))
	}
}

func TestSeekKeepsOrderingAcrossTheWindow(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("park-ord")
	name := f.subscription(&pb.Subscription{Name: subName("park-ord"), Topic: topic, EnableMessageOrdering: true, RetainAckedMessages: true}).GetName()
	start := time.Now()
	f.publishNumbered(topic, 1500, func(int) string { return "k" })
	for range 10 { // 0-9 acked; 10-1009 in pstest, 1010-1499 parked
		f.ack(name, f.pull(name, 10))
	}
	if _, err := f.sub.Seek(ctx(), &pb.SeekRequest{Subscription: name, Target: &pb.SeekRequest_Time{Time: timestamppb.New(start)}}); err != nil {
		t.Fatal(err)
	}
	f.pullOneAtATime(name, 1500) // after the seek
}
