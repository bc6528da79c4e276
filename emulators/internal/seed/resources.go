package seed

import "strings"

// Resources is one stage of a seed in one project: placeholders replaced.
type Resources struct {
	Project, Stage, Instance string
	Schemas                  []Schema
	Topics                   []string
	TopicSchemas             map[string]TopicSchema // by topic name
	Subscriptions            []Subscription
	Tables                   []Table
}

// Resources replaces {stage} and {project} in names (schemas' too, not their
// definitions), topics, endpoints and
// push tokens' accounts and audiences.
// The instance is taken as written, as etl_harness/etl_toml/reader.py does.
func (s *Seed) Resources(stage, project string) Resources {
	fill := strings.NewReplacer("{stage}", stage, "{project}", project).Replace
	r := Resources{Project: project, Stage: stage, Instance: s.Instance}
	for _, sc := range s.Schemas {
		sc.Name = fill(sc.Name)
		r.Schemas = append(r.Schemas, sc)
	}
	for _, t := range s.Topics {
		r.Topics = append(r.Topics, fill(t))
		if ts, ok := s.TopicSchemas[t]; ok {
			if r.TopicSchemas == nil {
				r.TopicSchemas = map[string]TopicSchema{}
			}
			r.TopicSchemas[fill(t)] = TopicSchema{Schema: fill(ts.Schema), Encoding: ts.Encoding}
		}
	}
	for _, sub := range s.Subscriptions {
		sub.Name, sub.Topic, sub.PushEndpoint = fill(sub.Name), fill(sub.Topic), fill(sub.PushEndpoint)
		if o := sub.OidcToken; o != nil {
			sub.OidcToken = &OidcToken{ServiceAccountEmail: fill(o.ServiceAccountEmail), Audience: fill(o.Audience)}
		}
		if sub.DeadLetter != nil {
			dl := *sub.DeadLetter
			dl.Topic = fill(dl.Topic)
			sub.DeadLetter = &dl
		}
		r.Subscriptions = append(r.Subscriptions, sub)
	}
	for _, t := range s.Tables {
		t.Name = fill(t.Name)
		r.Tables = append(r.Tables, t)
	}
	return r
}
