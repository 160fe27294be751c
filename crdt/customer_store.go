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
	if s.customers.isErased(number) {
		return 0, fmt.Errorf("edit customer %s: %w", number, ErrErased)
	}
	// Sealed or plain: the key is fetched (or made and stored) before
	// the writer runs, as it may check the store's tills.
	var (
		sealID  CustomerKeyID
		sealKey []byte
		seal    bool
	)
	if k := s.cfg.CustomerKeys; k != nil {
		var err error
		if sealID, sealKey, seal, err = k.SealingKey(ctx, number); err != nil {
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
			var edits []FieldEdit
			if err == nil {
				edits, err = s.openSlot(old)
			}
			if err != nil {
				// Our own slot is damaged (or sealed under a key we
				// lost): start it again; our edits in it were
				// replicated already or are lost anyway.
				s.log.Warn("own customer slot does not decode; rewriting it", "customer", number, "err", err)
			} else {
				slot.Edits = edits
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
		if seal {
			sealed, err := sealEdits(number, sealKey, slot.Edits)
			if err != nil {
				return nil, nil, err
			}
			slot = customerSlot{Number: number, Key: sealID[:], Sealed: sealed}
		}
		v, err := encodeValue(slot)
		if err != nil {
			return nil, nil, err
		}
		return []op{{key: key, value: v}}, nil, nil
	})
	if errors.Is(err, ErrErased) && seal {
		s.cfg.CustomerKeys.Forget(number) // erased meanwhile: no key stays
	}
	if err != nil {
		return 0, err
	}
	return written, nil
}

// errNoKey: a sealed slot whose key this till does not hold.
var errNoKey = errors.New("crdt: customer key not held here")

// openSlot returns a slot's edits, opening them if the slot is sealed;
// errNoKey if this till lacks the key.
func (s *Store) openSlot(slot customerSlot) ([]FieldEdit, error) {
	if !slot.sealed() {
		return slot.Edits, nil
	}
	id := slot.keyID()
	var key []byte
	ok := false
	if k := s.cfg.CustomerKeys; k != nil {
		key, ok = k.Key(slot.Number, id)
	}
	if !ok {
		return nil, fmt.Errorf("customer %s key %s: %w", slot.Number, id, errNoKey)
	}
	return openEdits(slot.Number, key, slot.Sealed)
}

// loadCustomerSlot merges the slot value stored at key into the index,
// or marks it waiting for its key. It reports whether the customer is
// erased (the slot should then be deleted).
func (s *Store) loadCustomerSlot(key, number string, value []byte) (erased bool, err error) {
	slot, err := decodeCustomerSlot(value)
	if err == nil && slot.Number != number {
		err = fmt.Errorf("value names customer %q: %w", slot.Number, ErrCorrupt)
	}
	if err != nil {
		return false, err
	}
	edits, err := s.openSlot(slot)
	if errors.Is(err, errNoKey) {
		if s.customers.isErased(number) {
			return true, nil
		}
		s.customers.markPending(number, key, slot.keyID())
		if k := s.cfg.CustomerKeys; k != nil {
			k.Missing(number, slot.keyID())
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.customers.applySlot(number, key, edits), nil
}

// RetryCustomer reads a customer's slots again and merges those it can
// now open: the node calls it when a key arrives.
func (s *Store) RetryCustomer(ctx context.Context, number string) error {
	if err := ValidCustomerNumber(number); err != nil {
		return fmt.Errorf("retry customer: %w", err)
	}
	entries, err := s.list(ctx, "/"+prefixCustomer+"/"+number)
	if err != nil {
		return fmt.Errorf("retry customer %s: %w", number, err)
	}
	for _, e := range entries {
		n, _, erased, ok := parseCustomerKey(e.key)
		if !ok || erased || n != number {
			continue
		}
		if _, err := s.loadCustomerSlot(e.key, number, e.value); err != nil {
			s.log.Warn("customer slot does not open; ignored", "key", e.key, "err", err)
		}
	}
	return nil
}

// PendingCustomerKeys returns, by customer, the keys that sealed slots
// held here wait for.
func (s *Store) PendingCustomerKeys() map[string][]CustomerKeyID {
	return s.customers.pendingKeys()
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
		if k := s.cfg.CustomerKeys; k != nil {
			k.Forget(number) // the sealed fields in the DAG are unreadable from now on
		}
		s.eraseSlotsSoon(number)
		return
	}
	erased, err := s.loadCustomerSlot(key, number, value)
	if err != nil {
		s.log.Warn("customer slot does not decode; ignored", "key", key, "err", err)
		return
	}
	if erased {
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
			if k := s.cfg.CustomerKeys; k != nil {
				k.Forget(number) // a crash may have come between marker and key
			}
		}
	}
	bad := 0
	stale := map[string]bool{}
	for _, e := range entries {
		number, _, erased, ok := parseCustomerKey(e.key)
		if !ok || erased {
			continue
		}
		erased, err := s.loadCustomerSlot(e.key, number, e.value)
		if err != nil {
			bad++
			continue
		}
		if erased {
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
