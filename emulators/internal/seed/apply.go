package seed

import (
	"context"
	"fmt"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ApplyPubSub creates every stage's schemas, then its topics, then its
// subscriptions, in project. Resources that exist already are left as they
// are.
func (s *Seed) ApplyPubSub(ctx context.Context, conn grpc.ClientConnInterface, project string) error {
	pub, sub, schemas := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn), pb.NewSchemaServiceClient(conn)
	for _, stage := range s.Stages {
		r := s.Resources(stage, project)
		for _, sc := range r.Schemas {
			_, err := schemas.CreateSchema(ctx, schemaRequest(project, sc))
			if err := created(err); err != nil {
				return fmt.Errorf("seed: schema %s: %w", sc.Name, err)
			}
		}
		for _, t := range r.Topics {
			_, err := pub.CreateTopic(ctx, topicProto(project, t, r.TopicSchemas))
			if err := created(err); err != nil {
				return fmt.Errorf("seed: topic %s: %w", t, err)
			}
		}
		for _, x := range r.Subscriptions {
			_, err := sub.CreateSubscription(ctx, subscriptionProto(project, x))
			if err := created(err); err != nil {
				return fmt.Errorf("seed: subscription %s: %w", x.Name, err)
			}
		}
	}
	return nil
}

// ApplyBigtable creates every stage's tables in the seed's instance of
// project. Tables that exist already are left as they are.
func (s *Seed) ApplyBigtable(ctx context.Context, conn grpc.ClientConnInterface, project string) error {
	admin := btapb.NewBigtableTableAdminClient(conn)
	parent := fmt.Sprintf("projects/%s/instances/%s", project, s.Instance)
	for _, stage := range s.Stages {
		for _, t := range s.Resources(stage, project).Tables {
			_, err := admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: parent, TableId: t.Name, Table: tableProto(t)})
			if err := created(err); err != nil {
				return fmt.Errorf("seed: table %s: %w", t.Name, err)
			}
		}
	}
	return nil
}

// created treats AlreadyExists as success: seeding is idempotent.
func created(err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}
