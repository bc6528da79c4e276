package exactlyonce_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/exactlyonce"
	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pubsubserver"
	"github.com/etl-pipeline/emulators/internal/push"
)

// env is a whole emulator with one topic and a subscription on it.
type env struct {
	t   *testing.T
	srv *pubsubserver.Server
	pub pb.PublisherClient
	sub pb.SubscriberClient
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := pubsubserver.Start("127.0.0.1:0", push.Config{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, pub: pb.NewPublisherClient(srv.Conn()), sub: pb.NewSubscriberClient(srv.Conn()), ctx: context.Background()}
}

// subscription creates topic t-NAME and subscription NAME (exactly-once if
// eod) and publishes n messages to it.
func (e *env) subscription(name string, eod bool, n int) string {
	e.t.Helper()
	topic, sub := "projects/p/topics/t-"+name, "projects/p/subscriptions/"+name
	e.must(e.pub.CreateTopic(e.ctx, &pb.Topic{Name: topic}))
	e.must(e.sub.CreateSubscription(e.ctx, &pb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60, EnableExactlyOnceDelivery: eod}))
	for range n {
		e.must(e.pub.Publish(e.ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte("x")}}}))
	}
	return sub
}

func (e *env) must(_ any, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pull(sub string) []string {
	e.t.Helper()
	resp, err := e.sub.Pull(e.ctx, &pb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, m := range resp.GetReceivedMessages() {
		ids = append(ids, m.GetAckId())
	}
	return ids
}

func (e *env) ack(sub string, ids ...string) map[string]string {
	e.t.Helper()
	_, err := e.sub.Acknowledge(e.ctx, &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids})
	return e.results(err)
}

func (e *env) modack(sub string, secs int32, ids ...string) map[string]string {
	e.t.Helper()
	_, err := e.sub.ModifyAckDeadline(e.ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ids, AckDeadlineSeconds: secs})
	return e.results(err)
}

// results are the per ack id failures of err; it fails the test if err is
// not nil and not production's exactly-once failure.
func (e *env) results(err error) map[string]string {
	e.t.Helper()
	if err == nil {
		return map[string]string{}
	}
	r := exactlyonce.Results(err)
	if status.Code(err) != codes.InvalidArgument || r == nil {
		e.t.Fatalf("error %v is not an exactly-once failure", err)
	}
	return r
}

func want(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: results %v, want %v", what, got, want)
	}
}

// pulledOnce is a new exactly-once subscription `name` holding one message,
// and the ack id of that message's first delivery.
func pulledOnce(t *testing.T, name string) (e *env, sub string, ids []string) {
	t.Helper()
	e = newEnv(t)
	sub = e.subscription(name, true, 1)
	if ids = e.pull(sub); len(ids) != 1 {
		t.Fatalf("pulled %v, want one ack id", ids)
	}
	return e, sub, ids
}

func TestAcknowledgedMessageIsNeverRedeliveredAndItsAckIdIsRefusedAfter(t *testing.T) {
	e, sub, ids := pulledOnce(t, "acked")
	want(t, "first ack", e.ack(sub, ids[0]), map[string]string{})
	want(t, "second ack", e.ack(sub, ids[0]), map[string]string{ids[0]: exactlyonce.InvalidAckID})
	want(t, "modack after ack", e.modack(sub, 30, ids[0]), map[string]string{ids[0]: exactlyonce.InvalidAckID})
	_, err := e.sub.ModifyAckDeadline(e.ctx, &pb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ids, AckDeadlineSeconds: 0})
	want(t, "nack after ack", e.results(err), map[string]string{ids[0]: exactlyonce.InvalidAckID})
	if again := e.pull(sub); len(again) != 0 {
		t.Errorf("acknowledged message delivered again: %v", again)
	}
}

func TestSupersededAckIdIsRefusedAndTheCurrentOneAccepted(t *testing.T) {
	e, sub, first := pulledOnce(t, "stale")
	want(t, "nack", e.modack(sub, 0, first...), map[string]string{})
	second := e.pull(sub)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("redelivery %v after %v", second, first)
	}
	want(t, "stale and current together", e.ack(sub, first[0], second[0]), map[string]string{first[0]: exactlyonce.InvalidAckID})
	if again := e.pull(sub); len(again) != 0 {
		t.Errorf("the current ack id of a mixed request was not acknowledged: %v redelivered", again)
	}
}

func TestExpiredAckIdIsRefused(t *testing.T) {
	e, sub, ids := pulledOnce(t, "expired")
	want(t, "modack to 1 s", e.modack(sub, 1, ids...), map[string]string{})
	time.Sleep(1100 * time.Millisecond)
	want(t, "ack after the lease", e.ack(sub, ids...), map[string]string{ids[0]: exactlyonce.InvalidAckID})
	if again := e.pull(sub); len(again) != 1 {
		t.Errorf("the message whose ack was refused is not delivered again: %v", again)
	}
}

func TestMalformedAckIdIsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("malformed", true, 0)
	want(t, "ack", e.ack(sub, "not-an-ack-id"), map[string]string{"not-an-ack-id": exactlyonce.InvalidAckID})
}

func TestAtLeastOnceSubscriptionsKeepBestEffortAcks(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("plain", false, 1)
	ids := e.pull(sub)
	want(t, "ack", e.ack(sub, ids...), map[string]string{})
	want(t, "ack again", e.ack(sub, ids...), map[string]string{})
}

func TestInjectedTransientFailureLeavesTheMessageLeasedAndTheRetrySucceeds(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("transient", true, 3)
	e.srv.Faults().Set(sub, faults.Config{TransientAckFailure: 1, Seed: 1})
	ids := e.pull(sub)
	if len(ids) != 3 {
		t.Fatalf("pulled %v", ids)
	}
	all := map[string]string{}
	for _, id := range ids {
		all[id] = exactlyonce.Transient
	}
	want(t, "first ack", e.ack(sub, ids...), all)
	if again := e.pull(sub); len(again) != 0 {
		t.Errorf("messages whose ack failed transiently were redelivered while leased: %v", again)
	}
	want(t, "retry", e.ack(sub, ids...), map[string]string{})
	if again := e.pull(sub); len(again) != 0 {
		t.Errorf("acknowledged on retry, delivered again: %v", again)
	}
	if st, _ := e.srv.Faults().Get(sub); st.Fired.TransientAckFailure != 3 {
		t.Errorf("transient_ack_failure fired %d times, want 3", st.Fired.TransientAckFailure)
	}
}

func TestStreamConfirmsAcksAndModacksPerAckId(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("stream", true, 2)
	stream, err := e.sub.StreamingPull(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend() //nolint:errcheck
	if err := stream.Send(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for len(ids) < 2 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetSubscriptionProperties().GetExactlyOnceDeliveryEnabled() && len(resp.GetReceivedMessages()) > 0 {
			t.Error("subscription_properties do not say exactly-once")
		}
		for _, m := range resp.GetReceivedMessages() {
			ids = append(ids, m.GetAckId())
		}
	}
	slices.Sort(ids)
	must(t, stream.Send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{ids[0], "bogus"}, ModifyDeadlineSeconds: []int32{30, 30}}))
	modack := recvUntil(t, stream, func(r *pb.StreamingPullResponse) bool { return r.GetModifyAckDeadlineConfirmation() != nil }).GetModifyAckDeadlineConfirmation()
	if !slices.Equal(modack.GetAckIds(), ids[:1]) || !slices.Equal(modack.GetInvalidAckIds(), []string{"bogus"}) {
		t.Errorf("modack confirmation %v", modack)
	}
	must(t, stream.Send(&pb.StreamingPullRequest{AckIds: ids}))
	ack := recvUntil(t, stream, func(r *pb.StreamingPullResponse) bool { return r.GetAcknowledgeConfirmation() != nil }).GetAcknowledgeConfirmation()
	if got := slices.Sorted(slices.Values(ack.GetAckIds())); !slices.Equal(got, ids) || len(ack.GetInvalidAckIds()) != 0 {
		t.Errorf("ack confirmation %v", ack)
	}
	must(t, stream.Send(&pb.StreamingPullRequest{AckIds: ids[:1]}))
	again := recvUntil(t, stream, func(r *pb.StreamingPullResponse) bool { return r.GetAcknowledgeConfirmation() != nil }).GetAcknowledgeConfirmation()
	if !slices.Equal(again.GetInvalidAckIds(), ids[:1]) || len(again.GetAckIds()) != 0 {
		t.Errorf("confirmation of an ack of an acknowledged message: %v", again)
	}
}

func recvUntil(t *testing.T, stream pb.Subscriber_StreamingPullClient, ok func(*pb.StreamingPullResponse) bool) *pb.StreamingPullResponse {
	t.Helper()
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ok(resp) {
			return resp
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A stream leases what it sends with a modack of its own: an injected
// transient failure is for a client's acks, so it must not end the stream.
func TestInjectedTransientFailuresLeaveTheStreamsOwnLeasesAlone(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("stream-transient", true, 3)
	e.srv.Faults().Set(sub, faults.Config{TransientAckFailure: 1, Seed: 1})
	stream, err := e.sub.StreamingPull(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend() //nolint:errcheck
	must(t, stream.Send(&pb.StreamingPullRequest{Subscription: sub, StreamAckDeadlineSeconds: 60}))
	var ids []string
	for len(ids) < 3 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("stream ended after %d messages: %v", len(ids), err)
		}
		for _, m := range resp.GetReceivedMessages() {
			ids = append(ids, m.GetAckId())
		}
	}
	slices.Sort(ids)
	must(t, stream.Send(&pb.StreamingPullRequest{AckIds: ids}))
	first := recvUntil(t, stream, func(r *pb.StreamingPullResponse) bool { return r.GetAcknowledgeConfirmation() != nil }).GetAcknowledgeConfirmation()
	if got := slices.Sorted(slices.Values(first.GetTemporaryFailedAckIds())); !slices.Equal(got, ids) {
		t.Errorf("first ack: temporary failures %v, want %v", got, ids)
	}
	must(t, stream.Send(&pb.StreamingPullRequest{AckIds: ids}))
	retry := recvUntil(t, stream, func(r *pb.StreamingPullResponse) bool { return r.GetAcknowledgeConfirmation() != nil }).GetAcknowledgeConfirmation()
	if got := slices.Sorted(slices.Values(retry.GetAckIds())); !slices.Equal(got, ids) {
		t.Errorf("retry: acknowledged %v, want %v", got, ids)
	}
}
