package ledgerdb

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sort"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
)

// ChainReport describes one till's stored chain.
type ChainReport struct {
	Till     ledger.TillID
	Events   int            // records stored for the till
	Head     uint64         // highest seq reached with no gap from 1
	HeadID   ledger.EventID // ID of the event at Head
	Held     int            // records above a gap
	Problems []Problem
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Chains      []ChainReport
	Quarantined int // records moved aside by an earlier open
	Evidence    int // conflicting events kept as evidence
}

// OK reports whether no chain has a problem.
func (r VerifyReport) OK() bool {
	for _, c := range r.Chains {
		if len(c.Problems) > 0 {
			return false
		}
	}
	return true
}

// Verify reads a ledger directory and checks every stored event: canonical encoding, its own signature, its invariants, and
// that each Prev is the ID of the event before. It is the slow, thorough
// check (every signature, in batches: ledger.VerifyAll) behind `tillmesh
// ledger verify`, in memory that does not grow with the ledger. It changes no
// record; opening does let Badger drop a torn, unacknowledged write at the
// tail of its log after a crash, and badgeropen repair the files a power
// cut left (see there). The till must not be running.
func Verify(dir string, log *slog.Logger) (VerifyReport, error) {
	bdb, err := openBadger(dir, log)
	if err != nil {
		return VerifyReport{}, err
	}
	defer bdb.Close()
	var rep VerifyReport
	chains := map[ledger.TillID]*ChainReport{}
	links := map[ledger.TillID]*link{}
	// Records come in key order, so each till's in seq order. They are
	// checked in chunks (ledger.VerifyAll batches the signatures) and
	// linked as they come: memory stays flat however long the ledger.
	var chunk []record
	check := func() {
		evs := make([]*ledger.Event, 0, len(chunk))
		for _, r := range chunk {
			if r.ev != nil {
				evs = append(evs, r.ev)
			}
		}
		errs := ledger.VerifyAll(evs)
		k := 0
		for _, r := range chunk {
			if r.ev != nil {
				if errs != nil && errs[k] != nil {
					r.err, r.ev = errs[k], nil
				}
				k++
			}
			if r.err == nil && (r.ev.Till != r.till || r.ev.Seq != r.seq) {
				r.err = fmt.Errorf("stored under %s/%d but is %s/%d", r.till.Short(), r.seq, r.ev.Till.Short(), r.ev.Seq)
				r.ev = nil
			}
			c := chains[r.till]
			if r.err != nil {
				c.Problems = append(c.Problems, Problem{Till: r.till, Seq: r.seq, Reason: r.err.Error()})
			}
			links[r.till].add(c, r)
		}
		chunk = chunk[:0]
	}
	err = bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			switch k[0] {
			case pQuarantine:
				rep.Quarantined++
				continue
			case pEvidence:
				rep.Evidence++
				continue
			case pEvent:
			default:
				continue
			}
			if len(k) != 41 {
				continue
			}
			r := record{seq: binary.BigEndian.Uint64(k[33:])}
			copy(r.till[:], k[1:33])
			c := chains[r.till]
			if c == nil {
				c = &ChainReport{Till: r.till}
				chains[r.till] = c
				links[r.till] = &link{linked: true}
			}
			c.Events++
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			r.ev, r.err = ledger.Decode(v)
			chunk = append(chunk, r)
			if len(chunk) == verifyChunk {
				check()
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	check()
	for _, c := range chains {
		rep.Chains = append(rep.Chains, *c)
	}
	sort.Slice(rep.Chains, func(i, j int) bool {
		return string(rep.Chains[i].Till[:]) < string(rep.Chains[j].Till[:])
	})
	return rep, nil
}

// verifyChunk is how many records Verify decodes before checking them.
const verifyChunk = 1024

// record is one stored event as Verify reads it: ev is nil if it does not
// decode or verify (err says why).
type record struct {
	till ledger.TillID
	seq  uint64
	ev   *ledger.Event
	err  error
}

// link follows one till's chain from seq 1 while Verify reads it.
type link struct {
	prev   ledger.EventID
	linked bool // no gap or broken link so far
}

func (l *link) add(c *ChainReport, r record) {
	if !l.linked || r.seq != c.Head+1 || r.ev == nil {
		l.linked = false
		c.Held++
		return
	}
	if r.ev.Prev != l.prev {
		c.Problems = append(c.Problems, Problem{Till: r.till, Seq: r.seq,
			Reason: fmt.Sprintf("prev hash does not match the event at seq %d", r.seq-1)})
		l.linked = false
		c.Held++
		return
	}
	c.Head, c.HeadID, l.prev = r.seq, r.ev.ID(), r.ev.ID()
}
