package hqapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Paths of the relay API. Store IDs are 32 hex digits.
const (
	PathHealth = "/v1/health"
)

// VectorPath is where HQ answers its version vector for a store.
func VectorPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/vector" }

// EventsPath is where a relay posts a batch of signed events.
func EventsPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/events" }

// ChangesPath is the downlink of catalog, price and staff changes.
func ChangesPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/changes" }

// CatalogPath is where a relay puts the store's catalog as its tills
// hold it, so HQ can show and edit products it did not create.
func CatalogPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/catalog" }

// Content types of request bodies.
const (
	ContentCBOR = "application/cbor"
	ContentJSON = "application/json"
)

// Limits on what a relay may send in one request.
const (
	MaxBody         = 32 << 20 // bytes of one request body
	MaxBatch        = 10_000   // events in one upload
	MaxCerts        = 1024     // certificates in one upload
	MaxVectorTills  = 4096     // tills in a vector
	MaxChangesLimit = 1000     // changes in one downlink answer
	MaxCatalog      = 200_000  // products in one store catalog upload
)

// Fence is a store's fencing state at HQ: the highest token any relay has
// shown, the till that showed it, and when that till was last heard.
type Fence struct {
	Token  uint64        `json:"token"`
	Holder ledger.TillID `json:"holder"` // zero when no relay has uploaded yet
	At     int64         `json:"at"`     // Unix ms of the holder's last request
}

// VectorResponse is the answer to GET VectorPath.
type VectorResponse struct {
	Store  ledger.StoreID `json:"store"`
	Vector ledger.Vector  `json:"vector"` // till -> highest contiguous seq HQ holds
	Fence  Fence          `json:"fence"`
	Cursor uint64         `json:"cursor"` // newest downlink change for this store
	Time   int64          `json:"time"`   // HQ's clock, Unix ms
}

// Upload is the body of POST EventsPath: signed events (their canonical
// CBOR encodings, as signed) with the certificates of their tills.
type Upload struct {
	// Fence is the relay's fencing token. HQ rejects the whole upload
	// when it is lower than the highest token HQ has seen for the store.
	Fence uint64 `cbor:"1,keyasint" json:"fence"`
	// Vector is the relay's own version vector: HQ reports the store's
	// backlog (what the relay holds that HQ lacks) from it.
	Vector ledger.Vector `cbor:"2,keyasint,omitempty" json:"vector,omitempty"`
	// Certs are encoded ledger.Certificates of the tills whose events are
	// in the batch; HQ verifies each against the store CA. Certificates
	// HQ already holds may be left out.
	Certs [][]byte `cbor:"3,keyasint,omitempty" json:"certs,omitempty"`
	// Events are signed events, any tills, any order.
	Events [][]byte `cbor:"4,keyasint" json:"events"`
	// Versions are the tillmesh releases of the store's tills as the
	// relay knows them (its own, and its peers' from their hellos), for
	// HQ's stores view. An HQ older than this field ignores it.
	Versions map[ledger.TillID]string `cbor:"5,keyasint,omitempty" json:"versions,omitempty"`
}

// MaxReleaseLen bounds a release string in Upload.Versions.
const MaxReleaseLen = 64

// Rejection codes: why HQ refused an event or a certificate.
const (
	CodeMalformed     = "malformed"       // does not decode, or not canonical
	CodeWrongStore    = "wrong_store"     // an event or certificate of another store
	CodeUnenrolled    = "unenrolled"      // no valid certificate for the till
	CodeBadSignature  = "bad_signature"   // signature or hash chain does not verify
	CodeInvalid       = "invalid"         // the event breaks its own rules
	CodeSeqGap        = "seq_gap"         // HQ lacks the events below it: send those first
	CodeWrongPrev     = "wrong_prev"      // prev hash is not HQ's head: a fork
	CodeEquivocation  = "equivocation"    // another event holds its seq: kept as evidence
	CodeAfterRejected = "after_rejected"  // follows a rejected event of its till
	CodeBadCert       = "bad_certificate" // certificate does not verify under the store CA
)

// Rejection says which event (or certificate) HQ refused and why.
type Rejection struct {
	Index  int            `json:"index"` // position in Upload.Events (or Upload.Certs)
	Till   ledger.TillID  `json:"till"`
	Seq    uint64         `json:"seq,omitempty"`
	ID     ledger.EventID `json:"id"`
	Code   string         `json:"code"`
	Reason string         `json:"reason"`
}

// UploadResult is HQ's answer to an upload. Accepted events are durable at
// HQ when it is sent.
type UploadResult struct {
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"` // already held: nothing changed
	Rejected   []Rejection   `json:"rejected,omitempty"`
	CertErrors []Rejection   `json:"cert_errors,omitempty"`
	Vector     ledger.Vector `json:"vector"` // HQ's vector for the store after the upload
	Fence      Fence         `json:"fence"`
}

// Product is a catalog entry sent down to the stores: ledger/basket's one
// product type (its JSON names are this wire's).
type Product = basket.Product

// Staff is a staff member sent down to the stores. PINHash is an
// argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
//
// Inactive deactivates the member at every till (PINHash may then be
// empty: the tills keep the PIN they have); Removed removes them for good
// (PINHash empty). A removed member stays removed.
type Staff struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PINHash  string `json:"pin_hash"`
	Role     string `json:"role"` // "cashier", "supervisor" or "manager"
	Inactive bool   `json:"inactive,omitempty"`
	Removed  bool   `json:"removed,omitempty"`
}

// Change kinds.
const (
	KindProduct = "product"
	KindStaff   = "staff"
	// KindRevocation carries a till revocation signed by the store CA
	// (ledger.Revocation, encoded) for the store's tills.
	KindRevocation = "revocation"
)

// Product fields a change can set (Change.Fields).
const (
	FieldName     = "name"
	FieldBarcodes = "barcodes"
	FieldPrice    = "price"
	FieldCurrency = "currency"
	FieldTaxRate  = "tax_rate"
	FieldUnit     = "unit"
	// FieldCost is the cost price (basket.Product.Cost). A change that
	// sets every field keeps the store's cost when it carries none; a
	// change naming "cost" sets it, 0 clearing it.
	FieldCost = "cost"
)

// ProductFields lists every product field a change can set, in the order
// forms show them.
var ProductFields = []string{FieldName, FieldBarcodes, FieldPrice, FieldCurrency, FieldTaxRate, FieldUnit, FieldCost}

// Change is one catalog, price or staff change made at HQ.
//
// A product change names the fields it sets in Fields: a till applies only
// those onto the product it holds, so a price edit at HQ keeps the
// barcodes (and any other field) as the store has them. Product still
// carries the whole product as HQ saw it, for a till that does not hold the
// SKU yet and for tills from before Fields existed. An empty Fields sets
// every field.
type Change struct {
	Cursor  uint64          `json:"cursor"`          // grows by one per change, across all stores
	Store   *ledger.StoreID `json:"store,omitempty"` // nil: every store
	Kind    string          `json:"kind"`
	Product *Product        `json:"product,omitempty"`
	Fields  []string        `json:"fields,omitempty"` // product fields this change sets; empty: all
	Staff   *Staff          `json:"staff,omitempty"`
	// Revocation is a KindRevocation's ledger.Revocation, encoded.
	Revocation []byte `json:"revocation,omitempty"`
	At         int64  `json:"at"` // Unix ms
	By         string `json:"by,omitempty"`
}

// Sets reports whether the change sets the product field f.
func (c Change) Sets(f string) bool {
	if len(c.Fields) == 0 {
		return true
	}
	for _, g := range c.Fields {
		if g == f {
			return true
		}
	}
	return false
}

// Patch returns base with the product fields the change sets taken from
// its Product: what a till does with an HQ product change.
func (c Change) Patch(base Product) Product {
	p := c.Product
	if p == nil {
		return base
	}
	out := base
	out.SKU = p.SKU
	if c.Sets(FieldName) {
		out.Name = p.Name
	}
	if c.Sets(FieldBarcodes) {
		out.Barcodes = append([]string(nil), p.Barcodes...)
	}
	if c.Sets(FieldPrice) {
		out.Price = p.Price
	}
	if c.Sets(FieldCurrency) {
		out.Currency = p.Currency
	}
	if c.Sets(FieldTaxRate) {
		out.TaxRate = p.TaxRate
	}
	if c.Sets(FieldUnit) {
		out.Unit = p.Unit
	}
	if c.Sets(FieldCost) && (p.Cost != 0 || len(c.Fields) > 0) {
		out.Cost = p.Cost
	}
	return out
}

// StoreCatalog is the body of PUT CatalogPath: every product of the
// store's catalog as the relay till holds it.
type StoreCatalog struct {
	Products []Product `json:"products"`
	Cursor   uint64    `json:"cursor"` // the downlink changes up to this cursor are in it
	At       int64     `json:"at"`     // Unix ms, the relay's clock
}

// Changes is the answer to GET ChangesPath?after=N&limit=M: the changes
// for the store with a cursor above N, oldest first.
type Changes struct {
	Changes []Change `json:"changes"`
	Next    uint64   `json:"next"` // pass as after= next time
	More    bool     `json:"more"` // more changes wait: ask again at once
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
	Fence *Fence `json:"fence,omitempty"` // with CodeStaleFence
}

// Error codes of whole requests.
const (
	CodeStaleFence   = "stale_fence"
	CodeUnauthorized = "unauthorized"
	CodeUnknownStore = "unknown_store"
	CodeBadRequest   = "bad_request"
	CodeTooLarge     = "too_large"
)

// Sentinel errors.
var (
	ErrBadRequest = errors.New("hqapi: bad request")
	ErrStaleFence = errors.New("hqapi: stale fencing token")
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // constant options: cannot fail
	}
	if decMode, err = (cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  8,
		MaxArrayElements: MaxBatch,
		MaxMapPairs:      MaxVectorTills,
		UTF8:             cbor.UTF8RejectInvalid,
		// No ExtraDecErrorUnknownField: a newer relay may send fields
		// this HQ does not know; they are ignored, never a refusal.
	}).DecMode(); err != nil {
		panic(err)
	}
}

// EncodeUpload encodes an upload as CBOR.
func EncodeUpload(u *Upload) ([]byte, error) { return encMode.Marshal(u) }

// DecodeUpload parses an upload body of the given content type (CBOR, or
// JSON with the raw events base64-encoded) and checks its limits. It does
// not decode or verify the events.
func DecodeUpload(contentType string, body []byte) (*Upload, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrBadRequest, len(body), MaxBody)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		return nil, fmt.Errorf("%w: content type %q: %v", ErrBadRequest, contentType, err)
	}
	var u Upload
	switch mt {
	case ContentCBOR:
		if err := decMode.Unmarshal(body, &u); err != nil {
			return nil, fmt.Errorf("%w: cbor upload: %v", ErrBadRequest, err)
		}
	case ContentJSON, "":
		dec := json.NewDecoder(strings.NewReader(string(body))) // unknown fields: a newer relay's, ignored
		if err := dec.Decode(&u); err != nil {
			return nil, fmt.Errorf("%w: json upload: %v", ErrBadRequest, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: json upload: trailing data", ErrBadRequest)
		}
	default:
		return nil, fmt.Errorf("%w: content type %q: want %s or %s", ErrBadRequest, mt, ContentCBOR, ContentJSON)
	}
	switch {
	case len(u.Events) > MaxBatch:
		return nil, fmt.Errorf("%w: %d events, limit %d", ErrBadRequest, len(u.Events), MaxBatch)
	case len(u.Certs) > MaxCerts:
		return nil, fmt.Errorf("%w: %d certificates, limit %d", ErrBadRequest, len(u.Certs), MaxCerts)
	case len(u.Vector) > MaxVectorTills:
		return nil, fmt.Errorf("%w: vector of %d tills, limit %d", ErrBadRequest, len(u.Vector), MaxVectorTills)
	}
	if len(u.Versions) > MaxVectorTills {
		return nil, fmt.Errorf("%w: versions of %d tills, limit %d", ErrBadRequest, len(u.Versions), MaxVectorTills)
	}
	for t, v := range u.Versions {
		if len(v) > MaxReleaseLen {
			return nil, fmt.Errorf("%w: version of till %s is %d bytes, limit %d", ErrBadRequest, t.Short(), len(v), MaxReleaseLen)
		}
	}
	for i, e := range u.Events {
		if len(e) == 0 || len(e) > ledger.MaxEventSize {
			return nil, fmt.Errorf("%w: event %d is %d bytes, want 1..%d", ErrBadRequest, i, len(e), ledger.MaxEventSize)
		}
	}
	return &u, nil
}

// EncodeVector encodes a vector for the HeaderVector header.
func EncodeVector(v ledger.Vector) (string, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

// DecodeVector parses the HeaderVector header.
func DecodeVector(s string) (ledger.Vector, error) {
	if len(s) > 2*MaxVectorTills*48 {
		return nil, fmt.Errorf("%w: vector header of %d bytes", ErrBadRequest, len(s))
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: vector header: %v", ErrBadRequest, err)
	}
	var v ledger.Vector
	if err := decMode.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: vector header: %v", ErrBadRequest, err)
	}
	if len(v) > MaxVectorTills {
		return nil, fmt.Errorf("%w: vector of %d tills", ErrBadRequest, len(v))
	}
	return v, nil
}

// StatusError is an error answer from HQ.
type StatusError struct {
	Status int
	Body   ErrorBody
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("hq: %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
}

// Is makes errors.Is(err, ErrStaleFence) true for a stale-token answer.
func (e *StatusError) Is(target error) bool {
	return target == ErrStaleFence && e.Body.Code == CodeStaleFence
}

// DecodeStoreCatalog parses the JSON body of PUT CatalogPath and checks
// its limits and that no SKU comes twice. It does not check the products
// against the catalog rules; HQ does (hq.CheckProduct).
func DecodeStoreCatalog(body []byte) (*StoreCatalog, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrBadRequest, len(body), MaxBody)
	}
	var c StoreCatalog
	dec := json.NewDecoder(strings.NewReader(string(body))) // unknown fields: a newer relay's, ignored
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: json catalog: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: json catalog: trailing data", ErrBadRequest)
	}
	if len(c.Products) > MaxCatalog {
		return nil, fmt.Errorf("%w: %d products, limit %d", ErrBadRequest, len(c.Products), MaxCatalog)
	}
	seen := make(map[string]bool, len(c.Products))
	for i, p := range c.Products {
		if seen[p.SKU] {
			return nil, fmt.Errorf("%w: product %d: SKU %q comes twice", ErrBadRequest, i, p.SKU)
		}
		seen[p.SKU] = true
	}
	return &c, nil
}
