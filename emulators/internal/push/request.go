package push

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// userAgent is what Pub/Sub's push servers send; some frameworks log it.
const userAgent = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"

// wrappedBody is the JSON document Pub/Sub POSTs to a push endpoint when the
// subscription uses the default "pubsub wrapper". Production sends the ids and
// the publish time twice, in camelCase and snake_case; so do we.
type wrappedBody struct {
	Message         wrappedMessage `json:"message"`
	Subscription    string         `json:"subscription"`
	DeliveryAttempt int            `json:"deliveryAttempt,omitempty"`
}

type wrappedMessage struct {
	Data             []byte            `json:"data,omitempty"` // encoding/json writes []byte as standard base64
	Attributes       map[string]string `json:"attributes,omitempty"`
	MessageID        string            `json:"messageId"`
	MessageIDSnake   string            `json:"message_id"`
	PublishTime      string            `json:"publishTime"`
	PublishTimeSnake string            `json:"publish_time"`
	OrderingKey      string            `json:"orderingKey,omitempty"`
}

// delivery is one push attempt of one message.
type delivery struct {
	subscription string
	endpoint     string
	config       *pb.PushConfig
	message      *pb.PubsubMessage
	// attempt is 1 for the first delivery; it is sent as deliveryAttempt only
	// when the subscription has a dead-letter policy, as production does.
	attempt     int
	sendAttempt bool
	// tokens signs the bearer token of a subscription with oidc_token
	// (nil: no Authorization header, whatever the config says).
	tokens Tokens
}

// Tokens signs push tokens (internal/pushauth.Signer).
type Tokens interface {
	// PushToken is the token for a service account and audience; an empty
	// audience means the endpoint, as production documents.
	PushToken(email, audience, endpoint string) (string, error)
}

// newRequest builds the HTTP request for d, wrapped (JSON envelope, the
// default) or unwrapped (raw data, attributes as headers) as configured.
func newRequest(ctx context.Context, d delivery) (*http.Request, error) {
	m := d.message
	publishTime := formatTime(m.GetPublishTime().AsTime())
	var body []byte
	header := http.Header{}
	if nw := d.config.GetNoWrapper(); nw != nil {
		body = m.GetData()
		for k, v := range m.GetAttributes() {
			header.Set(k, v)
		}
		if nw.GetWriteMetadata() {
			header.Set("x-goog-pubsub-subscription-name", d.subscription)
			header.Set("x-goog-pubsub-message-id", m.GetMessageId())
			header.Set("x-goog-pubsub-publish-time", publishTime)
			if m.GetOrderingKey() != "" {
				header.Set("x-goog-pubsub-ordering-key", m.GetOrderingKey())
			}
			if d.sendAttempt {
				header.Set("x-goog-pubsub-delivery-attempt", strconv.Itoa(d.attempt))
			}
		}
		header.Set("Content-Type", "application/octet-stream")
	} else {
		wb := wrappedBody{
			Message: wrappedMessage{
				Data:             m.GetData(),
				Attributes:       m.GetAttributes(),
				MessageID:        m.GetMessageId(),
				MessageIDSnake:   m.GetMessageId(),
				PublishTime:      publishTime,
				PublishTimeSnake: publishTime,
				OrderingKey:      m.GetOrderingKey(),
			},
			Subscription: d.subscription,
		}
		if d.sendAttempt {
			wb.DeliveryAttempt = d.attempt
		}
		var err error
		if body, err = json.Marshal(wb); err != nil {
			return nil, err
		}
		header.Set("Content-Type", "application/json")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", userAgent)
	if oidc := d.config.GetOidcToken(); oidc != nil && d.tokens != nil {
		// The audience defaults to the endpoint as registered, not as aliased.
		token, err := d.tokens.PushToken(oidc.GetServiceAccountEmail(), oidc.GetAudience(), d.config.GetPushEndpoint())
		if err != nil {
			return nil, fmt.Errorf("signing the push token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// post performs one delivery and reports nil when the endpoint acknowledged it.
func post(ctx context.Context, client *http.Client, d delivery) error {
	req, err := newRequest(ctx, d)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if !acknowledges(resp.StatusCode) {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// acknowledges reports whether an HTTP status is an ack. Production documents
// exactly these codes; any other answer is a nack.
func acknowledges(code int) bool {
	switch code {
	case http.StatusProcessing, http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent:
		return true
	}
	return false
}

// formatTime writes a timestamp the way Pub/Sub's JSON does: RFC 3339, UTC.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// aliasLocalhost replaces a loopback host in endpoint with alias (see
// Config.LocalhostAlias). Anything it cannot parse is returned unchanged.
func aliasLocalhost(endpoint, alias string) string {
	if alias == "" {
		return endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return endpoint
	}
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(alias, port)
	} else {
		u.Host = alias
	}
	return u.String()
}
