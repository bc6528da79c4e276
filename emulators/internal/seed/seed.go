// Package seed reads the seed file (etl.toml): the Pub/Sub topics and
// subscriptions and the Bigtable tables the pipeline needs, declared once
// with {stage} and {project} placeholders and created once per stage. The
// Python side (etl_harness/etl_toml/reader.py) reads the same file with the same rules.
package seed

import (
	"fmt"
	"os"
	"time"

	"github.com/etl-pipeline/emulators/internal/faults"
)

// Stages are the stage names a seed file may list.
var Stages = []string{"dev", "test", "prod"}

// Seed is a validated seed file. Names may still hold {stage} and {project};
// Resources replaces them.
type Seed struct {
	Source        string // the file, for messages
	Project       string // default project
	Stages        []string
	Instance      string // Bigtable instance
	Schemas       []Schema
	Topics        []string
	TopicSchemas  map[string]TopicSchema // by topic name, for topics with one
	Subscriptions []Subscription
	Tables        []Table
}

// Schema is one [[pubsub.schemas]] entry.
type Schema struct {
	Name       string
	Type       string // "avro" or "protocol_buffer"
	Definition string // taken as written: no placeholders
}

// TopicSchema is a topic's schema settings: a declared schema and the
// encoding of its messages ("json" or "binary").
type TopicSchema struct {
	Schema   string
	Encoding string
}

// Subscription is one [[pubsub.subscriptions]] entry, defaults applied.
type Subscription struct {
	Name               string
	Topic              string
	PushEndpoint       string // empty: a pull subscription
	Function           string // informational, for the Python side
	AckDeadlineSeconds int32
	Ordering           bool
	ExactlyOnce        bool // enable_exactly_once_delivery; pull subscriptions only
	DeadLetter         *DeadLetter
	Retry              *Retry
	Faults             *faults.Config // injected by the Go emulator only (internal/faults)
	OidcToken          *OidcToken     // push only: sign push requests (internal/pushauth)
}

// OidcToken is a push subscription's authentication, as production's
// push_config.oidc_token: the service account the token names, and its
// audience (empty: the push endpoint).
type OidcToken struct {
	ServiceAccountEmail string
	Audience            string
}

// DeadLetter is a subscription's dead-letter policy.
type DeadLetter struct {
	Topic               string
	MaxDeliveryAttempts int32
}

// Retry is a subscription's redelivery backoff.
type Retry struct {
	MinimumBackoff time.Duration
	MaximumBackoff time.Duration
}

// Table is one [[bigtable.tables]] entry.
type Table struct {
	Name     string
	Families map[string]GCRule
	// Aggregates are the families of int64 aggregate type: "sum", "min",
	// "max" or "hll" (HyperLogLog++), by family (AddToCell merges into them).
	Aggregates map[string]string
}

// GCRule deletes a cell when either set condition holds (zero: unset).
type GCRule struct {
	MaxVersions   int32
	MaxAgeSeconds int64
}

// Load reads and validates the seed file at path.
func Load(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seed file: %w", err)
	}
	return Parse(data, path)
}

// Parse validates the text of a seed file; source names it in errors.
func Parse(data []byte, source string) (*Seed, error) {
	raw, err := decode(data, source)
	if err != nil {
		return nil, err
	}
	v := &validator{source: source, lines: locate(data)}
	s := v.seed(raw)
	if v.err != nil {
		return nil, v.err
	}
	return s, nil
}

// PickProject is the project to seed: override (the --project flag) if set,
// else $GOOGLE_CLOUD_PROJECT, else the file's.
func (s *Seed) PickProject(override string) string {
	if override != "" {
		return override
	}
	if env := os.Getenv("GOOGLE_CLOUD_PROJECT"); env != "" {
		return env
	}
	return s.Project
}
