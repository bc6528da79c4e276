package pubsubserver

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/etl-pipeline/emulators/internal/push"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

var chaosDuration = flag.Duration("chaos.duration", 2*time.Second, "how long TestRandomRPCsKeepTheEmulatorServing runs")

// chaos drives random admin and data RPCs, with odd field values, at one
// server, over a small pool of names so that calls collide. A recovered
// panic shows as codes.Internal, which fails the test; a panic on one of
// pstest's or our background goroutines ends the test binary.
type chaos struct {
	pub      pb.PublisherClient
	sub      pb.SubscriberClient
	endpoint string

	testserver.Tally

	mu     sync.Mutex
	ackIDs []string
}

func newChaos(conn grpc.ClientConnInterface, endpoint string) *chaos {
	return &chaos{pub: pb.NewPublisherClient(conn), sub: pb.NewSubscriberClient(conn), endpoint: endpoint}
}

const chaosProject = "projects/chaos"

// names are valid and invalid alike, a few of each.
func pick(r *rand.Rand, kind string, n int) string {
	switch r.IntN(12) {
	case 0:
		return chaosProject + "/" + kind + "/x" // too short
	case 1:
		return ""
	case 2:
		return chaosProject + "/" + kind + "/goog" + kind
	default:
		return fmt.Sprintf("%s/%s/%s-%d", chaosProject, kind, kind[:3], r.IntN(n))
	}
}

func (c *chaos) someAckIDs(r *rand.Rand) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for range r.IntN(4) {
		switch {
		case len(c.ackIDs) > 0 && r.IntN(4) > 0:
			out = append(out, c.ackIDs[r.IntN(len(c.ackIDs))])
		case r.IntN(2) == 0:
			out = append(out, "")
		default:
			out = append(out, fmt.Sprintf("%d:%d", r.IntN(50), r.IntN(5)))
		}
	}
	return out
}

func odd[T any](r *rand.Rand, vals ...T) T { return vals[r.IntN(len(vals))] }

// step performs one random call.
func (c *chaos) step(ctx context.Context, r *rand.Rand) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	topic, sub, snap := pick(r, "topics", 3), pick(r, "subscriptions", 5), pick(r, "snapshots", 3)
	var err error
	op := ""
	switch r.IntN(18) {
	case 0:
		op = "CreateTopic"
		t := &pb.Topic{Name: topic}
		if r.IntN(3) == 0 {
			t.MessageRetentionDuration = durationpb.New(odd(r, 0, time.Minute, 10*time.Minute, time.Hour, 40*24*time.Hour))
		}
		_, err = c.pub.CreateTopic(ctx, t)
	case 1:
		if r.IntN(2) == 0 {
			op = "DeleteTopic"
			_, err = c.pub.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: topic})
			break
		}
		op = "UpdateTopic"
		var mask *fieldmaskpb.FieldMask
		if r.IntN(4) > 0 {
			mask = &fieldmaskpb.FieldMask{Paths: []string{odd(r, "labels", "message_retention_duration", "schema_settings.schema", "schema_settings", "bogus")}}
		}
		_, err = c.pub.UpdateTopic(ctx, &pb.UpdateTopicRequest{Topic: odd(r, nil, &pb.Topic{Name: topic}, &pb.Topic{Name: topic, MessageRetentionDuration: durationpb.New(time.Hour)}), UpdateMask: mask})
	case 2, 3:
		op = "CreateSubscription"
		s := &pb.Subscription{
			Name: sub, Topic: topic, AckDeadlineSeconds: odd[int32](r, 0, 1, 10, 600, 601, -3),
			RetainAckedMessages: r.IntN(2) == 0, EnableMessageOrdering: r.IntN(3) == 0,
		}
		if r.IntN(3) == 0 {
			s.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: pick(r, "topics", 3), MaxDeliveryAttempts: odd[int32](r, 0, 1, 5, 6, 101)}
		}
		if r.IntN(4) == 0 {
			s.MessageRetentionDuration = durationpb.New(odd(r, time.Second, 10*time.Minute, 8*24*time.Hour))
		}
		if r.IntN(5) == 0 {
			s.Filter = odd(r, `attributes.k = "v"`, `hasPrefix(attributes.k, "`, "")
		}
		if r.IntN(5) == 0 {
			s.PushConfig = &pb.PushConfig{PushEndpoint: c.endpoint}
		}
		_, err = c.sub.CreateSubscription(ctx, s)
	case 4:
		op = "DeleteSubscription"
		_, err = c.sub.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: sub})
	case 5, 6, 7:
		op = "Publish"
		var msgs []*pb.PubsubMessage
		for range r.IntN(5) {
			m := &pb.PubsubMessage{}
			if r.IntN(5) > 0 {
				m.Data = []byte(strings.Repeat("d", r.IntN(300)))
			}
			if r.IntN(3) == 0 {
				m.Attributes = map[string]string{"k": odd(r, "v", "w", "")}
			}
			if r.IntN(4) == 0 {
				m.OrderingKey = odd(r, "a", "b")
			}
			msgs = append(msgs, m)
		}
		_, err = c.pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: msgs})
	case 8, 9:
		op = "Pull"
		var resp *pb.PullResponse
		resp, err = c.sub.Pull(ctx, &pb.PullRequest{Subscription: sub, MaxMessages: odd[int32](r, 0, 1, 10, -1), ReturnImmediately: true})
		c.mu.Lock()
		for _, m := range resp.GetReceivedMessages() {
			c.ackIDs = append(c.ackIDs, m.GetAckId())
		}
		if len(c.ackIDs) > 200 {
			c.ackIDs = c.ackIDs[100:]
		}
		c.mu.Unlock()
	case 10:
		op = "Acknowledge"
		_, err = c.sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: sub, AckIds: c.someAckIDs(r)})
	case 11:
		op = "ModifyAckDeadline"
		_, err = c.sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: c.someAckIDs(r), AckDeadlineSeconds: odd[int32](r, 0, 0, 1, 60, 601, -1)})
	case 12:
		op = "Seek"
		req := &pb.SeekRequest{Subscription: sub}
		switch r.IntN(4) {
		case 0:
			req.Target = &pb.SeekRequest_Time{Time: timestamppb.New(time.Now().Add(odd(r, -time.Hour, -time.Second, 0, time.Hour)))}
		case 1:
			req.Target = &pb.SeekRequest_Time{Time: &timestamppb.Timestamp{Seconds: odd[int64](r, 0, -1, 1<<40)}}
		case 2:
			req.Target = &pb.SeekRequest_Snapshot{Snapshot: snap}
		}
		_, err = c.sub.Seek(ctx, req)
	case 13:
		op = "CreateSnapshot"
		_, err = c.sub.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Name: snap, Subscription: sub})
	case 14:
		op = "DeleteSnapshot/Get/List"
		switch r.IntN(3) {
		case 0:
			_, err = c.sub.DeleteSnapshot(ctx, &pb.DeleteSnapshotRequest{Snapshot: snap})
		case 1:
			_, err = c.sub.GetSnapshot(ctx, &pb.GetSnapshotRequest{Snapshot: snap})
		default:
			_, err = c.sub.ListSnapshots(ctx, &pb.ListSnapshotsRequest{Project: odd(r, chaosProject, "", "projects"), PageSize: odd[int32](r, 0, 1, -1), PageToken: odd(r, "", "1", "x", "-1")})
		}
	case 15:
		op = "DetachSubscription"
		_, err = c.pub.DetachSubscription(ctx, &pb.DetachSubscriptionRequest{Subscription: sub})
	case 16:
		op = "UpdateSubscription"
		paths := []string{odd(r, "ack_deadline_seconds", "dead_letter_policy", "retain_acked_messages", "push_config", "filter", "nonsense", "message_retention_duration")}
		s := &pb.Subscription{Name: sub, AckDeadlineSeconds: odd[int32](r, 0, 20, 700), RetainAckedMessages: true,
			MessageRetentionDuration: durationpb.New(odd(r, time.Second, 20*time.Minute))}
		if r.IntN(2) == 0 {
			s.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: pick(r, "topics", 3), MaxDeliveryAttempts: odd[int32](r, 0, 5, 200)}
		}
		if r.IntN(2) == 0 {
			s.PushConfig = &pb.PushConfig{PushEndpoint: c.endpoint}
		}
		var mask *fieldmaskpb.FieldMask
		if r.IntN(5) > 0 {
			mask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		_, err = c.sub.UpdateSubscription(ctx, &pb.UpdateSubscriptionRequest{Subscription: s, UpdateMask: mask})
	case 17:
		op = "Get/List"
		switch r.IntN(4) {
		case 0:
			_, err = c.sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: sub})
		case 1:
			_, err = c.pub.ListTopicSubscriptions(ctx, &pb.ListTopicSubscriptionsRequest{Topic: topic})
		case 2:
			_, err = c.sub.ListSubscriptions(ctx, &pb.ListSubscriptionsRequest{Project: chaosProject})
		default:
			_, err = c.sub.ModifyPushConfig(ctx, &pb.ModifyPushConfigRequest{Subscription: sub, PushConfig: odd(r, nil, &pb.PushConfig{PushEndpoint: c.endpoint})})
		}
	}
	c.Record(op, err)
}

// alive fails unless the server answers an ordinary call.
func (c *chaos) alive(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.pub.ListTopics(ctx, &pb.ListTopicsRequest{Project: chaosProject}); err != nil {
		t.Fatalf("the emulator stopped answering: %v", err)
	}
	if internal := c.Internal(); len(internal) > 0 {
		t.Fatalf("%d calls failed with INTERNAL (a recovered panic), first: %s", len(internal), internal[0])
	}
}

// flaky is a push endpoint that fails a third of the time.
func flaky(t testing.TB) string {
	var n sync.Mutex
	i := 0
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Lock()
		i++
		fail := i%3 == 0
		n.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(ep.Close)
	return ep.URL + "/push"
}

func chaosServer(t testing.TB) *Server {
	srv, err := Start("127.0.0.1:0", push.Config{PollInterval: 5 * time.Millisecond, ResyncInterval: 50 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestRandomRPCsKeepTheEmulatorServing runs four concurrent random drivers
// for -chaos.duration (2 s by default), against our server or, by hand,
// the one at $CHAOS_PUBSUB_TARGET.
func TestRandomRPCsKeepTheEmulatorServing(t *testing.T) {
	var conn grpc.ClientConnInterface
	if target := os.Getenv("CHAOS_PUBSUB_TARGET"); target != "" {
		// By hand, against another emulator (e.g. Google's Java one).
		conn = testserver.Dial(t, target)
	} else {
		conn = chaosServer(t).Conn()
	}
	c := newChaos(conn, flaky(t))
	ctx := context.Background()
	testserver.Hammer(*chaosDuration, 4, func(r *rand.Rand) { c.step(ctx, r) })
	time.Sleep(50 * time.Millisecond) // let background delivery run over what is left
	c.alive(t)
	total := 0
	calls := c.Calls()
	for _, n := range calls {
		total += n
	}
	if total < 100 {
		t.Fatalf("only %d calls made", total)
	}
	t.Logf("%d calls: %v", total, calls)
}

// FuzzRandomRPCs runs one random sequence per input (a seed and a length);
// `go test` runs the seed corpus only, `-fuzz FuzzRandomRPCs` explores.
func FuzzRandomRPCs(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed, uint8(60))
	}
	srv := chaosServer(f)
	c := newChaos(srv.Conn(), flaky(f))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		r := rand.New(rand.NewPCG(seed, 16))
		for range int(n) {
			c.step(context.Background(), r)
		}
		c.alive(t)
	})
}
