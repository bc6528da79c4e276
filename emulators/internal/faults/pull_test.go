package faults_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"duplicate": 2}`, "faults.duplicate must be 0-1, got 2"},
		{`{"push_error": -0.1}`, "faults.push_error must be 0-1, got -0.1"},
		{`{"delay_fraction": 0.5}`, "faults.delay_fraction needs delay_ms"},
		{`{"delay_ms": [10]}`, "faults.delay_ms must be [low, high] in ms, got 1 numbers"},
		{`{"delay_ms": [10, 5]}`, "got [10, 5]"},
		{`{"delay_ms": [0, 300001]}`, "high <= 300000"},
		{`{"colour": 1}`, `unknown field "colour"`},
		{`{"shuffle": 1}`, "cannot unmarshal number"},
	}
	for _, c := range cases {
		if _, err := faults.ParseJSON([]byte(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.body, err, c.want)
		}
	}
	cfg, err := faults.ParseJSON([]byte(`{"delay_ms": [5, 9], "duplicate": 0.5, "seed": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (faults.Config{DelayMs: [2]int64{5, 9}, DelayFraction: 1, Duplicate: 0.5, Seed: 3}); cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
	a, _ := faults.ParseJSON([]byte(`{}`))
	b, _ := faults.ParseJSON([]byte(`{}`))
	c, _ := faults.ParseJSON([]byte(`{}`))
	if a.Seed == b.Seed && b.Seed == c.Seed {
		t.Errorf("no seed given: three configs drew the same seed %d", a.Seed)
	}
}

// Each fault fires on about its fraction of deliveries.
func TestFractionIsHonoured(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("frac", nil, &faults.Config{Duplicate: 0.2, Seed: 1})
	const n = 2000
	e.publish(sub, n, "")
	var got []*pb.ReceivedMessage
	for len(got) < n*11/10 {
		batch := e.pull(sub, 1000)
		if len(batch) == 0 {
			break
		}
		got = append(got, batch...)
		e.ack(sub, batch)
	}
	dups := len(got) - n
	if math.Abs(float64(dups)-0.2*n) > 0.05*n {
		t.Errorf("%d duplicates of %d messages, want about %d", dups, n, n/5)
	}
	if c := e.fired(sub).Duplicate; c != int64(dups) {
		t.Errorf("duplicate counted %d, delivered %d", c, dups)
	}
}

func TestPullDuplicate(t *testing.T) {
	e, sub, published := newPublished(t, "dup", faults.Config{Duplicate: 1, Seed: 1}, 3)
	got := e.pull(sub, 100)
	if c := count(ids(got)); len(got) != 6 || c[published[0]] != 2 || c[published[1]] != 2 || c[published[2]] != 2 {
		t.Fatalf("pulled %v, want each of %v twice", ids(got), published)
	}
	for i := 0; i < len(got); i += 2 {
		orig, dup := got[i], got[i+1]
		if !faults.Extra(dup.GetAckId()) || faults.Original(dup.GetAckId()) != orig.GetAckId() || string(dup.GetMessage().GetData()) != string(orig.GetMessage().GetData()) || dup.GetMessage().GetAttributes()["i"] != orig.GetMessage().GetAttributes()["i"] {
			t.Errorf("copy %v of %v", dup, orig)
		}
	}
	// Acking the copies alone acks the messages.
	var copies []*pb.ReceivedMessage
	for i := 1; i < len(got); i += 2 {
		copies = append(copies, got[i])
	}
	e.ack(sub, copies)
	for _, id := range published {
		if !e.acked(id) {
			t.Errorf("message %s not acked through its copy", id)
		}
	}
	if c := e.fired(sub).Duplicate; c != 3 {
		t.Errorf("duplicate fired %d times, want 3", c)
	}
	// max_messages holds: copies beyond it come with the next pull.
	e.publish(sub, 2, "")
	first, second := e.pull(sub, 3), e.pull(sub, 3)
	if len(first) != 3 || len(second) != 1 {
		t.Errorf("max_messages 3: pulled %d then %d, want 3 then 1", len(first), len(second))
	}
}

func TestPullDelay(t *testing.T) {
	e, sub, published := newPublished(t, "delay", faults.Config{DelayMs: [2]int64{300, 300}, DelayFraction: 1, Seed: 1}, 2)
	start := time.Now()
	if got := e.pull(sub, 10); len(got) != 0 {
		t.Fatalf("delayed messages delivered at once: %v", ids(got))
	}
	var got []*pb.ReceivedMessage
	for len(got) < 2 && time.Since(start) < 5*time.Second {
		got = append(got, e.pull(sub, 10)...)
		time.Sleep(10 * time.Millisecond)
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("delivered after %s, want >= 300ms", elapsed)
	}
	if !slices.Equal(sortedIDs(got), sortedIDs2(published)) {
		t.Fatalf("got %v, want %v once each", ids(got), published)
	}
	e.ack(sub, got)
	if s, _ := e.reg.Get(sub); s.Fired.Delay != 2 || s.Held != 0 {
		t.Errorf("status %+v, want 2 delays, nothing held", s)
	}
	// Held messages keep their lease: nothing is delivered twice.
	if again := e.pull(sub, 10); len(again) != 0 {
		t.Errorf("redelivered %v", ids(again))
	}
}

func TestPullDelayRange(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("range", nil, &faults.Config{DelayMs: [2]int64{0, 400}, DelayFraction: 0.5, Seed: 5})
	e.publish(sub, 40, "")
	first := e.pull(sub, 100)
	if len(first) == 0 || len(first) == 40 {
		t.Fatalf("delay_fraction 0.5 delivered %d of 40 at once", len(first))
	}
	got := len(first)
	testserver.WaitFor(t, 5*time.Second, "the delayed messages", func() bool {
		got += len(e.pull(sub, 100))
		return got == 40
	})
	if c := e.fired(sub).Delay; c != int64(40-len(first)) {
		t.Errorf("delay counted %d, held %d", c, 40-len(first))
	}
}

func TestPullShuffle(t *testing.T) {
	run := func() ([]string, int64) {
		e := newEnv(t)
		sub := e.subscription("shuffle", nil, &faults.Config{Shuffle: true, Seed: 42})
		e.publish(sub, 30, "")
		var order []string
		// Whole batches: pstest picks a random subset for a smaller
		// max_messages (it walks a map), which no seed controls.
		for range 20 {
			batch := e.pull(sub, 1000)
			order = append(order, ids(batch)...)
			e.ack(sub, batch)
		}
		return order, e.fired(sub).Shuffle
	}
	first, deferred := run()
	if len(first) != 30 || len(count(first)) != 30 {
		t.Fatalf("got %d messages (%d distinct), want 30 once each", len(first), len(count(first)))
	}
	if deferred == 0 {
		t.Error("shuffle deferred nothing")
	}
	// Some message published later is delivered before an earlier one.
	inverted := false
	for i := 1; i < len(first); i++ {
		if num(first[i]) < num(first[i-1]) {
			inverted = true
		}
	}
	if !inverted {
		t.Errorf("delivered in publish order: %v", first)
	}
	// The same seed and publishes give the same deliveries.
	if second, _ := run(); !slices.Equal(first, second) {
		t.Errorf("seed 42 gave %v, then %v", first, second)
	}
}

func TestPullEarlyRedelivery(t *testing.T) {
	e, sub, published := newPublished(t, "early", faults.Config{EarlyRedelivery: 1, Seed: 1}, 1)
	first := e.pull(sub, 10)
	if len(first) != 1 {
		t.Fatalf("pulled %d", len(first))
	}
	// Not acked, well within its 30 s deadline: the next pull has it again.
	second := e.pull(sub, 10)
	if len(second) != 1 || second[0].GetMessage().GetMessageId() != published[0] || !strings.HasSuffix(second[0].GetAckId(), "#early") {
		t.Fatalf("second pull %v, want %s again, marked", second, published[0])
	}
	e.reg.Clear(sub)
	e.ack(sub, first) // stale: its lease was ended
	if e.acked(published[0]) {
		t.Error("an ack of the expired delivery acked the message")
	}
	e.ack(sub, second)
	if !e.acked(published[0]) {
		t.Error("an ack of the redelivery did not ack the message")
	}
	// A delivery a fault added gets no fault itself (no endless loop at 1).
	if c := e.fired(sub).EarlyRedelivery; c != 1 {
		t.Errorf("early_redelivery fired %d times, want 1", c)
	}
}

// The same seed replays the same faults on the same messages; another
// seed does not.
func TestSeedReplays(t *testing.T) {
	run := func(seed int64) string {
		e := newEnv(t)
		sub := e.subscription("replay", nil, &faults.Config{Duplicate: 0.3, EarlyRedelivery: 0.2, Seed: seed})
		e.publish(sub, 50, "")
		var out []string
		for range 10 {
			batch := e.pull(sub, 1000)
			for _, m := range batch {
				out = append(out, m.GetAckId())
			}
			e.ack(sub, batch)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Errorf("seed 7 twice:\n%s\n%s", a, b)
	}
	if a == c {
		t.Error("seeds 7 and 8 fired the same faults")
	}
}

// With ordering keys, delay, duplicate and shuffle keep each key's order.
func TestPullOrderingKeysKeepTheirOrder(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("ordered", &pb.Subscription{EnableMessageOrdering: true},
		&faults.Config{Duplicate: 0.5, Shuffle: true, DelayMs: [2]int64{0, 50}, DelayFraction: 0.5, Seed: 3})
	var want []string
	for k := range 4 {
		want = append(want, e.publish(sub, 5, fmt.Sprintf("k%d", k))...)
	}
	seen := map[string]bool{}
	var firsts []string
	testserver.WaitFor(t, 5*time.Second, "every message", func() bool {
		batch := e.pull(sub, 7)
		for _, m := range batch {
			if id := m.GetMessage().GetMessageId(); !seen[id] {
				seen[id] = true
				firsts = append(firsts, m.GetMessage().GetOrderingKey()+"/"+string(m.GetMessage().GetData()))
			}
		}
		e.ack(sub, batch)
		return len(seen) == len(want)
	})
	last := map[string]int{}
	for _, f := range firsts {
		key, data, _ := strings.Cut(f, "/")
		if n := num(data); n < last[key] {
			t.Errorf("key %s: %s after %d in %v", key, data, last[key], firsts)
		} else {
			last[key] = n
		}
	}
	if s := e.fired(sub); s.Duplicate == 0 || s.Delay == 0 {
		t.Errorf("faults did not fire: %+v", s)
	}
}

func num(s string) int {
	n := 0
	fmt.Sscan(strings.TrimPrefix(s, "m"), &n)
	return n
}

func sortedIDs(msgs []*pb.ReceivedMessage) []string { return slices.Sorted(slices.Values(ids(msgs))) }
func sortedIDs2(list []string) []string             { return slices.Sorted(slices.Values(list)) }

func TestFaultsSetWhileAPullWaitsApplyToWhatItReturns(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("late", nil, nil)
	got := make(chan []*pb.ReceivedMessage, 1)
	go func() {
		resp, err := e.sub.Pull(context.Background(), &pb.PullRequest{Subscription: sub, MaxMessages: 100})
		if err != nil {
			t.Error(err)
		}
		got <- resp.GetReceivedMessages()
	}()
	time.Sleep(200 * time.Millisecond) // the pull is waiting for messages by now
	e.reg.Set(sub, faults.Config{Duplicate: 1, Seed: 1})
	published := e.publish(sub, 2, "")
	msgs := <-got
	if c := count(ids(msgs)); len(msgs) != 4 || c[published[0]] != 2 || c[published[1]] != 2 {
		t.Fatalf("pulled %v, want each of %v twice", ids(msgs), published)
	}
	if c := e.fired(sub).Duplicate; c != 2 {
		t.Errorf("duplicate fired %d times, want 2", c)
	}
}

// Copies beyond max_messages wait for the next pull without being decided
// again: each message is duplicated once however the pulls are sized.
func TestOverflowIsDecidedOnce(t *testing.T) {
	e, sub, published := newPublished(t, "over", faults.Config{Duplicate: 1, Seed: 1}, 3)
	var got []*pb.ReceivedMessage
	for range 4 {
		batch := e.pull(sub, 4)
		got = append(got, batch...)
		e.ack(sub, batch)
	}
	c := count(ids(got))
	for _, id := range published {
		if c[id] != 2 {
			t.Errorf("message %s delivered %d times, want 2 (itself and one copy): %v", id, c[id], ids(got))
		}
	}
	if n := e.fired(sub).Duplicate; n != 3 {
		t.Errorf("duplicate counted %d, want 3", n)
	}
}
