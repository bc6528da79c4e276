package seed

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/etl-pipeline/emulators/internal/faults"
)

// The file as decoded: pointers tell a missing key from a zero value.
type rawFile struct {
	Project  *string     `toml:"project"`
	Stages   *[]string   `toml:"stages"`
	Bigtable rawBigtable `toml:"bigtable"`
	PubSub   rawPubSub   `toml:"pubsub"`
}

type rawBigtable struct {
	Instance *string    `toml:"instance"`
	Tables   []rawTable `toml:"tables"`
}

type rawTable struct {
	Name     string                   `toml:"name"`
	Families map[string]rawFamilyRule `toml:"families"`
}

type rawFamilyRule struct {
	MaxVersions   *int64  `toml:"max_versions"`
	MaxAgeSeconds *int64  `toml:"max_age_seconds"`
	Aggregate     *string `toml:"aggregate"`
}

type rawPubSub struct {
	Schemas       []rawSchema       `toml:"schemas"`
	Topics        []rawTopic        `toml:"topics"`
	Subscriptions []rawSubscription `toml:"subscriptions"`
}

type rawTopic struct {
	Name   string          `toml:"name"`
	Schema *rawTopicSchema `toml:"schema"`
}

type rawTopicSchema struct {
	Name     string  `toml:"name"`
	Encoding *string `toml:"encoding"`
}

type rawSchema struct {
	Name       string `toml:"name"`
	Type       string `toml:"type"`
	Definition string `toml:"definition"`
}

type rawSubscription struct {
	Name               string         `toml:"name"`
	Topic              string         `toml:"topic"`
	Type               *string        `toml:"type"`
	PushEndpoint       *string        `toml:"push_endpoint"`
	Function           *string        `toml:"function"`
	AckDeadlineSeconds *int64         `toml:"ack_deadline_seconds"`
	Ordering           bool           `toml:"ordering"`
	ExactlyOnce        bool           `toml:"exactly_once"`
	DeadLetter         *rawDeadLetter `toml:"dead_letter"`
	Retry              *rawRetry      `toml:"retry"`
	Faults             *faults.Input  `toml:"faults"`
	OidcToken          *rawOidcToken  `toml:"oidc_token"`
}

type rawOidcToken struct {
	ServiceAccountEmail *string `toml:"service_account_email"`
	Audience            *string `toml:"audience"`
}

type rawDeadLetter struct {
	Topic               string `toml:"topic"`
	MaxDeliveryAttempts *int64 `toml:"max_delivery_attempts"`
}

type rawRetry struct {
	MinimumBackoffSeconds *float64 `toml:"minimum_backoff_seconds"`
	MaximumBackoffSeconds *float64 `toml:"maximum_backoff_seconds"`
}

// decode parses strictly: unknown keys and wrong types are errors that
// carry go-toml's line and column.
func decode(data []byte, source string) (*rawFile, error) {
	var raw rawFile
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&raw)
	if err == nil {
		return &raw, nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		return nil, tomlError(source, &strict.Errors[0], "unknown key")
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return nil, tomlError(source, de, strings.TrimPrefix(de.Error(), "toml: "))
	}
	return nil, &Error{Source: source, Problem: err.Error()}
}

func tomlError(source string, de *toml.DecodeError, problem string) *Error {
	line, col := de.Position()
	where := strings.Join(de.Key(), ".")
	return &Error{Source: source, Line: line, Column: col, Where: where, Problem: problem}
}

// Error is a problem with the seed file: "file:line: entry: problem".
type Error struct {
	Source       string
	Line, Column int // 0: unknown
	Where        string
	Problem      string
}

func (e *Error) Error() string {
	place := e.Source
	if e.Line > 0 {
		place = fmt.Sprintf("%s:%d", place, e.Line)
	}
	if e.Column > 0 {
		place = fmt.Sprintf("%s:%d", place, e.Column)
	}
	if e.Where == "" {
		return place + ": " + e.Problem
	}
	return place + ": " + e.Where + ": " + e.Problem
}
