package seed

import (
	"context"
	"strings"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	"cloud.google.com/go/bigtable/bttest"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

func parseValid(t *testing.T) *Seed {
	t.Helper()
	s := mustParse(t, valid, "etl.toml")
	return s
}

func TestApplyPubSubCreatesEveryStageAndIsIdempotent(t *testing.T) {
	fake := pstest.NewServer()
	t.Cleanup(func() { fake.Close() })
	s := mustParse(t, strings.Replace(valid, "ordering = true", "ordering = true\nexactly_once = true", 1), "etl.toml")
	conn, ctx := testserver.Dial(t, fake.Addr), context.Background()
	for range 2 {
		if err := s.ApplyPubSub(ctx, conn, "proj"); err != nil {
			t.Fatal(err)
		}
	}
	sub := pb.NewSubscriberClient(conn)
	cases := []struct {
		name string
		want *pb.Subscription
	}{
		{"sub-dev", &pb.Subscription{
			Topic: "projects/proj/topics/events-dev", AckDeadlineSeconds: 30, EnableMessageOrdering: true, EnableExactlyOnceDelivery: true,
			DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: "projects/proj/topics/dead-dev", MaxDeliveryAttempts: 7},
			RetryPolicy:      &pb.RetryPolicy{MinimumBackoff: durationpb.New(500 * time.Millisecond), MaximumBackoff: durationpb.New(20 * time.Second)},
		}},
		{"hook-test", &pb.Subscription{
			Topic: "projects/proj/topics/events-test", AckDeadlineSeconds: 60,
			PushConfig: &pb.PushConfig{PushEndpoint: "http://localhost:9000/proj/test", AuthenticationMethod: &pb.PushConfig_OidcToken_{
				OidcToken: &pb.PushConfig_OidcToken{ServiceAccountEmail: "pusher@proj.iam.gserviceaccount.com", Audience: "https://hook-test"},
			}},
		}},
	}
	for _, c := range cases {
		got, err := sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: "projects/proj/subscriptions/" + c.name})
		if err != nil {
			t.Fatal(err)
		}
		trimmed := &pb.Subscription{
			Topic: got.Topic, AckDeadlineSeconds: got.AckDeadlineSeconds, EnableMessageOrdering: got.EnableMessageOrdering,
			EnableExactlyOnceDelivery: got.EnableExactlyOnceDelivery, DeadLetterPolicy: got.DeadLetterPolicy, RetryPolicy: got.RetryPolicy,
		}
		if ep := got.GetPushConfig().GetPushEndpoint(); ep != "" {
			trimmed.PushConfig = &pb.PushConfig{PushEndpoint: ep, AuthenticationMethod: got.GetPushConfig().GetAuthenticationMethod()}
		}
		if !proto.Equal(trimmed, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, trimmed, c.want)
		}
	}
}

func TestApplyBigtableCreatesTablesWithGCRulesAndIsIdempotent(t *testing.T) {
	srv, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	conn, s, ctx := testserver.Dial(t, srv.Addr), parseValid(t), context.Background()
	for range 2 {
		if err := s.ApplyBigtable(ctx, conn, "proj"); err != nil {
			t.Fatal(err)
		}
	}
	admin := btapb.NewBigtableTableAdminClient(conn)
	list, err := admin.ListTables(ctx, &btapb.ListTablesRequest{Parent: "projects/proj/instances/inst"})
	if err != nil || len(list.Tables) != 2 {
		t.Fatalf("tables %v, %v", list, err)
	}
	table, err := admin.GetTable(ctx, &btapb.GetTableRequest{Name: "projects/proj/instances/inst/tables/t_dev"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]GCRule{"f": {2, 60}, "g": {0, 5}} {
		if got := table.ColumnFamilies[name].GetGcRule(); !proto.Equal(got, gcRuleProto(want)) {
			t.Errorf("family %s: GC rule %v", name, got)
		}
	}
	if union := table.ColumnFamilies["f"].GetGcRule().GetUnion(); len(union.GetRules()) != 2 {
		t.Errorf("family f: want a union of both rules, got %v", table.ColumnFamilies["f"].GetGcRule())
	}
}
