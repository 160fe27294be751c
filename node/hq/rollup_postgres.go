package hq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/tillmesh/tillmesh/ledger"
)

func (p *Postgres) PutRollup(ctx context.Context, store ledger.StoreID, r Rollup) error {
	vec, err := json.Marshal(r.Vector)
	if err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_rollups (store, version, vector, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, vector = EXCLUDED.vector, body = EXCLUDED.body`,
		store[:], r.Version, vec, r.Body)
	return err
}

func (p *Postgres) Rollup(ctx context.Context, store ledger.StoreID) (Rollup, error) {
	var r Rollup
	var vec []byte
	err := p.db.QueryRowContext(ctx, `SELECT version, vector, body FROM hq_rollups WHERE store = $1`, store[:]).Scan(&r.Version, &vec, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(vec, &r.Vector)
}

func (p *Postgres) RangeTill(ctx context.Context, store ledger.StoreID, till ledger.TillID, after uint64, f func(raw []byte) error) error {
	var raw []byte
	return p.each(ctx, `SELECT raw FROM hq_events WHERE store = $1 AND till = $2 AND seq > $3 ORDER BY seq`,
		[]any{store[:], till[:], int64(after)}, []any{&raw}, func() error { return f(raw) })
}
