package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// This file implements ui.Customers: customers kept in the CRDT
// (crdt/customer*.go), each field won by the hybrid logical clock of its
// edit, and their purchase history from the ledger (ledgerdb's customer
// index). Their personal fields are sealed under keys kept outside the
// CRDT (node/customerkeys.go); a customer whose key this till lacks
// shows its number only (Customer.Unavailable).

var _ ui.Customers = (*Till)(nil)

// settingCustomerRequired is the store setting naming the fields a
// customer must have, comma-separated ("name,phone").
const settingCustomerRequired = "customer_required"

// customerNumberDigits is the length of a customer number: random, so
// tills cut off from each other never give out the same one (with 10^12
// numbers, two of a million customers share one with odds of 1 in 2,000,
// and a till never gives out a number it already knows).
const customerNumberDigits = 12

// customerClock hands out the hybrid logical clock of customer edits,
// and serialises this till's creations, edits and erasures, so that two
// requests racing for one loyalty card cannot both pass the card check.
type customerClock struct {
	mu   sync.Mutex
	last ledger.HLC

	edit sync.Mutex
}

// next returns a clock above the last one handed out, above this till's
// ledger clock, and above every edit in seen: an edit made after a till
// saw a value wins over it whatever the two tills' wall clocks say.
func (t *Till) customerHLC(seen []crdt.FieldEdit) ledger.HLC {
	now := t.cfg.Now().UnixMilli()
	var at ledger.HLC
	t.db.View(func(s *ledger.State) { at = s.NextTime(t.id, now, 2*60*1000) })
	t.custClock.mu.Lock()
	defer t.custClock.mu.Unlock()
	last := t.custClock.last
	for _, e := range seen {
		if last.Before(e.At) {
			last = e.At
		}
	}
	if n := last.Next(now); at.Before(n) {
		at = n
	}
	t.custClock.last = at
	return at
}

func customerView(c crdt.Customer) ui.Customer { return ui.Customer(c) }

// personErr is an error a person reads: kind (a ui sentinel) sets the
// answer's status, key and args the catalog message the pages show.
func personErr(kind error, key string, args ...any) error {
	return fmt.Errorf("%w: %w", kind, i18n.Errorf(key, args...))
}

func customerErr(err error, number string) error {
	switch {
	case errors.Is(err, crdt.ErrNotFound):
		return personErr(ui.ErrNotFound, "till.error.customer_unknown", "number", number)
	case errors.Is(err, crdt.ErrErased):
		return personErr(ui.ErrConflict, "till.error.customer_erased", "number", number)
	case errors.Is(err, crdt.ErrInvalid):
		return fmt.Errorf("%w: %v: %w", ui.ErrBadRequest, err, i18n.Errorf("till.error.customer_number", "number", number))
	}
	return err
}

// FindCustomers finds customers from memory (crdt.Store.FindCustomers).
func (t *Till) FindCustomers(_ context.Context, q string, limit int) ([]ui.Customer, error) {
	found := t.inv.FindCustomers(q, limit)
	out := make([]ui.Customer, 0, len(found))
	for _, c := range found {
		out = append(out, customerView(c))
	}
	return out, nil
}

// Customer returns a customer; an erased one has only its number.
func (t *Till) Customer(_ context.Context, number string) (ui.Customer, error) {
	c, err := t.inv.Customer(number)
	if err != nil {
		return ui.Customer{}, customerErr(err, number)
	}
	return customerView(c), nil
}

// CustomerRequired returns the fields the store requires of a customer.
func (t *Till) CustomerRequired(ctx context.Context) ([]string, error) {
	v, err := t.inv.Setting(ctx, settingCustomerRequired)
	if errors.Is(err, crdt.ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	fields, err := parseRequired(string(v))
	if err != nil {
		t.log.Warn("customer required-fields setting is malformed; requiring nothing", "value", string(v), "err", err)
		return []string{}, nil
	}
	return fields, nil
}

// SetCustomerRequired sets the fields the store requires of a customer.
func (t *Till) SetCustomerRequired(ctx context.Context, fields []string) error {
	v := strings.Join(fields, ",")
	got, err := parseRequired(v)
	if err != nil {
		return fmt.Errorf("%w: %w", ui.ErrBadRequest, err)
	}
	if len(got) == 0 {
		return t.inv.DeleteSetting(ctx, settingCustomerRequired)
	}
	return t.inv.PutSetting(ctx, settingCustomerRequired, []byte(strings.Join(got, ",")))
}

// parseRequired reads "name,phone" into sorted field names; consent is
// a yes/no answer and cannot be required.
func parseRequired(v string) ([]string, error) {
	out := []string{}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		f, err := crdt.ParseCustomerField(s)
		if err != nil {
			return nil, i18n.Errorf("till.error.required_field_unknown", "field", s)
		}
		if f == crdt.FieldConsent {
			return nil, i18n.Errorf("till.error.required_consent")
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkCustomer checks every field of c and the store's required fields;
// the error names the first field at fault.
func (t *Till) checkCustomer(ctx context.Context, c crdt.Customer) error {
	for _, f := range crdt.CustomerFields {
		if err := crdt.CheckCustomerField(f, c.Get(f)); err != nil {
			// the crdt's detail stays in the English text for tools
			return fmt.Errorf("%w: %v: %w", ui.ErrBadRequest, err, i18n.Errorf("till.error.customer_bad."+f.String()))
		}
	}
	req, err := t.CustomerRequired(ctx)
	if err != nil {
		return err
	}
	for _, name := range req {
		f, _ := crdt.ParseCustomerField(name)
		if c.Get(f) == "" {
			return personErr(ui.ErrBadRequest, "till.error.customer_required."+name)
		}
	}
	return nil
}

// checkCard refuses a card already held by another customer.
func (t *Till) checkCard(card, number string) error {
	if card == "" {
		return nil
	}
	for _, o := range t.inv.CustomersByCard(card) {
		if o.Number != number {
			return personErr(ui.ErrConflict, "till.error.card_taken", "card", card, "number", o.Number)
		}
	}
	return nil
}

// CreateCustomer gives c a new random number and stores it.
func (t *Till) CreateCustomer(ctx context.Context, in ui.Customer) (ui.Customer, error) {
	t.custClock.edit.Lock()
	defer t.custClock.edit.Unlock()
	c := crdt.Customer(in)
	c.Number, c.Erased, c.Unavailable = "", false, false
	if c.HomeStore == "" {
		c.HomeStore = t.cfg.Store.ID.String()
	}
	if err := t.checkCustomer(ctx, c); err != nil {
		return ui.Customer{}, err
	}
	if err := t.checkCard(c.Card, ""); err != nil {
		return ui.Customer{}, err
	}
	for range 10 {
		n, err := newCustomerNumber()
		if err != nil {
			return ui.Customer{}, err
		}
		if _, err := t.inv.Customer(n); errors.Is(err, crdt.ErrNotFound) {
			c.Number = n
			break
		}
	}
	if c.Number == "" {
		return ui.Customer{}, errors.New("create customer: no free number in 10 draws")
	}
	at := t.customerHLC(nil)
	var edits []crdt.FieldEdit
	for _, f := range crdt.CustomerFields {
		if v := c.Get(f); v != "" {
			edits = append(edits, crdt.FieldEdit{Field: f, Value: v, At: at, By: t.id.String()})
		}
	}
	if len(edits) == 0 {
		return ui.Customer{}, personErr(ui.ErrBadRequest, "till.error.customer_empty")
	}
	if _, err := t.inv.EditCustomer(ctx, c.Number, edits); err != nil {
		return ui.Customer{}, customerErr(err, c.Number)
	}
	return t.Customer(ctx, c.Number)
}

// EditCustomer stores the fields of in that differ from the customer as
// this till holds it, each with a clock above the edit it replaces.
func (t *Till) EditCustomer(ctx context.Context, in ui.Customer) (ui.Customer, error) {
	t.custClock.edit.Lock()
	defer t.custClock.edit.Unlock()
	cur, seen, err := t.inv.CustomerEdits(in.Number)
	if err != nil {
		return ui.Customer{}, customerErr(err, in.Number)
	}
	if cur.Erased {
		return ui.Customer{}, customerErr(crdt.ErrErased, in.Number)
	}
	if cur.Unavailable {
		// Its fields are sealed under a key this till has not received:
		// an edit could not tell what it changes.
		return ui.Customer{}, personErr(ui.ErrConflict, "till.error.customer_unavailable", "number", in.Number)
	}
	next := crdt.Customer(in)
	next.Unavailable = false
	if err := t.checkCustomer(ctx, next); err != nil {
		return ui.Customer{}, err
	}
	if next.Card != cur.Card {
		if err := t.checkCard(next.Card, next.Number); err != nil {
			return ui.Customer{}, err
		}
	}
	at := t.customerHLC(seen)
	var edits []crdt.FieldEdit
	for _, f := range crdt.CustomerFields {
		if v := next.Get(f); v != cur.Get(f) {
			edits = append(edits, crdt.FieldEdit{Field: f, Value: v, At: at, By: t.id.String()})
		}
	}
	if len(edits) > 0 {
		if _, err := t.inv.EditCustomer(ctx, next.Number, edits); err != nil {
			return ui.Customer{}, customerErr(err, next.Number)
		}
	}
	return t.Customer(ctx, next.Number)
}

// EraseCustomer erases a customer's personal data in the store's state
// (and, through the relay, at HQ and in the chain's other stores). The
// ledger's sales keep the number, which names no one by itself.
func (t *Till) EraseCustomer(ctx context.Context, number string) error {
	t.custClock.edit.Lock()
	defer t.custClock.edit.Unlock()
	_, seen, err := t.inv.CustomerEdits(number)
	if err != nil {
		return customerErr(err, number)
	}
	// Points are the customer's money: erasing the customer would strand
	// them (the account is keyed by the number, which stays, but nobody
	// could be found to spend it). Spend them first.
	if b, err := t.cardBalance(ctx, number); err != nil {
		return err
	} else if b.Account == ledger.Points && b.Balance > 0 {
		return personErr(ui.ErrConflict, "till.error.customer_points", "number", number, "points", int64(b.Balance))
	}
	if err := t.inv.EraseCustomer(ctx, number, t.customerHLC(seen), t.id.String()); err != nil {
		return customerErr(err, number)
	}
	t.log.Info("customer erased", "customer", number)
	return nil
}

// CustomerSales returns the customer's sales this till's ledger holds.
func (t *Till) CustomerSales(_ context.Context, number string, limit int) ([]*ledger.Event, error) {
	evs, err := t.db.CustomerSales(number, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ui.ErrBadRequest, err, i18n.Errorf("till.error.customer_number", "number", number))
	}
	return evs, nil
}

// checkSaleCustomer refuses a sale naming a customer this till does not
// know, or one erased. A sale without a customer passes.
func (t *Till) checkSaleCustomer(number string) error {
	if number == "" {
		return nil
	}
	c, err := t.inv.Customer(number)
	if err != nil {
		return customerErr(err, number)
	}
	if c.Erased {
		return personErr(ui.ErrBadRequest, "till.error.customer_erased", "number", number)
	}
	return nil
}

func newCustomerNumber() (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(customerNumberDigits), nil)
	low := new(big.Int).Exp(big.NewInt(10), big.NewInt(customerNumberDigits-1), nil)
	n, err := rand.Int(rand.Reader, new(big.Int).Sub(max, low))
	if err != nil {
		return "", fmt.Errorf("draw a customer number: %w", err)
	}
	return n.Add(n, low).String(), nil
}
