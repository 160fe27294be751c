package crdt

import (
	"maps"
	"sync"
)

// newerKeys counts keys this version does not read, by their first path
// segment: a newer till wrote them. go-ds-crdt keeps and replicates them
// like any other key, so an upgraded till reads them later; this version
// ignores them, warning once per prefix.
type newerKeys struct {
	mu sync.Mutex
	n  map[string]int
}

// add counts key and reports whether its prefix is new.
func (u *newerKeys) add(key string) (prefix string, first bool) {
	prefix = "/"
	if p := splitKey(key); len(p) > 0 {
		prefix = p[0]
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == nil {
		u.n = map[string]int{}
	}
	u.n[prefix]++
	return prefix, u.n[prefix] == 1
}

// NewerKeys returns how many keys of prefixes this version does not read
// it has seen written or merged since it started, by prefix (for example
// "giftcard"): a newer till wrote them. They are kept and replicated, and
// ignored here.
func (s *Store) NewerKeys() map[string]int {
	s.newer.mu.Lock()
	defer s.newer.mu.Unlock()
	return maps.Clone(s.newer.n)
}

func (s *Store) noteNewerKey(key string) {
	if prefix, first := s.newer.add(key); first {
		s.log.Warn("inventory key of a kind this version does not read: kept and replicated, ignored here (a newer till wrote it)",
			"prefix", prefix, "key", key)
	}
}
