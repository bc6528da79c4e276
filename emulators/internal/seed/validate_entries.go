package seed

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/etl-pipeline/emulators/internal/faults"
)

func (v *validator) subscription(i int, raw rawSubscription, topics []string) Subscription {
	p := entryAt("pubsub.subscriptions", i, raw.Name)
	v.name(p, raw.Name, pubsubName, "a Pub/Sub name")
	v.declared(p, "topic", raw.Topic, topics)
	s := Subscription{
		Name:               raw.Name,
		Topic:              raw.Topic,
		PushEndpoint:       v.pushEndpoint(p, raw),
		Function:           v.optional(p, "function", raw.Function, ""),
		AckDeadlineSeconds: int32(v.integer(p, "ack_deadline_seconds", raw.AckDeadlineSeconds, 10, 600, 60)),
		Ordering:           raw.Ordering,
		ExactlyOnce:        raw.ExactlyOnce,
	}
	if raw.ExactlyOnce && s.PushEndpoint != "" {
		v.fail(p, "exactly_once", "exactly_once needs a pull subscription (push delivery is at-least-once)")
	}
	if d := raw.DeadLetter; d != nil {
		v.declared(p, "dead_letter.topic", d.Topic, topics)
		attempts := v.integer(p, "dead_letter.max_delivery_attempts", d.MaxDeliveryAttempts, 5, 100, 5)
		s.DeadLetter = &DeadLetter{Topic: d.Topic, MaxDeliveryAttempts: int32(attempts)}
	}
	if r := raw.Retry; r != nil {
		s.Retry = &Retry{
			MinimumBackoff: v.seconds(p, "retry.minimum_backoff_seconds", r.MinimumBackoffSeconds, 10),
			MaximumBackoff: v.seconds(p, "retry.maximum_backoff_seconds", r.MaximumBackoffSeconds, 600),
		}
		if s.Retry.MinimumBackoff > s.Retry.MaximumBackoff {
			v.fail(p, "retry", "retry: minimum_backoff_seconds is above maximum_backoff_seconds")
		}
	}
	s.OidcToken = v.oidcToken(p, raw)
	if raw.Faults != nil {
		cfg, err := raw.Faults.Config()
		var fe *faults.FieldError
		switch {
		case errors.As(err, &fe):
			v.fail(p, "faults."+fe.Key, "%s", fe.Problem)
		case err != nil:
			v.fail(p, "faults", "%v", err)
		}
		s.Faults = &cfg
	}
	return s
}

// pushEndpoint checks type and push_endpoint together.
func (v *validator) pushEndpoint(p place, raw rawSubscription) string {
	kind := v.optional(p, "type", raw.Type, "pull")
	endpoint := v.optional(p, "push_endpoint", raw.PushEndpoint, "")
	switch {
	case kind != "pull" && kind != "push":
		v.fail(p, "type", `type must be "pull" or "push", got %q`, kind)
	case kind == "push" && raw.PushEndpoint == nil:
		v.fail(p, "type", "type push requires push_endpoint")
	case kind == "pull" && raw.PushEndpoint != nil:
		v.fail(p, "push_endpoint", `push_endpoint needs type = "push"`)
	case endpoint != "" && !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://"):
		v.fail(p, "push_endpoint", "push_endpoint must be an http(s) URL, got %q", endpoint)
	}
	return endpoint
}

// oidcToken checks the oidc_token of a push subscription, or of a function's
// subscription (etl serve pushes it with the token): an email is required,
// the audience may be left out (production then uses the endpoint).
func (v *validator) oidcToken(p place, raw rawSubscription) *OidcToken {
	o := raw.OidcToken
	if o == nil {
		return nil
	}
	if raw.PushEndpoint == nil && raw.Function == nil {
		v.fail(p, "oidc_token", `oidc_token needs type = "push" or a function`)
	}
	const key = "oidc_token.service_account_email"
	email := v.optional(p, key, o.ServiceAccountEmail, "")
	if o.ServiceAccountEmail == nil {
		v.fail(p, key, "%s is required", key)
	} else if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 {
		v.fail(p, key, "%s must be an email address, got %q", key, email)
	}
	return &OidcToken{ServiceAccountEmail: email, Audience: v.optional(p, "oidc_token.audience", o.Audience, "")}
}

func (v *validator) schema(i int, raw rawSchema) Schema {
	p := entryAt("pubsub.schemas", i, raw.Name)
	v.name(p, raw.Name, pubsubName, "a Pub/Sub name")
	if raw.Type != "avro" && raw.Type != "protocol_buffer" {
		v.fail(p, "type", `type must be "avro" or "protocol_buffer", got %q`, raw.Type)
	}
	if strings.TrimSpace(raw.Definition) == "" {
		v.fail(p, "definition", "definition is required")
	}
	return Schema{Name: raw.Name, Type: raw.Type, Definition: raw.Definition}
}

// topicSchema checks a topic's schema settings: a declared schema, an
// encoding of json (the default) or binary.
func (v *validator) topicSchema(i int, raw rawTopic, schemas []Schema) *TopicSchema {
	if raw.Schema == nil {
		return nil
	}
	p := entryAt("pubsub.topics", i, raw.Name)
	v.required(p, "schema.name", raw.Schema.Name)
	if raw.Schema.Name != "" && !slices.ContainsFunc(schemas, func(s Schema) bool { return s.Name == raw.Schema.Name }) {
		v.fail(p, "schema.name", "schema.name %q is not declared in [[pubsub.schemas]]", raw.Schema.Name)
	}
	encoding := v.optional(p, "schema.encoding", raw.Schema.Encoding, "json")
	if encoding != "json" && encoding != "binary" {
		v.fail(p, "schema.encoding", `schema.encoding must be "json" or "binary", got %q`, encoding)
	}
	return &TopicSchema{Schema: raw.Schema.Name, Encoding: encoding}
}

// declared checks that topic is one of [[pubsub.topics]].
func (v *validator) declared(p place, key, topic string, topics []string) {
	v.required(p, key, topic)
	if topic != "" && !slices.Contains(topics, topic) {
		v.fail(p, key, "%s %q is not declared in [[pubsub.topics]]", key, topic)
	}
}

func (v *validator) table(i int, raw rawTable) Table {
	p := entryAt("bigtable.tables", i, raw.Name)
	v.name(p, raw.Name, tableName, "a table id")
	if len(raw.Families) == 0 {
		v.fail(p, "families", "a table needs at least one entry under families")
	}
	t := Table{Name: raw.Name, Families: map[string]GCRule{}}
	for _, name := range slices.Sorted(maps.Keys(raw.Families)) {
		t.Families[name] = v.family(p, name, raw.Families[name])
		if agg := raw.Families[name].Aggregate; agg != nil {
			if t.Aggregates == nil {
				t.Aggregates = map[string]string{}
			}
			t.Aggregates[name] = v.aggregate(p, "families."+name+".aggregate", *agg)
		}
	}
	return t
}

func (v *validator) family(p place, name string, raw rawFamilyRule) GCRule {
	key := "families." + name
	if !familyName.MatchString(name) {
		v.fail(p, key, "%q is not a column family name", name)
	}
	if raw.MaxVersions == nil && raw.MaxAgeSeconds == nil && raw.Aggregate == nil {
		v.fail(p, key, "%s: set max_versions and/or max_age_seconds, or aggregate", key)
	}
	return GCRule{
		MaxVersions:   int32(v.integer(p, key+".max_versions", raw.MaxVersions, 1, 1<<31-1, 0)),
		MaxAgeSeconds: v.integer(p, key+".max_age_seconds", raw.MaxAgeSeconds, 1, 1<<40, 0),
	}
}

// aggregate checks an aggregate family's type: int64 sum, min, max or
// hll (HyperLogLog++ unique count).
func (v *validator) aggregate(p place, key, agg string) string {
	if agg != "sum" && agg != "min" && agg != "max" && agg != "hll" {
		v.fail(p, key, `%s must be "sum", "min", "max" or "hll", got %q`, key, agg)
	}
	return agg
}

// unique rejects names declared twice once placeholders are replaced.
func (v *validator) unique(s *Seed) {
	for _, stage := range s.Stages {
		r := s.Resources(stage, s.Project)
		v.distinct("pubsub.schemas", "schema", names(r.Schemas, func(s Schema) string { return s.Name }), stage)
		v.distinct("pubsub.topics", "topic", r.Topics, stage)
		v.distinct("pubsub.subscriptions", "subscription", names(r.Subscriptions, func(s Subscription) string { return s.Name }), stage)
		v.distinct("bigtable.tables", "table", names(r.Tables, func(t Table) string { return t.Name }), stage)
	}
}

func (v *validator) distinct(list, kind string, expanded []string, stage string) {
	seen := map[string]bool{}
	for i, name := range expanded {
		if seen[name] {
			v.fail(entryAt(list, i, ""), "name", "%s %q is declared twice (stage %s)", kind, name, stage)
		}
		seen[name] = true
	}
}

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}
