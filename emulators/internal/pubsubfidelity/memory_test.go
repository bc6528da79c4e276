package pubsubfidelity

import (
	"flag"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

var soakMessages = flag.Int("soak.messages", 200_000, "messages TestSoakHeapStaysFlat publishes, pulls and acks (20,000 a round)")

func (f *fixture) kept() (logged, recent int) {
	defer f.layer.st.Lock()()
	for _, log := range f.layer.logs {
		logged += len(log.recs)
	}
	return logged, len(f.layer.recent)
}

func TestAckedMessagesAreReleased(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("rel")
	name := f.subscription(&pb.Subscription{Name: subName("rel"), Topic: topic}).GetName()
	for range 3 {
		f.publish(topic, strings.Split(strings.Repeat("x,", 500), ",")[:500]...)
		f.drain(name)
	}
	if logged, recent := f.kept(); logged != 0 || recent != recentMessages {
		t.Fatalf("kept %d for seeking and %d recent, want 0 and %d", logged, recent, recentMessages)
	}
	if n := len(f.fake.Messages()); n != 0 {
		t.Fatalf("pstest's own list holds %d messages", n)
	}
}

func TestRetainedAckedMessagesLastTheirRetention(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("ret")
	name := f.subscription(&pb.Subscription{Name: subName("ret"), Topic: topic, RetainAckedMessages: true,
		MessageRetentionDuration: durationpb.New(time.Hour)}).GetName()
	f.publish(topic, "a", "b")
	f.drain(name)
	if logged, _ := f.kept(); logged != 2 {
		t.Fatalf("kept %d, want 2 (retain_acked_messages)", logged)
	}
	f.advance(time.Hour + time.Second)
	deadline := time.Now().Add(2 * time.Second) // the janitor prunes every 100 ms
	for {
		logged, _ := f.kept()
		if logged == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still kept %d past message_retention_duration", logged)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSoakHeapStaysFlat publishes, pulls and acks -soak.messages messages of
// 200 bytes in rounds of 20,000 and checks that the heap after the last
// round is no larger than after the second (warm-up) plus 4 MiB. With
// SOAK_BARE=1 it also runs the same rounds against pstest alone, to show
// what it keeps (logged, not asserted).
func TestSoakHeapStaysFlat(t *testing.T) {
	total := *soakMessages
	if testing.Short() {
		total = 60_000
	}
	const round = 20_000
	f := newFixture(t)
	heaps := soak(t, f, total/round, round)
	t.Logf("heap after each round of %d (MiB): %v", round, heaps)
	if grown := heaps[len(heaps)-1] - heaps[1]; grown > 4 {
		t.Fatalf("heap grew %.1f MiB from round 2 to round %d: %v", grown, len(heaps), heaps)
	}
	if os.Getenv("SOAK_BARE") == "1" {
		bare := newBareFixture(t)
		t.Logf("pstest alone, heap after each round (MiB): %v", soak(t, bare, total/round, round))
	}
}

func soak(t *testing.T, f *fixture, rounds, size int) []float64 {
	topic := f.topic("soak")
	name := f.subscription(&pb.Subscription{Name: subName("soak"), Topic: topic, AckDeadlineSeconds: 60}).GetName()
	body := []byte(strings.Repeat("b", 200))
	var heaps []float64
	for range rounds {
		for sent := 0; sent < size; sent += 1000 {
			msgs := make([]*pb.PubsubMessage, 1000)
			for i := range msgs {
				msgs[i] = &pb.PubsubMessage{Data: body, Attributes: map[string]string{"site": "s1"}}
			}
			if _, err := f.pub.Publish(ctx(), &pb.PublishRequest{Topic: topic, Messages: msgs}); err != nil {
				t.Fatal(err)
			}
		}
		for got := 0; got < size; {
			msgs := f.pull(name, 1000)
			got += len(msgs)
			f.ack(name, msgs)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heaps = append(heaps, float64(ms.HeapAlloc*10>>20)/10)
	}
	return heaps
}

func TestMessagesForTheAdminAPI(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("adm")
	a := f.subscription(&pb.Subscription{Name: subName("adm-a"), Topic: topic}).GetName()
	b := f.subscription(&pb.Subscription{Name: subName("adm-b"), Topic: topic}).GetName()
	ids := f.publish(topic, "one", "two")
	first := f.pull(a, 10)
	f.nack(a, first)
	f.drain(a)
	f.drain(b)
	msgs := f.layer.Messages()
	if len(msgs) != 2 || msgs[0].ID != ids[0] || msgs[1].ID != ids[1] || string(msgs[0].Data) != "one" {
		t.Fatalf("messages %+v, want %v oldest first", msgs, ids)
	}
	for _, m := range msgs {
		// a: 2 deliveries (one nacked), b: 1; acked once on each.
		if m.Deliveries != 3 || m.Acks != 2 || m.Topic != topic {
			t.Errorf("message %s: deliveries %d, acks %d, topic %s; want 3, 2, %s", m.ID, m.Deliveries, m.Acks, m.Topic, topic)
		}
	}
}
