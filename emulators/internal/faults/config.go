// Package faults injects at-least-once delivery conditions into the Pub/Sub
// emulator, per subscription: duplicates, delays, reordering, failed push
// requests and ack deadlines that expire early. Every decision is a hash of
// the subscription's seed, the fault and the delivery (pstest's ack id,
// "<message id>:<delivery count>", or for push the message id and attempt),
// so the same seed and the same publishes fire the same faults on the same
// messages, whatever the timing: a failing test can be replayed.
//
// Wrap puts the faults in front of a Subscriber service's Pull (unary pull;
// streaming pull and push delivery are both served from it), Acknowledge
// and ModifyAckDeadline. Push requests consult Registry.PushError.
package faults

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// MaxDelay is the longest delay_ms bound: a held message keeps its lease
// for the delay plus its ack deadline, and leases are at most 600 s.
const MaxDelay = 300 * time.Second

// Config is a subscription's faults. Fractions are 0-1 (0: off).
type Config struct {
	// Duplicate is the fraction of deliveries that are delivered twice.
	Duplicate float64 `json:"duplicate"`
	// DelayMs is the [low, high] range of a delay, in milliseconds;
	// DelayFraction the fraction of messages delayed.
	DelayMs       [2]int64 `json:"delay_ms"`
	DelayFraction float64  `json:"delay_fraction"`
	// Shuffle reorders responses and defers about half of the messages
	// (those without an ordering key) to the next pull.
	Shuffle bool `json:"shuffle"`
	// PushError is the fraction of push requests answered as a failure
	// after the endpoint was called (its answer is discarded).
	PushError float64 `json:"push_error"`
	// EarlyRedelivery is the fraction of deliveries whose lease ends at
	// the next pull of the subscription, long before the ack deadline.
	EarlyRedelivery float64 `json:"early_redelivery"`
	// TransientAckFailure is the fraction of ack ids whose acks and
	// modacks on an exactly-once subscription fail with
	// TRANSIENT_FAILURE_OTHER, never twice in a row (the message stays
	// leased; the retry succeeds).
	// No effect on other subscriptions, whose acks are best effort.
	TransientAckFailure float64 `json:"transient_ack_failure"`
	// Seed makes the decisions; set at random when not given.
	Seed int64 `json:"seed"`
}

// Input is a Config as written (JSON body or etl.toml): nil means unset.
type Input struct {
	Duplicate           *float64 `json:"duplicate" toml:"duplicate"`
	DelayMs             []int64  `json:"delay_ms" toml:"delay_ms"`
	DelayFraction       *float64 `json:"delay_fraction" toml:"delay_fraction"`
	Shuffle             *bool    `json:"shuffle" toml:"shuffle"`
	PushError           *float64 `json:"push_error" toml:"push_error"`
	EarlyRedelivery     *float64 `json:"early_redelivery" toml:"early_redelivery"`
	TransientAckFailure *float64 `json:"transient_ack_failure" toml:"transient_ack_failure"`
	Seed                *int64   `json:"seed" toml:"seed"`
}

// FieldError is a problem with one key of an Input.
type FieldError struct{ Key, Problem string }

func (e *FieldError) Error() string { return e.Problem }

// Config validates in and applies defaults: delay_ms without
// delay_fraction delays every message; a missing seed is drawn at random.
func (in Input) Config() (Config, error) {
	var c Config
	for _, f := range []struct {
		key string
		v   *float64
		dst *float64
	}{
		{"duplicate", in.Duplicate, &c.Duplicate},
		{"delay_fraction", in.DelayFraction, &c.DelayFraction},
		{"push_error", in.PushError, &c.PushError},
		{"early_redelivery", in.EarlyRedelivery, &c.EarlyRedelivery},
		{"transient_ack_failure", in.TransientAckFailure, &c.TransientAckFailure},
	} {
		if f.v == nil {
			continue
		}
		if !(*f.v >= 0 && *f.v <= 1) {
			return c, &FieldError{f.key, fmt.Sprintf("faults.%s must be 0-1, got %v", f.key, *f.v)}
		}
		*f.dst = *f.v
	}
	switch {
	case in.DelayMs == nil && in.DelayFraction != nil && *in.DelayFraction > 0:
		return c, &FieldError{"delay_fraction", "faults.delay_fraction needs delay_ms = [low, high]"}
	case in.DelayMs != nil:
		if len(in.DelayMs) != 2 {
			return c, &FieldError{"delay_ms", fmt.Sprintf("faults.delay_ms must be [low, high] in ms, got %d numbers", len(in.DelayMs))}
		}
		lo, hi := in.DelayMs[0], in.DelayMs[1]
		if lo < 0 || hi < lo || hi > MaxDelay.Milliseconds() {
			return c, &FieldError{"delay_ms", fmt.Sprintf("faults.delay_ms must be [low, high] with 0 <= low <= high <= %d, got [%d, %d]", MaxDelay.Milliseconds(), lo, hi)}
		}
		c.DelayMs = [2]int64{lo, hi}
		if in.DelayFraction == nil {
			c.DelayFraction = 1
		}
	}
	if in.Shuffle != nil {
		c.Shuffle = *in.Shuffle
	}
	if in.Seed != nil {
		c.Seed = *in.Seed
	} else {
		c.Seed = rand.Int64N(1 << 31)
	}
	return c, nil
}

// ParseJSON reads a Config from a JSON object with Input's keys; unknown
// keys are errors.
func ParseJSON(data []byte) (Config, error) {
	var in Input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Config{}, fmt.Errorf("faults: %w", err)
	}
	return in.Config()
}

// active tells whether any fault is on.
func (c *Config) active() bool {
	return c.Duplicate > 0 || c.DelayFraction > 0 || c.Shuffle || c.PushError > 0 || c.EarlyRedelivery > 0 || c.TransientAckFailure > 0
}

// Fault names, as counted and hashed.
const (
	Duplicate           = "duplicate"
	Delay               = "delay"
	Shuffle             = "shuffle"
	PushError           = "push_error"
	EarlyRedelivery     = "early_redelivery"
	TransientAckFailure = "transient_ack_failure"
)

// unit is a number in [0, 1) fixed by the seed, the fault and the key.
func (c *Config) unit(fault, key string) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(c.Seed))
	h.Write(b[:])
	h.Write([]byte(fault))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	// splitmix64's finalizer spreads FNV's low-entropy high bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// fires tells whether fault, at fraction p, fires for key.
func (c *Config) fires(fault string, p float64, key string) bool {
	return p > 0 && (p >= 1 || c.unit(fault, key) < p)
}

// delayFor is the delay of key within DelayMs.
func (c *Config) delayFor(key string) time.Duration {
	lo, hi := c.DelayMs[0], c.DelayMs[1]
	ms := lo + int64(math.Floor(c.unit("delay_ms", key)*float64(hi-lo+1)))
	return time.Duration(min(ms, hi)) * time.Millisecond
}
