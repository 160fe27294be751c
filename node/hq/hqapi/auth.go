package hqapi

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// Headers of the relay API.
const (
	// HeaderAuth carries the request signature:
	//   Authorization: Tillmesh-Ed25519 till=<hex key>,ts=<Unix ms>,len=<body bytes>,body=<hex SHA-256>,sig=<base64url>
	HeaderAuth = "Authorization"
	// HeaderCert carries the signing till's certificate (base64url of its
	// CBOR encoding), so HQ can authenticate a till it has not seen yet.
	HeaderCert = "X-Tillmesh-Cert"
	// HeaderFence carries the relay's fencing token on GET requests, so
	// HQ can tell which relay is alive while nothing is uploaded.
	HeaderFence = "X-Tillmesh-Fence"
	// HeaderVector carries the relay's version vector (base64url CBOR) on
	// GET requests, for the store's backlog at HQ.
	HeaderVector = "X-Tillmesh-Vector"
)

// Scheme is the authorization scheme name.
const Scheme = "Tillmesh-Ed25519"

var b64 = base64.RawURLEncoding

// SignedMessage is what a till signs for a request: a domain tag, the
// method, the path with its query, the timestamp, and the length and
// SHA-256 of the body. Binding the path binds the store; binding the body
// hash binds the batch and its fencing token. Length and hash are also
// in the header, so HQ verifies the signature before it reads the body.
func SignedMessage(method, pathQuery string, ts, bodyLen int64, bodyHash [32]byte) []byte {
	return fmt.Appendf(nil, "tillmesh-hq-2\n%s\n%s\n%d\n%d\n%s", method, pathQuery, ts, bodyLen, hex.EncodeToString(bodyHash[:]))
}

// Sign adds the authorization header to req for body, signed by key at
// ts (Unix ms), and the certificate header if cert is not empty.
func Sign(req *http.Request, key ed25519.PrivateKey, cert []byte, body []byte, ts int64) {
	h := sha256.Sum256(body)
	msg := SignedMessage(req.Method, req.URL.RequestURI(), ts, int64(len(body)), h)
	sig := ed25519.Sign(key, msg)
	req.Header.Set(HeaderAuth, fmt.Sprintf("%s till=%s,ts=%d,len=%d,body=%s,sig=%s", Scheme, ledger.TillOf(key), ts, len(body),
		hex.EncodeToString(h[:]), b64.EncodeToString(sig)))
	if len(cert) > 0 {
		req.Header.Set(HeaderCert, b64.EncodeToString(cert))
	}
}

// Credentials are the parsed authorization header.
type Credentials struct {
	Till     ledger.TillID
	Time     int64 // Unix ms
	BodyLen  int64 // declared length of the body, bytes
	BodyHash [32]byte
	Sig      []byte
}

// ParseAuth parses an authorization header value.
func ParseAuth(h string) (Credentials, error) {
	var c Credentials
	if len(h) > 640 {
		return c, fmt.Errorf("%w: authorization header of %d bytes", ErrBadRequest, len(h))
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || scheme != Scheme {
		return c, fmt.Errorf("%w: authorization scheme: want %s", ErrBadRequest, Scheme)
	}
	var haveTill, haveTS, haveSig, haveLen, haveBody bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return c, fmt.Errorf("%w: authorization parameter %q", ErrBadRequest, part)
		}
		var err error
		switch k {
		case "till":
			if haveTill {
				return c, fmt.Errorf("%w: till given twice", ErrBadRequest)
			}
			c.Till, err = ledger.ParseTillID(v)
			haveTill = true
		case "ts":
			if haveTS {
				return c, fmt.Errorf("%w: ts given twice", ErrBadRequest)
			}
			c.Time, err = strconv.ParseInt(v, 10, 64)
			haveTS = true
		case "len":
			if haveLen {
				return c, fmt.Errorf("%w: len given twice", ErrBadRequest)
			}
			c.BodyLen, err = strconv.ParseInt(v, 10, 64)
			if err == nil && (c.BodyLen < 0 || c.BodyLen > MaxBody) {
				err = fmt.Errorf("%d bytes: want 0..%d", c.BodyLen, MaxBody)
			}
			haveLen = true
		case "body":
			if haveBody {
				return c, fmt.Errorf("%w: body given twice", ErrBadRequest)
			}
			var h []byte
			if h, err = hex.DecodeString(v); err == nil && len(h) != len(c.BodyHash) {
				err = fmt.Errorf("hash is %d bytes", len(h))
			}
			copy(c.BodyHash[:], h)
			haveBody = true
		case "sig":
			if haveSig {
				return c, fmt.Errorf("%w: sig given twice", ErrBadRequest)
			}
			c.Sig, err = b64.DecodeString(v)
			if err == nil && len(c.Sig) != ed25519.SignatureSize {
				err = fmt.Errorf("signature is %d bytes", len(c.Sig))
			}
			haveSig = true
		default:
			return c, fmt.Errorf("%w: unknown authorization parameter %q", ErrBadRequest, k)
		}
		if err != nil {
			return c, fmt.Errorf("%w: authorization %s: %v", ErrBadRequest, k, err)
		}
	}
	if !haveTill || !haveTS || !haveSig || !haveLen || !haveBody {
		return c, fmt.Errorf("%w: authorization needs till, ts, len, body and sig", ErrBadRequest)
	}
	return c, nil
}

// VerifyHeader checks the signature over the request line, time and the
// declared body length and hash against the till's key. The body itself
// is checked by Body once read.
func (c Credentials) VerifyHeader(method, pathQuery string) bool {
	return ed25519.Verify(c.Till.PublicKey(), SignedMessage(method, pathQuery, c.Time, c.BodyLen, c.BodyHash), c.Sig)
}

// Body reports whether body is the one the header declares.
func (c Credentials) Body(body []byte) bool {
	return int64(len(body)) == c.BodyLen && sha256.Sum256(body) == c.BodyHash
}

// Verify checks a whole request: VerifyHeader and Body.
func (c Credentials) Verify(method, pathQuery string, body []byte) bool {
	return c.VerifyHeader(method, pathQuery) && c.Body(body)
}

// DecodeCertHeader parses the certificate header. It does not verify the
// certificate.
func DecodeCertHeader(s string) (*ledger.Certificate, error) {
	if len(s) > 8192 {
		return nil, fmt.Errorf("%w: certificate header of %d bytes", ErrBadRequest, len(s))
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate header: %v", ErrBadRequest, err)
	}
	return ledger.DecodeCertificate(b)
}
