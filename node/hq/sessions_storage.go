package hq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// bSession keys a dashboard session: a/<SHA-256 of the cookie> (JSON
// Session), with a Badger TTL at its expiry.
const bSession = 'a'

func (b *Badger) PutSession(_ context.Context, key []byte, s Session) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	ttl := time.Until(time.UnixMilli(s.Expires))
	if ttl <= 0 {
		return nil
	}
	return b.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(bkey(bSession, key), v).WithTTL(ttl))
	})
}

func (b *Badger) Session(_ context.Context, key []byte) (Session, error) {
	var s Session
	err := b.db.View(func(txn *badger.Txn) error { return getJSON(txn, bkey(bSession, key), &s) })
	return s, err
}

func (b *Badger) DeleteSession(_ context.Context, key []byte) error {
	return b.db.Update(func(txn *badger.Txn) error { return txn.Delete(bkey(bSession, key)) })
}

func (p *Postgres) PutSession(ctx context.Context, key []byte, s Session) error {
	doc, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := p.db.ExecContext(ctx, `DELETE FROM hq_sessions WHERE expires < $1`, time.Now().UnixMilli()); err != nil {
		return err
	}
	_, err = p.db.ExecContext(ctx, `INSERT INTO hq_sessions (id, doc, expires) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, expires = EXCLUDED.expires`, key, doc, s.Expires)
	return err
}

func (p *Postgres) Session(ctx context.Context, key []byte) (Session, error) {
	var s Session
	var doc []byte
	err := p.db.QueryRowContext(ctx, `SELECT doc FROM hq_sessions WHERE id = $1`, key).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(doc, &s)
}

func (p *Postgres) DeleteSession(ctx context.Context, key []byte) error {
	_, err := p.db.ExecContext(ctx, `DELETE FROM hq_sessions WHERE id = $1`, key)
	return err
}
