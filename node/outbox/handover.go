package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
)

// maxHandover bounds the entries one handover carries: the cursor, the
// items already final above it and the dead letters.
const maxHandover = 20000

// ErrActive is a Handover asked of a connector that still runs here.
var ErrActive = errors.New("outbox: connector still runs here")

// active reports whether connector runs here (Config.Active).
func (o *Outbox) active(name string) bool { return o.cfg.Active == nil || o.cfg.Active(name) }

// Handover returns what the other side (HQ, or the store back from HQ)
// needs to run connector on from exactly where this side stopped: its
// cursor, the final records of the items above it (sent or dead ahead of
// an item still pending), and its dead letters. The connector must
// already be inactive here (Config.Active false, else ErrActive);
// Handover waits for a round in progress to record its results, so
// nothing is in flight and nothing more is sent from here. The other side
// takes the entries with Import before it starts: an item whose result
// is recorded here is never sent there, and an item with none is sent
// there once (the cursor is the same on both sides).
func (o *Outbox) Handover(ctx context.Context, connector string) ([]crdt.OutboxEntry, error) {
	k := o.conn(connector)
	if k == nil {
		return nil, fmt.Errorf("handover %q: %w", connector, ErrNotFound)
	}
	if o.active(connector) {
		return nil, fmt.Errorf("handover %q: %w", connector, ErrActive)
	}
	k.round.Lock()
	defer k.round.Unlock()
	if o.active(connector) {
		return nil, fmt.Errorf("handover %q: %w", connector, ErrActive)
	}
	return o.export(ctx, k)
}

// Export returns this till's state of connector as Handover does, for a
// peer that is about to send for the store (Config.Catchup): it waits
// for a round in progress here, which stops taking items once this till
// no longer leads, so the peer gets the results of everything this till
// sent.
func (o *Outbox) Export(ctx context.Context, connector string) ([]crdt.OutboxEntry, error) {
	k := o.conn(connector)
	if k == nil {
		return nil, fmt.Errorf("export %q: %w", connector, ErrNotFound)
	}
	// A till that is not sending holds round only to look at settings
	// or to catch up itself (two tills may ask each other at once):
	// nothing of its is in flight, so it answers without waiting.
	switch {
	case k.round.TryLock():
		defer k.round.Unlock()
	case k.leading.Load():
		k.round.Lock() // a round in progress: wait for its results
		defer k.round.Unlock()
	}
	return o.export(ctx, k)
}

// export collects the state of k. Called with k.round held.
func (o *Outbox) export(ctx context.Context, k *conn) ([]crdt.OutboxEntry, error) {
	connector := k.c.Name()
	if _, err := k.c.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("handover %q: %w", connector, err)
	}
	if err := o.loadCursor(ctx, k); err != nil {
		return nil, err
	}
	k.mu.Lock()
	cursor := k.cursor.Clone()
	k.mu.Unlock()
	out := []crdt.OutboxEntry{{Connector: connector, Kind: kindCursor, ID: cursorID, Value: encodeCursor(cursor)}}
	for till, head := range o.cfg.Ledger.Vector() {
		if cursor[till] >= head {
			continue
		}
		var rerr error
		err := o.cfg.Ledger.Range(till, cursor[till]+1, func(ev *ledger.Event) bool {
			if !k.c.Wants(ev) {
				return true
			}
			id := ev.ID().String()
			b, err := o.cfg.Store.OutboxGet(ctx, connector, kindItem, id)
			if errors.Is(err, crdt.ErrNotFound) {
				return true
			}
			if err != nil {
				rerr = err
				return false
			}
			if r, err := decodeRecord(b); err == nil && r.final() {
				out = append(out, crdt.OutboxEntry{Connector: connector, Kind: kindItem, ID: id, Value: b})
			}
			return len(out) <= maxHandover
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return nil, fmt.Errorf("handover %q: read the ledger of till %s: %w", connector, till.Short(), err)
		}
	}
	dead, err := o.cfg.Store.OutboxList(ctx, connector, kindDead)
	if err != nil {
		return nil, fmt.Errorf("handover %q: %w", connector, err)
	}
	for id, b := range dead {
		out = append(out, crdt.OutboxEntry{Connector: connector, Kind: kindDead, ID: id, Value: b})
	}
	if len(out) > maxHandover {
		return nil, fmt.Errorf("handover %q: more than %d records above the cursor; let the backlog drain first", connector, maxHandover)
	}
	return out, nil
}

// Import takes another side's Handover of connector before it runs here:
// each entry is checked (a cursor or record this till can read, of this
// connector) and nothing is stored if one is wrong. The cursor moves to
// the handed one where it is ahead of this side's.
func (o *Outbox) Import(ctx context.Context, connector string, entries []crdt.OutboxEntry) error {
	k := o.conn(connector)
	if k == nil {
		return fmt.Errorf("import %q: %w", connector, ErrNotFound)
	}
	if len(entries) > maxHandover {
		return fmt.Errorf("import %q: %d entries, at most %d", connector, len(entries), maxHandover)
	}
	k.round.Lock()
	defer k.round.Unlock()
	return o.importLocked(ctx, k, entries)
}

// importLocked is Import with k.round held.
func (o *Outbox) importLocked(ctx context.Context, k *conn, entries []crdt.OutboxEntry) error {
	connector := k.c.Name()
	var cursor ledger.Vector
	for _, e := range entries {
		if e.Connector != connector {
			return fmt.Errorf("import %q: an entry of connector %q", connector, e.Connector)
		}
		switch e.Kind {
		case kindCursor:
			v, err := decodeCursor(e.Value)
			if err != nil || e.ID != cursorID || cursor != nil {
				return fmt.Errorf("import %q: bad or second cursor: %v", connector, err)
			}
			cursor = v
		case kindItem, kindDead:
			if _, err := ledger.ParseEventID(e.ID); err != nil {
				return fmt.Errorf("import %q: %w", connector, err)
			}
			if _, err := decodeRecord(e.Value); err != nil {
				return fmt.Errorf("import %q %s: %w", connector, e.ID, err)
			}
		default:
			return fmt.Errorf("import %q: unknown kind %q", connector, e.Kind)
		}
	}
	if cursor == nil {
		return fmt.Errorf("import %q: no cursor", connector)
	}
	mine, err := o.storedCursor(ctx, connector)
	if err != nil {
		return err
	}
	for t, s := range mine {
		if s > cursor[t] {
			cursor[t] = s
		}
	}
	var put []crdt.OutboxEntry
	for _, e := range entries {
		if e.Kind != kindCursor {
			put = append(put, e)
		}
	}
	// Records first, the cursor after them: a till that reads the cursor
	// finds the records it covers.
	if err := o.put(ctx, put); err != nil {
		return err
	}
	if err := o.put(ctx, []crdt.OutboxEntry{{Connector: connector, Kind: kindCursor, ID: cursorID, Value: encodeCursor(cursor)}}); err != nil {
		return err
	}
	k.mu.Lock()
	for t, s := range cursor {
		if s > k.cursor[t] {
			k.cursor[t] = s
		}
	}
	clear(k.done)
	clear(k.fails)
	k.mu.Unlock()
	o.Kick()
	return nil
}

// catchup merges the peers' state of k before this till starts sending
// (Config.Catchup). Called with k.round held.
func (o *Outbox) catchup(ctx context.Context, k *conn) error {
	if o.cfg.Catchup == nil {
		return nil
	}
	states, err := o.cfg.Catchup(ctx, k.c.Name())
	if err != nil {
		return err
	}
	for _, es := range states {
		if len(es) == 0 {
			continue
		}
		if err := o.importLocked(ctx, k, es); err != nil {
			return err
		}
	}
	return nil
}
