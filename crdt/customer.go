package crdt

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/ledger"
)

// This file holds the customer record and its replicated encoding; pure,
// like values.go. customer_store.go holds the Store's customer methods and
// customer_index.go the in-memory search index.
//
// # Why not go-ds-crdt's resolution
//
// go-ds-crdt resolves two writes of one key by DAG height, not time: a
// till that edited a customer while cut off, and made many other writes
// meanwhile, would overwrite a newer edit made elsewhere. So customers
// are stored like stock: each till writes only its own slot,
//
//	/customer/<number>/<till>/<epoch>   CBOR customerSlot; this till's edits
//	/customer/<number>/erased           CBOR customerErasure; never deleted
//
// and a slot holds, per field, the last value this till wrote with the
// hybrid logical clock (and till) of the edit that set it. Readers merge
// the slots field by field: the edit with the greatest (HLC, till) wins.
// One writer per slot key means go-ds-crdt never resolves a conflict
// between slots; the merge is commutative, associative and idempotent, so
// every replica that holds the same slots shows the same customer.
//
// An erasure marker hides every slot of the customer, wins over every
// edit, earlier or later, and is never deleted; tills delete the slots
// they see of an erased customer (including a late offline edit's).

// CustomerField names one field of a customer record.
type CustomerField uint8

// Customer fields. The number is the key, not a field: it never changes.
const (
	FieldName CustomerField = iota + 1
	FieldPhone
	FieldEmail
	FieldCard
	FieldConsent
	FieldNotes
	FieldHomeStore
	numCustomerFields = int(FieldHomeStore)
)

// CustomerFields lists every field, in order.
var CustomerFields = []CustomerField{FieldName, FieldPhone, FieldEmail, FieldCard, FieldConsent, FieldNotes, FieldHomeStore}

var fieldNames = [...]string{"", "name", "phone", "email", "card", "consent", "notes", "home_store"}

func (f CustomerField) String() string {
	if int(f) < len(fieldNames) && f > 0 {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// ParseCustomerField maps a field name ("name", "phone", ...) to its field.
func ParseCustomerField(s string) (CustomerField, error) {
	for i, n := range fieldNames {
		if i > 0 && n == s {
			return CustomerField(i), nil
		}
	}
	return 0, fmt.Errorf("customer field %q: unknown: %w", s, ErrInvalid)
}

// Limits on customer fields, in bytes.
const (
	MaxCustomerNameLen  = 200
	MaxCustomerPhoneLen = 32
	MaxCustomerEmailLen = 254
	MaxCustomerCardLen  = 64
	MaxCustomerNotesLen = 2000
	minPhoneDigits      = 5
	maxPhoneDigits      = 15 // E.164
)

// Customer is a customer record as the till shows it: the merge of every
// till's edits. The zero value of a field is "not given". An erased
// customer keeps only its Number, with Erased set.
type Customer struct {
	Number    string `json:"number"`
	Name      string `json:"name,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Card      string `json:"card,omitempty"` // loyalty card barcode
	Consent   bool   `json:"consent,omitempty"`
	Notes     string `json:"notes,omitempty"`
	HomeStore string `json:"home_store,omitempty"`
	Erased    bool   `json:"erased,omitempty"`
	// Unavailable: this till holds sealed fields of the customer but not
	// yet the key that opens them (customer_seal.go); only Number is
	// set until the key arrives from a peer.
	Unavailable bool `json:"unavailable,omitempty"`
}

// Get returns field f's value in its stored string form ("true"/"" for
// Consent).
func (c Customer) Get(f CustomerField) string {
	switch f {
	case FieldName:
		return c.Name
	case FieldPhone:
		return c.Phone
	case FieldEmail:
		return c.Email
	case FieldCard:
		return c.Card
	case FieldConsent:
		if c.Consent {
			return "true"
		}
		return ""
	case FieldNotes:
		return c.Notes
	case FieldHomeStore:
		return c.HomeStore
	}
	return ""
}

// set stores v (already validated) in field f.
func (c *Customer) set(f CustomerField, v string) {
	switch f {
	case FieldName:
		c.Name = v
	case FieldPhone:
		c.Phone = v
	case FieldEmail:
		c.Email = v
	case FieldCard:
		c.Card = v
	case FieldConsent:
		c.Consent = v == "true"
	case FieldNotes:
		c.Notes = v
	case FieldHomeStore:
		c.HomeStore = v
	}
}

// ValidCustomerNumber reports whether n is a well-formed customer number
// (ledger.CheckCustomer's rule, which is also a valid key segment).
func ValidCustomerNumber(n string) error {
	if err := ledger.CheckCustomer(n); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return validID(n)
}

// CheckCustomerField reports what is wrong with v as the value of field
// f, or nil. The empty string clears any field.
func CheckCustomerField(f CustomerField, v string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("customer %s: %s: %w", f, fmt.Sprintf(format, args...), ErrInvalid)
	}
	max := 0
	switch f {
	case FieldName:
		max = MaxCustomerNameLen
	case FieldPhone:
		max = MaxCustomerPhoneLen
	case FieldEmail:
		max = MaxCustomerEmailLen
	case FieldCard:
		max = MaxCustomerCardLen
	case FieldConsent:
		if v != "" && v != "true" {
			return bad("%q is not \"true\" or empty", v)
		}
		return nil
	case FieldNotes:
		max = MaxCustomerNotesLen
	case FieldHomeStore:
		max = 128
	default:
		return bad("unknown field")
	}
	if len(v) > max {
		return bad("%d bytes, at most %d", len(v), max)
	}
	if !utf8.ValidString(v) {
		return bad("not UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(f == FieldNotes && (r == '\n' || r == '\t')) {
			return bad("control character %U", r)
		}
	}
	if v == "" {
		return nil
	}
	if strings.TrimSpace(v) != v {
		return bad("leading or trailing space")
	}
	switch f {
	case FieldPhone:
		digits := 0
		for i, r := range v {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case r == '+' && i == 0:
			case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/':
			default:
				return bad("%q: only digits, a leading +, spaces and - ( ) . /", v)
			}
		}
		if digits < minPhoneDigits || digits > maxPhoneDigits {
			return bad("%q has %d digits, want %d..%d", v, digits, minPhoneDigits, maxPhoneDigits)
		}
	case FieldEmail:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || a.Name != "" {
			return bad("%q is not an address like name@example.com", v)
		}
		at := strings.LastIndexByte(v, '@')
		if at < 1 || !strings.Contains(v[at+1:], ".") {
			return bad("%q is not an address like name@example.com", v)
		}
	case FieldCard:
		for _, r := range v {
			if r <= ' ' || r > '~' {
				return bad("%q: printable ASCII without spaces only", v)
			}
		}
	case FieldHomeStore:
		if err := validID(v); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// Validate reports the first problem with c, or nil.
func (c Customer) Validate() error {
	if err := ValidCustomerNumber(c.Number); err != nil {
		return fmt.Errorf("customer number: %w", err)
	}
	for _, f := range CustomerFields {
		if err := CheckCustomerField(f, c.Get(f)); err != nil {
			return err
		}
	}
	return nil
}

// PhoneDigits is the phone number's digits alone: what search compares.
func PhoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FieldEdit is one field's value as set by one edit: At is the hybrid
// logical clock of the edit and By the till (or "hq") that made it. The
// edit with the greater (At, By) wins (see newer).
type FieldEdit struct {
	_     struct{} `cbor:",toarray"`
	Field CustomerField
	Value string
	At    ledger.HLC
	By    string
}

// newer reports whether e wins over o: the later clock, then the greater
// editor, then (only for a clock reused after a till's disk was lost) the
// greater value, so that every replica picks the same.
func (e FieldEdit) newer(o FieldEdit) bool {
	switch {
	case e.At != o.At:
		return o.At.Before(e.At)
	case e.By != o.By:
		return e.By > o.By
	}
	return e.Value > o.Value
}

// Check reports what is wrong with e, or nil.
func (e FieldEdit) Check() error {
	if err := CheckCustomerField(e.Field, e.Value); err != nil {
		return err
	}
	if e.At.Wall <= 0 {
		return fmt.Errorf("customer %s edit: no clock: %w", e.Field, ErrInvalid)
	}
	if err := validID(e.By); err != nil {
		return fmt.Errorf("customer %s edit by: %w", e.Field, err)
	}
	return nil
}

// customerSlot is one till's edits of one customer: for each field the
// last value that till wrote, with the edit's clock. Only that till
// writes it.
//
// A sealed slot (customer_seal.go) has no Edits but Key and Sealed: the
// same edits with their values sealed under the customer's key Key.
type customerSlot struct {
	Number string       `cbor:"1,keyasint"`
	Edits  []FieldEdit  `cbor:"2,keyasint"` // at most one per field, sorted by field
	Key    []byte       `cbor:"3,keyasint,omitempty"`
	Sealed []sealedEdit `cbor:"4,keyasint,omitempty"` // like Edits
}

// Validate reports the first problem with s, or nil. A sealed slot's
// values are checked when it is opened.
func (s customerSlot) Validate() error {
	if err := ValidCustomerNumber(s.Number); err != nil {
		return fmt.Errorf("customer slot number: %w", err)
	}
	if s.sealed() {
		return s.checkSealed()
	}
	if len(s.Edits) == 0 || len(s.Edits) > numCustomerFields {
		return fmt.Errorf("customer %s slot: %d edits, want 1..%d: %w", s.Number, len(s.Edits), numCustomerFields, ErrInvalid)
	}
	for i, e := range s.Edits {
		if i > 0 && e.Field <= s.Edits[i-1].Field {
			return fmt.Errorf("customer %s slot: fields not sorted or repeated: %w", s.Number, ErrInvalid)
		}
		if err := e.Check(); err != nil {
			return fmt.Errorf("customer %s slot: %w", s.Number, err)
		}
	}
	return nil
}

// customerErasure records that a customer's personal data was erased. It
// is never deleted, and it wins over every edit of the customer.
type customerErasure struct {
	Number string     `cbor:"1,keyasint"`
	At     ledger.HLC `cbor:"2,keyasint"`
	By     string     `cbor:"3,keyasint"`
}

// Validate reports the first problem with e, or nil.
func (e customerErasure) Validate() error {
	if err := ValidCustomerNumber(e.Number); err != nil {
		return fmt.Errorf("customer erasure number: %w", err)
	}
	if err := validID(e.By); err != nil {
		return fmt.Errorf("customer %s erasure by: %w", e.Number, err)
	}
	return nil
}

func decodeCustomerSlot(b []byte) (customerSlot, error) {
	var s customerSlot
	err := decodeValue(b, &s)
	return s, err
}

func decodeCustomerErasure(b []byte) (customerErasure, error) {
	var e customerErasure
	err := decodeValue(b, &e)
	return e, err
}

// customerMerge is a customer's fields merged from its slots: the record
// and, per field, the edit that set it.
type customerMerge struct {
	c     Customer
	edits [numCustomerFields + 1]FieldEdit // by field; zero At: never set
}

// apply merges e into m; it reports whether the record changed.
func (m *customerMerge) apply(e FieldEdit) bool {
	cur := m.edits[e.Field]
	if cur.At != (ledger.HLC{}) && !e.newer(cur) {
		return false
	}
	m.edits[e.Field] = FieldEdit{Field: e.Field, Value: e.Value, At: e.At, By: e.By}
	m.c.set(e.Field, e.Value)
	return true
}

// MergeCustomer merges field edits (from any slots, in any order) into a
// customer record: per field, the edit with the greatest (At, By) wins.
// It is what every replica computes, and is exported for tests and HQ.
func MergeCustomer(number string, edits []FieldEdit) Customer {
	m := customerMerge{c: Customer{Number: number}}
	for _, e := range edits {
		if e.Field > 0 && int(e.Field) <= numCustomerFields {
			m.apply(e)
		}
	}
	return m.c
}

// parseCustomerKey splits /customer/<number>/<till>/<epoch> (slot) and
// /customer/<number>/erased (erasure); ok is false for any other shape.
func parseCustomerKey(k string) (number, till string, erased, ok bool) {
	p := splitKey(k)
	if len(p) < 3 || p[0] != prefixCustomer || ValidCustomerNumber(p[1]) != nil {
		return "", "", false, false
	}
	switch {
	case len(p) == 3 && p[2] == customerErasedSegment:
		return p[1], "", true, true
	case len(p) == 4 && validID(p[2]) == nil && validID(p[3]) == nil:
		return p[1], p[2], false, true
	}
	return "", "", false, false
}

// MergeEdits merges field edits (any order, any source) into the edit that
// wins each field, sorted by field: what HQ keeps of a customer. Edits of
// unknown fields are dropped.
func MergeEdits(edits ...[]FieldEdit) []FieldEdit {
	var won [numCustomerFields + 1]*FieldEdit
	for _, list := range edits {
		for i := range list {
			e := &list[i]
			if e.Field == 0 || int(e.Field) > numCustomerFields {
				continue
			}
			if w := won[e.Field]; w == nil || e.newer(*w) {
				won[e.Field] = e
			}
		}
	}
	var out []FieldEdit
	for _, w := range won {
		if w != nil {
			out = append(out, FieldEdit{Field: w.Field, Value: w.Value, At: w.At, By: w.By})
		}
	}
	return out
}
