package seed

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	pubsubName  = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$`)
	tableName   = regexp.MustCompile(`^[_a-zA-Z0-9][-_.a-zA-Z0-9]{0,49}$`)
	familyName  = regexp.MustCompile(`^[_a-zA-Z0-9][-_.a-zA-Z0-9]{0,63}$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
)

// validator turns the decoded file into a Seed, keeping the first problem.
type validator struct {
	source string
	lines  lines
	err    error
}

// place is an entry: its key in lines and how messages name it.
type place struct{ entry, label string }

func entryAt(list string, i int, name string) place {
	p := place{entry: fmt.Sprintf("%s[%d]", list, i)}
	p.label = p.entry
	if name != "" {
		p.label += fmt.Sprintf(" %q", name)
	}
	return p
}

// fail records a problem with key of the entry at p, unless one is known.
func (v *validator) fail(p place, key, format string, args ...any) {
	if v.err != nil {
		return
	}
	v.err = &Error{Source: v.source, Line: v.lines.of(p.entry, key), Where: p.label, Problem: fmt.Sprintf(format, args...)}
}

func (v *validator) seed(raw *rawFile) *Seed {
	top, bt := place{}, place{entry: "bigtable", label: "bigtable"}
	s := &Seed{
		Source:   v.source,
		Project:  v.optional(top, "project", raw.Project, "local-project"),
		Stages:   v.stages(raw.Stages),
		Instance: v.optional(bt, "instance", raw.Bigtable.Instance, "iotincoming"),
	}
	for i, r := range raw.PubSub.Schemas {
		s.Schemas = append(s.Schemas, v.schema(i, r))
	}
	for i, t := range raw.PubSub.Topics {
		s.Topics = append(s.Topics, v.topic(i, t))
		if ts := v.topicSchema(i, t, s.Schemas); ts != nil {
			if s.TopicSchemas == nil {
				s.TopicSchemas = map[string]TopicSchema{}
			}
			s.TopicSchemas[t.Name] = *ts
		}
	}
	for i, r := range raw.PubSub.Subscriptions {
		s.Subscriptions = append(s.Subscriptions, v.subscription(i, r, s.Topics))
	}
	for i, r := range raw.Bigtable.Tables {
		s.Tables = append(s.Tables, v.table(i, r))
	}
	v.unique(s)
	return s
}

func (v *validator) stages(raw *[]string) []string {
	switch {
	case raw == nil:
		return []string{"dev", "test"}
	case len(*raw) == 0:
		return []string{"dev"}
	}
	for _, s := range *raw {
		if !slices.Contains(Stages, s) {
			v.fail(place{}, "stages", "stages: %q is not one of %s", s, strings.Join(Stages, ", "))
		}
	}
	return *raw
}

func (v *validator) topic(i int, raw rawTopic) string {
	p := entryAt("pubsub.topics", i, raw.Name)
	v.name(p, raw.Name, pubsubName, "a Pub/Sub name")
	return raw.Name
}

// name checks a required name, placeholders replaced by sample values.
func (v *validator) name(p place, name string, pattern *regexp.Regexp, what string) {
	v.required(p, "name", name)
	sample := strings.NewReplacer("{stage}", "prod", "{project}", "p").Replace(name)
	if name != "" && !pattern.MatchString(sample) {
		v.fail(p, "name", "%q is not %s", name, what)
	}
}

func (v *validator) required(p place, key, value string) {
	if value == "" {
		v.fail(p, key, "%s is required", key)
	}
	v.placeholders(p, key, value)
}

func (v *validator) optional(p place, key string, value *string, def string) string {
	if value == nil {
		return def
	}
	if *value == "" {
		v.fail(p, key, "%s must not be empty", key)
	}
	v.placeholders(p, key, *value)
	return *value
}

func (v *validator) placeholders(p place, key, value string) {
	for _, m := range placeholder.FindAllStringSubmatch(value, -1) {
		if m[1] != "stage" && m[1] != "project" {
			v.fail(p, key, "%s: unknown placeholder %s (only {stage} and {project})", key, m[0])
		}
	}
}

// integer returns value, or def when it is missing, checking [low, high].
func (v *validator) integer(p place, key string, value *int64, low, high, def int64) int64 {
	if value == nil {
		return def
	}
	if *value < low || *value > high {
		v.fail(p, key, "%s must be %d-%d, got %d", key, low, high, *value)
	}
	return *value
}

// seconds returns value, or def when it is missing, checking 0-600.
func (v *validator) seconds(p place, key string, value *float64, def float64) time.Duration {
	f := def
	if value != nil {
		f = *value
	}
	if !(f >= 0 && f <= 600) {
		v.fail(p, key, "%s must be 0-600, got %v", key, f)
		return 0
	}
	return time.Duration(math.Round(f * float64(time.Second)))
}
