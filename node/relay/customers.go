package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Customers flow through the relay like the catalog: after each downlink
// the relay puts HQ the customers its store changed since the last round
// (all of them after a start), then applies the customers HQ changed
// after the cursor kept in the CRDT (CustomerCursorSetting), which
// include every other store's. Both sides merge field by field by the
// edits' hybrid logical clocks, so the order of the two steps and a
// record coming back to the store that sent it change nothing; an
// erasure wins on both sides.

// CustomerCursorSetting is the CRDT setting holding the customer cursor.
const CustomerCursorSetting = "hq.customer_cursor"

// customerInventory is what the customer flow needs of the Inventory;
// *crdt.Store has it. An Inventory without it has no customer flow.
type customerInventory interface {
	CustomersChangedSince(v uint64) ([]string, uint64)
	CustomerEdits(number string) (crdt.Customer, []crdt.FieldEdit, error)
	EditCustomer(ctx context.Context, number string, edits []crdt.FieldEdit) (int, error)
	EraseCustomer(ctx context.Context, number string, at ledger.HLC, by string) error
}

var _ customerInventory = (*crdt.Store)(nil)

// customerSync is the relay's customer state; the relay's round goroutine
// is its only user.
type customerSync struct {
	sent uint64    // CustomersChangedSince version already put to HQ
	full time.Time // when every customer was last put to HQ
	off  time.Time // HQ keeps no customers: ask again after this
}

// customerResend is how often the relay puts HQ every customer again,
// erasures included: an HQ restored from a backup taken before an
// erasure learns it again within this time (and at the next relay start).
const customerResend = 6 * time.Hour

// syncCustomers runs one round of the customer flow.
func (r *Relay) syncCustomers(ctx context.Context) error {
	inv, ok := r.cfg.Inventory.(customerInventory)
	if !ok || r.cfg.Now().Before(r.cust.off) {
		return nil
	}
	err := r.putCustomers(ctx, inv)
	if err == nil {
		err = r.getCustomers(ctx, inv)
	}
	// 501: HQ's storage keeps no customers; 404 or 405: an HQ release
	// older than customers. Neither changes until HQ is upgraded, and
	// neither may hold up the ledger's upload: ask again in an hour.
	var se *hqapi.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusNotImplemented || se.Status == http.StatusNotFound || se.Status == http.StatusMethodNotAllowed) {
		r.cust.off = r.cfg.Now().Add(time.Hour)
		r.log.Warn("HQ keeps no customers; customers stay in the store, asking again in an hour", "err", err)
		return nil
	}
	return err
}

func (r *Relay) putCustomers(ctx context.Context, inv customerInventory) error {
	since, now := r.cust.sent, r.cfg.Now()
	if now.Sub(r.cust.full) >= customerResend {
		since = 0
	}
	numbers, ver := inv.CustomersChangedSince(since)
	slices.Sort(numbers)
	for len(numbers) > 0 {
		n := min(len(numbers), hqapi.MaxCustomerBatch)
		batch := make([]hqapi.CustomerRecord, 0, n)
		for _, num := range numbers[:n] {
			c, edits, err := inv.CustomerEdits(num)
			if err != nil {
				continue // gone or malformed: nothing to send
			}
			rec := hqapi.CustomerRecord{Number: num}
			if c.Erased {
				rec.Erased, rec.ErasedAt, rec.ErasedBy = true, r.cfg.Now().UnixMilli(), r.self.String()
			} else if len(edits) == 0 {
				continue
			}
			for _, e := range edits {
				if !c.Erased {
					rec.Edits = append(rec.Edits, hqapi.CustomerEdit{Field: e.Field.String(), Value: e.Value,
						Wall: e.At.Wall, Logical: e.At.Logical, By: e.By})
				}
			}
			batch = append(batch, rec)
		}
		if len(batch) > 0 {
			if err := r.client.PutCustomers(ctx, batch); err != nil {
				return fmt.Errorf("put customers to hq: %w", err)
			}
			r.log.Debug("put customers to HQ", "customers", len(batch))
		}
		numbers = numbers[n:]
	}
	r.cust.sent = ver
	if since == 0 {
		r.cust.full = now
	}
	return nil
}

func (r *Relay) getCustomers(ctx context.Context, inv customerInventory) error {
	var after uint64
	b, err := r.cfg.Inventory.Setting(ctx, CustomerCursorSetting)
	switch {
	case errors.Is(err, crdt.ErrNotFound):
	case err != nil:
		return fmt.Errorf("read customer cursor: %w", err)
	default:
		if after, err = strconv.ParseUint(string(b), 10, 64); err != nil {
			r.log.Warn("customer cursor unreadable; starting over", "value", string(b))
			after = 0
		}
	}
	for {
		cs, err := r.client.GetCustomers(ctx, after, hqapi.MaxCustomerBatch)
		if err != nil {
			return fmt.Errorf("get customers from hq: %w", err)
		}
		applied := 0
		for _, rec := range cs.Customers {
			if err := applyCustomer(ctx, inv, rec); err != nil {
				r.log.Warn("customer from HQ not applied", "customer", rec.Number, "err", err)
				continue
			}
			applied++
		}
		if cs.Next > after {
			if err := r.cfg.Inventory.PutSetting(ctx, CustomerCursorSetting, []byte(strconv.FormatUint(cs.Next, 10))); err != nil {
				return fmt.Errorf("save customer cursor: %w", err)
			}
			if applied > 0 {
				r.log.Info("applied customers from HQ", "customers", applied, "cursor", cs.Next)
			}
			after = cs.Next
		}
		if !cs.More {
			return nil
		}
	}
}

// applyCustomer writes one HQ record into the store's state: the edits
// (those that lose to what the store holds are skipped), or the erasure.
func applyCustomer(ctx context.Context, inv customerInventory, rec hqapi.CustomerRecord) error {
	if rec.Erased {
		by := rec.ErasedBy
		if by == "" || len(by) > 128 {
			by = "hq"
		}
		err := inv.EraseCustomer(ctx, rec.Number, ledger.HLC{Wall: rec.ErasedAt}, by)
		if errors.Is(err, crdt.ErrInvalid) {
			err = inv.EraseCustomer(ctx, rec.Number, ledger.HLC{Wall: rec.ErasedAt}, "hq")
		}
		return err
	}
	edits := make([]crdt.FieldEdit, 0, len(rec.Edits))
	for _, e := range rec.Edits {
		f, err := crdt.ParseCustomerField(e.Field)
		if err != nil {
			continue // a field a newer release added
		}
		edits = append(edits, crdt.FieldEdit{Field: f, Value: e.Value, At: ledger.HLC{Wall: e.Wall, Logical: e.Logical}, By: e.By})
	}
	_, err := inv.EditCustomer(ctx, rec.Number, edits)
	if errors.Is(err, crdt.ErrErased) {
		return nil // erased here: the erasure goes up next round
	}
	return err
}
