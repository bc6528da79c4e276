package pubsubserver

import (
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/pubsubfidelity"
)

// Backlogs are every subscription's unacknowledged messages and the last
// message id given (internal/state's export).
func (s *Server) Backlogs() (map[string][]*pb.PubsubMessage, int64) { return s.fidelity.Backlogs() }

// Restore puts exported messages back (internal/state's import).
func (s *Server) Restore(msgs []pubsubfidelity.Restored, lastID int64) error {
	return s.fidelity.Restore(msgs, lastID)
}
