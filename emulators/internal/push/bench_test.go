package push

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// BenchmarkPushDeliveryTo204Endpoint measures push throughput with the
// default configuration: each iteration publishes 5,000 messages (in
// requests of 1,000, production's limit) and waits until an endpoint that
// answers 204 at once has received them all and the dispatcher has acked
// them. It reports msgs/s and the Acknowledge calls made per message, and
// fails if a message was posted or acked more than once.
func BenchmarkPushDeliveryTo204Endpoint(b *testing.B) {
	const perRound, perPublish = 5000, 1000
	h := newHarness(b, Config{Logf: func(string, ...any) {}})
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	topic, _ := h.pushTo(srv.URL + "/push")

	want := int64(0)
	for b.Loop() {
		for range perRound / perPublish {
			h.publish(topic, messages(perPublish, nil)...)
		}
		want += perRound
		testserver.WaitFor(b, time.Minute, "every message delivered and acked", func() bool {
			return received.Load() >= want && h.calls.acked() >= int(want)
		})
	}
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(h.calls.count("Acknowledge"))/float64(want), "acks/msg")
	b.StopTimer()
	if got := received.Load(); got != want {
		b.Errorf("endpoint received %d requests for %d messages", got, want)
	}
	for _, m := range h.fake.Messages() {
		if m.Acks != 1 {
			b.Fatalf("message %s acked %d times", m.ID, m.Acks)
		}
	}
}
