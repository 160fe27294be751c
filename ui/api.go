package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/backoff"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Config configures the UI and API of one till. Till is required; the
// rest have working defaults (DefaultConfig).
type Config struct {
	Till   Till
	Logger *slog.Logger
	Now    func() time.Time
	// AllowedHosts are host names (without port) the UI answers to
	// besides "localhost" and IP literals. Any other Host header is
	// refused, which defeats DNS rebinding.
	AllowedHosts []string
	// SessionIdle ends a session unused this long; MaxSessions bounds
	// how many one staff member keeps (their own oldest goes first, so
	// nobody's logins end anyone else's session).
	SessionIdle time.Duration
	MaxSessions int
	// PIN back-off (login, unlock, approvals): FreeAttempts wrong PINs
	// per staff member and client (and 3×FreeAttempts per client) cost
	// nothing; each further one doubles a wait that starts at Backoff,
	// up to MaxBackoff. Every client together gets CeilingAttempts per
	// staff member before a wait that never exceeds CeilingBackoff: it
	// slows a guesser who spreads over many clients, and never locks the
	// staff member out for long. A client is a browser (a cookie) at an
	// address, or a session for approvals and unlocking.
	FreeAttempts    int
	Backoff         time.Duration
	MaxBackoff      time.Duration
	CeilingAttempts int
	CeilingBackoff  time.Duration
	// StatusInterval is how often the event stream sends mesh status.
	StatusInterval time.Duration
}

// DefaultConfig returns a config with everything but Till set.
func DefaultConfig() Config {
	return Config{Logger: slog.Default(), Now: time.Now, SessionIdle: 12 * time.Hour, MaxSessions: 8,
		FreeAttempts: 3, Backoff: time.Second, MaxBackoff: 5 * time.Minute,
		CeilingAttempts: 10, CeilingBackoff: 10 * time.Second, StatusInterval: 2 * time.Second}
}

// Validate reports what is missing or out of range.
func (c Config) Validate() error {
	switch {
	case c.Till == nil:
		return errors.New("ui: no till")
	case c.Logger == nil || c.Now == nil:
		return errors.New("ui: no logger or clock")
	case c.SessionIdle <= 0 || c.MaxSessions <= 0:
		return errors.New("ui: session idle time and limit must be positive")
	case c.FreeAttempts < 1 || c.Backoff <= 0 || c.MaxBackoff < c.Backoff:
		return errors.New("ui: login back-off needs FreeAttempts >= 1 and 0 < Backoff <= MaxBackoff")
	case c.CeilingAttempts < c.FreeAttempts || c.CeilingBackoff < c.Backoff:
		return errors.New("ui: login ceiling needs CeilingAttempts >= FreeAttempts and CeilingBackoff >= Backoff")
	case c.StatusInterval <= 0:
		return errors.New("ui: status interval must be positive")
	}
	return nil
}

// API serves the till's web UI: the embedded pages, the JSON API under
// /api and the event stream. It is safe for concurrent use.
type API struct {
	cfg  Config
	till Till
	log  *slog.Logger

	cat      *i18n.Catalog // the words of the pages and errors (ui/language.go)
	sessions *sessions
	limiter  *backoff.Limiter
	pinSlots chan struct{} // bounds concurrent PIN hash checks
	cart     *cartState
	sold     *soldIndex
	reprints reprintCounts
	attached cartCustomer      // the customer attached to the sale (customers.go)
	scans    feed[ScanEvent]   // serial scans for the pages (scan.go)
	weights  feed[WeightEvent] // the scale's weight for the pages (scan.go)

	setMu    sync.Mutex
	setCache Settings
	setAt    time.Time

	staffMu    sync.Mutex
	staffCache map[string]StaffMember
	staffAt    time.Time

	once    sync.Once
	handler http.Handler
}

// New returns the UI over cfg.Till.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := i18n.Embedded()
	if err != nil {
		return nil, fmt.Errorf("ui: message catalogs: %w", err)
	}
	return &API{cfg: cfg, till: cfg.Till, log: cfg.Logger, cat: cat,
		sessions: newSessions(cfg.SessionIdle, cfg.MaxSessions),
		limiter:  backoff.New(15*time.Minute, 10_000),
		pinSlots: make(chan struct{}, 2),
		cart:     newCartState(),
		sold:     newSoldIndex(),
	}, nil
}

// NewAPI returns the UI over till with DefaultConfig. A nil logger means
// slog.Default().
func NewAPI(till Till, log *slog.Logger) *API {
	cfg := DefaultConfig()
	cfg.Till = till
	if log != nil {
		cfg.Logger = log
	}
	a, err := New(cfg)
	if err != nil {
		panic(err) // only a nil till gets here: a wiring bug
	}
	return a
}

// Register routes every path of mux not claimed more specifically to the
// UI's handler.
func (a *API) Register(mux *http.ServeMux) { mux.Handle("/", a.Handler()) }

// Handler returns the UI's handler: Host allowlist, cross-origin
// protection, then the routes, each with its own authentication level.
func (a *API) Handler() http.Handler {
	a.once.Do(func() {
		mux := http.NewServeMux()
		a.routes(mux)
		cop := http.NewCrossOriginProtection()
		cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusForbidden, "cross-origin request refused: use the till's own page")
		}))
		a.handler = a.checkHost(securityHeaders(withDevice(cop.Handler(mux))))
	})
	return a.handler
}

// access says who may call a route.
type access int

const (
	public access = iota // anyone; never changes state except login
	staff                // a logged-in, unlocked session; CSRF token on changes
	anyone               // a session, locked or not (session, unlock, logout)
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// routes is the API's routing table, one line a route with the
// permission it needs; it is over 80 lines because a table split in parts
// is harder to audit.
func (a *API) routes(mux *http.ServeMux) {
	h := func(pattern string, acc access, f handlerFunc) { mux.Handle(pattern, a.guard(acc, "", f)) }
	// p is a staff route that needs a permission of the store's table.
	p := func(pattern string, perm Permission, f handlerFunc) { mux.Handle(pattern, a.guard(staff, perm, f)) }

	// Pages.
	mux.HandleFunc("GET /{$}", servePage)
	mux.Handle("GET /assets/", assetHandler())
	mux.HandleFunc("GET /assets/i18n.js", serveScript)          // ui/language.go
	mux.Handle("GET /i18n/{file}", a.cat.Handler(a.pageLocale)) // ui/language.go
	h("GET /api/language", public, a.getLanguage)               // ui/language.go
	h("PUT /api/session/language", staff, a.putOwnLanguage)     // ui/language.go

	// Session.
	mux.HandleFunc("POST /api/login", a.postLogin)

	// First-run set-up (setup.go): loopback only, while no manager exists.
	mux.HandleFunc("GET /setup", a.getSetupPage)
	mux.HandleFunc("POST /api/setup", a.postSetup)
	h("GET /api/setup", public, a.getSetup)
	h("GET /api/session", anyone, a.getSession)
	h("POST /api/logout", anyone, a.postLogout)
	h("POST /api/lock", staff, a.postLock)
	h("POST /api/unlock", anyone, a.postUnlock)

	// Mesh and stock: readable without a session (tools, the testnet).
	h("GET /api/status", public, a.getStatus)
	h("GET /api/stock", public, a.getStock)
	h("GET /api/stock/{sku}", public, a.getStockSKU)
	h("GET /api/events", staff, a.getEvents)

	// Catalog.
	h("GET /api/products", staff, a.getProducts)
	h("GET /api/products/{sku}", staff, a.getProduct)
	h("GET /api/barcodes/{code}", staff, a.getBarcode)
	p("POST /api/products", PermCatalog, a.postProduct)
	p("PUT /api/products/{sku}", PermCatalog, a.putProduct)
	a.catalogCSVRoutes(p)       // ui/catalogcsv.go
	a.revocationRoutes(h, p)    // ui/revoke.go
	a.customerRoutes(h, p)      // ui/customers.go
	a.cardRoutes(h, p)          // ui/balances.go
	a.outboxRoutes(h, p)        // ui/outbox.go
	a.transferRoutes(mux, h, p) // ui/transfers.go

	// The cart and selling.
	h("GET /api/cart", staff, a.getCart)
	h("DELETE /api/cart", staff, a.clearCart) // ui/cleared.go
	h("POST /api/cart/lines", staff, a.postCartLine)
	h("PUT /api/cart/lines/{n}", staff, a.putCartLine)
	h("DELETE /api/cart/lines/{n}", staff, a.deleteCartLine)
	h("PUT /api/cart/discount", staff, a.putCartDiscount)
	h("POST /api/cart/checkout", staff, a.postCheckout)
	h("GET /api/scale", staff, a.getScale) // ui/scan.go
	h("POST /api/sales", staff, a.postSale)
	h("GET /api/sales", staff, a.getSales)
	h("GET /api/sales/{ref}", staff, a.getSale)
	h("POST /api/refunds", staff, a.postRefund)
	h("POST /api/voids", staff, a.postVoid)
	h("POST /api/returns", staff, a.postReturn)     // ui/returns.go
	h("POST /api/exchanges", staff, a.postExchange) // ui/returns.go
	h("POST /api/reprint", staff, a.postReprint)
	h("GET /api/parked", staff, a.getParked)               // ui/parked.go
	h("POST /api/parked", staff, a.postPark)               // ui/parked.go
	h("POST /api/parked/{id}/resume", staff, a.postResume) // ui/parked.go

	// The drawer and shifts.
	h("POST /api/nosale", staff, a.postNoSale)
	h("POST /api/cash", staff, a.postCash)
	h("GET /api/shift", staff, a.getShift)
	h("POST /api/shift/open", staff, a.postShiftOpen)
	h("POST /api/shift/close", staff, a.postShiftClose)
	h("POST /api/shift/x", staff, a.postPrintX) // ui/slips.go

	// The back office: stock movements, reports, settings, staff.
	p("POST /api/stock/receive", PermStock, a.postStockReceive)
	p("POST /api/stock/adjust", PermStock, a.postStockAdjust)
	p("POST /api/stock/count", PermStock, a.postStockCount)
	p("GET /api/reports", PermReports, a.getReports)
	p("GET /api/day", PermReports, a.getDay) // ui/dayclose.go
	h("GET /api/settings", staff, a.getSettings)
	h("GET /api/names", staff, a.getNames)
	p("PUT /api/settings", PermSettings, a.putSettings)
	h("GET /api/permissions", staff, a.getPermissions)
	p("GET /api/staff", PermStaff, a.getStaff)
	p("PUT /api/staff/{id}", PermStaff, a.putStaff)
	p("DELETE /api/staff/{id}", PermStaff, a.deleteStaff)

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
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: the till's page is at /", http.StatusNotFound)
	})
}

// guard checks a route's access level before calling f: a session for
// anything but public routes (401), whose staff member is still active
// (else the session ends: 401), the CSRF token on every request that may
// change state (403), an unlocked session (423) and, where perm is set,
// the permission for the member's current role (403).
func (a *API) guard(acc access, perm Permission, f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		if acc == public {
			if unsafe {
				writeError(w, http.StatusMethodNotAllowed, "read-only route")
				return
			}
			f(w, r, nil)
			return
		}
		s := a.session(r)
		if s == nil {
			writeKeyed(w, http.StatusUnauthorized, i18n.Errorf("till.error.not_logged_in"), map[string]any{"need": "login"})
			return
		}
		if !a.current(r.Context(), s) {
			a.sessions.drop(s.token)
			writeKeyed(w, http.StatusUnauthorized, i18n.Errorf("till.error.staff_gone"), map[string]any{"need": "login"})
			return
		}
		if unsafe && !s.checkCSRF(r.Header.Get("X-CSRF-Token")) {
			writeKeyed(w, http.StatusForbidden, i18n.Errorf("till.error.csrf"), nil)
			return
		}
		if acc != anyone && s.locked {
			writeKeyed(w, http.StatusLocked, i18n.Errorf("till.error.locked"), nil)
			return
		}
		if perm != "" {
			if t := a.settings(r.Context()).Permissions; !t.Allows(s.staff.Role, perm) {
				writeKeyed(w, http.StatusForbidden, i18n.Errorf("till.error.permission", "name", s.staff.Name, "role", string(s.staff.Role), "least", string(t.least(perm)), "perm", string(perm)), nil)
				return
			}
		}
		f(w, r, s)
	})
}

// staffTTL is how long the staff list is cached: every request checks
// that its session's member is still active.
const staffTTL = 2 * time.Second

// current refreshes s.staff from the store's staff list and reports
// whether the member may still use the till. A deactivation or removal,
// made here or merged from a peer, ends their sessions within staffTTL
// (at once when made here, or when the event stream reports it).
func (a *API) current(ctx context.Context, s *session) bool {
	now := a.cfg.Now()
	a.staffMu.Lock()
	cache, at := a.staffCache, a.staffAt
	a.staffMu.Unlock()
	if cache == nil || now.Sub(at) >= staffTTL || now.Before(at) {
		list, err := a.till.StaffList(ctx)
		if err != nil {
			a.log.Warn("read staff list", "err", err)
			return true // keep selling: the PIN was right when it was checked
		}
		cache = make(map[string]StaffMember, len(list))
		for _, m := range list {
			cache[m.ID] = m
		}
		a.staffMu.Lock()
		a.staffCache, a.staffAt = cache, now
		a.staffMu.Unlock()
	}
	m, ok := cache[s.staff.ID]
	if !ok || m.Inactive || m.Removed {
		return false
	}
	s.staff = m
	return true
}

func (a *API) forgetStaff() {
	a.staffMu.Lock()
	a.staffCache = nil
	a.staffMu.Unlock()
}

// Protect puts h behind the UI's Host allowlist and security headers:
// for pages the till serves beside the UI (the simulated printer's
// receipts under /sim).
func (a *API) Protect(h http.Handler) http.Handler {
	return a.checkHost(securityHeaders(h))
}

// checkHost refuses requests whose Host header is neither localhost, an
// IP literal nor an allowed name: a page on a rebound DNS name must not
// reach the till's API.
func (a *API) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not allowed: open the till by its IP address or localhost", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if host == "localhost" || net.ParseIP(host) != nil {
		return true
	}
	for _, h := range a.cfg.AllowedHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

const maxBody = 1 << 20

func (a *API) getStatus(w http.ResponseWriter, r *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, a.till.Status(r.Context()))
}

// fail maps an error onto a status; unexpected errors are logged once,
// here, and the client gets the reason.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooMany *tooManyError
	var need *needError
	var reused *reusedKeyError
	switch {
	case errors.As(err, &reused):
		writeKeyed(w, http.StatusConflict, err, map[string]any{"event_id": reused.ev.ID().String(), "receipt": reused.receipt})
	case errors.As(err, &tooMany):
		w.Header().Set("Retry-After", strconv.Itoa(int((tooMany.wait+time.Second-1)/time.Second)))
		writeKeyed(w, http.StatusTooManyRequests, err, nil)
	case errors.As(err, &need):
		body := errorBody(need.reason, need.cause)
		body["need"] = need.need
		if need.product != nil {
			body["product"] = need.product
		}
		writeJSON(w, need.status, body)
	case errors.Is(err, ErrBadCredentials):
		writeKeyed(w, http.StatusUnauthorized, err, nil)
	case errors.Is(err, ErrWrongCode):
		writeKeyed(w, http.StatusForbidden, err, nil)
	case errors.Is(err, ErrSetupDone):
		writeKeyed(w, http.StatusGone, err, nil)
	case errors.Is(err, ErrBadRequest), errors.Is(err, ledger.ErrInvalidBody), errors.Is(err, ledger.ErrTendersShort),
		errors.Is(err, ledger.ErrOverRedeem),
		errors.Is(err, ledger.ErrOverRefund), errors.Is(err, ledger.ErrAlreadyVoided),
		errors.Is(err, ledger.ErrShiftState), errors.Is(err, ledger.ErrOverflow):
		writeKeyed(w, http.StatusBadRequest, err, nil)
	case errors.Is(err, ErrNotFound), errors.Is(err, ledger.ErrUnknownSale):
		writeKeyed(w, http.StatusNotFound, err, nil)
	case errors.Is(err, ErrConflict):
		writeKeyed(w, http.StatusConflict, err, nil)
	case errors.Is(err, ErrUnavailable), errors.Is(err, ledger.ErrOwnerUnreachable):
		writeKeyed(w, http.StatusServiceUnavailable, err, nil)
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		a.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

// needError asks the client for something before it retries: a weight
// for a product sold by weight, a manager's approval.
type needError struct {
	status  int
	need    string // "weight" or "approval"
	reason  string
	product *Product
	cause   error // an *i18n.Error for the pages, or nil
}

func (e *needError) Error() string { return e.reason }

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q: want application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed request: data after the JSON object")
	}
	return nil
}

// decode reads a JSON body into v, answering itself when it cannot: 413
// for a body over maxBody (by Content-Length before reading, or while
// reading), else 400.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes: the limit is %d", r.ContentLength, maxBody))
		return false
	}
	if err := decodeJSON(w, r, v); err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
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
