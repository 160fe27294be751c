package basket

import (
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// Override replaces a line's catalog price for a reason: damaged goods,
// a shelf label that disagrees with the catalog. Who may give one is the
// caller's rule (a role and a limit, OverrideLimitBP of the list price);
// ApprovedBy names who gave or approved it and goes into the signed sale
// line with the reason and the list price.
type Override struct {
	Price      ledger.Money `json:"price"`
	Reason     string       `json:"reason"`
	ApprovedBy string       `json:"approved_by,omitempty"`
}

// MaxOverrideFactor bounds an override above the list price: more than
// ten times it is a typing slip (a missing decimal point), not a price.
const MaxOverrideFactor = 10

// Check checks an override of a product whose catalog price is list: a
// price in 0..ledger.MaxPrice and at most MaxOverrideFactor times the
// list price (when it has one), and a printable reason.
func (o *Override) Check(list ledger.Money) error {
	if o == nil {
		return nil
	}
	switch {
	case o.Price < 0:
		return invalid("price override %v: must not be negative", o.Price)
	case o.Price > ledger.MaxPrice:
		return invalid("price override %v: above %v", o.Price, ledger.Money(ledger.MaxPrice))
	case list > 0 && o.Price > list*MaxOverrideFactor:
		return invalid("price override %v: more than %d times the price %v (a typing slip?)", o.Price, MaxOverrideFactor, list)
	case strings.TrimSpace(o.Reason) == "":
		return invalid("a price override needs a reason")
	}
	return ValidText("override reason", o.Reason, ledger.MaxTextLen, true)
}

// Large reports whether the override needs more than the ordinary
// override permission: it raises the price, or takes more than limitBP
// basis points of the list price off (a negative limit: no limit).
func (o *Override) Large(list ledger.Money, limitBP int64) bool {
	if o == nil || o.Price == list {
		return false
	}
	if o.Price > list {
		return true
	}
	return limitBP >= 0 && overBP(list-o.Price, list, limitBP)
}
