package crdt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// maxKinds bounds a till's kinds list; maxKindName one name in it.
const (
	maxKinds    = 256
	maxKindName = 32
)

// PutKinds announces the event kinds tillID's release knows, so that every
// till can tell when the whole store reads a kind added after the first
// release (node's kind gate). Only the till itself writes its entry.
func (s *Store) PutKinds(ctx context.Context, tillID string, kinds []string) error {
	if err := validID(tillID); err != nil {
		return fmt.Errorf("kinds till: %w", err)
	}
	if err := validKinds(kinds); err != nil {
		return fmt.Errorf("kinds of till %s: %w", tillID, err)
	}
	v, err := cbor.Marshal(kinds)
	if err != nil {
		return fmt.Errorf("encode kinds: %w", err)
	}
	return s.PutSetting(ctx, kindsSetting+tillID, v)
}

// kindsSetting prefixes the setting that holds a till's kinds: a store
// setting rather than a key of its own, because a previous release
// (testnet's rolling-upgrade, from commit 08a82daa) did not converge with
// tills writing a key prefix it did not know at every start.
const kindsSetting = "kinds."

// KindsSetting prefixes the names of the settings Kinds reads (a Change
// of kind ChangeSetting with this prefix is an announcement).
const KindsSetting = kindsSetting

// Kinds returns every till's announced kinds, by till ID. A till that never
// announced any (a release before the announcement existed) is absent. An
// entry that does not decode is left out, with a warning: the gate then
// treats that till as knowing only the first release's kinds.
func (s *Store) Kinds(ctx context.Context) (map[string][]string, error) {
	all, err := s.byID(ctx, prefixSetting)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for name, v := range all {
		id, ok := strings.CutPrefix(name, kindsSetting)
		if !ok {
			continue
		}
		k, err := decodeKinds(v)
		if err != nil {
			s.log.Warn("undecodable kinds entry ignored", "till", id, "err", err)
			continue
		}
		out[id] = k
	}
	return out, nil
}

func decodeKinds(v []byte) ([]string, error) {
	var k []string
	if err := decMode.Unmarshal(v, &k); err != nil {
		return nil, fmt.Errorf("%w: kinds: %v", ErrInvalid, err)
	}
	if err := validKinds(k); err != nil {
		return nil, err
	}
	return k, nil
}

func validKinds(kinds []string) error {
	if len(kinds) > maxKinds {
		return fmt.Errorf("%d kinds, limit %d: %w", len(kinds), maxKinds, ErrInvalid)
	}
	for _, k := range kinds {
		if len(k) == 0 || len(k) > maxKindName || slices.ContainsFunc([]byte(k), func(c byte) bool {
			return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')
		}) {
			return fmt.Errorf("kind %q: want 1..%d lower-case letters, digits or _: %w", k, maxKindName, ErrInvalid)
		}
	}
	return nil
}
