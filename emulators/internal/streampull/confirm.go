package streampull

import (
	"strings"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/exactlyonce"
)

// On an exactly-once subscription production answers the acks and modacks
// sent on a stream with an AcknowledgeConfirmation or a
// ModifyAckDeadlineConfirmation in a later response: which ack ids took
// effect, which were invalid (superseded, expired, already acknowledged)
// and which failed for now (to retry). These build them from the per ack
// id results of the unary call the stream made (internal/exactlyonce).

// confirmAcks queues the confirmation of the acks ids (err: the call's).
func (st *stream) confirmAcks(ids []string, err error) {
	ok, invalid, temporary, confirm := st.sort(ids, err)
	if !confirm {
		return
	}
	st.queue(&pb.StreamingPullResponse{AcknowledgeConfirmation: &pb.StreamingPullResponse_AcknowledgeConfirmation{
		AckIds: ok, InvalidAckIds: invalid, TemporaryFailedAckIds: temporary,
	}})
}

// confirmModacks queues the confirmation of the modacks of ids.
func (st *stream) confirmModacks(ids []string, err error) {
	ok, invalid, temporary, confirm := st.sort(ids, err)
	if !confirm {
		return
	}
	st.queue(&pb.StreamingPullResponse{ModifyAckDeadlineConfirmation: &pb.StreamingPullResponse_ModifyAckDeadlineConfirmation{
		AckIds: ok, InvalidAckIds: invalid, TemporaryFailedAckIds: temporary,
	}})
}

// sort splits ids by their result; confirm is false when the stream's
// subscription is not exactly-once or the call failed as a whole.
func (st *stream) sort(ids []string, err error) (ok, invalid, temporary []string, confirm bool) {
	if !st.props.GetExactlyOnceDeliveryEnabled() {
		return nil, nil, nil, false
	}
	results := exactlyonce.Results(err)
	if err != nil && results == nil {
		return nil, nil, nil, false
	}
	for _, id := range ids {
		switch r, failed := results[id]; {
		case !failed:
			ok = append(ok, id)
		case strings.HasPrefix(r, "TRANSIENT_"):
			temporary = append(temporary, id)
		default:
			invalid = append(invalid, id)
		}
	}
	return ok, invalid, temporary, true
}

func (st *stream) queue(resp *pb.StreamingPullResponse) {
	st.mu.Lock()
	st.confirmations = append(st.confirmations, resp)
	st.mu.Unlock()
	st.signal()
}

// takeConfirmations returns the queued confirmations, emptying the queue.
func (st *stream) takeConfirmations() []*pb.StreamingPullResponse {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.confirmations
	st.confirmations = nil
	return out
}
