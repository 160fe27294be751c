package custkey

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/tillmesh/tillmesh/ledger"
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

var decMode = mustDecMode()

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxArrayElements: MaxKeys, MaxMapPairs: 16, MaxNestedLevels: 4,
		IndefLength: cbor.IndefLengthForbidden, DupMapKey: cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}

func writeMsg(w io.Writer, v any) error {
	b, err := cbor.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxMessage {
		return fmt.Errorf("customer keys: message of %d bytes, limit %d", len(b), maxMessage)
	}
	bw := bufio.NewWriter(w)
	var n [binary.MaxVarintLen64]byte
	bw.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	bw.Write(b)
	return bw.Flush()
}

func readMsg(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > maxMessage {
		return fmt.Errorf("customer keys: message of %d bytes, limit %d", n, maxMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("customer keys: decode: %w", err)
	}
	return nil
}

// DecodeRequest decodes and checks one framed request (for fuzzing and
// for Serve).
func DecodeRequest(r *bufio.Reader) (Request, error) {
	var req Request
	if err := readMsg(r, &req); err != nil {
		return Request{}, err
	}
	if err := req.Check(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// DecodeResponse decodes and checks one framed answer.
func DecodeResponse(r *bufio.Reader) (Response, error) {
	var res Response
	if err := readMsg(r, &res); err != nil {
		return Response{}, err
	}
	if err := res.Check(); err != nil {
		return Response{}, err
	}
	return res, nil
}

// Handler answers a request from an admitted till.
type Handler func(ctx context.Context, from ledger.TillID, req Request) Response

// Admit returns the till of an admitted peer, or false.
type Admit func(peer.ID) (ledger.TillID, bool)

// Serve registers the protocol on h. timeout bounds each stream.
func Serve(h host.Host, admit Admit, handle Handler, timeout time.Duration) {
	h.SetStreamHandler(Protocol, func(st network.Stream) { serve(st, admit, handle, timeout) })
}

func serve(st network.Stream, admit Admit, handle Handler, timeout time.Duration) {
	defer st.Close()
	till, ok := admit(st.Conn().RemotePeer())
	if !ok {
		st.Reset()
		return
	}
	st.SetDeadline(time.Now().Add(timeout))
	req, err := DecodeRequest(bufio.NewReader(io.LimitReader(st, maxMessage+16)))
	var res Response
	if err != nil {
		res = Response{Error: err.Error()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		res = handle(ctx, till, req)
		cancel()
	}
	if err := writeMsg(st, res); err != nil {
		st.Reset()
	}
}

// ErrRefused wraps the error a server answered with.
var ErrRefused = errors.New("custkey: request refused")

// Exchange sends req to peer p and returns its checked answer.
func Exchange(ctx context.Context, h host.Host, p peer.ID, req Request) (Response, error) {
	if err := req.Check(); err != nil {
		return Response{}, err
	}
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "customer-keys"), p, Protocol)
	if err != nil {
		return Response{}, fmt.Errorf("open customer key stream: %w", err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := writeMsg(st, req); err != nil {
		st.Reset()
		return Response{}, fmt.Errorf("send customer key request: %w", err)
	}
	st.CloseWrite()
	res, err := DecodeResponse(bufio.NewReader(io.LimitReader(st, maxMessage+16)))
	if err != nil {
		st.Reset()
		return Response{}, fmt.Errorf("read customer key answer: %w", err)
	}
	if res.Error != "" {
		return Response{}, fmt.Errorf("%w: %s", ErrRefused, res.Error)
	}
	return res, nil
}
