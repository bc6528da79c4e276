// Package pushauth signs the OIDC tokens production Pub/Sub sends with push
// requests of a subscription that has push_config.oidc_token, and serves the
// public keys that verify them.
//
// Production puts "Authorization: Bearer <JWT>" on each push request: an
// RS256 token signed by Google, with iss "https://accounts.google.com", aud
// the subscription's audience (the push endpoint URL when none is set),
// email the service account, email_verified true, sub and azp the service
// account's numeric id, iat and exp an hour apart, and kid naming the key in
// Google's certificate lists (oauth2/v1/certs as PEM certificates,
// oauth2/v3/certs as a JWKS). The emulator cannot sign as Google, so an
// Issuer makes its own RSA key at start and serves the same two lists: a
// consumer verifies with google-auth exactly as in production, pointed at
// the emulator's certificates instead of Google's.
package pushauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // a key id, as Google's (40 hex digits), not a security use
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is what production's token fields say, plus the emulator's key.
const (
	Issuer   = "https://accounts.google.com"
	Lifetime = time.Hour // production's tokens: exp = iat + 3600
	keyBits  = 2048
	// reuseFor is how long a signed token is reused for push requests to
	// the same service account and audience (signing costs ~1 ms; a push
	// subscription may send thousands of requests a second).
	reuseFor = 5 * time.Minute
)

// Signer holds the emulator's signing key and the tokens it signed lately.
//
// The key is made in the background from NewSigner on: an RSA key takes
// 50-200 ms, longer than the rest of the emulator's start, and nothing needs
// it before the first push with a token or the first certificates request.
type Signer struct {
	ready chan struct{} // closed once key, kid and cert are set
	key   *rsa.PrivateKey
	kid   string
	cert  []byte // PEM, self-signed, for the oauth2/v1/certs format
	now   func() time.Time

	mu     sync.Mutex
	reused map[string]signed // by email and audience
}

type signed struct {
	token    string
	issuedAt time.Time
}

// NewSigner starts making a new RSA key and its self-signed certificate; the
// signer's methods wait for them.
func NewSigner() *Signer {
	s := &Signer{ready: make(chan struct{}), now: time.Now, reused: map[string]signed{}}
	go s.makeKey()
	return s
}

// makeKey sets key, kid and cert. It cannot fail: crypto/rand's Reader does
// not return errors (Go 1.24), and keyBits and the certificate are valid, so
// an error here is a bug, not a condition to report.
func (s *Signer) makeKey() {
	defer close(s.ready)
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		panic(fmt.Sprintf("push auth key: %v", err))
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("push auth key: %v", err))
	}
	sum := sha1.Sum(der) //nolint:gosec // see the import
	cert, err := selfSigned(key, time.Now())
	if err != nil {
		panic(err.Error())
	}
	s.key, s.kid, s.cert = key, hex.EncodeToString(sum[:]), cert
}

// keyed waits until the key is made and returns the signer.
func (s *Signer) keyed() *Signer {
	<-s.ready
	return s
}

// selfSigned is a certificate for key, valid a day either side of now.
func selfSigned(key *rsa.PrivateKey, now time.Time) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "pubsub-emulator push auth"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("push auth certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// KeyID is the kid of the tokens this signer makes.
func (s *Signer) KeyID() string { return s.keyed().kid }

// PushToken is the bearer token for a push request of a subscription whose
// oidc_token names email and audience ("": the endpoint). A token is reused
// for a few minutes, well inside its hour, as production reuses its own.
func (s *Signer) PushToken(email, audience, endpoint string) (string, error) {
	if audience == "" {
		audience = endpoint
	}
	key := email + "\x00" + audience
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.reused[key]; ok && now.Sub(t.issuedAt) < reuseFor && !now.Before(t.issuedAt) {
		return t.token, nil
	}
	token, err := s.Sign(Claims{Email: email, Audience: audience, IssuedAt: now})
	if err != nil {
		return "", err
	}
	s.reused[key] = signed{token: token, issuedAt: now}
	return token, nil
}

// Claims chooses the token Sign makes. Zero IssuedAt means now, zero
// Lifetime production's hour.
type Claims struct {
	Email    string
	Audience string
	IssuedAt time.Time
	Lifetime time.Duration
}

// Sign makes a token with production's claims and header (alg RS256, typ
// JWT, kid), signed by this signer's key.
func (s *Signer) Sign(c Claims) (string, error) {
	s.keyed()
	return sign(s.key, s.kid, c, s.now)
}

// SignWithAnotherKey makes the same token signed by a key no certificate
// list holds: what a consumer must refuse as forged.
func (s *Signer) SignWithAnotherKey(c Claims) (string, error) {
	other, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return "", err
	}
	return sign(other, s.keyed().kid, c, s.now)
}

func sign(key *rsa.PrivateKey, kid string, c Claims, now func() time.Time) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now()
	}
	if c.Lifetime == 0 {
		c.Lifetime = Lifetime
	}
	id := AccountID(c.Email)
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":            Issuer,
		"aud":            c.Audience,
		"azp":            id,
		"sub":            id,
		"email":          c.Email,
		"email_verified": true,
		"iat":            c.IssuedAt.Unix(),
		"exp":            c.IssuedAt.Add(c.Lifetime).Unix(),
	})
	token.Header["kid"] = kid
	return token.SignedString(key)
}

// AccountID is the numeric id the emulator gives a service account: 21
// decimal digits starting with 1, as Google's, the same for the same email.
func AccountID(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	return fmt.Sprintf("1%020s", n.String())
}

// PublicKey verifies the tokens this signer makes.
func (s *Signer) PublicKey() *rsa.PublicKey { return &s.keyed().key.PublicKey }
