package grant

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

// Protocol is version 1 of the grant protocol.
const Protocol protocol.ID = "/tillmesh/grant/1"

// Protocols are the versions this build speaks, newest first; a later
// version goes in front and the older stays while tills of the release
// before it may be in the store.
func Protocols() []protocol.ID { return []protocol.ID{Protocol} }

// Limits on what a peer may send.
const (
	maxMessage = 64 << 10
	maxPicks   = ledger.MaxLines
)

// Pick is one sale line and how many of its units to refund.
type Pick struct {
	Line int   `cbor:"1,keyasint"`
	Qty  int64 `cbor:"2,keyasint"`
}

// Request asks the owner for a grant on a sale's lines. Key is the
// asker's idempotency key for the refund: asking again with the same key
// returns the same grant.
//
// A request names either a sale and picks (a refund) or a card and an
// amount (a redemption of a gift card or store credit; the owner is the
// till that issued the card).
type Request struct {
	Sale     ledger.EventID `cbor:"1,keyasint"`
	Picks    []Pick         `cbor:"2,keyasint,omitempty"`
	Key      string         `cbor:"3,keyasint"`
	Card     string         `cbor:"4,keyasint,omitempty"`
	Amount   ledger.Money   `cbor:"5,keyasint,omitempty"`
	Currency string         `cbor:"6,keyasint,omitempty"`
	// Void asks for the whole sale, to void it; Picks then name every
	// line at its full quantity, so an owner of an older release (which
	// ignores Void) reserves the whole sale as a refund grant instead.
	Void bool `cbor:"7,keyasint,omitempty"`
}

// Codes of a refused request.
const (
	CodeOverRefund  = "over_refund"  // more than remains (less what held grants reserve)
	CodeUnknownSale = "unknown_sale" // the owner does not know the sale
	CodeNotOwner    = "not_owner"    // the sale was made at another till
	CodeVoided      = "voided"       // the sale was voided
	CodeBadRequest  = "bad_request"
	CodeUnavailable = "unavailable" // the owner could not store the grant
	CodeOverRedeem  = "over_redeem" // more than is left on the card
	CodeBadCard     = "bad_card"    // unknown, deactivated or of another currency
	CodeRefunding   = "refunding"   // a void asked while a refund grant of the sale is held
)

// Response is the owner's answer: a grant and the lines it reserves, or a
// Code and a message.
type Response struct {
	Ref    ledger.GrantRef     `cbor:"1,keyasint"`
	Lines  []ledger.RefundLine `cbor:"2,keyasint,omitempty"`
	Code   string              `cbor:"3,keyasint,omitempty"`
	Error  string              `cbor:"4,keyasint,omitempty"`
	Amount ledger.Money        `cbor:"5,keyasint,omitempty"` // a card grant's amount
}

// Check reports what is wrong with a request, before the owner looks at
// its ledger.
func (r *Request) Check() error {
	if r.Card != "" {
		switch {
		case !r.Sale.IsZero() || len(r.Picks) > 0 || r.Void:
			return errors.New("grant request names both a card and a sale")
		case len(r.Card) > ledger.MaxCardLen:
			return fmt.Errorf("grant request: card number of %d bytes", len(r.Card))
		case r.Amount <= 0 || r.Amount > ledger.MaxPrice:
			return fmt.Errorf("grant request: card amount %v outside 0.01..%v", r.Amount, ledger.Money(ledger.MaxPrice))
		case len(r.Currency) != 3:
			return fmt.Errorf("grant request: currency %q", r.Currency)
		case len(r.Key) == 0 || len(r.Key) > ledger.MaxTextLen:
			return fmt.Errorf("grant request: idempotency key of %d bytes, want 1..%d", len(r.Key), ledger.MaxTextLen)
		}
		return nil
	}
	switch {
	case r.Sale.IsZero():
		return errors.New("grant request names no sale")
	case len(r.Picks) == 0 || len(r.Picks) > maxPicks:
		return fmt.Errorf("grant request: %d lines, want 1..%d", len(r.Picks), maxPicks)
	case len(r.Key) == 0 || len(r.Key) > ledger.MaxTextLen:
		return fmt.Errorf("grant request: idempotency key of %d bytes, want 1..%d", len(r.Key), ledger.MaxTextLen)
	}
	for i, p := range r.Picks {
		if p.Line < 0 || p.Line >= ledger.MaxLines || p.Qty <= 0 || p.Qty > ledger.MaxQty {
			return fmt.Errorf("grant request: line %d: sale line %d quantity %d", i+1, p.Line, p.Qty)
		}
	}
	return nil
}

// LedgerPicks converts the picks for ledger.Fold.GrantLines.
func (r *Request) LedgerPicks() []ledger.Pick {
	out := make([]ledger.Pick, len(r.Picks))
	for i, p := range r.Picks {
		out[i] = ledger.Pick{Line: p.Line, Qty: p.Qty}
	}
	return out
}

var codec = cborwire.MustCodec("grant", maxMessage, cborwire.Limits{Arrays: maxPicks, Pairs: 64, Nesting: 6})

// DecodeRequest decodes and checks one framed request (for fuzzing and
// for Serve).
func DecodeRequest(r *bufio.Reader) (Request, error) {
	return cborwire.Decode[Request](codec, r)
}

// Handler decides a request from an admitted till.
type Handler func(ctx context.Context, from ledger.TillID, req Request) Response

// Admit returns the till of an admitted peer, or false.
type Admit func(peer.ID) (ledger.TillID, bool)

// Serve registers the protocol on h. timeout bounds each stream.
func Serve(h host.Host, admit Admit, handle Handler, timeout time.Duration) {
	srv := cborwire.Server[ledger.TillID, Request, Response]{
		Codec: codec, Admit: admit, Decode: DecodeRequest, Handle: handle, Timeout: timeout,
		Refuse: func(err error) Response { return Response{Code: CodeBadRequest, Error: err.Error()} },
	}
	for _, p := range Protocols() {
		h.SetStreamHandler(p, srv.Serve)
	}
}

// Ask sends a request to the owner's peer p and returns its answer. An
// error means no answer came (the owner is unreachable, or the stream
// broke): the caller cannot tell whether a grant was made, and asking
// again with the same Key returns it if it was.
func Ask(ctx context.Context, h host.Host, p peer.ID, req Request) (Response, error) {
	return cborwire.Call(ctx, h, p, codec, Protocols(), req, decodeResponse)
}

func decodeResponse(r *bufio.Reader) (Response, error) {
	var res Response
	err := codec.Read(r, &res)
	return res, err
}
