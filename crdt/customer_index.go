package crdt

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/ledger"
)

// customerIndex holds every customer of the store in memory, merged from
// their slots, for search at the till without touching storage. onCommit
// keeps it current from the datastore writes go-ds-crdt commits; build
// fills it from storage once at start without undoing what onCommit
// merged meanwhile (the merge is monotone, so applying a slot twice, or
// an old one after a new one, changes nothing).
//
// Search scans one byte buffer holding every customer's lower-case search
// text (bytes.Index runs at memory speed), so memory is what limits it:
// about 300 bytes per customer (BENCHMARKS.md).
type customerIndex struct {
	mu     sync.RWMutex
	byNum  map[string]*customerEntry
	cards  map[string][]string // card barcode -> numbers, sorted
	erased int

	tills  []string          // editors, by the index an entry keeps; [0] = ""
	tillNo map[string]uint16 // the reverse

	words  searchBuf // lower-case name, email and card
	phones searchBuf // phone digits

	ver uint64 // bumped by every change; each entry keeps the last
}

// searchBuf is one byte buffer of search rows, each ending in rowEnd, so
// that one bytes.Index call scans every customer.
type searchBuf struct {
	text   []byte
	starts []int32  // where each row starts in text
	rowNum []string // each row's customer; "" once the row is replaced
	dead   int      // rows replaced
}

// customerEntry is one customer's merged fields: per field, the value and
// the clock and editor of the edit that set it (by 0: never set).
type customerEntry struct {
	number string
	vals   [numCustomerFields]string
	wall   [numCustomerFields]int64
	logi   [numCustomerFields]uint32
	by     [numCustomerFields]uint16
	erased bool
	// pending holds the sealed slots this till cannot open yet (slot
	// key -> the key they need); while any is, the customer shows its
	// number only, and search finds it by number only.
	pending map[string]CustomerKeyID
	card    string // the card x.cards lists this entry under
	ver     uint64 // customerIndex.ver at the entry's last change
	rowW    int32  // current row in words, -1 if none
	rowP    int32  // current row in phones, -1 if none
}

const rowEnd = 0x01

func newCustomerIndex() *customerIndex {
	return &customerIndex{
		byNum:  make(map[string]*customerEntry),
		cards:  make(map[string][]string),
		tills:  []string{""},
		tillNo: map[string]uint16{"": 0},
	}
}

func (e *customerEntry) edit(f CustomerField, tills []string) FieldEdit {
	i := f - 1
	return FieldEdit{Field: f, Value: e.vals[i], At: ledger.HLC{Wall: e.wall[i], Logical: e.logi[i]}, By: tills[e.by[i]]}
}

// locked reports whether the entry's fields are hidden: erased, or a
// sealed slot waits for its key.
func (e *customerEntry) locked() bool { return e.erased || len(e.pending) > 0 }

func (e *customerEntry) customer() Customer {
	c := Customer{Number: e.number, Erased: e.erased}
	if e.locked() {
		c.Unavailable = !e.erased
		return c
	}
	for i, v := range e.vals {
		if v != "" {
			c.set(CustomerField(i+1), v)
		}
	}
	return c
}

// entryLocked returns number's entry, creating it.
func (x *customerIndex) entryLocked(number string) *customerEntry {
	e := x.byNum[number]
	if e == nil {
		e = &customerEntry{number: number, rowW: -1, rowP: -1}
		x.byNum[number] = e
	}
	return e
}

func (x *customerIndex) tillLocked(by string) uint16 {
	n, ok := x.tillNo[by]
	if !ok && len(x.tills) < 1<<16 {
		n = uint16(len(x.tills))
		x.tills = append(x.tills, by)
		x.tillNo[by] = n
	}
	return n
}

// applySlot merges the edits of the slot stored at slotKey (opened, if
// it was sealed). It reports whether the customer is erased, in which
// case the slot should be deleted from storage.
func (x *customerIndex) applySlot(number, slotKey string, edits []FieldEdit) (erased bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entryLocked(number)
	if e.erased {
		return true
	}
	_, changed := e.pending[slotKey]
	delete(e.pending, slotKey)
	for _, ed := range edits {
		i := int(ed.Field) - 1
		if i < 0 || i >= numCustomerFields {
			continue
		}
		if e.by[i] != 0 && !ed.newer(e.edit(ed.Field, x.tills)) {
			continue
		}
		e.vals[i], e.wall[i], e.logi[i], e.by[i] = ed.Value, ed.At.Wall, ed.At.Logical, x.tillLocked(ed.By)
		changed = true
	}
	if changed || e.rowW < 0 {
		x.refreshLocked(e)
	}
	return false
}

// markPending records that the sealed slot at slotKey cannot be opened
// here without key id: the customer shows its number only until then.
func (x *customerIndex) markPending(number, slotKey string, id CustomerKeyID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entryLocked(number)
	if e.erased {
		return
	}
	if old, ok := e.pending[slotKey]; ok && old == id {
		return
	}
	if e.pending == nil {
		e.pending = map[string]CustomerKeyID{}
	}
	e.pending[slotKey] = id
	x.refreshLocked(e)
}

// pendingKeys returns the keys sealed slots wait for, by customer.
func (x *customerIndex) pendingKeys() map[string][]CustomerKeyID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[string][]CustomerKeyID{}
	for n, e := range x.byNum {
		for _, id := range e.pending {
			if !slices.Contains(out[n], id) {
				out[n] = append(out[n], id)
			}
		}
	}
	return out
}

// applyErasure hides the customer's fields for good.
func (x *customerIndex) applyErasure(number string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entryLocked(number)
	if e.erased {
		return
	}
	*e = customerEntry{number: number, erased: true, rowW: e.rowW, rowP: e.rowP, card: e.card}
	x.erased++
	x.refreshLocked(e)
}

// refreshLocked brings the card map and search rows in line with e.
func (x *customerIndex) refreshLocked(e *customerEntry) {
	x.ver++
	e.ver = x.ver
	oldCard, card := e.card, e.vals[FieldCard-1]
	if e.locked() {
		card = ""
	}
	e.card = card
	if oldCard != card {
		if oldCard != "" {
			list := x.cards[oldCard]
			if i := slices.Index(list, e.number); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
			if len(list) == 0 {
				delete(x.cards, oldCard)
			} else {
				x.cards[oldCard] = list
			}
		}
		if card != "" {
			list := x.cards[card]
			if i, found := slices.BinarySearch(list, e.number); !found {
				x.cards[card] = slices.Insert(list, i, e.number)
			}
		}
	}
	x.words.drop(&e.rowW)
	x.phones.drop(&e.rowP)
	if !e.locked() {
		text := appendLower(nil, e.vals[FieldName-1])
		text = append(text, 0)
		text = appendLower(text, e.vals[FieldEmail-1])
		text = append(text, 0)
		text = appendLower(text, card)
		e.rowW = x.words.add(e.number, text)
		if d := PhoneDigits(e.vals[FieldPhone-1]); d != "" {
			e.rowP = x.phones.add(e.number, []byte(d))
		}
	}
	x.words.compact(x.byNum, func(e *customerEntry) *int32 { return &e.rowW })
	x.phones.compact(x.byNum, func(e *customerEntry) *int32 { return &e.rowP })
}

// drop marks row *r replaced and sets it to -1.
func (b *searchBuf) drop(r *int32) {
	if *r >= 0 {
		b.rowNum[*r] = ""
		b.dead++
		*r = -1
	}
}

// add appends a row for number and returns its index.
func (b *searchBuf) add(number string, text []byte) int32 {
	r := int32(len(b.starts))
	b.starts = append(b.starts, int32(len(b.text)))
	b.rowNum = append(b.rowNum, number)
	b.text = append(b.text, text...)
	b.text = append(b.text, rowEnd)
	return r
}

// compact drops the replaced rows once they are more than half.
func (b *searchBuf) compact(byNum map[string]*customerEntry, row func(*customerEntry) *int32) {
	if b.dead <= 1024 || b.dead <= len(b.rowNum)/2 {
		return
	}
	var (
		text   = make([]byte, 0, len(b.text))
		starts = make([]int32, 0, len(b.starts)-b.dead)
		rowNum = make([]string, 0, len(b.starts)-b.dead)
	)
	for i, n := range b.rowNum {
		if n == "" {
			continue
		}
		end := len(b.text)
		if i+1 < len(b.starts) {
			end = int(b.starts[i+1])
		}
		*row(byNum[n]) = int32(len(starts))
		starts = append(starts, int32(len(text)))
		rowNum = append(rowNum, n)
		text = append(text, b.text[b.starts[i]:end]...)
	}
	b.text, b.starts, b.rowNum, b.dead = text, starts, rowNum, 0
}

// scan calls add with the customer of each live row containing needle,
// in row order, until add returns true.
func (b *searchBuf) scan(needle []byte, add func(number string) bool) {
	for pos := 0; pos < len(b.text); {
		i := bytes.Index(b.text[pos:], needle)
		if i < 0 {
			return
		}
		row, found := slices.BinarySearch(b.starts, int32(pos+i))
		if !found {
			row--
		}
		if n := b.rowNum[row]; n != "" && add(n) {
			return
		}
		pos = len(b.text)
		if row+1 < len(b.starts) {
			pos = int(b.starts[row+1])
		}
	}
}

func appendLower(b []byte, s string) []byte {
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b = append(b, byte(r))
			continue
		}
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return b
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
	for i := range e.by {
		if e.locked() {
			break
		}
		if e.by[i] != 0 {
			edits = append(edits, e.edit(CustomerField(i+1), x.tills))
		}
	}
	return e.customer(), edits, true
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
		out = append(out, x.byNum[n].customer())
	}
	return out
}

// find returns up to limit customers matching q. A customer whose card
// or number is exactly q (a scanned card) is the whole answer; otherwise
// those whose name, email or card contains q case-insensitively or, if q
// looks like a phone number, whose phone digits contain q's digits.
// Erased customers are found by their number only.
func (x *customerIndex) find(q string, limit int) []Customer {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil
	}
	buf, needle := &x.words, appendLower(nil, q)
	if isDigits(PhoneDigits(q)) && (isDigits(q) || CheckCustomerField(FieldPhone, q) == nil) {
		buf, needle = &x.phones, []byte(PhoneDigits(q))
	}
	if bytes.IndexByte(needle, 0) >= 0 || bytes.IndexByte(needle, rowEnd) >= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	// A scanned card, or a number typed in full, is the answer.
	var out []Customer
	for _, n := range x.cards[q] {
		out = append(out, x.byNum[n].customer())
	}
	if e := x.byNum[q]; e != nil && !slices.Contains(x.cards[q], q) {
		out = append(out, e.customer())
	}
	if len(out) > 0 {
		return out[:min(len(out), limit)]
	}
	buf.scan(needle, func(n string) bool {
		if !slices.ContainsFunc(out, func(c Customer) bool { return c.Number == n }) {
			out = append(out, x.byNum[n].customer())
		}
		return len(out) >= limit
	})
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

// changedSince returns the customers changed after version v, and the
// current version.
func (x *customerIndex) changedSince(v uint64) ([]string, uint64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	if v >= x.ver {
		return nil, x.ver
	}
	for n, e := range x.byNum {
		if e.ver > v {
			out = append(out, n)
		}
	}
	return out, x.ver
}
