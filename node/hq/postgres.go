package hq

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/lib/pq"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// schema is applied at open; every statement is idempotent. EventIDs are
// the primary key of hq_events, and (store, till, seq) is unique too, so
// an event can be stored once only, whatever the callers do.
const schema = `
CREATE TABLE IF NOT EXISTS hq_stores (
	id      bytea PRIMARY KEY,
	name    text NOT NULL,
	ca      bytea NOT NULL,
	created bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_fence (
	store bytea PRIMARY KEY,
	token bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_certs (
	store bytea NOT NULL,
	till  bytea NOT NULL,
	raw   bytea NOT NULL,
	PRIMARY KEY (store, till)
);
CREATE TABLE IF NOT EXISTS hq_heads (
	store   bytea NOT NULL,
	till    bytea NOT NULL,
	seq     bigint NOT NULL,
	id      bytea NOT NULL,
	flagged boolean NOT NULL DEFAULT false,
	PRIMARY KEY (store, till)
);
CREATE TABLE IF NOT EXISTS hq_events (
	id    bytea PRIMARY KEY,
	store bytea NOT NULL,
	till  bytea NOT NULL,
	seq   bigint NOT NULL,
	wall  bigint NOT NULL,
	kind  text NOT NULL,
	raw   bytea NOT NULL,
	UNIQUE (store, till, seq)
);
CREATE TABLE IF NOT EXISTS hq_evidence (
	store bytea NOT NULL,
	till  bytea NOT NULL,
	seq   bigint NOT NULL,
	got   bytea NOT NULL,
	doc   jsonb NOT NULL,
	PRIMARY KEY (store, till, seq, got)
);
CREATE TABLE IF NOT EXISTS hq_contacts (
	store bytea PRIMARY KEY,
	doc   jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_changes (
	cursor bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	store  bytea,
	doc    jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_store_catalogs (
	store bytea PRIMARY KEY,
	doc   jsonb NOT NULL
);
ALTER TABLE hq_stores ADD COLUMN IF NOT EXISTS day_rule jsonb;
CREATE TABLE IF NOT EXISTS hq_sessions (
	id      bytea PRIMARY KEY,
	doc     jsonb NOT NULL,
	expires bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_rollups (
	store   bytea PRIMARY KEY,
	version integer NOT NULL,
	vector  jsonb NOT NULL,
	body    bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_replay (
	sig     bytea PRIMARY KEY,
	expires bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_backoff (
	name  text PRIMARY KEY,
	n     integer NOT NULL,
	until bigint NOT NULL,
	last  bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_rollup_days (
	store bytea NOT NULL,
	day   text NOT NULL,
	body  bytea NOT NULL,
	PRIMARY KEY (store, day)
);
CREATE TABLE IF NOT EXISTS hq_rollup_spends (
	store bytea NOT NULL,
	key   text NOT NULL,
	body  bytea NOT NULL,
	PRIMARY KEY (store, key)
);
ALTER TABLE hq_rollups ADD COLUMN IF NOT EXISTS gen bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS hq_changes_revocations ON hq_changes (store, cursor) WHERE doc->>'kind' = 'revocation';
CREATE TABLE IF NOT EXISTS hq_users (
	name text PRIMARY KEY,
	doc  jsonb NOT NULL
);
`

// Postgres is HQ's storage in PostgreSQL, for chains that outgrow one
// machine's disk. Several HQ processes may share one database: fencing
// tokens are raised atomically and heads move by compare and set.
//
// The driver is lib/pq behind database/sql (its pool of up to maxConns
// connections drops a connection that broke); it links about 4 MB less
// than pgx into the one binary every till ships.
type Postgres struct {
	db    *sql.DB
	prune atomic.Int64 // when guards_postgres.go next drops expired rows, Unix ms
}

// OpenPostgres connects to the database at dsn (a libpq URL or key=value
// string; the PG* environment variables fill what it leaves out, and
// sslmode defaults to prefer, as libpq's does), creates HQ's tables if
// they are missing, and keeps up to maxConns connections.
func OpenPostgres(ctx context.Context, dsn string, maxConns int) (*Postgres, error) {
	if maxConns < 1 {
		maxConns = 4
	}
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open hq postgres: parse dsn: %w", err)
	}
	if cfg.SSLMode == "" {
		cfg.SSLMode = pq.SSLModePrefer
	}
	conn, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("open hq postgres: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	p := &Postgres{db: db}
	if _, err := db.ExecContext(ctx, schema+customerSchema+outboxSchema); err != nil { // customers_postgres.go, outbox_storage.go
		db.Close()
		return nil, fmt.Errorf("open hq postgres: %w", err)
	}
	return p, nil
}

// Close closes the connections, waiting for queries under way.
func (p *Postgres) Close() error {
	return p.db.Close()
}

// each runs q and calls f after scanning each row into dest.
func (p *Postgres) each(ctx context.Context, q string, args []any, dest []any, f func() error) error {
	rows, err := p.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inTx runs f in a transaction, committed if f returns nil.
func (p *Postgres) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (p *Postgres) PutStore(ctx context.Context, s StoreRecord) error {
	rule, err := json.Marshal(s.Day)
	if err != nil {
		return err
	}
	res, err := p.db.ExecContext(ctx, `INSERT INTO hq_stores (id, name, ca, created, day_rule) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, day_rule = EXCLUDED.day_rule WHERE hq_stores.ca = EXCLUDED.ca`,
		s.ID[:], s.Name, []byte(s.CA), s.Created, rule)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: store %s", ErrStoreExists, s.ID)
	}
	return nil
}

func (p *Postgres) Stores(ctx context.Context) ([]StoreRecord, error) {
	var out []StoreRecord
	var id, ca, rule []byte
	var s StoreRecord
	err := p.each(ctx, `SELECT id, name, ca, created, day_rule FROM hq_stores ORDER BY name, id`, nil,
		[]any{&id, &s.Name, &ca, &s.Created, &rule}, func() error {
			copy(s.ID[:], id)
			s.CA = bytes.Clone(ca)
			s.Day = DayRule{}
			if len(rule) > 0 {
				if err := json.Unmarshal(rule, &s.Day); err != nil {
					return fmt.Errorf("store %x: day rule: %w", id, err)
				}
			}
			out = append(out, s)
			return nil
		})
	return out, err
}

func (p *Postgres) PutCertificate(ctx context.Context, cert *ledger.Certificate) error {
	raw, err := cert.Encode()
	if err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_certs (store, till, raw) VALUES ($1, $2, $3)
		ON CONFLICT (store, till) DO UPDATE SET raw = EXCLUDED.raw`, cert.Store[:], cert.Till[:], raw)
	return err
}

func (p *Postgres) Certificates(ctx context.Context, store ledger.StoreID) ([]*ledger.Certificate, error) {
	var out []*ledger.Certificate
	var raw []byte
	err := p.each(ctx, `SELECT raw FROM hq_certs WHERE store = $1`, []any{store[:]}, []any{&raw}, func() error {
		cert, err := ledger.DecodeCertificate(raw)
		if err != nil {
			return err
		}
		out = append(out, cert)
		return nil
	})
	return out, err
}

func (p *Postgres) RaiseFence(ctx context.Context, store ledger.StoreID, token uint64) (uint64, error) {
	var got int64
	err := p.db.QueryRowContext(ctx, `INSERT INTO hq_fence (store, token) VALUES ($1, $2)
		ON CONFLICT (store) DO UPDATE SET token = EXCLUDED.token WHERE hq_fence.token <= EXCLUDED.token
		RETURNING token`, store[:], int64(token)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		if err := p.db.QueryRowContext(ctx, `SELECT token FROM hq_fence WHERE store = $1`, store[:]).Scan(&got); err != nil {
			return 0, err
		}
		return uint64(got), ErrStaleFence
	}
	return uint64(got), err
}

func (p *Postgres) Fence(ctx context.Context, store ledger.StoreID) (uint64, error) {
	var got int64
	err := p.db.QueryRowContext(ctx, `SELECT token FROM hq_fence WHERE store = $1`, store[:]).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(got), err
}

func (p *Postgres) Heads(ctx context.Context, store ledger.StoreID) (map[ledger.TillID]Head, error) {
	out := map[ledger.TillID]Head{}
	var till, id []byte
	var seq int64
	var flagged bool
	err := p.each(ctx, `SELECT till, seq, id, flagged FROM hq_heads WHERE store = $1`, []any{store[:]},
		[]any{&till, &seq, &id, &flagged}, func() error {
			var t ledger.TillID
			h := Head{Seq: uint64(seq), Flagged: flagged}
			copy(t[:], till)
			copy(h.ID[:], id)
			out[t] = h
			return nil
		})
	return out, err
}

// Append writes the events with COPY inside one transaction that first
// moves every head by compare and set.
func (p *Postgres) Append(ctx context.Context, store ledger.StoreID, evs []*ledger.Event, heads []HeadUpdate, roll *Rollup) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range heads {
			var res sql.Result
			var err error
			if u.From == 0 {
				// A flagged till with no events yet has a row at seq 0.
				res, err = tx.ExecContext(ctx, `INSERT INTO hq_heads (store, till, seq, id) VALUES ($1, $2, $3, $4)
					ON CONFLICT (store, till) DO UPDATE SET seq = EXCLUDED.seq, id = EXCLUDED.id WHERE hq_heads.seq = 0`,
					store[:], u.Till[:], int64(u.To), u.ID[:])
			} else {
				res, err = tx.ExecContext(ctx, `UPDATE hq_heads SET seq = $3, id = $4 WHERE store = $1 AND till = $2 AND seq = $5`,
					store[:], u.Till[:], int64(u.To), u.ID[:], int64(u.From))
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return fmt.Errorf("%w: till %s is not at %d", ErrHeadMoved, u.Till.Short(), u.From)
			}
		}
		if roll != nil {
			if err := pgPutRollup(ctx, tx, store, roll); err != nil {
				return err
			}
		}
		if len(evs) == 0 {
			return nil
		}
		cp, err := tx.PrepareContext(ctx, `COPY hq_events (id, store, till, seq, wall, kind, raw) FROM STDIN`)
		if err != nil {
			return err
		}
		defer cp.Close()
		for _, ev := range evs {
			id := ev.ID()
			if _, err := cp.ExecContext(ctx, id[:], store[:], ev.Till[:], int64(ev.Seq), ev.Time.Wall, string(ev.Kind()), ev.Bytes()); err != nil {
				return err
			}
		}
		_, err = cp.ExecContext(ctx)
		return err
	})
}

func (p *Postgres) IDs(ctx context.Context, store ledger.StoreID, till ledger.TillID, from, to uint64) ([]ledger.EventID, error) {
	var out []ledger.EventID
	var id []byte
	err := p.each(ctx, `SELECT id FROM hq_events WHERE store = $1 AND till = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq`,
		[]any{store[:], till[:], int64(from), int64(to)}, []any{&id}, func() error {
			var e ledger.EventID
			copy(e[:], id)
			out = append(out, e)
			return nil
		})
	return out, err
}

func (p *Postgres) Event(ctx context.Context, id ledger.EventID) ([]byte, error) {
	var raw []byte
	err := p.db.QueryRowContext(ctx, `SELECT raw FROM hq_events WHERE id = $1`, id[:]).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return raw, err
}

func (p *Postgres) Range(ctx context.Context, store ledger.StoreID, f func(raw []byte) error) error {
	var raw []byte
	return p.each(ctx, `SELECT raw FROM hq_events WHERE store = $1 ORDER BY till, seq`, []any{store[:]},
		[]any{&raw}, func() error { return f(raw) })
}

func (p *Postgres) Count(ctx context.Context, store ledger.StoreID) (uint64, error) {
	var n int64
	err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM hq_events WHERE store = $1`, store[:]).Scan(&n)
	return uint64(n), err
}

func (p *Postgres) PutEvidence(ctx context.Context, e Evidence) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return p.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hq_evidence (store, till, seq, got, doc) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, e.Store[:], e.Till[:], int64(e.Seq), e.Got[:], string(doc)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO hq_heads (store, till, seq, id, flagged) VALUES ($1, $2, 0, $3, true)
			ON CONFLICT (store, till) DO UPDATE SET flagged = true`, e.Store[:], e.Till[:], make([]byte, 32))
		return err
	})
}

func (p *Postgres) Evidence(ctx context.Context, store ledger.StoreID) ([]Evidence, error) {
	var out []Evidence
	var doc []byte
	err := p.each(ctx, `SELECT doc FROM hq_evidence WHERE store = $1 ORDER BY till, seq`, []any{store[:]},
		[]any{&doc}, func() error {
			var e Evidence
			if err := json.Unmarshal(doc, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

func (p *Postgres) SetContact(ctx context.Context, store ledger.StoreID, ct Contact) error {
	doc, err := json.Marshal(ct)
	if err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_contacts (store, doc) VALUES ($1, $2)
		ON CONFLICT (store) DO UPDATE SET doc = EXCLUDED.doc`, store[:], string(doc))
	return err
}

func (p *Postgres) Contacts(ctx context.Context) (map[ledger.StoreID]Contact, error) {
	out := map[ledger.StoreID]Contact{}
	var store, doc []byte
	err := p.each(ctx, `SELECT store, doc FROM hq_contacts`, nil, []any{&store, &doc}, func() error {
		var ct Contact
		if err := json.Unmarshal(doc, &ct); err != nil {
			return err
		}
		var s ledger.StoreID
		copy(s[:], store)
		out[s] = ct
		return nil
	})
	return out, err
}

func (p *Postgres) AddChange(ctx context.Context, ch hqapi.Change) (hqapi.Change, error) {
	ch.Cursor = 0
	doc, err := json.Marshal(ch)
	if err != nil {
		return ch, err
	}
	var store any // NULL: a change for every store
	if ch.Store != nil {
		store = ch.Store[:]
	}
	var cur int64
	err = p.db.QueryRowContext(ctx, `INSERT INTO hq_changes (store, doc) VALUES ($1, $2) RETURNING cursor`, store, string(doc)).Scan(&cur)
	ch.Cursor = uint64(cur)
	return ch, err
}

func (p *Postgres) changes(ctx context.Context, q string, args ...any) ([]hqapi.Change, error) {
	var out []hqapi.Change
	var cur int64
	var doc []byte
	err := p.each(ctx, q, args, []any{&cur, &doc}, func() error {
		var ch hqapi.Change
		if err := json.Unmarshal(doc, &ch); err != nil {
			return err
		}
		ch.Cursor = uint64(cur)
		out = append(out, ch)
		return nil
	})
	return out, err
}

func (p *Postgres) Changes(ctx context.Context, store ledger.StoreID, after uint64, limit int) ([]hqapi.Change, error) {
	return p.changes(ctx, `SELECT cursor, doc FROM hq_changes WHERE cursor > $1 AND (store IS NULL OR store = $2)
		ORDER BY cursor LIMIT $3`, int64(after), store[:], limit)
}

// Revocations reads the revocation changes of a store (nil: of every
// store) through a partial index (hq_changes_revocations).
func (p *Postgres) Revocations(ctx context.Context, store *ledger.StoreID) ([]hqapi.Change, error) {
	if store == nil {
		return p.changes(ctx, `SELECT cursor, doc FROM hq_changes WHERE doc->>'kind' = 'revocation' ORDER BY cursor`)
	}
	return p.changes(ctx, `SELECT cursor, doc FROM hq_changes WHERE store = $1 AND doc->>'kind' = 'revocation'
		ORDER BY cursor`, store[:])
}

func (p *Postgres) AllChanges(ctx context.Context, after uint64, limit int) ([]hqapi.Change, error) {
	return p.changes(ctx, `SELECT cursor, doc FROM hq_changes WHERE cursor > $1 ORDER BY cursor LIMIT $2`, int64(after), limit)
}

func (p *Postgres) PutUser(ctx context.Context, u User) error {
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_users (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc`, u.Name, string(doc))
	return err
}

func (p *Postgres) PutStoreCatalog(ctx context.Context, store ledger.StoreID, cat hqapi.StoreCatalog) error {
	doc, err := json.Marshal(cat)
	if err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_store_catalogs (store, doc) VALUES ($1, $2)
		ON CONFLICT (store) DO UPDATE SET doc = EXCLUDED.doc`, store[:], string(doc))
	return err
}

// StoreCatalogs reads every store's catalog in one query.
func (p *Postgres) StoreCatalogs(ctx context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error) {
	out := map[ledger.StoreID]hqapi.StoreCatalog{}
	var store, doc []byte
	err := p.each(ctx, `SELECT store, doc FROM hq_store_catalogs`, nil, []any{&store, &doc}, func() error {
		var id ledger.StoreID
		if len(store) != len(id) {
			return fmt.Errorf("store catalog key of %d bytes", len(store))
		}
		copy(id[:], store)
		var c hqapi.StoreCatalog
		if err := json.Unmarshal(doc, &c); err != nil {
			return fmt.Errorf("catalog of store %s: %w", id, err)
		}
		out[id] = c
		return nil
	})
	return out, err
}

func (p *Postgres) StoreCatalog(ctx context.Context, store ledger.StoreID) (hqapi.StoreCatalog, error) {
	var cat hqapi.StoreCatalog
	var doc []byte
	err := p.db.QueryRowContext(ctx, `SELECT doc FROM hq_store_catalogs WHERE store = $1`, store[:]).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return cat, ErrNotFound
	}
	if err != nil {
		return cat, err
	}
	return cat, json.Unmarshal(doc, &cat)
}

func (p *Postgres) User(ctx context.Context, name string) (User, error) {
	var u User
	var doc []byte
	err := p.db.QueryRowContext(ctx, `SELECT doc FROM hq_users WHERE name = $1`, name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, err
	}
	return u, json.Unmarshal(doc, &u)
}

func (p *Postgres) Users(ctx context.Context) ([]User, error) {
	var out []User
	var doc []byte
	err := p.each(ctx, `SELECT doc FROM hq_users ORDER BY name`, nil, []any{&doc}, func() error {
		var u User
		if err := json.Unmarshal(doc, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}
