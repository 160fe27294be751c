package crdt

import (
	"slices"
	"strings"
	"sync"
)

// customerIndex holds every customer of the store in memory, merged from
// their slots, for search at the till without touching storage. onCommit
// keeps it current from the datastore writes go-ds-crdt commits; build
// fills it from storage once at start without undoing what onCommit
// merged meanwhile (the merge is monotone, so applying a slot twice, or
// an old one after a new one, changes nothing).
type customerIndex struct {
	mu     sync.RWMutex
	byNum  map[string]*customerEntry
	cards  map[string][]string // card barcode -> numbers, sorted
	rows   []searchRow         // one per customer, in order of arrival
	erased int
}

type customerEntry struct {
	m      customerMerge
	erased bool
	row    int // index in rows
}

// searchRow is what a search scans: the number and a lower-case text of
// name, phone digits, email and card.
type searchRow struct {
	number string
	text   string
}

func newCustomerIndex() *customerIndex {
	return &customerIndex{
		byNum: make(map[string]*customerEntry),
		cards: make(map[string][]string),
	}
}

// entryLocked returns number's entry, creating it.
func (x *customerIndex) entryLocked(number string) *customerEntry {
	e := x.byNum[number]
	if e == nil {
		e = &customerEntry{m: customerMerge{c: Customer{Number: number}}, row: len(x.rows)}
		x.byNum[number] = e
		x.rows = append(x.rows, searchRow{number: number})
	}
	return e
}

// applySlot merges a slot. It reports whether the customer is erased, in
// which case the slot should be deleted from storage.
func (x *customerIndex) applySlot(s customerSlot) (erased bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entryLocked(s.Number)
	if e.erased {
		return true
	}
	oldCard := e.m.c.Card
	changed := false
	for _, ed := range s.Edits {
		if e.m.apply(ed) {
			changed = true
		}
	}
	if changed {
		x.refreshLocked(e, oldCard)
	}
	return false
}

// applyErasure hides the customer's fields for good.
func (x *customerIndex) applyErasure(number string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entryLocked(number)
	if e.erased {
		return
	}
	oldCard := e.m.c.Card
	e.erased = true
	e.m = customerMerge{c: Customer{Number: number, Erased: true}}
	x.erased++
	x.refreshLocked(e, oldCard)
}

func (x *customerIndex) refreshLocked(e *customerEntry, oldCard string) {
	c := e.m.c
	if oldCard != c.Card {
		if oldCard != "" {
			list := x.cards[oldCard]
			if i := slices.Index(list, c.Number); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
			if len(list) == 0 {
				delete(x.cards, oldCard)
			} else {
				x.cards[oldCard] = list
			}
		}
		if c.Card != "" {
			list := x.cards[c.Card]
			if i, found := slices.BinarySearch(list, c.Number); !found {
				x.cards[c.Card] = slices.Insert(list, i, c.Number)
			}
		}
	}
	text := ""
	if !e.erased {
		text = strings.ToLower(c.Name) + "\x00" + PhoneDigits(c.Phone) + "\x00" + strings.ToLower(c.Email) + "\x00" + strings.ToLower(c.Card)
	}
	x.rows[e.row] = searchRow{number: c.Number, text: text}
}

// get returns the merged customer and its winning edits; ok is false if
// no slot or erasure of it is known.
func (x *customerIndex) get(number string) (Customer, []FieldEdit, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.byNum[number]
	if e == nil {
		return Customer{}, nil, false
	}
	var edits []FieldEdit
	for _, ed := range e.m.edits[1:] {
		if ed.Field != 0 {
			edits = append(edits, ed)
		}
	}
	return e.m.c, edits, true
}

func (x *customerIndex) isErased(number string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.byNum[number]
	return e != nil && e.erased
}

// byCard returns the customers whose card is exactly code.
func (x *customerIndex) byCard(code string) []Customer {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Customer
	for _, n := range x.cards[code] {
		out = append(out, x.byNum[n].m.c)
	}
	return out
}

// find returns up to limit customers matching q: first those whose card
// or number is exactly q (a scanned card), then those whose name, email
// or card contains q case-insensitively or, if q looks like a phone
// number, whose phone digits contain q's digits. Erased customers are
// found by their number only.
func (x *customerIndex) find(q string, limit int) []Customer {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	var (
		out  []Customer
		seen = map[string]bool{}
	)
	add := func(n string) bool {
		if !seen[n] {
			seen[n] = true
			out = append(out, x.byNum[n].m.c)
		}
		return len(out) >= limit
	}
	for _, n := range x.cards[q] {
		if add(n) {
			return out
		}
	}
	if _, ok := x.byNum[q]; ok && add(q) {
		return out
	}
	needle := strings.ToLower(q)
	if d := PhoneDigits(q); len(d) >= 3 && CheckCustomerField(FieldPhone, q) == nil || isDigits(q) {
		needle = PhoneDigits(q)
	}
	for _, r := range x.rows {
		if r.text != "" && strings.Contains(r.text, needle) && add(r.number) {
			break
		}
	}
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (x *customerIndex) counts() (customers, erased int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byNum), x.erased
}
