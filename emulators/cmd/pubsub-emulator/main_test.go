package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/etl-pipeline/emulators/internal/cli"
	"github.com/etl-pipeline/emulators/internal/cli/clitest"
	"github.com/etl-pipeline/emulators/internal/pushauth"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

const seedFile = `project = "file-project"
stages = ["dev"]

[[pubsub.topics]]
name = "events-{stage}"

[[pubsub.subscriptions]]
name = "worker-{stage}"
topic = "events-{stage}"
faults = { duplicate = 0.5, seed = 3 }
`

const listening = "pubsub emulator listening on "

// start runs the command on a free loopback port.
func start(t *testing.T, args ...string) *clitest.Command {
	return clitest.Start(t, run, append([]string{"--host", "127.0.0.1", "--port", "0", "--quiet"}, args...)...)
}

func TestPrintsOneReadinessLineServesAndExitsCleanlyOnSIGTERM(t *testing.T) {
	e := start(t)
	conn := testserver.Dial(t, e.Line(listening))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// No WaitForReady: the line promises the server already answers.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check right after the readiness line: %v %v", resp, err)
	}
	e.Stop()
}

func TestSeedsBeforeReadyAndServesTheAdminAPI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etl.toml")
	if err := os.WriteFile(path, []byte(seedFile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_CLOUD_PROJECT", "env-project")
	e := start(t, "--seed", path, "--project=flag-project", "--admin-port=0")
	conn := testserver.Dial(t, e.Line(listening))
	admin := e.Line("pubsub emulator admin on ")

	topics, err := pb.NewPublisherClient(conn).ListTopics(context.Background(), &pb.ListTopicsRequest{Project: "projects/flag-project"})
	if err != nil || len(topics.GetTopics()) != 1 || topics.GetTopics()[0].GetName() != "projects/flag-project/topics/events-dev" {
		t.Fatalf("topics right after the readiness line: %v, %v", topics, err)
	}
	resp, err := http.Get("http://" + admin + "/v1/subscriptions?project=flag-project")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Subscriptions []struct {
			Name, Topic string
			Faults      *struct {
				Duplicate float64
				Seed      int64
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Subscriptions) != 1 ||
		body.Subscriptions[0].Name != "projects/flag-project/subscriptions/worker-dev" ||
		body.Subscriptions[0].Faults == nil || body.Subscriptions[0].Faults.Duplicate != 0.5 || body.Subscriptions[0].Faults.Seed != 3 {
		t.Fatalf("admin subscriptions: %+v, %v", body, err)
	}
	e.Stop()
}

func TestBadInputExitsWithStatus2BeforeListening(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte(strings.Replace(seedFile, `topic = "events-{stage}"`, `topic = "nope"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	clitest.RefusesBadInput(t, run, []clitest.BadInput{
		{Name: "invalid seed file", Args: []string{"--seed", bad}, Want: bad + `:9: pubsub.subscriptions[0] "worker-{stage}": topic "nope" is not declared`},
		{Name: "missing seed file", Args: []string{"--seed", bad + ".gone"}, Want: "bad.toml.gone"},
		{Name: "admin port", Args: []string{"--admin-port=-2"}, Want: "--admin-port"},
		{Name: "unknown flag", Args: []string{"--colour"}, Want: "colour"},
	})
}

func TestExportOnDemandOnExitAndImport(t *testing.T) {
	onDemand, onExit := t.TempDir(), t.TempDir()
	e := start(t, "--admin-port=0", "--export-on-exit", onExit)
	conn := testserver.Dial(t, e.Line(listening))
	admin := e.Line("pubsub emulator admin on ")
	ctx := context.Background()
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	if _, err := pub.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/things"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/stuff", Topic: "projects/p/topics/things", AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, &pb.PublishRequest{Topic: "projects/p/topics/things", Messages: []*pb.PubsubMessage{{Data: []byte("kept"), Attributes: map[string]string{"a": "b"}}}}); err != nil {
		t.Fatal(err)
	}
	clitest.Export(t, admin, onDemand)
	if resp, err := http.Post("http://"+admin+"/v1/export?dir=relative", "", nil); err != nil || resp.StatusCode != 400 {
		t.Errorf("relative dir: %v %v", resp, err)
	}
	e.Stop()

	for _, dir := range []string{onDemand, onExit} {
		e := start(t, "--import", dir)
		conn := testserver.Dial(t, e.Line(listening))
		got, err := pb.NewSubscriberClient(conn).Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/stuff", MaxMessages: 10, ReturnImmediately: true})
		if err != nil || len(got.GetReceivedMessages()) != 1 {
			t.Fatalf("%s: pull after import: %v %v", dir, got, err)
		}
		m := got.GetReceivedMessages()[0].GetMessage()
		if string(m.GetData()) != "kept" || m.GetAttributes()["a"] != "b" || m.GetMessageId() != "1" {
			t.Errorf("%s: imported message %v", dir, m)
		}
		e.Stop()
	}

	// Corrupt or missing: exit status 2 before listening.
	os.WriteFile(filepath.Join(onExit, "topics.jsonl"), []byte("{}\n"), 0o644)
	for _, dir := range []string{onExit, t.TempDir()} {
		var stdout strings.Builder
		err := run([]string{"--port=0", "--import", dir}, &stdout, nil)
		if cli.ExitCode(err) != 2 || stdout.Len() > 0 {
			t.Errorf("--import %s: %v (status %d), stdout %q", dir, err, cli.ExitCode(err), stdout.String())
		}
	}
}

func TestAdminServesThePushAuthCertificatesAndTokens(t *testing.T) {
	e := start(t, "--admin-port=0")
	e.Line(listening)
	admin := "http://" + e.Line("pubsub emulator admin on ")
	var certs map[string]string
	if resp, err := http.Get(admin + pushauth.CertsPath); err != nil || resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&certs) != nil || len(certs) != 1 {
		t.Fatalf("certs: %v %v", certs, err)
	}
	resp, err := http.Post(admin+pushauth.TokenPath, "application/json", strings.NewReader(`{"service_account_email": "a@p.iam.gserviceaccount.com", "audience": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var token struct{ Kid string }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&token) != nil || certs[token.Kid] == "" {
		t.Fatalf("token: %d, kid %q not among the certificates %v", resp.StatusCode, token.Kid, certs)
	}
	e.Stop()
}
