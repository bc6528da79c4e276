// Package push delivers the messages of push subscriptions held by a Pub/Sub
// emulator that only stores push configs (pstest), the way the real service
// would: an HTTP POST per message to the subscription's push endpoint, acked
// on a 2xx answer (the acks sent in batches), redelivered with exponential
// backoff otherwise, one outstanding message per ordering key, and forwarded
// to the dead-letter topic after the maximum number of attempts. Each
// subscription's deliveries in flight follow a window that starts small and
// grows with success (production's push flow control).
//
// The dispatcher is an ordinary Pub/Sub client of the emulator: it lists
// subscriptions, pulls, acks, nacks (ModifyAckDeadline 0) and publishes
// through the gRPC API, so all message state stays in the emulator and pull
// subscribers see the same semantics.
package push

import (
	"context"
	"log"
	"net/http"
	"slices"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/grpcrecover"
)

// Config tunes the dispatcher; zero fields take the defaults below.
type Config struct {
	// Concurrency bounds the HTTP deliveries in flight across all
	// subscriptions, and each subscription's push window (default 64).
	Concurrency int
	// InitialWindow is the deliveries a subscription may have in flight at
	// first (default 4); as in production's push flow control, the window
	// grows by one with every successful delivery and halves on a failure.
	InitialWindow int
	// PollInterval is how often an idle push subscription is pulled
	// (default 25ms): the latency from publish to delivery.
	PollInterval time.Duration
	// ResyncInterval is how often the subscription list is re-read to pick up
	// created, modified and deleted subscriptions (default 250ms); Refresh
	// forces an immediate re-read.
	ResyncInterval time.Duration
	// MinBackoff and MaxBackoff bound redelivery backoff for subscriptions
	// without a retry policy (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient posts the messages (default: a client with a connection pool
	// sized for Concurrency and no overall timeout; the ack deadline is the
	// per-request timeout).
	HTTPClient *http.Client
	// LocalhostAlias, when set, replaces the host of push endpoints that
	// name the loopback interface (localhost, 127.0.0.1, ::1), port kept.
	// In a container, "host.docker.internal" makes endpoints registered as
	// http://localhost:PORT/... reach the Docker host, as they would natively.
	LocalhostAlias string
	// Faults, when set, may answer a push request as failed after the
	// endpoint was called (internal/faults' push_error).
	Faults interface {
		PushError(subscription, messageID string, attempt int) bool
	}
	// Tokens, when set, signs the "Authorization: Bearer" token of push
	// requests of subscriptions with an oidc_token (internal/pushauth).
	Tokens Tokens
	// Logf reports failed deliveries and dead-lettering (default log.Printf).
	Logf func(format string, args ...any)

	// ackInterval is how long an ack may wait for others to be sent with
	// (default defaultAckInterval); tests lengthen it.
	ackInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.InitialWindow <= 0 {
		c.InitialWindow = 4
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 25 * time.Millisecond
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = 250 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(10*time.Second, c.MinBackoff)
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.Concurrency
		c.HTTPClient = &http.Client{Transport: t}
	}
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	if c.ackInterval <= 0 {
		c.ackInterval = defaultAckInterval
	}
	return c
}

// Dispatcher runs one worker per push subscription.
type Dispatcher struct {
	cfg     Config
	sub     pb.SubscriberClient
	pub     pb.PublisherClient
	slots   chan struct{} // a token per delivery in flight
	refresh chan struct{}
}

// New returns a dispatcher that drives the emulator behind conn.
func New(conn grpc.ClientConnInterface, cfg Config) *Dispatcher {
	cfg = cfg.withDefaults()
	return &Dispatcher{
		cfg:     cfg,
		sub:     pb.NewSubscriberClient(conn),
		pub:     pb.NewPublisherClient(conn),
		slots:   make(chan struct{}, cfg.Concurrency),
		refresh: make(chan struct{}, 1),
	}
}

// Refresh asks the dispatcher to re-read the subscription list now rather
// than at the next resync tick. It never blocks.
func (d *Dispatcher) Refresh() {
	select {
	case d.refresh <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is cancelled, then cancels deliveries in flight,
// acks the messages delivered, nacks the others it holds and returns once
// every goroutine it started has ended.
func (d *Dispatcher) Run(ctx context.Context) {
	ws := &workers{active: map[string]*worker{}}
	defer ws.stopAll()
	tick := time.NewTicker(d.cfg.ResyncInterval)
	defer tick.Stop()
	for {
		grpcrecover.Run("push resync", func() { d.resync(ctx, ws) })
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.refresh:
		}
	}
}

// workers are Run's push workers; only Run's goroutine touches them.
type workers struct {
	active map[string]*worker // by subscription
	// retiring have left active and may still be finishing deliveries
	// (their subscription turned into a pull one, or their run loop ended).
	retiring []*worker
	wg       sync.WaitGroup
}

// resync starts a worker for every new push subscription, hands current
// configs to running workers (deliveries in flight keep the config they
// started with), retires the workers of subscriptions turned into pull ones
// and stops those of subscriptions deleted or detached.
func (d *Dispatcher) resync(ctx context.Context, ws *workers) {
	subs, err := d.listSubscriptions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logf("push: listing subscriptions: %v", err)
		}
		return
	}
	for name, sub := range subs {
		if sub.GetPushConfig().GetPushEndpoint() == "" {
			continue
		}
		if w, ok := ws.active[name]; ok && !w.stopped() {
			w.config.Store(sub)
			continue
		}
		ws.start(newWorker(ctx, d, sub))
	}
	for name, w := range ws.active {
		if sub, ok := subs[name]; !ok {
			w.stop()
			delete(ws.active, name)
		} else if sub.GetPushConfig().GetPushEndpoint() == "" {
			ws.retire(w)
		}
	}
	ws.retiring = slices.DeleteFunc(ws.retiring, func(w *worker) bool {
		if _, ok := subs[w.name]; !ok {
			w.stop() // deleted while finishing: cancel what is left
		}
		return w.ended()
	})
}

// start runs w in place of the subscription's previous worker, which has
// stopped or is ending and is kept among the retiring.
func (ws *workers) start(w *worker) {
	if old, ok := ws.active[w.name]; ok {
		ws.retire(old)
	}
	ws.active[w.name] = w
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		defer close(w.done)
		// A panic ends this worker (its shutdown hands its messages
		// back); the next resync starts a new one.
		grpcrecover.Run("push worker "+w.name, w.run)
	}()
}

// retire lets w finish its deliveries in flight, out of the active set.
func (ws *workers) retire(w *worker) {
	w.retire()
	delete(ws.active, w.name)
	ws.retiring = append(ws.retiring, w)
}

// stopAll stops every worker, deliveries in flight cancelled, and waits for
// them to end.
func (ws *workers) stopAll() {
	for _, w := range ws.active {
		w.stop()
	}
	for _, w := range ws.retiring {
		w.stop()
	}
	ws.wg.Wait()
}

// listSubscriptions returns the subscriptions of every project, push and
// pull, detached ones left out: pstest matches the project as a name prefix,
// so an empty project lists them all.
func (d *Dispatcher) listSubscriptions(ctx context.Context) (map[string]*pb.Subscription, error) {
	subs := map[string]*pb.Subscription{}
	req := &pb.ListSubscriptionsRequest{PageSize: 1000}
	for {
		resp, err := d.sub.ListSubscriptions(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, s := range resp.GetSubscriptions() {
			if !s.GetDetached() {
				subs[s.GetName()] = s
			}
		}
		if resp.GetNextPageToken() == "" {
			return subs, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}
