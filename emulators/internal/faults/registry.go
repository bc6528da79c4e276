package faults

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// Counts are how many times each fault fired on a subscription.
type Counts struct {
	Duplicate       int64 `json:"duplicate"`        // extra copies delivered
	Delay           int64 `json:"delay"`            // messages held back
	Shuffle         int64 `json:"shuffle"`          // messages deferred to a later pull
	PushError       int64 `json:"push_error"`       // push answers replaced by a failure
	EarlyRedelivery int64 `json:"early_redelivery"` // leases ended early
	// TransientAckFailure counts acks and modacks refused with
	// TRANSIENT_FAILURE_OTHER (exactly-once subscriptions only).
	TransientAckFailure int64 `json:"transient_ack_failure"`
}

// Status is what the admin API reports of a subscription's faults.
type Status struct {
	Subscription string  `json:"subscription"`
	Faults       *Config `json:"faults"` // null: off
	Fired        Counts  `json:"fired"`
	Held         int     `json:"held"` // messages waiting for a delay or a later pull
}

// Registry holds the faults of every subscription, by full name
// ("projects/P/subscriptions/S"). The zero value is not usable; use New.
type Registry struct {
	mu   sync.Mutex
	subs map[string]*subState
}

// New returns an empty registry.
func New() *Registry { return &Registry{subs: map[string]*subState{}} }

// subState is one subscription's faults and the messages they hold.
type subState struct {
	cfg    *Config // nil: off
	counts Counts
	// queue holds messages pulled but not yet delivered (delayed,
	// deferred, or beyond the response's max_messages), in delivery order
	// once due.
	queue []queued
	// expire are ack ids whose lease ends at the next pull; early the
	// message ids so redelivered, to mark the redelivery.
	expire []string
	early  map[string]time.Time // when the lease was ended
	// retrying are ack ids refused once with a transient failure: their
	// next ack or modack goes through.
	retrying map[string]struct{}
}

type queued struct {
	msg   *pb.ReceivedMessage // a copy: pstest reuses its own
	due   time.Time
	lease time.Time // pstest's lease on an original ends (zero: an extra copy)
	// decided: its faults were drawn when it was first pulled (it waits
	// only because the response was full); delivered as it is.
	decided bool
}

// Set turns faults on for sub (a full name), keeping its counts.
func (r *Registry) Set(sub string, cfg Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state(sub)
	st.cfg = &cfg
}

// Clear turns faults off for sub, keeping its counts. Messages already
// held are still delivered when due.
func (r *Registry) Clear(sub string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.subs[sub]; st != nil {
		st.cfg = nil
	}
}

// Forget drops everything about sub (it was deleted).
func (r *Registry) Forget(sub string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.subs, sub)
}

// Get reports sub's faults; ok is false if none were ever set.
func (r *Registry) Get(sub string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.subs[sub]
	if st == nil {
		return Status{Subscription: sub}, false
	}
	return st.status(sub), true
}

// All reports every subscription that has or had faults, by name.
func (r *Registry) All() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.subs))
	for name, st := range r.subs {
		out = append(out, st.status(name))
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Subscription, b.Subscription) })
	return out
}

func (st *subState) status(name string) Status {
	s := Status{Subscription: name, Fired: st.counts, Held: len(st.queue)}
	if st.cfg != nil {
		c := *st.cfg
		s.Faults = &c
	}
	return s
}

// state returns sub's state, creating it. Called with r.mu held.
func (r *Registry) state(sub string) *subState {
	st := r.subs[sub]
	if st == nil {
		st = &subState{early: map[string]time.Time{}}
		r.subs[sub] = st
	}
	return st
}

// PushError tells whether the push request of message id's attempt-th
// delivery on sub is to be answered as a failure, and counts it.
func (r *Registry) PushError(sub, messageID string, attempt int) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.subs[sub]
	if st == nil || st.cfg == nil || !st.cfg.fires(PushError, st.cfg.PushError, messageID+":"+strconv.Itoa(attempt)) {
		return false
	}
	st.counts.PushError++
	return true
}

// TransientAckFailure tells whether this ack or modack of ackID on sub (an
// exactly-once subscription) is to fail with a transient failure, and
// counts it. An ack id never fails twice in a row: the retry a client
// makes of a transient failure goes through (a later ack or modack of the
// same id may fail again).
func (r *Registry) TransientAckFailure(sub, ackID string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.subs[sub]
	if st == nil || st.cfg == nil {
		return false
	}
	if _, again := st.retrying[ackID]; again {
		delete(st.retrying, ackID)
		return false
	}
	if !st.cfg.fires(TransientAckFailure, st.cfg.TransientAckFailure, ackID) {
		return false
	}
	if st.retrying == nil {
		st.retrying = map[string]struct{}{}
	}
	st.retrying[ackID] = struct{}{}
	st.counts.TransientAckFailure++
	return true
}
