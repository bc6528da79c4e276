package seed

import "strings"

// Resources is one stage of a seed in one project: placeholders replaced.
type Resources struct {
	Project, Stage, Instance string
	Topics                   []string
	Subscriptions            []Subscription
	Tables                   []Table
}

// Resources replaces {stage} and {project} in names, topics, endpoints and
// push tokens' accounts and audiences.
// The instance is taken as written, as etl_harness/etl_toml/reader.py does.
func (s *Seed) Resources(stage, project string) Resources {
	fill := strings.NewReplacer("{stage}", stage, "{project}", project).Replace
	r := Resources{Project: project, Stage: stage, Instance: s.Instance}
	for _, t := range s.Topics {
		r.Topics = append(r.Topics, fill(t))
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
