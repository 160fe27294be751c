package hqapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Client calls HQ's relay API as one enrolled till. It is safe for
// concurrent use.
type Client struct {
	base  string
	store ledger.StoreID
	key   ed25519.PrivateKey
	cert  []byte
	http  *http.Client
	now   func() time.Time
}

// NewClient returns a client of the HQ at base (e.g.
// "https://hq.example.com") for a till of store, signing with key and
// presenting cert (the till's encoded certificate). A nil hc means a client
// with a 30 s timeout; a nil now means time.Now.
func NewClient(base string, store ledger.StoreID, key ed25519.PrivateKey, cert *ledger.Certificate, hc *http.Client, now func() time.Time) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hq url %q: want http(s)://host[:port]", base)
	}
	cb, err := cert.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &Client{base: strings.TrimRight(base, "/"), store: store, key: key, cert: cb, http: hc, now: now}, nil
}

// Health asks whether HQ answers at all (no authentication).
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathHealth, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Status: resp.StatusCode, Body: ErrorBody{Error: "health check"}}
	}
	return nil
}

// Vector asks HQ for its version vector of the store. fence is the
// caller's fencing token when it is the relay (0 otherwise) and mine its
// own vector (nil to leave out): HQ uses both for its store view.
func (c *Client) Vector(ctx context.Context, fence uint64, mine ledger.Vector) (VectorResponse, error) {
	h := http.Header{}
	if fence > 0 {
		h.Set(HeaderFence, strconv.FormatUint(fence, 10))
	}
	if mine != nil {
		v, err := EncodeVector(mine)
		if err != nil {
			return VectorResponse{}, err
		}
		h.Set(HeaderVector, v)
	}
	var out VectorResponse
	err := c.do(ctx, http.MethodGet, VectorPath(c.store), h, "", nil, &out)
	return out, err
}

// Upload posts a batch. A stale token comes back as an error for which
// errors.Is(err, ErrStaleFence) holds.
func (c *Client) Upload(ctx context.Context, u *Upload) (UploadResult, error) {
	body, err := EncodeUpload(u)
	if err != nil {
		return UploadResult{}, fmt.Errorf("encode upload: %w", err)
	}
	var out UploadResult
	err = c.do(ctx, http.MethodPost, EventsPath(c.store), nil, ContentCBOR, body, &out)
	return out, err
}

// Changes fetches up to limit downlink changes after cursor.
func (c *Client) Changes(ctx context.Context, after uint64, limit int) (Changes, error) {
	var out Changes
	p := fmt.Sprintf("%s?after=%d&limit=%d", ChangesPath(c.store), after, limit)
	err := c.do(ctx, http.MethodGet, p, nil, "", nil, &out)
	return out, err
}

// PutCatalog sends the store's catalog as this till holds it.
func (c *Client) PutCatalog(ctx context.Context, cat *StoreCatalog) error {
	body, err := json.Marshal(cat)
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	var out struct {
		Products int `json:"products"`
	}
	return c.do(ctx, http.MethodPut, CatalogPath(c.store), nil, ContentJSON, body, &out)
}

func (c *Client) do(ctx context.Context, method, pathQuery string, h http.Header, ctype string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+pathQuery, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set(HeaderVersions, FormatVersions(Versions()))
	Sign(req, c.key, c.cert, body, c.now().UnixMilli())
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read hq answer: %w", err)
	}
	if v := resp.Header.Get(HeaderVersion); v != "" {
		if n, err := strconv.Atoi(v); err != nil || !slices.Contains(Versions(), n) {
			return fmt.Errorf("hq answered in API version %q, this relay speaks %s", v, FormatVersions(Versions()))
		}
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Status: resp.StatusCode}
		if json.Unmarshal(b, &se.Body) != nil || se.Body.Error == "" {
			se.Body.Error = strings.TrimSpace(string(b))
		}
		return se
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode hq answer: %w", err)
	}
	return nil
}

// IsClientError reports whether err is an answer HQ will repeat however
// often the request is retried (4xx other than a stale fence or an
// authentication failure that a clock fix may cure).
func IsClientError(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests
}
