package ledgerdb

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
)

const pCert = 'c'

// PutCertificate stores a till's certificate (already verified by the
// caller against the store CA). Exports use it for receipt numbers.
func (d *DB) PutCertificate(c *ledger.Certificate) error {
	b, err := c.Encode()
	if err != nil {
		return err
	}
	defer d.syncDir()
	return d.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(append([]byte{pCert}, c.Till[:]...), b)
	})
}

// Certificates returns the stored certificates by till.
func (d *DB) Certificates() (map[ledger.TillID]*ledger.Certificate, error) {
	out := map[ledger.TillID]*ledger.Certificate{}
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pCert}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			c, err := ledger.DecodeCertificate(v)
			if err != nil {
				return fmt.Errorf("stored certificate %x: %w", it.Item().Key()[1:5], err)
			}
			out[c.Till] = c
		}
		return nil
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return nil, ErrClosed
	}
	return out, err
}
