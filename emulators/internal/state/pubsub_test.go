package state

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pubsubserver"
	"github.com/etl-pipeline/emulators/internal/push"
)

type psEnv struct {
	t   *testing.T
	srv *pubsubserver.Server
	pub pb.PublisherClient
	sub pb.SubscriberClient
}

func newPubSub(t *testing.T) *psEnv {
	srv, err := pubsubserver.Start("127.0.0.1:0", push.Config{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &psEnv{t, srv, pb.NewPublisherClient(srv.Conn()), pb.NewSubscriberClient(srv.Conn())}
}

func (e *psEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// export exports the state (without faults) into dir and returns dir.
func (e *psEnv) export(dir string) string {
	e.t.Helper()
	e.must(ExportPubSub(context.Background(), e.srv, nil, dir))
	return dir
}

func (e *psEnv) pullAll(sub string) []*pb.ReceivedMessage {
	e.t.Helper()
	resp, err := e.sub.Pull(context.Background(), &pb.PullRequest{Subscription: sub, MaxMessages: 1000, ReturnImmediately: true})
	e.must(err)
	msgs := resp.GetReceivedMessages()
	slices.SortFunc(msgs, func(a, b *pb.ReceivedMessage) int {
		return int(messageNumber(a.GetMessage().GetMessageId()) - messageNumber(b.GetMessage().GetMessageId()))
	})
	return msgs
}

const (
	topicA = "projects/p/topics/events"
	topicD = "projects/p/topics/dead"
	subA   = "projects/p/subscriptions/worker"
	subB   = "projects/p/subscriptions/audit"
	subP   = "projects/p/subscriptions/hook"
	subQ   = "projects/q/subscriptions/other"
)

// populate creates topics and subscriptions of every kind, publishes and
// acknowledges some messages, and returns the ids of those published.
func (e *psEnv) populate() []string {
	ctx := context.Background()
	for _, tp := range []*pb.Topic{{Name: topicA, Labels: map[string]string{"env": "test"}}, {Name: topicD}, {Name: "projects/q/topics/things"}} {
		_, err := e.pub.CreateTopic(ctx, tp)
		e.must(err)
	}
	subs := []*pb.Subscription{
		{Name: subA, Topic: topicA, AckDeadlineSeconds: 30, EnableMessageOrdering: true,
			DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: topicD, MaxDeliveryAttempts: 7},
			RetryPolicy:      &pb.RetryPolicy{MinimumBackoff: durationpb.New(time.Second), MaximumBackoff: durationpb.New(20 * time.Second)},
			Labels:           map[string]string{"k": "v"}},
		{Name: subB, Topic: topicA, AckDeadlineSeconds: 60, Filter: `attributes:kind`, EnableExactlyOnceDelivery: true},
		{Name: subP, Topic: topicD, AckDeadlineSeconds: 10, PushConfig: &pb.PushConfig{PushEndpoint: "http://127.0.0.1:1/push",
			AuthenticationMethod: &pb.PushConfig_OidcToken_{OidcToken: &pb.PushConfig_OidcToken{ServiceAccountEmail: "pusher@p.iam.gserviceaccount.com", Audience: "aud"}}}},
		{Name: subQ, Topic: "projects/q/topics/things", AckDeadlineSeconds: 20},
	}
	for _, s := range subs {
		_, err := e.sub.CreateSubscription(ctx, s)
		e.must(err)
	}
	e.srv.Faults().Set(subA, faults.Config{Duplicate: 0.25, Seed: 9})
	var msgs []*pb.PubsubMessage
	for i := range 6 {
		m := &pb.PubsubMessage{Data: []byte{byte(i), 0xff, '\n'}, Attributes: map[string]string{"kind": "reading", "i": string(rune('a' + i))}}
		if i%2 == 0 {
			m.OrderingKey = "sensor-1"
		}
		msgs = append(msgs, m)
	}
	resp, err := e.pub.Publish(ctx, &pb.PublishRequest{Topic: topicA, Messages: msgs})
	e.must(err)
	_, err = e.pub.Publish(ctx, &pb.PublishRequest{Topic: "projects/q/topics/things", Messages: []*pb.PubsubMessage{{Data: []byte("q")}}})
	e.must(err)
	// Acknowledge two messages on audit only: they stay in worker's backlog.
	got := e.pullAll(subB)
	var acks, nacks []string
	for _, m := range got {
		if id := m.GetMessage().GetMessageId(); id == resp.GetMessageIds()[1] || id == resp.GetMessageIds()[4] {
			acks = append(acks, m.GetAckId())
		} else {
			nacks = append(nacks, m.GetAckId())
		}
	}
	_, err = e.sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: subB, AckIds: acks})
	e.must(err)
	_, err = e.sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: subB, AckIds: nacks})
	e.must(err)
	return resp.GetMessageIds()
}

// readDir returns every file of dir but the manifest, by relative path.
func readDir(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() && d.Name() != ManifestFile {
			data, _ := os.ReadFile(path)
			rel, _ := filepath.Rel(dir, path)
			out[filepath.ToSlash(rel)] = string(data)
		}
		return nil
	})
	return out
}

func TestPubSubRoundTrip(t *testing.T) {
	a := newPubSub(t)
	published := a.populate()
	before := map[string][]*pb.ReceivedMessage{}
	dir1 := t.TempDir()
	if err := ExportPubSub(context.Background(), a.srv, a.srv.Faults(), dir1); err != nil {
		t.Fatal(err)
	}
	a.srv.Faults().Clear(subA)
	for _, s := range []string{subA, subB} {
		before[s] = a.pullAll(s)
	}

	st, err := LoadPubSub(dir1)
	if err != nil {
		t.Fatal(err)
	}
	b := newPubSub(t)
	if err := st.Apply(context.Background(), b.srv, b.srv.Faults()); err != nil {
		t.Fatal(err)
	}

	// Exported again, the state is the same, file for file.
	dir2 := t.TempDir()
	if err := ExportPubSub(context.Background(), b.srv, b.srv.Faults(), dir2); err != nil {
		t.Fatal(err)
	}
	one, two := readDir(t, dir1), readDir(t, dir2)
	if len(one) != 7 { // schemas (none), topics, subscriptions, 4 backlogs
		t.Errorf("export files: %v", slices.Sorted(mapKeys(one)))
	}
	for name, content := range one {
		if two[name] != content {
			t.Errorf("%s differs after import:\n%s\n---\n%s", name, content, two[name])
		}
	}
	m1, _ := readManifest(dir1)
	m2, _ := readManifest(dir2)
	if m1.NextMessageID != 8 || m2.NextMessageID != m1.NextMessageID {
		t.Errorf("next message id %d then %d, want 8", m1.NextMessageID, m2.NextMessageID)
	}

	// The backlogs deliver the same messages: ids, data, attributes,
	// ordering keys, publish times; audit lacks the two it acknowledged.
	b.srv.Faults().Clear(subA)
	for _, s := range []string{subA, subB} {
		after := b.pullAll(s)
		want := before[s]
		if len(after) != len(want) {
			t.Fatalf("%s: %d messages after import, %d before", s, len(after), len(want))
		}
		for i := range after {
			if !proto.Equal(after[i].GetMessage(), want[i].GetMessage()) {
				t.Errorf("%s: message %v, want %v", s, after[i].GetMessage(), want[i].GetMessage())
			}
		}
	}
	// Ordered: a pull gives the first message of key sensor-1 only.
	if n := len(before[subA]); n != 4 {
		t.Errorf("worker delivered %d messages, want 4", n)
	}
	if n := len(before[subB]); n != len(published)-2 {
		t.Errorf("audit had %d messages, want %d", n, len(published)-2)
	}
	// New messages get new ids.
	resp, err := b.pub.Publish(context.Background(), &pb.PublishRequest{Topic: topicA, Messages: []*pb.PubsubMessage{{Data: []byte("new")}}})
	b.must(err)
	if id := resp.GetMessageIds()[0]; id != "8" {
		t.Errorf("first id after import %s, want 8", id)
	}
	// Configuration and faults came along.
	got, err := b.sub.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: subP})
	b.must(err)
	if got.GetPushConfig().GetPushEndpoint() != "http://127.0.0.1:1/push" || got.GetPushConfig().GetOidcToken().GetAudience() != "aud" ||
		got.GetPushConfig().GetOidcToken().GetServiceAccountEmail() != "pusher@p.iam.gserviceaccount.com" {
		t.Errorf("push config %v", got.GetPushConfig())
	}
	got, err = b.sub.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: subB})
	b.must(err)
	if !got.GetEnableExactlyOnceDelivery() {
		t.Error("exactly-once delivery of audit lost in the export")
	}
	if s, ok := b.srv.Faults().Get(subA); !ok || s.Fired.Duplicate != 0 {
		t.Errorf("faults of worker after import: %+v", s)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestPubSubImportRefusesBadDirectories(t *testing.T) {
	a := newPubSub(t)
	a.populate()
	good := a.export(t.TempDir())
	edit := func(dir, name string, change func(string) string) {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(change(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// resign recomputes a file's checksum in the manifest, so that the
	// content itself is what is checked.
	resign := func(dir, name string) {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		m, _ := readManifest(dir)
		w := &writer{dir: dir, manifest: *m}
		var recs []any
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			recs = append(recs, json.RawMessage(l))
		}
		if err := w.lines(name, recs); err != nil {
			t.Fatal(err)
		}
		if err := w.finish(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		change func(dir string)
		want   string
	}{
		{"no manifest", func(d string) { os.Remove(filepath.Join(d, ManifestFile)) }, "no manifest.json"},
		{"newer version", func(d string) {
			edit(d, ManifestFile, func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 2`, 1) })
		}, "format version 2, this emulator reads version 1 only"},
		{"other format", func(d string) {
			edit(d, ManifestFile, func(s string) string { return strings.Replace(s, Format, "firebase", 1) })
		}, `format "firebase"`},
		{"bigtable export", func(d string) {
			edit(d, ManifestFile, func(s string) string { return strings.Replace(s, `"pubsub"`, `"bigtable"`, 1) })
		}, "an export of the bigtable emulator, not of pubsub"},
		{"manifest not JSON", func(d string) { edit(d, ManifestFile, func(s string) string { return s[:len(s)/2] }) }, "manifest.json is corrupt"},
		{"changed byte", func(d string) {
			edit(d, "backlogs/p/worker.jsonl", func(s string) string { return strings.Replace(s, "sensor-1", "sensor-2", 1) })
		}, "backlogs/p/worker.jsonl is corrupt: its SHA-256"},
		{"missing file", func(d string) { os.Remove(filepath.Join(d, "backlogs/p/audit.jsonl")) }, "backlogs/p/audit.jsonl: open"},
		{"bad record", func(d string) {
			edit(d, "backlogs/p/audit.jsonl", func(s string) string { return strings.Replace(s, `"messageId"`, `"messageIdd"`, 1) })
			resign(d, "backlogs/p/audit.jsonl")
		}, "backlogs/p/audit.jsonl:1: "},
		{"conflicting copies", func(d string) {
			edit(d, "backlogs/p/audit.jsonl", func(s string) string { return strings.Replace(s, `"i":"a"`, `"i":"z"`, 1) })
			resign(d, "backlogs/p/audit.jsonl")
		}, "differs from the one with its id in another backlog"},
		{"undeclared topic", func(d string) {
			edit(d, topicsFile, func(s string) string { return strings.Replace(s, `{"name":"projects/p/topics/dead"}`+"\n", "", 1) })
			resign(d, topicsFile)
		}, "topic projects/p/topics/dead is not in topics.jsonl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			c.change(dir)
			_, err := LoadPubSub(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	if _, err := LoadPubSub(good); err != nil {
		t.Fatalf("the unchanged export: %v", err)
	}
}

// An export over an earlier one replaces it entirely.
func TestExportReplacesAnEarlierExport(t *testing.T) {
	a := newPubSub(t)
	a.populate()
	dir := a.export(t.TempDir())
	_, err := a.sub.DeleteSubscription(context.Background(), &pb.DeleteSubscriptionRequest{Subscription: subB})
	a.must(err)
	a.export(dir)
	if _, err := os.Stat(filepath.Join(dir, "backlogs/p/audit.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the deleted subscription's backlog is still there: %v", err)
	}
	if _, err := LoadPubSub(dir); err != nil {
		t.Fatal(err)
	}
}

// Messages the fidelity layer parks beyond pstest's window (1,000 per
// subscription) are exported and imported too; real dead-letter policies
// (the layer hides them from pstest) are kept.
func TestPubSubRoundTripBeyondTheWindow(t *testing.T) {
	ctx := context.Background()
	a := newPubSub(t)
	a.populate()
	const n = 1500
	var msgs []*pb.PubsubMessage
	for i := range n {
		msgs = append(msgs, &pb.PubsubMessage{Data: []byte{byte(i), byte(i >> 8)}})
	}
	_, err := a.pub.Publish(ctx, &pb.PublishRequest{Topic: "projects/q/topics/things", Messages: msgs})
	a.must(err)
	dir := a.export(t.TempDir())
	data, err := os.ReadFile(filepath.Join(dir, "backlogs/q/other.jsonl"))
	a.must(err)
	if lines := strings.Count(string(data), "\n"); lines != n+1 {
		t.Errorf("backlog of other: %d lines, want %d", lines, n+1)
	}
	subs, _ := os.ReadFile(filepath.Join(dir, subscriptionsFile))
	if !strings.Contains(string(subs), `"maxDeliveryAttempts":7`) {
		t.Errorf("dead-letter policy not the real one:\n%s", subs)
	}

	st, err := LoadPubSub(dir)
	a.must(err)
	b := newPubSub(t)
	a.must(st.Apply(ctx, b.srv, nil))
	seen := map[string]bool{}
	for range 10 {
		resp, err := b.sub.Pull(ctx, &pb.PullRequest{Subscription: subQ, MaxMessages: 1000, ReturnImmediately: true})
		b.must(err)
		var acks []string
		for _, m := range resp.GetReceivedMessages() {
			seen[m.GetMessage().GetMessageId()] = true
			acks = append(acks, m.GetAckId())
		}
		if len(acks) > 0 {
			_, err = b.sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: subQ, AckIds: acks})
			b.must(err)
		}
	}
	if len(seen) != n+1 {
		t.Errorf("pulled %d distinct messages after import, want %d", len(seen), n+1)
	}
	got, err := b.sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: subA})
	b.must(err)
	if got.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != 7 {
		t.Errorf("dead-letter policy after import: %v", got.GetDeadLetterPolicy())
	}
}

// A subscription whose dead-letter topic was deleted (production allows
// that) is exported and imported with its policy; the topic stays deleted.
func TestPubSubRoundTripWithDeletedDeadLetterTopic(t *testing.T) {
	ctx := context.Background()
	a := newPubSub(t)
	for _, name := range []string{topicA, topicD} {
		_, err := a.pub.CreateTopic(ctx, &pb.Topic{Name: name})
		a.must(err)
	}
	policy := &pb.DeadLetterPolicy{DeadLetterTopic: topicD, MaxDeliveryAttempts: 7}
	_, err := a.sub.CreateSubscription(ctx, &pb.Subscription{Name: subA, Topic: topicA, DeadLetterPolicy: policy})
	a.must(err)
	_, err = a.pub.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: topicD})
	a.must(err)
	st, err := LoadPubSub(a.export(t.TempDir()))
	a.must(err)
	b := newPubSub(t)
	b.must(st.Apply(ctx, b.srv, nil))
	got, err := b.sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: subA})
	b.must(err)
	if p := got.GetDeadLetterPolicy(); p.GetDeadLetterTopic() != topicD || p.GetMaxDeliveryAttempts() != 7 {
		t.Errorf("dead-letter policy after import: %v", p)
	}
	if _, err := b.pub.GetTopic(ctx, &pb.GetTopicRequest{Topic: topicD}); status.Code(err) != codes.NotFound {
		t.Errorf("the deleted dead-letter topic after import: %v, want NotFound", err)
	}
}
