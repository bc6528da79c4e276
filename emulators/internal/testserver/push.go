package testserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// PushRequest is one request a PushEndpoint received: its wrapped push
// body decoded, and when it arrived.
type PushRequest struct {
	Message struct {
		Data             []byte            `json:"data"`
		Attributes       map[string]string `json:"attributes"`
		MessageID        string            `json:"messageId"`
		MessageIDSnake   string            `json:"message_id"`
		PublishTime      string            `json:"publishTime"`
		PublishTimeSnake string            `json:"publish_time"`
		OrderingKey      string            `json:"orderingKey"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt *int   `json:"deliveryAttempt"`

	Raw     map[string]any `json:"-"` // the body as sent, to tell a field left out from an empty one
	Arrived time.Time      `json:"-"`
	Seen    int            `json:"-"` // how many times this message id has arrived, this one included
}

// PushEndpoint is an httptest push endpoint (closed when its test ends)
// that records every request, then answers with the status respond returns
// (200 when respond is nil). It fails the test on a body that is not JSON.
type PushEndpoint struct {
	*httptest.Server
	t       testing.TB
	respond func(r *PushRequest, req *http.Request) int

	mu       sync.Mutex
	reqs     []*PushRequest
	times    map[string]int
	inFlight int
	most     int
}

// NewPushEndpoint starts a PushEndpoint answering with respond.
func NewPushEndpoint(t testing.TB, respond func(r *PushRequest, req *http.Request) int) *PushEndpoint {
	e := &PushEndpoint{t: t, respond: respond, times: map[string]int{}}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func (e *PushEndpoint) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r := &PushRequest{Arrived: time.Now()}
	if err := json.Unmarshal(body, r); err != nil {
		e.t.Errorf("push body is not JSON: %v: %s", err, body)
	}
	_ = json.Unmarshal(body, &r.Raw)
	e.mu.Lock()
	e.times[r.Message.MessageID]++
	r.Seen = e.times[r.Message.MessageID]
	e.reqs = append(e.reqs, r)
	e.inFlight++
	e.most = max(e.most, e.inFlight)
	e.mu.Unlock()
	code := http.StatusOK
	if e.respond != nil {
		code = e.respond(r, req)
	}
	e.mu.Lock()
	e.inFlight--
	e.mu.Unlock()
	w.WriteHeader(code)
}

// PushURL is the endpoint's URL for a subscription's push config.
func (e *PushEndpoint) PushURL() string { return e.URL + "/push" }

// Requests is every request received so far, in arrival order.
func (e *PushEndpoint) Requests() []*PushRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*PushRequest(nil), e.reqs...)
}

// MessageIDs is the message id of every request received so far, in
// arrival order (a redelivered message's id as often as it came).
func (e *PushEndpoint) MessageIDs() []string {
	var ids []string
	for _, r := range e.Requests() {
		ids = append(ids, r.Message.MessageID)
	}
	return ids
}

// ByMessage groups the requests by message id, in arrival order.
func (e *PushEndpoint) ByMessage() map[string][]*PushRequest {
	out := map[string][]*PushRequest{}
	for _, r := range e.Requests() {
		out[r.Message.MessageID] = append(out[r.Message.MessageID], r)
	}
	return out
}

// MostInFlight is the most requests the endpoint has held at once (each
// from its arrival until respond returned).
func (e *PushEndpoint) MostInFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.most
}
