package pushauth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const email = "pusher@p.iam.gserviceaccount.com"

func newSigner(t *testing.T) *Signer {
	t.Helper()
	return NewSigner()
}

// served starts the signer's routes and returns the test server.
func served(t *testing.T, s *Signer) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range s.Routes() {
		mux.HandleFunc(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// certKey is the public key of the served PEM certificate with kid.
func certKey(t *testing.T, srv *httptest.Server, kid string) *rsa.PublicKey {
	t.Helper()
	var certs map[string]string
	getJSON(t, srv.URL+CertsPath, &certs)
	block, _ := pem.Decode([]byte(certs[kid]))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("certs %v hold no PEM certificate for kid %s", certs, kid)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PublicKey.(*rsa.PublicKey)
}

// jwksKey is the public key of the served JWK with kid.
func jwksKey(t *testing.T, srv *httptest.Server, kid string) *rsa.PublicKey {
	t.Helper()
	var set struct{ Keys []map[string]string }
	getJSON(t, srv.URL+JWKSPath, &set)
	for _, k := range set.Keys {
		if k["kid"] == kid && k["kty"] == "RSA" && k["alg"] == "RS256" {
			n, _ := base64.RawURLEncoding.DecodeString(k["n"])
			e, _ := base64.RawURLEncoding.DecodeString(k["e"])
			return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	t.Fatalf("JWKS %v has no RS256 key %s", set, kid)
	return nil
}

// verify parses token as production's consumers do: RS256 only, audience
// and issuer checked, expiry enforced.
func verify(token string, key *rsa.PublicKey, audience string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(audience), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired())
	return claims, err
}

func TestPushTokenCarriesProductionsClaimsAndVerifiesWithBothServedKeyLists(t *testing.T) {
	s := newSigner(t)
	srv := served(t, s)
	token, err := s.PushToken(email, "https://svc.example/push", "http://127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "RS256" || parsed.Header["typ"] != "JWT" || parsed.Header["kid"] != s.KeyID() {
		t.Errorf("header %v, want RS256, JWT, kid %s", parsed.Header, s.KeyID())
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(s.KeyID()) {
		t.Errorf("kid %q, want 40 hex digits as Google's", s.KeyID())
	}
	for name, key := range map[string]*rsa.PublicKey{"certs": certKey(t, srv, s.KeyID()), "jwks": jwksKey(t, srv, s.KeyID())} {
		claims, err := verify(token, key, "https://svc.example/push")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if claims["email"] != email || claims["email_verified"] != true || claims["sub"] != AccountID(email) || claims["azp"] != claims["sub"] {
			t.Errorf("%s: claims %v", name, claims)
		}
		if iat, exp := claims["iat"].(float64), claims["exp"].(float64); exp-iat != Lifetime.Seconds() {
			t.Errorf("%s: exp - iat = %v s, want an hour", name, exp-iat)
		}
	}
}

func TestAudienceDefaultsToTheEndpoint(t *testing.T) {
	s := newSigner(t)
	token, err := s.PushToken(email, "", "http://127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(token, &s.key.PublicKey, "http://127.0.0.1:1/x"); err != nil {
		t.Fatal(err)
	}
}

func TestPushTokenIsReusedForMinutesThenSignedAgain(t *testing.T) {
	s := newSigner(t)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	first, _ := s.PushToken(email, "a", "e")
	now = now.Add(reuseFor - time.Second)
	if again, _ := s.PushToken(email, "a", "e"); again != first {
		t.Error("a token was signed again within the reuse window")
	}
	if other, _ := s.PushToken(email, "b", "e"); other == first {
		t.Error("another audience got the same token")
	}
	now = now.Add(2 * time.Second)
	if later, _ := s.PushToken(email, "a", "e"); later == first {
		t.Error("the token was reused past the window")
	}
}

func TestTokensOnDemandThatAConsumerMustRefuse(t *testing.T) {
	s := newSigner(t)
	srv := served(t, s)
	key := certKey(t, srv, s.KeyID())
	cases := map[string]struct {
		body string
		want error
	}{
		"valid":          {`{"service_account_email": "` + email + `", "audience": "aud"}`, nil},
		"wrong audience": {`{"service_account_email": "` + email + `", "audience": "other"}`, jwt.ErrTokenInvalidAudience},
		"expired":        {`{"service_account_email": "` + email + `", "audience": "aud", "expired": true}`, jwt.ErrTokenExpired},
		"forged":         {`{"service_account_email": "` + email + `", "audience": "aud", "forged": true}`, jwt.ErrTokenSignatureInvalid},
	}
	for name, c := range cases {
		resp, err := http.Post(srv.URL+TokenPath, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Token, Kid string }
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || got.Kid != s.KeyID() {
			t.Fatalf("%s: status %d, kid %q", name, resp.StatusCode, got.Kid)
		}
		_, err = verify(got.Token, key, "aud")
		if (c.want == nil) != (err == nil) || (c.want != nil && !strings.Contains(err.Error(), c.want.Error())) {
			t.Errorf("%s: verify error %v, want %v", name, err, c.want)
		}
	}
}

func TestBadTokenRequestsAreRefusedWithTheReason(t *testing.T) {
	srv := served(t, newSigner(t))
	for body, want := range map[string]string{
		`{"audience": "a"}`:                                       "service_account_email is required",
		`{"service_account_email": "e"}`:                          "audience is required",
		`{"service_account_email": "e", "audience": "a", "x": 1}`: "unknown field",
		`not json`: "bad token request",
	} {
		resp, err := http.Post(srv.URL+TokenPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got["error"], want) {
			t.Errorf("%s: %d %v, want 400 with %q", body, resp.StatusCode, got, want)
		}
	}
}

func TestAccountIDIsTwentyOneDigitsStableAndDistinct(t *testing.T) {
	seen := map[string]string{}
	for i := range 2000 {
		e := strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@p" + string(rune('0'+i%10)) + ".iam.gserviceaccount.com" + strings.Repeat("y", i/260)
		id := AccountID(e)
		if !regexp.MustCompile(`^1[0-9]{20}$`).MatchString(id) || AccountID(strings.ToUpper(e)) != id {
			t.Fatalf("AccountID(%q) = %q", e, id)
		}
		if other, ok := seen[id]; ok && other != e {
			t.Fatalf("%q and %q share id %s", e, other, id)
		}
		seen[id] = e
	}
}
