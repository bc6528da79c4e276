package pubsubfidelity

import (
	"context"
	"strings"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// validName reports whether name is "projects/{project}/{kind}/{id}" with
// an id as production requires: 3 to 255 characters, starting with a
// letter, of letters, digits and - _ . ~ + %, not starting with "goog".
// Like Google's Java emulator, the project part is not checked (production
// answers NOT_FOUND for a project that does not exist).
func validName(kind, name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != kind {
		return false
	}
	return validID(parts[3])
}

func validID(id string) bool {
	if len(id) < 3 || len(id) > 255 || strings.HasPrefix(id, "goog") {
		return false
	}
	for i, c := range id {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case letter:
		case i == 0:
			return false
		case c >= '0' && c <= '9', strings.ContainsRune("-_.~+%", c):
		default:
			return false
		}
	}
	return true
}

// checkName is validName as the API's error: INVALID_ARGUMENT with the Java
// emulator's (and production's) wording.
func checkName(kind, name string) error {
	if validName(kind, name) {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "Invalid [%s] name: (name=%s)", kind, name)
}

// checkNames checks (kind, name) pairs in order.
func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// requestNames are the (kind, name) pairs of the resource names req
// carries, for every request of the Publisher, Subscriber and SchemaService services
// (TestEveryMethodValidatesNames feeds each an invalid name). Kind
// "projects" is a parent: "projects/{project}".
func requestNames(req any) []string {
	switch r := req.(type) {
	case *pb.Topic: // CreateTopic
		return []string{"topics", r.GetName()}
	case *pb.UpdateTopicRequest:
		return []string{"topics", r.GetTopic().GetName()}
	case *pb.PublishRequest:
		return []string{"topics", r.GetTopic()}
	case *pb.GetTopicRequest:
		return []string{"topics", r.GetTopic()}
	case *pb.ListTopicsRequest:
		return []string{"projects", r.GetProject()}
	case *pb.ListTopicSubscriptionsRequest:
		return []string{"topics", r.GetTopic()}
	case *pb.ListTopicSnapshotsRequest:
		return []string{"topics", r.GetTopic()}
	case *pb.DeleteTopicRequest:
		return []string{"topics", r.GetTopic()}
	case *pb.DetachSubscriptionRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.Subscription: // CreateSubscription
		return []string{"subscriptions", r.GetName(), "topics", r.GetTopic()}
	case *pb.GetSubscriptionRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.UpdateSubscriptionRequest:
		return []string{"subscriptions", r.GetSubscription().GetName()}
	case *pb.ListSubscriptionsRequest:
		return []string{"projects", r.GetProject()}
	case *pb.DeleteSubscriptionRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.ModifyAckDeadlineRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.AcknowledgeRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.PullRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.StreamingPullRequest: // the stream's first request
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.ModifyPushConfigRequest:
		return []string{"subscriptions", r.GetSubscription()}
	case *pb.GetSnapshotRequest:
		return []string{"snapshots", r.GetSnapshot()}
	case *pb.ListSnapshotsRequest:
		return []string{"projects", r.GetProject()}
	case *pb.CreateSnapshotRequest:
		return []string{"snapshots", r.GetName(), "subscriptions", r.GetSubscription()}
	case *pb.UpdateSnapshotRequest:
		return []string{"snapshots", r.GetSnapshot().GetName()}
	case *pb.DeleteSnapshotRequest:
		return []string{"snapshots", r.GetSnapshot()}
	case *pb.SeekRequest:
		if s, ok := r.GetTarget().(*pb.SeekRequest_Snapshot); ok {
			return []string{"subscriptions", r.GetSubscription(), "snapshots", s.Snapshot}
		}
		return []string{"subscriptions", r.GetSubscription()}
	}
	return schemaRequestNames(req)
}

// schemaRequestNames are requestNames for the SchemaService's requests. A
// schema name may carry a revision ("projects/p/schemas/s@rev", as
// GetSchema and DeleteSchemaRevision take it): the id is checked without it.
func schemaRequestNames(req any) []string {
	type named interface{ GetName() string }
	type parented interface{ GetParent() string }
	switch r := req.(type) {
	case *pb.CreateSchemaRequest:
		return []string{"projects", r.GetParent(), "schemas", r.GetParent() + "/schemas/" + r.GetSchemaId()}
	case *pb.ValidateMessageRequest:
		if name, ok := r.GetSchemaSpec().(*pb.ValidateMessageRequest_Name); ok {
			return []string{"projects", r.GetParent(), "schemas", withoutRevision(name.Name)}
		}
		return []string{"projects", r.GetParent()}
	case *pb.ListSchemasRequest, *pb.ValidateSchemaRequest:
		return []string{"projects", r.(parented).GetParent()}
	case *pb.GetSchemaRequest, *pb.ListSchemaRevisionsRequest, *pb.CommitSchemaRequest,
		*pb.RollbackSchemaRequest, *pb.DeleteSchemaRevisionRequest, *pb.DeleteSchemaRequest:
		return []string{"schemas", withoutRevision(r.(named).GetName())}
	}
	return nil
}

func withoutRevision(name string) string {
	base, _, _ := strings.Cut(name, "@")
	return base
}

// checkProject checks a parent "projects/{project}" (the project id is not
// checked further, as production answers NOT_FOUND for a missing one). An
// empty parent lists every project, as pstest does: push delivery and the
// admin API rely on it.
func checkProject(name string) error {
	if p, ok := strings.CutPrefix(name, "projects/"); name == "" || ok && p != "" && !strings.Contains(p, "/") {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "Invalid [projects] name: (name=%s)", name)
}

// checkRequest checks every resource name req carries, before anything
// looks one up.
func checkRequest(req any) error {
	pairs := requestNames(req)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == "projects" {
			if err := checkProject(pairs[i+1]); err != nil {
				return err
			}
			continue
		}
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// CheckNames is a unary interceptor that refuses a request naming an
// invalid resource before any other interceptor or handler looks the name
// up (the schema checks run before the Layer's Unary, which serves Publish
// itself, and would answer NOT_FOUND for a missing schema first).
func CheckNames(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// Stream is the layer's stream interceptor: the first request of a
// StreamingPull is checked as Unary checks requests, so an invalid
// subscription name is INVALID_ARGUMENT, not NOT_FOUND.
func (l *Layer) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &checkedStream{ServerStream: ss})
}

type checkedStream struct {
	grpc.ServerStream
	first bool // the first request was received
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil || s.first {
		return err
	}
	s.first = true
	return checkRequest(m)
}
