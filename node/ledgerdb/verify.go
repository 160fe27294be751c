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
// check (every signature) behind `tillmesh ledger verify`. It changes no
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
	type rec struct {
		seq uint64
		ev  *ledger.Event
	}
	recs := map[ledger.TillID][]rec{}
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
			var till ledger.TillID
			copy(till[:], k[1:33])
			seq := binary.BigEndian.Uint64(k[33:])
			c := chains[till]
			if c == nil {
				c = &ChainReport{Till: till}
				chains[till] = c
			}
			c.Events++
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ev, err := ledger.Decode(v)
			if err == nil {
				err = ev.Verify()
			}
			if err == nil && (ev.Till != till || ev.Seq != seq) {
				err = fmt.Errorf("stored under %s/%d but is %s/%d", till.Short(), seq, ev.Till.Short(), ev.Seq)
			}
			if err != nil {
				c.Problems = append(c.Problems, Problem{Till: till, Seq: seq, Reason: err.Error()})
				recs[till] = append(recs[till], rec{seq: seq})
				continue
			}
			recs[till] = append(recs[till], rec{seq: seq, ev: ev})
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for till, rs := range recs {
		c := chains[till]
		var prev ledger.EventID
		linked := true
		for _, r := range rs {
			if !linked || r.seq != c.Head+1 || r.ev == nil {
				linked = false
				c.Held++
				continue
			}
			if r.ev.Prev != prev {
				c.Problems = append(c.Problems, Problem{Till: till, Seq: r.seq,
					Reason: fmt.Sprintf("prev hash does not match the event at seq %d", r.seq-1)})
				linked = false
				c.Held++
				continue
			}
			c.Head, c.HeadID, prev = r.seq, r.ev.ID(), r.ev.ID()
		}
	}
	for _, c := range chains {
		rep.Chains = append(rep.Chains, *c)
	}
	sort.Slice(rep.Chains, func(i, j int) bool {
		return string(rep.Chains[i].Till[:]) < string(rep.Chains[j].Till[:])
	})
	return rep, nil
}
