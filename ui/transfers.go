package ui

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// ChainStore is another store of the chain, a destination for transfers.
type ChainStore struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IncomingTransfer is a transfer on its way to this store, from the list
// HQ sent down through the relay.
type IncomingTransfer struct {
	Number   string             `json:"number"`
	From     string             `json:"from"`
	FromName string             `json:"from_name"`
	Lines    []ledger.StockLine `json:"lines"`
	Note     string             `json:"note,omitempty"`
	Sent     time.Time          `json:"sent"`
}

// TransferSide is one of this store's transfers as its ledger holds it.
type TransferSide struct {
	Number    string             `json:"number"`
	Other     string             `json:"other"` // destination (sent) or sender (received)
	OtherName string             `json:"other_name,omitempty"`
	Lines     []ledger.StockLine `json:"lines"`
	Sent      []ledger.StockLine `json:"sent,omitempty"` // received: what the till was told was sent
	Note      string             `json:"note,omitempty"`
	Receipt   string             `json:"receipt"` // ledger.EventNo: till number # seq
	At        time.Time          `json:"at"`
}

// ChainStock is another store's stock of a SKU as HQ last heard it.
type ChainStock struct {
	Store string    `json:"store"` // store ID
	Name  string    `json:"name"`
	Qty   int64     `json:"qty"`
	At    time.Time `json:"at"` // the store's last upload: the figure's age
}

// ChainStocker is what a Till implements to show the chain's stock: for
// every SKU HQ's snapshot covers, the other stores holding the most.
type ChainStocker interface {
	ChainStock(ctx context.Context) (map[string][]ChainStock, error)
}

// Transfers is what the transfers page shows.
type Transfers struct {
	Stores    []ChainStore       `json:"stores"`     // the chain's other stores
	StoresAge time.Time          `json:"stores_age"` // when HQ made the list; zero if none yet
	Incoming  []IncomingTransfer `json:"incoming"`   // on their way here, not yet received
	Sent      []TransferSide     `json:"sent"`
	Received  []TransferSide     `json:"received"`
}

// TransferOutRequest sends goods to another store.
type TransferOutRequest struct {
	To             string             `json:"to"` // store ID
	Lines          []ledger.StockLine `json:"lines"`
	Note           string             `json:"note,omitempty"`
	IdempotencyKey string             `json:"idempotency_key"`
}

// TransferInRequest receives a transfer by its number (scanned from the
// transfer note or picked from the incoming list). Lines are what
// arrived; a line of the transfer left out arrived as 0. From is needed
// only for a transfer the incoming list does not hold (received blind).
type TransferInRequest struct {
	Number         string             `json:"number"`
	From           string             `json:"from,omitempty"`
	Lines          []ledger.StockLine `json:"lines"`
	Note           string             `json:"note,omitempty"`
	IdempotencyKey string             `json:"idempotency_key"`
}

// TransferDesk is what a Till implements for stock transfers between the
// stores of a chain. A Till without it answers 501 on these routes. Bad
// input (an unknown destination, a transfer received twice or at the
// store that sent it, more than was sent) is an ErrBadRequest or ledger
// error and records nothing.
type TransferDesk interface {
	Transfers(ctx context.Context) (Transfers, error)
	TransferOut(ctx context.Context, req TransferOutRequest, staff string) (*ledger.Event, bool, error)
	TransferIn(ctx context.Context, req TransferInRequest, staff string) (*ledger.Event, bool, error)
}

// transferRoutes registers the transfers page and its API: reading needs
// a session, sending and receiving the stock permission.
func (a *API) transferRoutes(mux *http.ServeMux, h func(string, access, handlerFunc), p func(string, Permission, handlerFunc)) {
	mux.HandleFunc("GET /transfers", func(w http.ResponseWriter, r *http.Request) { servePageFile(w, "web/transfers.html") })
	h("GET /api/transfers", staff, a.getTransfers)
	p("POST /api/transfers/out", PermStock, a.postTransferOut)
	p("POST /api/transfers/in", PermStock, a.postTransferIn)
	h("GET /api/chain-stock", staff, a.getChainStock)
}

func (a *API) getChainStock(w http.ResponseWriter, r *http.Request, _ *session) {
	cs, ok := a.till.(ChainStocker)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"skus": map[string][]ChainStock{}})
		return
	}
	m, err := cs.ChainStock(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"skus": m})
}

func (a *API) desk(w http.ResponseWriter) (TransferDesk, bool) {
	d, ok := a.till.(TransferDesk)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this till cannot transfer stock")
	}
	return d, ok
}

func (a *API) getTransfers(w http.ResponseWriter, r *http.Request, _ *session) {
	d, ok := a.desk(w)
	if !ok {
		return
	}
	out, err := d.Transfers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) postTransferOut(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := a.desk(w)
	if !ok {
		return
	}
	var req TransferOutRequest
	if !decode(w, r, &req) {
		return
	}
	req.Note = strings.TrimSpace(req.Note)
	ev, existing, err := d.TransferOut(r.Context(), req, s.staff.ID)
	a.transferDone(w, r, ev, existing, err)
}

func (a *API) postTransferIn(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := a.desk(w)
	if !ok {
		return
	}
	var req TransferInRequest
	if !decode(w, r, &req) {
		return
	}
	req.Number, req.Note = strings.TrimSpace(req.Number), strings.TrimSpace(req.Note)
	ev, existing, err := d.TransferIn(r.Context(), req, s.staff.ID)
	a.transferDone(w, r, ev, existing, err)
}

func (a *API) transferDone(w http.ResponseWriter, r *http.Request, ev *ledger.Event, existing bool, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"event_id": ev.ID().String(), "receipt": ledger.EventNo(a.till.Self().Number, ev.Seq), "seq": ev.Seq,
		"kind": ev.Kind(), "body": ev.Body, "existing": existing})
}
