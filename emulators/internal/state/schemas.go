package state

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// schemasFile holds the Pub/Sub schemas, one per line with every revision;
// exports made before schemas were kept have none, which is fine.
const schemasFile = "schemas.jsonl"

// schemaRecord is a line of schemas.jsonl: a schema's revisions, oldest
// first, each a google.pubsub.v1.Schema as proto JSON.
type schemaRecord struct {
	Revisions []json.RawMessage `json:"revisions"`
}

// exportSchemas reads every schema of the projects (by name) with all its
// revisions through the schema API.
func exportSchemas(ctx context.Context, sc pb.SchemaServiceClient, projects []string) ([]any, error) {
	seen := map[string]bool{}
	var names []string
	for _, p := range projects {
		resp, err := sc.ListSchemas(ctx, &pb.ListSchemasRequest{Parent: "projects/" + p, PageSize: 1000})
		if err != nil {
			return nil, fmt.Errorf("export schemas of %s: %w", p, err)
		}
		for _, s := range resp.GetSchemas() {
			if !seen[s.GetName()] {
				seen[s.GetName()] = true
				names = append(names, s.GetName())
			}
		}
	}
	slices.Sort(names)
	var lines []any
	for _, name := range names {
		resp, err := sc.ListSchemaRevisions(ctx, &pb.ListSchemaRevisionsRequest{Name: name, View: pb.SchemaView_FULL})
		if err != nil {
			return nil, fmt.Errorf("export schema %s: %w", name, err)
		}
		var rec schemaRecord
		for _, rev := range resp.GetSchemas() {
			line, err := pjson(rev)
			if err != nil {
				return nil, err
			}
			rec.Revisions = append(rec.Revisions, line)
		}
		lines = append(lines, rec)
	}
	return lines, nil
}

// loadSchemas reads schemas.jsonl, if the export has one.
func loadSchemas(r *reader) ([][]*pb.Schema, error) {
	var out [][]*pb.Schema
	err := each(r, schemasFile, true, func(_ int, rec *schemaRecord) error {
		var revisions []*pb.Schema
		for _, raw := range rec.Revisions {
			s := &pb.Schema{}
			if err := protojson.Unmarshal(raw, s); err != nil {
				return err
			}
			if len(revisions) > 0 && s.GetName() != revisions[0].GetName() {
				return fmt.Errorf("revisions of %s and %s on one line", revisions[0].GetName(), s.GetName())
			}
			revisions = append(revisions, s)
		}
		if len(revisions) == 0 {
			return fmt.Errorf("a schema without revisions")
		}
		out = append(out, revisions)
		return nil
	})
	return out, err
}

// applySchemas creates each schema from its first revision and commits the
// others in order. The emulator gives revisions new ids; the returned map
// takes each exported id to its new one. A schema that exists already is
// left as it is.
func applySchemas(ctx context.Context, sc pb.SchemaServiceClient, schemas [][]*pb.Schema) (map[string]string, error) {
	ids := map[string]string{}
	for _, revisions := range schemas {
		name := revisions[0].GetName()
		parent, id := splitName(name, "schemas")
		created, err := sc.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/" + parent, SchemaId: id, Schema: definitionOf(revisions[0])})
		if status.Code(err) == codes.AlreadyExists {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		ids[revisions[0].GetRevisionId()] = created.GetRevisionId()
		for _, rev := range revisions[1:] {
			committed, err := sc.CommitSchema(ctx, &pb.CommitSchemaRequest{Name: name, Schema: definitionOf(rev)})
			if err != nil {
				return nil, fmt.Errorf("schema %s revision %s: %w", name, rev.GetRevisionId(), err)
			}
			ids[rev.GetRevisionId()] = committed.GetRevisionId()
		}
	}
	return ids, nil
}

func definitionOf(s *pb.Schema) *pb.Schema {
	return &pb.Schema{Type: s.GetType(), Definition: s.GetDefinition()}
}

// withRevisions is t with its schema settings' revision ids renamed by ids.
func withRevisions(t *pb.Topic, ids map[string]string) *pb.Topic {
	settings := t.GetSchemaSettings()
	if settings == nil {
		return t
	}
	t = proto.Clone(t).(*pb.Topic)
	if id, ok := ids[settings.GetFirstRevisionId()]; ok {
		t.SchemaSettings.FirstRevisionId = id
	}
	if id, ok := ids[settings.GetLastRevisionId()]; ok {
		t.SchemaSettings.LastRevisionId = id
	}
	return t
}
