package hq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// The chain's customers in PostgreSQL (customers.go says what they are):
// one row per customer, its record as JSON and the cursor of its last
// change. Updates take a transaction-scoped advisory lock, so cursors are
// handed out in commit order and a relay reading after a cursor never
// skips a change committed late.
const customerSchema = `
CREATE TABLE IF NOT EXISTS hq_customers (
	number text PRIMARY KEY,
	cursor bigint NOT NULL UNIQUE,
	doc    jsonb NOT NULL
);
`

// customerLock is the advisory lock key of customer updates ("tmcust").
const customerLock = 0x746d63757374

var _ customerStorage = (*Postgres)(nil)

// UpdateCustomer implements customerStorage.
func (p *Postgres) UpdateCustomer(ctx context.Context, number string, nowMicro uint64, f func(*hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error)) (bool, error) {
	changed, err := p.updateCustomer(ctx, number, nowMicro, f)
	if err != nil {
		return false, fmt.Errorf("update customer %s: %w", number, err)
	}
	return changed, nil
}

func (p *Postgres) updateCustomer(ctx context.Context, number string, nowMicro uint64, f func(*hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error)) (bool, error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() // after Commit: a no-op
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(customerLock)); err != nil {
		return false, err
	}
	var old *hqapi.CustomerRecord
	var doc []byte
	switch err := tx.QueryRowContext(ctx, `SELECT doc FROM hq_customers WHERE number = $1`, number).Scan(&doc); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	default:
		old = new(hqapi.CustomerRecord)
		if err := json.Unmarshal(doc, old); err != nil {
			return false, fmt.Errorf("customer %s record: %w", number, err)
		}
	}
	rec, ch, err := f(old)
	if err != nil || !ch {
		return false, err
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(cursor), 0) FROM hq_customers`).Scan(&last); err != nil {
		return false, err
	}
	rec.Number, rec.Cursor = number, max(uint64(last)+1, nowMicro)
	v, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hq_customers (number, cursor, doc) VALUES ($1, $2, $3)
		ON CONFLICT (number) DO UPDATE SET cursor = EXCLUDED.cursor, doc = EXCLUDED.doc`, number, int64(rec.Cursor), v); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// CustomersAfter implements customerStorage.
func (p *Postgres) CustomersAfter(ctx context.Context, after uint64, limit int) ([]hqapi.CustomerRecord, error) {
	var out []hqapi.CustomerRecord
	err := p.customerRows(ctx, func(r hqapi.CustomerRecord) bool { out = append(out, r); return true },
		`SELECT doc FROM hq_customers WHERE cursor > $1 ORDER BY cursor LIMIT $2`, int64(after), limit)
	return out, err
}

// CustomerRecords implements customerStorage.
func (p *Postgres) CustomerRecords(ctx context.Context, f func(hqapi.CustomerRecord) bool) error {
	return p.customerRows(ctx, f, `SELECT doc FROM hq_customers ORDER BY number`)
}

func (p *Postgres) customerRows(ctx context.Context, f func(hqapi.CustomerRecord) bool, q string, args ...any) error {
	rows, err := p.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return err
		}
		var r hqapi.CustomerRecord
		if err := json.Unmarshal(doc, &r); err != nil {
			return fmt.Errorf("customer record: %w", err)
		}
		if !f(r) {
			return nil
		}
	}
	return rows.Err()
}
