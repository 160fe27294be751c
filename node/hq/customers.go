package hq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Customers at HQ: the chain's customers, merged from every store's
// relay exactly as the tills merge them (per field, the edit with the
// greatest hybrid logical clock wins; an erasure wins over everything and
// leaves the number alone), and handed down to every store's relay after
// a cursor. HQ keeps one record per customer and a cursor log that names
// only numbers, so erasing a customer at HQ (from the dashboard, or when
// a store's erasure comes up) leaves nothing of their personal data in
// its current storage. Backups written before an erasure still hold it:
// see docs/SECURITY.md.

// ErrNoCustomers answers customer requests when the storage keeps none.
var ErrNoCustomers = errors.New("hq: this storage keeps no customers")

// hqEditor is who an erasure made at HQ is by.
const hqEditor = "hq"

func (h *HQ) customerStore() (customerStorage, error) {
	if cs, ok := h.st.(customerStorage); ok {
		return cs, nil
	}
	return nil, ErrNoCustomers
}

// registerCustomers adds the relay's customer routes.
func (h *HQ) registerCustomers(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/stores/{store}/customers", versioned(h.putCustomers))
	mux.HandleFunc("GET /v1/stores/{store}/customers", versioned(h.getCustomers))
}

// registerCustomerDashboard adds the dashboard's customer page API.
func (h *HQ) registerCustomerDashboard(api func(string, http.HandlerFunc)) {
	api("GET /hq/api/customers", h.staff(h.apiCustomers))
	api("POST /hq/api/customers/{number}/erase", h.staff(h.apiEraseCustomer))
}

// toEdits checks a record's edits and turns them into crdt's.
func toEdits(r hqapi.CustomerRecord) ([]crdt.FieldEdit, error) {
	if err := crdt.ValidCustomerNumber(r.Number); err != nil {
		return nil, fmt.Errorf("%w: customer number %q: %v", ErrInvalid, r.Number, err)
	}
	out := make([]crdt.FieldEdit, 0, len(r.Edits))
	for _, e := range r.Edits {
		f, err := crdt.ParseCustomerField(e.Field)
		if err != nil {
			return nil, fmt.Errorf("%w: customer %s: %v", ErrInvalid, r.Number, err)
		}
		fe := crdt.FieldEdit{Field: f, Value: e.Value, At: ledger.HLC{Wall: e.Wall, Logical: e.Logical}, By: e.By}
		if err := fe.Check(); err != nil {
			return nil, fmt.Errorf("%w: customer %s: %v", ErrInvalid, r.Number, err)
		}
		out = append(out, fe)
	}
	return out, nil
}

func fromEdits(es []crdt.FieldEdit) []hqapi.CustomerEdit {
	out := make([]hqapi.CustomerEdit, 0, len(es))
	for _, e := range es {
		out = append(out, hqapi.CustomerEdit{Field: e.Field.String(), Value: e.Value, Wall: e.At.Wall, Logical: e.At.Logical, By: e.By})
	}
	return out
}

// mergeRecord merges in into old, as every till does.
func mergeRecord(old *hqapi.CustomerRecord, in hqapi.CustomerRecord, edits []crdt.FieldEdit) (*hqapi.CustomerRecord, bool, error) {
	switch {
	case old != nil && old.Erased:
		return nil, false, nil // erased for good
	case in.Erased:
		return &hqapi.CustomerRecord{Erased: true, ErasedAt: in.ErasedAt, ErasedBy: in.ErasedBy}, true, nil
	}
	var have []crdt.FieldEdit
	if old != nil {
		var err error
		if have, err = toEdits(*old); err != nil {
			return nil, false, err
		}
	}
	merged := crdt.MergeEdits(have, edits)
	if len(merged) == 0 || slices.Equal(merged, crdt.MergeEdits(have)) {
		return nil, false, nil
	}
	return &hqapi.CustomerRecord{Edits: fromEdits(merged)}, true, nil
}

// PutCustomers merges customers a store's relay sent. It checks every
// record first and stores nothing if one is malformed.
func (h *HQ) PutCustomers(ctx context.Context, store ledger.StoreID, recs []hqapi.CustomerRecord) (int, error) {
	if h.store(store) == nil {
		return 0, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	cs, err := h.customerStore()
	if err != nil {
		return 0, err
	}
	edits := make([][]crdt.FieldEdit, len(recs))
	for i, r := range recs {
		if edits[i], err = toEdits(r); err != nil {
			return 0, err
		}
		if r.Erased && (r.ErasedBy == "" || len(r.ErasedBy) > 200) {
			return 0, fmt.Errorf("%w: customer %s: erasure without its maker", ErrInvalid, r.Number)
		}
	}
	changed := 0
	now := uint64(h.cfg.Now().UnixMicro())
	for i, r := range recs {
		ch, err := cs.UpdateCustomer(ctx, r.Number, now, func(old *hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error) {
			return mergeRecord(old, r, edits[i])
		})
		if err != nil {
			return changed, err
		}
		if ch {
			changed++
			if r.Erased {
				h.log.Info("customer erased at a store", "store", store, "customer", r.Number)
			}
		}
	}
	return changed, nil
}

// CustomersFor returns up to limit customers changed after a cursor, from
// every store of the chain.
func (h *HQ) CustomersFor(ctx context.Context, store ledger.StoreID, after uint64, limit int) (hqapi.Customers, error) {
	if h.store(store) == nil {
		return hqapi.Customers{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	cs, err := h.customerStore()
	if err != nil {
		return hqapi.Customers{}, err
	}
	recs, err := cs.CustomersAfter(ctx, after, limit+1)
	if err != nil {
		return hqapi.Customers{}, err
	}
	out := hqapi.Customers{Customers: recs, Next: after}
	if len(recs) > limit {
		out.Customers, out.More = recs[:limit], true
	}
	if n := len(out.Customers); n > 0 {
		out.Next = out.Customers[n-1].Cursor
	}
	if out.Customers == nil {
		out.Customers = []hqapi.CustomerRecord{}
	}
	return out, nil
}

// EraseCustomer erases a customer at HQ; every store's relay brings the
// erasure down to its tills.
func (h *HQ) EraseCustomer(ctx context.Context, number, by string) error {
	if err := crdt.ValidCustomerNumber(number); err != nil {
		return fmt.Errorf("%w: customer number %q: %v", ErrInvalid, number, err)
	}
	cs, err := h.customerStore()
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	found := false
	_, err = cs.UpdateCustomer(ctx, number, uint64(now.UnixMicro()), func(old *hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error) {
		found = old != nil
		if old == nil || old.Erased {
			return nil, false, nil
		}
		return &hqapi.CustomerRecord{Erased: true, ErasedAt: now.UnixMilli(), ErasedBy: hqEditor}, true, nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: customer %s", ErrNotFound, number)
	}
	h.log.Info("customer erased at HQ", "customer", number, "by", by)
	return nil
}

// CustomerView is a customer as the dashboard lists it.
type CustomerView struct {
	Number    string `json:"number"`
	Name      string `json:"name,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Card      string `json:"card,omitempty"`
	Consent   bool   `json:"consent,omitempty"`
	HomeStore string `json:"home_store,omitempty"`
	Erased    bool   `json:"erased,omitempty"`
}

// SearchCustomers lists up to limit customers whose number, name, phone,
// email or card contains q (all, if q is empty), by number.
func (h *HQ) SearchCustomers(ctx context.Context, q string, limit int) ([]CustomerView, error) {
	cs, err := h.customerStore()
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	qd := crdt.PhoneDigits(q)
	var out []CustomerView
	err = cs.CustomerRecords(ctx, func(r hqapi.CustomerRecord) bool {
		edits, err := toEdits(r)
		if err != nil {
			return true // not stored by PutCustomers: skip
		}
		c := crdt.MergeCustomer(r.Number, edits)
		v := CustomerView{Number: r.Number, Name: c.Name, Phone: c.Phone, Email: c.Email, Card: c.Card,
			Consent: c.Consent, HomeStore: c.HomeStore, Erased: r.Erased}
		text := strings.ToLower(v.Number + "\x00" + v.Name + "\x00" + v.Email + "\x00" + v.Card)
		if q == "" || strings.Contains(text, q) || (qd != "" && len(qd) == len(strings.TrimSpace(q)) && strings.Contains(crdt.PhoneDigits(v.Phone), qd)) {
			out = append(out, v)
		}
		return len(out) < limit
	})
	if out == nil {
		out = []CustomerView{}
	}
	return out, err
}

func (h *HQ) putCustomers(w http.ResponseWriter, r *http.Request) {
	store, _, body, ok := h.authBody(w, r)
	if !ok {
		return
	}
	c, err := hqapi.DecodeCustomers(body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	n, err := h.PutCustomers(r.Context(), store, c.Customers)
	if err != nil {
		h.failCustomers(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"changed": n})
}

func (h *HQ) getCustomers(w http.ResponseWriter, r *http.Request) {
	store, _, ok := h.authOrFail(w, r)
	if !ok {
		return
	}
	after, limit, err := parseCursor(r.URL.Query().Get("after"), r.URL.Query().Get("limit"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	resp, err := h.CustomersFor(r.Context(), store, after, limit)
	if err != nil {
		h.failCustomers(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *HQ) failCustomers(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNoCustomers):
		writeErr(w, http.StatusNotImplemented, "", err.Error())
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, "", err.Error())
	default:
		h.fail(w, r, err)
	}
}

func (h *HQ) apiCustomers(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query().Get("q")
	if len(q) > 200 {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "search longer than 200 bytes")
		return
	}
	out, err := h.SearchCustomers(r.Context(), q, 200)
	if err != nil {
		h.failCustomers(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customers": out})
}

func (h *HQ) apiEraseCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	number := r.PathValue("number")
	if err := h.EraseCustomer(r.Context(), number, s.user); err != nil {
		h.failCustomers(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": number, "erased": true})
}
