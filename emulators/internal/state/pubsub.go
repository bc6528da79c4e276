package state

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"slices"
	"strconv"
	"strings"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pstestx"
	"github.com/etl-pipeline/emulators/internal/pubsubfidelity"
)

// Pub/Sub files.
const (
	topicsFile        = "topics.jsonl"
	subscriptionsFile = "subscriptions.jsonl"
	backlogsDir       = "backlogs"
	// deletedTopic is what pstest puts in a subscription whose topic was
	// deleted; such subscriptions are not exported.
	deletedTopic = "_deleted-topic_"
)

// subscriptionRecord is a line of subscriptions.jsonl.
type subscriptionRecord struct {
	Subscription json.RawMessage `json:"subscription"` // google.pubsub.v1.Subscription as proto JSON
	Faults       *faults.Config  `json:"faults"`       // null: none
}

// pjson is m as compact proto JSON (protojson's spacing varies by design).
func pjson(m proto.Message) (json.RawMessage, error) {
	data, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// backlogFile is the file of subscription "projects/P/subscriptions/S".
func backlogFile(sub string) string {
	project, id := splitName(sub, "subscriptions")
	return backlogsDir + "/" + project + "/" + id + ".jsonl"
}

// splitName splits "projects/P/<kind>/ID" into P and ID.
func splitName(name, kind string) (project, id string) {
	rest, _ := strings.CutPrefix(name, "projects/")
	project, id, _ = strings.Cut(rest, "/"+kind+"/")
	return project, id
}

// messageNumber is the number in a message id: the fidelity layer's are
// decimal, pstest's "mN" (-1 for anything else).
func messageNumber(id string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "m"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// PubSubServer is what export and import need of the Pub/Sub emulator
// (internal/pubsubserver.Server) beside its gRPC API.
type PubSubServer interface {
	Internals() *pstestx.Server // for the names of every project's topics and subscriptions
	Conn() *grpc.ClientConn
	// Backlogs and Restore are the fidelity layer's (see there).
	Backlogs() (map[string][]*pb.PubsubMessage, int64)
	Restore(msgs []pubsubfidelity.Restored, lastID int64) error
}

// ExportPubSub writes the Pub/Sub emulator's state to dir: every topic,
// every subscription with its configuration (as GetTopic and
// GetSubscription answer, through the fidelity layer) and faults (reg may
// be nil), and each subscription's backlog (messages not yet acknowledged:
// delivered or not, inside pstest or parked beyond its window), read under
// one lock.
func ExportPubSub(ctx context.Context, srv PubSubServer, reg *faults.Registry, dir string) error {
	// pstest's List calls take one project: the names come from its maps.
	unlock := srv.Internals().Lock()
	topicNames, subNames := srv.Internals().TopicNames(), srv.Internals().SubscriptionNames()
	unlock()
	backlogs, lastID := srv.Backlogs()
	pub, sub := pb.NewPublisherClient(srv.Conn()), pb.NewSubscriberClient(srv.Conn())
	w, err := newWriter(dir, "pubsub", backlogsDir)
	if err != nil {
		return err
	}
	w.manifest.NextMessageID = lastID + 1
	var topics, subs []any
	for _, name := range topicNames {
		t, err := pub.GetTopic(ctx, &pb.GetTopicRequest{Topic: name})
		if status.Code(err) == codes.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("export topic %s: %w", name, err)
		}
		line, err := pjson(t)
		if err != nil {
			return err
		}
		topics = append(topics, line)
	}
	for _, name := range subNames {
		s, err := sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return fmt.Errorf("export subscription %s: %w", name, err)
		}
		if s.GetTopic() == deletedTopic || s.GetDetached() {
			log.Printf("export: skipping %s: detached or its topic was deleted", name)
			continue
		}
		line, err := pjson(s)
		if err != nil {
			return err
		}
		rec := subscriptionRecord{Subscription: line}
		if reg != nil {
			if st, ok := reg.Get(name); ok {
				rec.Faults = st.Faults
			}
		}
		subs = append(subs, rec)
		msgs := backlogs[name]
		slices.SortFunc(msgs, compareMessages)
		var lines []any
		for _, m := range msgs {
			line, err := pjson(m)
			if err != nil {
				return err
			}
			lines = append(lines, line)
		}
		if err := w.lines(backlogFile(name), lines); err != nil {
			return err
		}
	}
	if err := w.lines(topicsFile, topics); err != nil {
		return err
	}
	schemas, err := exportSchemas(ctx, pb.NewSchemaServiceClient(srv.Conn()), projectsOf(topicNames, subNames))
	if err != nil {
		return err
	}
	if err := w.lines(schemasFile, schemas); err != nil {
		return err
	}
	if err := w.lines(subscriptionsFile, subs); err != nil {
		return err
	}
	return w.finish()
}

// projectsOf are the projects of the names, each once.
func projectsOf(lists ...[]string) []string {
	var out []string
	for _, names := range lists {
		for _, name := range names {
			if p, _, _ := strings.Cut(strings.TrimPrefix(name, "projects/"), "/"); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// compareMessages orders by id (numerically when ids are numbers).
func compareMessages(a, b *pb.PubsubMessage) int {
	return cmp.Or(cmp.Compare(messageNumber(a.GetMessageId()), messageNumber(b.GetMessageId())), cmp.Compare(a.GetMessageId(), b.GetMessageId()))
}

// PubSubState is a loaded, validated Pub/Sub export.
type PubSubState struct {
	Dir           string
	Schemas       [][]*pb.Schema // each schema's revisions, oldest first
	Topics        []*pb.Topic
	Subscriptions []*pb.Subscription
	Faults        map[string]faults.Config // by subscription
	// Messages, by message id order; Subs are the subscriptions whose
	// backlog holds each.
	Messages []*BacklogMessage
	NextID   int
}

// BacklogMessage is a message and the subscriptions it is pending on.
type BacklogMessage struct {
	Topic   string
	Message *pb.PubsubMessage
	Subs    []string
}

// LoadPubSub reads and validates the export in dir: manifest, checksums,
// every record, and that subscriptions name exported topics and messages
// with one id agree. Nothing is applied.
func LoadPubSub(dir string) (*PubSubState, error) {
	r, err := open(dir, "pubsub")
	if err != nil {
		return nil, err
	}
	st := &PubSubState{Dir: dir, Faults: map[string]faults.Config{}, NextID: int(r.manifest.NextMessageID)}
	if st.Schemas, err = loadSchemas(r); err != nil {
		return nil, err
	}
	topics := map[string]bool{}
	err = each(r, topicsFile, false, func(_ int, raw *json.RawMessage) error {
		t := &pb.Topic{}
		if err := protojson.Unmarshal(*raw, t); err != nil {
			return err
		}
		if _, id := splitName(t.GetName(), "topics"); id == "" {
			return fmt.Errorf("bad topic name %q", t.GetName())
		}
		if topics[t.GetName()] {
			return fmt.Errorf("topic %s twice", t.GetName())
		}
		topics[t.GetName()] = true
		st.Topics = append(st.Topics, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	subTopic := map[string]string{}
	err = each(r, subscriptionsFile, false, func(_ int, rec *subscriptionRecord) error {
		s := &pb.Subscription{}
		if err := protojson.Unmarshal(rec.Subscription, s); err != nil {
			return err
		}
		if _, id := splitName(s.GetName(), "subscriptions"); id == "" {
			return fmt.Errorf("bad subscription name %q", s.GetName())
		}
		if !topics[s.GetTopic()] {
			return fmt.Errorf("subscription %s: topic %s is not in %s", s.GetName(), s.GetTopic(), topicsFile)
		}
		if _, dup := subTopic[s.GetName()]; dup {
			return fmt.Errorf("subscription %s twice", s.GetName())
		}
		if _, ok := r.manifest.Files[backlogFile(s.GetName())]; !ok {
			return fmt.Errorf("subscription %s: %s lists no %s", s.GetName(), ManifestFile, backlogFile(s.GetName()))
		}
		subTopic[s.GetName()] = s.GetTopic()
		st.Subscriptions = append(st.Subscriptions, s)
		if rec.Faults != nil {
			st.Faults[s.GetName()] = *rec.Faults
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]*BacklogMessage{}
	for _, s := range st.Subscriptions {
		name := backlogFile(s.GetName())
		err := each(r, name, false, func(_ int, raw *json.RawMessage) error {
			m := &pb.PubsubMessage{}
			if err := protojson.Unmarshal(*raw, m); err != nil {
				return err
			}
			if m.GetMessageId() == "" || m.GetPublishTime() == nil {
				return fmt.Errorf("a message needs messageId and publishTime")
			}
			bm := byID[m.GetMessageId()]
			if bm == nil {
				bm = &BacklogMessage{Topic: s.GetTopic(), Message: m}
				byID[m.GetMessageId()] = bm
				st.Messages = append(st.Messages, bm)
			} else if bm.Topic != s.GetTopic() || !proto.Equal(bm.Message, m) {
				return fmt.Errorf("message %s differs from the one with its id in another backlog", m.GetMessageId())
			}
			if slices.Contains(bm.Subs, s.GetName()) {
				return fmt.Errorf("message %s twice", m.GetMessageId())
			}
			bm.Subs = append(bm.Subs, s.GetName())
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(st.Messages, func(a, b *BacklogMessage) int { return compareMessages(a.Message, b.Message) })
	return st, nil
}

// applySubscriptions creates the subscriptions without their push
// endpoints. A dead-letter topic that was deleted after its subscription
// named it (production allows that) is created for the creation, which
// needs it, and deleted again.
func (st *PubSubState) applySubscriptions(ctx context.Context, pub pb.PublisherClient, sub pb.SubscriberClient) error {
	gone := map[string]bool{}
	for _, s := range st.Subscriptions {
		gone[s.GetDeadLetterPolicy().GetDeadLetterTopic()] = true
	}
	delete(gone, "")
	for _, t := range st.Topics {
		delete(gone, t.GetName())
	}
	for name := range gone {
		if _, err := pub.CreateTopic(ctx, &pb.Topic{Name: name}); err != nil {
			return fmt.Errorf("deleted dead-letter topic %s: %w", name, err)
		}
	}
	for _, s := range st.Subscriptions {
		bare := proto.Clone(s).(*pb.Subscription)
		bare.PushConfig = nil
		if _, err := sub.CreateSubscription(ctx, bare); err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("subscription %s: %w", s.GetName(), err)
		}
	}
	for name := range gone {
		if _, err := pub.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: name}); err != nil {
			return fmt.Errorf("deleted dead-letter topic %s: %w", name, err)
		}
	}
	return nil
}

// Apply creates the state in an emulator: schemas (every revision, in
// order; topics' revision ranges follow the new revision ids), topics and
// subscriptions through
// its API (AlreadyExists is left as it is), subscriptions first without
// their push endpoint, so nothing is delivered before the backlogs are in
// place; then the backlogs through the fidelity layer (each message with
// its id and publish time, pending on the subscriptions whose backlog held
// it, never delivered); then the push endpoints and the faults (reg may be
// nil). Call before the server is ready.
//
// Delivery counts start again from zero, leases are not kept (a message
// that was outstanding is available at once).
func (st *PubSubState) Apply(ctx context.Context, srv PubSubServer, reg *faults.Registry) error {
	pub, sub := pb.NewPublisherClient(srv.Conn()), pb.NewSubscriberClient(srv.Conn())
	revisions, err := applySchemas(ctx, pb.NewSchemaServiceClient(srv.Conn()), st.Schemas)
	if err != nil {
		return fmt.Errorf("import %s: %w", st.Dir, err)
	}
	for _, t := range st.Topics {
		if _, err := pub.CreateTopic(ctx, withRevisions(t, revisions)); err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("import %s: topic %s: %w", st.Dir, t.GetName(), err)
		}
	}
	if err := st.applySubscriptions(ctx, pub, sub); err != nil {
		return fmt.Errorf("import %s: %w", st.Dir, err)
	}
	restored := make([]pubsubfidelity.Restored, 0, len(st.Messages))
	for _, bm := range st.Messages {
		restored = append(restored, pubsubfidelity.Restored{Topic: bm.Topic, Msg: bm.Message, Subs: bm.Subs})
	}
	if err := srv.Restore(restored, int64(st.NextID)-1); err != nil {
		return fmt.Errorf("import %s: %w", st.Dir, err)
	}
	for _, s := range st.Subscriptions {
		if s.GetPushConfig().GetPushEndpoint() == "" {
			continue
		}
		_, err := sub.UpdateSubscription(ctx, &pb.UpdateSubscriptionRequest{
			Subscription: &pb.Subscription{Name: s.GetName(), PushConfig: s.GetPushConfig()},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}},
		})
		if err != nil {
			return fmt.Errorf("import %s: push config of %s: %w", st.Dir, s.GetName(), err)
		}
	}
	if reg != nil {
		for name, cfg := range st.Faults {
			reg.Set(name, cfg)
		}
	}
	return nil
}
