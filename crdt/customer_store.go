package crdt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	ds "github.com/ipfs/go-datastore"

	"github.com/tillmesh/tillmesh/ledger"
)

// ErrErased is returned for an edit of a customer whose personal data was
// erased: the erasure wins over every edit, earlier or later.
var ErrErased = errors.New("crdt: customer erased")

// customerErasedSegment is the last segment of an erasure marker's key.
const customerErasedSegment = "erased"

func customerSlotKey(number, till, epoch string) ds.Key {
	return ds.RawKey("/" + prefixCustomer + "/" + number + "/" + till + "/" + epoch)
}

func customerErasureKey(number string) ds.Key {
	return ds.RawKey("/" + prefixCustomer + "/" + number + "/" + customerErasedSegment)
}

// EditCustomer records field edits of a customer in this till's slot,
// creating the customer if it has none yet. Each edit carries the hybrid
// logical clock of the edit and who made it (this till, or HQ's edit the
// relay brings down): on every replica the edit with the greatest
// (At, By) wins its field, whatever order the edits arrive in. Edits that
// lose to what this replica already holds are skipped; it reports how
// many were written. It fails with ErrInvalid, and stores nothing, if any
// edit does not validate, and with ErrErased if the customer was erased.
func (s *Store) EditCustomer(ctx context.Context, number string, edits []FieldEdit) (int, error) {
	if err := ValidCustomerNumber(number); err != nil {
		return 0, fmt.Errorf("edit customer: %w", err)
	}
	if len(edits) == 0 {
		return 0, nil
	}
	for _, e := range edits {
		if err := e.Check(); err != nil {
			return 0, fmt.Errorf("edit customer %s: %w", number, err)
		}
	}
	key := customerSlotKey(number, s.cfg.TillID, s.epoch)
	written := 0
	err := s.write(ctx, func() ([]op, func(), error) {
		written = 0
		if s.customers.isErased(number) {
			return nil, nil, fmt.Errorf("edit customer %s: %w", number, ErrErased)
		}
		slot := customerSlot{Number: number}
		switch v, err := s.crdt.Get(ctx, key); {
		case err == nil:
			old, err := decodeCustomerSlot(v)
			if err != nil {
				// Our own slot is damaged: start it again; our edits
				// in it were replicated already or are lost anyway.
				s.log.Warn("own customer slot does not decode; rewriting it", "customer", number, "err", err)
			} else {
				slot = old
			}
		case !errors.Is(err, ds.ErrNotFound):
			return nil, nil, fmt.Errorf("edit customer %s: read own slot: %w", number, err)
		}
		_, merged, _ := s.customers.get(number)
		var cur customerMerge
		for _, e := range merged {
			cur.edits[e.Field] = e
		}
		for _, e := range edits {
			if w := cur.edits[e.Field]; w.At != (ledger.HLC{}) && !e.newer(w) {
				continue // loses to what we hold already
			}
			cur.edits[e.Field] = e
			e := FieldEdit{Field: e.Field, Value: e.Value, At: e.At, By: e.By}
			if i := slices.IndexFunc(slot.Edits, func(o FieldEdit) bool { return o.Field == e.Field }); i >= 0 {
				slot.Edits[i] = e
			} else {
				slot.Edits = append(slot.Edits, e)
			}
			written++
		}
		if written == 0 {
			return nil, nil, nil
		}
		slices.SortFunc(slot.Edits, func(a, b FieldEdit) int { return int(a.Field) - int(b.Field) })
		v, err := encodeValue(slot)
		if err != nil {
			return nil, nil, err
		}
		return []op{{key: key, value: v}}, nil, nil
	})
	if err != nil {
		return 0, err
	}
	return written, nil
}

// EraseCustomer erases a customer's personal data on every replica: it
// writes the customer's erasure marker (never deleted; it hides every
// slot, earlier or later) and deletes every slot of the customer this
// replica holds, in one batch. Only the number remains. Erasing twice is
// not an error.
func (s *Store) EraseCustomer(ctx context.Context, number string, at ledger.HLC, by string) error {
	if err := ValidCustomerNumber(number); err != nil {
		return fmt.Errorf("erase customer: %w", err)
	}
	marker := customerErasure{Number: number, At: at, By: by}
	v, err := encodeValue(marker)
	if err != nil {
		return fmt.Errorf("erase customer %s: %w", number, err)
	}
	return s.write(ctx, func() ([]op, func(), error) {
		slots, err := s.customerSlotKeys(ctx, number)
		if err != nil {
			return nil, nil, err
		}
		ops := []op{{key: customerErasureKey(number), value: v}}
		for _, k := range slots {
			ops = append(ops, op{key: k})
		}
		return ops, nil, nil
	})
}

// customerSlotKeys lists the slot keys of a customer held here.
func (s *Store) customerSlotKeys(ctx context.Context, number string) ([]ds.Key, error) {
	entries, err := s.list(ctx, "/"+prefixCustomer+"/"+number)
	if err != nil {
		return nil, fmt.Errorf("list customer %s: %w", number, err)
	}
	var out []ds.Key
	for _, e := range entries {
		if n, till, erased, ok := parseCustomerKey(e.key); ok && n == number && !erased && till != "" {
			out = append(out, ds.RawKey(e.key))
		}
	}
	return out, nil
}

// Customer returns a customer, merged from every till's edits, or
// ErrNotFound. An erased customer comes back with only its Number and
// Erased set.
func (s *Store) Customer(number string) (Customer, error) {
	if err := ValidCustomerNumber(number); err != nil {
		return Customer{}, fmt.Errorf("customer: %w", err)
	}
	c, _, ok := s.customers.get(number)
	if !ok {
		return Customer{}, fmt.Errorf("customer %s: %w", number, ErrNotFound)
	}
	return c, nil
}

// CustomerEdits returns the edits that won each field of a customer (what
// the relay sends HQ), or ErrNotFound. It is empty for an erased customer.
func (s *Store) CustomerEdits(number string) (Customer, []FieldEdit, error) {
	if err := ValidCustomerNumber(number); err != nil {
		return Customer{}, nil, fmt.Errorf("customer: %w", err)
	}
	c, edits, ok := s.customers.get(number)
	if !ok {
		return Customer{}, nil, fmt.Errorf("customer %s: %w", number, ErrNotFound)
	}
	return c, edits, nil
}

// FindCustomers returns up to limit customers matching q, from memory. A
// customer whose loyalty card barcode or number is exactly q is the whole
// answer (a wedge scanner types the card into the search box); otherwise
// those whose name, email or card contains q case-insensitively or, when
// q looks like a phone number, whose phone digits contain q's.
func (s *Store) FindCustomers(q string, limit int) []Customer {
	return s.customers.find(q, limit)
}

// CustomersByCard returns the customers holding the loyalty card code:
// usually one; two if tills cut off from each other gave out one card
// twice.
func (s *Store) CustomersByCard(code string) []Customer {
	return s.customers.byCard(strings.TrimSpace(code))
}

// CustomerCount returns how many customers this replica knows, and how
// many of them are erased.
func (s *Store) CustomerCount() (customers, erased int) {
	return s.customers.counts()
}

// CustomerNumbers returns every known customer number (erased ones
// included), unsorted.
func (s *Store) CustomerNumbers() []string {
	s.customers.mu.RLock()
	defer s.customers.mu.RUnlock()
	out := make([]string, 0, len(s.customers.byNum))
	for n := range s.customers.byNum {
		out = append(out, n)
	}
	return out
}

// CustomersChangedSince returns the numbers of the customers changed
// (edited, created or erased, here or by a merge) after version v, and
// the current version to ask after next time. Versions count from 0 at
// each start, so a caller that keeps one across a restart of the Store
// must start again from 0.
func (s *Store) CustomersChangedSince(v uint64) ([]string, uint64) {
	return s.customers.changedSince(v)
}

// onCustomerCommit merges a committed customer key into the index, and
// deletes a slot of an erased customer (a late edit made by a till that
// had not heard of the erasure).
func (s *Store) onCustomerCommit(key string, value []byte, deleted bool) {
	number, _, erased, ok := parseCustomerKey(key)
	if !ok || deleted {
		return // the merge is monotone: a deleted slot leaves its edits
	}
	if erased {
		if _, err := decodeCustomerErasure(value); err != nil {
			s.log.Warn("customer erasure marker does not decode; erasing anyway", "key", key, "err", err)
		}
		s.customers.applyErasure(number)
		s.eraseSlotsSoon(number)
		return
	}
	slot, err := decodeCustomerSlot(value)
	if err == nil && slot.Number != number {
		err = fmt.Errorf("value names customer %q: %w", slot.Number, ErrCorrupt)
	}
	if err != nil {
		s.log.Warn("customer slot does not decode; ignored", "key", key, "err", err)
		return
	}
	if s.customers.applySlot(slot) {
		s.eraseSlotsSoon(number)
	}
}

// eraseSlotsSoon deletes, in the background, the slots of an erased
// customer this replica holds.
func (s *Store) eraseSlotsSoon(number string) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := s.write(s.ctx, func() ([]op, func(), error) {
			keys, err := s.customerSlotKeys(s.ctx, number)
			if err != nil {
				return nil, nil, err
			}
			ops := make([]op, 0, len(keys))
			for _, k := range keys {
				ops = append(ops, op{key: k})
			}
			return ops, nil, nil
		})
		if err != nil && s.ctx.Err() == nil {
			s.log.Warn("delete slots of an erased customer; retried when another arrives", "customer", number, "err", err)
		}
	}()
}

// buildCustomers fills the index from storage at start.
func (s *Store) buildCustomers(ctx context.Context) error {
	entries, err := s.list(ctx, prefixKey(prefixCustomer))
	if err != nil {
		return err
	}
	var erasedNums []string
	for _, e := range entries {
		if number, _, erased, ok := parseCustomerKey(e.key); ok && erased {
			s.customers.applyErasure(number)
			erasedNums = append(erasedNums, number)
		}
	}
	bad := 0
	stale := map[string]bool{}
	for _, e := range entries {
		number, _, erased, ok := parseCustomerKey(e.key)
		if !ok || erased {
			continue
		}
		slot, err := decodeCustomerSlot(e.value)
		if err != nil || slot.Number != number {
			bad++
			continue
		}
		if s.customers.applySlot(slot) {
			stale[number] = true
		}
	}
	if bad > 0 {
		s.log.Warn("customer slots that do not decode were ignored", "slots", bad)
	}
	for n := range stale {
		s.eraseSlotsSoon(n)
	}
	return nil
}
