package ui

import (
	"net/http"
	"strconv"
)

// Names is what GET /api/names answers: the names a person reads where
// the ledger keeps numbers (staff IDs, till numbers), for every screen.
// It holds no PIN hash and no role.
type Names struct {
	Staff map[string]string `json:"staff"` // staff ID -> name
	Tills map[string]string `json:"tills"` // till number -> name
}

func (a *API) getNames(w http.ResponseWriter, r *http.Request, _ *session) {
	out := Names{Staff: map[string]string{}, Tills: map[string]string{}}
	list, err := a.till.StaffList(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, m := range list {
		out.Staff[m.ID] = m.Name
	}
	self := a.till.Self()
	out.Tills[strconv.FormatUint(uint64(self.Number), 10)] = self.Name
	for _, p := range a.till.Status(r.Context()).Peers {
		if p.Number > 0 && p.Name != "" {
			out.Tills[strconv.FormatUint(uint64(p.Number), 10)] = p.Name
		}
	}
	writeJSON(w, http.StatusOK, out)
}
