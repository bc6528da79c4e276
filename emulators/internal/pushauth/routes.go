package pushauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"time"
)

// Paths of the admin API routes Routes serves.
const (
	CertsPath = "/v1/push-auth/certs" // production's oauth2/v1/certs format: {kid: PEM certificate}
	JWKSPath  = "/v1/push-auth/jwks"  // production's oauth2/v3/certs format: a JWKS
	TokenPath = "/v1/push-auth/token" // POST: a token on demand (TokenRequest)
)

// TokenRequest is the body of POST /v1/push-auth/token: the claims of the
// token wanted, and how it should be wrong, if at all, for tests of a
// consumer's refusals (a wrong audience is just another audience).
type TokenRequest struct {
	ServiceAccountEmail string `json:"service_account_email"`
	Audience            string `json:"audience"`
	// Expired: issued two hours ago, so expired an hour ago.
	Expired bool `json:"expired"`
	// Forged: signed by a key that none of the served certificates holds.
	Forged bool `json:"forged"`
}

// Routes are the certificate lists and the token route, by net/http
// ServeMux pattern, for the admin API.
func (s *Signer) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET " + CertsPath: func(w http.ResponseWriter, _ *http.Request) {
			s.keyed()
			writeJSON(w, http.StatusOK, map[string]string{s.kid: string(s.cert)})
		},
		"GET " + JWKSPath: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{s.jwk()}})
		},
		"POST " + TokenPath: s.serveToken,
	}
}

func (s *Signer) jwk() map[string]string {
	pub := s.keyed().key.PublicKey
	return map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func (s *Signer) serveToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad token request: " + err.Error()})
		return
	}
	if err := req.validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	c := Claims{Email: req.ServiceAccountEmail, Audience: req.Audience}
	if req.Expired {
		c.IssuedAt = s.now().Add(-2 * Lifetime)
	}
	sign := s.Sign
	if req.Forged {
		sign = s.SignWithAnotherKey
	}
	token, err := sign(c)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "kid": s.kid, "expires_at": expiry(c, s.now()).Format(time.RFC3339)})
}

func expiry(c Claims, now time.Time) time.Time {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	return c.IssuedAt.Add(Lifetime).UTC()
}

func (r TokenRequest) validate() error {
	switch {
	case r.ServiceAccountEmail == "":
		return errors.New("service_account_email is required")
	case r.Audience == "":
		return errors.New("audience is required")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body) //nolint:errcheck // the client went away
}
