// Package exactlyonce gives subscriptions with enable_exactly_once_delivery
// production's acknowledgement contract (pstest stores the flag and
// ignores it):
//
//   - an ack or modack is accepted only for the current delivery of a
//     message that is still leased: an ack id that was superseded by a
//     redelivery, whose lease expired, that was nacked, or whose message was
//     already acknowledged is refused, so an acknowledged message is never
//     delivered again and a late ack is never silently accepted;
//   - refusals are reported per ack id, as production does: the call fails
//     with INVALID_ARGUMENT and a google.rpc.ErrorInfo (reason
//     EXACTLY_ONCE_ACKID_FAILURE, domain pubsub.googleapis.com) whose
//     metadata maps each failed ack id to PERMANENT_FAILURE_INVALID_ACK_ID
//     or TRANSIENT_FAILURE_OTHER (what the Python, Go and Java clients'
//     ack_with_response / AckWithResult futures read); the ids not named
//     are acknowledged (or modacked) all the same;
//   - a transient failure is injected, when the subscription's faults ask
//     for it (internal/faults transient_ack_failure), before anything is
//     changed: the message stays leased and a retry of the same ack id
//     succeeds.
//
// Subscriptions without the flag, and push subscriptions (at-least-once in
// production whatever the flag), pass through unchanged (at-least-once,
// acks best effort, as in production).
package exactlyonce

import (
	"context"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// Per ack id results, as production writes them in ErrorInfo.metadata.
const (
	InvalidAckID = "PERMANENT_FAILURE_INVALID_ACK_ID"
	Transient    = "TRANSIENT_FAILURE_OTHER"
	// Reason and Domain of the ErrorInfo of a failed Acknowledge or
	// ModifyAckDeadline on an exactly-once subscription.
	Reason = "EXACTLY_ONCE_ACKID_FAILURE"
	Domain = "pubsub.googleapis.com"
)

// failedMessage is production's status message for such a failure.
const failedMessage = "Some acknowledgement ids in the request were invalid. This could be because the acknowledgement ids have expired or the acknowledgement ids were malformed."

// Subscriber is a Subscriber service whose Acknowledge and
// ModifyAckDeadline follow the exactly-once contract on subscriptions that
// enable it.
type Subscriber struct {
	pb.SubscriberServer
	srv *pstestx.Server
	reg *faults.Registry // transient failures to inject; may be nil
}

// Wrap returns inner (pstest's subscriber, possibly with faults) with the
// contract applied; srv is pstest's state behind it.
func Wrap(inner pb.SubscriberServer, srv *pstestx.Server, reg *faults.Registry) *Subscriber {
	return &Subscriber{SubscriberServer: inner, srv: srv, reg: reg}
}

type serverSideKey struct{}

// ServerSide marks ctx as the emulator's own: the leases streaming pull
// sets on what it sends or holds back, and its nacks of what a closed
// stream never sent, are not a client's acks and are never refused.
func ServerSide(ctx context.Context) context.Context {
	return context.WithValue(ctx, serverSideKey{}, true)
}

func serverSide(ctx context.Context) bool { return ctx.Value(serverSideKey{}) != nil }

// Acknowledge acknowledges the ack ids that are current, and reports the
// others per ack id.
func (s *Subscriber) Acknowledge(ctx context.Context, req *pb.AcknowledgeRequest) (*emptypb.Empty, error) {
	ok, failed, eod := s.check(req.GetSubscription(), req.GetAckIds())
	if !eod {
		return s.SubscriberServer.Acknowledge(ctx, req)
	}
	if len(ok) > 0 {
		if _, err := s.SubscriberServer.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: req.GetSubscription(), AckIds: ok}); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, Failure(failed)
}

// ModifyAckDeadline modifies (or, at 0 s, nacks) the current ack ids and
// reports the others per ack id.
func (s *Subscriber) ModifyAckDeadline(ctx context.Context, req *pb.ModifyAckDeadlineRequest) (*emptypb.Empty, error) {
	if serverSide(ctx) {
		return s.SubscriberServer.ModifyAckDeadline(ctx, req)
	}
	ok, failed, eod := s.check(req.GetSubscription(), req.GetAckIds())
	if !eod {
		return s.SubscriberServer.ModifyAckDeadline(ctx, req)
	}
	if len(ok) > 0 {
		if _, err := s.SubscriberServer.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{
			Subscription: req.GetSubscription(), AckIds: ok, AckDeadlineSeconds: req.GetAckDeadlineSeconds(),
		}); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, Failure(failed)
}

// check sorts ackIDs of subscription name into those to pass on and those
// that fail (with their result); eod is false when the subscription does
// not exist or does not enable exactly-once delivery.
func (s *Subscriber) check(name string, ackIDs []string) (ok []string, failed map[string]string, eod bool) {
	unlock := s.srv.Lock()
	sub := s.srv.Subscription(name)
	// Push is at-least-once in production whatever the flag says.
	if sub == nil || !sub.Proto().GetEnableExactlyOnceDelivery() || sub.Proto().GetPushConfig().GetPushEndpoint() != "" {
		unlock()
		return nil, nil, false
	}
	now := time.Now()
	failed = map[string]string{}
	for _, id := range ackIDs {
		if !current(sub, id, now) {
			failed[id] = InvalidAckID
		}
	}
	unlock()
	for _, id := range ackIDs {
		if _, bad := failed[id]; bad {
			continue
		}
		if s.reg.TransientAckFailure(name, id) {
			failed[id] = Transient
			continue
		}
		ok = append(ok, id)
	}
	return ok, failed, true
}

// current reports whether ackID (possibly marked by a fault) is the
// current delivery of a message of sub whose lease has not run out.
// pstest's ack ids are "<message id>:<delivery count>".
func current(sub *pstestx.Subscription, ackID string, now time.Time) bool {
	pstestID := faults.Original(ackID)
	i := strings.LastIndexByte(pstestID, ':')
	if i < 0 {
		return false
	}
	m := sub.Message(pstestID[:i])
	if m == nil || m.Proto().GetAckId() != pstestID {
		return false
	}
	deadline := m.AckDeadline()
	return !deadline.IsZero() && now.Before(deadline)
}

// Failure is the error of a call whose ack ids in failed failed (nil if
// none): INVALID_ARGUMENT with production's ErrorInfo.
func Failure(failed map[string]string) error {
	if len(failed) == 0 {
		return nil
	}
	st, err := status.New(codes.InvalidArgument, failedMessage).WithDetails(&errdetails.ErrorInfo{
		Reason: Reason, Domain: Domain, Metadata: failed,
	})
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return st.Err()
}

// Results reads the per ack id results of err (from Failure); nil if err
// carries none.
func Results(err error) map[string]string {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == Reason {
			return info.GetMetadata()
		}
	}
	return nil
}

// Settled are the ack ids of a call that took effect: all of ackIDs if err
// is nil, those err does not name if it carries per ack id results, none
// otherwise.
func Settled(ackIDs []string, err error) []string {
	if err == nil {
		return ackIDs
	}
	results := Results(err)
	if results == nil {
		return nil
	}
	var out []string
	for _, id := range ackIDs {
		if _, failed := results[id]; !failed {
			out = append(out, id)
		}
	}
	return out
}
