package hq

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/tillmesh/tillmesh/ui/backoff"
)

// The shared guards (guards.go) in PostgreSQL: hq_replay holds each
// signature until its request leaves the auth window; hq_backoff holds
// each back-off key's count, the end of its wait and its last check, all
// Unix ms, changed under row locks taken in name order.

var _ SharedGuards = (*Postgres)(nil)

// pruneEvery is how often a process drops expired replay rows and
// forgotten back-off keys.
const pruneEvery = 10 * time.Second

func (p *Postgres) SeeSignature(ctx context.Context, sig []byte, expiry, now int64) (bool, error) {
	if next := p.prune.Load(); now > next && p.prune.CompareAndSwap(next, now+pruneEvery.Milliseconds()) {
		if _, err := p.db.ExecContext(ctx, `DELETE FROM hq_replay WHERE expires < $1`, now); err != nil {
			return false, fmt.Errorf("prune replay cache: %w", err)
		}
		if _, err := p.db.ExecContext(ctx, `DELETE FROM hq_backoff WHERE last < $1 AND until <= $2`,
			now-loginForget.Milliseconds(), now); err != nil {
			return false, fmt.Errorf("prune login back-off: %w", err)
		}
	}
	res, err := p.db.ExecContext(ctx, `INSERT INTO hq_replay (sig, expires) VALUES ($1, $2) ON CONFLICT (sig) DO NOTHING`, sig, expiry)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

type pgBackoff struct {
	n           int
	until, last int64
}

func (p *Postgres) ReserveLogin(ctx context.Context, now time.Time, forget time.Duration, keys ...backoff.Key) (LoginTicket, time.Duration, error) {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b backoff.Key) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	ms := now.UnixMilli()
	t := &pgTicket{p: p, keys: keys, prev: make([]int64, len(keys)), set: make([]int64, len(keys))}
	var wait time.Duration
	err := p.inTx(ctx, func(tx *sql.Tx) error {
		rows := make([]pgBackoff, len(keys))
		for i, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hq_backoff (name, n, until, last) VALUES ($1, 0, 0, 0) ON CONFLICT (name) DO NOTHING`, k.Name); err != nil {
				return err
			}
			e := &rows[i]
			if err := tx.QueryRowContext(ctx, `SELECT n, until, last FROM hq_backoff WHERE name = $1 FOR UPDATE`, k.Name).Scan(&e.n, &e.until, &e.last); err != nil {
				return err
			}
			if ms-e.last > forget.Milliseconds() && ms >= e.until {
				*e = pgBackoff{} // forgotten
			}
			wait = max(wait, time.Duration(e.until-ms)*time.Millisecond)
		}
		if wait > 0 {
			return nil // nothing written: the transaction only locked rows
		}
		for i, k := range keys {
			e := &rows[i]
			t.prev[i] = e.until
			e.n++
			e.last = ms
			if d := k.Rule.Wait(e.n); d > 0 {
				e.until = ms + d.Milliseconds()
			}
			t.set[i] = e.until
			if _, err := tx.ExecContext(ctx, `UPDATE hq_backoff SET n = $2, until = $3, last = $4 WHERE name = $1`, k.Name, e.n, e.until, e.last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reserve login check: %w", err)
	}
	if wait > 0 {
		return nil, wait, nil
	}
	return t, 0, nil
}

// pgTicket is a login check reserved in hq_backoff. Handing a check back
// is best effort: if the database fails then, the check stays counted
// (a stricter back-off, never a laxer one).
type pgTicket struct {
	p         *Postgres
	keys      []backoff.Key
	prev, set []int64
}

func (t *pgTicket) Failure() {}

func (t *pgTicket) Success(clear ...string) { t.refund(clear) }

func (t *pgTicket) Cancel() { t.refund(nil) }

// refund forgets the keys in clear and hands the check back to the
// others: one fewer, and the wait it set undone if no later check set
// another.
func (t *pgTicket) refund(clear []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.p.inTx(ctx, func(tx *sql.Tx) error {
		for i, k := range t.keys {
			if slices.Contains(clear, k.Name) {
				if _, err := tx.ExecContext(ctx, `DELETE FROM hq_backoff WHERE name = $1`, k.Name); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE hq_backoff SET n = n - 1, until = CASE WHEN until = $2 THEN $3 ELSE until END
				WHERE name = $1 AND n > 0`, k.Name, t.set[i], t.prev[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
