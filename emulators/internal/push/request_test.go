package push

import (
	"context"
	"io"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestUnwrappedPushSendsRawDataAndAttributesAsHeaders(t *testing.T) {
	req, err := newRequest(context.Background(), delivery{
		subscription: "projects/p/subscriptions/s",
		endpoint:     "http://example.test/push",
		config: &pb.PushConfig{Wrapper: &pb.PushConfig_NoWrapper_{
			NoWrapper: &pb.PushConfig_NoWrapper{WriteMetadata: true},
		}},
		message: &pb.PubsubMessage{
			Data: []byte("raw"), Attributes: map[string]string{"site": "s1"}, MessageId: "m7",
			PublishTime: timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	want := map[string]string{
		"site":                            "s1",
		"x-goog-pubsub-message-id":        "m7",
		"x-goog-pubsub-subscription-name": "projects/p/subscriptions/s",
		"x-goog-pubsub-publish-time":      "2025-01-02T03:04:05Z",
	}
	for k, v := range want {
		if got := req.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if string(body) != "raw" {
		t.Errorf("body %q, want the raw data", body)
	}
}

func TestOnlyLoopbackEndpointsAreAliased(t *testing.T) {
	cases := map[string]string{
		"http://localhost:8080/projects/p/topics/t": "http://host.docker.internal:8080/projects/p/topics/t",
		"http://127.0.0.1:9/x":                      "http://host.docker.internal:9/x",
		"http://[::1]:9/x":                          "http://host.docker.internal:9/x",
		"https://localhost/x":                       "https://host.docker.internal/x",
		"http://functions:8080/x":                   "http://functions:8080/x",
		"http://10.0.0.1:8080/x":                    "http://10.0.0.1:8080/x",
	}
	for in, want := range cases {
		if got := aliasLocalhost(in, "host.docker.internal"); got != want {
			t.Errorf("aliasLocalhost(%q) = %q, want %q", in, got, want)
		}
	}
	if got := aliasLocalhost("http://localhost:1/x", ""); got != "http://localhost:1/x" {
		t.Errorf("no alias configured, but endpoint became %q", got)
	}
}

func TestBackoffDoublesFromTheRetryPolicyMinimumUpToItsMaximum(t *testing.T) {
	sub := &pb.Subscription{RetryPolicy: &pb.RetryPolicy{
		MinimumBackoff: durationpb.New(time.Second), MaximumBackoff: durationpb.New(5 * time.Second),
	}}
	var got []time.Duration
	for failures := 1; failures <= 5; failures++ {
		got = append(got, backoff(sub, failures, time.Millisecond, time.Millisecond))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoffs %v, want %v", got, want)
		}
	}
	if d := backoff(&pb.Subscription{RetryPolicy: &pb.RetryPolicy{}}, 1, time.Millisecond, time.Millisecond); d != 10*time.Second {
		t.Errorf("empty retry policy: first backoff %s, want the API default 10s", d)
	}
	if d := backoff(&pb.Subscription{}, 3, 100*time.Millisecond, time.Second); d != 400*time.Millisecond {
		t.Errorf("no retry policy: third backoff %s, want 400ms from the fallback", d)
	}
}
