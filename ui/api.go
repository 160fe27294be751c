package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Till is what the UI needs from a till node. node implements it; tests
// use fakes. Errors that come from bad input wrap ErrBadRequest (or a
// ledger sentinel) so the handler can answer 400 with the reason.
type Till interface {
	Sell(ctx context.Context, req SaleRequest) (Sale, bool, error) // bool: an earlier sale with the same key
	Stock(ctx context.Context, sku string) (StockLevel, error)
	AllStock(ctx context.Context) ([]StockLevel, error)
	Status(ctx context.Context) Status
}

// Errors a Till reports for the handler to map onto HTTP statuses.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("unavailable")
)

// SaleRequest is the body of POST /api/sales. Quantities are whole units,
// or grams for goods sold by weight; amounts are minor units.
type SaleRequest struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Lines          []SaleLine      `json:"lines"`
	Tenders        []ledger.Tender `json:"tenders"`
	CartDiscount   ledger.Money    `json:"cart_discount,omitempty"`
	Staff          string          `json:"staff,omitempty"`
	Approver       string          `json:"approver,omitempty"`
}

// SaleLine names a product by SKU or barcode.
type SaleLine struct {
	SKU      string       `json:"sku,omitempty"`
	Barcode  string       `json:"barcode,omitempty"`
	Qty      int64        `json:"qty"`
	Discount ledger.Money `json:"discount,omitempty"`
}

// Sale is a recorded sale as the API returns it.
type Sale struct {
	EventID  string          `json:"event_id"`
	Receipt  string          `json:"receipt"`
	Till     string          `json:"till"`
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Currency string          `json:"currency"`
	Total    ledger.Money    `json:"total"`
	Tax      ledger.Money    `json:"tax"`
	Change   ledger.Money    `json:"change"`
	Lines    []ledger.Line   `json:"lines"`
	Tenders  []ledger.Tender `json:"tenders"`
	Replayed bool            `json:"replayed,omitempty"` // an earlier sale with the same idempotency key
}

// StockLevel is a SKU's store stock: the sum of every till's slot.
type StockLevel struct {
	SKU   string           `json:"sku"`
	Name  string           `json:"name,omitempty"`
	Total int64            `json:"total"`
	Slots map[string]int64 `json:"slots"` // per till number
}

// Status describes the till and its mesh.
type Status struct {
	Till          string            `json:"till"` // peer ID
	TillID        string            `json:"till_id"`
	Number        uint32            `json:"number"`
	Name          string            `json:"name"`
	Store         string            `json:"store"`
	Addrs         []string          `json:"addrs"`
	Peers         []Peer            `json:"peers"`
	VersionVector map[string]uint64 `json:"version_vector"` // till number (or ID) -> seq
	Events        uint64            `json:"events"`
	CRDTHeads     []string          `json:"crdt_heads"`
	ClockWarnings []string          `json:"clock_warnings"`
	HQ            HQStatus          `json:"hq"`
	Problems      []string          `json:"problems,omitempty"`
}

// Peer is one other till of the store.
type Peer struct {
	ID        string    `json:"id"`
	Number    uint32    `json:"number,omitempty"`
	Name      string    `json:"name,omitempty"`
	Addrs     []string  `json:"addrs"`
	Connected bool      `json:"connected"`
	LastSeen  time.Time `json:"last_seen"`
	Behind    uint64    `json:"behind"` // events we hold that it lacked at the last exchange
	Ahead     uint64    `json:"ahead"`  // events it held that we lacked
	SkewMS    int64     `json:"skew_ms"`
}

// HQStatus says whether HQ is reachable and how much it lacks.
type HQStatus struct {
	Reachable bool   `json:"reachable"`
	Unsent    uint64 `json:"unsent"`
	Relay     string `json:"relay,omitempty"`
	Note      string `json:"note,omitempty"`
}

// API serves the till's JSON API under /api.
type API struct {
	till Till
	log  *slog.Logger
}

// NewAPI returns the API handlers over till.
func NewAPI(till Till, log *slog.Logger) *API { return &API{till: till, log: log} }

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/sales", a.postSale)
	mux.HandleFunc("GET /api/stock", a.getStock)
	mux.HandleFunc("GET /api/stock/{sku}", a.getStockSKU)
	mux.HandleFunc("GET /api/status", a.getStatus)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The mux sends here every /api request no route matches; say
		// 405 when the path exists under another method.
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/api/" && pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: allowed %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API route %s %s", r.Method, r.URL.Path))
	})
}

const maxBody = 1 << 20

func (a *API) postSale(w http.ResponseWriter, r *http.Request) {
	var req SaleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.IdempotencyKey) == "" {
		writeError(w, http.StatusBadRequest, "idempotency_key is required: make one before sending, reuse it on retry")
		return
	}
	sale, replayed, err := a.till.Sell(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sale.Replayed = replayed
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, sale)
}

func (a *API) getStock(w http.ResponseWriter, r *http.Request) {
	all, err := a.till.AllStock(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, all)
}

func (a *API) getStockSKU(w http.ResponseWriter, r *http.Request) {
	st, err := a.till.Stock(r.Context(), r.PathValue("sku"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.till.Status(r.Context()))
}

// fail maps an error onto a status; unexpected errors are logged once,
// here, and the client gets a generic reason.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, ledger.ErrInvalidBody), errors.Is(err, ledger.ErrTendersShort),
		errors.Is(err, ledger.ErrOverRefund), errors.Is(err, ledger.ErrUnknownSale), errors.Is(err, ledger.ErrAlreadyVoided),
		errors.Is(err, ledger.ErrShiftState):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		a.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q: want application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed request: data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]string{"error": reason})
}
