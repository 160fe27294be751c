package hq

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

//go:embed web
var webFS embed.FS

const (
	sessionCookie = "hq_session"
	sessionTTL    = 12 * time.Hour
	csrfHeader    = "X-CSRF-Token"
)

// Argon2id parameters for staff passwords and till PINs (OWASP's
// minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonMemory = 19 * 1024
	argonTime   = 2
	argonLanes  = 1
	argonKeyLen = 32
)

// HashSecret hashes a password or PIN with argon2id into a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashSecret(secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonLanes, argonKeyLen)
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonLanes,
		b.EncodeToString(salt), b.EncodeToString(key)), nil
}

// CheckSecret reports whether secret matches a HashSecret string.
func CheckSecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	b := base64.RawStdEncoding
	salt, err1 := b.DecodeString(parts[4])
	want, err2 := b.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
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
}

// sessions holds logged-in dashboard users and failed-login back-off.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	fails map[string]int       // by user name
	until map[string]time.Time // locked out until
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, fails: map[string]int{}, until: map[string]time.Time{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *HQ) registerDashboard(mux *http.ServeMux) {
	sub, _ := fs.Sub(webFS, "web")
	static := http.FileServerFS(sub)
	mux.Handle("GET /", h.secureHeaders(static))
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
	api("GET /hq/api/evidence", h.staff(h.apiEvidence))
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
		if s != nil && h.cfg.Now().After(s.expires) {
			delete(h.sessions.byID, c.Value)
			s = nil
		}
		h.sessions.mu.Unlock()
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
	now := h.cfg.Now()
	ss := h.sessions
	ss.mu.Lock()
	until := ss.until[req.User]
	ss.mu.Unlock()
	if now.Before(until) {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		writeErr(w, http.StatusTooManyRequests, hqapi.CodeUnauthorized, fmt.Sprintf("too many failed logins: wait %v", until.Sub(now).Round(time.Second)))
		return
	}
	u, err := h.st.User(r.Context(), req.User)
	ok := err == nil && CheckSecret(u.Hash, req.Password)
	if err != nil && !errors.Is(err, ErrNotFound) {
		h.fail(w, r, err)
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ok {
		ss.fails[req.User]++
		if n := ss.fails[req.User]; n >= 5 {
			wait := time.Duration(1<<min(n-5, 8)) * 5 * time.Second
			ss.until[req.User] = now.Add(wait)
		}
		h.log.Warn("failed hq login", "user", req.User, "remote", r.RemoteAddr)
		writeErr(w, http.StatusUnauthorized, hqapi.CodeUnauthorized, "wrong user or password")
		return
	}
	delete(ss.fails, req.User)
	delete(ss.until, req.User)
	id := randomToken()
	s := &session{user: u.Name, csrf: randomToken(), expires: now.Add(sessionTTL)}
	ss.byID[id] = s
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
	writeJSON(w, http.StatusOK, h.Report(Query{Store: store, From: q.Get("from"), To: q.Get("to"), TopN: top}))
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
	c, err := h.PutProduct(r.Context(), store, req.Product, s.user)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("product change", "sku", req.Product.SKU, "price", req.Product.Price, "cursor", c.Cursor, "by", s.user)
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
