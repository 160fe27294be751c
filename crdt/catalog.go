package crdt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	ds "github.com/ipfs/go-datastore"
)

// PutProduct adds or replaces a product. It fails with ErrInvalid, and
// stores nothing, if p does not validate.
func (s *Store) PutProduct(ctx context.Context, p Product) error {
	v, err := encodeValue(p)
	if err != nil {
		return err
	}
	return s.put(ctx, keyOf(prefixProduct, p.SKU), v)
}

// Product returns the product with the given SKU, or ErrNotFound.
func (s *Store) Product(ctx context.Context, sku string) (Product, error) {
	if err := validID(sku); err != nil {
		return Product{}, fmt.Errorf("product: %w", err)
	}
	v, err := s.get(ctx, keyOf(prefixProduct, sku))
	if err != nil {
		return Product{}, err
	}
	p, err := decodeProduct(v)
	if err != nil {
		return Product{}, fmt.Errorf("product %s: %w", sku, err)
	}
	if p.SKU != sku {
		return Product{}, fmt.Errorf("product %s: value names sku %q: %w", sku, p.SKU, ErrCorrupt)
	}
	return p, nil
}

// ProductByBarcode returns the product carrying code, or ErrNotFound. If
// several products carry it (concurrent edits at two tills), the lowest SKU
// wins.
func (s *Store) ProductByBarcode(ctx context.Context, code string) (Product, error) {
	for _, sku := range s.index.lookup(code) {
		p, err := s.Product(ctx, sku)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
			continue // a stale index entry
		}
		if err != nil {
			return Product{}, err
		}
		if slices.Contains(p.Barcodes, code) {
			return p, nil
		}
	}
	return Product{}, fmt.Errorf("barcode %q: %w", code, ErrNotFound)
}

// Products returns every product, sorted by SKU. A product whose stored
// value does not decode is left out and reported in an error wrapping
// ErrCorrupt, returned together with the others.
func (s *Store) Products(ctx context.Context) ([]Product, error) {
	entries, err := s.list(ctx, prefixKey(prefixProduct))
	if err != nil {
		return nil, err
	}
	var (
		out  = make([]Product, 0, len(entries))
		errs []error
	)
	for _, e := range entries {
		p, err := decodeProduct(e.value)
		if err == nil && "/"+prefixProduct+"/"+p.SKU != e.key {
			err = fmt.Errorf("value names sku %q: %w", p.SKU, ErrCorrupt)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.key, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// SearchProducts returns up to limit products whose SKU, name or a barcode
// contains q, case-insensitively, sorted by SKU. limit <= 0 means no limit.
func (s *Store) SearchProducts(ctx context.Context, q string, limit int) ([]Product, error) {
	all, err := s.Products(ctx)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	var out []Product
	for _, p := range all {
		if limit > 0 && len(out) >= limit {
			break
		}
		if strings.Contains(strings.ToLower(p.SKU), q) || strings.Contains(strings.ToLower(p.Name), q) ||
			slices.ContainsFunc(p.Barcodes, func(b string) bool { return strings.Contains(strings.ToLower(b), q) }) {
			out = append(out, p)
		}
	}
	return out, nil
}

// PutStaff adds or replaces a staff member.
func (s *Store) PutStaff(ctx context.Context, st Staff) error {
	v, err := encodeValue(st)
	if err != nil {
		return err
	}
	return s.put(ctx, keyOf(prefixStaff, st.ID), v)
}

// Staff returns the staff member with the given ID, or ErrNotFound.
func (s *Store) Staff(ctx context.Context, id string) (Staff, error) {
	if err := validID(id); err != nil {
		return Staff{}, fmt.Errorf("staff: %w", err)
	}
	v, err := s.get(ctx, keyOf(prefixStaff, id))
	if err != nil {
		return Staff{}, err
	}
	st, err := decodeStaff(v)
	if err != nil {
		return Staff{}, fmt.Errorf("staff %s: %w", id, err)
	}
	if st.ID != id {
		return Staff{}, fmt.Errorf("staff %s: value names id %q: %w", id, st.ID, ErrCorrupt)
	}
	return st, nil
}

// StaffList returns every staff member, sorted by ID; undecodable entries
// are left out and reported as for Products.
func (s *Store) StaffList(ctx context.Context) ([]Staff, error) {
	entries, err := s.list(ctx, prefixKey(prefixStaff))
	if err != nil {
		return nil, err
	}
	var (
		out  = make([]Staff, 0, len(entries))
		errs []error
	)
	for _, e := range entries {
		st, err := decodeStaff(e.value)
		if err == nil && "/"+prefixStaff+"/"+st.ID != e.key {
			err = fmt.Errorf("value names id %q: %w", st.ID, ErrCorrupt)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.key, err))
			continue
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// DeleteStaff removes a staff member. go-ds-crdt's set is add-wins: an edit
// of the same member made concurrently at another till, not yet seen here,
// survives the delete.
func (s *Store) DeleteStaff(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return fmt.Errorf("delete staff: %w", err)
	}
	return s.del(ctx, keyOf(prefixStaff, id))
}

// PutCertificate stores a till's signed certificate, opaque to this
// package (the node verifies it against the store CA).
func (s *Store) PutCertificate(ctx context.Context, tillID string, cert []byte) error {
	if err := validID(tillID); err != nil {
		return fmt.Errorf("certificate till: %w", err)
	}
	if len(cert) == 0 || len(cert) > maxCertLen {
		return fmt.Errorf("certificate %s: length %d not in 1..%d: %w", tillID, len(cert), maxCertLen, ErrInvalid)
	}
	return s.put(ctx, keyOf(prefixCert, tillID), slices.Clone(cert))
}

// Certificates returns every till's certificate, by till ID.
func (s *Store) Certificates(ctx context.Context) (map[string][]byte, error) {
	return s.byID(ctx, prefixCert)
}

// Revoke adds r to the revocation list. Revocations are never removed.
func (s *Store) Revoke(ctx context.Context, r Revocation) error {
	v, err := encodeValue(r)
	if err != nil {
		return err
	}
	return s.put(ctx, keyOf(prefixRevoked, r.ID), v)
}

// Revocations returns the revocation list, by ID; undecodable entries are
// reported as for Products but still listed by ID with only the ID set, so
// that a damaged entry never un-revokes anyone.
func (s *Store) Revocations(ctx context.Context) (map[string]Revocation, error) {
	raw, err := s.byID(ctx, prefixRevoked)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Revocation, len(raw))
	var errs []error
	for id, v := range raw {
		r, err := decodeRevocation(v)
		if err == nil && r.ID != id {
			err = fmt.Errorf("value names id %q: %w", r.ID, ErrCorrupt)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("revocation %s: %w", id, err))
			r = Revocation{ID: id}
		}
		out[id] = r
	}
	return out, errors.Join(errs...)
}

// IsRevoked reports whether id is on the revocation list.
func (s *Store) IsRevoked(ctx context.Context, id string) (bool, error) {
	if err := validID(id); err != nil {
		return false, fmt.Errorf("revocation: %w", err)
	}
	ok, err := s.crdt.Has(ctx, keyOf(prefixRevoked, id))
	if err != nil {
		return false, fmt.Errorf("revocation %s: %w", id, err)
	}
	return ok, nil
}

// PutSetting stores a store-wide setting.
func (s *Store) PutSetting(ctx context.Context, name string, value []byte) error {
	if err := validID(name); err != nil {
		return fmt.Errorf("setting: %w", err)
	}
	if len(value) == 0 || len(value) > maxSettingLen {
		return fmt.Errorf("setting %s: length %d not in 1..%d: %w", name, len(value), maxSettingLen, ErrInvalid)
	}
	return s.put(ctx, keyOf(prefixSetting, name), slices.Clone(value))
}

// Setting returns a setting's value, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	if err := validID(name); err != nil {
		return nil, fmt.Errorf("setting: %w", err)
	}
	return s.get(ctx, keyOf(prefixSetting, name))
}

// Settings returns every setting, by name.
func (s *Store) Settings(ctx context.Context) (map[string][]byte, error) {
	return s.byID(ctx, prefixSetting)
}

// DeleteSetting removes a setting (add-wins, as DeleteStaff).
func (s *Store) DeleteSetting(ctx context.Context, name string) error {
	if err := validID(name); err != nil {
		return fmt.Errorf("delete setting: %w", err)
	}
	return s.del(ctx, keyOf(prefixSetting, name))
}

func (s *Store) byID(ctx context.Context, prefix string) (map[string][]byte, error) {
	entries, err := s.list(ctx, prefixKey(prefix))
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if _, id, ok := parseIDKey(e.key); ok {
			out[id] = e.value
		}
	}
	return out, nil
}

func (s *Store) put(ctx context.Context, key ds.Key, value []byte) error {
	return s.write(ctx, func() ([]op, func(), error) {
		return []op{{key: key, value: value}}, nil, nil
	})
}

func (s *Store) del(ctx context.Context, key ds.Key) error {
	return s.write(ctx, func() ([]op, func(), error) {
		return []op{{key: key}}, nil, nil
	})
}

// PutProducts adds or replaces many products in one batch (one DAG node,
// so a catalog import of thousands replicates in few round trips). It
// validates every product first and stores nothing if one is invalid.
// Keep batches to a few hundred products: go-ds-crdt caps a delta at 1 MB.
func (s *Store) PutProducts(ctx context.Context, ps []Product) error {
	ops := make([]op, 0, len(ps))
	for _, p := range ps {
		v, err := encodeValue(p)
		if err != nil {
			return err
		}
		ops = append(ops, op{key: keyOf(prefixProduct, p.SKU), value: v})
	}
	return s.write(ctx, func() ([]op, func(), error) { return ops, nil, nil })
}
