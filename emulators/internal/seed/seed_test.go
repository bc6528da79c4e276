package seed

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etl-pipeline/emulators/internal/faults"
)

const valid = `project = "p1"
stages = ["dev", "test"]

[bigtable]
instance = "inst"

[[bigtable.tables]]
name = "t_{stage}"
families.f = { max_versions = 2, max_age_seconds = 60 }
families.g = { max_age_seconds = 5 }

[[pubsub.topics]]
name = "events-{stage}"

[[pubsub.topics]]
name = "dead-{stage}"

[[pubsub.subscriptions]]
name = "sub-{stage}"
topic = "events-{stage}"
function = "receiver"
ack_deadline_seconds = 30
ordering = true
dead_letter = { topic = "dead-{stage}", max_delivery_attempts = 7 }
retry = { minimum_backoff_seconds = 0.5, maximum_backoff_seconds = 20 }

[[pubsub.subscriptions]]
name = "hook-{stage}"
topic = "events-{stage}"
type = "push"
push_endpoint = "http://localhost:9000/{project}/{stage}"
faults = { duplicate = 0.1, delay_ms = [0, 5000], delay_fraction = 0.1, shuffle = true, push_error = 0.2, early_redelivery = 0.05, seed = 7 }
oidc_token = { service_account_email = "pusher@{project}.iam.gserviceaccount.com", audience = "https://hook-{stage}" }
`

// mustParse parses text, read from source, failing the test on an error.
func mustParse(t *testing.T, text, source string) *Seed {
	t.Helper()
	s, err := Parse([]byte(text), source)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseExpandsPlaceholdersAndAppliesDefaults(t *testing.T) {
	s := mustParse(t, valid, "etl.toml")
	r := s.Resources("test", "other")
	if got := strings.Join(r.Topics, ","); got != "events-test,dead-test" {
		t.Errorf("topics %s", got)
	}
	sub, hook := r.Subscriptions[0], r.Subscriptions[1]
	want := Subscription{Name: "sub-test", Topic: "events-test", Function: "receiver", AckDeadlineSeconds: 30, Ordering: true}
	if sub.Name != want.Name || sub.Topic != want.Topic || sub.Function != want.Function || sub.AckDeadlineSeconds != 30 || !sub.Ordering {
		t.Errorf("subscription %+v", sub)
	}
	if *sub.DeadLetter != (DeadLetter{"dead-test", 7}) || *sub.Retry != (Retry{500 * time.Millisecond, 20 * time.Second}) {
		t.Errorf("policies %+v %+v", *sub.DeadLetter, *sub.Retry)
	}
	if hook.PushEndpoint != "http://localhost:9000/other/test" || hook.AckDeadlineSeconds != 60 || hook.Ordering || hook.DeadLetter != nil {
		t.Errorf("push subscription %+v", hook)
	}
	if o := hook.OidcToken; o == nil || *o != (OidcToken{"pusher@other.iam.gserviceaccount.com", "https://hook-test"}) || sub.OidcToken != nil {
		t.Errorf("oidc tokens %+v and %+v", hook.OidcToken, sub.OidcToken)
	}
	if r.Tables[0].Name != "t_test" || r.Tables[0].Families["f"] != (GCRule{2, 60}) || r.Tables[0].Families["g"] != (GCRule{0, 5}) {
		t.Errorf("table %+v", r.Tables[0])
	}
	if sub.Faults != nil {
		t.Errorf("faults without a faults entry: %+v", *sub.Faults)
	}
	wantFaults := faults.Config{Duplicate: 0.1, DelayMs: [2]int64{0, 5000}, DelayFraction: 0.1, Shuffle: true, PushError: 0.2, EarlyRedelivery: 0.05, Seed: 7}
	if hook.Faults == nil || *hook.Faults != wantFaults {
		t.Errorf("faults %+v, want %+v", hook.Faults, wantFaults)
	}
	if s.Subscriptions[0].Name != "sub-{stage}" {
		t.Error("Resources changed the seed")
	}
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, "[[pubsub.topics]]\nname = \"tt-{stage}\"\n[[pubsub.subscriptions]]\nname = \"sss\"\ntopic = \"tt-{stage}\"\ndead_letter = { topic = \"tt-{stage}\" }\nretry = { maximum_backoff_seconds = 30 }\n", "f.toml")
	if s.Project != "local-project" || s.Instance != "iotincoming" || strings.Join(s.Stages, ",") != "dev,test" {
		t.Errorf("file defaults: %+v", s)
	}
	sub := s.Subscriptions[0]
	if sub.DeadLetter.MaxDeliveryAttempts != 5 || sub.Retry.MinimumBackoff != 10*time.Second || sub.AckDeadlineSeconds != 60 {
		t.Errorf("subscription defaults: %+v %+v %+v", sub, *sub.DeadLetter, *sub.Retry)
	}
}

// The validation errors both readers give are in testdata/bad_etl_toml.json
// (shared_table_test.go), the faults' included; these come from the TOML
// decoder, which only Go has (the Python reader words unknown keys and wrong
// types its own way, faults' too: tests/unit/etl_harness/test_etl_toml.py).
func TestDecoderErrorsNameTheFileTheLineAndTheKey(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"toml syntax", `name = "dead-{stage}"`, `name = "dead-{stage}`, "etl.toml:16:"},
		{"unknown top-level key", `project = "p1"`, "project = \"p1\"\nprojet = 1", "etl.toml:2:1: projet: unknown key"},
		{"unknown entry key", `function = "receiver"`, "function = \"receiver\"\ncolour = 1", "etl.toml:22:1: pubsub.subscriptions.colour: unknown key"},
		{"unknown inline key", `max_delivery_attempts = 7 }`, `max_delivery_attempts = 7, x = 1 }`, "etl.toml:24:68: pubsub.subscriptions.x: unknown key"},
		{"wrong type", `ack_deadline_seconds = 30`, `ack_deadline_seconds = "30"`, "etl.toml:22:24: pubsub.subscriptions.ack_deadline_seconds: cannot decode TOML string"},
		{"fault unknown key", `shuffle = true`, `shufle = true`, `etl.toml:32:73: pubsub.subscriptions.shufle: unknown key`},
		{"fault wrong type", `shuffle = true`, `shuffle = 1`, `etl.toml:32:83: pubsub.subscriptions.faults: cannot decode TOML integer`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(valid, c.old, c.new, 1)
			if doc == valid {
				t.Fatalf("%q is not in the document", c.old)
			}
			_, err := Parse([]byte(doc), "etl.toml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v\nwant it to contain %s", err, c.want)
			}
		})
	}
}

func TestTheRepositorysSeedFileIsValid(t *testing.T) {
	const path = "../../../etl.toml"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no etl.toml beside emulators/")
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Topics) == 0 || len(s.Subscriptions) == 0 || len(s.Tables) == 0 {
		t.Errorf("empty seed: %+v", s)
	}
}

func TestLoadNamesAMissingFile(t *testing.T) {
	if _, err := Load("nope.toml"); err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("got %v", err)
	}
}

func TestPickProject(t *testing.T) {
	s := &Seed{Project: "file"}
	cases := []struct{ flag, env, want string }{
		{"flag", "env", "flag"},
		{"", "env", "env"},
		{"", "", "file"},
	}
	for _, c := range cases {
		t.Setenv("GOOGLE_CLOUD_PROJECT", c.env)
		if got := s.PickProject(c.flag); got != c.want {
			t.Errorf("PickProject(%q) with env %q = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
}

func TestFaultsDefaults(t *testing.T) {
	doc := "[[pubsub.topics]]\nname = \"ttt\"\n[[pubsub.subscriptions]]\nname = \"sss\"\ntopic = \"ttt\"\nfaults = { delay_ms = [10, 20] }\n"
	s := mustParse(t, doc, "f.toml")
	f := s.Subscriptions[0].Faults
	if f == nil || f.DelayFraction != 1 || f.DelayMs != [2]int64{10, 20} || f.Duplicate != 0 || f.Shuffle {
		t.Errorf("delay_ms alone: %+v", f)
	}
}
