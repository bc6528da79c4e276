package push

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/golang-jwt/jwt/v5"

	"github.com/etl-pipeline/emulators/internal/pushauth"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// TestOidcSubscriptionsGetABearerTokenOthersNone: a push subscription with
// oidc_token gets "Authorization: Bearer" signed by the configured signer,
// for its audience, or for the endpoint when it names none; one without
// oidc_token gets no Authorization header.
func TestOidcSubscriptionsGetABearerTokenOthersNone(t *testing.T) {
	signer := pushauth.NewSigner()
	cfg := fastConfig
	cfg.Tokens = signer
	h := newHarness(t, cfg)
	var mu sync.Mutex
	auth := map[string]string{} // by path
	ep := testserver.NewPushEndpoint(t, func(_ *testserver.PushRequest, req *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		auth[req.URL.Path] = req.Header.Get("Authorization")
		return http.StatusOK
	})
	topic := h.createTopic("events")
	const email = "pusher@test.iam.gserviceaccount.com"
	subs := map[string]*pb.PushConfig_OidcToken{
		"/aud":     {ServiceAccountEmail: email, Audience: "https://svc.example"},
		"/default": {ServiceAccountEmail: email},
		"/none":    nil,
	}
	for path, oidc := range subs {
		s := pushSub(strings.TrimPrefix(path, "/"), topic, ep.URL+path)
		if oidc != nil {
			s.PushConfig.AuthenticationMethod = &pb.PushConfig_OidcToken_{OidcToken: oidc}
		}
		h.createSubscription(s)
	}
	h.publish(topic, messages(1, nil)...)
	testserver.WaitFor(t, 10*time.Second, "three deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(auth) == 3 })

	if auth["/none"] != "" {
		t.Errorf("no oidc_token, yet Authorization %q", auth["/none"])
	}
	for path, aud := range map[string]string{"/aud": "https://svc.example", "/default": ep.URL + "/default"} {
		token, ok := strings.CutPrefix(auth[path], "Bearer ")
		if !ok {
			t.Fatalf("%s: Authorization %q, want a bearer token", path, auth[path])
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return signer.PublicKey(), nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(aud), jwt.WithIssuer(pushauth.Issuer))
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if claims["email"] != email {
			t.Errorf("%s: email %v, want %s", path, claims["email"], email)
		}
	}
}
