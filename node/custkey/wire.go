package custkey

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/cborwire"
)

// Protocol is version 1 of the customer key protocol.
const Protocol protocol.ID = "/tillmesh/customer-keys/1"

// Limits on what a peer may send.
const (
	maxMessage = 64 << 10
	// MaxRequest is the most keys pushed plus customers pulled in one
	// request.
	MaxRequest = 256
	// MaxKeys is the most keys in one answer.
	MaxKeys = 512
	// KeyLen is the length of a key.
	KeyLen = 32
)

// Key is one key of a customer.
type Key struct {
	Customer string  `cbor:"1,keyasint"`
	ID       [8]byte `cbor:"2,keyasint"`
	Key      []byte  `cbor:"3,keyasint"`
}

// Check reports what is wrong with k, or nil.
func (k Key) Check() error {
	if err := ledger.CheckCustomer(k.Customer); err != nil {
		return fmt.Errorf("customer key: %w", err)
	}
	if len(k.Key) != KeyLen {
		return fmt.Errorf("customer %s key: %d bytes, want %d", k.Customer, len(k.Key), KeyLen)
	}
	return nil
}

// Request pushes keys to the server and pulls the keys it holds of the
// customers named.
type Request struct {
	Push []Key    `cbor:"1,keyasint,omitempty"`
	Pull []string `cbor:"2,keyasint,omitempty"` // customer numbers
}

// Check reports what is wrong with r, or nil.
func (r *Request) Check() error {
	n := len(r.Push) + len(r.Pull)
	if n == 0 || n > MaxRequest {
		return fmt.Errorf("customer key request: %d keys and customers, want 1..%d", n, MaxRequest)
	}
	for _, k := range r.Push {
		if err := k.Check(); err != nil {
			return fmt.Errorf("customer key request: %w", err)
		}
	}
	for _, c := range r.Pull {
		if err := ledger.CheckCustomer(c); err != nil {
			return fmt.Errorf("customer key request: pull: %w", err)
		}
	}
	return nil
}

// Response carries the keys pulled, or an error.
type Response struct {
	Keys  []Key  `cbor:"1,keyasint,omitempty"`
	Error string `cbor:"2,keyasint,omitempty"`
}

// Check reports what is wrong with r, or nil.
func (r *Response) Check() error {
	if len(r.Keys) > MaxKeys {
		return fmt.Errorf("customer key answer: %d keys, limit %d", len(r.Keys), MaxKeys)
	}
	for _, k := range r.Keys {
		if err := k.Check(); err != nil {
			return fmt.Errorf("customer key answer: %w", err)
		}
	}
	return nil
}

var codec = cborwire.MustCodec("customer key", maxMessage, cborwire.Limits{Arrays: MaxKeys, Pairs: 16, Nesting: 4})

// DecodeRequest decodes and checks one framed request (for fuzzing and
// for Serve).
func DecodeRequest(r *bufio.Reader) (Request, error) {
	return cborwire.Decode[Request](codec, r)
}

// DecodeResponse decodes and checks one framed answer.
func DecodeResponse(r *bufio.Reader) (Response, error) {
	return cborwire.Decode[Response](codec, r)
}

// Handler answers a request from an admitted till.
type Handler func(ctx context.Context, from ledger.TillID, req Request) Response

// Admit returns the till of an admitted peer, or false.
type Admit func(peer.ID) (ledger.TillID, bool)

// Serve registers the protocol on h. timeout bounds each stream.
func Serve(h host.Host, admit Admit, handle Handler, timeout time.Duration) {
	srv := cborwire.Server[ledger.TillID, Request, Response]{
		Codec: codec, Admit: admit, Decode: DecodeRequest, Handle: handle, Timeout: timeout,
		Refuse: func(err error) Response { return Response{Error: err.Error()} },
	}
	h.SetStreamHandler(Protocol, srv.Serve)
}

// ErrRefused wraps the error a server answered with.
var ErrRefused = errors.New("custkey: request refused")

// Exchange sends req to peer p and returns its checked answer.
func Exchange(ctx context.Context, h host.Host, p peer.ID, req Request) (Response, error) {
	if err := req.Check(); err != nil {
		return Response{}, err
	}
	res, err := cborwire.Call(ctx, h, p, codec, []protocol.ID{Protocol}, req, DecodeResponse)
	if err != nil {
		return Response{}, err
	}
	if res.Error != "" {
		return Response{}, fmt.Errorf("%w: %s", ErrRefused, res.Error)
	}
	return res, nil
}
