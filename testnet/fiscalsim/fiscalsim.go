// Package fiscalsim is a fiscal service on this machine, speaking the
// reference provider's JSON (node/outbox/fiscal, wire.go): the tests, the
// demo and `tillmesh testnet fiscal-sim` use it instead of a real tax
// service. It registers receipts and Z reports, answers a repeated
// request (same Idempotency-Key) with the first answer and counts it as
// a duplicate, and can be told to be down, slow, to reject a share of
// receipts with a code, or to answer badly (garbage, an error body with
// 200, a broken-off answer, a fiscal number it already gave).
//
// It is one mutex-guarded map: fine for a day of a store's receipts.
// Control it in Go (Sim.Set) or over HTTP (POST /control with a JSON
// Faults, GET /stats).
package fiscalsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
)

// Faults say how the simulator misbehaves. The zero Faults is a healthy
// service.
type Faults struct {
	// Down answers every request 503.
	Down bool `json:"down"`
	// Delay is added before each answer.
	Delay Duration `json:"delay"`
	// RejectPercent of receipts (chosen by their ID, so a retry of one
	// is refused again) are refused with RejectCode.
	RejectPercent int    `json:"reject_percent"`
	RejectCode    string `json:"reject_code,omitempty"`
	// Garbage answers 200 with a body that is not JSON.
	Garbage bool `json:"garbage"`
	// ErrorBody answers 200 with {"ok":false,...}.
	ErrorBody bool `json:"error_body"`
	// BreakOff sends the headers and half a body, then waits until the
	// client gives up.
	BreakOff bool `json:"break_off"`
	// SameNumber gives every new receipt the fiscal number of the
	// first one (a broken service).
	SameNumber bool `json:"same_number"`
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token string `json:"token,omitempty"`
	// InOrder refuses (409 out_of_order) a receipt or Z report of a
	// terminal dated before one the service already registered for it,
	// as services that number a terminal's receipts do.
	InOrder bool `json:"in_order,omitempty"`
	// MaxAhead, when set, refuses (422 future_time) a receipt or Z
	// report dated more than this after the service's clock (SetNow), as
	// a service refuses a till whose clock runs ahead.
	MaxAhead Duration `json:"max_ahead,omitempty"`
}

// Duration is a time.Duration that reads and writes as "20ms".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"20ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || v > time.Hour {
		return fmt.Errorf("duration %q: want 0 to 1h, like \"20ms\"", s)
	}
	*d = Duration(v)
	return nil
}

// Stats count what the simulator saw.
type Stats struct {
	Requests   int `json:"requests"`   // every request to the API
	Registered int `json:"registered"` // receipts and Z reports registered (each once)
	Duplicates int `json:"duplicates"` // requests for an ID already registered, answered with its first answer
	Rejected   int `json:"rejected"`   // requests refused with a code
	Faulty     int `json:"faulty"`     // requests answered down, garbage or broken off
}

// Registered is one registration.
type Registered struct {
	Seq     int                    `json:"seq"` // order of registration, from 1
	Number  string                 `json:"fiscal_number"`
	Sign    string                 `json:"fiscal_sign"`
	Receipt *fiscal.ReceiptRequest `json:"receipt,omitempty"`
	ZReport *fiscal.ZReportRequest `json:"zreport,omitempty"`
	At      time.Time              `json:"at"`
}

// Sim is the simulated fiscal service. NewSim makes one; Handler serves
// it; Serve runs it on a listener.
type Sim struct {
	key  []byte
	base string // for verification URLs; set by Serve or SetBase

	mu     sync.Mutex
	faults Faults
	stats  Stats
	byID   map[string]*Registered
	order  []string
	lastAt map[string]time.Time // newest registration per terminal (InOrder)
	first  string
	now    func() time.Time // the service's clock; nil: time.Now
}

// NewSim returns an empty, healthy simulator.
func NewSim() *Sim {
	return &Sim{key: []byte("tillmesh-fiscal-sim"), byID: map[string]*Registered{}}
}

// SetBase sets the URL the verification links start with.
func (s *Sim) SetBase(base string) {
	s.mu.Lock()
	s.base = base
	s.mu.Unlock()
}

// SetNow sets the service's clock (MaxAhead, Registered.At): a
// simulation that moves time on moves the service's with its tills'.
func (s *Sim) SetNow(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

func (s *Sim) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// Set replaces the faults.
func (s *Sim) Set(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the current faults.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Stats returns the counts so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Get returns the registration of an ID.
func (s *Sim) Get(id string) (Registered, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Registered{}, false
	}
	return *r, true
}

// Order returns the registered IDs in the order they were registered.
func (s *Sim) Order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// maxBody bounds a request.
const maxBody = 1 << 20

// Handler serves the API, the control endpoints and the verification page.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/receipts", func(w http.ResponseWriter, r *http.Request) { s.register(w, r, false) })
	mux.HandleFunc("POST /api/v1/zreports", func(w http.ResponseWriter, r *http.Request) { s.register(w, r, true) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Stats()) })
	mux.HandleFunc("GET /control", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Faults()) })
	mux.HandleFunc("POST /control", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, 400, map[string]string{"error": "control: " + err.Error()})
			return
		}
		if f.RejectPercent < 0 || f.RejectPercent > 100 {
			writeJSON(w, 400, map[string]string{"error": "control: reject_percent must be 0..100"})
			return
		}
		s.Set(f)
		writeJSON(w, 200, f)
	})
	mux.HandleFunc("GET /check", s.check)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Sim) refuse(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, fiscal.Answer{Error: &fiscal.Error{Code: code, Message: msg}})
}

func (s *Sim) register(w http.ResponseWriter, r *http.Request, z bool) {
	s.mu.Lock()
	s.stats.Requests++
	f := s.faults
	s.mu.Unlock()
	if f.Delay > 0 {
		select {
		case <-time.After(time.Duration(f.Delay)):
		case <-r.Context().Done():
			return
		}
	}
	fault := func() { s.mu.Lock(); s.stats.Faulty++; s.mu.Unlock() }
	if f.Down {
		fault()
		s.refuse(w, http.StatusServiceUnavailable, "maintenance", "the service is down for maintenance")
		return
	}
	if f.Token != "" && r.Header.Get("Authorization") != "Bearer "+f.Token {
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusUnauthorized, "unauthorized", "wrong or missing API token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var rec fiscal.ReceiptRequest
	var zr fiscal.ZReportRequest
	var id, tin string
	if z {
		err = json.Unmarshal(body, &zr)
		id, tin = zr.ID, zr.TIN
	} else {
		err = json.Unmarshal(body, &rec)
		id, tin = rec.ID, rec.TIN
	}
	switch {
	case err != nil:
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	case key == "" || key != id:
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusBadRequest, "idempotency_key", "Idempotency-Key must be set and equal the request's id")
		return
	case tin == "":
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusUnprocessableEntity, "no_tin", "the seller's tax ID is missing")
		return
	case !z && (rec.Type != fiscal.TypeSale && rec.Type != fiscal.TypeRefund && rec.Type != fiscal.TypeVoid):
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusUnprocessableEntity, "bad_type", fmt.Sprintf("receipt type %q", rec.Type))
		return
	}
	if !z && f.RejectPercent > 0 && share(id) < f.RejectPercent {
		code := f.RejectCode
		if code == "" {
			code = "invalid_receipt"
		}
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusUnprocessableEntity, code, "the receipt was refused by the tax service's checks")
		return
	}
	switch {
	case f.Garbage:
		fault()
		w.WriteHeader(200)
		io.WriteString(w, "<html>gateway says hello</html>")
		return
	case f.ErrorBody:
		s.count(func(st *Stats) { st.Rejected++ })
		writeJSON(w, 200, fiscal.Answer{Error: &fiscal.Error{Code: "internal", Message: "cash register not activated"}})
		return
	}
	terminal, at := rec.Terminal, rec.Time
	if z {
		terminal, at = zr.Terminal, zr.Time
	}
	when, _ := time.Parse(time.RFC3339Nano, at)
	now := s.clock()
	if f.MaxAhead > 0 && when.Sub(now) > time.Duration(f.MaxAhead) {
		s.count(func(st *Stats) { st.Rejected++ })
		s.refuse(w, http.StatusUnprocessableEntity, "future_time",
			fmt.Sprintf("the receipt is dated %s, %v after the service's clock", at, when.Sub(now).Round(time.Second)))
		return
	}
	s.mu.Lock()
	reg, dup := s.byID[id]
	if !dup && f.InOrder && when.Before(s.lastAt[terminal]) {
		s.stats.Rejected++
		s.mu.Unlock()
		s.refuse(w, http.StatusConflict, "out_of_order", fmt.Sprintf("terminal %s registered a later receipt already", terminal))
		return
	}
	if dup {
		s.stats.Duplicates++
	} else {
		if s.lastAt == nil {
			s.lastAt = map[string]time.Time{}
		}
		if when.After(s.lastAt[terminal]) {
			s.lastAt[terminal] = when
		}
		n := len(s.order) + 1
		num := fmt.Sprintf("FN%010d", n)
		if f.SameNumber && s.first != "" {
			num = s.first
		}
		if s.first == "" {
			s.first = num
		}
		m := hmac.New(sha256.New, s.key)
		m.Write([]byte(num + "|" + id))
		reg = &Registered{Seq: n, Number: num, Sign: hex.EncodeToString(m.Sum(nil))[:16], At: now}
		if z {
			reg.ZReport = &zr
		} else {
			reg.Receipt = &rec
		}
		s.byID[id] = reg
		s.order = append(s.order, id)
		s.stats.Registered++
	}
	ans := fiscal.Answer{OK: true, FiscalNumber: reg.Number, FiscalSign: reg.Sign,
		QRURL: fmt.Sprintf("%s/check?n=%s&s=%s", s.base, reg.Number, reg.Sign)}
	s.mu.Unlock()
	if f.BreakOff {
		fault()
		b, _ := json.Marshal(ans)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(200)
		w.Write(b[:len(b)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		<-r.Context().Done()
		return
	}
	writeJSON(w, 200, ans)
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// share maps an ID to 0..99, the same every time.
func share(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 100)
}

// writeCheckPage writes the page a receipt's QR code opens. It escapes
// with html.EscapeString rather than html/template: text/template's
// reflection keeps every exported method in the tillmesh binary (see
// BENCHMARKS.md, "Footprint").
func writeCheckPage(w io.Writer, reg *Registered) {
	e := html.EscapeString
	fmt.Fprintf(w, "<!doctype html><meta charset=\"utf-8\"><title>Fiscal receipt %s</title>\n<h1>Fiscal receipt %s</h1><p>Sign %s. Registered %s.</p>\n",
		e(reg.Number), e(reg.Number), e(reg.Sign), e(reg.At.Format("2006-01-02 15:04:05")))
	if r := reg.Receipt; r != nil {
		fmt.Fprintf(w, "<p>%s %s at %s, seller %s: total %d %s, VAT %d.</p>",
			e(fmt.Sprint(r.Type)), e(r.Receipt), e(r.Terminal), e(r.TIN), r.Total, e(r.Currency), r.VAT)
	}
}

func (s *Sim) check(w http.ResponseWriter, r *http.Request) {
	n, sign := r.URL.Query().Get("n"), r.URL.Query().Get("s")
	s.mu.Lock()
	var found *Registered
	for _, reg := range s.byID {
		if reg.Number == n && reg.Sign == sign {
			c := *reg
			found = &c
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		http.Error(w, "no receipt with that fiscal number and sign", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	writeCheckPage(w, found)
}

// Serve serves the simulator on ln until ctx ends.
func (s *Sim) Serve(ctx context.Context, ln net.Listener) error {
	s.SetBase("http://" + ln.Addr().String())
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		srv.Shutdown(sctx)
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
