package ledger

import (
	"bytes"
	"sort"
)

// Vector is a version vector: for each till, the highest seq held with no
// gap below it. The nil Vector is empty and can be read; make one (or
// Clone) before writing.
type Vector map[TillID]uint64

// Range is a run of one till's seqs, From through To inclusive.
type Range struct {
	Till     TillID
	From, To uint64
}

// Len is the number of seqs in r.
func (r Range) Len() uint64 { return r.To - r.From + 1 }

// Clone returns a copy that can be written.
func (v Vector) Clone() Vector {
	c := make(Vector, len(v))
	for t, s := range v {
		c[t] = s
	}
	return c
}

// Diff returns what other lacks of v: for each till where v is ahead, the
// range of seqs above other's. Ranges come sorted by till.
func (v Vector) Diff(other Vector) []Range {
	var rs []Range
	for t, s := range v {
		if o := other[t]; s > o {
			rs = append(rs, Range{Till: t, From: o + 1, To: s})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return bytes.Compare(rs[i].Till[:], rs[j].Till[:]) < 0 })
	return rs
}

// Covers reports whether v holds everything other holds.
func (v Vector) Covers(other Vector) bool {
	for t, s := range other {
		if v[t] < s {
			return false
		}
	}
	return true
}

// Equal reports whether v and other hold the same seqs. Zero entries count
// as absent.
func (v Vector) Equal(other Vector) bool { return v.Covers(other) && other.Covers(v) }

// Total is the number of events v counts.
func (v Vector) Total() uint64 {
	var n uint64
	for _, s := range v {
		n += s
	}
	return n
}
