package hq

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/pinhash"
	"github.com/tillmesh/tillmesh/ui/backoff"
)

//go:embed web
var webFS embed.FS

const (
	sessionCookie = "hq_session"
	sessionTTL    = 12 * time.Hour
	csrfHeader    = "X-CSRF-Token"
)

// HashSecret hashes a password or PIN with argon2id (pinhash.Default),
// the hashes tills check with the same parser and bounds.
func HashSecret(secret string) (string, error) { return pinhash.New(secret, pinhash.Default) }

// CheckSecret reports whether secret matches a HashSecret string; a hash
// pinhash cannot read (out-of-bounds parameters) never matches.
func CheckSecret(hash, secret string) bool {
	ok, err := pinhash.Verify(hash, secret)
	return err == nil && ok
}

// SetPassword creates or resets an HQ staff login.
func (h *HQ) SetPassword(ctx context.Context, name, password string) error {
	if !validID(name) || len(password) < 8 {
		return fmt.Errorf("%w: a login needs a name ([A-Za-z0-9._-]) and a password of 8 characters or more", ErrInvalid)
	}
	hash, err := HashSecret(password)
	if err != nil {
		return err
	}
	return h.st.PutUser(ctx, User{Name: name, Hash: hash, Role: "admin"})
}

// HasUsers reports whether any staff login exists.
func (h *HQ) HasUsers(ctx context.Context) (bool, error) {
	us, err := h.st.Users(ctx)
	return len(us) > 0, err
}

type session struct {
	user    string
	csrf    string
	expires time.Time
	recheck time.Time // read from storage: look again after this (sessions.go); zero for a login made here
}

// sessions holds logged-in dashboard users and the failed-login
// back-off. A login attempt is counted before the password is checked
// (backoff.Limiter.Reserve), so concurrent guesses get no more checks
// than sequential ones: 5 per user and client, then a wait from 5 s
// doubling to 20 minutes; 15 per client; and 20 per user from every
// client together, whose wait never exceeds 10 s, so a guesser spread
// over many clients is slowed without locking the user out. checks
// bounds the argon2 hashes running at once.
type sessions struct {
	mu      sync.Mutex
	byID    map[string]*session
	limiter *backoff.Limiter
	checks  chan struct{}
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, limiter: backoff.New(30*time.Minute, 10_000), checks: make(chan struct{}, 2)}
}

// Login back-off rules (see sessions).
var (
	loginPair    = backoff.Rule{Free: 5, Base: 5 * time.Second, Max: 20 * time.Minute}
	loginClient  = backoff.Rule{Free: 15, Base: 5 * time.Second, Max: 20 * time.Minute}
	loginCeiling = backoff.Rule{Free: 20, Base: time.Second, Max: 10 * time.Second}
)

const clientCookie = "hq_client"

// loginClientOf names who is guessing: the address and the browser's
// client cookie (a random value HQ sets; it only tells browsers apart).
func loginClientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if c, err := r.Cookie(clientCookie); err == nil && len(c.Value) == 64 {
		if _, err := hex.DecodeString(c.Value); err == nil {
			return host + "|" + c.Value
		}
	}
	return host
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *HQ) registerDashboard(mux *http.ServeMux) {
	sub, _ := fs.Sub(webFS, "web")
	static := http.FileServerFS(sub)
	mux.Handle("GET /", h.secureHeaders(withClientCookie(static, h.cfg.SecureCookies)))
	h.registerI18n(mux) // i18n.go
	cop := http.NewCrossOriginProtection()
	api := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, h.secureHeaders(cop.Handler(f))) }
	api("POST /hq/api/login", h.login)
	api("POST /hq/api/logout", h.staff(h.logout))
	api("GET /hq/api/me", h.staff(h.me))
	api("GET /hq/api/stores", h.staff(h.apiStores))
	api("POST /hq/api/stores", h.staff(h.apiRegister))
	api("POST /hq/api/stores/{store}/revocations", h.staff(h.apiRevoke)) // revoke.go
	api("POST /hq/api/catalog/import", h.staff(h.apiCatalogImport))      // catalogcsv.go
	api("GET /hq/api/catalog/export", h.staff(h.apiCatalogExport))
	api("GET /hq/api/report", h.staff(h.apiReport))
	api("GET /hq/api/stock", h.staff(h.apiStock))
	api("GET /hq/api/catalog", h.staff(h.apiCatalog))
	api("POST /hq/api/products", h.staff(h.apiProduct))
	api("POST /hq/api/staff", h.staff(h.apiStaff))
	api("POST /hq/api/staff/status", h.staff(h.apiStaffStatus))
	api("GET /hq/api/evidence", h.staff(h.apiEvidence))
	h.registerCustomerDashboard(api)                        // customers.go
	api("GET /hq/api/overspends", h.staff(h.apiOverspends)) // overspend.go
	api("GET /hq/api/outbox", h.staff(h.apiOutbox))         // outbox.go
	api("POST /hq/api/stores/{store}/outbox/retry", h.staff(h.apiOutboxRetry))
	api("PUT /hq/api/stores/{store}/outbox/at", h.staff(h.apiOutboxPlacement)) // outbox_run.go
	api("GET /hq/api/transfers", h.staff(h.apiTransfers))                      // transfers.go
	api("GET /hq/api/report.csv", h.staff(h.apiReportCSV))                     // reportcsv.go
	api("GET /hq/api/stock/health", h.staff(h.apiStockHealth))                 // stockhealth.go
	api("POST /hq/api/stores/{store}/day", h.staff(h.apiBusinessDay))          // businessday.go
}

// withClientCookie gives a browser loading the dashboard its client
// cookie, if it has none.
func withClientCookie(next http.Handler, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(clientCookie); err != nil {
			http.SetCookie(w, &http.Cookie{Name: clientCookie, Value: randomToken(), Path: "/", HttpOnly: true, Secure: secure,
				SameSite: http.SameSiteStrictMode, MaxAge: 400 * 24 * 3600})
		}
		next.ServeHTTP(w, r)
	})
}

func (h *HQ) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// staff wraps a dashboard handler: a valid session, and the CSRF token on
// anything that is not GET.
func (h *HQ) staff(f func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			writeErr(w, http.StatusUnauthorized, hqapi.CodeUnauthorized, "log in first")
			return
		}
		h.sessions.mu.Lock()
		s := h.sessions.byID[c.Value]
		now := h.cfg.Now()
		if s != nil && (now.After(s.expires) || (!s.recheck.IsZero() && now.After(s.recheck))) {
			delete(h.sessions.byID, c.Value)
			s = nil
		}
		h.sessions.mu.Unlock()
		if s == nil && len(c.Value) == 64 {
			if s = h.findSession(r.Context(), c.Value); s != nil { // sessions.go: a login at another HQ process
				h.sessions.mu.Lock()
				h.sessions.byID[c.Value] = s
				h.sessions.mu.Unlock()
			}
		}
		if s == nil {
			writeErr(w, http.StatusUnauthorized, hqapi.CodeUnauthorized, "session expired: log in again")
			return
		}
		if r.Method != http.MethodGet && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.csrf)) != 1 {
			writeErr(w, http.StatusForbidden, hqapi.CodeUnauthorized, "missing or wrong CSRF token")
			return
		}
		f(w, r, s)
	}
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func (h *HQ) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	if len(req.User) > 128 || len(req.Password) > 1024 {
		writeErr(w, http.StatusUnauthorized, hqapi.CodeUnauthorized, "wrong user or password")
		return
	}
	now := h.cfg.Now()
	ss := h.sessions
	client := loginClientOf(r)
	pair := backoff.Key{Name: "login:" + req.User + "|" + client, Rule: loginPair}
	byClient := backoff.Key{Name: "client:" + client, Rule: loginClient}
	ceiling := backoff.Key{Name: "user:" + req.User, Rule: loginCeiling}
	ticket, wait, err := h.reserveLogin(r.Context(), now, pair, byClient, ceiling) // guards.go
	if err != nil {
		h.fail(w, r, fmt.Errorf("login back-off: %w", err))
		return
	}
	if ticket == nil {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeErr(w, http.StatusTooManyRequests, hqapi.CodeUnauthorized, fmt.Sprintf("too many failed logins: wait %v", wait.Round(time.Second)))
		return
	}
	select {
	case ss.checks <- struct{}{}:
	case <-r.Context().Done():
		ticket.Cancel()
		return
	}
	u, err := h.st.User(r.Context(), req.User)
	ok := err == nil && CheckSecret(u.Hash, req.Password)
	<-ss.checks
	if err != nil && !errors.Is(err, ErrNotFound) {
		ticket.Cancel()
		h.fail(w, r, err)
		return
	}
	if !ok {
		ticket.Failure()
		h.log.Warn("failed hq login", "user", req.User, "remote", r.RemoteAddr)
		writeErr(w, http.StatusUnauthorized, hqapi.CodeUnauthorized, "wrong user or password")
		return
	}
	ticket.Success(pair.Name, byClient.Name)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	id := randomToken()
	s := &session{user: u.Name, csrf: randomToken(), expires: now.Add(sessionTTL)}
	ss.byID[id] = s
	h.keepSession(r.Context(), id, s) // sessions.go
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: h.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	h.log.Info("hq login", "user", u.Name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"user": u.Name, "csrf": s.csrf})
}

func (h *HQ) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.sessions.mu.Lock()
		delete(h.sessions.byID, c.Value)
		h.sessions.mu.Unlock()
		h.dropSession(r.Context(), c.Value) // sessions.go
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *HQ) me(w http.ResponseWriter, _ *http.Request, s *session) {
	writeJSON(w, http.StatusOK, map[string]string{"user": s.user, "csrf": s.csrf})
}

func (h *HQ) apiStores(w http.ResponseWriter, _ *http.Request, _ *session) {
	out := h.Stores()
	if out == nil {
		out = []StoreView{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *HQ) apiRegister(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		CA   string `json:"ca"` // hex
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	id, err := ledger.ParseStoreID(strings.TrimSpace(req.ID))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	ca, err := hex.DecodeString(strings.TrimSpace(req.CA))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "ca: want the store CA public key in hex")
		return
	}
	if err := h.RegisterStore(r.Context(), id, strings.TrimSpace(req.Name), ca); err != nil {
		if errors.Is(err, ErrStoreExists) || errors.Is(err, ErrInvalid) {
			writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
			return
		}
		h.fail(w, r, err)
		return
	}
	h.log.Info("store registered", "store", id, "name", req.Name, "by", s.user)
	v, _ := h.Store(id)
	writeJSON(w, http.StatusOK, v)
}

// storeParam parses an optional store= parameter ("" or "all": nil).
func storeParam(v string) (*ledger.StoreID, error) {
	if v == "" || v == "all" {
		return nil, nil
	}
	id, err := ledger.ParseStoreID(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &id, nil
}

func validDay(d string) bool {
	if d == "" {
		return true
	}
	_, err := time.Parse(time.DateOnly, d)
	return err == nil
}

func (h *HQ) apiReport(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	store, err := storeParam(q.Get("store"))
	if err != nil || !validDay(q.Get("from")) || !validDay(q.Get("to")) {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "want store=<id>|all, from= and to= as YYYY-MM-DD")
		return
	}
	top, _ := strconv.Atoi(q.Get("top"))
	query := Query{Store: store, From: q.Get("from"), To: q.Get("to"), TopN: top}
	if store != nil { // one store's report is cheap: computed now
		enc, err := encodeReport(h.Report(query), false)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		now := h.cfg.Now()
		writeReport(w, r, enc, now, now)
		return
	}
	served, err := h.ChainReport(r.Context(), query) // chainreport.go: materialized
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReport(w, r, served.enc, served.AsOf, h.cfg.Now())
}

func (h *HQ) apiStock(w http.ResponseWriter, r *http.Request, _ *session) {
	store, err := storeParam(r.URL.Query().Get("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	out, err := h.Stock(r.Context(), store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if out == nil {
		out = []StockLevel{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *HQ) apiCatalog(w http.ResponseWriter, r *http.Request, _ *session) {
	c, err := h.Catalog(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *HQ) apiProduct(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Store   string        `json:"store"`
		Product hqapi.Product `json:"product"`
		Fields  []string      `json:"fields"` // fields edited; empty: a whole (new) product
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	store, err := storeParam(req.Store)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	c, err := h.EditProduct(r.Context(), store, req.Product, req.Fields, s.user)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("product change", "sku", req.Product.SKU, "fields", c.Fields, "price", c.Product.Price, "cursor", c.Cursor, "by", s.user)
	writeJSON(w, http.StatusOK, c)
}

func (h *HQ) apiStaff(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Store string `json:"store"`
		ID    string `json:"id"`
		Name  string `json:"name"`
		Role  string `json:"role"`
		PIN   string `json:"pin"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	store, err := storeParam(req.Store)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	c, err := h.PutStaff(r.Context(), store, req.ID, req.Name, req.Role, req.PIN, s.user)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c.Staff.PINHash = ""
	h.log.Info("staff change", "id", req.ID, "cursor", c.Cursor, "by", s.user)
	writeJSON(w, http.StatusOK, c)
}

// apiStaffStatus deactivates, reactivates or removes a staff member.
func (h *HQ) apiStaffStatus(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Store    string `json:"store"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Inactive bool   `json:"inactive"`
		Removed  bool   `json:"removed"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	store, err := storeParam(req.Store)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	c, err := h.StaffStatus(r.Context(), store, req.ID, req.Name, req.Role, req.Inactive, req.Removed, s.user)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("staff status change", "id", req.ID, "inactive", req.Inactive, "removed", req.Removed, "by", s.user)
	writeJSON(w, http.StatusOK, c)
}

func (h *HQ) apiEvidence(w http.ResponseWriter, r *http.Request, _ *session) {
	store, err := storeParam(r.URL.Query().Get("store"))
	if err != nil || store == nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "want store=<id>")
		return
	}
	out, err := h.Evidence(r.Context(), *store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if out == nil {
		out = []Evidence{}
	}
	writeJSON(w, http.StatusOK, out)
}
