// Package pubsubfidelity makes Google's pstest behave like production Pub/Sub
// where pstest does not, as a gRPC interceptor in front of it (Unary), so
// that every caller, in or out of the process, sees the same behaviour:
//
//   - Publish is served here: decimal message ids, empty messages refused,
//     delivery attempts counted per subscription, and no message kept once
//     every subscription has acknowledged it, unless a subscription's
//     retain_acked_messages, the topic's message_retention_duration or a
//     snapshot needs it, and then only for as long (pstest keeps every
//     message ever published).
//   - Seek (to a time or a snapshot) and the snapshot RPCs are served here,
//     from what is kept above; pstest's Seek restores messages without their
//     bodies and crashes its delivery loop.
//   - Dead-lettering from pull subscriptions is done here, adding the
//     CloudPubSubDeadLetterSource* attributes; pstest's own is disabled by
//     handing it an unreachable max_delivery_attempts, which responses hide.
//   - DetachSubscription sets detached, stops delivery and unlists the
//     subscription from its topic; Pull on it is FAILED_PRECONDITION.
//   - Resource names are validated, an omitted ack deadline reads 10.
//
// State shared with pstest is read and written under pstest's mutex through
// pstest_internals.go (pinned to pstest v2.9.0).
package pubsubfidelity

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/grpcrecover"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

const (
	// hiddenMaxAttempts is the max_delivery_attempts pstest is given, so that
	// its own dead-lettering never fires; responses show the real one.
	hiddenMaxAttempts = math.MaxInt32
	// defaultMaxAttempts is production's when max_delivery_attempts is 0.
	defaultMaxAttempts = 5
	// snapshotLifetime is production's maximum (and the Java emulator's).
	snapshotLifetime = 7 * 24 * time.Hour
	// recentMessages is how many of the latest messages Messages keeps for
	// the admin API, acknowledged or not.
	recentMessages = 1000
	// sweepInterval paces the janitor: dead-lettering of messages whose ack
	// deadline expired, snapshot expiry, pruning of kept messages.
	sweepInterval = 100 * time.Millisecond
)

// Layer is the fidelity layer over one pstest server.
type Layer struct {
	st  *pstestx.Server // pstest's state; its lock guards the fields below
	now func() time.Time

	// The rest is guarded by pstest's mutex.
	lastID      int64
	lastPublish time.Time
	policies    map[string]*pb.DeadLetterPolicy // real dead-letter policies, by subscription
	logs        map[pstestx.Topic]*topicLog     // kept messages, by pstest topic
	snapshots   map[string]*snapshot
	parked      map[string]*parking // messages waiting outside pstest, by subscription
	recent      []*record           // ring of the latest messages, for the admin API
	next        int                 // next slot of recent

	stop chan struct{}
	done chan struct{}
}

// record is one published message as kept here.
type record struct {
	msg       *pb.PubsubMessage
	published time.Time
	topic     string
	subs      []string // subscriptions it was published to
	counts    []*int   // their delivery counters
	acks      int
}

// topicLog is what is kept of one topic's messages, oldest first.
type topicLog struct {
	topic *topic
	recs  []*record
}

// New wraps fake. It fails if pstest's layout is not the one this package
// was written against. Close stops its janitor.
func New(fake *pstest.Server) (*Layer, error) { return newLayer(fake, time.Now) }

// newLayer is New with the layer's clock (tests move it forward).
func newLayer(fake *pstest.Server, now func() time.Time) (*Layer, error) {
	st, err := pstestx.Open(&fake.GServer)
	if err != nil {
		return nil, err
	}
	l := &Layer{
		st:        st,
		now:       now,
		policies:  map[string]*pb.DeadLetterPolicy{},
		logs:      map[pstestx.Topic]*topicLog{},
		snapshots: map[string]*snapshot{},
		parked:    map[string]*parking{},
		recent:    make([]*record, 0, recentMessages),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go l.janitor()
	return l, nil
}

// Close stops the janitor.
func (l *Layer) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

func (l *Layer) janitor() {
	defer close(l.done)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			grpcrecover.Run("pubsub fidelity janitor", l.sweep)
		}
	}
}

// sweep dead-letters what is due, expires snapshots and prunes kept messages.
func (l *Layer) sweep() {
	defer l.st.Lock()()
	now := l.now()
	for name := range l.policies {
		if s := l.st.Subscription(name); s != nil {
			l.deadLetterDue(name, s, now)
		}
	}
	l.expireSnapshots(now)
	for name := range l.parked {
		if s := l.st.Subscription(name); s != nil {
			l.refill(s, now)
		} else {
			delete(l.parked, name)
		}
	}
	for key, log := range l.logs {
		l.prune(log, now)
		if len(log.recs) == 0 && l.st.Topic(log.topic.Proto().GetName()) == nil {
			delete(l.logs, key)
		}
	}
}

// Messages returns the latest messages published (at most 1,000), oldest
// first, with their deliveries summed over subscriptions: what the admin
// API lists.
func (l *Layer) Messages() []*pstest.Message {
	defer l.st.Lock()()
	recs := slices.Clone(l.recent)
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(idNumber(a), idNumber(b)) })
	out := make([]*pstest.Message, 0, len(recs))
	for _, r := range recs {
		m := &pstest.Message{
			ID: r.msg.GetMessageId(), Data: r.msg.GetData(), Attributes: r.msg.GetAttributes(),
			PublishTime: r.published, OrderingKey: r.msg.GetOrderingKey(), Topic: r.topic, Acks: r.acks,
		}
		for _, c := range r.counts {
			m.Deliveries += *c
		}
		out = append(out, m)
	}
	return out
}

func idNumber(r *record) int64 {
	n, _ := strconv.ParseInt(r.msg.GetMessageId(), 10, 64)
	return n
}

func (l *Layer) remember(r *record) {
	if len(l.recent) < cap(l.recent) {
		l.recent = append(l.recent, r)
		return
	}
	l.recent[l.next] = r
	l.next = (l.next + 1) % len(l.recent)
}
