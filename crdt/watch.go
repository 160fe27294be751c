package crdt

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
)

// ChangeKind says what kind of record a Change is about.
type ChangeKind uint8

// Change kinds.
const (
	ChangeProduct ChangeKind = iota + 1
	ChangeStaff
	ChangeCertificate
	ChangeRevocation
	ChangeSetting
	ChangeStock
	// ChangeOverflow means the subscriber fell behind and changes were
	// dropped: reload everything it shows.
	ChangeOverflow
	ChangeCustomer // ID is the customer number
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeProduct:
		return "product"
	case ChangeStaff:
		return "staff"
	case ChangeCertificate:
		return "certificate"
	case ChangeRevocation:
		return "revocation"
	case ChangeSetting:
		return "setting"
	case ChangeStock:
		return "stock"
	case ChangeOverflow:
		return "overflow"
	case ChangeCustomer:
		return "customer"
	}
	return "unknown"
}

// Change says that a record may have changed, by a local write or by a
// merge from a peer: re-read it. ID is the SKU, staff ID, till ID,
// revocation ID or setting name; Till and Epoch are set for ChangeStock
// only (the slot's till and the epoch of that till's database).
type Change struct {
	Kind  ChangeKind
	ID    string
	Till  string
	Epoch string
}

// Subscribe returns a channel of changes and a function that ends the
// subscription and closes the channel. Sends never block the CRDT: when
// the channel's buffer is full changes are dropped and the subscriber
// later receives one ChangeOverflow. Close also closes the channel.
func (s *Store) Subscribe(buffer int) (<-chan Change, func()) {
	return s.subs.add(max(buffer, 1))
}

type subscriber struct {
	ch   chan Change
	lost bool // changes were dropped; send ChangeOverflow next
}

type subscribers struct {
	mu     sync.Mutex
	list   []*subscriber
	closed bool
}

func (ss *subscribers) add(buffer int) (<-chan Change, func()) {
	sub := &subscriber{ch: make(chan Change, buffer)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	ss.list = append(ss.list, sub)
	return sub.ch, func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if i := slices.Index(ss.list, sub); i >= 0 {
			ss.list = slices.Delete(ss.list, i, i+1)
			close(sub.ch)
		}
	}
}

func (ss *subscribers) publish(c Change) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, sub := range ss.list {
		if sub.lost {
			select {
			case sub.ch <- Change{Kind: ChangeOverflow}:
				sub.lost = false
			default:
				continue
			}
		}
		select {
		case sub.ch <- c:
		default:
			sub.lost = true
		}
	}
}

func (ss *subscribers) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	for _, sub := range ss.list {
		close(sub.ch)
	}
	ss.list = nil
}

// opaqueKey reports whether k is a key this package stores for another
// (the outbox's records, outbox.go) and reports no change of: not a key
// of a newer release.
func opaqueKey(k string) bool {
	p := splitKey(k)
	return len(p) > 1 && p[0] == prefixOutbox
}

// changeOf maps a CRDT key to a Change; ok is false for keys this package
// does not write.
func changeOf(k string) (Change, bool) {
	if sku, till, epoch, ok := parseStockKey(k); ok {
		return Change{Kind: ChangeStock, ID: sku, Till: till, Epoch: epoch}, true
	}
	if number, _, _, ok := parseCustomerKey(k); ok {
		return Change{Kind: ChangeCustomer, ID: number}, true
	}
	prefix, id, ok := parseIDKey(k)
	if !ok {
		return Change{}, false
	}
	var kind ChangeKind
	switch prefix {
	case prefixProduct:
		kind = ChangeProduct
	case prefixStaff:
		kind = ChangeStaff
	case prefixCert:
		kind = ChangeCertificate
	case prefixRevoked:
		kind = ChangeRevocation
	case prefixSetting:
		kind = ChangeSetting
	default:
		return Change{}, false
	}
	return Change{Kind: kind, ID: id}, true
}

// observedStore is the datastore handed to go-ds-crdt. It reports the
// current values go-ds-crdt writes, after their batch commits.
//
// go-ds-crdt's PutHook is not used because it runs before the merge's
// batch is committed: a UI that re-reads on the notification would read
// the old value and show stale stock until the next change.
type observedStore struct {
	ds.Batching
	valuePrefix string // <crdt namespace>/s/k/ (go-ds-crdt v0.6.8 layout)
	// beforeCommit sees each value write just before its batch commits,
	// onCommit just after. Together they let an index cover both the old
	// and the new value while a reader may see either.
	beforeCommit func(key string, value []byte, deleted bool)
	onCommit     func(key string, value []byte, deleted bool)
	hook         func(key string) error // Config.mergeHook
	committed    func(key string)       // Config.commitHook
}

// crdtKey returns the CRDT key whose current value lives at k, if k is
// such a value key (<prefix><key>/v).
func (o *observedStore) crdtKey(k ds.Key) (string, bool) {
	s := k.String()
	if !strings.HasPrefix(s, o.valuePrefix) || !strings.HasSuffix(s, "/v") {
		return "", false
	}
	return "/" + strings.TrimSuffix(strings.TrimPrefix(s, o.valuePrefix), "/v"), true
}

func (o *observedStore) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := o.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &observedBatch{Batch: b, o: o}, nil
}

type observedWrite struct {
	key     string
	value   []byte
	deleted bool
}

type observedBatch struct {
	ds.Batch
	o      *observedStore
	writes []observedWrite
}

func (b *observedBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	if b.o.hook != nil {
		if err := b.o.hook(k.String()); err != nil {
			return err
		}
	}
	if err := b.Batch.Put(ctx, k, v); err != nil {
		return err
	}
	if key, ok := b.o.crdtKey(k); ok {
		b.writes = append(b.writes, observedWrite{key: key, value: v})
	}
	return nil
}

func (b *observedBatch) Delete(ctx context.Context, k ds.Key) error {
	if err := b.Batch.Delete(ctx, k); err != nil {
		return err
	}
	if key, ok := b.o.crdtKey(k); ok {
		b.writes = append(b.writes, observedWrite{key: key, deleted: true})
	}
	return nil
}

func (b *observedBatch) Commit(ctx context.Context) error {
	if b.o.beforeCommit != nil {
		for _, w := range b.writes {
			b.o.beforeCommit(w.key, w.value, w.deleted)
		}
	}
	if err := b.Batch.Commit(ctx); err != nil {
		return err
	}
	if b.o.committed != nil {
		for _, w := range b.writes {
			b.o.committed(w.key)
		}
	}
	for _, w := range b.writes {
		b.o.onCommit(w.key, w.value, w.deleted)
	}
	b.writes = nil
	return nil
}

// beforeCommit runs on go-ds-crdt's merge goroutines just before a batch
// that writes key commits. It adds a product's new barcodes to the index,
// keeping the old ones, so that from the moment a reader can see the new
// value until onCommit has run, a lookup by either barcode finds the SKU.
// ProductByBarcode checks the stored product, so an entry the commit did
// not make true (it failed) costs a lookup one read until the next write.
func (s *Store) beforeCommit(key string, value []byte, deleted bool) {
	c, ok := changeOf(key)
	if !ok || c.Kind != ChangeProduct || deleted {
		return
	}
	if p, err := decodeProduct(value); err == nil && p.SKU == c.ID {
		s.index.add(c.ID, p.Barcodes)
	}
}

// onCommit runs on go-ds-crdt's merge goroutines once a key's current
// value was written (or removed) durably. It must be quick and must not
// block: it updates the barcode index and notifies subscribers.
func (s *Store) onCommit(key string, value []byte, deleted bool) {
	c, ok := changeOf(key)
	if !ok {
		if !deleted && !opaqueKey(key) {
			s.noteNewerKey(key)
		}
		return
	}
	if c.Kind == ChangeCustomer {
		s.onCustomerCommit(key, value, deleted)
	}
	if c.Kind == ChangeProduct && !deleted {
		// On delete the index keeps its entries: the key may still be
		// present (a concurrent add wins), lookups check the product,
		// and a stale entry costs one read.
		var codes []string
		if p, err := decodeProduct(value); err == nil && p.SKU == c.ID {
			codes = p.Barcodes
		}
		s.index.set(c.ID, codes)
	}
	s.subs.publish(c)
}

// barcodeIndex maps barcodes to SKUs in memory. onCommit keeps it current;
// buildIndex fills it from storage once at start without overwriting what
// onCommit wrote meanwhile.
type barcodeIndex struct {
	mu       sync.RWMutex
	codes    map[string][]string // sku -> barcodes
	skus     map[string][]string // barcode -> skus, sorted
	building bool
	touched  map[string]bool // SKUs set by onCommit while building
}

func newBarcodeIndex() *barcodeIndex {
	return &barcodeIndex{
		codes:    make(map[string][]string),
		skus:     make(map[string][]string),
		building: true,
		touched:  make(map[string]bool),
	}
}

func (x *barcodeIndex) set(sku string, codes []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.building {
		x.touched[sku] = true
	}
	x.setLocked(sku, codes)
}

// add adds codes to sku's entries without removing any.
func (x *barcodeIndex) add(sku string, codes []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	union := slices.Clone(x.codes[sku])
	for _, code := range codes {
		if !slices.Contains(union, code) {
			union = append(union, code)
		}
	}
	x.setLocked(sku, union)
}

func (x *barcodeIndex) setLocked(sku string, codes []string) {
	for _, code := range x.codes[sku] {
		list := x.skus[code]
		if i := slices.Index(list, sku); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(x.skus, code)
		} else {
			x.skus[code] = list
		}
	}
	if len(codes) == 0 {
		delete(x.codes, sku)
		return
	}
	x.codes[sku] = slices.Clone(codes)
	for _, code := range codes {
		list := x.skus[code]
		if i, found := slices.BinarySearch(list, sku); !found {
			x.skus[code] = slices.Insert(list, i, sku)
		}
	}
}

// fill sets the SKUs read from storage unless onCommit already set them.
func (x *barcodeIndex) fill(products []Product) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range products {
		if !x.touched[p.SKU] {
			x.setLocked(p.SKU, p.Barcodes)
		}
	}
	x.building = false
	x.touched = nil
}

func (x *barcodeIndex) lookup(code string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.skus[code])
}

func (s *Store) buildIndex(ctx context.Context) error {
	products, err := s.Products(ctx)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	s.index.fill(products)
	return s.buildCustomers(ctx)
}
