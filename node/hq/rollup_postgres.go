package hq

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tillmesh/tillmesh/ledger"
)

func (p *Postgres) PutRollup(ctx context.Context, store ledger.StoreID, r Rollup) error {
	vec, err := json.Marshal(r.Vector)
	if err != nil {
		return err
	}
	return p.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO hq_rollups (store, version, vector, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, vector = EXCLUDED.vector, body = EXCLUDED.body`,
			store[:], r.Version, vec, r.Body)
		return err
	})
}

func (p *Postgres) Rollup(ctx context.Context, store ledger.StoreID) (Rollup, error) {
	var r Rollup
	var vec []byte
	err := p.with(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT version, vector, body FROM hq_rollups WHERE store = $1`, store[:]).Scan(&r.Version, &vec, &r.Body)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(vec, &r.Vector)
}

func (p *Postgres) RangeTill(ctx context.Context, store ledger.StoreID, till ledger.TillID, after uint64, f func(raw []byte) error) error {
	return p.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT raw FROM hq_events WHERE store = $1 AND till = $2 AND seq > $3 ORDER BY seq`,
			store[:], till[:], int64(after))
		if err != nil {
			return err
		}
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&raw}, func() error { return f(raw) })
		return err
	})
}
