package node

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// newerStatus fills what a newer version left here: events of kinds this
// version does not know (kept, replicated and relayed, left out of stock
// and reports) and inventory keys it does not read. Each becomes a warning
// on the till's status, e.g. "3 events from a newer version (kind
// gift_card)".
func (t *Till) newerStatus(st *ui.Status) {
	st.Version = t.cfg.Release
	var n ledger.Newer
	t.db.View(func(s *ledger.State) { n = maps.Clone(s.Fold().Newer()) })
	if len(n) > 0 {
		st.Newer = map[string]int{}
		for k, c := range n {
			st.Newer[string(k)] = c
		}
		st.AddProblem(ui.Note{Key: ui.NoteNewerEvents, Args: map[string]any{"n": n.Total(), "kinds": strings.Join(slices.Sorted(maps.Keys(st.Newer)), ", ")},
			Text: n.String()})
	}
	if t.inv == nil {
		return
	}
	if keys := t.inv.NewerKeys(); len(keys) > 0 {
		prefixes := slices.Sorted(maps.Keys(keys))
		total := 0
		for _, c := range keys {
			total += c
		}
		st.AddProblem(ui.Note{Key: ui.NoteNewerInventory, Args: map[string]any{"n": total, "prefixes": strings.Join(prefixes, ", ")},
			Text: fmt.Sprintf("%d inventory records from a newer version (%s), kept but not shown; upgrade this till",
				total, strings.Join(prefixes, ", "))})
	}
}

// versions are the releases of the store's tills this till knows: its
// own and those its admitted peers announced (hello 2), for HQ.
func (t *Till) versions() map[ledger.TillID]string {
	out := map[ledger.TillID]string{}
	if t.cfg.Release != "" {
		out[t.id] = t.cfg.Release
	}
	for _, p := range t.host.Peers() {
		if p.Admitted && p.Release != "" {
			out[p.Till] = p.Release
		}
	}
	return out
}
