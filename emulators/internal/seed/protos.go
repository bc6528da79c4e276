package seed

import (
	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func topicPath(project, topic string) string {
	return "projects/" + project + "/topics/" + topic
}

func topicProto(project, name string, schemas map[string]TopicSchema) *pb.Topic {
	t := &pb.Topic{Name: topicPath(project, name)}
	if ts, ok := schemas[name]; ok {
		encoding := pb.Encoding_JSON
		if ts.Encoding == "binary" {
			encoding = pb.Encoding_BINARY
		}
		t.SchemaSettings = &pb.SchemaSettings{Schema: "projects/" + project + "/schemas/" + ts.Schema, Encoding: encoding}
	}
	return t
}

func schemaRequest(project string, s Schema) *pb.CreateSchemaRequest {
	kind := pb.Schema_AVRO
	if s.Type == "protocol_buffer" {
		kind = pb.Schema_PROTOCOL_BUFFER
	}
	return &pb.CreateSchemaRequest{Parent: "projects/" + project, SchemaId: s.Name, Schema: &pb.Schema{Type: kind, Definition: s.Definition}}
}

func subscriptionProto(project string, s Subscription) *pb.Subscription {
	p := &pb.Subscription{
		Name:                      "projects/" + project + "/subscriptions/" + s.Name,
		Topic:                     topicPath(project, s.Topic),
		AckDeadlineSeconds:        s.AckDeadlineSeconds,
		EnableMessageOrdering:     s.Ordering,
		EnableExactlyOnceDelivery: s.ExactlyOnce,
	}
	if s.PushEndpoint != "" {
		p.PushConfig = &pb.PushConfig{
			PushEndpoint: s.PushEndpoint,
			Wrapper:      &pb.PushConfig_PubsubWrapper_{PubsubWrapper: &pb.PushConfig_PubsubWrapper{}},
		}
		if o := s.OidcToken; o != nil {
			p.PushConfig.AuthenticationMethod = &pb.PushConfig_OidcToken_{OidcToken: &pb.PushConfig_OidcToken{
				ServiceAccountEmail: o.ServiceAccountEmail, Audience: o.Audience,
			}}
		}
	}
	if d := s.DeadLetter; d != nil {
		p.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: topicPath(project, d.Topic), MaxDeliveryAttempts: d.MaxDeliveryAttempts}
	}
	if r := s.Retry; r != nil {
		p.RetryPolicy = &pb.RetryPolicy{MinimumBackoff: durationpb.New(r.MinimumBackoff), MaximumBackoff: durationpb.New(r.MaximumBackoff)}
	}
	return p
}

func tableProto(t Table) *btapb.Table {
	families := map[string]*btapb.ColumnFamily{}
	for name, rule := range t.Families {
		families[name] = &btapb.ColumnFamily{GcRule: gcRuleProto(rule), ValueType: aggregateType(t.Aggregates[name])}
	}
	return &btapb.Table{ColumnFamilies: families}
}

// aggregateType is the int64 aggregate value type of agg ("": none).
func aggregateType(agg string) *btapb.Type {
	a := &btapb.Type_Aggregate{InputType: &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}}}
	switch agg {
	case "sum":
		a.Aggregator = &btapb.Type_Aggregate_Sum_{Sum: &btapb.Type_Aggregate_Sum{}}
	case "min":
		a.Aggregator = &btapb.Type_Aggregate_Min_{Min: &btapb.Type_Aggregate_Min{}}
	case "max":
		a.Aggregator = &btapb.Type_Aggregate_Max_{Max: &btapb.Type_Aggregate_Max{}}
	case "hll":
		a.Aggregator = &btapb.Type_Aggregate_HllppUniqueCount{HllppUniqueCount: &btapb.Type_Aggregate_HyperLogLogPlusPlusUniqueCount{}}
	default:
		return nil
	}
	return &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: a}}
}

// gcRuleProto is one rule, or the union of both when both are set.
func gcRuleProto(r GCRule) *btapb.GcRule {
	var rules []*btapb.GcRule
	if r.MaxVersions > 0 {
		rules = append(rules, &btapb.GcRule{Rule: &btapb.GcRule_MaxNumVersions{MaxNumVersions: r.MaxVersions}})
	}
	if r.MaxAgeSeconds > 0 {
		rules = append(rules, &btapb.GcRule{Rule: &btapb.GcRule_MaxAge{MaxAge: &durationpb.Duration{Seconds: r.MaxAgeSeconds}}})
	}
	switch len(rules) {
	case 0:
		return nil
	case 1:
		return rules[0]
	}
	return &btapb.GcRule{Rule: &btapb.GcRule_Union_{Union: &btapb.GcRule_Union{Rules: rules}}}
}
