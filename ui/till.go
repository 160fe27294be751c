package ui

import (
	"context"
	"errors"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Till is what the UI needs from a till node. node implements it; tests
// use fakes. Errors that come from bad input wrap ErrBadRequest (or a
// ledger sentinel) so the handler can answer 400 with the reason.
type Till interface {
	Ledger
	Inventory
	StaffDirectory
	Status(ctx context.Context) Status
}

// Ledger is the till's view of the store's merged ledger and the way it
// records its own events.
type Ledger interface {
	// Self names this till.
	Self() TillInfo
	// TillNumber returns a till's number in the store, 0 if unknown.
	TillNumber(id ledger.TillID) uint32
	// TillByNumber finds a till by its number.
	TillByNumber(n uint32) (ledger.TillID, bool)

	// Sell looks the request's products up in the catalog, prices them
	// by ledger/basket's rules, and records the sale; it returns the
	// signed event. The bool is true for an earlier event with the same
	// idempotency key (found when the event is stored, nowhere else).
	Sell(ctx context.Context, req SaleRequest) (*ledger.Event, bool, error)
	// Record signs and durably stores one of this till's events; an
	// idempotency key already used returns its event and true.
	// ledger.State.CheckLocal's rules apply.
	Record(ctx context.Context, body ledger.Body, idem string) (*ledger.Event, bool, error)
	// Replay returns the event this till made with an idempotency key,
	// or nil.
	Replay(idem string) (*ledger.Event, error)
	// Event returns a till's event by seq, or an error wrapping
	// ErrNotFound.
	Event(till ledger.TillID, seq uint64) (*ledger.Event, error)
	// View runs f with the merged ledger state under the till's lock. f
	// must be quick, keep no references and call no Till method.
	View(f func(*ledger.State))
}

// Inventory is the store's catalog, stock counters and settings (the
// CRDT state shared by every till).
type Inventory interface {
	Stock(ctx context.Context, sku string) (StockLevel, error)
	AllStock(ctx context.Context) ([]StockLevel, error)

	Product(ctx context.Context, sku string) (Product, error)
	// ProductByBarcode checks an EAN-13, EAN-8 or UPC-A code's check
	// digit (ErrBadRequest when wrong) and finds its product
	// (ErrNotFound). Other codes are looked up as they are.
	ProductByBarcode(ctx context.Context, code string) (Product, error)
	// SearchProducts finds up to limit products whose SKU, name or a
	// barcode contains q; an empty q lists every product.
	SearchProducts(ctx context.Context, q string, limit int) ([]Product, error)
	// PutProduct adds or replaces a product after validating it.
	PutProduct(ctx context.Context, p Product) error

	// Setting returns a store-wide setting; ok is false if it is unset.
	Setting(ctx context.Context, name string) (value string, ok bool, err error)
	PutSetting(ctx context.Context, name, value string) error

	// Watch reports changes to the catalog, stock, settings and staff,
	// whether made here or merged from a peer, until ctx ends or the till
	// closes; then the channel is closed. It never blocks the till: a
	// subscriber that falls behind gets ChangeReload.
	Watch(ctx context.Context) <-chan Change
}

// StaffDirectory is the store's staff list, PINs kept as hashes.
type StaffDirectory interface {
	// Authenticate checks a staff member's PIN; a wrong PIN or an
	// unknown staff member both return ErrBadCredentials.
	Authenticate(ctx context.Context, staff, pin string) (StaffMember, error)
	StaffList(ctx context.Context) ([]StaffMember, error)
	// PutStaff adds or edits a staff member (m.Inactive deactivates or
	// reactivates them); an empty pin keeps the member's PIN (and is
	// refused for a new member). A removed member cannot be edited.
	PutStaff(ctx context.Context, m StaffMember, pin string) error
	// RemoveStaff removes a staff member for good: their PIN is
	// forgotten, their entry stays for the events that name them.
	RemoveStaff(ctx context.Context, id string) error
}

// Errors a Till reports for the handler to map onto HTTP statuses.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("unavailable")
	// ErrBadCredentials is a wrong staff number or PIN; which of the two
	// is never said.
	ErrBadCredentials = errors.New("wrong staff number or PIN")
	// ErrWrongCode is a wrong or used first-run set-up code.
	ErrWrongCode = errors.New("wrong set-up code")
	// ErrSetupDone answers the first-run set-up once a manager exists.
	ErrSetupDone = errors.New("set-up is done")
)

// Setup is implemented by tills that offer the first-run set-up: while
// the store has no manager, the till's loopback UI serves /setup, where
// the one-time code the till printed at start creates the first manager.
type Setup interface {
	// SetupOpen reports whether the store has no manager yet.
	SetupOpen(ctx context.Context) (bool, error)
	// FirstManager creates the first manager (m.Role is ignored) if
	// code is the till's set-up code and no manager exists yet; the
	// code is then void. Errors wrap ErrWrongCode or ErrSetupDone.
	FirstManager(ctx context.Context, code string, m StaffMember, pin string) error
}

// TillInfo names a till.
type TillInfo struct {
	ID     ledger.TillID `json:"id"`
	Number uint32        `json:"number"`
	Name   string        `json:"name"`
	Store  string        `json:"store"` // the store's name
}

// Role is what a staff member may do.
type Role string

// Roles, from the least to the most trusted: each has every permission
// of the roles below it, and what they have is the store's permission
// table (PermissionTable).
const (
	RoleCashier    Role = "cashier"
	RoleSupervisor Role = "supervisor"
	RoleManager    Role = "manager"
)

// StaffMember is a person who may log in. The PIN hash never leaves the
// till. Inactive and removed members cannot log in; their sessions end.
type StaffMember struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Inactive bool   `json:"inactive,omitempty"`
	Removed  bool   `json:"removed,omitempty"`
}

// Product is a catalog entry: ledger/basket's one product type.
type Product = basket.Product

// ChangeKind says what a Change is about.
type ChangeKind string

// Change kinds.
const (
	ChangeStock   ChangeKind = "stock"
	ChangeProduct ChangeKind = "product"
	ChangeSetting ChangeKind = "setting"
	ChangeStaff   ChangeKind = "staff"
	// ChangeReload means changes were dropped: re-read everything.
	ChangeReload ChangeKind = "reload"
)

// Change says that a record may have changed: re-read it. ID is the SKU,
// setting name or staff ID.
type Change struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id,omitempty"`
}

// SaleRequest is the body of POST /api/sales. Quantities are whole units,
// or grams for goods sold by weight; amounts are minor units. Staff is set
// by the API from the session, never by the client; Approver is a manager
// who approved a discount above the limit with ApproverPIN.
type SaleRequest struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Lines          []SaleLine      `json:"lines"`
	Tenders        []ledger.Tender `json:"tenders"`
	CartDiscount   ledger.Money    `json:"cart_discount,omitempty"`
	Staff          string          `json:"-"`
	Approver       string          `json:"approver,omitempty"`
	ApproverPIN    string          `json:"approver_pin,omitempty"`
	Customer       string          `json:"customer,omitempty"` // a customer's number, checked by the till
	// TaxAdded prices without tax and adds it at the total: the store's
	// tax_included setting, set by the API and the till, never the client.
	TaxAdded bool `json:"-"`
	// CashStep is the store's cash rounding step where the till may
	// round (money.go), set by the till, never the client.
	CashStep ledger.Money `json:"-"`
}

// SaleLine names a product by SKU or barcode.
type SaleLine struct {
	SKU      string       `json:"sku,omitempty"`
	Barcode  string       `json:"barcode,omitempty"`
	Qty      int64        `json:"qty"`
	Discount ledger.Money `json:"discount,omitempty"`
	// Override replaces the catalog price; its ApprovedBy is set by the
	// API once the role and limit allow it, never taken from the client.
	Override *basket.Override `json:"override,omitempty"`
}

// Sale is a recorded sale as the API returns it.
type Sale struct {
	EventID  string       `json:"event_id"`
	Receipt  string       `json:"receipt"`
	Till     string       `json:"till"`
	Seq      uint64       `json:"seq"`
	Time     time.Time    `json:"time"`
	Currency string       `json:"currency"`
	Total    ledger.Money `json:"total"`
	Tax      ledger.Money `json:"tax"`
	Change   ledger.Money `json:"change"`
	// Rounding is the cash rounding (money.go): the customer paid Total
	// plus Rounding.
	Rounding ledger.Money    `json:"rounding,omitempty"`
	Lines    []ledger.Line   `json:"lines"`
	Tenders  []ledger.Tender `json:"tenders"`
	Replayed bool            `json:"replayed,omitempty"` // an earlier sale with the same idempotency key
}

// StockLevel is a SKU's store stock: the sum of every till's slot.
type StockLevel struct {
	SKU   string           `json:"sku"`
	Name  string           `json:"name,omitempty"`
	Unit  ledger.Unit      `json:"unit,omitempty"`
	Total int64            `json:"total"`
	Slots map[string]int64 `json:"slots"` // per till number
	// SoldBy is set for negative stock: units (grams) sold per till
	// number, net of refunds and voids, from the merged ledger.
	SoldBy map[string]int64 `json:"sold_by,omitempty"`
	// Chain is the stock of the chain's other stores holding the most,
	// from HQ's last snapshot (transfers.go); empty without one.
	Chain []ChainStock `json:"chain,omitempty"`
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
	// Notes are the same problems, each with a catalog key and its
	// arguments for the page to translate (ui/notes.go).
	Notes []Note `json:"notes,omitempty"`
	// Newer counts events of kinds a newer version wrote, by kind: kept
	// and replicated, left out of stock and reports (also in Problems).
	Newer map[string]int `json:"newer,omitempty"`
	// Version is the till's tillmesh release.
	Version string `json:"version,omitempty"`
	// Printer is the receipt printer as the cashier should read it:
	// "ready", "none" (no printer on this till), or what is wrong
	// ("paper out, 2 receipt(s) waiting").
	Printer string `json:"printer"`
	// Outbox is the store's queued work to the outside world (ui/outbox.go).
	Outbox []OutboxStatus `json:"outbox,omitempty"`
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
	// Offline says since when a peer that is not connected was last
	// heard from (OfflineSince); empty while connected.
	Offline string `json:"offline,omitempty"`
}

// HQStatus says whether HQ is reachable and how much it lacks.
type HQStatus struct {
	Reachable bool   `json:"reachable"`
	Unsent    uint64 `json:"unsent"`
	Relay     string `json:"relay,omitempty"`
	Note      string `json:"note,omitempty"`
	// LastContact is when this till last reached HQ (zero: never);
	// Offline says it for the status bar while HQ is unreachable.
	LastContact time.Time `json:"last_contact,omitzero"`
	Offline     string    `json:"offline,omitempty"`
}
