package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Handler serves the relay API under /v1 and the staff dashboard.
func (h *HQ) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+hqapi.PathHealth, h.health)
	mux.HandleFunc("GET /v1/stores/{store}/vector", versioned(h.getVector))
	mux.HandleFunc("POST /v1/stores/{store}/events", versioned(h.postEvents))
	mux.HandleFunc("GET /v1/stores/{store}/changes", versioned(h.getChanges))
	mux.HandleFunc("PUT /v1/stores/{store}/catalog", versioned(h.putCatalog))
	h.registerCustomers(mux)                                                // customers.go
	mux.HandleFunc("PUT /v1/stores/{store}/outbox", versioned(h.putOutbox)) // outbox.go
	mux.HandleFunc("GET /v1/stores/{store}/chain", versioned(h.getChain))   // transfers.go
	mux.HandleFunc("GET /v1/stores/{store}/stock", versioned(h.getStock))   // chainstock.go
	h.registerDashboard(mux)
	return mux
}

// versioned negotiates the relay API version (hqapi.Negotiate) before f
// answers: the highest version both speak, named in the answer's
// hqapi.HeaderVersion, or 400 with hqapi.CodeAPIVersion.
func versioned(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		theirs, err := hqapi.ParseVersions(r.Header.Get(hqapi.HeaderVersions))
		var v int
		if err == nil {
			v, err = hqapi.Negotiate(theirs, hqapi.Versions())
		}
		if err != nil {
			w.Header().Set(hqapi.HeaderVersions, hqapi.FormatVersions(hqapi.Versions()))
			writeErr(w, http.StatusBadRequest, hqapi.CodeAPIVersion, err.Error())
			return
		}
		w.Header().Set(hqapi.HeaderVersion, strconv.Itoa(v))
		f(w, r)
	}
}

// Run serves Handler on cfg.HTTPAddr until ctx ends.
func (h *HQ) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", h.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", h.cfg.HTTPAddr, err)
	}
	h.mu.Lock()
	h.addr = ln.Addr().String()
	h.mu.Unlock()
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.RunOutbox(ctx) // outbox_run.go: until ctx ends
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	h.log.Info("hq listening", "addr", ln.Addr().String())
	err = srv.Serve(ln)
	<-done
	// chainreport.go: no refresh reads storage after Run.
	h.StopRefreshes()
	if rerr := h.WriteRollups(context.Background()); rerr != nil { // rollup.go
		h.log.Warn("rollups not written at stop; the next start folds more events", "err", rerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr is the address Run listens on, once it does.
func (h *HQ) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

func (h *HQ) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "time": h.cfg.Now().UnixMilli()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, hqapi.ErrorBody{Error: msg, Code: code})
}

// fail answers an error from the HQ core with its status code.
func (h *HQ) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnknownStore):
		writeErr(w, http.StatusNotFound, hqapi.CodeUnknownStore, err.Error())
	case errors.Is(err, ErrUnenrolled):
		writeErr(w, http.StatusForbidden, hqapi.CodeUnauthorized, err.Error())
	case errors.Is(err, hqapi.ErrBadRequest), errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
	case errors.Is(err, ErrHeadMoved), errors.Is(err, ErrRollupMoved), errors.Is(err, errRevocationsUnread):
		// Another HQ process wrote the store meanwhile (or its
		// revocations could not be read): the relay retries.
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "", err.Error())
	default:
		h.log.Error("hq request", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErr(w, http.StatusInternalServerError, "", "internal error: "+err.Error())
	}
}

// authenticate checks a relay request from its headers alone, before
// any of the body is read: a fresh timestamp, a signature by the till
// named in the header over the request line and the declared body length
// and hash, never seen before, a declared length within the limit and
// equal to Content-Length, and a till enrolled in the store of the path
// (by HQ's records or the certificate header). The body, when there is
// one, is read afterwards by readBody against the declared hash.
func (h *HQ) authenticate(r *http.Request) (ledger.StoreID, hqapi.Credentials, int, error) {
	store, err := ledger.ParseStoreID(r.PathValue("store"))
	if err != nil {
		return store, hqapi.Credentials{}, http.StatusBadRequest, fmt.Errorf("%w: %v", hqapi.ErrBadRequest, err)
	}
	creds, err := hqapi.ParseAuth(r.Header.Get(hqapi.HeaderAuth))
	if err != nil {
		return store, creds, http.StatusUnauthorized, err
	}
	now := h.cfg.Now().UnixMilli()
	window := h.cfg.AuthWindow.Milliseconds()
	if d := now - creds.Time; d > window || d < -window {
		return store, creds, http.StatusUnauthorized, fmt.Errorf("request time %d is %d ms from HQ's clock (window %d ms): check the till's clock",
			creds.Time, d, window)
	}
	if r.ContentLength >= 0 && r.ContentLength != creds.BodyLen {
		return store, creds, http.StatusBadRequest, fmt.Errorf("%w: Content-Length %d, signed length %d", hqapi.ErrBadRequest, r.ContentLength, creds.BodyLen)
	}
	if !creds.VerifyHeader(r.Method, r.RequestURI) {
		return store, creds, http.StatusUnauthorized, errors.New("request signature does not verify")
	}
	if fresh, err := h.seeSignature(r.Context(), creds.Sig, creds.Time+window, now); err != nil {
		return store, creds, http.StatusServiceUnavailable, fmt.Errorf("replay cache: %w", err)
	} else if !fresh {
		return store, creds, http.StatusUnauthorized, errors.New("replayed request: this signature was seen before")
	}
	var cert *ledger.Certificate
	if c := r.Header.Get(hqapi.HeaderCert); c != "" {
		if cert, err = hqapi.DecodeCertHeader(c); err != nil {
			return store, creds, http.StatusBadRequest, err
		}
	}
	if err := h.Authenticate(r.Context(), store, creds.Till, cert); err != nil {
		if errors.Is(err, ErrUnknownStore) {
			return store, creds, http.StatusNotFound, err
		}
		if errors.Is(err, errRevocationsUnread) {
			return store, creds, http.StatusServiceUnavailable, err
		}
		return store, creds, http.StatusForbidden, err
	}
	return store, creds, 0, nil
}

func (h *HQ) authOrFail(w http.ResponseWriter, r *http.Request) (ledger.StoreID, hqapi.Credentials, bool) {
	store, creds, status, err := h.authenticate(r)
	if err != nil {
		h.refuse(w, r, creds.Till, status, err)
		return store, creds, false
	}
	return store, creds, true
}

func (h *HQ) refuse(w http.ResponseWriter, r *http.Request, till ledger.TillID, status int, err error) {
	code := hqapi.CodeUnauthorized
	switch status {
	case http.StatusNotFound:
		code = hqapi.CodeUnknownStore
	case http.StatusBadRequest:
		code = hqapi.CodeBadRequest
	case http.StatusRequestEntityTooLarge:
		code = hqapi.CodeTooLarge
	}
	h.log.Warn("refused relay request", "path", r.URL.Path, "till", till.Short(), "remote", r.RemoteAddr, "err", err)
	writeErr(w, status, code, err.Error())
}

// authBody authenticates a request with a body: refused by its declared
// size before anything else, then authenticated by its headers before a
// byte of it is read, then read against the signed length and hash.
func (h *HQ) authBody(w http.ResponseWriter, r *http.Request) (ledger.StoreID, hqapi.Credentials, []byte, bool) {
	if r.ContentLength > hqapi.MaxBody {
		h.refuse(w, r, ledger.TillID{}, http.StatusRequestEntityTooLarge,
			fmt.Errorf("body of %d bytes: the limit is %d", r.ContentLength, hqapi.MaxBody))
		return ledger.StoreID{}, hqapi.Credentials{}, nil, false
	}
	store, creds, ok := h.authOrFail(w, r)
	if !ok {
		return store, creds, nil, false
	}
	body, status, err := readBody(r, creds)
	if err != nil {
		h.refuse(w, r, creds.Till, status, err)
		return store, creds, nil, false
	}
	return store, creds, body, true
}

// readBody reads an authenticated request's body through a counter that
// stops one byte past the signed length, and checks it is the body the
// header signed.
func readBody(r *http.Request, creds hqapi.Credentials) ([]byte, int, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, creds.BodyLen+1))
	switch {
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("%w: read body: %v", hqapi.ErrBadRequest, err)
	case int64(len(body)) > creds.BodyLen:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body longer than the signed %d bytes", creds.BodyLen)
	case !creds.Body(body):
		return nil, http.StatusUnauthorized, errors.New("body does not match the signed length and hash")
	}
	return body, 0, nil
}

func (h *HQ) getVector(w http.ResponseWriter, r *http.Request) {
	store, creds, ok := h.authOrFail(w, r)
	if !ok {
		return
	}
	till := creds.Till
	var fence uint64
	if f := r.Header.Get(hqapi.HeaderFence); f != "" {
		var err error
		if fence, err = strconv.ParseUint(f, 10, 64); err != nil {
			writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "fence header: "+err.Error())
			return
		}
	}
	var mine ledger.Vector
	if v := r.Header.Get(hqapi.HeaderVector); v != "" {
		var err error
		if mine, err = hqapi.DecodeVector(v); err != nil {
			writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
			return
		}
	}
	resp, err := h.VectorOf(r.Context(), store, till, fence, mine)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *HQ) postEvents(w http.ResponseWriter, r *http.Request) {
	store, creds, body, ok := h.authBody(w, r)
	if !ok {
		return
	}
	done, err := h.busy(r.Context()) // decoding takes a CPU slot (Config.IngestWorkers)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := hqapi.DecodeUpload(r.Header.Get("Content-Type"), body)
	done()
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	res, err := h.Ingest(r.Context(), store, creds.Till, u)
	if errors.Is(err, ErrStaleFence) {
		writeJSON(w, http.StatusConflict, hqapi.ErrorBody{Error: err.Error(), Code: hqapi.CodeStaleFence, Fence: &res.Fence})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *HQ) putCatalog(w http.ResponseWriter, r *http.Request) {
	store, _, body, ok := h.authBody(w, r)
	if !ok {
		return
	}
	c, err := hqapi.DecodeStoreCatalog(body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	if err := h.PutStoreCatalog(r.Context(), store, *c); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"products": len(c.Products)})
}

func (h *HQ) getChanges(w http.ResponseWriter, r *http.Request) {
	store, _, ok := h.authOrFail(w, r)
	if !ok {
		return
	}
	after, limit, err := parseCursor(r.URL.Query().Get("after"), r.URL.Query().Get("limit"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	resp, err := h.ChangesFor(r.Context(), store, after, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// parseCursor reads the after and limit parameters of a changes request.
func parseCursor(a, l string) (after uint64, limit int, err error) {
	limit = 500
	if a != "" {
		if after, err = strconv.ParseUint(a, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("after=%q: want a cursor", a)
		}
	}
	if l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > hqapi.MaxChangesLimit {
			return 0, 0, fmt.Errorf("limit=%q: want 1..%d", l, hqapi.MaxChangesLimit)
		}
		limit = n
	}
	return after, limit, nil
}

// ChangesFor returns the downlink changes for a store after a cursor.
func (h *HQ) ChangesFor(ctx context.Context, store ledger.StoreID, after uint64, limit int) (hqapi.Changes, error) {
	if h.store(store) == nil {
		return hqapi.Changes{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	// Every change up to cur is stored (addChange writes under h.mu), so
	// when the answer is complete the store may skip to cur: changes for
	// other stores are not fetched again.
	h.mu.Lock()
	cur := h.cursor
	h.mu.Unlock()
	cs, err := h.st.Changes(ctx, store, after, limit)
	if err != nil {
		return hqapi.Changes{}, err
	}
	out := hqapi.Changes{Changes: cs, Next: after, More: len(cs) == limit}
	if out.Changes == nil {
		out.Changes = []hqapi.Change{}
	}
	if n := len(cs); n > 0 {
		out.Next = cs[n-1].Cursor
	}
	if !out.More && cur > out.Next {
		out.Next = cur
	}
	return out, nil
}

// replayCache remembers request signatures until their timestamp leaves
// the auth window, so a captured request cannot be sent again.
type replayCache struct {
	mu    sync.Mutex
	seen  map[string]int64 // signature -> expiry, Unix ms
	prune int64
}

// add records sig until expiry and reports whether it was new.
func (c *replayCache) add(sig string, expiry, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now > c.prune {
		for k, exp := range c.seen {
			if exp < now {
				delete(c.seen, k)
			}
		}
		c.prune = now + 10_000
	}
	if _, ok := c.seen[sig]; ok {
		return false
	}
	c.seen[sig] = expiry
	return true
}
