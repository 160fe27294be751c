package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/tillmesh/tillmesh/ledger"
)

// HelloProtocol is the admission protocol. When two hosts connect, each
// opens a stream to the other and writes one hello: a uvarint length and
// its certificate's canonical encoding (ledger.Certificate.Encode). The
// receiver verifies the certificate and, if it admits the sender, answers
// with the single byte helloAck and closes the stream; otherwise it
// resets the stream and closes the connection.
//
// HelloProtocolV2 is the same exchange whose message is a uvarint length
// and a CBOR map: 1 the certificate's encoding, 2 the sender's release
// (tillmesh version), and keys a newer version may add (ignored). A host
// registers every version it speaks and the opener lists them newest
// first, so two tills speak the newest hello both know (multistream
// negotiation); a till of the release before hello 2 still admits us.
const (
	HelloProtocol   protocol.ID = "/tillmesh/hello/1"
	HelloProtocolV2 protocol.ID = "/tillmesh/hello/2"
)

// HelloProtocols returns the hello versions this host speaks, newest
// first.
func HelloProtocols() []protocol.ID { return []protocol.ID{HelloProtocolV2, HelloProtocol} }

// MaxReleaseLen bounds the release a peer announces.
const MaxReleaseLen = 64

// helloV2 is the hello 2 message.
type helloV2 struct {
	Cert    []byte `cbor:"1,keyasint"`
	Release string `cbor:"2,keyasint,omitempty"`
}

var helloDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{MaxNestedLevels: 4, MaxMapPairs: 32, IndefLength: cbor.IndefLengthForbidden,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, UTF8: cbor.UTF8RejectInvalid}.DecMode() // unknown keys: a newer till's, ignored
	if err != nil {
		panic(err) // constant options
	}
	return m
}()

// encodeHelloV2 returns the hello 2 message.
func encodeHelloV2(cert []byte, release string) ([]byte, error) {
	b, err := cbor.Marshal(helloV2{Cert: cert, Release: release})
	if err != nil {
		return nil, err
	}
	return encodeHello(b), nil
}

// decodeHelloOf reads one hello of protocol proto: the certificate, and
// the release the peer announces (empty for hello 1).
func decodeHelloOf(proto protocol.ID, r io.Reader) (*ledger.Certificate, string, error) {
	if proto != HelloProtocolV2 {
		c, err := decodeHello(r)
		return c, "", err
	}
	b, err := readHello(r)
	if err != nil {
		return nil, "", err
	}
	var m helloV2
	if err := helloDec.Unmarshal(b, &m); err != nil {
		return nil, "", fmt.Errorf("%w: hello 2: %v", ErrBadHello, err)
	}
	if len(m.Release) > MaxReleaseLen {
		return nil, "", fmt.Errorf("%w: release of %d bytes, limit %d", ErrBadHello, len(m.Release), MaxReleaseLen)
	}
	cert, err := ledger.DecodeCertificate(m.Cert)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadHello, err)
	}
	return cert, m.Release, nil
}

const (
	// maxHello bounds a hello's certificate; ledger.DecodeCertificate
	// refuses more anyway.
	maxHello = 4096
	helloAck = 0x01
)

// Errors of this package.
var (
	// ErrBadHello means a peer's hello was malformed or its certificate
	// did not admit it.
	ErrBadHello = errors.New("p2p: bad hello")
	// ErrNotTill means a peer ID is not an ed25519 key, so it cannot be
	// a till.
	ErrNotTill = errors.New("p2p: peer is not a till")
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("p2p: host closed")
)

// encodeHello returns the hello message for an encoded certificate.
func encodeHello(cert []byte) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(cert)), uint64(len(cert)))
	return append(b, cert...)
}

// decodeHello reads one hello from r and decodes its certificate. It does
// not verify the certificate. It never reads more than the hello.
func decodeHello(r io.Reader) (*ledger.Certificate, error) {
	b, err := readHello(r)
	if err != nil {
		return nil, err
	}
	cert, err := ledger.DecodeCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHello, err)
	}
	return cert, nil
}

// readHello reads one length-prefixed hello message.
func readHello(r io.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		return nil, fmt.Errorf("%w: length: %w", ErrBadHello, err)
	}
	if n == 0 || n > maxHello {
		return nil, fmt.Errorf("%w: hello of %d bytes, want 1 to %d", ErrBadHello, n, maxHello)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrBadHello, err)
	}
	return b, nil
}

// byteReader reads one byte at a time, so that reading the length never
// consumes bytes after it.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var p [1]byte
	if _, err := io.ReadFull(b.r, p[:]); err != nil {
		return 0, err
	}
	return p[0], nil
}

// TillOf returns the TillID behind a peer ID: a till's libp2p identity is
// its ed25519 ledger key. It fails with ErrNotTill for any other key.
func TillOf(p peer.ID) (ledger.TillID, error) {
	var t ledger.TillID
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return t, fmt.Errorf("%w: %s: %v", ErrNotTill, p, err)
	}
	if _, ok := pk.(*crypto.Ed25519PublicKey); !ok {
		return t, fmt.Errorf("%w: %s has a %s key", ErrNotTill, p, pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != len(t) {
		return t, fmt.Errorf("%w: %s: malformed ed25519 key", ErrNotTill, p)
	}
	copy(t[:], raw)
	return t, nil
}

// PeerOf returns the libp2p peer ID of a till.
func PeerOf(t ledger.TillID) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(t[:])
	if err != nil {
		return "", fmt.Errorf("p2p: till %s: %w", t.Short(), err)
	}
	return peer.IDFromPublicKey(pk)
}
