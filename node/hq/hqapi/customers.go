package hqapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// Customers travel between the stores of a chain through HQ: each relay
// puts the customers its store changed (PUT CustomersPath) and fetches
// those HQ holds after a cursor (GET CustomersPath), which include every
// other store's. A record carries, per field, the edit that won it with
// its hybrid logical clock, so HQ and every till merge the same way (the
// greatest clock wins the field), and an erasure, which wins over every
// edit and leaves only the number. HQ's cursor log names customers only
// by number: erasing the record erases everything HQ holds of them.

// CustomersPath is where a relay puts and gets the chain's customers.
func CustomersPath(s ledger.StoreID) string {
	return "/v1/stores/" + s.String() + "/customers"
}

// Limits on the customer exchange.
const (
	MaxCustomerBatch = 1000 // records in one PUT or GET
	maxCustomerEdits = 16
	maxCustomerValue = 4096
)

// CustomerEdit is one field's winning edit: field name as crdt names it
// ("name", "phone", ...), value, clock (Unix ms and logical) and editor.
type CustomerEdit struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical,omitempty"`
	By      string `json:"by"`
}

// CustomerRecord is one customer as exchanged with HQ. An erased record
// has no edits.
type CustomerRecord struct {
	Number string         `json:"number"`
	Edits  []CustomerEdit `json:"edits,omitempty"`
	Erased bool           `json:"erased,omitempty"`
	// ErasedAt and ErasedBy say when and where the erasure was made.
	ErasedAt int64  `json:"erased_at,omitempty"`
	ErasedBy string `json:"erased_by,omitempty"`
	Cursor   uint64 `json:"cursor,omitempty"` // set by HQ on GET
}

// Customers is the body of PUT CustomersPath and the answer of GET.
type Customers struct {
	Customers []CustomerRecord `json:"customers"`
	Next      uint64           `json:"next,omitempty"` // GET: the cursor to ask after next
	More      bool             `json:"more,omitempty"` // GET: more records wait
}

// DecodeCustomers parses and checks the shape of a customers body: sizes,
// numbers present and not repeated, an erased record without edits. The
// fields' contents are checked by whoever merges them.
func DecodeCustomers(body []byte) (*Customers, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrBadRequest, len(body), MaxBody)
	}
	var c Customers
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: json customers: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: json customers: trailing data", ErrBadRequest)
	}
	if len(c.Customers) > MaxCustomerBatch {
		return nil, fmt.Errorf("%w: %d customers, limit %d", ErrBadRequest, len(c.Customers), MaxCustomerBatch)
	}
	seen := make(map[string]bool, len(c.Customers))
	for i, r := range c.Customers {
		switch {
		case r.Number == "" || len(r.Number) > 64:
			return nil, fmt.Errorf("%w: customer %d: number %q", ErrBadRequest, i, r.Number)
		case seen[r.Number]:
			return nil, fmt.Errorf("%w: customer %s comes twice", ErrBadRequest, r.Number)
		case r.Erased && len(r.Edits) > 0:
			return nil, fmt.Errorf("%w: customer %s: erased but carries edits", ErrBadRequest, r.Number)
		case len(r.Edits) > maxCustomerEdits:
			return nil, fmt.Errorf("%w: customer %s: %d edits, limit %d", ErrBadRequest, r.Number, len(r.Edits), maxCustomerEdits)
		}
		for _, e := range r.Edits {
			if len(e.Value) > maxCustomerValue || len(e.By) > 200 || len(e.Field) > 32 {
				return nil, fmt.Errorf("%w: customer %s: edit of %q too long", ErrBadRequest, r.Number, e.Field)
			}
		}
		seen[r.Number] = true
	}
	return &c, nil
}

// PutCustomers sends customers this store changed.
func (c *Client) PutCustomers(ctx context.Context, cs []CustomerRecord) error {
	body, err := json.Marshal(Customers{Customers: cs})
	if err != nil {
		return fmt.Errorf("encode customers: %w", err)
	}
	var out struct {
		Changed int `json:"changed"`
	}
	return c.do(ctx, http.MethodPut, CustomersPath(c.store), nil, ContentJSON, body, &out)
}

// GetCustomers fetches up to limit customers HQ changed after cursor.
func (c *Client) GetCustomers(ctx context.Context, after uint64, limit int) (Customers, error) {
	var out Customers
	p := fmt.Sprintf("%s?after=%d&limit=%d", CustomersPath(c.store), after, limit)
	err := c.do(ctx, http.MethodGet, p, nil, "", nil, &out)
	return out, err
}
