package pubsubadmin

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/etl-pipeline/emulators/internal/faults"
)

const defaultLimit = 50

// Subscription is one entry of GET /v1/subscriptions.
type Subscription struct {
	Name         string `json:"name"`
	Topic        string `json:"topic"`
	Backlog      int    `json:"backlog"` // published to it, not yet acknowledged
	PushEndpoint string `json:"push_endpoint"`
	// Faults and FaultsFired are the subscription's injected faults (null:
	// none) and how often each fired (internal/faults).
	Faults      *faults.Config `json:"faults"`
	FaultsFired faults.Counts  `json:"faults_fired"`
}

// Message is one entry of GET /v1/messages.
type Message struct {
	ID          string            `json:"id"`
	Topic       string            `json:"topic"`
	DataBase64  string            `json:"data_base64"`
	Attributes  map[string]string `json:"attributes"`
	PublishTime string            `json:"publish_time"` // RFC 3339, UTC
	Deliveries  int               `json:"deliveries"`
	Acks        int               `json:"acks"`
	OrderingKey string            `json:"ordering_key"`
}

// subscriptions lists subscriptions (of ?project, if given) by name.
func (a *api) subscriptions(w http.ResponseWriter, r *http.Request) {
	states := readSubscriptions(a.internals)
	prefix := projectPrefix(r, "subscriptions")
	parked := a.parked()
	out := []Subscription{}
	for _, s := range states {
		if strings.HasPrefix(s.name, prefix) {
			sub := Subscription{Name: s.name, Topic: s.topic, Backlog: s.backlog + parked[s.name], PushEndpoint: s.pushEndpoint}
			if a.faults != nil {
				st, _ := a.faults.Get(s.name)
				sub.Faults, sub.FaultsFired = st.Faults, st.Fired
			}
			out = append(out, sub)
		}
	}
	slices.SortFunc(out, func(x, y Subscription) int { return cmp.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

// messages lists published messages, newest first, filtered by ?project
// and ?topic (a name, or a full path), at most ?limit (default 50).
func (a *api) messages(w http.ResponseWriter, r *http.Request) {
	limit, err := limitOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	prefix, topic := projectPrefix(r, "topics"), topicOf(r)
	a.messagesMu.Lock()
	defer a.messagesMu.Unlock()
	all := a.source() // oldest first
	out := []Message{}
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		m := all[i]
		if !strings.HasPrefix(m.Topic, prefix) || !topicMatches(m.Topic, topic) {
			continue
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		out = append(out, Message{
			ID: m.ID, Topic: m.Topic, DataBase64: base64.StdEncoding.EncodeToString(m.Data), Attributes: attrs,
			PublishTime: m.PublishTime.UTC().Format(time.RFC3339Nano), Deliveries: m.Deliveries, Acks: m.Acks, OrderingKey: m.OrderingKey,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// projectPrefix is "projects/P/<kind>/" for ?project=P, else "".
func projectPrefix(r *http.Request, kind string) string {
	if p := r.URL.Query().Get("project"); p != "" {
		return "projects/" + p + "/" + kind + "/"
	}
	return ""
}

func topicOf(r *http.Request) string {
	return r.URL.Query().Get("topic")
}

// topicMatches tells whether path is topic, given as a name or a path ("": any).
func topicMatches(path, topic string) bool {
	return topic == "" || path == topic || strings.HasSuffix(path, "/topics/"+topic)
}

func limitOf(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit must be a positive integer, got %q", raw)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body) //nolint:errcheck // the client went away
}
