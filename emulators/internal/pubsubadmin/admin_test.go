package pubsubadmin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// fixture is a pstest server, a gRPC client of it and its admin API.
type fixture struct {
	t     *testing.T
	pub   pb.PublisherClient
	sub   pb.SubscriberClient
	admin string
}

func newFixture(t *testing.T) *fixture {
	fake := pstest.NewServer()
	t.Cleanup(func() { fake.Close() })
	conn := testserver.Dial(t, fake.Addr)
	handler, err := Handler(fake)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(handler)
	t.Cleanup(api.Close)
	return &fixture{t, pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn), api.URL}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) topics(names ...string) {
	for _, name := range names {
		_, err := f.pub.CreateTopic(context.Background(), &pb.Topic{Name: name})
		f.must(err)
	}
}

func (f *fixture) subscribe(s *pb.Subscription) {
	s.AckDeadlineSeconds = 10
	_, err := f.sub.CreateSubscription(context.Background(), s)
	f.must(err)
}

func (f *fixture) publish(topic string, msgs ...*pb.PubsubMessage) {
	_, err := f.pub.Publish(context.Background(), &pb.PublishRequest{Topic: topic, Messages: msgs})
	f.must(err)
}

func (f *fixture) ack(sub string, ids []string) {
	_, err := f.sub.Acknowledge(context.Background(), &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids})
	f.must(err)
}

// pull takes up to n messages and returns their ack ids.
func (f *fixture) pull(sub string, n int32) []string {
	resp, err := f.sub.Pull(context.Background(), &pb.PullRequest{Subscription: sub, MaxMessages: n, ReturnImmediately: true})
	f.must(err)
	var ids []string
	for _, m := range resp.GetReceivedMessages() {
		ids = append(ids, m.GetAckId())
	}
	return ids
}

func (f *fixture) get(path string, into any) int {
	f.t.Helper()
	resp, err := http.Get(f.admin + path)
	f.must(err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		f.must(json.NewDecoder(resp.Body).Decode(into))
	}
	return resp.StatusCode
}

// backlogs is GET /v1/subscriptions as name → backlog.
func (f *fixture) backlogs(project string) map[string]int {
	f.t.Helper()
	var body struct{ Subscriptions []Subscription }
	if code := f.get("/v1/subscriptions?project="+project, &body); code != http.StatusOK {
		f.t.Fatalf("GET /v1/subscriptions: status %d", code)
	}
	out := map[string]int{}
	for _, s := range body.Subscriptions {
		out[s.Name] = s.Backlog
	}
	return out
}

func TestBacklogCountsWhatIsNotAcknowledged(t *testing.T) {
	f := newFixture(t)
	f.topics("projects/p/topics/t", "projects/q/topics/t")
	a, b := "projects/p/subscriptions/a", "projects/p/subscriptions/b"
	f.subscribe(&pb.Subscription{Name: a, Topic: "projects/p/topics/t"})
	f.subscribe(&pb.Subscription{Name: b, Topic: "projects/p/topics/t", PushConfig: &pb.PushConfig{PushEndpoint: "http://x/"}})
	f.subscribe(&pb.Subscription{Name: "projects/q/subscriptions/a", Topic: "projects/q/topics/t"})
	for i := range 3 {
		f.publish("projects/p/topics/t", &pb.PubsubMessage{Data: fmt.Appendf(nil, "m%d", i)})
	}

	steps := []struct {
		name string
		act  func()
		want map[string]int
	}{
		{"published", func() {}, map[string]int{a: 3, b: 3}},
		{"two pulled, outstanding", func() { f.pull(a, 2) }, map[string]int{a: 3, b: 3}},
		{"one acked", func() { f.ack(a, f.pull(a, 1)) }, map[string]int{a: 2, b: 3}},
		{"all of b acked", func() { f.ack(b, f.pull(b, 10)) }, map[string]int{a: 2, b: 0}},
	}
	for _, s := range steps {
		s.act()
		if got := f.backlogs("p"); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: backlogs %v, want %v", s.name, got, s.want)
		}
	}
	var body struct{ Subscriptions []Subscription }
	f.get("/v1/subscriptions?project=p", &body)
	if want := (Subscription{Name: b, Topic: "projects/p/topics/t", PushEndpoint: "http://x/"}); body.Subscriptions[1] != want {
		t.Errorf("entry %+v, want %+v", body.Subscriptions[1], want)
	}
	if got := f.backlogs("q"); got["projects/q/subscriptions/a"] != 0 || len(got) != 1 {
		t.Errorf("project q: %v", got)
	}
}

func TestBacklogLeavesOutDeadLetteredMessages(t *testing.T) {
	f := newFixture(t)
	f.topics("projects/p/topics/t", "projects/p/topics/dead")
	src, dead := "projects/p/subscriptions/src", "projects/p/subscriptions/dead"
	f.subscribe(&pb.Subscription{Name: dead, Topic: "projects/p/topics/dead"})
	f.subscribe(&pb.Subscription{Name: src, Topic: "projects/p/topics/t",
		DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: "projects/p/topics/dead", MaxDeliveryAttempts: 5}})
	f.publish("projects/p/topics/t", &pb.PubsubMessage{Data: []byte("poison")}, &pb.PubsubMessage{Data: []byte("fine")})

	for attempt := 1; attempt <= 5; attempt++ {
		ids := f.pull(src, 2)
		if attempt == 1 { // ack "fine" at once; keep failing "poison"
			f.ack(src, ids[1:])
			ids = ids[:1]
		}
		_, err := f.sub.ModifyAckDeadline(context.Background(), &pb.ModifyAckDeadlineRequest{Subscription: src, AckIds: ids, AckDeadlineSeconds: 0})
		f.must(err)
	}
	if got := f.backlogs("p")[src]; got != 0 {
		t.Errorf("source backlog after 5 failed deliveries: %d, want 0", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for f.backlogs("p")[dead] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("dead-letter subscription: %v, want a backlog of 1", f.backlogs("p"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMessagesNewestFirstFilteredAndLimited(t *testing.T) {
	f := newFixture(t)
	f.topics("projects/p/topics/t", "projects/p/topics/u", "projects/q/topics/t")
	f.subscribe(&pb.Subscription{Name: "projects/p/subscriptions/s", Topic: "projects/p/topics/t"})
	f.publish("projects/p/topics/t", &pb.PubsubMessage{Data: []byte("one"), Attributes: map[string]string{"k": "v"}, OrderingKey: "dev1"})
	f.ack("projects/p/subscriptions/s", f.pull("projects/p/subscriptions/s", 1))
	f.publish("projects/p/topics/u", &pb.PubsubMessage{Data: []byte("two")})
	f.publish("projects/q/topics/t", &pb.PubsubMessage{Data: []byte("three")})
	f.publish("projects/p/topics/t", &pb.PubsubMessage{Data: []byte("four")})

	cases := []struct {
		query string
		want  []string // data, newest first
	}{
		{"", []string{"four", "three", "two", "one"}},
		{"?project=p", []string{"four", "two", "one"}},
		{"?project=p&topic=t", []string{"four", "one"}},
		{"?topic=projects/q/topics/t", []string{"three"}},
		{"?project=p&limit=2", []string{"four", "two"}},
	}
	for _, c := range cases {
		var body struct{ Messages []Message }
		if code := f.get("/v1/messages"+c.query, &body); code != http.StatusOK {
			t.Fatalf("%s: status %d", c.query, code)
		}
		var got []string
		for _, m := range body.Messages {
			data, _ := base64Decode(m.DataBase64)
			got = append(got, data)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}

	var body struct{ Messages []Message }
	f.get("/v1/messages?project=p&topic=t", &body)
	one := body.Messages[1]
	published, err := time.Parse(time.RFC3339Nano, one.PublishTime)
	if one.Topic != "projects/p/topics/t" || one.Attributes["k"] != "v" || one.OrderingKey != "dev1" ||
		one.Deliveries != 1 || one.Acks != 1 || one.ID == "" || err != nil || time.Since(published) > time.Minute {
		t.Errorf("message %+v (publish time: %v)", one, err)
	}
	if body.Messages[0].Attributes == nil {
		t.Error("attributes: null, want {}")
	}
	if code := f.get("/v1/messages?limit=0", &body); code != http.StatusBadRequest {
		t.Errorf("limit=0: status %d, want 400", code)
	}
}

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// Run with -race: requests in parallel with each other and with traffic.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	f.topics("projects/p/topics/t")
	f.subscribe(&pb.Subscription{Name: "projects/p/subscriptions/s", Topic: "projects/p/topics/t"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		path := []string{"/v1/messages", "/v1/subscriptions"}[i%2]
		wg.Go(func() {
			for range 20 {
				resp, err := http.Get(f.admin + path)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
			}
		})
	}
	for range 50 {
		f.publish("projects/p/topics/t", &pb.PubsubMessage{Data: []byte("x")})
		f.pull("projects/p/subscriptions/s", 5)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
