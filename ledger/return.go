package ledger

import "fmt"

// KindReturn takes goods back without a receipt (issue 16). It came after
// the first release, so it is outside BaseKinds: a till writes it only
// once every till of its store knows it (node's kind gate).
const KindReturn Kind = "return"

// Return takes goods back without naming a sale: the customer has no
// receipt. The lines are priced as a sale's are (the current catalog
// price, or a stated one recorded as a price override with its reason),
// and the tenders give back exactly their total. An exchange is a Return
// whose tenders include an Other tender with Ref "exchange", matched by
// the Other tender of the sale recorded right after it (ExchangeRef).
type Return struct {
	Currency    string   `cbor:"1,keyasint" json:"currency"`
	TaxIncluded bool     `cbor:"2,keyasint,omitempty" json:"tax_included,omitempty"`
	Lines       []Line   `cbor:"3,keyasint" json:"lines"`
	Tenders     []Tender `cbor:"4,keyasint" json:"tenders"` // money back
	Reason      string   `cbor:"5,keyasint" json:"reason"`
	Staff       string   `cbor:"6,keyasint" json:"staff"`
	Approver    string   `cbor:"7,keyasint,omitempty" json:"approver,omitempty"` // who allowed a return without a receipt
}

// ExchangeRef is the Ref of the Other tenders that carry an exchange's
// credit from its Return to its Sale.
const ExchangeRef = "exchange"

func (*Return) Kind() Kind { return KindReturn }

// asSale is the return's goods as a sale paid by its tenders, for the
// rules and totals they share.
func (r *Return) asSale() *Sale {
	return &Sale{Currency: r.Currency, TaxIncluded: r.TaxIncluded, Lines: r.Lines, Tenders: r.Tenders, Staff: r.Staff, Approver: r.Approver}
}

// Totals computes the returned goods' amounts as Sale.Totals does.
func (r *Return) Totals() (Totals, error) { return r.asSale().Totals() }

func (r *Return) check() error {
	if err := checkText("reason", r.Reason); err != nil {
		return err
	}
	if r.Reason == "" {
		return invalid("a return without a receipt needs a reason")
	}
	// As a sale without change: the tenders give back exactly the total.
	if err := r.asSale().check(); err != nil {
		return fmt.Errorf("return: %w", err)
	}
	return nil
}
