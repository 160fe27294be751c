package hq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
)

func (p *Postgres) PutRollup(ctx context.Context, store ledger.StoreID, r Rollup) error {
	return p.inTx(ctx, func(tx *sql.Tx) error { return pgPutRollup(ctx, tx, store, &r) })
}

// pgPutRollup writes r in tx: the head, the days given, and with Replace
// drops the store's other days. The head's row moves from generation
// r.Gen to the next by compare and set, first: the row stays locked
// until tx ends, so another process's write of the store's days waits,
// then finds the generation moved and writes nothing.
func pgPutRollup(ctx context.Context, tx *sql.Tx, store ledger.StoreID, r *Rollup) error {
	vec, err := json.Marshal(r.Vector)
	if err != nil {
		return err
	}
	var res sql.Result
	if r.Gen == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO hq_rollups (store, version, vector, body, gen) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, vector = EXCLUDED.vector, body = EXCLUDED.body, gen = 1
			WHERE hq_rollups.gen = 0`, store[:], r.Version, vec, r.Body)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE hq_rollups SET version = $2, vector = $3, body = $4, gen = gen + 1
			WHERE store = $1 AND gen = $5`, store[:], r.Version, vec, r.Body, int64(r.Gen))
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("%w: store %s is not at generation %d", ErrRollupMoved, store, r.Gen)
	}
	if r.Replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM hq_rollup_days WHERE store = $1`, store[:]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hq_rollup_spends WHERE store = $1`, store[:]); err != nil {
			return err
		}
	}
	for _, sp := range r.Spends {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hq_rollup_spends (store, key, body) VALUES ($1, $2, $3)
				ON CONFLICT (store, key) DO UPDATE SET body = EXCLUDED.body`, store[:], sp.Key, sp.Body); err != nil {
			return err
		}
	}
	for _, d := range r.Days {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hq_rollup_days (store, day, body) VALUES ($1, $2, $3)
				ON CONFLICT (store, day) DO UPDATE SET body = EXCLUDED.body`, store[:], d.Day, d.Body); err != nil {
			return err
		}
	}
	return nil
}

// Rollup reads the head and its days in one snapshot (a read-only
// repeatable-read transaction): read apart, another HQ process's write
// committed between the two would pair one generation's head with the
// next one's days, which hold events the head's vector does not name,
// and a start would fold those events twice.
func (p *Postgres) Rollup(ctx context.Context, store ledger.StoreID) (r Rollup, err error) {
	tx, err := p.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return r, err
	}
	defer func() { _ = tx.Rollback() }()
	var vec []byte
	var gen int64
	err = tx.QueryRowContext(ctx, `SELECT version, vector, body, gen FROM hq_rollups WHERE store = $1`, store[:]).Scan(&r.Version, &vec, &r.Body, &gen)
	r.Gen = uint64(gen)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(vec, &r.Vector); err != nil {
		return r, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT day, body FROM hq_rollup_days WHERE store = $1 ORDER BY day`, store[:])
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var d RollupDay
		if err := rows.Scan(&d.Day, &d.Body); err != nil {
			return r, err
		}
		r.Days = append(r.Days, d)
	}
	return r, rows.Err()
}

func (p *Postgres) RollupGen(ctx context.Context, store ledger.StoreID) (uint64, error) {
	var gen int64
	err := p.db.QueryRowContext(ctx, `SELECT gen FROM hq_rollups WHERE store = $1`, store[:]).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(gen), err
}

// RollupGens returns every store with its rollup's generation (0: none
// written), in one read.
func (p *Postgres) RollupGens(ctx context.Context) (map[ledger.StoreID]uint64, error) {
	out := map[ledger.StoreID]uint64{}
	var id []byte
	var gen int64
	err := p.each(ctx, `SELECT s.id, COALESCE(r.gen, 0) FROM hq_stores s LEFT JOIN hq_rollups r ON r.store = s.id`,
		nil, []any{&id, &gen}, func() error {
			var sid ledger.StoreID
			if len(id) != len(sid) {
				return fmt.Errorf("store id of %d bytes", len(id))
			}
			copy(sid[:], id)
			out[sid] = uint64(gen)
			return nil
		})
	return out, err
}

func (p *Postgres) RollupSpend(ctx context.Context, store ledger.StoreID, key string) ([]byte, error) {
	var body []byte
	err := p.db.QueryRowContext(ctx, `SELECT body FROM hq_rollup_spends WHERE store = $1 AND key = $2`, store[:], key).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return body, err
}

func (p *Postgres) RangeTill(ctx context.Context, store ledger.StoreID, till ledger.TillID, after uint64, f func(raw []byte) error) error {
	var raw []byte
	return p.each(ctx, `SELECT raw FROM hq_events WHERE store = $1 AND till = $2 AND seq > $3 ORDER BY seq`,
		[]any{store[:], till[:], int64(after)}, []any{&raw}, func() error { return f(raw) })
}
