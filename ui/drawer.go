package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// record checks the idempotency key, records body and answers with what
// done makes of the event. Bodies come from validated requests; the
// ledger still checks every rule and nothing is stored if one fails.
// keyed answers 400 when an event-making request has no idempotency key;
// it reports whether the request may go on.
func (a *API) keyed(w http.ResponseWriter, r *http.Request, key string) bool {
	switch {
	case strings.TrimSpace(key) == "":
		a.fail(w, r, badRequest("idempotency_key is required: make one before sending, reuse it on retry"))
		return false
	case len(key) > ledger.MaxKeyLen:
		a.fail(w, r, badRequest("idempotency_key is %d bytes: at most %d", len(key), ledger.MaxKeyLen))
		return false
	}
	return true
}

// reusedKeyError is an idempotency key sent again with a different
// request: the client gets 409 and the event the key made.
type reusedKeyError struct {
	ev      *ledger.Event
	receipt string
}

func (e *reusedKeyError) Error() string {
	return fmt.Sprintf("idempotency key already used for a different request (%s %s): make a new key for a new request",
		strings.ReplaceAll(string(e.ev.Kind()), "_", " "), e.receipt)
}

// eventRef names an event for a message: its receipt number, or its
// till and seq for an event that takes none.
func (a *API) eventRef(ev *ledger.Event) string {
	if r := a.receiptNo(ev.Till, ev.Seq); r != "" {
		return r
	}
	return fmt.Sprintf("event %d of till %d", ev.Seq, a.till.TillNumber(ev.Till))
}

func (a *API) reused(ev *ledger.Event) error {
	return &reusedKeyError{ev: ev, receipt: a.eventRef(ev)}
}

// sameBody reports whether body, made from a request, is what the event
// an idempotency key made records: the same kind, staff and fields, but
// for those read from the ledger at the time (a count's expected stock).
func sameBody(ev *ledger.Event, body ledger.Body) bool {
	if ev.Kind() != body.Kind() {
		return false
	}
	norm := func(b ledger.Body) string {
		if c, ok := b.(*ledger.StockCount); ok {
			n := *c
			n.Lines = append([]ledger.CountLine(nil), c.Lines...)
			for i := range n.Lines {
				n.Lines[i].Expected = 0
			}
			b = &n
		}
		j, _ := json.Marshal(b)
		return string(j)
	}
	return norm(ev.Body) == norm(body)
}

// replayOf checks an event-making request's idempotency key and returns
// the event the key already made, or nil. ok is false when it has
// answered the request itself (no key, or a failed lookup).
func (a *API) replayOf(w http.ResponseWriter, r *http.Request, key string) (ev *ledger.Event, ok bool) {
	if !a.keyed(w, r, key) {
		return nil, false
	}
	ev, err := a.till.Replay(key)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return ev, true
}

func (a *API) record(w http.ResponseWriter, r *http.Request, key string, body ledger.Body, done func(ev *ledger.Event) any, allowed ...func() error) {
	if !a.keyed(w, r, key) {
		return
	}
	ev, err := a.till.Replay(key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	existing := ev != nil
	if !existing {
		// A new event: the permissions it needs are checked now (a
		// replay was allowed when it was made).
		for _, ok := range allowed {
			if err := ok(); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if ev, existing, err = a.till.Record(r.Context(), body, key); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if existing && !sameBody(ev, body) {
		a.fail(w, r, a.reused(ev))
		return
	}
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	out := done(ev)
	if v, ok := out.(EventView); ok {
		v.Replayed = existing
		out = v
	}
	writeJSON(w, status, out)
}

// EventView is what the API answers for a recorded drawer event.
type EventView struct {
	// Receipt is the receipt number of a sale, refund or void; "" for
	// other events, which take none (ledger.IsReceiptKind).
	Receipt string      `json:"receipt"`
	EventID string      `json:"event_id"`
	Seq     uint64      `json:"seq"`
	Kind    ledger.Kind `json:"kind"`
	Time    time.Time   `json:"time"`
	Body    ledger.Body `json:"body"`
	// Replayed is set when the idempotency key had already made it.
	Replayed bool `json:"replayed,omitempty"`
}

func (a *API) eventView(ev *ledger.Event) any {
	return EventView{Receipt: a.receiptNo(ev.Till, ev.Seq), EventID: ev.ID().String(), Seq: ev.Seq,
		Kind: ev.Kind(), Time: time.UnixMilli(ev.Time.Wall).UTC(), Body: ev.Body}
}

func (a *API) postNoSale(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		IdempotencyKey string `json:"idempotency_key"`
		Reason         string `json:"reason,omitempty"`
		approval
	}
	if !decode(w, r, &req) {
		return
	}
	a.record(w, r, req.IdempotencyKey, &ledger.NoSale{Reason: strings.TrimSpace(req.Reason), Staff: s.staff.ID}, a.eventView, func() error {
		if _, err := a.authorize(r.Context(), r, s, req.approval, "opening the drawer without a sale", PermNoSale); err != nil {
			return err
		}
		return a.requireShift(ledger.KindNoSale)
	})
}

// CashRequest is the body of POST /api/cash: cash put into ("in") or
// taken out of ("out") the drawer outside a sale.
type CashRequest struct {
	IdempotencyKey string       `json:"idempotency_key"`
	Direction      string       `json:"direction"`
	Amount         ledger.Money `json:"amount"`
	Reason         string       `json:"reason"`
	approval
}

func (a *API) postCash(w http.ResponseWriter, r *http.Request, s *session) {
	var req CashRequest
	if !decode(w, r, &req) {
		return
	}
	cur := a.settings(r.Context()).Currency
	reason := strings.TrimSpace(req.Reason)
	switch {
	case req.Amount <= 0:
		a.fail(w, r, badRequest("amount %v: must be positive", req.Amount))
		return
	case req.Amount > ledger.MaxPrice:
		a.fail(w, r, badRequest("amount %v: above %v", req.Amount, ledger.Money(ledger.MaxPrice)))
		return
	case reason == "":
		a.fail(w, r, badRequest("cash %s needs a reason", req.Direction))
		return
	}
	var body ledger.Body
	var perms []Permission
	switch req.Direction {
	case "in":
		body = &ledger.CashIn{Currency: cur, Amount: req.Amount, Reason: reason, Staff: s.staff.ID}
		perms = []Permission{PermCashIn}
	case "out":
		body = &ledger.CashOut{Currency: cur, Amount: req.Amount, Reason: reason, Staff: s.staff.ID}
		perms = []Permission{PermCashOut}
		if int64(req.Amount) > a.settings(r.Context()).CashOutLimit {
			perms = append(perms, PermCashOutLarge)
		}
	default:
		a.fail(w, r, badRequest("direction %q: want \"in\" or \"out\"", req.Direction))
		return
	}
	a.record(w, r, req.IdempotencyKey, body, a.eventView, func() error {
		if _, err := a.authorize(r.Context(), r, s, req.approval, fmt.Sprintf("cash %s of %v", req.Direction, req.Amount), perms...); err != nil {
			return err
		}
		return a.requireShift(body.Kind())
	})
}

// ReportView is a ledger report with its tax bands as a list.
type ReportView struct {
	ledger.Report
	Bands []Band `json:"bands"`
}

func reportView(r ledger.Report) ReportView {
	v := ReportView{Report: r, Bands: []Band{}}
	for _, b := range r.Bands {
		v.Bands = append(v.Bands, Band{Rate: b.Rate, Net: b.Net, Tax: b.Tax})
	}
	sort.Slice(v.Bands, func(i, j int) bool { return v.Bands[i].Rate < v.Bands[j].Rate })
	return v
}

// ShiftView is a shift with its running (X) or final (Z) report.
type ShiftView struct {
	Till      uint32                `json:"till"`
	OpenSeq   uint64                `json:"open_seq"`
	CloseSeq  uint64                `json:"close_seq,omitempty"`
	Opened    time.Time             `json:"opened"`
	Closed    *time.Time            `json:"closed,omitempty"`
	Staff     string                `json:"staff"`
	Report    ReportView            `json:"report"`
	Counted   ledger.Money          `json:"counted"`
	Expected  ledger.Money          `json:"expected"`
	OverShort ledger.Money          `json:"over_short"`
	Count     []ledger.Denomination `json:"count,omitempty"`
	// Number is the shift's number at its till (1 for its first): its Z
	// report's number, as printed ("Z REPORT 1-3").
	Number uint64 `json:"number"`
}

func (a *API) shiftView(sh *ledger.Shift) *ShiftView {
	if sh == nil {
		return nil
	}
	v := &ShiftView{Till: a.till.TillNumber(sh.Till), OpenSeq: sh.OpenSeq, CloseSeq: sh.CloseSeq,
		Opened: time.UnixMilli(sh.Opened.Wall).UTC(), Staff: sh.Staff, Report: reportView(sh.Report),
		Counted: sh.Counted, Expected: sh.Expected, OverShort: sh.OverShort, Count: sh.Count}
	a.till.View(func(s *ledger.State) {
		for i, x := range s.Fold().Shifts(sh.Till) {
			if x.OpenSeq == sh.OpenSeq {
				v.Number = uint64(i + 1)
			}
		}
	})
	if !sh.IsOpen() {
		t := time.UnixMilli(sh.Closed.Wall).UTC()
		v.Closed = &t
	}
	if sh.IsOpen() {
		v.Expected = sh.Report.CashExpected
	}
	return v
}

// ShiftState is what GET /api/shift answers: the open shift with its X
// report, and the last closed shift with its Z report.
type ShiftState struct {
	Currency string     `json:"currency"`
	Open     *ShiftView `json:"open"`
	Last     *ShiftView `json:"last"`
}

func (a *API) shiftState(ctx context.Context) ShiftState {
	self := a.till.Self().ID
	var open, last *ledger.Shift
	a.till.View(func(s *ledger.State) {
		f := s.Fold()
		if sh := f.OpenShift(self); sh != nil {
			c := *sh
			open = &c
		}
		shifts := f.Shifts(self)
		for i := len(shifts) - 1; i >= 0; i-- {
			if !shifts[i].IsOpen() {
				c := *shifts[i]
				last = &c
				break
			}
		}
	})
	return ShiftState{Currency: a.settings(ctx).Currency, Open: a.shiftView(open), Last: a.shiftView(last)}
}

func (a *API) getShift(w http.ResponseWriter, r *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, a.shiftState(r.Context()))
}

func (a *API) postShiftOpen(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		IdempotencyKey string       `json:"idempotency_key"`
		Float          ledger.Money `json:"float"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Float < 0 || req.Float > ledger.MaxPrice {
		a.fail(w, r, badRequest("float %v: must not be negative nor above %v", req.Float, ledger.Money(ledger.MaxPrice)))
		return
	}
	body := &ledger.ShiftOpen{Currency: a.settings(r.Context()).Currency, Float: req.Float, Staff: s.staff.ID}
	a.record(w, r, req.IdempotencyKey, body, func(*ledger.Event) any { return a.shiftState(r.Context()) })
}

func (a *API) postShiftClose(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		IdempotencyKey string                `json:"idempotency_key"`
		Counted        []ledger.Denomination `json:"counted"`
	}
	if !decode(w, r, &req) {
		return
	}
	var counted []ledger.Denomination
	seen := map[ledger.Money]bool{}
	for _, d := range req.Counted {
		switch {
		case d.Value <= 0:
			a.fail(w, r, badRequest("denomination %v: must be positive", d.Value))
			return
		case d.Count < 0:
			a.fail(w, r, badRequest("%d notes or coins of %v: must not be negative", d.Count, d.Value))
			return
		case seen[d.Value]:
			a.fail(w, r, badRequest("denomination %v counted twice", d.Value))
			return
		}
		seen[d.Value] = true
		if d.Count > 0 {
			counted = append(counted, d)
		}
	}
	sort.Slice(counted, func(i, j int) bool { return counted[i].Value > counted[j].Value })
	body := &ledger.ShiftClose{Currency: a.settings(r.Context()).Currency, Counted: counted, Staff: s.staff.ID}
	a.record(w, r, req.IdempotencyKey, body, func(ev *ledger.Event) any {
		var z *ledger.Shift
		var zNumber uint64 // the shift's number at its till: the Z report's
		a.till.View(func(st *ledger.State) {
			for i, sh := range st.Fold().Shifts(ev.Till) {
				if sh.CloseSeq == ev.Seq {
					c := *sh
					z, zNumber = &c, uint64(i+1)
				}
			}
		})
		return map[string]any{"z": a.shiftView(z), "receipt": ledger.ReceiptNo(a.till.TillNumber(ev.Till), zNumber), "seq": ev.Seq}
	})
}
